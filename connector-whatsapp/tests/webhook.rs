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

#[test]
fn system_messages_are_other_events() {
    let event = one(&messages(
        json!([{"from": CUSTOMER, "id": "w", "timestamp": "1",
        "type": "system", "system": {"body": "changed", "wa_id": "12195555358", "type": "user_changed_number"}}]),
    ));
    assert_eq!(
        event,
        InboundEvent::Other(messenger_core::OtherEvent {
            platform: Platform::WhatsApp,
            kind: "system.user_changed_number".into()
        })
    );
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
        connector_whatsapp::webhook::phone_number_ids(body.as_bytes()).unwrap(),
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
