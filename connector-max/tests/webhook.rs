//! Webhook deliveries (size, secret, parsing, the 200 to everything verified) and the
//! subscription endpoints.

mod common;

use common::*;
use connector_max::SECRET_HEADER;
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{ContactChange, Content, ErrorKind, InboundEvent, Messenger};
use mockito::Matcher;
use serde_json::json;

const SECRET: &str = "Hook_Secret-123";

fn delivery(body: impl Into<bytes::Bytes>) -> WebhookRequest {
    WebhookRequest::post(body).header(SECRET_HEADER, SECRET)
}

#[tokio::test]
async fn a_verified_message_is_parsed_and_acknowledged() {
    let server = mockito::Server::new_async().await;
    let max = config(&server).webhook_secret(SECRET).build().unwrap();
    let outcome = max
        .handle_webhook(&delivery(text_update("mid.w1", "Здравствуйте").to_string()))
        .await
        .unwrap();
    assert_eq!(outcome.response, WebhookResponse::ok());
    let [InboundEvent::Message(m)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(m.chat_id.as_str(), "182182182");
    assert_eq!(m.message_id.as_str(), "mid.w1");
    assert_eq!(
        m.content,
        Content::Text {
            text: "Здравствуйте".into()
        }
    );
    assert_eq!(m.timestamp.timestamp_millis(), 1775025603399);
    assert!(!m.edited);
}

#[tokio::test]
async fn a_missing_or_wrong_secret_is_refused_before_parsing() {
    let server = mockito::Server::new_async().await;
    let max = config(&server).webhook_secret(SECRET).build().unwrap();
    let body = text_update("mid.w2", "x").to_string();
    let missing = WebhookRequest::post(body.clone());
    let wrong = WebhookRequest::post(body.clone()).header(SECRET_HEADER, "Hook_Secret-124");
    let case = WebhookRequest::post(body.clone()).header(SECRET_HEADER, "hook_secret-123");
    for request in [missing, wrong, case] {
        let err = max.handle_webhook(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected);
        assert_eq!(WebhookResponse::for_error(&err).status, 401);
    }
    // The header's name is matched case-insensitively.
    let lower = WebhookRequest::post(body).header("x-max-bot-api-secret", SECRET);
    assert!(max.handle_webhook(&lower).await.is_ok());
}

#[tokio::test]
async fn without_a_configured_secret_every_delivery_is_refused() {
    let server = mockito::Server::new_async().await;
    let err = bot(&server)
        .handle_webhook(&delivery(text_update("mid.w3", "x").to_string()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_verification() {
    let server = mockito::Server::new_async().await;
    let max = config(&server)
        .webhook_secret(SECRET)
        .max_webhook_body(1024)
        .build()
        .unwrap();
    // Unverified and oversized: the size is checked first.
    let err = max
        .handle_webhook(&WebhookRequest::post(vec![b' '; 2048]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(WebhookResponse::for_error(&err).status, 413);
}

#[tokio::test]
async fn malformed_and_unknown_bodies_are_acknowledged_as_other() {
    let server = mockito::Server::new_async().await;
    let max = config(&server).webhook_secret(SECRET).build().unwrap();
    let cases = [
        (&b"{not json"[..], "malformed_update", None),
        (b"", "malformed_update", None),
        (b"[]", "", None),
        (br#"{"update_type":"comment_created","timestamp":1,"chat_id":-70801090403050}"#, "comment_created", Some("-70801090403050")),
        (br#"{"update_type":"message_created","timestamp":"x","message":{"recipient":{"chat_id":5}}}"#, "malformed_update", Some("5")),
        (br#"{"timestamp":1784114462472,"user_locale":"ru","update_type":"message_created"}"#, "message_unavailable", None),
        (br#"{"timestamp":1,"update_type":"message_created","chat_id":182182182}"#, "message_unavailable", Some("182182182")),
    ];
    for (body, kind, chat) in cases {
        let outcome = max.handle_webhook(&delivery(body.to_vec())).await.unwrap();
        assert_eq!(
            outcome.response.status,
            200,
            "{}",
            String::from_utf8_lossy(body)
        );
        if kind.is_empty() {
            assert!(outcome.events.is_empty());
            continue;
        }
        let [InboundEvent::Other(o)] = outcome.events.as_slice() else {
            panic!("{:?}", outcome.events)
        };
        assert_eq!(o.kind, kind);
        assert_eq!(o.chat_id.as_ref().map(|c| c.as_str()), chat);
    }
}

#[tokio::test]
async fn start_and_stop_are_contact_changes() {
    let server = mockito::Server::new_async().await;
    let max = config(&server).webhook_secret(SECRET).build().unwrap();
    let user = json!({"user_id": 123456789, "first_name": "John", "is_bot": false});
    let started = json!({"update_type": "bot_started", "timestamp": 1775025604499_i64, "chat_id": 182182182,
                         "user": user, "payload": "promo-42", "user_locale": "ru"});
    let stopped = json!({"update_type": "bot_stopped", "timestamp": 1775025605499_i64, "chat_id": 182182182, "user": user});
    for (body, change) in [
        (started, ContactChange::Unblocked),
        (stopped, ContactChange::Blocked),
    ] {
        let outcome = max
            .handle_webhook(&delivery(body.to_string()))
            .await
            .unwrap();
        let [InboundEvent::Contact(c)] = outcome.events.as_slice() else {
            panic!("{:?}", outcome.events)
        };
        assert_eq!(c.change, change);
        assert_eq!(c.chat_id.as_str(), "182182182");
        assert_eq!(c.user_id.as_str(), "123456789");
    }
}

#[tokio::test]
async fn subscribe_sends_the_url_types_and_configured_secret() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", "/subscriptions")
        .with_body_from_request(capture.answer(success(true)))
        .create_async()
        .await;
    let max = config(&server).webhook_secret(SECRET).build().unwrap();
    max.subscribe(
        "https://crm.example.org/webhooks/max/1",
        Some(&["message_created", "bot_started", "bot_stopped"]),
    )
    .await
    .unwrap();
    let seen = capture.only();
    assert_eq!(seen.path_and_query, "/subscriptions");
    assert_authorized(&seen);
    assert_eq!(
        seen.json(),
        json!({"url": "https://crm.example.org/webhooks/max/1",
               "update_types": ["message_created", "bot_started", "bot_stopped"],
               "secret": SECRET})
    );
    max.subscribe("https://crm.example.org/webhooks/max/1", None)
        .await
        .unwrap();
    assert_eq!(
        capture.all()[1].json(),
        json!({"url": "https://crm.example.org/webhooks/max/1", "secret": SECRET})
    );
}

#[tokio::test]
async fn subscribe_without_a_valid_secret_fails_before_any_request() {
    let server = mockito::Server::new_async().await;
    let err = bot(&server)
        .subscribe("https://crm.example.org/hook", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    for secret in ["abc", "has space!", &"x".repeat(257)] {
        let max = config(&server).webhook_secret(secret).build().unwrap();
        let err = max
            .subscribe("https://crm.example.org/hook", None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains(secret));
    }
}

#[tokio::test]
async fn list_and_unsubscribe() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("GET", "/subscriptions")
        .with_body_from_request(capture.answer(
            json!({"subscriptions": [{"url": "https://crm.example.org/hook", "time": 1775025604499_i64,
                    "update_types": null, "version": "0.0.33"}]})
            .to_string(),
        ))
        .create_async()
        .await;
    server
        .mock("DELETE", "/subscriptions")
        .match_query(Matcher::Any)
        .with_body_from_request(capture.answer(success(true)))
        .create_async()
        .await;
    let max = bot(&server);
    let subscriptions = max.subscriptions().await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].url, "https://crm.example.org/hook");
    assert_eq!(subscriptions[0].update_types, None);
    max.unsubscribe("https://crm.example.org/hook?account=1")
        .await
        .unwrap();
    let calls = capture.all();
    assert_eq!(calls[0].path_and_query, "/subscriptions");
    assert_authorized(&calls[0]);
    assert_eq!(calls[1].method, "DELETE");
    assert_eq!(calls[1].path(), "/subscriptions");
    assert_eq!(
        calls[1].query(),
        [(
            "url".to_owned(),
            "https://crm.example.org/hook?account=1".to_owned()
        )]
    );
    assert_authorized(&calls[1]);
}
