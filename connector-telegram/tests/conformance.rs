//! Conformance against real public payloads in `shared/fixtures/telegram/updates/`.
//!
//! `#[ignore]`d by default; run with `cargo test -p connector-telegram -- --ignored`. The folder
//! is `$MESSENGER_FIXTURES/telegram/updates` (default `<CARGO_MANIFEST_DIR>/../../shared/fixtures`);
//! the test FAILS when it is missing. Expectations are computed from the raw JSON of each file
//! (read with `serde_json::Value`), not hard-coded.

use std::path::PathBuf;

use connector_telegram::convert::{SERVICE_FIELDS, UNSUPPORTED_CONTENT};
use messenger_core::{ContentKind, InboundEvent};
use serde_json::Value;

fn fixtures() -> PathBuf {
    let root = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = root.join("telegram").join("updates");
    assert!(
        dir.is_dir(),
        "fixtures folder {} is missing (set MESSENGER_FIXTURES to shared/fixtures)",
        dir.display()
    );
    dir
}

const MESSAGE_KEYS: [&str; 4] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
];

/// The content kind the raw message should map to; `None` for a service message.
fn expected_kind(message: &Value) -> Option<(ContentKind, Option<String>)> {
    let has = |k: &str| message.get(k).is_some_and(|v| !v.is_null());
    let mapped = [
        ("text", ContentKind::Text),
        ("photo", ContentKind::Image),
        ("animation", ContentKind::Video),
        ("video", ContentKind::Video),
        ("video_note", ContentKind::Video),
        ("voice", ContentKind::Voice),
        ("audio", ContentKind::Audio),
        ("document", ContentKind::File),
        ("sticker", ContentKind::Sticker),
        ("venue", ContentKind::Location),
        ("location", ContentKind::Location),
        ("contact", ContentKind::Contact),
    ];
    if let Some((_, kind)) = mapped.iter().find(|(k, _)| has(k)) {
        return Some((*kind, None));
    }
    if let Some(k) = UNSUPPORTED_CONTENT.iter().find(|k| has(k)) {
        return Some((ContentKind::Unsupported, Some((*k).to_owned())));
    }
    if SERVICE_FIELDS.iter().any(|k| has(k)) {
        return None;
    }
    Some((ContentKind::Unsupported, None))
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn every_update_fixture_parses_and_maps() {
    let dir = fixtures();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    let (mut messages, mut others) = (0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let body = std::fs::read(file).unwrap();
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let events = connector_telegram::parse(&body)
            .unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
        assert_eq!(events.len(), 1, "{name}: one event per update");
        let event = &events[0];

        let Some(key) = MESSAGE_KEYS.iter().find(|k| raw.get(**k).is_some()) else {
            // A non-message update: `other` named after its field, or a contact change.
            others += 1;
            let field = raw
                .as_object()
                .unwrap()
                .keys()
                .find(|k| *k != "update_id")
                .unwrap();
            match event {
                InboundEvent::Other(o) => assert_eq!(&o.kind, field, "{name}"),
                InboundEvent::Contact(c) => {
                    assert_eq!(field, "my_chat_member", "{name}");
                    let chat = &raw[field]["chat"];
                    assert_eq!(chat["type"], "private", "{name}");
                    assert_eq!(c.chat_id.as_str(), chat["id"].to_string(), "{name}");
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
            continue;
        };
        let message = &raw[*key];
        match expected_kind(message) {
            None => {
                let InboundEvent::Other(o) = event else {
                    panic!("{name}: a service message should be `other`, got {event:?}")
                };
                assert!(
                    message.get(&o.kind).is_some(),
                    "{name}: kind {} not in the message",
                    o.kind
                );
                assert!(SERVICE_FIELDS.contains(&o.kind.as_str()), "{name}");
                others += 1;
            }
            Some((kind, platform_kind)) => {
                messages += 1;
                let InboundEvent::Message(m) = event else {
                    panic!("{name}: expected a message event, got {event:?}")
                };
                assert_eq!(
                    m.chat_id.as_str(),
                    message["chat"]["id"].to_string(),
                    "{name}"
                );
                assert_eq!(
                    m.message_id.as_str(),
                    message["message_id"].to_string(),
                    "{name}"
                );
                assert_eq!(m.content.kind(), kind, "{name}");
                assert_eq!(m.edited, key.starts_with("edited_"), "{name}");
                assert_eq!(
                    m.timestamp.timestamp(),
                    {
                        let date = message["date"].as_i64().unwrap();
                        if m.edited {
                            message["edit_date"].as_i64().unwrap_or(date)
                        } else {
                            date
                        }
                    },
                    "{name}"
                );
                let expected_text = message
                    .get("text")
                    .or_else(|| message.get("caption"))
                    .and_then(Value::as_str);
                if matches!(
                    kind,
                    ContentKind::Text
                        | ContentKind::Image
                        | ContentKind::File
                        | ContentKind::Voice
                        | ContentKind::Audio
                        | ContentKind::Video
                ) {
                    assert_eq!(m.content.text(), expected_text, "{name}");
                }
                if let Some(from) = message.get("from") {
                    let sender = m.sender.as_ref().unwrap();
                    assert_eq!(sender.id.as_str(), from["id"].to_string(), "{name}");
                    let first = from["first_name"].as_str().unwrap();
                    let full = match from.get("last_name").and_then(Value::as_str) {
                        Some(last) => format!("{first} {last}"),
                        None => first.to_owned(),
                    };
                    assert_eq!(sender.name.as_deref(), Some(full.as_str()), "{name}");
                }
                if let Some(reply) = message.get("reply_to_message") {
                    assert_eq!(
                        m.reply_to.as_ref().unwrap().as_str(),
                        reply["message_id"].to_string(),
                        "{name}"
                    );
                }
                if kind == ContentKind::Image {
                    // The largest size by pixels.
                    let largest = message["photo"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .max_by_key(|p| {
                            p["width"].as_u64().unwrap() * p["height"].as_u64().unwrap()
                        })
                        .unwrap();
                    assert_eq!(
                        m.content.media().unwrap().id.as_str(),
                        largest["file_id"],
                        "{name}"
                    );
                }
                if let Some(expected) = platform_kind {
                    assert_eq!(
                        serde_json::to_value(&m.content).unwrap()["platform_kind"],
                        expected,
                        "{name}"
                    );
                }
            }
        }
    }
    assert!(
        messages > 0 && others > 0,
        "{messages} messages, {others} others"
    );
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn error_response_fixtures_map_to_their_class() {
    use messenger_core::ErrorKind;
    let dir = fixtures().parent().unwrap().join("responses");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&file).unwrap();
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let status = raw["error_code"].as_u64().unwrap_or(200) as u16;
        let result = connector_telegram::error::decode_response::<Value>(status, &body);
        if raw["ok"] == true {
            assert_eq!(result.unwrap(), raw["result"], "{name}");
            continue;
        }
        let err = result.unwrap_err();
        let description = raw["description"].as_str().unwrap().to_ascii_lowercase();
        let expected = match status {
            429 => ErrorKind::RateLimited,
            403 => ErrorKind::RecipientBlocked,
            400 if description.contains("too long") => ErrorKind::TooLarge,
            400 if description.contains("file_id") || description.contains("not found") => {
                ErrorKind::NotFound
            }
            other => panic!("{name}: no expectation for {other}"),
        };
        assert_eq!(err.kind(), expected, "{name}");
        assert_eq!(
            err.platform_code(),
            Some(status.to_string().as_str()),
            "{name}"
        );
        if let Some(secs) = raw["parameters"]["retry_after"].as_u64() {
            assert_eq!(
                err.retry_after(),
                Some(std::time::Duration::from_secs(secs)),
                "{name}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no error fixtures");
}
