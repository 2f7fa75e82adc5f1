//! getUpdates long polling: exact requests, offsets across batches and across failures, health
//! events, fatal errors.

mod common;

use common::{bot, config, drain_within, fail, next_within, ok, path};
use messenger_core::{ErrorKind, EventStream, InboundEvent, Messenger};
use mockito::Matcher;
use serde_json::{Value, json};

fn text_update(update_id: i64, message_id: i64) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {"id": 123456789, "is_bot": false, "first_name": "Ivan"},
            "chat": {"id": 123456789, "type": "private", "first_name": "Ivan"},
            "date": 1767225600,
            "text": format!("message {message_id}")
        }
    })
}

fn request(offset: Option<i64>) -> Matcher {
    let mut body = json!({"limit": 100, "timeout": 0});
    if let Some(offset) = offset {
        body["offset"] = json!(offset);
    }
    Matcher::Json(body)
}

/// What a stream item is, compactly: `m<message_id>`, `health:<state>`, `err:<kind>`.
fn describe(item: &messenger_core::Result<InboundEvent>) -> String {
    match item {
        Ok(InboundEvent::Message(m)) => format!("m{}", m.message_id),
        Ok(InboundEvent::Account(a)) => format!(
            "health:{}",
            serde_json::to_value(a.health).unwrap().as_str().unwrap()
        ),
        Ok(InboundEvent::Other(o)) => format!("other:{}", o.kind),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("err:{}", e.kind()),
    }
}

/// Every item until the stream ends; fails (rather than hangs) after 20 s without an item or
/// past 20 items.
async fn drain(stream: EventStream) -> Vec<String> {
    drain_within(stream, 20)
        .await
        .iter()
        .map(describe)
        .collect()
}

#[tokio::test]
async fn offsets_advance_and_a_failure_between_batches_neither_skips_nor_repeats() {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    let first = server
        .mock("POST", p.as_str())
        .match_header("content-type", "application/json")
        .match_body(request(None))
        .with_body(ok(json!([text_update(10, 1), text_update(11, 2)])))
        .expect(1)
        .create_async()
        .await;
    // The next call confirms 10 and 11 and fails twice (a 502 page, then a garbled 200)...
    let bad_gateway = server
        .mock("POST", p.as_str())
        .match_body(request(Some(12)))
        .with_status(502)
        .with_body("<html>502 Bad Gateway</html>")
        .expect(1)
        .create_async()
        .await;
    let garbled = server
        .mock("POST", p.as_str())
        .match_body(request(Some(12)))
        .with_body("{\"ok\":tr")
        .expect(1)
        .create_async()
        .await;
    // ...then is retried with the same offset.
    let second = server
        .mock("POST", p.as_str())
        .match_body(request(Some(12)))
        .with_body(ok(json!([text_update(12, 3)])))
        .expect(1)
        .create_async()
        .await;
    let empty = server
        .mock("POST", p.as_str())
        .match_body(request(Some(13)))
        .with_body(ok(json!([])))
        .expect(1)
        .create_async()
        .await;
    let fatal = server
        .mock("POST", p.as_str())
        .match_body(request(Some(13)))
        .with_status(401)
        .with_body(fail(401, "Unauthorized"))
        .expect(1)
        .create_async()
        .await;

    let items = drain(bot(&server).updates().unwrap()).await;
    assert_eq!(
        items,
        vec![
            "m1",
            "m2",
            "health:unavailable",
            "health:connected",
            "m3",
            "err:unauthorized"
        ]
    );
    for mock in [&first, &bad_gateway, &garbled, &second, &empty, &fatal] {
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn a_batch_is_confirmed_only_after_the_consumer_pulled_all_of_it() {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    server
        .mock("POST", p.as_str())
        .match_body(request(None))
        .with_body(ok(json!([text_update(5, 1), text_update(6, 2)])))
        .expect(1)
        .create_async()
        .await;
    let confirm = server
        .mock("POST", p.as_str())
        .match_body(request(Some(7)))
        .with_status(409)
        .with_body(fail(
            409,
            "Conflict: terminated by other getUpdates request",
        ))
        .expect(1)
        .create_async()
        .await;
    let mut stream = bot(&server).updates().unwrap();
    assert_eq!(describe(&next_within(&mut stream).await.unwrap()), "m1");
    assert_eq!(describe(&next_within(&mut stream).await.unwrap()), "m2");
    // Both events pulled, but the confirming call is made only when the consumer asks for more.
    assert!(!confirm.matched_async().await);
    assert_eq!(
        describe(&next_within(&mut stream).await.unwrap()),
        "err:conflict"
    );
    assert!(next_within(&mut stream).await.is_none());
    confirm.assert_async().await;
}

#[tokio::test]
async fn rate_limit_waits_retry_after_and_reports_health() {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    let limited = server
        .mock("POST", p.as_str())
        .match_body(request(Some(100)))
        .with_status(429)
        .with_body(
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
                   "parameters": {"retry_after": 1}})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let batch = server
        .mock("POST", p.as_str())
        .match_body(request(Some(100)))
        .with_body(ok(json!([text_update(100, 9)])))
        .expect(1)
        .create_async()
        .await;
    server
        .mock("POST", p.as_str())
        .match_body(request(Some(101)))
        .with_status(404)
        .with_body(fail(404, "Not Found"))
        .create_async()
        .await;
    let bot = config(&server).initial_offset(100).build().unwrap();
    let items = drain(bot.updates().unwrap()).await;
    assert_eq!(
        items,
        vec![
            "health:rate_limited",
            "health:connected",
            "m9",
            "err:unauthorized"
        ]
    );
    limited.assert_async().await;
    batch.assert_async().await;
}

#[tokio::test]
async fn poll_settings_are_sent() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("getUpdates").as_str())
        .match_body(Matcher::Json(json!({
            "offset": 42,
            "limit": 10,
            "timeout": 25,
            "allowed_updates": ["message", "my_chat_member"]
        })))
        .with_status(409)
        .with_body(fail(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        ))
        .create_async()
        .await;
    let bot = config(&server)
        .poll_timeout(std::time::Duration::from_secs(25))
        .poll_limit(10)
        .allowed_updates(["message", "my_chat_member"])
        .build()
        .unwrap();
    let items = drain(bot.updates_from(Some(42))).await;
    assert_eq!(items, vec!["err:conflict"]);
    mock.assert_async().await;
}

#[tokio::test]
async fn unknown_and_malformed_updates_do_not_stop_the_stream() {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    server
        .mock("POST", p.as_str())
        .match_body(request(None))
        .with_body(ok(json!([
            {"update_id": 1, "brand_new_update": {"x": 1}},
            {"update_id": 2, "message": {"message_id": "not a number"}},
            text_update(3, 30)
        ])))
        .create_async()
        .await;
    let next = server
        .mock("POST", p.as_str())
        .match_body(request(Some(4)))
        .with_status(401)
        .with_body(fail(401, "Unauthorized"))
        .create_async()
        .await;
    let items = drain(bot(&server).updates().unwrap()).await;
    assert_eq!(
        items,
        vec![
            "other:brand_new_update",
            "other:malformed_update",
            "m30",
            "err:unauthorized"
        ]
    );
    next.assert_async().await;
}

#[tokio::test]
async fn fatal_errors_end_the_stream() {
    for (status, description, kind) in [
        (401, "Unauthorized", ErrorKind::Unauthorized),
        (
            409,
            "Conflict: terminated by other getUpdates request",
            ErrorKind::Conflict,
        ),
    ] {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("POST", path("getUpdates").as_str())
            .with_status(status)
            .with_body(fail(status as u16, description))
            .expect(1)
            .create_async()
            .await;
        let mut stream = bot(&server).updates().unwrap();
        let err = next_within(&mut stream).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), kind);
        assert!(next_within(&mut stream).await.is_none());
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn health_events_are_emitted_only_on_transitions() {
    let mut server = mockito::Server::new_async().await;
    let p = path("getUpdates");
    let failing = server
        .mock("POST", p.as_str())
        .match_body(request(None))
        .with_status(500)
        .with_body(fail(500, "Internal Server Error"))
        .expect(3)
        .create_async()
        .await;
    server
        .mock("POST", p.as_str())
        .match_body(request(None))
        .with_status(401)
        .with_body(fail(401, "Unauthorized"))
        .create_async()
        .await;
    let items = drain(bot(&server).updates().unwrap()).await;
    assert_eq!(items, vec!["health:unavailable", "err:unauthorized"]);
    failing.assert_async().await;
}
