//! Avito Messenger API capabilities, from `shared/platforms/avito.md`.
//!
//! Source tags: `[O]` = Avito's official OpenAPI of the "Мессенджер" section (`[O1]` the merged
//! export in `MissiaL/avito-api`, `[O2]` the per-section export in `p141592/avito_python_api`);
//! `[A]` = the official per-section guides (`references/sections/messenger.md`).
//!
//! Sizes: "MB" is read as 10^6 bytes, the conservative reading.

use super::{
    ActionCapability, Capabilities, Direction, IntakeCapability, KindCapability, LengthUnit,
    RateLimits, StatusCapability, TextLimit,
};
use crate::model::{ContentKind, Platform};

/// A megabyte as the sources write it, read as 10^6 bytes (the conservative reading).
const MB: u64 = 1_000_000;

/// Text: at most 1000 characters; "only text can be sent" through postSendMessage.
/// [O sendMessageRequestBody]
pub const TEXT_MAX: usize = 1000;
/// Image upload (uploadImages, one per request): at most 24 MB and 75 megapixels. [O uploadImages]
pub const IMAGE_MAX: u64 = 24 * MB;
/// Image formats: JPEG, HEIC, GIF, BMP, PNG. [O uploadImages]
pub const IMAGE_MIME: &[&str] = &[
    "image/jpeg",
    "image/heic",
    "image/gif",
    "image/bmp",
    "image/png",
];

/// The capabilities of an Avito account (the company's main account).
pub fn capabilities() -> Capabilities {
    let receive_only = KindCapability {
        direction: Direction::Receive,
        ..KindCapability::none()
    };
    Capabilities {
        platform: Platform::Avito,
        text: TextLimit {
            max_len: TEXT_MAX,
            unit: LengthUnit::Chars,
        },
        // An image message carries only `image_id`: no caption. [O postSendImageMessage]
        caption: None,
        kinds: vec![
            (
                ContentKind::Text,
                KindCapability {
                    direction: Direction::Both,
                    ..KindCapability::none()
                },
            ),
            // uploadImages then messages/image; received as a map of size -> URL. [O]
            (
                ContentKind::Image,
                KindCapability {
                    direction: Direction::Both,
                    max_upload: Some(IMAGE_MAX),
                    mime_types: IMAGE_MIME.iter().map(|m| (*m).to_owned()).collect(),
                    ..KindCapability::none()
                },
            ),
            // Files arrive as type `file` with an empty content object ("not supported") and
            // cannot be sent. [O MessageContent; O WebhookMessage.type]
            (ContentKind::File, KindCapability::none()),
            // `voice.voice_id` resolved by getVoiceFiles (Opus in MP4, URL valid 1 h); no send
            // endpoint. [O getVoiceFiles]
            (ContentKind::Voice, receive_only.clone()),
            (ContentKind::Audio, KindCapability::none()),
            // Video arrives as type only, with empty content; no send endpoint.
            // [O MessageContent]
            (ContentKind::Video, KindCapability::none()),
            (ContentKind::Sticker, KindCapability::none()),
            // `location{lat, lon, kind, text, title}`. [O MessageContent]
            (ContentKind::Location, receive_only),
            (ContentKind::Contact, KindCapability::none()),
        ],
        // Sent: the send response. Delivered: no field or event. Read: the `read` time on own
        // messages, by polling getMessagesV3 only (no push receipt). [O Messages]
        statuses: StatusCapability {
            sent: true,
            delivered: false,
            read: true,
        },
        // chatRead marks the whole chat read; deleteMessage works within 1 h of sending; no
        // edit; a reply (quote) cannot be sent, only received (`quote`). [O]
        actions: ActionCapability {
            mark_read: true,
            edit: false,
            delete: true,
            reply: false,
        },
        // Webhook v3 only; polling getChatsV2 is not a long poll. [O postWebhookV3]
        intake: IntakeCapability {
            webhook: true,
            long_poll: false,
        },
        // No numeric limits documented; 429 with `X-RateLimit-Limit` (per minute) and
        // `X-RateLimit-Remaining` headers, which the connector turns into a retry-after that
        // `RateLimited` honours. No proactive limit. [O2 components.headers; avito.md §7]
        rate_limits: RateLimits::default(),
        reply_window: None,
        // Chats are opened by buyers on an item or profile; no endpoint creates one. [O]
        can_initiate: false,
        keyed_sends: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_and_images_can_be_sent() {
        let caps = capabilities();
        assert_eq!(caps.platform, Platform::Avito);
        assert_eq!(caps.text.max_len, 1000);
        assert_eq!(caps.caption, None);
        let sendable: Vec<ContentKind> = ContentKind::SENDABLE
            .into_iter()
            .filter(|k| caps.kind(*k).direction.can_send())
            .collect();
        assert_eq!(sendable, vec![ContentKind::Text, ContentKind::Image]);
        let image = caps.kind(ContentKind::Image);
        assert_eq!(image.max_upload, Some(24_000_000));
        assert!(image.accepts_mime("image/heic"));
        assert!(!image.accepts_mime("image/webp"));
        assert!(!image.caption && !image.by_url);
    }

    #[test]
    fn voice_is_received_files_are_not() {
        let caps = capabilities();
        assert_eq!(caps.kind(ContentKind::Voice).direction, Direction::Receive);
        assert_eq!(caps.kind(ContentKind::File).direction, Direction::None);
        assert_eq!(caps.kind(ContentKind::Video).direction, Direction::None);
    }

    #[test]
    fn statuses_actions_and_intake() {
        let caps = capabilities();
        assert!(caps.statuses.sent && !caps.statuses.delivered && caps.statuses.read);
        assert!(caps.actions.mark_read && caps.actions.delete);
        assert!(!caps.actions.edit && !caps.actions.reply);
        assert!(caps.intake.webhook && !caps.intake.long_poll);
        assert_eq!(caps.rate_limits, RateLimits::default());
        assert!(!caps.can_initiate);
    }
}
