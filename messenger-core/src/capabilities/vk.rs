//! VK community messages capabilities (API 5.199, community token), from
//! `shared/platforms/vk.md`.
//!
//! Source tags: `[S]` = `VKCOM/vk-api-schema` (JSON schema for 5.199; file after the tag);
//! `[G]` = `SevereCloud/vksdk` (Go SDK; file after the tag); `[D]` = dev.vk.com pages;
//! `[watbot]` = help.watbot.ru on VK mailings (third party, the 24 h rule).
//!
//! Sizes: "MB" is read as 10^6 bytes, the conservative reading.

use std::time::Duration;

use super::{
    ActionCapability, Capabilities, Direction, IntakeCapability, KindCapability, LengthUnit, Rate,
    RateLimits, StatusCapability, TextLimit,
};
use crate::model::{ContentKind, Platform};

/// A megabyte as the sources write it, read as 10^6 bytes (the conservative reading).
const MB: u64 = 1_000_000;

/// Text: at most 9000 characters (`messages.send` `message` `maxLength`; "Max. length = 9000").
/// The often quoted 4096 is Telegram's figure, not VK's; error 914 means too long.
/// [S messages/methods.json; D messages.send]
pub const TEXT_MAX: usize = 9000;
/// VK has no separate caption: attachments go with the message text, same limit.
/// [S messages/methods.json messages.send]
pub const CAPTION_MAX: usize = TEXT_MAX;
/// Photo for messages: JPG, PNG or GIF, at most 50 MB (width + height ≤ 14000 px, aspect
/// ratio at least 1:20). [G api/upload.go UploadMessagesPhoto]
pub const PHOTO_MAX: u64 = 50 * MB;
/// Photo MIME types. [G api/upload.go]
pub const PHOTO_MIME: &[&str] = &["image/jpeg", "image/png", "image/gif"];
/// Document (and voice message, uploaded as a document): at most 200 MB, any format except MP3
/// and executables (the exclusion cannot be expressed as an accepted list). [G api/upload.go]
pub const DOC_MAX: u64 = 200 * MB;
/// Voice messages (`docs.getMessagesUploadServer(type=audio_message)`): the required codec is
/// UNCONFIRMED; VK's own voice notes are OGG/Opus (`link_ogg`), so only OGG is offered.
/// [S docs/methods.json; S messages/objects.json messages_audio_message]
pub const VOICE_MIME: &[&str] = &["audio/ogg"];
/// 20 requests per second per community token (error 6 above it). A pace:
/// [`RateKind::Spacing`](super::RateKind::Spacing), one request every 50 ms; no per-chat limit
/// is documented. [G api/api.go; D bots; vk.md §5]
pub const OVERALL: Rate = Rate::per_second(20);
/// A community may write freely only within 24 h of the user's last message, otherwise with an
/// `intent` (errors 950, 943, 944). The length comes from a third party and is UNCONFIRMED in
/// VK's text; conservative: the window applies. [watbot; S errors.json; S messages/methods.json]
pub const REPLY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Documents VK refuses: "any format except mp3 and executables" — MP3 (`audio/mpeg`) and the
/// MIME types of Windows executables. [G api/upload.go doc comment; vk.md §2.2]
pub const DOC_REFUSED_MIME: &[&str] = &[
    "audio/mpeg",
    "audio/mp3",
    "application/x-msdownload",
    "application/vnd.microsoft.portable-executable",
    "application/x-dosexec",
];

/// `messages.send` takes `random_id`, a "unique identifier to avoid resending the message":
/// VK drops a repeat with the same value, so a keyed send may be resent safely.
/// [S messages/methods.json `random_id`; vk.md §2.1]
pub const KEYED_SENDS: bool = true;

fn upload(max: u64, mime: &[&str]) -> KindCapability {
    KindCapability {
        direction: Direction::Both,
        max_upload: Some(max),
        max_by_url: None,
        // No download limit documented for attachment URLs.
        max_download: None,
        mime_types: mime.iter().map(|m| (*m).to_owned()).collect(),
        refused_mime_types: Vec::new(),
        // The message text goes with the attachment. [S messages.send]
        caption: true,
        // Attachments are `<type><owner>_<id>` of uploaded objects; no URL fetch. [S]
        by_url: false,
    }
}

/// The capabilities of a VK community (group token).
pub fn capabilities() -> Capabilities {
    let receive_only = KindCapability {
        direction: Direction::Receive,
        ..KindCapability::none()
    };
    Capabilities {
        platform: Platform::Vk,
        text: TextLimit {
            max_len: TEXT_MAX,
            unit: LengthUnit::Chars,
        },
        caption: Some(TextLimit {
            max_len: CAPTION_MAX,
            unit: LengthUnit::Chars,
        }),
        kinds: vec![
            (
                ContentKind::Text,
                KindCapability {
                    direction: Direction::Both,
                    ..KindCapability::none()
                },
            ),
            (ContentKind::Image, upload(PHOTO_MAX, PHOTO_MIME)),
            // "Any format except mp3 and executables". [G api/upload.go; vk.md §2.2]
            (
                ContentKind::File,
                KindCapability {
                    refused_mime_types: DOC_REFUSED_MIME.iter().map(|m| (*m).to_owned()).collect(),
                    ..upload(DOC_MAX, &[])
                },
            ),
            // Sent as `doc<owner>_<id>` after a `type=audio_message` upload; received as
            // `audio_message` (link_ogg / link_mp3). [S; G MessagesAudioMessage]
            (ContentKind::Voice, upload(DOC_MAX, VOICE_MIME)),
            // Music can only be referenced (`audio<owner>_<id>`), not uploaded for messages.
            // [vk.md §6]
            (ContentKind::Audio, receive_only.clone()),
            // Video is sent only by reference to an existing video; upload is not covered by the
            // sheet, so receive only. [vk.md §6]
            (ContentKind::Video, receive_only.clone()),
            (ContentKind::Sticker, receive_only.clone()),
            // `messages_message.geo`. [S messages/objects.json]
            (ContentKind::Location, receive_only),
            // No contact attachment type exists. [S messages_message_attachment_type]
            (ContentKind::Contact, KindCapability::none()),
        ],
        // Sent: the message id. Delivered: no receipt for communities. Read: the `message_read`
        // event and `out_read` of the conversation (exact event semantics UNCONFIRMED).
        // [S messages/objects.json messages_conversation; S callback/objects.json]
        statuses: StatusCapability {
            sent: true,
            delivered: false,
            read: true,
        },
        // messages.markAsRead, messages.edit, messages.delete (all accept a group token) and
        // `reply_to` on messages.send. [S messages/methods.json]
        actions: ActionCapability {
            mark_read: true,
            edit: true,
            delete: true,
            reply: true,
        },
        // Callback API (webhook) and Bots Long Poll. [D callback; D bots-long-poll]
        intake: IntakeCapability {
            webhook: true,
            long_poll: true,
        },
        rate_limits: RateLimits {
            overall: Some(OVERALL),
            per_chat: None,
            per_group: None,
        },
        reply_window: Some(REPLY_WINDOW),
        // Only to users who wrote to the community or allowed its messages (error 901).
        // [S errors.json; D messages]
        can_initiate: false,
        keyed_sends: KEYED_SENDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_is_9000_not_4096() {
        let caps = capabilities();
        assert_eq!(caps.platform, Platform::Vk);
        assert_eq!(caps.text.max_len, 9000);
        assert_eq!(caps.caption.map(|c| c.max_len), Some(9000));
    }

    #[test]
    fn upload_limits_and_kinds_match_the_sheet() {
        let caps = capabilities();
        let photo = caps.kind(ContentKind::Image);
        assert_eq!(photo.max_upload, Some(50_000_000));
        assert!(photo.accepts_mime("image/gif"));
        assert!(!photo.accepts_mime("image/webp"));
        assert!(!photo.by_url);
        assert_eq!(caps.kind(ContentKind::File).max_upload, Some(200_000_000));
        let file = caps.kind(ContentKind::File);
        assert!(file.accepts_mime("application/pdf"));
        assert!(!file.accepts_mime("audio/mpeg"));
        assert!(!file.accepts_mime("application/x-msdownload; name=setup.exe"));
        assert!(caps.kind(ContentKind::Voice).direction.can_send());
        assert!(!caps.kind(ContentKind::Audio).direction.can_send());
        assert!(caps.kind(ContentKind::Audio).direction.can_receive());
        assert!(!caps.kind(ContentKind::Video).direction.can_send());
    }

    #[test]
    fn statuses_actions_window_and_rate() {
        let caps = capabilities();
        assert!(caps.statuses.sent);
        assert!(!caps.statuses.delivered);
        assert!(caps.statuses.read);
        assert!(caps.actions.mark_read);
        assert!(caps.intake.webhook && caps.intake.long_poll);
        assert_eq!(caps.rate_limits.overall, Some(Rate::per_second(20)));
        assert_eq!(caps.reply_window, Some(Duration::from_secs(86_400)));
        assert!(!caps.can_initiate);
    }
}
