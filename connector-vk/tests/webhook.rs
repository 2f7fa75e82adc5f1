//! The Callback API: size cap, confirmation, secret (missing, wrong, right), community,
//! unknown and malformed events, and stable de-duplication keys.

mod common;

use common::*;
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{ContactChange, ErrorKind, InboundEvent, Messenger, OtherEvent, Platform};
use serde_json::{Value, json};

const SECRET: &str = "Cb-Secret_7f3a";
const CONFIRMATION: &str = "693d0ba9";

fn vk() -> connector_vk::Vk {
    connector_vk::VkConfig::new(TOKEN, GROUP)
        .base_url("http://127.0.0.1:9")
        .secret(SECRET)
        .confirmation(CONFIRMATION)
        .max_webhook_body(64 * 1024)
        .build()
        .unwrap()
}

fn message_new(secret: Option<&str>) -> Value {
    let mut body = json!({"type": "message_new", "group_id": GROUP, "event_id": "3a6b1f0c5e2d4c1b9f",
        "v": "5.199",
        "object": {"message": {"id": 345, "date": 1717000000, "peer_id": 111, "from_id": 111,
            "out": 0, "version": 10000123, "conversation_message_id": 12, "text": "Здравствуйте",
            "attachments": [], "fwd_messages": [], "important": false, "is_hidden": false},
          "client_info": {"button_actions": ["text"], "keyboard": true, "inline_keyboard": true,
            "carousel": true, "lang_id": 0}}});
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    body
}

async fn deliver(
    vk: &connector_vk::Vk,
    body: impl Into<bytes::Bytes>,
) -> messenger_core::Result<messenger_core::webhook::WebhookOutcome> {
    within(vk.handle_webhook(&WebhookRequest::post(body.into()))).await
}

fn status_of(err: &messenger_core::Error) -> u16 {
    WebhookResponse::for_error(err).status
}

#[tokio::test]
async fn the_right_secret_is_accepted_and_answered_ok() {
    let vk = vk();
    let outcome = deliver(&vk, message_new(Some(SECRET)).to_string())
        .await
        .unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(&outcome.response.body[..], b"ok");
    assert_eq!(
        outcome.response.content_type,
        Some("text/plain; charset=utf-8")
    );
    let [InboundEvent::Message(m)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!((m.chat_id.as_str(), m.message_id.as_str()), ("111", "345"));
}

#[tokio::test]
async fn a_missing_or_wrong_secret_is_refused() {
    let vk = vk();
    for body in [
        message_new(None),
        message_new(Some("Cb-Secret_7f3b")),
        message_new(Some("")),
        message_new(Some("Cb-Secret_7f3a ")),
    ] {
        let err = deliver(&vk, body.to_string()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{body}");
        assert_eq!(status_of(&err), 401);
        assert!(!err.to_string().contains(SECRET));
    }
    // A secret given twice (a second one smuggled in) is refused too.
    let body = message_new(Some(SECRET)).to_string();
    let twice = body.replacen('{', &format!("{{\"secret\":\"{SECRET}\","), 1);
    assert_eq!(
        deliver(&vk, twice).await.unwrap_err().kind(),
        ErrorKind::WebhookRejected
    );
}

#[tokio::test]
async fn without_a_configured_secret_every_event_is_refused() {
    let vk = connector_vk::VkConfig::new(TOKEN, GROUP)
        .confirmation(CONFIRMATION)
        .build()
        .unwrap();
    let err = deliver(&vk, message_new(Some("anything")).to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
}

#[tokio::test]
async fn another_community_is_refused() {
    let vk = vk();
    let mut body = message_new(Some(SECRET));
    body["group_id"] = json!(1);
    assert_eq!(
        deliver(&vk, body.to_string()).await.unwrap_err().kind(),
        ErrorKind::WebhookRejected
    );
    body.as_object_mut().unwrap().remove("group_id");
    assert_eq!(
        deliver(&vk, body.to_string()).await.unwrap_err().kind(),
        ErrorKind::WebhookRejected
    );
}

#[tokio::test]
async fn confirmation_is_answered_with_the_configured_string() {
    let vk = vk();
    let outcome = deliver(
        &vk,
        json!({"type": "confirmation", "group_id": GROUP}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(&outcome.response.body[..], CONFIRMATION.as_bytes());
    assert_eq!(
        outcome.response.content_type,
        Some("text/plain; charset=utf-8")
    );
    assert!(outcome.events.is_empty());
    // With the secret, as VK sends it once one is set.
    let outcome = deliver(
        &vk,
        json!({"type": "confirmation", "group_id": GROUP, "secret": SECRET}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(&outcome.response.body[..], CONFIRMATION.as_bytes());
    // A wrong secret, or another community, learns nothing.
    for body in [
        json!({"type": "confirmation", "group_id": GROUP, "secret": "guess"}),
        json!({"type": "confirmation", "group_id": 1}),
        json!({"type": "confirmation"}),
    ] {
        let err = deliver(&vk, body.to_string()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{body}");
        assert!(!err.to_string().contains(CONFIRMATION));
    }
    // Without a configured string: refused.
    let bare = connector_vk::VkConfig::new(TOKEN, GROUP)
        .secret(SECRET)
        .build()
        .unwrap();
    assert_eq!(
        deliver(
            &bare,
            json!({"type": "confirmation", "group_id": GROUP}).to_string()
        )
        .await
        .unwrap_err()
        .kind(),
        ErrorKind::WebhookRejected
    );
}

#[tokio::test]
async fn unknown_and_malformed_events_are_ok_and_other() {
    let vk = vk();
    let cases = [
        (
            json!({"type": "wall_post_new", "group_id": GROUP, "event_id": "a", "secret": SECRET,
                   "object": {"id": 28, "owner_id": -229000000}}),
            OtherEvent::new(Platform::Vk, "wall_post_new"),
        ),
        (
            json!({"type": "brand_new_type", "group_id": GROUP, "event_id": "b", "secret": SECRET,
                   "object": {"peer_id": 111}}),
            OtherEvent::new(Platform::Vk, "brand_new_type").in_chat("111"),
        ),
        (
            json!({"type": "message_new", "group_id": GROUP, "event_id": "c", "secret": SECRET,
                   "object": {"message": {"peer_id": "not a number"}}}),
            OtherEvent::new(Platform::Vk, "malformed_event"),
        ),
        (
            json!({"type": "message_new", "group_id": GROUP, "secret": SECRET}),
            OtherEvent::new(Platform::Vk, "malformed_event"),
        ),
        (
            json!({"group_id": GROUP, "secret": SECRET, "object": {"user_id": 5}}),
            OtherEvent::new(Platform::Vk, "malformed_event").in_chat("5"),
        ),
    ];
    for (body, expected) in cases {
        let outcome = deliver(&vk, body.to_string()).await.unwrap();
        assert_eq!(&outcome.response.body[..], b"ok", "{body}");
        assert_eq!(outcome.events, [InboundEvent::Other(expected)], "{body}");
    }
}

#[tokio::test]
async fn bodies_that_are_not_a_callback_are_refused_without_panic() {
    let vk = vk();
    for body in [
        &b"{not json"[..],
        b"",
        b"[\"message_new\", \"Cb-Secret_7f3a\", 229000000]",
        b"\"text\"",
        b"null",
        &[0xff, 0xfe, 0x00][..],
    ] {
        let err = deliver(&vk, body.to_vec()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    }
}

#[tokio::test]
async fn the_size_cap_comes_first() {
    let vk = vk();
    let mut body = message_new(Some("wrong")).to_string();
    body.push_str(&" ".repeat(64 * 1024));
    let err = deliver(&vk, body).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(status_of(&err), 413);
}

#[tokio::test]
async fn only_post_is_taken() {
    let vk = vk();
    let err = within(vk.handle_webhook(&WebhookRequest::get("a=b")))
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 400);
}

#[tokio::test]
async fn consent_and_read_events_come_through() {
    let vk = vk();
    let allow = json!({"type": "message_allow", "group_id": GROUP, "event_id": "d",
        "secret": SECRET, "object": {"user_id": 111, "key": "promo"}});
    let deny = json!({"type": "message_deny", "group_id": GROUP, "event_id": "e",
        "secret": SECRET, "object": {"user_id": 111}});
    let read = json!({"type": "message_read", "group_id": GROUP, "event_id": "f",
        "secret": SECRET, "object": {"from_id": 111, "peer_id": 111, "read_message_id": 346,
        "conversation_message_id": 13}});
    let e = deliver(&vk, allow.to_string()).await.unwrap().events;
    assert!(matches!(&e[0], InboundEvent::Contact(c) if c.change == ContactChange::OptedIn));
    let e = deliver(&vk, deny.to_string()).await.unwrap().events;
    assert!(matches!(&e[0], InboundEvent::Contact(c) if c.change == ContactChange::OptedOut));
    let e = deliver(&vk, read.to_string()).await.unwrap().events;
    assert!(
        matches!(&e[0], InboundEvent::Status(s) if s.message_id.as_str() == "346" && s.status == messenger_core::DeliveryStatus::Read)
    );
}

#[tokio::test]
async fn a_redelivered_event_has_the_same_dedup_key() {
    let vk = vk();
    let body = message_new(Some(SECRET)).to_string();
    let first = deliver(&vk, body.clone()).await.unwrap().events;
    let again = WebhookRequest::post(body).header("X-Retry-Counter", "1");
    let second = within(vk.handle_webhook(&again)).await.unwrap().events;
    assert_eq!(first[0].dedup_key(), second[0].dedup_key());
    assert!(first[0].dedup_key().is_some());
    let read = json!({"type": "message_read", "group_id": GROUP, "event_id": "f",
        "secret": SECRET, "object": {"from_id": 111, "peer_id": 111, "read_message_id": 346}});
    let a = deliver(&vk, read.to_string()).await.unwrap().events;
    let b = deliver(&vk, read.to_string()).await.unwrap().events;
    assert_eq!(a[0].dedup_key(), b[0].dedup_key());
}

#[tokio::test]
async fn the_webhook_and_parse_agree() {
    let vk = vk();
    let body = message_new(Some(SECRET)).to_string();
    let via_webhook = deliver(&vk, body.clone()).await.unwrap().events;
    let via_parse = connector_vk::parse(body.as_bytes()).unwrap();
    assert_eq!(via_webhook, via_parse);
    // And the same event inside a long-poll answer.
    let mut event = message_new(None);
    event.as_object_mut().unwrap().remove("secret");
    let lp = json!({"ts": "5", "updates": [event]}).to_string();
    assert_eq!(connector_vk::parse(lp.as_bytes()).unwrap(), via_parse);
    // The registry's parser is that function.
    assert_eq!(
        (connector_vk::ENTRY.parse)(body.as_bytes()).unwrap(),
        via_parse
    );
}
