//! Conformance against real public payloads in `shared/fixtures/whatsapp/` (pywa's webhook test
//! cases and the examples of Meta's OpenAPI file). `#[ignore]`d by default; run with
//! `cargo test -p connector-whatsapp -- --ignored`. The folder is `$MESSENGER_FIXTURES`, or
//! `<CARGO_MANIFEST_DIR>/../../shared/fixtures`; the tests FAIL if it is missing.
//!
//! - Every webhook payload in the folder (any JSON value with an `entry` array) is parsed, and
//!   the events are compared, in order, with what its raw JSON says they must be: each message
//!   a message event with the same id, chat, timestamp, kind and text; each status a status
//!   event; each other field an `other` event.
//! - The bodies the connector builds are compared key by key with Meta's send examples in
//!   `meta/messages_request_examples.json`; every example is either compared or listed as not
//!   sendable through the connector, with the reason.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use connector_whatsapp::convert::{mark_read_body, message_body, template_body};
use messenger_core::plan::Part;
use messenger_core::{
    ChatId, Content, DeliveryStatus, InboundEvent, MediaSource, MessageId, Messenger,
    OutgoingContent, Template,
};
use serde_json::{Map, Value, json};

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let wa = dir.join("whatsapp");
    assert!(
        wa.is_dir(),
        "fixtures folder {} is missing: set MESSENGER_FIXTURES to the path of shared/fixtures",
        wa.display()
    );
    wa
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every webhook payload in the fixtures: `(file, case name, payload)`.
fn webhook_cases() -> Vec<(String, String, Value)> {
    let root = fixtures();
    let mut cases = Vec::new();
    for path in json_files(&root) {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let value = read(&path);
        let Value::Object(map) = value else { continue };
        if map.get("entry").is_some_and(Value::is_array) {
            cases.push((file.clone(), String::new(), Value::Object(map)));
            continue;
        }
        for (name, case) in map {
            if case.get("entry").is_some_and(Value::is_array) {
                cases.push((file.clone(), name, case));
            }
        }
    }
    cases
}

/// What one event must look like, derived from the raw JSON alone.
#[derive(Debug, PartialEq)]
enum Expected {
    Message {
        id: String,
        chat: String,
        timestamp: i64,
        kind: &'static str,
        text: Option<String>,
        caption: Option<String>,
        media_id: Option<String>,
        file_name: Option<String>,
        edited: bool,
        reply_to: Option<String>,
    },
    Status {
        id: String,
        chat: String,
        timestamp: i64,
        status: DeliveryStatus,
        code: Option<String>,
    },
    Contact {
        chat: String,
        user: String,
        new_chat: Option<String>,
    },
    Other {
        kind: String,
        chat: Option<String>,
    },
}

fn other(kind: impl Into<String>, chat: Option<String>) -> Expected {
    Expected::Other {
        kind: kind.into(),
        chat,
    }
}

/// The one conversation a change of an unmodelled field concerns, read from its raw JSON: the
/// one group of `groups[]`, else the only contact, else the one recipient of
/// `message_echoes[]`.
fn field_chat(value: &Value) -> Option<String> {
    let one = |ids: Vec<Option<String>>| {
        let first = ids.first()?.clone()?;
        ids.iter()
            .all(|id| id.as_deref() == Some(first.as_str()))
            .then_some(first)
    };
    if let Some(groups) = value["groups"].as_array().filter(|g| !g.is_empty()) {
        return one(groups.iter().map(|g| s(&g["group_id"])).collect());
    }
    let contacts = value["contacts"].as_array().cloned().unwrap_or_default();
    if contacts.len() == 1 {
        return s(&contacts[0]["wa_id"]).or(s(&contacts[0]["user_id"]));
    }
    match value["message_echoes"].as_array() {
        Some(echoes) if contacts.is_empty() && !echoes.is_empty() => {
            one(echoes.iter().map(|e| s(&e["to"])).collect())
        }
        _ => None,
    }
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn ts(v: &Value) -> i64 {
    s(v).and_then(|t| t.parse().ok()).expect("timestamp")
}

/// The expected kind, text, caption, media id and file name of a raw message object.
#[allow(clippy::type_complexity)]
fn expected_content(
    m: &Value,
) -> (
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let kind = m["type"].as_str().unwrap_or("unknown");
    let media = |key: &str| {
        let o = &m[key];
        (s(&o["caption"]), s(&o["id"]), s(&o["filename"]))
    };
    match kind {
        "text" => ("text", s(&m["text"]["body"]), None, None, None),
        "image" | "video" | "document" => {
            let (caption, id, name) = media(kind);
            let core = match kind {
                "image" => "image",
                "video" => "video",
                _ => "file",
            };
            let name = if kind == "document" { name } else { None };
            (core, None, caption, id, name)
        }
        "audio" => {
            let (_, id, _) = media("audio");
            let core = if m["audio"]["voice"] == json!(true) {
                "voice"
            } else {
                "audio"
            };
            (core, None, None, id, None)
        }
        "sticker" => ("sticker", None, None, s(&m["sticker"]["id"]), None),
        "location" => ("location", None, None, None, None),
        "contacts" => ("contact", None, None, None, None),
        "button" => ("text", s(&m["button"]["text"]), None, None, None),
        "interactive" => {
            let i = &m["interactive"];
            let reply = if i["button_reply"].is_object() {
                &i["button_reply"]
            } else {
                &i["list_reply"]
            };
            match s(&reply["title"]) {
                Some(title) => ("text", Some(title), None, None, None),
                None => ("unsupported", None, None, None, None),
            }
        }
        _ => ("unsupported", None, None, None, None),
    }
}

fn expected_events(payload: &Value) -> Vec<Expected> {
    let mut out = Vec::new();
    for entry in payload["entry"].as_array().unwrap() {
        for change in entry["changes"].as_array().unwrap() {
            let field = change["field"].as_str().unwrap_or("unknown");
            let value = &change["value"];
            if field != "messages" && field != "user_preferences" {
                out.push(other(field, field_chat(value)));
                continue;
            }
            for m in value["messages"].as_array().into_iter().flatten() {
                let kind = m["type"].as_str().unwrap_or("unknown");
                if kind == "system" {
                    // A number change with the new number: the conversation moves to it.
                    let sys = &m["system"];
                    let sub = sys["type"].as_str().unwrap_or("unknown");
                    let old = s(&m["from"]).unwrap();
                    match s(&sys["wa_id"]).or(s(&sys["new_wa_id"])) {
                        Some(new) if sub == "user_changed_number" && new != old => {
                            out.push(Expected::Contact {
                                chat: old.clone(),
                                user: old,
                                new_chat: Some(new),
                            })
                        }
                        _ => out.push(other(format!("system.{sub}"), Some(old))),
                    }
                    continue;
                }
                let chat = s(&m["from"]).or(s(&m["from_user_id"])).unwrap();
                let (id, edited, inner, reply_to) = if kind == "edit" {
                    (
                        s(&m["edit"]["original_message_id"]).unwrap(),
                        true,
                        &m["edit"]["message"],
                        None,
                    )
                } else {
                    (s(&m["id"]).unwrap(), false, m, s(&m["context"]["id"]))
                };
                let (kind, text, caption, media_id, file_name) = expected_content(inner);
                out.push(Expected::Message {
                    id,
                    chat,
                    timestamp: ts(&m["timestamp"]),
                    kind,
                    text,
                    caption,
                    media_id,
                    file_name,
                    edited,
                    reply_to,
                });
            }
            for st in value["statuses"].as_array().into_iter().flatten() {
                let status = match st["status"].as_str().unwrap() {
                    "sent" => DeliveryStatus::Sent,
                    "delivered" => DeliveryStatus::Delivered,
                    "read" | "played" => DeliveryStatus::Read,
                    "failed" => DeliveryStatus::Failed,
                    name => {
                        out.push(other(format!("status.{name}"), s(&st["recipient_id"])));
                        continue;
                    }
                };
                out.push(Expected::Status {
                    id: s(&st["id"]).unwrap(),
                    chat: s(&st["recipient_id"]).unwrap(),
                    timestamp: ts(&st["timestamp"]),
                    code: if status == DeliveryStatus::Failed {
                        s(&st["errors"][0]["code"])
                    } else {
                        None
                    },
                    status,
                });
            }
            for p in value["user_preferences"].as_array().into_iter().flatten() {
                let user = s(&p["wa_id"]).unwrap();
                out.push(Expected::Contact {
                    chat: user.clone(),
                    user,
                    new_chat: None,
                });
            }
            for e in value["errors"].as_array().into_iter().flatten() {
                out.push(other(format!("error.{}", s(&e["code"]).unwrap()), None));
            }
        }
    }
    out
}

fn caption_and_media(content: &Content) -> (Option<String>, Option<String>, Option<String>) {
    match content {
        Content::Image { media, caption }
        | Content::File { media, caption }
        | Content::Voice { media, caption }
        | Content::Audio { media, caption }
        | Content::Video { media, caption } => (
            caption.clone(),
            Some(media.id.to_string()),
            media.file_name.clone(),
        ),
        Content::Sticker { media, .. } => (None, Some(media.id.to_string()), None),
        _ => (None, None, None),
    }
}

fn actual(event: &InboundEvent) -> Expected {
    match event {
        InboundEvent::Message(m) => {
            let (caption, media_id, file_name) = caption_and_media(&m.content);
            Expected::Message {
                id: m.message_id.to_string(),
                chat: m.chat_id.to_string(),
                timestamp: m.timestamp.timestamp(),
                kind: m.content.kind().as_str(),
                text: match &m.content {
                    Content::Text { text } => Some(text.clone()),
                    _ => None,
                },
                caption,
                media_id,
                file_name,
                edited: m.edited,
                reply_to: m.reply_to.as_ref().map(ToString::to_string),
            }
        }
        InboundEvent::Status(st) => Expected::Status {
            id: st.message_id.to_string(),
            chat: st.chat_id.to_string(),
            timestamp: st.timestamp.timestamp(),
            status: st.status.clone(),
            code: st.error.as_ref().and_then(|e| e.code.clone()),
        },
        InboundEvent::Contact(c) => Expected::Contact {
            chat: c.chat_id.to_string(),
            user: c.user_id.to_string(),
            new_chat: c.new_chat_id.as_ref().map(ToString::to_string),
        },
        InboundEvent::Other(o) => {
            other(o.kind.clone(), o.chat_id.as_ref().map(ToString::to_string))
        }
        other => panic!("unexpected event {other:?}"),
    }
}

#[test]
#[ignore = "conformance: reads shared/fixtures (MESSENGER_FIXTURES)"]
fn every_webhook_fixture_parses_into_the_events_its_json_describes() {
    let cases = webhook_cases();
    let files: BTreeSet<&str> = cases.iter().map(|(f, _, _)| f.as_str()).collect();
    // Every pywa update file and Meta's webhook examples are webhooks.
    assert!(
        files.contains("meta/webhook_examples.json"),
        "no Meta webhook examples found: {files:?}"
    );
    assert!(
        files.iter().filter(|f| f.starts_with("pywa/")).count() >= 10,
        "too few pywa files: {files:?}"
    );
    assert!(cases.len() >= 40, "only {} webhook cases read", cases.len());
    let (mut messages, mut statuses, mut id_changes, mut others_in_chats) = (0, 0, 0, 0);
    for (file, name, payload) in &cases {
        let body = serde_json::to_vec(payload).unwrap();
        let events =
            connector_whatsapp::parse(&body).unwrap_or_else(|e| panic!("{file} {name}: {e}"));
        let expected = expected_events(payload);
        let got: Vec<Expected> = events.iter().map(actual).collect();
        assert_eq!(got, expected, "{file} `{name}`");
        messages += got
            .iter()
            .filter(|e| matches!(e, Expected::Message { .. }))
            .count();
        statuses += got
            .iter()
            .filter(|e| matches!(e, Expected::Status { .. }))
            .count();
        id_changes += got
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Expected::Contact {
                        new_chat: Some(_),
                        ..
                    }
                )
            })
            .count();
        others_in_chats += got
            .iter()
            .filter(|e| matches!(e, Expected::Other { chat: Some(_), .. }))
            .count();
        // The JSON output of every event round-trips (the `messenger parse` contract).
        for event in &events {
            let json = serde_json::to_string(event).unwrap();
            let back: InboundEvent = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, event, "{file} `{name}`");
        }
    }
    assert!(
        messages >= 30 && statuses >= 5 && id_changes >= 1 && others_in_chats >= 5,
        "{messages} messages, {statuses} statuses, {id_changes} id changes, \
         {others_in_chats} other events in a chat"
    );
}

#[tokio::test]
#[ignore = "conformance: reads shared/fixtures (MESSENGER_FIXTURES)"]
async fn webhook_fixtures_pass_handle_webhook_when_signed() {
    let server = mockito::Server::new_async().await;
    let cases = webhook_cases();
    // An empty or half-read folder must fail, not pass vacuously.
    assert!(cases.len() >= 40, "only {} webhook cases read", cases.len());
    let mut events = 0;
    for (file, name, payload) in cases {
        let body = serde_json::to_string(&payload).unwrap();
        let ids = connector_whatsapp::webhook::phone_number_ids(
            body.as_bytes(),
            connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY,
        )
        .unwrap();
        // Serve the first number the delivery is for (changes of other numbers are skipped).
        let number = ids
            .first()
            .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
            .cloned()
            .unwrap_or_else(|| PHONE_ID.to_owned());
        let wa = connector_whatsapp::WhatsApp::new(
            connector_whatsapp::WhatsAppConfig::new(TOKEN, number.clone())
                .app_secret(APP_SECRET)
                .base_url(server.url()),
        )
        .unwrap();
        let outcome = wa
            .handle_webhook(&signed(&body))
            .await
            .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
        assert_eq!(outcome.response.status, 200);
        let parsed =
            connector_whatsapp::webhook::parse_for_number(body.as_bytes(), &number).unwrap();
        assert_eq!(outcome.events, parsed, "{file} `{name}`");
        events += outcome.events.len();
    }
    assert!(events >= 50, "only {events} events from every fixture");
}

// --- send bodies against Meta's examples --------------------------------------------------------

/// Examples of kinds the connector does not send, with the reason.
const NOT_SENT: &[(&str, &str)] = &[
    (
        "Send Catalog Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Contact Message",
        "contact cards are inbound only in the core model",
    ),
    (
        "Send Draft Flow by ID",
        "interactive messages are not modelled",
    ),
    (
        "Send Draft Flow by Name",
        "interactive messages are not modelled",
    ),
    ("Send List Message", "interactive messages are not modelled"),
    (
        "Send Location Message",
        "locations are inbound only in the core model",
    ),
    (
        "Send Multi-Product Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Order Details Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Order Status Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Published Flow by ID",
        "interactive messages are not modelled",
    ),
    (
        "Send Published Flow by Name",
        "interactive messages are not modelled",
    ),
    ("Send Reply Button", "interactive messages are not modelled"),
    (
        "Send Reply to Contact Message",
        "contact cards are inbound only in the core model",
    ),
    (
        "Send Reply to List Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Reply to Location Message",
        "locations are inbound only in the core model",
    ),
    (
        "Send Reply to Sticker Message by ID",
        "stickers are inbound only in the core model",
    ),
    (
        "Send Reply to Sticker Message by URL",
        "stickers are inbound only in the core model",
    ),
    (
        "Send Sticker Message by ID",
        "stickers are inbound only in the core model",
    ),
    (
        "Send Sticker Message by URL",
        "stickers are inbound only in the core model",
    ),
    (
        "Send Reply with Reaction Message",
        "reactions are not modelled",
    ),
    (
        "Send Single Product Message",
        "interactive messages are not modelled",
    ),
    (
        "Send Sample Issue Resolution Template",
        "`language.policy: deterministic` is a legacy field send_template does not set",
    ),
];

/// Compares `ours` with Meta's `example` key by key. Allowed differences: `recipient_type`
/// (always sent; several examples omit it) and `type: text` (one example omits it) at the top
/// level, and the value of a `link` (Meta's placeholders such as `<http(s)://audio-url>` are not
/// URLs, so the connector is given a real one).
fn compare(name: &str, ours: &Value, example: &Value, path: &str) {
    match (ours, example) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys_a: BTreeSet<&String> = a.keys().collect();
            if path.is_empty() {
                if !b.contains_key("recipient_type") && a.contains_key("recipient_type") {
                    assert_eq!(a["recipient_type"], json!("individual"), "{name}");
                    keys_a.remove(&"recipient_type".to_owned());
                }
                if !b.contains_key("type") && a.contains_key("type") {
                    assert_eq!(a["type"], json!("text"), "{name}");
                    keys_a.remove(&"type".to_owned());
                }
            }
            let keys_b: BTreeSet<&String> = b.keys().collect();
            assert_eq!(keys_a, keys_b, "{name}: keys at `{path}`");
            for key in keys_b {
                compare(name, &a[key], &b[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{name}: length at `{path}`");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(name, x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::String(_), Value::String(_)) if path.ends_with(".link") => {}
        _ => assert_eq!(ours, example, "{name}: value at `{path}`"),
    }
}

/// The media source of an example's media object: its id, or a stand-in URL for its link.
fn source_of(object: &Map<String, Value>) -> MediaSource {
    match (object.get("id"), object.get("link")) {
        (Some(id), None) => MediaSource::id(id.as_str().unwrap()),
        (None, Some(_)) => MediaSource::url("https://media.example.com/file".parse().unwrap()),
        _ => panic!("a media object has exactly one of id and link"),
    }
}

/// The part an example describes, or `None` when it needs an upload (a document by id with a
/// file name: the core's `MediaSource::Id` carries no file name, so that shape comes from an
/// upload).
fn part_of(example: &Value) -> Option<Part> {
    let kind = example["type"].as_str().unwrap_or("text");
    let reply_to = example["context"]["message_id"]
        .as_str()
        .map(MessageId::new);
    let content = if kind == "text" {
        OutgoingContent::text(example["text"]["body"].as_str().unwrap())
    } else {
        let object = example[kind].as_object().unwrap();
        if kind == "document" && object.contains_key("filename") {
            return None;
        }
        let media = source_of(object);
        let caption = object
            .get("caption")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match kind {
            "image" => OutgoingContent::Image { media, caption },
            "video" => OutgoingContent::Video { media, caption },
            "document" => OutgoingContent::File { media, caption },
            "audio" if object.get("voice") == Some(&json!(true)) => {
                OutgoingContent::Voice { media, caption }
            }
            "audio" => OutgoingContent::Audio { media, caption },
            other => panic!("unexpected example type {other}"),
        }
    };
    Some(Part {
        content,
        reply_to,
        idempotency_key: None,
    })
}

/// The body `send_part` POSTs for a document uploaded from bytes named `filename`, captured with
/// mockito (the upload answers the example's media id).
async fn uploaded_document_body(example: &Value) -> Value {
    let doc = &example["document"];
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MEDIA_PATH)
        .with_body(json!({"id": doc["id"]}).to_string())
        .create_async()
        .await;
    let captured = Captured::default();
    server
        .mock("POST", MESSAGES_PATH)
        .match_request(captured.matcher())
        .with_body(accepted("wamid.X"))
        .create_async()
        .await;
    let part = Part {
        content: OutgoingContent::File {
            media: MediaSource::bytes(
                &b"%PDF"[..],
                "application/pdf",
                doc["filename"].as_str().unwrap(),
            ),
            caption: doc["caption"].as_str().map(str::to_owned),
        },
        reply_to: example["context"]["message_id"]
            .as_str()
            .map(MessageId::new),
        idempotency_key: None,
    };
    client(&server)
        .send_part(&ChatId::new(example["to"].as_str().unwrap()), &part)
        .await
        .unwrap();
    serde_json::from_slice(&captured.get().1).unwrap()
}

#[tokio::test]
#[ignore = "conformance: reads shared/fixtures (MESSENGER_FIXTURES)"]
async fn send_bodies_match_metas_examples_key_by_key() {
    let examples = read(&fixtures().join("meta/messages_request_examples.json"));
    let examples = examples.as_object().unwrap();
    assert!(
        examples.len() >= 45,
        "only {} send examples read",
        examples.len()
    );
    let mut compared = 0;
    for (name, example) in examples {
        if NOT_SENT.iter().any(|(n, _)| n == name) {
            continue;
        }
        let to = ChatId::new(example["to"].as_str().unwrap_or_default());
        let ours = if example.get("status").is_some() {
            // Read receipt (with the typing indicator where the example has one).
            let message = MessageId::new(example["message_id"].as_str().unwrap());
            mark_read_body(&message, example.get("typing_indicator").is_some())
        } else if example["type"] == "template" {
            let t = &example["template"];
            let template = Template::new(
                t["name"].as_str().unwrap(),
                t["language"]["code"].as_str().unwrap(),
            )
            .components(t["components"].clone());
            template_body(&to, &template).unwrap()
        } else {
            match part_of(example) {
                Some(part) => {
                    let preview = example["text"]["preview_url"] == json!(true);
                    message_body(&to, &part, preview).unwrap()
                }
                None => uploaded_document_body(example).await,
            }
        };
        compare(name, &ours, example, "");
        compared += 1;
    }
    assert!(
        compared >= 25,
        "only {compared} of {} examples compared",
        examples.len()
    );
    // Every example of the file is either compared or listed with a reason.
    for (name, _) in NOT_SENT {
        assert!(
            examples.contains_key(*name),
            "NOT_SENT lists `{name}`, which the fixtures do not have"
        );
    }
}
