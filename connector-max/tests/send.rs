//! Exact wire shapes of connect, sends, replies, edits and deletes, and the errors MAX answers.

mod common;

use common::*;
use connector_max::TextFormat;
use messenger_core::{Delivery, ErrorKind, Messenger, OutgoingMessage, RateScope};
use serde_json::json;

#[tokio::test]
async fn connect_is_get_me_with_the_raw_token() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    // `BotInfo` (max.md §3), with a field this version does not know.
    let body = json!({"user_id": 123123123, "first_name": "unit bot", "username": "test-bot",
        "is_bot": true, "last_activity_time": 1774677196913_i64, "description": "bot for testing",
        "commands": [{"name": "start"}], "is_official": null})
    .to_string();
    server
        .mock("GET", "/me")
        .with_body_from_request(capture.answer(body))
        .create_async()
        .await;
    let me = bot(&server).connect().await.unwrap();
    let seen = capture.only();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path_and_query, "/me");
    assert_authorized(&seen);
    assert!(seen.body.is_empty());
    assert_eq!(me.id.as_str(), "123123123");
    assert_eq!(me.name.as_deref(), Some("unit bot"));
    assert_eq!(me.username.as_deref(), Some("test-bot"));
}

#[tokio::test]
async fn a_base_url_with_a_prefix_keeps_it() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/max/me")
        .match_header("authorization", TOKEN)
        .with_body(r#"{"user_id":1,"first_name":"b","is_bot":true}"#)
        .create_async()
        .await;
    let max = connector_max::MaxConfig::new(TOKEN)
        .base_url(format!("{}/max/", server.url()))
        .build()
        .unwrap();
    max.connect().await.unwrap();
    m.assert_async().await;
}

#[tokio::test]
async fn text_goes_to_a_chat_with_exactly_its_text() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(sent(
            "mid.000000000adf429c019d47d58f2b3d9e",
            182182182,
            1775026671403,
        )))
        .create_async()
        .await;
    let report = bot(&server)
        .send(&OutgoingMessage::text("182182182", "Ваш заказ готов"))
        .await
        .unwrap();
    let seen = capture.only();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path(), "/messages");
    assert_eq!(
        seen.query(),
        [("chat_id".to_owned(), "182182182".to_owned())]
    );
    assert_authorized(&seen);
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    // Formatting off: no `format`, no `notify`, nothing but the text.
    assert_eq!(seen.json(), json!({"text": "Ваш заказ готов"}));
    assert_eq!(report.parts.len(), 1);
    assert_eq!(
        report.parts[0].message_id.as_str(),
        "mid.000000000adf429c019d47d58f2b3d9e"
    );
    assert_eq!(report.parts[0].timestamp.timestamp_millis(), 1775026671403);
    assert!(report.downgrades.is_empty());
}

#[tokio::test]
async fn a_user_id_chat_goes_by_user_id_and_a_reply_carries_its_link() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(sent("mid.2", 182182182, 1775026671403)))
        .create_async()
        .await;
    bot(&server)
        .send(
            &OutgoingMessage::text("user:123456789", "ok")
                .reply_to("mid.000000000adf429c019d47b1ce4600ff#1"),
        )
        .await
        .unwrap();
    let seen = capture.only();
    assert_eq!(
        seen.query(),
        [("user_id".to_owned(), "123456789".to_owned())]
    );
    assert_eq!(
        seen.json(),
        json!({"text": "ok", "link": {"type": "reply", "mid": "mid.000000000adf429c019d47b1ce4600ff"}})
    );
}

#[tokio::test]
async fn format_and_notify_are_sent_only_when_configured() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(sent("mid.3", -70801090403050, 1)))
        .create_async()
        .await;
    let max = config(&server)
        .format(TextFormat::Markdown)
        .notify(false)
        .build()
        .unwrap();
    max.send(&OutgoingMessage::text("-70801090403050", "**важно**"))
        .await
        .unwrap();
    let seen = capture.only();
    assert_eq!(
        seen.query(),
        [("chat_id".to_owned(), "-70801090403050".to_owned())]
    );
    assert_eq!(
        seen.json(),
        json!({"text": "**важно**", "notify": false, "format": "markdown"})
    );
}

#[tokio::test]
async fn text_over_4000_characters_goes_in_parts() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(sent("mid.4", 5, 1)))
        .expect(2)
        .create_async()
        .await;
    let text = "Слово ".repeat(1000); // 6000 characters
    let report = bot(&server)
        .send(&OutgoingMessage::text("5", text.clone()).reply_to("mid.q"))
        .await
        .unwrap();
    let bodies: Vec<_> = capture.all().iter().map(|s| s.json()).collect();
    assert_eq!(bodies.len(), 2);
    let joined: String = bodies
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(joined.split_whitespace().count(), 1000);
    for b in &bodies {
        assert!(b["text"].as_str().unwrap().chars().count() <= 4000);
    }
    // The reply goes on the first part only.
    assert_eq!(bodies[0]["link"]["mid"], "mid.q");
    assert!(bodies[1].get("link").is_none());
    assert_eq!(report.downgrades.len(), 1);
}

#[tokio::test]
async fn a_malformed_chat_id_fails_before_any_request() {
    let server = mockito::Server::new_async().await;
    for chat in ["@someone", "0", "user:abc", ""] {
        let err = bot(&server)
            .send(&OutgoingMessage::text(chat, "hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{chat}");
    }
}

#[tokio::test]
async fn edit_is_put_with_the_text_and_null_attachments() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("PUT", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(success(true)))
        .create_async()
        .await;
    let max = bot(&server);
    max.edit_text(&"182182182".into(), &"mid.5#2".into(), "Исправлено")
        .await
        .unwrap();
    let seen = capture.only();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.path(), "/messages");
    assert_eq!(
        seen.query(),
        [("message_id".to_owned(), "mid.5".to_owned())]
    );
    assert_authorized(&seen);
    assert_eq!(
        seen.json(),
        json!({"text": "Исправлено", "attachments": null})
    );

    // Checked before any request.
    let empty = max
        .edit_text(&"1".into(), &"mid.5".into(), " ")
        .await
        .unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidInput);
    let long = max
        .edit_text(&"1".into(), &"mid.5".into(), &"я".repeat(4001))
        .await
        .unwrap_err();
    assert_eq!(long.kind(), ErrorKind::TooLarge);
    assert_eq!(capture.all().len(), 1);
}

#[tokio::test]
async fn success_false_is_an_error() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("PUT", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body(r#"{"success":false,"message":"message is too old"}"#)
        .create_async()
        .await;
    let err = bot(&server)
        .edit_text(&"1".into(), &"mid.6".into(), "x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Platform);
    assert_eq!(err.platform_code(), Some("success_false"));
    assert!(err.message().contains("too old"));
}

#[tokio::test]
async fn delete_is_delete_with_the_message_id() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("DELETE", "/messages")
        .match_query(mockito::Matcher::Any)
        .with_body_from_request(capture.answer(success(true)))
        .create_async()
        .await;
    bot(&server)
        .delete_message(&"182182182".into(), &"mid.7".into())
        .await
        .unwrap();
    let seen = capture.only();
    assert_eq!(seen.method, "DELETE");
    assert_eq!(
        seen.query(),
        [("message_id".to_owned(), "mid.7".to_owned())]
    );
    assert_authorized(&seen);
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn refusals_map_to_their_kinds() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/me")
        .with_status(401)
        .with_body(api_error("verify.token", "Invalid access_token"))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::UrlEncoded("chat_id".into(), "1".into()))
        .with_status(403)
        .with_body(api_error(
            "chat.denied",
            "Key: error.dialog.suspended, args: [98423496,].",
        ))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::UrlEncoded("chat_id".into(), "2".into()))
        .with_status(500)
        .with_body(api_error("internal.error", "oops"))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::UrlEncoded("chat_id".into(), "3".into()))
        .with_status(429)
        .with_header("retry-after", "2")
        .with_body("Too Many Requests")
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::UrlEncoded("chat_id".into(), "4".into()))
        .with_status(502)
        .with_body("<html>Bad Gateway</html>")
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(mockito::Matcher::UrlEncoded("chat_id".into(), "5".into()))
        .with_body("{\"message\":{}}")
        .create_async()
        .await;
    let max = bot(&server);

    let err = max.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.delivery(), Delivery::NotSent);

    let send = |chat: &'static str| {
        let max = max.clone();
        async move {
            max.send(&OutgoingMessage::text(chat, "hi"))
                .await
                .unwrap_err()
        }
    };
    let blocked = send("1").await;
    assert_eq!(blocked.kind(), ErrorKind::RecipientBlocked);
    assert!(!blocked.to_string().contains("98423496"));

    let server_error = send("2").await;
    assert_eq!(server_error.kind(), ErrorKind::Transport);
    assert_eq!(server_error.delivery(), Delivery::MaybeSent);
    assert!(server_error.is_retryable());

    let limited = send("3").await;
    assert_eq!(limited.kind(), ErrorKind::RateLimited);
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(limited.rate_scope(), RateScope::Account);

    let proxy = send("4").await;
    assert_eq!(
        (proxy.kind(), proxy.delivery()),
        (ErrorKind::Transport, Delivery::MaybeSent)
    );

    let unreadable = send("5").await;
    assert_eq!(unreadable.kind(), ErrorKind::Decode);
    assert_eq!(unreadable.delivery(), Delivery::MaybeSent);
}
