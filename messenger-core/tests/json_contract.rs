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
            new_chat_id: None,
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
            chat_id: None,
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

#[test]
fn other_event_with_and_without_its_chat() {
    round_trip(
        &InboundEvent::Other(
            OtherEvent::new(Platform::Telegram, "callback_query").in_chat("-1001234"),
        ),
        r#"{"type":"other","platform":"telegram","kind":"callback_query","chat_id":"-1001234"}"#,
    );
    // Without a chat, the field is absent (not null), as before it existed.
    round_trip(
        &InboundEvent::Other(OtherEvent::new(Platform::Max, "bot_added")),
        r#"{"type":"other","platform":"max","kind":"bot_added"}"#,
    );
    // And a line written before the field existed still reads.
    let old: InboundEvent =
        serde_json::from_str(r#"{"type":"other","platform":"vk","kind":"wall_post_new"}"#).unwrap();
    assert_eq!(
        old,
        InboundEvent::Other(OtherEvent::new(Platform::Vk, "wall_post_new"))
    );
}

#[test]
fn contact_event_for_a_changed_id() {
    // A Telegram group that became a supergroup.
    round_trip(
        &InboundEvent::Contact(ContactEvent {
            platform: Platform::Telegram,
            chat_id: "-123".into(),
            user_id: "-123".into(),
            change: ContactChange::IdChanged,
            new_chat_id: Some("-1001234567890".into()),
            timestamp: ts(),
        }),
        r#"{"type":"contact","platform":"telegram","chat_id":"-123","user_id":"-123","change":"id_changed","new_chat_id":"-1001234567890","timestamp":"2026-01-01T00:00:00Z"}"#,
    );
    // A WhatsApp customer whose new id is not known: no `new_chat_id` at all.
    round_trip(
        &InboundEvent::Contact(ContactEvent {
            platform: Platform::WhatsApp,
            chat_id: "16315551234".into(),
            user_id: "16315551234".into(),
            change: ContactChange::IdChanged,
            new_chat_id: None,
            timestamp: ts(),
        }),
        r#"{"type":"contact","platform":"whatsapp","chat_id":"16315551234","user_id":"16315551234","change":"id_changed","timestamp":"2026-01-01T00:00:00Z"}"#,
    );
}

/// Found by the fuzzer (`fuzz/regressions/whatsapp/location-float-roundtrip`): a coordinate
/// with many digits was read one ULP off by serde_json's default float parser, so the JSON
/// `messenger parse` printed read back as another event. Parsed with `float_roundtrip`, the
/// printed shortest form reads back exactly.
#[test]
fn a_coordinate_with_many_digits_reads_back_exactly() {
    for coordinate in [
        "-106540352242922122.16165924072",
        "37.44221496582",
        "55.755826123456789012345",
        "1.0000000000000002220446049250313080847263336181640625",
    ] {
        let json = format!(
            r#"{{"type":"message","platform":"whatsapp","chat_id":"1","message_id":"m","sender":null,"timestamp":"2026-01-01T00:00:00Z","reply_to":null,"edited":false,"content":{{"kind":"location","latitude":{coordinate},"longitude":{coordinate},"name":null,"address":null}}}}"#
        );
        let event: InboundEvent = serde_json::from_str(&json).unwrap();
        let printed = serde_json::to_string(&event).unwrap();
        let back: InboundEvent = serde_json::from_str(&printed).unwrap();
        assert_eq!(back, event, "{coordinate}");
        let expected: f64 = coordinate.parse().unwrap();
        let InboundEvent::Message(MessageEvent {
            content: Content::Location { latitude, .. },
            ..
        }) = event
        else {
            panic!("a location");
        };
        assert_eq!(latitude.to_bits(), expected.to_bits(), "{coordinate}");
    }
}
