//! The JSON form of `InboundEvent` is a public contract (`messenger parse` prints it): these
//! tests pin it byte for byte. A change here is a breaking change.

use chrono::{TimeZone, Utc};
use messenger_core::{
    AccountEvent, AccountHealth, ContactChange, ContactEvent, Content, DeliveryStatus, ErrorKind,
    InboundEvent, MediaRef, MessageEvent, OtherEvent, Platform, Sender, StatusError, StatusEvent,
};

fn ts() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn message(content: Content) -> InboundEvent {
    InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: "123456789".into(),
        message_id: "42".into(),
        sender: Some(Sender {
            id: "123456789".into(),
            name: Some("Ivan".into()),
        }),
        timestamp: ts(),
        reply_to: None,
        edited: false,
        content,
    })
}

fn round_trip(event: &InboundEvent, expected: &str) {
    let json = serde_json::to_string(event).unwrap();
    assert_eq!(json, expected);
    let back: InboundEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, event);
}

#[test]
fn text_message() {
    round_trip(
        &message(Content::Text {
            text: "hello /start".into(),
        }),
        r#"{"type":"message","platform":"telegram","chat_id":"123456789","message_id":"42","sender":{"id":"123456789","name":"Ivan"},"timestamp":"2026-01-01T00:00:00Z","reply_to":null,"edited":false,"content":{"kind":"text","text":"hello /start"}}"#,
    );
}

#[test]
fn image_message() {
    let media = MediaRef {
        id: "AgACAgIAAxkBAAID".into(),
        mime_type: Some("image/jpeg".into()),
        file_name: None,
        size: Some(160233),
    };
    round_trip(
        &message(Content::Image {
            media,
            caption: Some("receipt".into()),
        }),
        r#"{"type":"message","platform":"telegram","chat_id":"123456789","message_id":"42","sender":{"id":"123456789","name":"Ivan"},"timestamp":"2026-01-01T00:00:00Z","reply_to":null,"edited":false,"content":{"kind":"image","media":{"id":"AgACAgIAAxkBAAID","mime_type":"image/jpeg","file_name":null,"size":160233},"caption":"receipt"}}"#,
    );
}

#[test]
fn every_content_kind_has_its_tag() {
    let m = || MediaRef::new("m");
    let cases = [
        (
            Content::File {
                media: m(),
                caption: None,
            },
            "file",
        ),
        (
            Content::Voice {
                media: m(),
                caption: None,
            },
            "voice",
        ),
        (
            Content::Audio {
                media: m(),
                caption: None,
            },
            "audio",
        ),
        (
            Content::Video {
                media: m(),
                caption: None,
            },
            "video",
        ),
        (
            Content::Sticker {
                media: m(),
                emoji: Some("👍".into()),
            },
            "sticker",
        ),
        (
            Content::Location {
                latitude: 55.75,
                longitude: 37.61,
                name: None,
                address: None,
            },
            "location",
        ),
        (
            Content::Contact {
                name: None,
                phone: None,
                user_id: None,
            },
            "contact",
        ),
        (
            Content::Unsupported {
                platform_kind: "poll".into(),
            },
            "unsupported",
        ),
    ];
    for (content, tag) in cases {
        let value = serde_json::to_value(&content).unwrap();
        assert_eq!(value["kind"], tag);
        assert_eq!(content.kind().as_str(), tag);
        let back: Content = serde_json::from_value(value).unwrap();
        assert_eq!(back, content);
    }
    assert_eq!(
        serde_json::to_string(&Content::Unsupported {
            platform_kind: "dice".into()
        })
        .unwrap(),
        r#"{"kind":"unsupported","platform_kind":"dice"}"#
    );
}

#[test]
fn status_event() {
    round_trip(
        &InboundEvent::Status(StatusEvent {
            platform: Platform::WhatsApp,
            chat_id: "16315551234".into(),
            message_id: "wamid.HBgL".into(),
            status: DeliveryStatus::Failed,
            timestamp: ts(),
            error: Some(StatusError {
                kind: ErrorKind::OutsideReplyWindow,
                code: Some("131047".into()),
                message: Some("Re-engagement message".into()),
            }),
        }),
        r#"{"type":"status","platform":"whatsapp","chat_id":"16315551234","message_id":"wamid.HBgL","status":"failed","timestamp":"2026-01-01T00:00:00Z","error":{"kind":"outside_reply_window","code":"131047","message":"Re-engagement message"}}"#,
    );
}

#[test]
fn contact_account_and_other_events() {
    round_trip(
        &InboundEvent::Contact(ContactEvent {
            platform: Platform::Telegram,
            chat_id: "1".into(),
            user_id: "1".into(),
            change: ContactChange::OptedOut,
            timestamp: ts(),
        }),
        r#"{"type":"contact","platform":"telegram","chat_id":"1","user_id":"1","change":"opted_out","timestamp":"2026-01-01T00:00:00Z"}"#,
    );
    round_trip(
        &InboundEvent::Account(AccountEvent {
            platform: Platform::Telegram,
            health: AccountHealth::RateLimited,
            timestamp: ts(),
        }),
        r#"{"type":"account","platform":"telegram","health":"rate_limited","timestamp":"2026-01-01T00:00:00Z"}"#,
    );
    round_trip(
        &InboundEvent::Other(OtherEvent {
            platform: Platform::Vk,
            kind: "wall_post_new".into(),
        }),
        r#"{"type":"other","platform":"vk","kind":"wall_post_new"}"#,
    );
}

#[test]
fn debug_never_shows_content() {
    let event = message(Content::Image {
        media: MediaRef {
            id: "x".into(),
            mime_type: None,
            file_name: Some("passport-scan.jpg".into()),
            size: None,
        },
        caption: Some("my passport".into()),
    });
    let debug = format!("{event:?}");
    for secret in ["passport", "Ivan", "123456789"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}
