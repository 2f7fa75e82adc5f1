//! Polling intake (unread chats, then their messages, each yielded once) and read statuses by
//! polling (only chats with unread outgoing messages, each read once).

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use messenger_core::{
    Content, DeliveryStatus, EventStream, InboundEvent, Messenger, OutgoingMessage,
};
use mockito::Matcher;
use serde_json::json;

const OTHER_CHAT: &str = "u2u-Profile-Chat-2";

fn chats_query() -> Matcher {
    Matcher::Exact("unread_only=true&chat_types=u2i%2Cu2u&limit=100&offset=0".to_owned())
}

fn messages_path(chat: &str) -> String {
    account_path("v3", &format!("chats/{chat}/messages/"))
}

/// The next event that is not an account-health one.
async fn next(stream: &mut EventStream) -> InboundEvent {
    loop {
        match within(stream.next()).await {
            Some(Ok(InboundEvent::Account(_))) => continue,
            Some(Ok(event)) => return event,
            other => panic!("the stream gave {other:?}"),
        }
    }
}

fn text_of(event: &InboundEvent) -> (&str, &str) {
    let InboundEvent::Message(m) = event else {
        panic!("{event:?}")
    };
    let Content::Text { text } = &m.content else {
        panic!("{event:?}")
    };
    (m.message_id.as_str(), text.as_str())
}

#[tokio::test]
async fn unread_chats_then_their_messages_each_once() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let chats = api(&mut server, "GET", &account_path("v2", "chats"))
        .match_query(chats_query())
        .with_body(
            json!({"chats": [
                {"id": CHAT, "users": [{"id": CUSTOMER, "name": "Иван"}, {"id": USER, "name": "Магазин"}]},
                {"id": OTHER_CHAT, "users": []}
            ]})
            .to_string(),
        )
        .expect_at_least(2)
        .create_async()
        .await;
    // The spec's array shape, newest first, with one of the account's own and one read.
    let first = api(&mut server, "GET", &messages_path(CHAT))
        .match_query(Matcher::Exact("limit=50&offset=0".to_owned()))
        .with_body(
            json!([
                {"id": "m3", "author_id": CUSTOMER, "created": 1_717_000_300, "direction": "in",
                 "type": "text", "content": {"text": "третье"}, "is_read": false},
                {"id": "m2", "author_id": USER, "created": 1_717_000_200, "direction": "out",
                 "type": "text", "content": {"text": "наш ответ"}, "is_read": false, "read": null},
                {"id": "m1", "author_id": CUSTOMER, "created": 1_717_000_100, "direction": "in",
                 "type": "text", "content": {"text": "первое"}, "is_read": false},
                {"id": "m0", "author_id": CUSTOMER, "created": 1_717_000_000, "direction": "in",
                 "type": "text", "content": {"text": "старое"}, "is_read": true}
            ])
            .to_string(),
        )
        .expect_at_least(2)
        .create_async()
        .await;
    // The `{"messages": [...]}` shape, and `isRead`.
    let second = api(&mut server, "GET", &messages_path(OTHER_CHAT))
        .match_query(Matcher::Any)
        .with_body(
            json!({"messages": [
                {"id": "p1", "author_id": 777, "created": 1_717_000_050, "direction": "in",
                 "type": "voice", "content": {"voice": {"voice_id": "v-1"}}, "isRead": false}
            ]})
            .to_string(),
        )
        .expect_at_least(2)
        .create_async()
        .await;
    let avito = config(&server)
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut stream = avito.updates().unwrap();
    let one = next(&mut stream).await;
    assert_eq!(text_of(&one), ("m1", "первое"));
    let InboundEvent::Message(m) = &one else {
        panic!()
    };
    assert_eq!(m.sender.as_ref().unwrap().name.as_deref(), Some("Иван"));
    assert_eq!(text_of(&next(&mut stream).await), ("m3", "третье"));
    let InboundEvent::Message(voice) = next(&mut stream).await else {
        panic!()
    };
    assert_eq!(voice.chat_id.as_str(), OTHER_CHAT);
    assert!(matches!(voice.content, Content::Voice { .. }));
    // Later polls see the same unread messages and yield nothing again.
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match stream.next().await {
                Some(Ok(InboundEvent::Account(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a message came twice: {quiet:?}");
    drop(stream);
    chats.assert_async().await;
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_full_page_of_chats_asks_for_the_next() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let page: Vec<_> = (0..100)
        .map(|i| json!({"id": format!("u2i-{i}")}))
        .collect();
    let first = api(&mut server, "GET", &account_path("v2", "chats"))
        .match_query(chats_query())
        .with_body(json!({"chats": page}).to_string())
        .expect(1)
        .create_async()
        .await;
    let second = api(&mut server, "GET", &account_path("v2", "chats"))
        .match_query(Matcher::Exact(
            "unread_only=true&chat_types=u2i%2Cu2u&limit=100&offset=100".to_owned(),
        ))
        .with_body(json!({"chats": [{"id": "u2i-last"}]}).to_string())
        .expect(1)
        .create_async()
        .await;
    server
        .mock("GET", Matcher::Regex("/messages/\\?".into()))
        .with_body("[]")
        .create_async()
        .await;
    let last = api(&mut server, "GET", &messages_path("u2i-last"))
        .match_query(Matcher::Any)
        .with_body(
            json!([{"id": "z", "author_id": CUSTOMER, "created": 1, "type": "text",
                "content": {"text": "в последнем чате"}}])
            .to_string(),
        )
        .create_async()
        .await;
    let avito = config(&server)
        .poll_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut stream = avito.updates().unwrap();
    assert_eq!(text_of(&next(&mut stream).await), ("z", "в последнем чате"));
    first.assert_async().await;
    second.assert_async().await;
    last.assert_async().await;
}

#[tokio::test]
async fn read_statuses_poll_only_chats_with_unread_sent_messages_and_report_each_once() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let send = api(
        &mut server,
        "POST",
        &account_path("v1", &format!("chats/{CHAT}/messages")),
    )
    .with_body(sent("out-1"))
    .create_async()
    .await;
    // Another chat with messages of the account, never tracked: never polled.
    let untracked = server
        .mock("GET", messages_path(OTHER_CHAT).as_str())
        .match_query(Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let unread = api(&mut server, "GET", &messages_path(CHAT))
        .match_query(Matcher::Exact("limit=100&offset=0".to_owned()))
        .with_body(
            json!([{"id": "out-1", "author_id": USER, "created": 1_717_000_100,
                "direction": "out", "type": "text", "content": {"text": "-"}, "read": null}])
            .to_string(),
        )
        .expect_at_least(1)
        .create_async()
        .await;
    let avito = config(&server)
        .read_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    within(avito.send(&OutgoingMessage::text(CHAT, "Ваш заказ готов")))
        .await
        .unwrap();
    send.assert_async().await;
    let mut stream = avito.read_statuses();
    // The first poll: not read yet.
    let quiet = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    unread.assert_async().await;
    unread.remove_async().await;
    let read = api(&mut server, "GET", &messages_path(CHAT))
        .match_query(Matcher::Any)
        .with_body(
            json!([
                {"id": "in-9", "author_id": CUSTOMER, "created": 1_717_000_400, "direction": "in",
                 "type": "text", "content": {"text": "спасибо"}, "read": 1_717_000_450},
                {"id": "out-1", "author_id": USER, "created": 1_717_000_100, "direction": "out",
                 "type": "text", "content": {"text": "-"}, "read": 1_717_000_300}
            ])
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let InboundEvent::Status(status) = next(&mut stream).await else {
        panic!()
    };
    assert_eq!(status.chat_id.as_str(), CHAT);
    assert_eq!(status.message_id.as_str(), "out-1");
    assert_eq!(status.status, DeliveryStatus::Read);
    assert_eq!(status.timestamp.timestamp(), 1_717_000_300);
    // Reported once: nothing is tracked any more, so no further request and no event.
    let quiet = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    read.assert_async().await;
    untracked.assert_async().await;
}

#[tokio::test]
async fn a_crm_can_track_messages_after_a_restart() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let read = api(&mut server, "GET", &messages_path(OTHER_CHAT))
        .match_query(Matcher::Any)
        .with_body(
            json!({"messages": [{"id": "old-out", "author_id": USER, "direction": "out",
                "type": "image", "read": 1_717_000_999}]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server)
        .read_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    avito.track_read(&OTHER_CHAT.into(), &"old-out".into());
    let mut stream = avito.updates_and_read_statuses();
    // The message half polls chats too: answer it with none.
    server
        .mock("GET", account_path("v2", "chats").as_str())
        .match_query(Matcher::Any)
        .with_body(r#"{"chats":[]}"#)
        .create_async()
        .await;
    let InboundEvent::Status(status) = next(&mut stream).await else {
        panic!()
    };
    assert_eq!(status.message_id.as_str(), "old-out");
    read.assert_async().await;
}

#[tokio::test]
async fn an_unauthorized_poll_ends_the_stream_with_the_error() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/token")
        .with_status(400)
        .with_body(r#"{"error":"invalid_client"}"#)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let mut stream = avito.updates().unwrap();
    let err = within(stream.next()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), messenger_core::ErrorKind::Unauthorized);
    assert!(within(stream.next()).await.is_none());
}
