//! Webhook verification and parsing, and the setWebhook / deleteWebhook / getWebhookInfo calls.

mod common;

use common::{bot, config, ok, path};
use connector_telegram::SECRET_HEADER;
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{ErrorKind, InboundEvent, Messenger};
use mockito::Matcher;
use serde_json::json;

const UPDATE: &str = r#"{"update_id":812345678,"message":{"message_id":42,
  "from":{"id":123456789,"is_bot":false,"first_name":"Ivan","username":"ivan","language_code":"ru"},
  "chat":{"id":123456789,"type":"private","first_name":"Ivan","username":"ivan"},
  "date":1767225600,"text":"hello /start",
  "entities":[{"offset":6,"length":6,"type":"bot_command"}]}}"#;

const SECRET: &str = "Sup3r_secret-token";

#[tokio::test]
async fn valid_secret_parses_and_answers_200_empty() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let outcome = bot
        .handle_webhook(&WebhookRequest::post(UPDATE).header(SECRET_HEADER, SECRET))
        .await
        .unwrap();
    assert_eq!(outcome.response, WebhookResponse::ok());
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.response.body.is_empty());
    assert_eq!(outcome.events.len(), 1);
    let InboundEvent::Message(m) = &outcome.events[0] else {
        panic!("not a message")
    };
    assert_eq!(m.chat_id.as_str(), "123456789");
    assert_eq!(m.message_id.as_str(), "42");
    assert_eq!(m.content.text(), Some("hello /start"));
    // Header names are case-insensitive.
    let outcome = bot
        .handle_webhook(
            &WebhookRequest::post(UPDATE).header("x-telegram-bot-api-secret-token", SECRET),
        )
        .await
        .unwrap();
    assert_eq!(outcome.events.len(), 1);
}

#[tokio::test]
async fn wrong_secret_is_rejected() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let err = bot
        .handle_webhook(&WebhookRequest::post(UPDATE).header(SECRET_HEADER, "Sup3r_secret-tokeN"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    assert_eq!(WebhookResponse::for_error(&err).status, 401);
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn missing_secret_header_is_rejected() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let err = bot
        .handle_webhook(&WebhookRequest::post(UPDATE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn unconfigured_secret_fails_closed() {
    let server = mockito::Server::new_async().await;
    let bot = bot(&server);
    for request in [
        WebhookRequest::post(UPDATE),
        WebhookRequest::post(UPDATE).header(SECRET_HEADER, ""),
        WebhookRequest::post(UPDATE).header(SECRET_HEADER, SECRET),
    ] {
        let err = bot.handle_webhook(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    }
}

#[tokio::test]
async fn verified_but_malformed_body_is_decode() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    for body in [
        &b"{\"update_id\":"[..],
        b"[]",
        b"{\"message\":{}}",
        b"\xff\xfe",
    ] {
        let err = bot
            .handle_webhook(&WebhookRequest::post(body.to_vec()).header(SECRET_HEADER, SECRET))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(WebhookResponse::for_error(&err).status, 400);
    }
}

#[tokio::test]
async fn set_webhook_sends_every_setting() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("setWebhook").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "url": "https://crm.example.com/hooks/telegram",
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "my_chat_member"],
            "drop_pending_updates": true
        })))
        .with_body(ok(json!(true)))
        .create_async()
        .await;
    bot(&server)
        .set_webhook(
            "https://crm.example.com/hooks/telegram",
            Some(SECRET),
            Some(&["message", "edited_message", "my_chat_member"]),
            true,
        )
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn set_webhook_minimal_and_invalid_secret() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("setWebhook").as_str())
        .match_body(Matcher::Json(json!({
            "url": "https://crm.example.com/h",
            "drop_pending_updates": false
        })))
        .with_body(ok(json!(true)))
        .expect(1)
        .create_async()
        .await;
    let bot = bot(&server);
    bot.set_webhook("https://crm.example.com/h", None, None, false)
        .await
        .unwrap();
    for bad in ["", "has space", "semi;colon", &"x".repeat(257)] {
        let err = bot
            .set_webhook("https://crm.example.com/h", Some(bad), None, false)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    mock.assert_async().await;
}

#[tokio::test]
async fn delete_webhook_and_webhook_info() {
    let mut server = mockito::Server::new_async().await;
    let delete = server
        .mock("POST", path("deleteWebhook").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({"drop_pending_updates": false})))
        .with_body(ok(json!(true)))
        .create_async()
        .await;
    let info = server
        .mock("POST", path("getWebhookInfo").as_str())
        .match_body(Matcher::Json(json!({})))
        .with_body(ok(json!({
            "url": "https://crm.example.com/hooks/s3cr3t-path",
            "has_custom_certificate": false,
            "pending_update_count": 3,
            "last_error_date": 1767225600,
            "last_error_message": "Connection timed out",
            "max_connections": 40,
            "allowed_updates": ["message"],
            "ip_address": "203.0.113.7"
        })))
        .create_async()
        .await;
    let bot = bot(&server);
    bot.delete_webhook(false).await.unwrap();
    let got = bot.webhook_info().await.unwrap();
    delete.assert_async().await;
    info.assert_async().await;
    assert_eq!(got.url, "https://crm.example.com/hooks/s3cr3t-path");
    assert_eq!(got.pending_update_count, 3);
    assert_eq!(
        got.last_error_message.as_deref(),
        Some("Connection timed out")
    );
    assert_eq!(got.max_connections, Some(40));
    assert_eq!(got.allowed_updates, Some(vec!["message".to_owned()]));
    // The URL can carry a secret path: Debug shows only the host.
    let shown = format!("{got:?}");
    assert!(
        shown.contains("crm.example.com") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}

#[tokio::test]
async fn verified_update_of_an_unexpected_shape_is_acknowledged_as_malformed() {
    // `message_id` is a string: the update cannot be read, but it has an id. Long polling skips
    // such an update as `malformed_update`; a webhook must too, or Telegram re-sends it.
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let body = r#"{"update_id":812345679,"message":{"message_id":"x","date":1,
        "chat":{"id":5,"type":"private"},"text":"secret words"}}"#;
    let outcome = bot
        .handle_webhook(&WebhookRequest::post(body).header(SECRET_HEADER, SECRET))
        .await
        .unwrap();
    assert_eq!(outcome.response, WebhookResponse::ok());
    assert_eq!(
        serde_json::to_value(&outcome.events).unwrap(),
        json!([{"type": "other", "platform": "telegram", "kind": "malformed_update"}])
    );
    // An out-of-range date is the same case.
    let body = r#"{"update_id":812345680,"message":{"message_id":1,"date":9223372036854775807,
        "chat":{"id":5,"type":"private"},"text":"x"}}"#;
    let outcome = bot
        .handle_webhook(&WebhookRequest::post(body).header(SECRET_HEADER, SECRET))
        .await
        .unwrap();
    assert_eq!(outcome.events.len(), 1);
    assert!(matches!(outcome.events[0], InboundEvent::Other(_)));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_verification_or_parsing() {
    let server = mockito::Server::new_async().await;
    // The default: 1 MiB. A padded but valid update one byte over it is refused; at the limit
    // it is read.
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let limit = connector_telegram::DEFAULT_MAX_WEBHOOK_BODY;
    assert_eq!(limit, 1 << 20);
    let padded = |len: usize| {
        let mut body = UPDATE.as_bytes().to_vec();
        body.resize(len, b' ');
        body
    };
    let outcome = bot
        .handle_webhook(&WebhookRequest::post(padded(limit)).header(SECRET_HEADER, SECRET))
        .await
        .unwrap();
    assert_eq!(outcome.events.len(), 1);
    let err = bot
        .handle_webhook(&WebhookRequest::post(padded(limit + 1)).header(SECRET_HEADER, SECRET))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(WebhookResponse::for_error(&err).status, 413);
    // The size is checked first: an oversized body without the secret, or that is not JSON at
    // all, is refused for its size, not for its secret or its shape.
    let bot = config(&server)
        .webhook_secret(SECRET)
        .max_webhook_body(64)
        .build()
        .unwrap();
    for request in [
        WebhookRequest::post(vec![b'x'; 65]).header(SECRET_HEADER, SECRET),
        WebhookRequest::post(vec![b'{'; 65]),
    ] {
        let err = bot.handle_webhook(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert_eq!(WebhookResponse::for_error(&err).status, 413);
    }
    // Within the configured limit, a wrong secret is still a wrong secret.
    let err = bot
        .handle_webhook(&WebhookRequest::post(vec![b'x'; 64]).header(SECRET_HEADER, "nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn service_events_from_a_webhook_carry_their_chat() {
    let server = mockito::Server::new_async().await;
    let bot = config(&server).webhook_secret(SECRET).build().unwrap();
    let body = r#"{"update_id":812345690,"callback_query":{"id":"666","from":{"id":123456789,
        "is_bot":false,"first_name":"Ivan"},"chat_instance":"1","data":"yes",
        "message":{"message_id":42,"date":1767225600,"chat":{"id":123456789,"type":"private"},
        "text":"Confirm?"}}}"#;
    let outcome = bot
        .handle_webhook(&WebhookRequest::post(body).header(SECRET_HEADER, SECRET))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&outcome.events).unwrap(),
        json!([{"type": "other", "platform": "telegram", "kind": "callback_query",
                "chat_id": "123456789"}])
    );
}
