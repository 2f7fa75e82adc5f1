//! Conformance against real public payloads in `shared/fixtures/max/` (the official Go client's
//! `stabs/`, Apache-2.0). `#[ignore]`d by default; run with
//! `cargo test -p connector-max -- --ignored`. The folder is `$MESSENGER_FIXTURES/max`, or
//! `<CARGO_MANIFEST_DIR>/../../shared/fixtures/max`; the tests FAIL if it is missing, and each
//! asserts how many files it read.
//!
//! - `webhook.*.json` (one `Update` each) go through `handle_webhook` with the secret, and
//!   through `parse`; `update.*.json` (`GET /updates` answers) through `parse` and through long
//!   polling, whose next call must carry the answer's marker. Each update's events are compared
//!   with what its raw JSON says they must be, by a table written here, independently of the
//!   connector's code.
//! - `botInfo.*.json` through `connect`; `error.*.json` through the error mapping of a refused
//!   send; `upload.video.response.xml` as the upload host's answer of a video upload.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use connector_max::SECRET_HEADER;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{
    ContactChange, ContentKind, ErrorKind, InboundEvent, MediaSource, Messenger, OutgoingContent,
    OutgoingMessage,
};
use mockito::Matcher;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let max = dir.join("max");
    assert!(
        max.is_dir(),
        "fixtures folder {} is missing: set MESSENGER_FIXTURES to the path of shared/fixtures",
        max.display()
    );
    max
}

/// The files of the folder whose names start with `prefix` and end with `suffix`.
fn files(prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one event must look like, from the raw JSON alone.
#[derive(Debug, PartialEq)]
enum Expected {
    Message {
        id: String,
        chat: String,
        timestamp: i64,
        text: Option<String>,
        sender: Option<String>,
        edited: bool,
    },
    Contact {
        chat: String,
        user: String,
        change: ContactChange,
        timestamp: i64,
    },
    Other {
        kind: String,
        chat: Option<String>,
    },
}

fn id(v: &Value) -> Option<String> {
    v.as_i64().filter(|n| *n != 0).map(|n| n.to_string())
}

/// The table of `convert`'s module docs, written again from the platform sheet.
fn expected(update: &Value) -> Vec<Expected> {
    let kind = update["update_type"].as_str().unwrap().to_owned();
    let message = &update["message"];
    match kind.as_str() {
        "message_created" | "message_edited" if message.is_object() => vec![Expected::Message {
            id: message["body"]["mid"].as_str().unwrap().to_owned(),
            chat: id(&message["recipient"]["chat_id"]).unwrap(),
            timestamp: message["timestamp"].as_i64().unwrap(),
            text: message["body"]["text"].as_str().map(str::to_owned),
            sender: id(&message["sender"]["user_id"]),
            edited: kind == "message_edited",
        }],
        "message_created" => vec![Expected::Other {
            kind: "message_unavailable".into(),
            chat: id(&update["chat_id"]),
        }],
        "bot_started" | "bot_stopped" => vec![Expected::Contact {
            chat: id(&update["chat_id"]).unwrap(),
            user: id(&update["user"]["user_id"]).unwrap(),
            change: if kind == "bot_started" {
                ContactChange::Unblocked
            } else {
                ContactChange::Blocked
            },
            timestamp: update["timestamp"].as_i64().unwrap(),
        }],
        _ => vec![Expected::Other {
            chat: id(&update["chat_id"]).or_else(|| id(&message["recipient"]["chat_id"])),
            kind,
        }],
    }
}

fn actual(events: &[InboundEvent]) -> Vec<Expected> {
    events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => Expected::Message {
                id: m.message_id.as_str().to_owned(),
                chat: m.chat_id.as_str().to_owned(),
                timestamp: m.timestamp.timestamp_millis(),
                text: m.content.text().map(str::to_owned),
                sender: m.sender.as_ref().map(|s| s.id.as_str().to_owned()),
                edited: m.edited,
            },
            InboundEvent::Contact(c) => Expected::Contact {
                chat: c.chat_id.as_str().to_owned(),
                user: c.user_id.as_str().to_owned(),
                change: c.change,
                timestamp: c.timestamp.timestamp_millis(),
            },
            InboundEvent::Other(o) => Expected::Other {
                kind: o.kind.clone(),
                chat: o.chat_id.as_ref().map(|c| c.as_str().to_owned()),
            },
            other => panic!("unexpected event {other:?}"),
        })
        .collect()
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored and MESSENGER_FIXTURES"]
async fn webhook_fixtures_pass_handle_webhook_and_parse() {
    let server = mockito::Server::new_async().await;
    let max = config(&server)
        .webhook_secret("Fixture_Secret-1")
        .build()
        .unwrap();
    let paths = files("webhook.", ".json");
    for path in &paths {
        let raw = std::fs::read(path).unwrap();
        let update = read(path);
        let want = expected(&update);
        let request = WebhookRequest::post(raw.clone()).header(SECRET_HEADER, "Fixture_Secret-1");
        let outcome = max.handle_webhook(&request).await.unwrap();
        assert_eq!(outcome.response.status, 200, "{}", path.display());
        assert_eq!(actual(&outcome.events), want, "{}", path.display());
        assert_eq!(
            connector_max::parse(&raw).unwrap(),
            outcome.events,
            "{}",
            path.display()
        );
    }
    assert!(
        paths.len() >= 15,
        "only {} webhook fixtures read",
        paths.len()
    );
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored and MESSENGER_FIXTURES"]
async fn update_fixtures_pass_parse_and_long_polling() {
    let paths = files("update.", ".json");
    for path in &paths {
        let raw = std::fs::read_to_string(path).unwrap();
        let answer = read(path);
        let want: Vec<Expected> = answer["updates"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(expected)
            .collect();
        let parsed = connector_max::parse(raw.as_bytes()).unwrap();
        assert_eq!(actual(&parsed), want, "{}", path.display());

        // The same answer through long polling: the same events, then the answer's marker.
        let mut server = mockito::Server::new_async().await;
        let capture = Capture::default();
        server
            .mock("GET", "/updates")
            .match_query(Matcher::Any)
            .with_body_from_request(capture.answer(raw.clone()))
            .expect(1)
            .create_async()
            .await;
        server
            .mock("GET", "/updates")
            .match_query(Matcher::Any)
            .with_status(401)
            .with_body_from_request(capture.answer(api_error("verify.token", "")))
            .create_async()
            .await;
        let mut stream = bot(&server).updates().unwrap();
        let mut polled = Vec::new();
        while let Some(Ok(event)) = next_within(&mut stream).await {
            polled.push(event);
        }
        assert_eq!(polled, parsed, "{}", path.display());
        let marker = answer["marker"].as_i64().unwrap().to_string();
        let second = &capture.all()[1];
        assert!(
            second.query().contains(&("marker".to_owned(), marker)),
            "{}: {:?}",
            path.display(),
            second.query()
        );
    }
    assert!(
        paths.len() >= 9,
        "only {} update fixtures read",
        paths.len()
    );
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored and MESSENGER_FIXTURES"]
async fn bot_info_and_error_fixtures_pass_the_decoders() {
    let infos = files("botInfo.", ".json");
    for path in &infos {
        let raw = std::fs::read_to_string(path).unwrap();
        let value = read(path);
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/me")
            .with_body(raw)
            .create_async()
            .await;
        let me = bot(&server).connect().await.unwrap();
        assert_eq!(
            me.id.as_str(),
            value["user_id"].as_i64().unwrap().to_string()
        );
        assert_eq!(me.username.as_deref(), value["username"].as_str());
        assert_eq!(me.name.as_deref(), value["first_name"].as_str());
    }
    assert!(!infos.is_empty(), "no botInfo fixture read");

    let errors = files("error.", ".json");
    for path in &errors {
        let raw = std::fs::read_to_string(path).unwrap();
        let code = read(path)["code"].as_str().unwrap().to_owned();
        let (status, kind) = match code.as_str() {
            "verify.token" => (401, ErrorKind::Unauthorized),
            "attachment.not.ready" => (400, ErrorKind::Platform),
            other => panic!("no expectation for the error code {other}"),
        };
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", "/messages")
            .match_query(Matcher::Any)
            .with_status(status)
            .with_body(raw)
            .create_async()
            .await;
        let max = config(&server).not_ready_retries(1).build().unwrap();
        let err = max
            .send(&OutgoingMessage::text("182182182", "hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{}", path.display());
        assert_eq!(
            err.platform_code(),
            Some(code.as_str()),
            "{}",
            path.display()
        );
    }
    assert!(
        errors.len() >= 2,
        "only {} error fixtures read",
        errors.len()
    );
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored and MESSENGER_FIXTURES"]
async fn the_video_upload_answer_is_not_needed() {
    let xml = std::fs::read_to_string(fixtures().join("upload.video.response.xml")).unwrap();
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/uploads")
        .match_query(Matcher::Any)
        .with_body(
            json!({"url": format!("{}/upload/v", server.url()), "token": "vt-1"}).to_string(),
        )
        .create_async()
        .await;
    server
        .mock("POST", "/upload/v")
        .with_body(xml)
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(capture.answer(sent("mid.v", 5, 1)))
        .create_async()
        .await;
    let content = OutgoingContent::media(
        ContentKind::Video,
        MediaSource::bytes(vec![0u8; 16], "video/mp4", "v.mp4"),
        None,
    )
    .unwrap();
    bot(&server)
        .send(&OutgoingMessage::new("5", content))
        .await
        .unwrap();
    assert_eq!(
        capture.only().json(),
        json!({"attachments": [{"type": "video", "payload": {"token": "vt-1"}}]})
    );
}
