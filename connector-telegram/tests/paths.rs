//! One parser: the same update body gives the same events through `parse` (what `messenger
//! parse` uses), the registry's parser, the webhook handler and long polling, duplicate keys
//! included. A body that cannot be read is refused by `parse` and acknowledged as
//! `malformed_update` by the webhook and by polling (which still confirms its id).

mod common;

use std::time::Duration;

use common::{config, fail, path};
use connector_telegram::{ENTRY, SECRET_HEADER, parse, parse_update};
use futures::StreamExt;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{InboundEvent, Messenger, OtherEvent, Platform};
use mockito::Matcher;
use serde_json::json;

const SECRET: &str = "paths_secret";

/// Bodies written by hand (not through `serde_json::Value`, which would drop duplicate keys).
const BODIES: &[(&str, i64, &str)] = &[
    (
        "plain text",
        101,
        r#"{"update_id":101,"message":{"message_id":1,"date":1767225600,
            "from":{"id":5,"first_name":"Ivan"},"chat":{"id":5,"type":"private"},"text":"hello"}}"#,
    ),
    (
        "a stop word",
        102,
        r#"{"update_id":102,"message":{"message_id":2,"date":1767225600,
            "from":{"id":5,"first_name":"Ivan"},"chat":{"id":5,"type":"private"},"text":"STOP"}}"#,
    ),
    (
        // serde_json's `Value` keeps the last key ("STOP"); the typed decode refuses it. Every
        // path must do the same.
        "a duplicate text key",
        103,
        r#"{"update_id":103,"message":{"message_id":3,"date":1767225600,
            "from":{"id":5,"first_name":"Ivan"},"chat":{"id":5,"type":"private"},
            "text":"hello","text":"STOP"}}"#,
    ),
    (
        "a duplicate payload key",
        104,
        r#"{"update_id":104,"message":{"message_id":4,"date":1767225600,"chat":{"id":5},"text":"a"},
            "message":{"message_id":5,"date":1767225600,"chat":{"id":5},"text":"STOP"}}"#,
    ),
    (
        "duplicate keys in fields the connector does not read",
        105,
        r#"{"update_id":105,"message":{"message_id":6,"date":1767225600,"chat":{"id":5,"type":"private"},
            "text":"hi","entities":[],"entities":[{"offset":0,"length":2,"type":"bold"}]}}"#,
    ),
    (
        "a duplicate chat in a service update",
        106,
        r#"{"update_id":106,"chat_member":{"chat":{"id":-100},"chat":{"id":-200},"date":1}}"#,
    ),
    (
        "a service update with its chat",
        107,
        r#"{"update_id":107,"callback_query":{"id":"1","from":{"id":5},"chat_instance":"c",
            "message":{"message_id":7,"date":0,"chat":{"id":-1001,"type":"supergroup"}}}}"#,
    ),
    (
        "an unreadable message id",
        108,
        r#"{"update_id":108,"message":{"message_id":"x","date":1,"chat":{"id":5},"text":"hi"}}"#,
    ),
    (
        "a group migration",
        109,
        r#"{"update_id":109,"message":{"message_id":9,"date":1767225600,"from":{"id":5},
            "chat":{"id":-4001,"type":"group"},"migrate_to_chat_id":-1004001}}"#,
    ),
];

fn malformed() -> Vec<InboundEvent> {
    vec![InboundEvent::Other(OtherEvent::new(
        Platform::Telegram,
        "malformed_update",
    ))]
}

/// Every event of a long poll whose first batch is `body` verbatim; the call that confirms it
/// (offset `id + 1`) ends the stream.
async fn polled(body: &str, id: i64) -> Vec<InboundEvent> {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    server
        .mock("POST", p.as_str())
        .match_body(Matcher::Json(json!({"limit": 100, "timeout": 0})))
        .with_body(format!(r#"{{"ok":true,"result":[{body}]}}"#))
        .expect(1)
        .create_async()
        .await;
    let confirm = server
        .mock("POST", p.as_str())
        .match_body(Matcher::Json(
            json!({"offset": id + 1, "limit": 100, "timeout": 0}),
        ))
        .with_status(401)
        .with_body(fail(401, "Unauthorized"))
        .expect(1)
        .create_async()
        .await;
    let mut stream = config(&server).build().unwrap().updates().unwrap();
    let mut events = Vec::new();
    let collect = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => events.push(event),
                Err(_) => break,
            }
            assert!(events.len() < 10, "the stream repeats itself");
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .expect("long polling ends within 20 s");
    // The update was confirmed, readable or not.
    confirm.assert_async().await;
    events
}

#[tokio::test]
async fn every_path_reads_a_body_the_same_way() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let mut refused = 0;
    for (name, id, body) in BODIES {
        let parsed = parse(body.as_bytes());
        // The registry's parser and `parse_update` are the same function as `parse`.
        let entry = (ENTRY.parse)(body.as_bytes());
        let single = parse_update(body.as_bytes());
        // A getUpdates answer and an array holding the body, through `parse`.
        let answer = parse(format!(r#"{{"ok":true,"result":[{body}]}}"#).as_bytes());
        let array = parse(format!("[{body}]").as_bytes());
        let webhook = bot
            .handle_webhook(&WebhookRequest::post(*body).header(SECRET_HEADER, SECRET))
            .await
            .unwrap_or_else(|e| panic!("{name}: the webhook refused a verified update: {e}"))
            .events;
        let polled = polled(body, *id).await;
        match parsed {
            Ok(events) => {
                assert_eq!(events.len(), 1, "{name}");
                for (path, other) in [
                    ("registry", entry.unwrap()),
                    ("parse_update", single.unwrap()),
                    ("getUpdates answer", answer.unwrap()),
                    ("array", array.unwrap()),
                    ("webhook", webhook),
                    ("polling", polled),
                ] {
                    assert_eq!(other, events, "{name}: {path}");
                }
            }
            Err(err) => {
                refused += 1;
                for (path, other) in [("registry", entry), ("parse_update", single)] {
                    assert_eq!(
                        other.unwrap_err().message(),
                        err.message(),
                        "{name}: {path}"
                    );
                }
                assert!(answer.is_err() && array.is_err(), "{name}");
                assert_eq!(webhook, malformed(), "{name}: webhook");
                assert_eq!(polled, malformed(), "{name}: polling");
            }
        }
    }
    // The duplicates and the unreadable id: refused everywhere.
    assert_eq!(refused, 3);
}

#[test]
fn a_duplicate_key_is_refused_with_its_name() {
    let (_, _, body) = BODIES[2];
    let err = parse(body.as_bytes()).unwrap_err();
    assert!(
        err.message().contains("duplicate field `text`"),
        "{}",
        err.message()
    );
    // It does not quote either value.
    assert!(!err.to_string().contains("STOP") && !err.to_string().contains("hello"));
}
