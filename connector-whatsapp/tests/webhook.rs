//! Webhook intake: the GET handshake, `X-Hub-Signature-256` over the raw bytes, and the parsing
//! of every item of a delivery into events.

mod common;

use common::*;
use connector_whatsapp::parse;
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{
    ContactChange, Content, DeliveryStatus, ErrorKind, InboundEvent, Messenger, Platform,
};
use serde_json::{Value, json};

fn wa() -> connector_whatsapp::WhatsApp {
    connector_whatsapp::WhatsApp::new(
        connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID)
            .app_secret(APP_SECRET)
            .verify_token(VERIFY_TOKEN)
            .base_url("http://127.0.0.1:9"),
    )
    .unwrap()
}

fn messages(msgs: Value) -> String {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}],
        "messages": msgs
    }))
}

fn one(body: &str) -> InboundEvent {
    let mut events = parse(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn content(body: &str) -> Content {
    match one(body) {
        InboundEvent::Message(m) => m.content,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn msg(kind: &str, object: Value) -> String {
    let mut m =
        json!({"from": CUSTOMER, "id": "wamid.M1", "timestamp": "1749416383", "type": kind});
    m[kind] = object;
    messages(json!([m]))
}

// --- GET handshake -----------------------------------------------------------------------------

#[tokio::test]
async fn handshake_echoes_the_challenge() {
    let req = WebhookRequest::get(format!(
        "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    ));
    let outcome = wa().handle_webhook(&req).await.unwrap();
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.response.status, 200);
    assert_eq!(&outcome.response.body[..], b"1158201444");
    assert_eq!(
        outcome.response.content_type,
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn handshake_with_a_bad_token_or_mode_is_rejected() {
    let wa = wa();
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_owned(),
        format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        format!("hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        "hub.mode=subscribe&hub.challenge=1".to_owned(),
        format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        String::new(),
    ] {
        let err = wa
            .handle_webhook(&WebhookRequest::get(query.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{query}");
        assert_eq!(WebhookResponse::for_error(&err).status, 401);
    }
}

#[tokio::test]
async fn handshake_tokens_are_compared_whole() {
    // A prefix, an extension, another case, an empty token: each is refused; the compare is
    // by digest, so a length mismatch takes the same path as a content mismatch.
    let wa = wa();
    for given in [
        &VERIFY_TOKEN[..VERIFY_TOKEN.len() - 1],
        &format!("{VERIFY_TOKEN}x"),
        &VERIFY_TOKEN.to_uppercase(),
        "",
        &format!("{VERIFY_TOKEN}%00"),
    ] {
        let req = WebhookRequest::get(format!(
            "hub.mode=subscribe&hub.verify_token={given}&hub.challenge=7"
        ));
        let err = wa.handle_webhook(&req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{given:?}");
    }
    let ok = WebhookRequest::get(format!(
        "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=7"
    ));
    assert_eq!(
        &wa.handle_webhook(&ok).await.unwrap().response.body[..],
        b"7"
    );
}

#[tokio::test]
async fn handshake_without_a_configured_token_is_rejected() {
    let wa =
        connector_whatsapp::WhatsApp::new(connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID))
            .unwrap();
    let err = wa
        .handle_webhook(&WebhookRequest::get(
            "hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

// --- signatures --------------------------------------------------------------------------------

#[tokio::test]
async fn valid_signature_is_accepted_and_answered_200_empty() {
    let body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "hello");
    let outcome = wa().handle_webhook(&signed(&body)).await.unwrap();
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.response.body.is_empty());
    assert_eq!(outcome.events.len(), 1);
}

#[tokio::test]
async fn wrong_missing_or_malformed_signature_is_rejected() {
    let body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "hello");
    let good = signed(&body);
    let sig = good.header_value("X-Hub-Signature-256").unwrap().to_owned();
    let cases = [
        signed_with(&body, "not-the-secret"),
        WebhookRequest::post(body.clone()),
        WebhookRequest::post(body.clone())
            .header("X-Hub-Signature-256", sig.trim_start_matches("sha256=")),
        WebhookRequest::post(body.clone())
            .header("X-Hub-Signature-256", sig.replace("sha256=", "sha1=")),
        WebhookRequest::post(body.clone()).header("X-Hub-Signature-256", "sha256=zz"),
        // The signature of another body.
        WebhookRequest::post(body.replace("hello", "hellO")).header("X-Hub-Signature-256", &sig),
    ];
    for req in cases {
        let err = wa().handle_webhook(&req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    }
}

#[tokio::test]
async fn re_serialised_json_with_the_old_signature_fails() {
    let body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "héllo ✓");
    let sig = signed(&body)
        .header_value("X-Hub-Signature-256")
        .unwrap()
        .to_owned();
    let value: Value = serde_json::from_str(&body).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    assert_ne!(pretty, body);
    let req = WebhookRequest::post(pretty).header("X-Hub-Signature-256", sig);
    let err = wa().handle_webhook(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn empty_body_and_empty_secret() {
    // An empty body, correctly signed, passes verification and is then a Decode error (400).
    let err = wa().handle_webhook(&signed("")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(WebhookResponse::for_error(&err).status, 400);

    // An empty or missing app secret fails closed, even for a body "signed" with it.
    for config in [
        connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID).app_secret(""),
        connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID),
    ] {
        let wa = connector_whatsapp::WhatsApp::new(config).unwrap();
        let body = inbound_text(CUSTOMER, "wamid.A", 1, "x");
        let err = wa
            .handle_webhook(&signed_with(&body, ""))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    }
}

#[tokio::test]
async fn other_methods_are_rejected() {
    let mut req = signed("{}");
    req.method = "PUT".into();
    let err = wa().handle_webhook(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

// --- size --------------------------------------------------------------------------------------

/// A delivery of exactly `len` bytes: one inbound text, padded with spaces (valid JSON).
fn delivery_of_len(len: usize) -> String {
    let mut body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "hello");
    assert!(body.len() <= len);
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_verification() {
    let wa = connector_whatsapp::WhatsApp::new(
        connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID)
            .app_secret(APP_SECRET)
            .max_webhook_body(1024),
    )
    .unwrap();
    // At the limit: read, verified and parsed.
    let at = delivery_of_len(1024);
    let outcome = wa.handle_webhook(&signed(&at)).await.unwrap();
    assert_eq!(outcome.events.len(), 1);
    // One byte over: refused as too large whether it is signed, unsigned or garbage, so the
    // size is checked before the signature (and the parser) read the body.
    let over = delivery_of_len(1025);
    for req in [
        signed(&over),
        WebhookRequest::post(over.clone()),
        WebhookRequest::post(vec![b'x'; 1025]),
    ] {
        let err = wa.handle_webhook(&req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert_eq!(err.platform(), Some(Platform::WhatsApp));
        assert_eq!(WebhookResponse::for_error(&err).status, 413);
    }
}

#[tokio::test]
async fn the_default_limit_is_3_mib_on_every_path() {
    assert_eq!(
        connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY,
        3 * 1024 * 1024
    );
    let limit = connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY;
    let at = delivery_of_len(limit);
    assert_eq!(parse(at.as_bytes()).unwrap().len(), 1);
    assert_eq!(
        wa().handle_webhook(&signed(&at))
            .await
            .unwrap()
            .events
            .len(),
        1
    );

    // The review's 20 MB delivery of empty items (10 M events before the limit): refused
    // whole by `parse`, `parse_for_number`, the routing peek and `handle_webhook`.
    let mut huge =
        String::from(r#"{"entry":[{"changes":[{"field":"messages","value":{"messages":["#);
    while huge.len() < 20_000_000 {
        huge.push_str("{},");
    }
    huge.push_str("{}]}}]}]}");
    let errors = [
        parse(huge.as_bytes()).unwrap_err(),
        connector_whatsapp::webhook::parse_for_number(huge.as_bytes(), PHONE_ID).unwrap_err(),
        connector_whatsapp::webhook::phone_number_ids(huge.as_bytes(), limit).unwrap_err(),
        wa().handle_webhook(&signed(&huge)).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    }
    // One byte over the default is enough.
    let over = delivery_of_len(limit + 1);
    assert_eq!(
        parse(over.as_bytes()).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn the_routing_peek_reads_only_the_phone_number_ids() {
    let limit = connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY;
    let peek = |body: &Value| {
        connector_whatsapp::webhook::phone_number_ids(body.to_string().as_bytes(), limit)
    };
    // Numbers as strings or numbers, in order, once each; odd values and items are skipped
    // (the peek never decodes them), changes without metadata have no number.
    let body = json!({"object": "whatsapp_business_account", "entry": [
        {"id": "1", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "111"},
                "messages": [1, "x", {"type": {"deep": [[[]]]}}], "statuses": "odd"}},
            {"field": "messages", "value": {"metadata": {"phone_number_id": 222}}},
            {"field": "account_update", "value": {"event": "X"}},
            {"field": "calls", "value": "not an object"},
            {"field": "messages", "value": {"metadata": {"phone_number_id": {"id": 3}}}},
            {"field": "messages"}]},
        {"id": "2", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "111"}}}]}]});
    assert_eq!(peek(&body).unwrap(), ["111", "222"]);
    // Not an envelope: Decode, as for `parse`.
    for bad in [
        json!({}),
        json!({"entry": "x"}),
        json!({"entry": [{"changes": "x"}]}),
        json!([]),
    ] {
        assert_eq!(peek(&bad).unwrap_err().kind(), ErrorKind::Decode, "{bad}");
        assert_eq!(
            parse(bad.to_string().as_bytes()).unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
    assert_eq!(
        connector_whatsapp::webhook::phone_number_ids(b"{not json", limit)
            .unwrap_err()
            .kind(),
        ErrorKind::Decode
    );
}

#[tokio::test]
async fn handle_webhook_filters_with_the_routing_peeks_reading() {
    // A change whose number is given as a JSON number is still this number's.
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": PHONE_ID.parse::<u64>().unwrap()},
            "messages": [{"from": CUSTOMER, "id": "mine", "timestamp": "5", "type": "text",
                          "text": {"body": "a"}}]}},
        {"field": "messages", "value": {"metadata": {"phone_number_id": 999},
            "messages": [{"from": CUSTOMER, "id": "theirs", "timestamp": "5", "type": "text",
                          "text": {"body": "b"}}]}}]}]})
    .to_string();
    let outcome = wa().handle_webhook(&signed(&body)).await.unwrap();
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(
        outcome.events[0].chat_id().unwrap().as_str(),
        CUSTOMER,
        "{:?}",
        outcome.events
    );
    let InboundEvent::Message(m) = &outcome.events[0] else {
        panic!()
    };
    assert_eq!(m.message_id.as_str(), "mine");
}

// --- parsing -----------------------------------------------------------------------------------

#[test]
fn text_message_event_json_is_the_public_contract() {
    let event = one(&inbound_text(
        CUSTOMER,
        "wamid.A",
        1_749_416_383,
        "Does it come in blue?",
    ));
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"type": "message", "platform": "whatsapp", "chat_id": CUSTOMER,
               "message_id": "wamid.A",
               "sender": {"id": CUSTOMER, "name": "Sheena Nelson"},
               "timestamp": "2025-06-08T20:59:43Z", "reply_to": null, "edited": false,
               "content": {"kind": "text", "text": "Does it come in blue?"}})
    );
}

#[test]
fn media_messages() {
    let image = content(&msg(
        "image",
        json!({"caption": "Taj Mahal", "mime_type": "image/jpeg", "sha256": "S=", "id": "1003383421387256"}),
    ));
    let Content::Image { media, caption } = image else {
        panic!("{image:?}")
    };
    assert_eq!(media.id.as_str(), "1003383421387256");
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(caption.as_deref(), Some("Taj Mahal"));

    let doc = content(&msg(
        "document",
        json!({"caption": "c", "filename": "invoice.pdf", "mime_type": "application/pdf", "id": "9"}),
    ));
    let Content::File { media, caption } = doc else {
        panic!("{doc:?}")
    };
    assert_eq!(media.file_name.as_deref(), Some("invoice.pdf"));
    assert_eq!(caption.as_deref(), Some("c"));

    let video = content(&msg("video", json!({"mime_type": "video/mp4", "id": "8"})));
    assert!(matches!(video, Content::Video { caption: None, .. }));

    let sticker = content(&msg(
        "sticker",
        json!({"mime_type": "image/webp", "id": "7", "animated": true}),
    ));
    assert!(matches!(sticker, Content::Sticker { .. }));
}

#[test]
fn audio_with_the_voice_flag_is_voice_else_audio() {
    let voice = content(&msg(
        "audio",
        json!({"mime_type": "audio/ogg; codecs=opus", "id": "1", "voice": true}),
    ));
    assert!(matches!(voice, Content::Voice { .. }), "{voice:?}");
    for audio in [
        json!({"mime_type": "audio/mpeg", "id": "1", "voice": false}),
        json!({"mime_type": "audio/mpeg", "id": "1"}),
    ] {
        let c = content(&msg("audio", audio));
        assert!(matches!(c, Content::Audio { .. }), "{c:?}");
    }
}

#[test]
fn location_and_contacts() {
    let loc = content(&msg(
        "location",
        json!({"latitude": 37.44, "longitude": -122.16, "name": "Philz", "address": "101 Forest Ave"}),
    ));
    assert_eq!(
        serde_json::to_value(&loc).unwrap(),
        json!({"kind": "location", "latitude": 37.44, "longitude": -122.16,
               "name": "Philz", "address": "101 Forest Ave"})
    );
    let card = content(&messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
        "type": "contacts", "contacts": [{"name": {"formatted_name": "Lucía Gómez"},
        "phones": [{"phone": "+1 (983) 555-2319", "wa_id": "19835552319", "type": "MOBILE"}]}]}]),
    ));
    assert_eq!(
        serde_json::to_value(&card).unwrap(),
        json!({"kind": "contact", "name": "Lucía Gómez", "phone": "+1 (983) 555-2319",
               "user_id": "19835552319"})
    );
}

#[test]
fn buttons_and_list_replies_are_the_text_the_customer_sees() {
    let b = content(&msg(
        "button",
        json!({"payload": "STOP_PROMO", "text": "Unsubscribe"}),
    ));
    assert_eq!(
        b,
        Content::Text {
            text: "Unsubscribe".into()
        }
    );
    let list = content(&msg(
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": "x", "title": "Priority Mail", "description": "d"}}),
    ));
    assert_eq!(
        list,
        Content::Text {
            text: "Priority Mail".into()
        }
    );
    let flow = content(&msg(
        "interactive",
        json!({"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "body": "Sent", "name": "flow"}}),
    ));
    assert_eq!(
        flow,
        Content::Unsupported {
            platform_kind: "interactive.nfm_reply".into()
        }
    );
}

#[test]
fn reactions_orders_and_unsupported_types() {
    let r = content(&msg(
        "reaction",
        json!({"message_id": "wamid.X", "emoji": "👍"}),
    ));
    assert_eq!(
        r,
        Content::Unsupported {
            platform_kind: "reaction".into()
        }
    );
    let o = content(&msg(
        "order",
        json!({"catalog_id": "1", "product_items": []}),
    ));
    assert_eq!(
        o,
        Content::Unsupported {
            platform_kind: "order".into()
        }
    );
    let u = content(&messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
        "type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]}]),
    ));
    assert_eq!(
        u,
        Content::Unsupported {
            platform_kind: "unsupported".into()
        }
    );
    let future = content(&msg("hologram", json!({"x": 1})));
    assert_eq!(
        future,
        Content::Unsupported {
            platform_kind: "hologram".into()
        }
    );
}

fn contact_event(body: &str) -> messenger_core::ContactEvent {
    match one(body) {
        InboundEvent::Contact(c) => c,
        other => panic!("expected a contact event, got {other:?}"),
    }
}

fn other_event(body: &str) -> messenger_core::OtherEvent {
    match one(body) {
        InboundEvent::Other(o) => o,
        other => panic!("expected an other event, got {other:?}"),
    }
}

#[test]
fn a_changed_number_is_an_id_change_of_the_conversation() {
    // Meta's OpenAPI example (shared/platforms/whatsapp.md §5.6): `from` is the old number,
    // `system.wa_id` the new one.
    let body = messages(
        json!([{"from": CUSTOMER, "id": "wamid.SYS", "timestamp": "1750269342",
        "type": "system", "system": {"body": "User Sheena Nelson changed from 16505551234 to 12195555358",
        "wa_id": "12195555358", "type": "user_changed_number"}}]),
    );
    let event = one(&body);
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"type": "contact", "platform": "whatsapp", "chat_id": CUSTOMER,
               "user_id": CUSTOMER, "change": "id_changed", "new_chat_id": "12195555358",
               "timestamp": "2025-06-18T17:55:42Z"})
    );
    // Older payloads: `customer_changed_number` with `new_wa_id`.
    let body = messages(json!([{"from": CUSTOMER, "id": "w", "timestamp": "5",
        "type": "system", "system": {"body": "changed", "new_wa_id": 12195555358_u64,
        "type": "customer_changed_number"}}]));
    let c = contact_event(&body);
    assert_eq!(c.change, ContactChange::IdChanged);
    assert_eq!(c.chat_id.as_str(), CUSTOMER);
    assert_eq!(c.new_chat_id.unwrap().as_str(), "12195555358");
}

#[test]
fn a_changed_business_scoped_id_is_an_id_change_for_username_users() {
    // A username user without a phone number: the conversation is keyed by the BSUID.
    let body = messages(
        json!([{"id": "wamid.SYS", "timestamp": "1750269342", "type": "system",
        "system": {"body": "User changed", "type": "user_changed_user_id",
                   "previous_user_id": "US.111", "user_id": "US.222"}}]),
    );
    let c = contact_event(&body);
    assert_eq!(
        (c.chat_id.as_str(), c.user_id.as_str(), c.change),
        ("US.111", "US.111", ContactChange::IdChanged)
    );
    assert_eq!(c.new_chat_id.unwrap().as_str(), "US.222");
    assert_eq!(c.timestamp.timestamp(), 1_750_269_342);

    // Without `previous_user_id`, the message's `from_user_id` is the old id.
    let body = messages(
        json!([{"from_user_id": "US.111", "id": "w", "timestamp": "5",
        "type": "system", "system": {"type": "user_changed_user_id", "user_id": "US.222"}}]),
    );
    let c = contact_event(&body);
    assert_eq!(c.chat_id.as_str(), "US.111");
    assert_eq!(c.new_chat_id.unwrap().as_str(), "US.222");

    // With the phone number, which did not change, the conversation keeps its id.
    let body = messages(
        json!([{"from": CUSTOMER, "from_user_id": "US.111", "id": "w",
        "timestamp": "5", "type": "system",
        "system": {"type": "user_changed_user_id", "user_id": "US.222", "wa_id": CUSTOMER}}]),
    );
    let o = other_event(&body);
    assert_eq!(o.kind, "system.user_changed_user_id");
    assert_eq!(o.chat_id.unwrap().as_str(), CUSTOMER);
}

#[test]
fn other_system_messages_are_other_events_in_the_customers_chat() {
    let o = other_event(&messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
        "type": "system", "system": {"body": "identity", "identity": "abc", "type": "user_identity_changed"}}]),
    ));
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        json!({"platform": "whatsapp", "kind": "system.user_identity_changed", "chat_id": CUSTOMER})
    );
    // A number change that does not say the new number relinks nothing.
    let o = other_event(&messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
        "type": "system", "system": {"type": "user_changed_number"}}]),
    ));
    assert_eq!(o.kind, "system.user_changed_number");
    assert_eq!(o.chat_id.unwrap().as_str(), CUSTOMER);
}

#[tokio::test]
async fn system_messages_do_not_open_the_reply_window() {
    let body = messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": now().to_string(),
        "type": "system", "system": {"wa_id": "12195555358", "type": "user_changed_number"}}]),
    );
    let wa = wa();
    let outcome = wa.handle_webhook(&signed(&body)).await.unwrap();
    assert!(matches!(&outcome.events[..], [InboundEvent::Contact(_)]));
    // (A new connector knows no window: `Unknown`, and a message would have made it `Open`.)
    for chat in [CUSTOMER, "12195555358"] {
        assert_eq!(
            wa.reply_window(&messenger_core::ChatId::new(chat))
                .await
                .unwrap(),
            messenger_core::plan::ReplyWindow::Unknown
        );
    }
}

#[test]
fn other_events_carry_the_chat_they_concern() {
    let chat_of = |body: String| {
        let o = other_event(&body);
        (o.kind, o.chat_id.map(|c| c.to_string()))
    };
    let some = |kind: &str, chat: &str| (kind.to_owned(), Some(chat.to_owned()));
    // Statuses the core does not model, and call statuses: the recipient's chat.
    assert_eq!(
        chat_of(status_delivery(
            json!({"id": "w", "status": "deleted", "timestamp": "1",
            "recipient_id": CUSTOMER})
        )),
        some("status.deleted", CUSTOMER)
    );
    assert_eq!(
        chat_of(status_delivery(
            json!({"id": "wacid.1", "status": "RINGING", "timestamp": "1",
            "type": "call", "recipient_id": CUSTOMER})
        )),
        some("call_status", CUSTOMER)
    );
    // Items that cannot be events but name their conversation.
    assert_eq!(
        chat_of(status_delivery(
            json!({"status": "read", "recipient_user_id": "US.9"})
        )),
        some("undecodable.status", "US.9")
    );
    assert_eq!(
        chat_of(messages(
            json!([{"from": CUSTOMER, "type": "text", "text": {"body": "no id"}}])
        )),
        some("undecodable.message", CUSTOMER)
    );
    assert_eq!(
        chat_of(messages(
            json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
            "type": "text", "text": "not an object"}])
        )),
        some("undecodable.message", CUSTOMER)
    );
    assert_eq!(
        chat_of(messages(
            json!([{"from": CUSTOMER, "group_id": "Y2FwaV9ncm91cDoxODA1", "id": "w",
            "timestamp": {"not": "a time"}}])
        )),
        some("undecodable.message", "Y2FwaV9ncm91cDoxODA1")
    );
    assert_eq!(
        chat_of(messages(json!(["not an object"]))),
        ("undecodable.message".to_owned(), None)
    );
    // A preference the core does not model: the customer's chat.
    let pref = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "user_preferences", "value": {"metadata": metadata(), "user_preferences": [
            {"wa_id": CUSTOMER, "category": "service_messages", "value": "stop", "timestamp": 1}]}}]}]});
    assert_eq!(
        chat_of(pref.to_string()),
        some("user_preferences.service_messages.stop", CUSTOMER)
    );
    // System-level errors concern the number, not a chat.
    assert_eq!(
        chat_of(envelope(
            json!({"metadata": metadata(), "errors": [{"code": 130429}]})
        )),
        ("error.130429".to_owned(), None)
    );
}

#[test]
fn changes_of_other_fields_carry_their_one_conversation() {
    let change = |field: &str, value: Value| {
        let body = json!({"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}]})
        .to_string();
        let o = other_event(&body);
        assert_eq!(o.kind, field);
        o.chat_id.map(|c| c.to_string())
    };
    const GROUP: &str = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD";
    assert_eq!(
        change(
            "calls",
            json!({"metadata": metadata(),
            "contacts": [{"profile": {"name": "Ann"}, "wa_id": CUSTOMER}],
            "calls": [{"id": "wacid.1", "from": CUSTOMER, "to": "15550783881", "event": "connect"}]})
        ),
        Some(CUSTOMER.to_owned())
    );
    assert_eq!(
        change(
            "group_lifecycle_update",
            json!({"metadata": metadata(),
            "groups": [{"group_id": GROUP, "type": "group_create"}]})
        ),
        Some(GROUP.to_owned())
    );
    assert_eq!(
        change(
            "smb_message_echoes",
            json!({"metadata": metadata(),
            "message_echoes": [{"from": "15550783881", "to": CUSTOMER, "id": "wamid.E"}]})
        ),
        Some(CUSTOMER.to_owned())
    );
    // Several conversations, or none: no chat.
    assert_eq!(
        change(
            "group_settings_update",
            json!({"groups": [{"group_id": GROUP}, {"group_id": "other"}]})
        ),
        None
    );
    assert_eq!(
        change(
            "calls",
            json!({"contacts": [{"wa_id": "111"}, {"wa_id": "222"}]})
        ),
        None
    );
    assert_eq!(
        change("account_update", json!({"event": "ACCOUNT_RECONNECTED"})),
        None
    );
    assert_eq!(change("message_template_status_update", json!("odd")), None);
}

#[test]
fn edits_refer_to_the_original_message() {
    let event = one(&messages(
        json!([{"from": CUSTOMER, "id": "wamid.EDIT", "timestamp": "2",
        "type": "edit", "edit": {"original_message_id": "wamid.ORIG",
        "message": {"type": "text", "text": {"body": "fixed typo"}}}}]),
    ));
    let InboundEvent::Message(m) = event else {
        panic!()
    };
    assert!(m.edited);
    assert_eq!(m.message_id.as_str(), "wamid.ORIG");
    assert_eq!(
        m.content,
        Content::Text {
            text: "fixed typo".into()
        }
    );
}

#[test]
fn replies_carry_the_quoted_id() {
    let event = one(&messages(
        json!([{"context": {"from": "15550783881", "id": "wamid.Q"},
        "from": CUSTOMER, "id": "wamid.R", "timestamp": "3", "type": "text", "text": {"body": "yes"}}]),
    ));
    let InboundEvent::Message(m) = event else {
        panic!()
    };
    assert_eq!(m.reply_to.unwrap().as_str(), "wamid.Q");
}

#[test]
fn statuses_become_status_events() {
    let cases = [
        ("sent", DeliveryStatus::Sent),
        ("delivered", DeliveryStatus::Delivered),
        ("read", DeliveryStatus::Read),
        ("played", DeliveryStatus::Read),
    ];
    for (name, expected) in cases {
        let event = one(&status_delivery(json!({"id": "wamid.OUT", "status": name,
            "timestamp": "1603086313", "recipient_id": CUSTOMER,
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}})));
        let InboundEvent::Status(s) = event else {
            panic!("{name}")
        };
        assert_eq!(s.status, expected, "{name}");
        assert_eq!(s.message_id.as_str(), "wamid.OUT");
        assert_eq!(s.chat_id.as_str(), CUSTOMER);
        assert!(s.error.is_none());
    }
    let deleted = one(&status_delivery(
        json!({"id": "w", "status": "deleted", "timestamp": "1", "recipient_id": CUSTOMER}),
    ));
    assert!(matches!(deleted, InboundEvent::Other(o) if o.kind == "status.deleted"));
}

#[test]
fn failed_status_carries_the_classified_error() {
    let event = one(&status_delivery(
        json!({"id": "wamid.F", "status": "failed",
        "timestamp": "1750000123", "recipient_id": CUSTOMER,
        "errors": [{"code": 131026, "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."}}]}),
    ));
    let InboundEvent::Status(s) = event else {
        panic!()
    };
    assert_eq!(s.status, DeliveryStatus::Failed);
    let error = s.error.unwrap();
    assert_eq!(error.kind, ErrorKind::RecipientBlocked);
    assert_eq!(error.code.as_deref(), Some("131026"));
    assert_eq!(error.message.as_deref(), Some("Message undeliverable"));
}

#[test]
fn marketing_stop_and_resume_are_contact_changes() {
    let body = |value: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "user_preferences", "value": {"messaging_product": "whatsapp",
            "metadata": metadata(), "contacts": [{"wa_id": CUSTOMER}],
            "user_preferences": [{"wa_id": CUSTOMER, "detail": "User requested",
                "category": "marketing_messages", "value": value, "timestamp": 1731705721}]}}]}]})
        .to_string()
    };
    for (value, change) in [
        ("stop", ContactChange::OptedOut),
        ("resume", ContactChange::OptedIn),
    ] {
        let InboundEvent::Contact(c) = one(&body(value)) else {
            panic!("{value}")
        };
        assert_eq!(c.change, change);
        assert_eq!(c.user_id.as_str(), CUSTOMER);
        assert_eq!(c.chat_id.as_str(), CUSTOMER);
        assert_eq!(c.timestamp.timestamp(), 1_731_705_721);
    }
}

#[test]
fn one_delivery_with_several_entries_changes_messages_and_statuses() {
    let body = json!({"object": "whatsapp_business_account", "entry": [
        {"id": "1", "changes": [
            {"field": "messages", "value": {"metadata": metadata(),
                "contacts": [{"profile": {"name": "A"}, "wa_id": "111"}, {"profile": {"name": "B"}, "wa_id": "222"}],
                "messages": [
                    {"from": "111", "id": "m1", "timestamp": "10", "type": "text", "text": {"body": "one"}},
                    {"from": "222", "id": "m2", "timestamp": "11", "type": "text", "text": {"body": "two"}}],
                "statuses": [{"id": "s1", "status": "delivered", "timestamp": "12", "recipient_id": "111"}]}},
            {"field": "account_update", "value": {"event": "ACCOUNT_RECONNECTED"}}]},
        {"id": "2", "changes": [
            {"field": "messages", "value": {"metadata": metadata(),
                "statuses": [{"id": "s2", "status": "read", "timestamp": "13", "recipient_id": "222"},
                             {"id": "s3", "status": "sent", "timestamp": "14", "recipient_id": "333"}]}}]}
    ]})
    .to_string();
    let events = parse(body.as_bytes()).unwrap();
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => format!(
                "m:{}:{}:{}",
                m.chat_id,
                m.message_id,
                m.sender.as_ref().unwrap().name.as_deref().unwrap()
            ),
            InboundEvent::Status(s) => format!("s:{}:{}:{:?}", s.chat_id, s.message_id, s.status),
            InboundEvent::Other(o) => format!("o:{}", o.kind),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "m:111:m1:A",
            "m:222:m2:B",
            "s:111:s1:Delivered",
            "o:account_update",
            "s:222:s2:Read",
            "s:333:s3:Sent"
        ]
    );
}

#[test]
fn business_scoped_user_ids_without_wa_id_are_tolerated() {
    let body = envelope(json!({"metadata": metadata(),
        "contacts": [{"profile": {"name": "Ann"}, "user_id": "US.13491208655302741918"}],
        "messages": [{"from_user_id": "US.13491208655302741918", "id": "m", "timestamp": "5",
                      "type": "text", "text": {"body": "hi"}}]}));
    let InboundEvent::Message(m) = one(&body) else {
        panic!()
    };
    assert_eq!(m.chat_id.as_str(), "US.13491208655302741918");
    assert_eq!(m.sender.unwrap().name.as_deref(), Some("Ann"));

    // Neither `from` nor `from_user_id`: the only contact says who wrote.
    let body = envelope(json!({"metadata": metadata(),
        "contacts": [{"profile": {"name": "Ann"}, "user_id": "US.1"}],
        "messages": [{"id": "m", "timestamp": "5", "type": "text", "text": {"body": "hi"}}]}));
    assert_eq!(one(&body).chat_id().unwrap().as_str(), "US.1");

    let body = status_delivery(
        json!({"id": "s", "status": "read", "timestamp": "5", "recipient_user_id": "US.2"}),
    );
    assert_eq!(one(&body).chat_id().unwrap().as_str(), "US.2");
}

#[test]
fn malformed_json_is_a_decode_error() {
    for body in [
        &b"{not json"[..],
        b"",
        b"[]",
        b"\"text\"",
        br#"{"object":"whatsapp_business_account"}"#,
        br#"{"entry":"nope"}"#,
    ] {
        let err = parse(body).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Decode,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(err.platform(), Some(Platform::WhatsApp));
    }
}

#[test]
fn unknown_fields_and_bad_items_do_not_lose_the_delivery() {
    let body = envelope(
        json!({"metadata": metadata(), "brand_new_field": {"x": [1, 2]},
        "messages": [
            {"from": CUSTOMER, "id": "ok", "timestamp": "5", "type": "text", "text": {"body": "hi"},
             "unknown": true},
            {"from": CUSTOMER, "type": "text", "text": {"body": "no id"}},
            "not an object"
        ],
        "errors": [{"code": 130429, "title": "Rate limit hit"}]}),
    );
    let events = parse(body.as_bytes()).unwrap();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => format!("message:{}", m.message_id),
            InboundEvent::Other(o) => o.kind.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message:ok",
            "undecodable.message",
            "undecodable.message",
            "error.130429"
        ]
    );
}

#[test]
fn a_messages_change_without_a_readable_value_is_one_undecodable_event() {
    for change in [
        json!({"field": "messages"}),
        json!({"field": "messages", "value": null}),
        json!({"field": "messages", "value": "text"}),
        json!({"field": "messages", "value": {"messages": "not a list"}}),
    ] {
        let body = json!({"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [change.clone()]}]})
        .to_string();
        let o = other_event(&body);
        assert_eq!(o.kind, "undecodable.messages", "{change}");
        assert_eq!(o.chat_id, None);
    }
}

#[test]
fn other_fields_are_other_events() {
    for field in [
        "calls",
        "message_template_status_update",
        "smb_message_echoes",
        "group_lifecycle_update",
    ] {
        let body = json!({"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": field, "value": {"anything": 1}}]}]})
        .to_string();
        assert!(matches!(one(&body), InboundEvent::Other(o) if o.kind == field));
    }
}

#[tokio::test]
async fn handle_webhook_keeps_only_this_numbers_changes() {
    let mine = json!({"field": "messages", "value": {"metadata": metadata(),
        "messages": [{"from": CUSTOMER, "id": "mine", "timestamp": "5", "type": "text", "text": {"body": "a"}}]}});
    let theirs = json!({"field": "messages", "value": {
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "999"},
        "messages": [{"from": CUSTOMER, "id": "theirs", "timestamp": "5", "type": "text", "text": {"body": "b"}}]}});
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [mine, theirs]}]})
    .to_string();
    let outcome = wa().handle_webhook(&signed(&body)).await.unwrap();
    let ids: Vec<&str> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            InboundEvent::Message(m) => Some(m.message_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["mine"]);
    // `parse` keeps everything; routing helpers see both numbers.
    assert_eq!(parse(body.as_bytes()).unwrap().len(), 2);
    assert_eq!(
        connector_whatsapp::webhook::phone_number_ids(
            body.as_bytes(),
            connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY
        )
        .unwrap(),
        [PHONE_ID, "999"]
    );
    assert_eq!(
        connector_whatsapp::webhook::parse_for_number(body.as_bytes(), "999")
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn group_messages_belong_to_the_group_and_name_the_participant() {
    const GROUP: &str = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD";
    let body = envelope(json!({"metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}],
        "messages": [{"from": CUSTOMER, "group_id": GROUP, "id": "wamid.G", "timestamp": "5",
                      "type": "text", "text": {"body": "hello group"}}]}));
    let InboundEvent::Message(m) = one(&body) else {
        panic!()
    };
    assert_eq!(m.chat_id.as_str(), GROUP);
    let sender = m.sender.unwrap();
    assert_eq!(sender.id.as_str(), CUSTOMER);
    assert_eq!(sender.name.as_deref(), Some("Sheena Nelson"));
    assert!(wa().is_group_chat(&m.chat_id));
    assert!(!wa().is_group_chat(&messenger_core::ChatId::new(CUSTOMER)));
}
