//! MAX Bot API capabilities (host `platform-api2.max.ru`), from `shared/platforms/max.md`.
//!
//! Source tags: `[OAS]` = `max-messenger/api-schema` `schema.yaml` (v0.0.33, official);
//! `[SNAP]` = `max-messenger-bot/max-bot-api-schemas` `schema_2026_07_01.yaml` (dev.max.ru
//! snapshot, v0.0.32); `[DEV]` = dev.max.ru pages; `[GO]`, `[TS]` = the official Go and
//! TypeScript clients; `[GREEN FAQ]` = green-api.com MAX FAQ; `[I-VOICE]` =
//! max-bot-api-client-ts#250 and love-apples/maxapi#193, #229 (voice notes arrive empty).
//!
//! Where the snapshot and the official schema disagree the newer official schema wins. Sizes:
//! "MB"/"GB" are read as 10^6/10^9 bytes, the conservative reading.

use super::{
    ActionCapability, Capabilities, Direction, IntakeCapability, KindCapability, LengthUnit, Rate,
    RateLimits, StatusCapability, TextLimit,
};
use crate::model::{ContentKind, Platform};

/// A megabyte as the sources write it, read as 10^6 bytes (the conservative reading).
const MB: u64 = 1_000_000;

/// Text: at most 4000 characters (`NewMessageBody.text` `maxLength`, enforced by the server
/// only; counted in characters as JSON Schema does). [OAS; SNAP]
pub const TEXT_MAX: usize = 4000;
/// MAX has no separate caption: media go as attachments of a message whose `text` has the same
/// 4000-character limit. [OAS NewMessageBody]
pub const CAPTION_MAX: usize = TEXT_MAX;
/// Image upload: at most 50 MB (and 7680×7680 px). [SNAP UploadType; OAS POST /uploads]
pub const IMAGE_MAX: u64 = 50 * MB;
/// Image formats: JPG/JPEG, PNG, GIF, TIFF, BMP, HEIC. [SNAP UploadType]
pub const IMAGE_MIME: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/heic",
];
/// Video upload: at most 250 MB. [SNAP UploadType; OAS POST /uploads]
pub const VIDEO_MAX: u64 = 250 * MB;
/// Video formats: MP4, MOV, MKV, WEBM. [SNAP UploadType]
pub const VIDEO_MIME: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
];
/// Audio upload: at most 256 MB (and 60 min). [SNAP UploadType; OAS POST /uploads]
pub const AUDIO_MAX: u64 = 256 * MB;
/// Audio formats: "MP3/WAV/M4A and others", so any audio type. [SNAP UploadType]
pub const AUDIO_MIME: &[&str] = &["audio/*"];
/// File upload: at most 4 GB ("common formats"; some extensions are refused with "File
/// extension is forbidden", list not published). [SNAP UploadType]
pub const FILE_MAX: u64 = 4_000 * MB;
/// About 30 requests per second to the platform API "for stable operation" (per token or per IP
/// is UNCONFIRMED; no per-chat limit is documented). A pace:
/// [`RateKind::Spacing`](super::RateKind::Spacing), one request every 1/30 s.
/// [SNAP POST /uploads; GREEN FAQ; max.md §6]
pub const OVERALL: Rate = Rate::per_second(30);

fn media(max: u64, mime: &[&str]) -> KindCapability {
    KindCapability {
        direction: Direction::Both,
        max_upload: Some(max),
        max_by_url: None,
        // Download limits of inbound `payload.url` are UNCONFIRMED. [max.md §5.4]
        max_download: None,
        mime_types: mime.iter().map(|m| (*m).to_owned()).collect(),
        refused_mime_types: Vec::new(),
        // The message text goes with any attachment. [OAS NewMessageBody]
        caption: true,
        // Video, audio and file need an upload token. [OAS UploadedInfo]
        by_url: false,
    }
}

/// The capabilities of a MAX bot.
pub fn capabilities() -> Capabilities {
    // Stickers (`code`), locations and contacts can be sent as attachments too, but the SDK
    // models them as inbound only. [OAS AttachmentRequest]
    let receive_only = KindCapability {
        direction: Direction::Receive,
        ..KindCapability::none()
    };
    Capabilities {
        platform: Platform::Max,
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
            // An image can also be an external https `url` the server fetches; no size limit is
            // given for that, so the upload limit is assumed (UNCONFIRMED).
            // [OAS PhotoAttachmentRequestPayload]
            (
                ContentKind::Image,
                KindCapability {
                    max_by_url: Some(IMAGE_MAX),
                    by_url: true,
                    ..media(IMAGE_MAX, IMAGE_MIME)
                },
            ),
            (ContentKind::File, media(FILE_MAX, &[])),
            // No voice-note type exists: only an `audio` attachment can be sent (whether it
            // shows as a voice bubble is UNCONFIRMED), and native voice notes currently reach
            // bots as a `message_created` without a message (bug, open since 2026-07). So
            // `none`: the planner sends voice as audio. [OAS AudioAttachment; I-VOICE]
            (ContentKind::Voice, KindCapability::none()),
            (ContentKind::Audio, media(AUDIO_MAX, AUDIO_MIME)),
            (ContentKind::Video, media(VIDEO_MAX, VIDEO_MIME)),
            (ContentKind::Sticker, receive_only.clone()),
            (ContentKind::Location, receive_only.clone()),
            (ContentKind::Contact, receive_only),
        ],
        // No update reports delivery or reading of the bot's messages; only the synchronous
        // `SendMessageResult`. [OAS; SNAP Update]
        statuses: StatusCapability {
            sent: true,
            delivered: false,
            read: false,
        },
        // Edit: PUT /messages; delete: DELETE /messages; reply: `link.type = "reply"` [OAS].
        // `mark_seen` was removed from dev.max.ru in April 2026: deprecated / UNCONFIRMED, so
        // off. [SNAP schema_2026_04_15 vs later]
        actions: ActionCapability {
            mark_read: false,
            edit: true,
            delete: true,
            reply: true,
        },
        // Webhook (`POST /subscriptions`) for production, `GET /updates` long polling for
        // development; mutually exclusive. [OAS; SNAP]
        intake: IntakeCapability {
            webhook: true,
            long_poll: true,
        },
        rate_limits: RateLimits {
            overall: Some(OVERALL),
            per_chat: None,
            per_group: None,
        },
        reply_window: None,
        // Whether a bot may write to a user who never started it is not documented
        // (UNCONFIRMED); conservative: no. Chat ids come from `bot_started` and friends.
        // [SNAP GET /chats]
        can_initiate: false,
        keyed_sends: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_matches_the_sheet() {
        let caps = capabilities();
        assert_eq!(caps.platform, Platform::Max);
        assert_eq!(caps.text.max_len, 4000);
        assert_eq!(caps.caption.map(|c| c.max_len), Some(4000));
    }

    #[test]
    fn upload_limits_match_the_sheet() {
        let caps = capabilities();
        assert_eq!(caps.kind(ContentKind::Image).max_upload, Some(50_000_000));
        assert!(caps.kind(ContentKind::Image).by_url);
        assert_eq!(caps.kind(ContentKind::Video).max_upload, Some(250_000_000));
        assert_eq!(caps.kind(ContentKind::Audio).max_upload, Some(256_000_000));
        assert_eq!(caps.kind(ContentKind::File).max_upload, Some(4_000_000_000));
        assert!(!caps.kind(ContentKind::File).by_url);
        assert!(caps.kind(ContentKind::Audio).accepts_mime("audio/wav"));
        assert!(caps.kind(ContentKind::Video).accepts_mime("video/webm"));
    }

    #[test]
    fn voice_is_not_offered_and_only_sent_is_observable() {
        let caps = capabilities();
        assert_eq!(caps.kind(ContentKind::Voice).direction, Direction::None);
        assert!(caps.kind(ContentKind::Audio).direction.can_send());
        assert!(caps.statuses.sent);
        assert!(!caps.statuses.delivered);
        assert!(!caps.statuses.read);
        assert!(!caps.actions.mark_read);
        assert!(caps.actions.edit && caps.actions.delete && caps.actions.reply);
        assert!(caps.intake.webhook && caps.intake.long_poll);
        assert_eq!(caps.rate_limits.overall, Some(Rate::per_second(30)));
        assert_eq!(caps.reply_window, None);
    }
}
