//! The Bots Long Poll on the core's driver: getLongPollServer, a_check, `failed` 1/2/3,
//! repeated events after a reconnect, rate limits and fatal errors. Every wait is bounded.

mod common;

use common::*;
use futures::StreamExt;
use messenger_core::{AccountHealth, ErrorKind, EventStream, InboundEvent, Messenger};
use mockito::{Mock, ServerGuard};
use serde_json::{Value, json};

fn server_answer(server: &ServerGuard, key: &str, ts: &str) -> String {
    ok(json!({"key": key, "server": format!("{}/wh229000000", server.url()), "ts": ts}))
}

async fn get_server(server: &mut ServerGuard, key: &str, ts: &str) -> Mock {
    let answer = server_answer(server, key, ts);
    api(
        server,
        "groups.getLongPollServer",
        &form(&[("group_id", "229000000")]),
    )
    .with_body(answer)
    .expect(1)
    .create_async()
    .await
}

async fn check(server: &mut ServerGuard, key: &str, ts: &str, answer: Value) -> Mock {
    server
        .mock(
            "GET",
            format!("/wh229000000?act=a_check&key={key}&ts={ts}&wait=0").as_str(),
        )
        .match_header("authorization", mockito::Matcher::Missing)
        .with_body(answer.to_string())
        .expect(1)
        .create_async()
        .await
}

fn text(event_id: &str, id: i64, text: &str) -> Value {
    json!({"type": "message_new", "group_id": GROUP, "event_id": event_id, "v": "5.199",
        "object": {"message": {"id": id, "date": 1717000000, "peer_id": 111, "from_id": 111,
        "out": 0, "conversation_message_id": id, "text": text}, "client_info": {}}})
}

/// The next event that is not an account-health event.
async fn next_message(stream: &mut EventStream) -> InboundEvent {
    loop {
        match within(stream.next()).await {
            Some(Ok(InboundEvent::Account(_))) => continue,
            Some(Ok(event)) => return event,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn text_of(event: &InboundEvent) -> String {
    match event {
        InboundEvent::Message(m) => m.content.text().unwrap_or_default().to_owned(),
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test]
async fn events_flow_and_ts_advances() {
    let mut server = mockito::Server::new_async().await;
    let s = get_server(&mut server, "K1", "1").await;
    let c1 = check(
        &mut server,
        "K1",
        "1",
        json!({"ts": "2", "updates": [
        text("e1", 345, "один"), text("e2", 346, "два")]}),
    )
    .await;
    let c2 = check(
        &mut server,
        "K1",
        "2",
        json!({"ts": "3", "updates": [text("e3", 347, "три")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    let got: Vec<String> = vec![
        text_of(&next_message(&mut stream).await),
        text_of(&next_message(&mut stream).await),
        text_of(&next_message(&mut stream).await),
    ];
    assert_eq!(got, ["один", "два", "три"]);
    for m in [&s, &c1, &c2] {
        hit(m);
    }
}

#[tokio::test]
async fn failed_1_continues_from_the_new_ts() {
    let mut server = mockito::Server::new_async().await;
    get_server(&mut server, "K1", "1").await;
    let c1 = check(&mut server, "K1", "1", json!({"failed": 1, "ts": 30})).await;
    let c2 = check(
        &mut server,
        "K1",
        "30",
        json!({"ts": "31", "updates": [text("e1", 1, "after")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    assert_eq!(text_of(&next_message(&mut stream).await), "after");
    hit(&c1);
    hit(&c2);
}

#[tokio::test]
async fn failed_2_takes_a_new_key_and_keeps_ts_and_drops_repeats() {
    let mut server = mockito::Server::new_async().await;
    let first = server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(server_answer(&server, "K1", "1"))
        .expect(1)
        .create_async()
        .await;
    check(
        &mut server,
        "K1",
        "1",
        json!({"ts": "2", "updates": [text("e1", 1, "one")]}),
    )
    .await;
    check(&mut server, "K1", "2", json!({"failed": 2})).await;
    let second = server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(server_answer(&server, "K2", "99"))
        .expect(1)
        .create_async()
        .await;
    // The new key, the old ts (not the server's 99); VK repeats e1 alongside e2.
    let c = check(
        &mut server,
        "K2",
        "2",
        json!({"ts": "3", "updates": [
        text("e1", 1, "one"), text("e2", 2, "two")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    assert_eq!(text_of(&next_message(&mut stream).await), "one");
    assert_eq!(text_of(&next_message(&mut stream).await), "two");
    hit(&first);
    hit(&second);
    hit(&c);
}

#[tokio::test]
async fn failed_3_takes_a_new_key_and_ts() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(server_answer(&server, "K1", "1"))
        .expect(1)
        .create_async()
        .await;
    check(&mut server, "K1", "1", json!({"failed": 3})).await;
    server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(server_answer(&server, "K3", "50"))
        .expect(1)
        .create_async()
        .await;
    let c = check(
        &mut server,
        "K3",
        "50",
        json!({"ts": "51", "updates": [text("e9", 9, "fresh")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    assert_eq!(text_of(&next_message(&mut stream).await), "fresh");
    hit(&c);
}

#[tokio::test]
async fn a_stream_resumes_from_a_persisted_ts() {
    let mut server = mockito::Server::new_async().await;
    get_server(&mut server, "K1", "77").await;
    let c = check(
        &mut server,
        "K1",
        "12",
        json!({"ts": "13", "updates": [text("e", 5, "kept")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates_from(Some("12".into()));
    assert_eq!(text_of(&next_message(&mut stream).await), "kept");
    hit(&c);
}

#[tokio::test]
async fn error_29_on_get_long_poll_server_backs_off_as_a_rate_limit() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(fail(29, "Rate limit reached"))
        .expect(1)
        .create_async()
        .await;
    get_server(&mut server, "K1", "1").await;
    check(
        &mut server,
        "K1",
        "1",
        json!({"ts": "2", "updates": [text("e1", 1, "late")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    let mut health = Vec::new();
    let message = loop {
        match within(stream.next()).await {
            Some(Ok(InboundEvent::Account(a))) => health.push(a.health),
            Some(Ok(event)) => break event,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(text_of(&message), "late");
    assert_eq!(
        health,
        [AccountHealth::RateLimited, AccountHealth::Connected]
    );
}

#[tokio::test]
async fn error_5_ends_the_stream() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(fail(5, "User authorization failed"))
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    let err = within(stream.next()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(within(stream.next()).await.is_none());
}

#[tokio::test]
async fn a_malformed_update_does_not_stop_the_stream() {
    let mut server = mockito::Server::new_async().await;
    get_server(&mut server, "K1", "1").await;
    check(
        &mut server,
        "K1",
        "1",
        json!({"ts": "2", "updates": [
        {"type": "message_new", "event_id": "bad", "object": {"message": 5}},
        text("e1", 1, "good")]}),
    )
    .await;
    let vk = config(&server).build().unwrap();
    let mut stream = vk.updates().unwrap();
    let first = next_message(&mut stream).await;
    assert!(matches!(first, InboundEvent::Other(ref o) if o.kind == "malformed_event"));
    assert_eq!(text_of(&next_message(&mut stream).await), "good");
}
