//! WhatsApp Business Cloud API capabilities, from `shared/platforms/whatsapp.md`.
//!
//! Source tags: `[OAS]` = `facebook/openapi` `business-messaging-api_v23.0.yaml`;
//! `[AWS-media]` = AWS's mirror of Meta's supported-media table; `[M-audio]`, `[M-img]`,
//! `[M-doc]`, `[M-typing]`, `[M-tp]`, `[M-wh-status]`, `[M-wh-endpoint]` = Meta's developer pages
//! (audio, image, document messages; typing indicators; throughput; status webhooks; webhook
//! endpoint); `[PM]` = Meta's Postman collection; `[whats91]`, `[dualhook-cap]` = third-party
//! rate-limit pages; `[ycloud-svc]`, `[bird-csw]` = third-party pages on the service window;
//! `[stack#117]`, `[joel#314]` = issues showing error 131047.
//!
//! Sizes: the sources write "MB" without saying 10^6 or 2^20 bytes; the smaller (10^6) is used
//! so that nothing the planner lets through is refused for its size.

use std::time::Duration;

use super::{
    ActionCapability, Capabilities, Direction, IntakeCapability, KindCapability, LengthUnit, Rate,
    RateLimits, StatusCapability, TextLimit,
};
use crate::model::{ContentKind, Platform};

/// A megabyte as the sources write it, read as 10^6 bytes (the conservative reading).
const MB: u64 = 1_000_000;
/// A kilobyte, read as 10^3 bytes (the conservative reading).
const KB: u64 = 1_000;

/// Text body: at most 4096 characters (`TextMessage.body` `maxLength`, counted in characters as
/// JSON Schema does). [OAS TextMessage]
pub const TEXT_MAX: usize = 4096;
/// Caption on image, video and document: at most 1024 characters; audio has no caption field.
/// [OAS MediaObject; M-doc; OAS AudioMessage]
pub const CAPTION_MAX: usize = 1024;
/// Image: JPEG or PNG (8-bit, RGB or RGBA), at most 5 MB. [AWS-media; M-img]
pub const IMAGE_MAX: u64 = 5 * MB;
/// Image MIME types. [AWS-media]
pub const IMAGE_MIME: &[&str] = &["image/jpeg", "image/png"];
/// Document: at most 100 MB. [AWS-media]
pub const DOCUMENT_MAX: u64 = 100 * MB;
/// Document MIME types: text, Excel, Word, PowerPoint (legacy and OpenXML) and PDF. [AWS-media]
pub const DOCUMENT_MIME: &[&str] = &[
    "text/plain",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/pdf",
];
/// Audio (tracks and voice notes): at most 16 MB. [AWS-media]
pub const AUDIO_MAX: u64 = 16 * MB;
/// Audio MIME types: AAC, AMR, MP3, M4A and OGG (OGG only with the Opus codec).
/// [AWS-media; vtex-media]
pub const AUDIO_MIME: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
/// Voice notes must be an `.ogg` file encoded with Opus (`audio/ogg; codecs=opus`); any other
/// container or codec is not treated as a voice message. The `"voice": true` flag on the audio
/// object is documented only by third parties (UNCONFIRMED officially). [M-audio; kapso-audio]
pub const VOICE_MIME: &[&str] = &["audio/ogg"];
/// A voice note shows a play icon only up to 512 KB; bigger ones show a download icon.
/// [M-audio]
pub const VOICE_PLAY_ICON_MAX: u64 = 512 * KB;
/// Video: at most 16 MB, H.264 video with AAC audio. [AWS-media]
pub const VIDEO_MAX: u64 = 16 * MB;
/// Video MIME types: MP4 and 3GP (written `video/3gp` by Meta's table, `video/3gpp` elsewhere).
/// [AWS-media]
pub const VIDEO_MIME: &[&str] = &["video/mp4", "video/3gp", "video/3gpp"];
/// Throughput per business phone number: 80 messages per second by default (upgraded
/// automatically to 1,000/s; coexistence numbers are fixed at 20/s); error 130429. A pace:
/// [`RateKind::Spacing`](super::RateKind::Spacing), one send every 12.5 ms. [M-tp; whatsapp.md §9]
pub const OVERALL: Rate = Rate::per_second(80);
/// Pair rate (one business number to one user): about 1 message per 6 s, with bursts borrowed
/// from future quota; error 131056. Third-party only, consistent across sources; Meta's page
/// was not retrieved. A pace: [`RateKind::Spacing`](super::RateKind::Spacing), one send every
/// 6 s (a burst only borrows from the next minutes, so the sustained rate is the same, and the
/// size of the burst is unconfirmed). [whats91; dualhook-cap; whatsapp.md §9]
pub const PER_CHAT: Rate = Rate::spacing(1, Duration::from_secs(6));
/// Customer service window: free-form messages only within 24 h of the customer's last
/// message; outside it only templates (error 131047, often as an async `failed` status).
/// \[ycloud-svc; bird-csw; stack#117; joel#314\]
pub const REPLY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

fn media(max: u64, mime: &[&str], caption: bool) -> KindCapability {
    KindCapability {
        direction: Direction::Both,
        max_upload: Some(max),
        // A `link` is fetched by Meta; the per-kind size table is the only limit given. [OAS]
        max_by_url: Some(max),
        // No download limit documented for webhook media (a 100 MB cap is UNCONFIRMED). [M-media]
        max_download: None,
        mime_types: mime.iter().map(|m| (*m).to_owned()).collect(),
        refused_mime_types: Vec::new(),
        caption,
        by_url: true,
    }
}

/// The capabilities of a WhatsApp Business number on the Cloud API.
pub fn capabilities() -> Capabilities {
    // Stickers, locations and contacts can be sent by the platform too, but the SDK models them
    // as inbound only. [OAS IncomingMessage]
    let receive_only = KindCapability {
        direction: Direction::Receive,
        ..KindCapability::none()
    };
    Capabilities {
        platform: Platform::WhatsApp,
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
            (ContentKind::Image, media(IMAGE_MAX, IMAGE_MIME, true)),
            (ContentKind::File, media(DOCUMENT_MAX, DOCUMENT_MIME, true)),
            // A voice note is an audio message: no caption. [OAS AudioMessage; M-audio]
            (ContentKind::Voice, media(AUDIO_MAX, VOICE_MIME, false)),
            (ContentKind::Audio, media(AUDIO_MAX, AUDIO_MIME, false)),
            (ContentKind::Video, media(VIDEO_MAX, VIDEO_MIME, true)),
            (ContentKind::Sticker, receive_only.clone()),
            (ContentKind::Location, receive_only.clone()),
            (ContentKind::Contact, receive_only),
        ],
        // `statuses[].status`: sent, delivered, read, failed (`played` for voice since
        // 2026-03-17); `delivered` may be skipped. [OAS Statuses; M-wh-status]
        statuses: StatusCapability {
            sent: true,
            delivered: true,
            read: true,
        },
        // Mark read: `status: "read"` + `message_id` (inbound, within 30 days) [OAS; M-typing; PM].
        // Reply: `context.message_id` [OAS]. No edit or delete of sent messages in the sheet.
        actions: ActionCapability {
            mark_read: true,
            edit: false,
            delete: false,
            reply: true,
        },
        // One webhook per Meta app; there is no polling API. [M-wh-endpoint]
        intake: IntakeCapability {
            webhook: true,
            long_poll: false,
        },
        rate_limits: RateLimits {
            overall: Some(OVERALL),
            per_chat: Some(PER_CHAT),
            per_group: None,
        },
        reply_window: Some(REPLY_WINDOW),
        // Writing first takes an approved template (business-initiated, capped per 24 h
        // [M-msglimits]); the SDK sends free-form content only, which needs an open window.
        can_initiate: false,
        keyed_sends: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_caption_limits_match_the_sheet() {
        let caps = capabilities();
        assert_eq!(caps.platform, Platform::WhatsApp);
        assert_eq!(caps.text.max_len, 4096);
        assert_eq!(caps.text.unit, LengthUnit::Chars);
        assert_eq!(caps.caption.map(|c| c.max_len), Some(1024));
        assert!(caps.kind(ContentKind::Image).caption);
        assert!(!caps.kind(ContentKind::Audio).caption);
        assert!(!caps.kind(ContentKind::Voice).caption);
    }

    #[test]
    fn voice_notes_need_ogg_opus() {
        let voice = capabilities().kind(ContentKind::Voice);
        assert!(voice.direction.can_send());
        assert!(voice.accepts_mime("audio/ogg; codecs=opus"));
        assert!(!voice.accepts_mime("audio/mpeg"));
        assert!(!voice.accepts_mime("audio/mp4"));
    }

    #[test]
    fn media_sizes_and_types_match_the_sheet() {
        let caps = capabilities();
        let image = caps.kind(ContentKind::Image);
        assert_eq!(image.max_upload, Some(5_000_000));
        assert!(image.accepts_mime("image/png"));
        assert!(!image.accepts_mime("image/webp"));
        let file = caps.kind(ContentKind::File);
        assert_eq!(file.max_upload, Some(100_000_000));
        assert!(file.accepts_mime("application/pdf"));
        assert_eq!(caps.kind(ContentKind::Audio).max_upload, Some(16_000_000));
        assert_eq!(caps.kind(ContentKind::Video).max_upload, Some(16_000_000));
        assert!(caps.kind(ContentKind::Video).accepts_mime("video/3gpp"));
        assert!(!caps.kind(ContentKind::Sticker).direction.can_send());
    }

    #[test]
    fn statuses_window_and_rates() {
        let caps = capabilities();
        assert!(caps.statuses.sent && caps.statuses.delivered && caps.statuses.read);
        assert_eq!(caps.reply_window, Some(Duration::from_secs(86_400)));
        assert!(!caps.can_initiate);
        assert!(caps.intake.webhook && !caps.intake.long_poll);
        assert_eq!(caps.rate_limits.overall, Some(Rate::per_second(80)));
        let pair = caps.rate_limits.per_chat.unwrap();
        assert_eq!(pair.interval(), Duration::from_secs(6));
    }
}
