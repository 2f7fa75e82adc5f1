//! Telegram Bot API capabilities (cloud server), from `shared/platforms/telegram.md`.
//!
//! Source tags: `[S1]` = `PaulSonOfLars/telegram-bot-api-spec` `api.json` (Bot API 10.1);
//! `[S2]` = core.telegram.org/bots/api; `[S3]` = core.telegram.org/bots/faq.

use super::{
    ActionCapability, Capabilities, Direction, IntakeCapability, KindCapability, LengthUnit, Rate,
    RateLimits, StatusCapability, TextLimit,
};
use crate::model::{ContentKind, Platform};

const MB: u64 = 1024 * 1024;

/// Text message limit: 1-4096 characters after entity parsing, counted in UTF-16 code units
/// (MessageEntity offsets are UTF-16). [S1 sendMessage]
pub const TEXT_MAX: usize = 4096;
/// Caption limit: 0-1024 characters. [S1 sendPhoto/sendDocument/sendVoice]
pub const CAPTION_MAX: usize = 1024;
/// Photo upload (multipart): 10 MB. [S1 sendPhoto; S2 sending-files]
pub const PHOTO_UPLOAD_MAX: u64 = 10 * MB;
/// Photo by URL: 5 MB. [S2 sending-files]
pub const PHOTO_URL_MAX: u64 = 5 * MB;
/// Any other upload (multipart): 50 MB. [S1 sendDocument/sendVoice/sendAudio; S2]
pub const UPLOAD_MAX: u64 = 50 * MB;
/// Any other file by URL: 20 MB. [S2 sending-files]
pub const URL_MAX: u64 = 20 * MB;
/// Bots download files of at most 20 MB through `getFile`. [S1 getFile; S3]
pub const DOWNLOAD_MAX: u64 = 20 * MB;
/// A voice note shows as one only if OGG/OPUS, MP3 or M4A. [S1 sendVoice]
pub const VOICE_MIME: &[&str] = &[
    "audio/ogg",
    "audio/opus",
    "audio/mpeg",
    "audio/mp4",
    "audio/x-m4a",
    "audio/m4a",
];
/// sendAudio: MP3 or M4A. [S1 sendAudio]
pub const AUDIO_MIME: &[&str] = &[
    "audio/mpeg",
    "audio/mp3",
    "audio/mp4",
    "audio/x-m4a",
    "audio/m4a",
];
/// sendVideo: MPEG4 is the documented format (others may be sent as documents). [S1 sendVideo]
pub const VIDEO_MIME: &[&str] = &["video/mp4"];
/// Per-chat limit, in any chat (groups included): "in a single chat, avoid sending more than
/// one message per second"; short bursts are tolerated but a sustained rate gets 429. A pace:
/// [`RateKind::Spacing`](super::RateKind::Spacing), one send a second.
/// [S3 broadcasting-to-users; telegram.md §7]
pub const PER_CHAT: Rate = Rate::per_second(1);
/// Per-group limit, in addition to the per-chat one: "no more than 20 messages per minute" to
/// the same group. A quota: [`RateKind::Quota`](super::RateKind::Quota), at most 20 in any
/// minute, bursts within it allowed. [S3 broadcasting-to-users; telegram.md §7]
pub const PER_GROUP: Rate = Rate::per_minute(20);
/// Bulk notifications: about 30 messages per second overall. A pace:
/// [`RateKind::Spacing`](super::RateKind::Spacing), one send every 1/30 s.
/// [S3 broadcasting-to-users; telegram.md §7]
pub const OVERALL: Rate = Rate::per_second(30);

fn media(max_upload: u64, max_by_url: u64, mime: &[&str]) -> KindCapability {
    KindCapability {
        direction: Direction::Both,
        max_upload: Some(max_upload),
        max_by_url: Some(max_by_url),
        max_download: Some(DOWNLOAD_MAX),
        mime_types: mime.iter().map(|m| (*m).to_owned()).collect(),
        refused_mime_types: Vec::new(),
        caption: true,
        by_url: true,
    }
}

/// The capabilities of a Telegram bot on the cloud Bot API.
pub fn capabilities() -> Capabilities {
    let receive_only = KindCapability {
        direction: Direction::Receive,
        max_download: Some(DOWNLOAD_MAX),
        ..KindCapability::none()
    };
    Capabilities {
        platform: Platform::Telegram,
        text: TextLimit {
            max_len: TEXT_MAX,
            unit: LengthUnit::Utf16,
        },
        caption: Some(TextLimit {
            max_len: CAPTION_MAX,
            unit: LengthUnit::Utf16,
        }),
        kinds: vec![
            (
                ContentKind::Text,
                KindCapability {
                    direction: Direction::Both,
                    ..KindCapability::none()
                },
            ),
            (
                ContentKind::Image,
                media(
                    PHOTO_UPLOAD_MAX,
                    PHOTO_URL_MAX,
                    &[
                        "image/jpeg",
                        "image/png",
                        "image/webp",
                        "image/gif",
                        "image/bmp",
                    ],
                ),
            ),
            // sendDocument by URL works only for GIF, PDF and ZIP [S2]; the planner sends other
            // URLs as links only where the caller's URL is refused, so by_url stays on.
            (ContentKind::File, media(UPLOAD_MAX, URL_MAX, &[])),
            // sendVoice by URL needs audio/ogg and at most 1 MB [S2].
            (
                ContentKind::Voice,
                KindCapability {
                    max_by_url: Some(MB),
                    ..media(UPLOAD_MAX, URL_MAX, VOICE_MIME)
                },
            ),
            (ContentKind::Audio, media(UPLOAD_MAX, URL_MAX, AUDIO_MIME)),
            (ContentKind::Video, media(UPLOAD_MAX, URL_MAX, VIDEO_MIME)),
            (ContentKind::Sticker, receive_only.clone()),
            (
                ContentKind::Location,
                KindCapability {
                    max_download: None,
                    ..receive_only.clone()
                },
            ),
            (
                ContentKind::Contact,
                KindCapability {
                    max_download: None,
                    ..receive_only
                },
            ),
        ],
        // No delivery or read receipts for bots' messages. [S1, searched; I6]
        statuses: StatusCapability {
            sent: true,
            delivered: false,
            read: false,
        },
        // editMessageText / deleteMessage exist; readBusinessMessage is business-only. [S1]
        actions: ActionCapability {
            mark_read: false,
            edit: true,
            delete: true,
            reply: true,
        },
        intake: IntakeCapability {
            webhook: true,
            long_poll: true,
        },
        rate_limits: RateLimits {
            overall: Some(OVERALL),
            per_chat: Some(PER_CHAT),
            per_group: Some(PER_GROUP),
        },
        reply_window: None,
        // A bot cannot write first: the user must have started it ("chat not found"). [S2]
        can_initiate: false,
        keyed_sends: false,
    }
}
