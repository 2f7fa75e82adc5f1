//! Webhook v3: the URL token checked before the body is read, the size cap, the answer, what
//! each message becomes, and the subscription calls.

mod common;

use common::*;
use connector_avito::AvitoConfig;
use connector_avito::convert::{MALFORMED_EVENT, OWN_MESSAGE};
use connector_avito::webhook::{TOKEN_HEADER, TOKEN_PARAM};
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{Content, ErrorKind, InboundEvent, Messenger};
use mockito::Matcher;
use serde_json::{Value, json};

const WEBHOOK_TOKEN: &str = "Wh-Token_8c41f0d2-unguessable";

fn avito() -> connector_avito::Avito {
    AvitoConfig::new(CLIENT_ID, CLIENT_SECRET)
        .base_url("http://127.0.0.1:9")
        .user_id(USER)
        .webhook_token(WEBHOOK_TOKEN)
        .max_webhook_body(4096)
        .build()
        .unwrap()
}

fn with_token(body: impl Into<bytes::Bytes>, token: &str) -> WebhookRequest {
    let mut request = WebhookRequest::post(body);
    request.query = Some(format!("account=shop-1&{TOKEN_PARAM}={token}"));
    request
}

async fn events(body: String) -> Vec<InboundEvent> {
    let outcome = within(avito().handle_webhook(&with_token(body, WEBHOOK_TOKEN)))
        .await
        .unwrap();
    assert_eq!(outcome.response.status, 200);
    outcome.events
}

async fn one(value: Value) -> InboundEvent {
    let mut events = events(delivery(value)).await;
    assert_eq!(events.len(), 1);
    events.remove(0)
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let avito = avito();
    let malformed = "{not json at all";
    // Missing.
    let err = within(avito.handle_webhook(&WebhookRequest::post(malformed)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    assert_eq!(WebhookResponse::for_error(&err).status, 401);
    // Wrong (one character, and a prefix): a 401, not a decode error.
    for wrong in [
        &WEBHOOK_TOKEN[..WEBHOOK_TOKEN.len() - 1],
        "Wh-Token_8c41f0d2-unguessablE",
    ] {
        let err = within(avito.handle_webhook(&with_token(malformed, wrong)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{err}");
        assert!(!err.to_string().contains(WEBHOOK_TOKEN));
    }
    // Wrong in the header too.
    let err =
        within(avito.handle_webhook(&WebhookRequest::post(malformed).header(TOKEN_HEADER, "nope")))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    // Right: a malformed body is then an `other` event, answered 200.
    let ok = within(avito.handle_webhook(&with_token(malformed, WEBHOOK_TOKEN)))
        .await
        .unwrap();
    assert_eq!(ok.response.status, 200);
    assert!(matches!(&ok.events[0], InboundEvent::Other(o) if o.kind == MALFORMED_EVENT));
    // Right, presented by the server as a header (the token was in the URL path).
    let body = delivery(customer_message("m1", "text", json!({"text": "hi"})));
    let ok = within(
        avito.handle_webhook(&WebhookRequest::post(body).header(TOKEN_HEADER, WEBHOOK_TOKEN)),
    )
    .await
    .unwrap();
    assert_eq!(ok.events.len(), 1);
}

#[tokio::test]
async fn without_a_configured_token_every_delivery_is_refused() {
    let avito = AvitoConfig::new(CLIENT_ID, CLIENT_SECRET).build().unwrap();
    let body = delivery(customer_message("m1", "text", json!({"text": "hi"})));
    let err = within(avito.handle_webhook(&with_token(body, "")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    let err = within(avito().handle_webhook(&WebhookRequest::post(big)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(WebhookResponse::for_error(&err).status, 413);
}

#[tokio::test]
async fn the_answer_is_200_ok_json() {
    let outcome = within(avito().handle_webhook(&with_token(
        delivery(customer_message("m1", "text", json!({"text": "hi"}))),
        WEBHOOK_TOKEN,
    )))
    .await
    .unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.response.content_type, Some("application/json"));
    assert_eq!(&outcome.response.body[..], br#"{"ok":true}"#);
    let get = {
        let mut r = with_token("", WEBHOOK_TOKEN);
        r.method = "GET".into();
        r
    };
    assert!(within(avito().handle_webhook(&get)).await.is_err());
}

#[tokio::test]
async fn a_text_message_from_the_sheet() {
    let event = one(customer_message(
        "3e798a9bf88345ae8fe85ff891266b24",
        "text",
        json!({"text": "Здравствуйте, ещё продаётся?"}),
    ))
    .await;
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json,
        json!({"type": "message", "platform": "avito", "chat_id": CHAT,
            "message_id": "3e798a9bf88345ae8fe85ff891266b24",
            "sender": {"id": "51234567", "name": null},
            "timestamp": "2024-05-29T16:26:40Z", "reply_to": null, "edited": false,
            "content": {"kind": "text", "text": "Здравствуйте, ещё продаётся?"}})
    );
}

#[tokio::test]
async fn the_largest_image_size_becomes_the_media() {
    let event = one(customer_message(
        "m-img",
        "image",
        json!({"image": {"sizes": {
            "140x105": "https://img.k.avito.ru/chat/140x105/5083651369.3e79.jpg",
            "1280x960": "https://img.k.avito.ru/chat/1280x960/5083651369.3e79.jpg",
            "640x480": "https://img.k.avito.ru/chat/640x480/5083651369.3e79.jpg",
            "32x32": "https://img.k.avito.ru/chat/32x32/5083651369.3e79.jpg"}}}),
    ))
    .await;
    let InboundEvent::Message(m) = event else {
        panic!()
    };
    let Content::Image { media, caption } = m.content else {
        panic!()
    };
    assert_eq!(
        media.id.as_str(),
        "https://img.k.avito.ru/chat/1280x960/5083651369.3e79.jpg"
    );
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert!(caption.is_none());
}

#[tokio::test]
async fn a_voice_note_keeps_its_id_for_download_time() {
    let event = one(customer_message(
        "m-v",
        "voice",
        json!({"voice": {"voice_id": "b1c2d3e4"}}),
    ))
    .await;
    let InboundEvent::Message(m) = event else {
        panic!()
    };
    let Content::Voice { media, .. } = m.content else {
        panic!()
    };
    assert_eq!(media.id.as_str(), "voice:b1c2d3e4");
    assert_eq!(media.mime_type.as_deref(), Some("audio/mp4"));
}

#[tokio::test]
async fn files_videos_calls_and_items_are_unsupported_content_never_errors() {
    for kind in ["file", "video", "appCall", "call", "item"] {
        let event = one(customer_message("m-x", kind, json!({}))).await;
        let InboundEvent::Message(m) = event else {
            panic!("{kind}")
        };
        assert!(
            matches!(&m.content, Content::Unsupported { platform_kind } if platform_kind == kind),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn links_and_locations() {
    let InboundEvent::Message(m) = one(customer_message(
        "m-l",
        "link",
        json!({"link": {"text": "смотрите habr.com", "url": "https://habr.com/"}}),
    ))
    .await
    else {
        panic!()
    };
    assert!(matches!(m.content, Content::Text { text } if text == "смотрите habr.com"));
    let InboundEvent::Message(m) = one(customer_message(
        "m-g",
        "location",
        json!({"location": {"lat": 55.599799, "lon": 37.603954, "kind": "street",
            "text": "Москва, Варшавское шоссе", "title": "Варшавское шоссе"}}),
    ))
    .await
    else {
        panic!()
    };
    assert!(
        matches!(m.content, Content::Location { latitude, .. } if (latitude - 55.599799).abs() < 1e-9)
    );
}

#[tokio::test]
async fn own_messages_unknown_types_system_and_deleted_are_other_with_the_chat() {
    let mut own = customer_message("m-own", "text", json!({"text": "наш ответ"}));
    own["author_id"] = json!(USER);
    for (value, kind) in [
        (own, OWN_MESSAGE),
        (
            customer_message("m-u", "sticker_v9", json!({})),
            "sticker_v9",
        ),
        (
            customer_message(
                "m-s",
                "system",
                json!({"flow_id": "seller_audience_discount"}),
            ),
            "system",
        ),
        (customer_message("m-d", "deleted", json!({})), "deleted"),
    ] {
        let InboundEvent::Other(other) = one(value).await else {
            panic!("{kind}")
        };
        assert_eq!(other.kind, kind);
        assert_eq!(other.chat_id.unwrap().as_str(), CHAT);
    }
    // An unknown payload type.
    let body = json!({"id": "x", "version": "v3.0.0", "timestamp": 1, "payload":
        {"type": "typing", "value": {"chat_id": CHAT}}})
    .to_string();
    let events = events(body).await;
    assert!(
        matches!(&events[0], InboundEvent::Other(o) if o.kind == "typing" && o.chat_id.as_ref().unwrap().as_str() == CHAT)
    );
}

#[tokio::test]
async fn a_redelivery_has_the_same_dedup_key() {
    let value = customer_message(
        "3e798a9bf88345ae8fe85ff891266b24",
        "text",
        json!({"text": "x"}),
    );
    let first = one(value.clone()).await;
    let mut again: Value = serde_json::from_str(&delivery(value)).unwrap();
    again["id"] = json!("another-envelope-id");
    again["timestamp"] = json!(1_717_000_999);
    let second = events(again.to_string()).await.remove(0);
    assert!(first.dedup_key().is_some());
    assert_eq!(first.dedup_key(), second.dedup_key());
}

#[test]
fn parse_is_the_registry_parser_and_tolerates_bare_values_and_arrays() {
    let value = customer_message("m1", "text", json!({"text": "hi"}));
    let bare = connector_avito::parse(value.to_string().as_bytes()).unwrap();
    let array =
        (connector_avito::ENTRY.parse)(format!("[{}]", delivery(value)).as_bytes()).unwrap();
    assert_eq!(bare, array);
    let err = connector_avito::parse(b"42").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(connector_avito::parse(b"{\"payload\":null}").is_ok());
}

#[tokio::test]
async fn subscribe_unsubscribe_and_list() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let avito = config(&server)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    let url = avito
        .webhook_url(&"https://crm.example/webhooks/avito/shop-1".parse().unwrap())
        .unwrap();
    let registered = format!("https://crm.example/webhooks/avito/shop-1?token={WEBHOOK_TOKEN}");
    assert_eq!(url.as_str(), registered);
    let subscribe = api(&mut server, "POST", "/messenger/v3/webhook")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Exact(json!({"url": registered}).to_string()))
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let unsubscribe = api(&mut server, "POST", "/messenger/v1/webhook/unsubscribe")
        .match_body(Matcher::Exact(json!({"url": registered}).to_string()))
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let list = api(&mut server, "POST", "/messenger/v1/subscriptions")
        .match_body(Matcher::Exact(String::new()))
        .with_body(json!({"subscriptions": [{"url": registered, "version": "3"}]}).to_string())
        .expect(1)
        .create_async()
        .await;
    within(avito.subscribe_webhook(&url)).await.unwrap();
    within(avito.unsubscribe_webhook(&url)).await.unwrap();
    let subscriptions = within(avito.webhook_subscriptions()).await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].url.expose().as_str(), registered);
    assert_eq!(subscriptions[0].version.as_deref(), Some("3"));
    assert!(!format!("{subscriptions:?}").contains(WEBHOOK_TOKEN));
    subscribe.assert_async().await;
    unsubscribe.assert_async().await;
    list.assert_async().await;
    // A URL without the token is refused before any request.
    let err = within(avito.subscribe_webhook(&"https://crm.example/hook".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // A token in the path is accepted.
    let in_path = format!("https://crm.example/webhooks/avito/{WEBHOOK_TOKEN}");
    let path_subscribe = api(&mut server, "POST", "/messenger/v3/webhook")
        .match_body(Matcher::Exact(json!({"url": in_path}).to_string()))
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    within(avito.subscribe_webhook(&in_path.parse().unwrap()))
        .await
        .unwrap();
    path_subscribe.assert_async().await;
}
