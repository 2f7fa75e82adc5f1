//! Conformance against real public material, `#[ignore]`d by default; run with
//! `cargo test -p connector-vk -- --ignored`. The fixtures are `$MESSENGER_FIXTURES/vk`
//! (default `<CARGO_MANIFEST_DIR>/../../shared/fixtures/vk`), the schema
//! `$MESSENGER_FIXTURES/../schemas/vk` (VKCOM/vk-api-schema 5.199); the tests FAIL if either
//! is missing, and each asserts a minimum number of items read.
//!
//! - The kutana Bots Long Poll session (`kutana_longpoll_session.json`): every answer with
//!   `updates` is parsed and compared with what its raw JSON says; the whole session is
//!   replayed through the connector (connect, getLongPollServer, a_check) on a mock server.
//! - Every request the connector builds is checked against the schema's declaration of its
//!   method: each parameter declared, of the declared type, within `maxLength` and `enum`,
//!   and every required parameter present.
//! - Every Callback event type of the schema becomes exactly one event, without panic.
//! - The error codes: every code the connector's table names exists in `errors.json` under
//!   the name it gives, and every error `messages.send` declares is a definite refusal.

mod common;

use std::path::{Path, PathBuf};

use common::{api, form, within};
use connector_vk::convert::{random_id_for_key, send_params};
use connector_vk::error::from_api_error;
use connector_vk::wire::{self, ApiError};
use futures::StreamExt;
use messenger_core::plan::Part;
use messenger_core::{Delivery, ErrorKind, InboundEvent, Messenger, OutgoingContent};
use mockito::Matcher;
use serde::Serialize;
use serde_json::{Value, json};

fn shared() -> PathBuf {
    let fixtures = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    assert!(
        fixtures.join("vk").is_dir(),
        "fixtures folder {}/vk is missing: set MESSENGER_FIXTURES to the path of shared/fixtures",
        fixtures.display()
    );
    fixtures
}

fn read(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn session() -> Vec<Value> {
    let v = read(&shared().join("vk/kutana_longpoll_session.json"));
    v.as_array()
        .expect("the session is a list of calls")
        .clone()
}

fn schema(file: &str) -> Value {
    let dir = shared().join("../schemas/vk");
    assert!(
        dir.is_dir(),
        "schema folder {} is missing (expected next to the fixtures)",
        dir.display()
    );
    read(&dir.join(file))
}

/// What a raw Long Poll update says its event must be: `(kind, chat, message id, text)`.
fn expected(update: &Value) -> (String, Option<String>, Option<String>, Option<String>) {
    let kind = update["type"].as_str().unwrap().to_owned();
    let message = &update["object"]["message"];
    if kind == "message_new" && message["out"] == 0 {
        let id = message["id"].as_i64().unwrap();
        let cmid = message["conversation_message_id"].as_i64().unwrap();
        let message_id = if id != 0 {
            id.to_string()
        } else {
            format!("c{cmid}")
        };
        (
            "message".into(),
            Some(message["peer_id"].as_i64().unwrap().to_string()),
            Some(message_id),
            message["text"].as_str().map(str::to_owned),
        )
    } else {
        ("other".into(), None, None, None)
    }
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn the_kutana_session_parses_as_its_raw_json_says() {
    let mut messages = 0;
    let mut answers = 0;
    for call in session() {
        let response = &call["response"];
        let Some(updates) = response.get("updates").and_then(Value::as_array) else {
            continue;
        };
        answers += 1;
        let events = connector_vk::parse(response.to_string().as_bytes()).unwrap();
        assert_eq!(events.len(), updates.len(), "{}", call["url"]);
        for (event, update) in events.iter().zip(updates) {
            let (kind, chat, id, text) = expected(update);
            match event {
                InboundEvent::Message(m) => {
                    assert_eq!(kind, "message");
                    assert_eq!(Some(m.chat_id.to_string()), chat);
                    assert_eq!(Some(m.message_id.to_string()), id);
                    assert_eq!(m.content.text().map(str::to_owned), text);
                    assert_eq!(
                        m.timestamp.timestamp(),
                        update["object"]["message"]["date"].as_i64().unwrap()
                    );
                    assert_eq!(
                        m.sender.as_ref().unwrap().id.to_string(),
                        update["object"]["message"]["from_id"].to_string()
                    );
                    assert!(!m.edited);
                    messages += 1;
                }
                other => assert_eq!(kind, "other", "{other:?}"),
            }
        }
    }
    assert!(answers >= 3, "only {answers} long-poll answers read");
    assert!(messages >= 2, "only {messages} messages read");
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored"]
async fn the_kutana_session_replays_through_the_connector() {
    let calls = session();
    let find = |url: &str| {
        calls
            .iter()
            .find(|c| c["url"].as_str().unwrap().ends_with(url))
            .unwrap_or_else(|| panic!("no call to {url}"))["response"]
            .clone()
    };
    let get_by_id = find("/method/groups.getById");
    let group = get_by_id["response"]["groups"][0]["id"].as_u64().unwrap();
    let mut server = mockito::Server::new_async().await;
    let token = common::TOKEN;
    let vk = connector_vk::VkConfig::new(token, group)
        .base_url(server.url())
        .poll_wait(std::time::Duration::ZERO)
        .build()
        .unwrap();
    api(&mut server, "groups.getById", &form(&[]))
        .with_body(get_by_id.to_string())
        .create_async()
        .await;
    let mut lp = find("/method/groups.getLongPollServer");
    let key = lp["response"]["key"].as_str().unwrap().to_owned();
    lp["response"]["server"] = json!(format!("{}/lp", server.url()));
    api(
        &mut server,
        "groups.getLongPollServer",
        &form(&[("group_id", &group.to_string())]),
    )
    .with_body(lp.to_string())
    .create_async()
    .await;
    let mut expected_texts = Vec::new();
    for call in &calls {
        let url = call["url"].as_str().unwrap();
        if !url.contains("act=a_check") {
            continue;
        }
        let query: Vec<(String, String)> = url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let ts = &query.iter().find(|(k, _)| k == "ts").unwrap().1;
        for update in call["response"]["updates"].as_array().unwrap() {
            expected_texts.push(
                update["object"]["message"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        server
            .mock("GET", "/lp")
            .match_query(Matcher::AllOf(vec![
                Matcher::UrlEncoded("act".into(), "a_check".into()),
                Matcher::UrlEncoded("key".into(), key.clone()),
                Matcher::UrlEncoded("ts".into(), ts.clone()),
                Matcher::UrlEncoded("wait".into(), "0".into()),
            ]))
            .with_body(call["response"].to_string())
            .create_async()
            .await;
    }
    assert!(expected_texts.len() >= 2);
    let me = within(vk.connect()).await.unwrap();
    assert_eq!(me.id.to_string(), group.to_string());
    assert_eq!(
        me.username.as_deref(),
        get_by_id["response"]["groups"][0]["screen_name"].as_str()
    );
    let mut stream = vk.updates().unwrap();
    let mut texts = Vec::new();
    while texts.len() < expected_texts.len() {
        match within(stream.next()).await {
            Some(Ok(InboundEvent::Message(m))) => texts.push(m.content.text().unwrap().to_owned()),
            Some(Ok(InboundEvent::Account(_))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(texts, expected_texts);
}

/// The declaration of `method` in `file`.
fn method(file: &str, name: &str) -> Value {
    schema(file)["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {file}"))
        .clone()
}

/// Checks one request's parameters against the schema; returns how many were checked.
fn conforms(file: &str, name: &str, params: &impl Serialize) -> usize {
    let decl = method(file, name);
    let declared = decl["parameters"].as_array().unwrap();
    let sent = serde_json::to_value(params).unwrap();
    let sent = sent.as_object().unwrap();
    for (key, value) in sent {
        let p = declared
            .iter()
            .find(|p| p["name"] == key.as_str())
            .unwrap_or_else(|| panic!("{name}: `{key}` is not a declared parameter"));
        match p["type"].as_str() {
            Some("integer") => assert!(value.is_i64() || value.is_u64(), "{name}.{key}"),
            Some("boolean") => {
                assert!(
                    value == &json!(0) || value == &json!(1),
                    "{name}.{key}: 0 or 1"
                )
            }
            Some("array") => {
                let s = value.as_str().unwrap_or_else(|| panic!("{name}.{key}"));
                assert!(
                    s.split(',').all(|i| i.parse::<i64>().is_ok()),
                    "{name}.{key}"
                );
            }
            Some("string") => {
                let s = value.as_str().unwrap_or_else(|| panic!("{name}.{key}"));
                if let Some(max) = p["maxLength"].as_u64() {
                    assert!(s.chars().count() as u64 <= max, "{name}.{key} over {max}");
                }
                if let Some(allowed) = p["enum"].as_array() {
                    assert!(allowed.contains(value), "{name}.{key}: not in the enum");
                }
            }
            None if p["type"].is_array() => {}
            other => panic!("{name}.{key}: unexpected type {other:?}"),
        }
    }
    for p in declared {
        if p["required"] == true {
            let key = p["name"].as_str().unwrap();
            assert!(sent.contains_key(key), "{name}: required `{key}` missing");
        }
    }
    sent.len()
}

#[test]
#[ignore = "reads shared/schemas; run with --ignored"]
fn every_request_is_shaped_as_the_schema_declares() {
    let text = Part {
        content: OutgoingContent::text("я".repeat(9000)),
        reply_to: Some("345".into()),
        idempotency_key: Some("k#0".into()),
    };
    let chat = Part {
        content: OutgoingContent::text("hi"),
        reply_to: Some("c12".into()),
        idempotency_key: None,
    };
    let mut checked = 0;
    checked += conforms(
        "messages/methods.json",
        "messages.send",
        &send_params(
            111,
            &text,
            Some("photo-1_2_ab,doc-1_3".into()),
            random_id_for_key(111, "k#0"),
        )
        .unwrap(),
    );
    checked += conforms(
        "messages/methods.json",
        "messages.send",
        &send_params(2000000001, &chat, None, 5).unwrap(),
    );
    checked += conforms(
        "messages/methods.json",
        "messages.markAsRead",
        &wire::MarkAsReadParams {
            peer_id: 111,
            start_message_id: Some(345),
            up_to_cmid: None,
            mark_conversation_as_read: 1,
            group_id: 1,
        },
    );
    checked += conforms(
        "messages/methods.json",
        "messages.edit",
        &wire::EditParams {
            peer_id: 111,
            message_id: Some(346),
            cmid: None,
            message: "x".into(),
        },
    );
    checked += conforms(
        "messages/methods.json",
        "messages.edit",
        &wire::EditParams {
            peer_id: 2000000001,
            message_id: None,
            cmid: Some(7),
            message: "x".into(),
        },
    );
    checked += conforms(
        "messages/methods.json",
        "messages.delete",
        &wire::DeleteParams {
            peer_id: 111,
            message_ids: Some("346".into()),
            cmids: None,
            delete_for_all: 1,
        },
    );
    checked += conforms(
        "groups/methods.json",
        "groups.getLongPollServer",
        &wire::LongPollServerParams { group_id: 1 },
    );
    checked += conforms(
        "groups/methods.json",
        "groups.getById",
        &wire::GetByIdParams {},
    );
    checked += conforms(
        "photos/methods.json",
        "photos.getMessagesUploadServer",
        &wire::PhotoUploadServerParams { peer_id: 111 },
    );
    checked += conforms(
        "photos/methods.json",
        "photos.saveMessagesPhoto",
        &wire::SaveMessagesPhotoParams {
            photo: "[]".into(),
            server: 1,
            hash: "h".into(),
        },
    );
    for kind in ["doc", "audio_message"] {
        checked += conforms(
            "docs/methods.json",
            "docs.getMessagesUploadServer",
            &wire::DocUploadServerParams { kind, peer_id: 111 },
        );
    }
    checked += conforms(
        "docs/methods.json",
        "docs.save",
        &wire::DocsSaveParams { file: "f".into() },
    );
    assert!(checked >= 30, "only {checked} parameters checked");
}

#[test]
#[ignore = "reads shared/schemas; run with --ignored"]
fn every_callback_type_becomes_one_event() {
    let types = schema("callback/objects.json")["definitions"]["callback_type"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    assert!(types.len() >= 40, "only {} callback types", types.len());
    for t in &types {
        let kind = t.as_str().unwrap();
        for object in [json!({}), json!({"peer_id": 111}), json!(null), json!([1])] {
            let body = json!({"type": kind, "group_id": 1, "event_id": "e", "object": object});
            let events = connector_vk::parse(body.to_string().as_bytes()).unwrap();
            assert_eq!(events.len(), 1, "{body}");
            if let InboundEvent::Other(o) = &events[0] {
                assert!(o.kind == kind || o.kind == "malformed_event", "{body}");
            } else {
                panic!("{body}: an empty object made {:?}", events[0]);
            }
        }
    }
}

#[test]
#[ignore = "reads shared/schemas; run with --ignored"]
fn error_codes_match_errors_json() {
    let errors = schema("errors.json")["errors"].as_object().unwrap().clone();
    let by_code = |code: i64| {
        errors
            .iter()
            .find(|(_, e)| e["code"] == code)
            .map(|(name, _)| name.clone())
    };
    // The connector's table, with the schema's names (independent of the code under test).
    let table = [
        (1, "api_error_unknown"),
        (5, "api_error_auth"),
        (6, "api_error_too_many"),
        (7, "api_error_permission"),
        (9, "api_error_flood"),
        (10, "api_error_server"),
        (14, "api_error_captcha"),
        (15, "api_error_access"),
        (18, "api_error_user_deleted"),
        (22, "api_error_upload"),
        (27, "api_error_group_auth"),
        (29, "api_error_rate_limit"),
        (100, "api_error_param"),
        (104, "api_error_not_found"),
        (113, "api_error_param_user_id"),
        (203, "api_error_access_group"),
        (900, "api_error_messages_user_blocked"),
        (901, "api_error_messages_deny_send"),
        (902, "api_error_messages_privacy"),
        (911, "api_error_messages_keyboard_invalid"),
        (912, "api_error_messages_chat_bot_feature"),
        (913, "api_error_messages_too_long_forwards"),
        (914, "api_error_messages_too_long_message"),
        (917, "api_error_messages_chat_user_no_access"),
        (932, "api_error_messages_group_peer_access"),
        (943, "api_error_messages_intent_cant_use"),
        (944, "api_error_messages_intent_limit_overflow"),
        (945, "api_error_messages_chat_disabled"),
        (946, "api_error_messages_chat_unsupported"),
        (950, "api_error_messages_peer_blocked_reason_by_time"),
        (985, "api_error_messages_group_for_notifications_only"),
        (987, "api_error_messages_need_message_request"),
        (988, "api_error_messages_pending_message_request"),
    ];
    for (code, name) in table {
        assert_eq!(by_code(code).as_deref(), Some(name), "code {code}");
    }
    // Every error messages.send declares is a definite refusal (not sent), never a panic.
    let send = method("messages/methods.json", "messages.send");
    let declared: Vec<String> = send["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        declared.len() >= 20,
        "only {} declared errors",
        declared.len()
    );
    for name in &declared {
        let code = errors[name]["code"].as_i64().unwrap();
        let err = from_api_error(
            &ApiError {
                error_code: code,
                error_msg: errors[name]["description"].as_str().unwrap_or("").into(),
                ..ApiError::default()
            },
            true,
        );
        assert_eq!(err.delivery(), Delivery::NotSent, "{name}");
        assert_ne!(err.kind(), ErrorKind::Transport, "{name}");
        assert_eq!(err.platform_code(), Some(code.to_string().as_str()));
    }
    // Every global error maps without panic, with its code.
    let mut global = 0;
    for (_, e) in &errors {
        if e["global"] == true {
            let code = e["code"].as_i64().unwrap();
            let err = from_api_error(
                &ApiError {
                    error_code: code,
                    ..ApiError::default()
                },
                false,
            );
            assert_eq!(err.platform_code(), Some(code.to_string().as_str()));
            global += 1;
        }
    }
    assert!(global >= 20, "only {global} global errors");
}

#[tokio::test]
#[ignore = "reads shared/fixtures; run with --ignored"]
async fn the_session_answers_decode_into_the_wire_types() {
    let calls = session();
    let mut decoded = 0;
    for call in &calls {
        let url = call["url"].as_str().unwrap();
        let response = call["response"]["response"].clone();
        if url.ends_with("groups.getById") {
            let groups: wire::GroupsById = serde_json::from_value(response).unwrap();
            assert_eq!(groups.into_groups().len(), 1);
            decoded += 1;
        } else if url.ends_with("groups.getLongPollServer") {
            let s: wire::LongPollServer = serde_json::from_value(response).unwrap();
            assert!(!s.key.is_empty() && !s.ts.is_empty());
            decoded += 1;
        } else if url.contains("a_check") {
            let a: wire::LongPollAnswer = serde_json::from_value(call["response"].clone()).unwrap();
            assert!(a.ts.is_some() && a.failed.is_none());
            decoded += 1;
        }
    }
    assert!(decoded >= 5, "only {decoded} answers decoded");
}
