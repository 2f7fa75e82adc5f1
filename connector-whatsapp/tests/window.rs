//! The 24-hour customer service window: recorded from inbound messages by `handle_webhook`,
//! enforced before any request where the store knows it is closed, left to WhatsApp where it
//! cannot know (a store that has watched for less than 24 hours), bypassed by templates, and
//! reported later as `131047`.

mod common;

use std::sync::Arc;

use common::*;
use connector_whatsapp::{WhatsApp, parse};
use messenger_core::plan::ReplyWindow;
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    ChatId, DeliveryStatus, ErrorKind, InboundEvent, Messenger, OutgoingMessage, Template,
};
use mockito::Matcher;
use serde_json::json;

/// A connector whose store has watched the number's inbound messages for `hours` (a CRM with
/// that much history, or a process up that long).
fn watched_for(server: &mockito::ServerGuard, hours: i64) -> WhatsApp {
    let store = MemoryReplyWindowStore::default()
        .with_watching_since(Some(chrono::Utc::now() - chrono::Duration::hours(hours)));
    WhatsApp::new(config(server).window_store(Arc::new(store))).unwrap()
}

#[tokio::test]
async fn a_store_watching_for_25_hours_that_saw_nothing_refuses_free_form_without_a_request() {
    let mut server = mockito::Server::new_async().await;
    let nothing = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let wa = watched_for(&server, 25);
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
    let err = wa
        .send(&OutgoingMessage::text(CUSTOMER, "Hello!"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
    nothing.assert_async().await;
}

#[tokio::test]
async fn a_fresh_connector_knows_no_window_and_lets_whatsapp_decide() {
    // A new process has watched nothing: the customer may have written an hour ago. The send
    // goes out; WhatsApp accepts it and, if the window was closed, fails it later (131047).
    let mut server = mockito::Server::new_async().await;
    let send = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::PartialJson(
            json!({"to": CUSTOMER, "text": {"body": "Hello!"}}),
        ))
        .with_body(accepted("wamid.U"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Unknown
    );
    let report = wa
        .send(&OutgoingMessage::text(CUSTOMER, "Hello!"))
        .await
        .expect("an unknown window is not a closed one");
    assert_eq!(report.first_message_id().unwrap().as_str(), "wamid.U");
    send.assert_async().await;

    // Watched for 23 hours: still not a whole window, still WhatsApp's call.
    assert_eq!(
        watched_for(&server, 23)
            .reply_window(&ChatId::new(CUSTOMER))
            .await
            .unwrap(),
        ReplyWindow::Unknown
    );
}

#[tokio::test]
async fn an_inbound_message_through_handle_webhook_opens_the_window() {
    let mut server = mockito::Server::new_async().await;
    let send = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::PartialJson(
            json!({"to": CUSTOMER, "text": {"body": "Sure!"}}),
        ))
        .with_body(accepted("wamid.R"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    wa.handle_webhook(&signed(&inbound_text(
        CUSTOMER,
        "wamid.IN",
        now() - 60,
        "Can you help?",
    )))
    .await
    .unwrap();
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Open
    );
    // Another customer's window is not known: this store has not watched for 24 hours.
    assert_eq!(
        wa.reply_window(&ChatId::new("16505550000")).await.unwrap(),
        ReplyWindow::Unknown
    );
    let report = wa
        .send(&OutgoingMessage::text(CUSTOMER, "Sure!"))
        .await
        .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "wamid.R");
    send.assert_async().await;
}

#[tokio::test]
async fn an_inbound_message_older_than_24_hours_leaves_it_closed() {
    let server = mockito::Server::new_async().await;
    let old = signed(&inbound_text(
        CUSTOMER,
        "wamid.OLD",
        now() - 24 * 3600 - 60,
        "hi",
    ));
    let wa = watched_for(&server, 25);
    wa.handle_webhook(&old).await.unwrap();
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
    // A late delivery to a new process opens nothing either; whether the customer wrote
    // again since, unseen, only WhatsApp knows.
    let fresh = client(&server);
    fresh.handle_webhook(&old).await.unwrap();
    assert_eq!(
        fresh.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Unknown
    );
}

#[tokio::test]
async fn parse_records_nothing() {
    let server = mockito::Server::new_async().await;
    let wa = watched_for(&server, 25);
    let body = inbound_text(CUSTOMER, "wamid.IN", now(), "hi");
    assert_eq!(parse(body.as_bytes()).unwrap().len(), 1);
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
}

#[tokio::test]
async fn statuses_and_edits_do_not_open_the_window() {
    let server = mockito::Server::new_async().await;
    let wa = watched_for(&server, 25);
    let status = status_delivery(json!({"id": "wamid.OUT", "status": "read",
        "timestamp": now().to_string(), "recipient_id": CUSTOMER}));
    let edit = envelope(
        json!({"metadata": metadata(), "messages": [{"from": CUSTOMER,
        "id": "wamid.E", "timestamp": now().to_string(), "type": "edit",
        "edit": {"original_message_id": "wamid.O", "message": {"type": "text", "text": {"body": "x"}}}}]}),
    );
    for body in [status, edit] {
        wa.handle_webhook(&signed(&body)).await.unwrap();
    }
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
}

#[tokio::test]
async fn templates_go_through_with_the_window_closed() {
    let mut server = mockito::Server::new_async().await;
    let template = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::PartialJson(json!({"type": "template"})))
        .with_body(accepted("wamid.TPL"))
        .expect(1)
        .create_async()
        .await;
    let wa = watched_for(&server, 25);
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
    let sent = wa
        .send_template(
            &ChatId::new(CUSTOMER),
            &Template::new("hello_world", "en_US"),
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id.as_str(), "wamid.TPL");
    template.assert_async().await;
}

#[tokio::test]
async fn a_later_131047_failed_status_is_outside_reply_window() {
    let server = mockito::Server::new_async().await;
    let wa = client(&server);
    let body = status_delivery(json!({"id": "wamid.LATE", "status": "failed",
        "timestamp": "1750000123", "recipient_id": CUSTOMER,
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}));
    let outcome = wa.handle_webhook(&signed(&body)).await.unwrap();
    let [InboundEvent::Status(status)] = &outcome.events[..] else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(status.status, DeliveryStatus::Failed);
    assert_eq!(status.message_id.as_str(), "wamid.LATE");
    let error = status.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::OutsideReplyWindow);
    assert_eq!(error.code.as_deref(), Some("131047"));
}

#[tokio::test]
async fn an_immediate_131047_is_outside_reply_window() {
    // The store may think the window is open (another process answered, clocks differ):
    // WhatsApp's own refusal is reported with the same kind.
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MESSAGES_PATH)
        .with_status(400)
        .with_body(graph_error(131047, "Re-engagement message"))
        .create_async()
        .await;
    let wa = client(&server);
    wa.handle_webhook(&signed(&inbound_text(CUSTOMER, "wamid.IN", now(), "hi")))
        .await
        .unwrap();
    let err = wa
        .send(&OutgoingMessage::text(CUSTOMER, "late"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
}

#[tokio::test]
async fn a_shared_store_is_used_by_every_client() {
    let server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryReplyWindowStore::default());
    let shared: Arc<dyn ReplyWindowStore> = store.clone();
    let intake = WhatsApp::new(config(&server).window_store(shared.clone())).unwrap();
    let sender = WhatsApp::new(config(&server).window_store(shared)).unwrap();
    intake
        .handle_webhook(&signed(&inbound_text(CUSTOMER, "wamid.IN", now(), "hi")))
        .await
        .unwrap();
    assert!(
        store
            .last_inbound(messenger_core::Platform::WhatsApp, &ChatId::new(CUSTOMER))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        sender.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Open
    );
}

#[tokio::test]
async fn a_number_with_a_leading_plus_is_the_same_customer() {
    // WhatsApp reports `from` without the `+`; `to` accepts it with or without.
    let mut server = mockito::Server::new_async().await;
    let send = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::PartialJson(
            json!({"to": format!("+{CUSTOMER}"), "text": {"body": "Sure!"}}),
        ))
        .with_body(accepted("wamid.P"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    wa.handle_webhook(&signed(&inbound_text(
        CUSTOMER,
        "wamid.IN",
        now() - 60,
        "Can you help?",
    )))
    .await
    .unwrap();
    let plus = ChatId::new(format!("+{CUSTOMER}"));
    assert_eq!(wa.reply_window(&plus).await.unwrap(), ReplyWindow::Open);
    wa.send(&OutgoingMessage::text(plus, "Sure!"))
        .await
        .unwrap();
    send.assert_async().await;
}

#[tokio::test]
async fn a_timestamp_in_the_future_is_recorded_as_now() {
    // A customer's clock (or a forged delivery) a day ahead must not hold the window open for
    // two days: the time recorded is never later than the moment the delivery was handled.
    let server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryReplyWindowStore::default());
    let wa = WhatsApp::new(config(&server).window_store(store.clone())).unwrap();
    let before = chrono::Utc::now();
    wa.handle_webhook(&signed(&inbound_text(
        CUSTOMER,
        "wamid.FUTURE",
        now() + 23 * 3600,
        "hi from tomorrow",
    )))
    .await
    .unwrap();
    let after = chrono::Utc::now();
    let recorded = store
        .last_inbound(messenger_core::Platform::WhatsApp, &ChatId::new(CUSTOMER))
        .await
        .unwrap()
        .expect("recorded");
    assert!(
        before <= recorded && recorded <= after,
        "recorded {recorded}, handled between {before} and {after}"
    );
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Open
    );
}

#[tokio::test]
async fn a_future_timestamp_does_not_stretch_a_short_window() {
    // The same through the connector alone: with a 1-second window, a message stamped an hour
    // ahead leaves the window closed once that second has passed (it would stay open an hour
    // if the future time were kept).
    let server = mockito::Server::new_async().await;
    let mut caps = messenger_core::Capabilities::of(messenger_core::Platform::WhatsApp);
    caps.reply_window = Some(std::time::Duration::from_secs(1));
    let wa = WhatsApp::new(config(&server).capabilities(caps)).unwrap();
    wa.handle_webhook(&signed(&inbound_text(
        CUSTOMER,
        "wamid.FUTURE",
        now() + 3600,
        "hi",
    )))
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        wa.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed
    );
}

#[tokio::test]
async fn the_window_closes_exactly_24_hours_after_the_last_message() {
    // WhatsApp timestamps are whole seconds. A message exactly 24 h before the current second
    // has closed the window (it is open while now < last + 24 h); one 30 s later has not. The
    // stores have watched for 25 hours: the closed window is known, not merely unknown.
    let mut server = mockito::Server::new_async().await;
    let nothing = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let at = now() - 24 * 3600;
    let edge = watched_for(&server, 25);
    edge.handle_webhook(&signed(&inbound_text(CUSTOMER, "wamid.EDGE", at, "hi")))
        .await
        .unwrap();
    assert_eq!(
        edge.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Closed,
        "exactly 24 h ago"
    );
    let err = edge
        .send(&OutgoingMessage::text(CUSTOMER, "late"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
    nothing.assert_async().await;

    let inside = watched_for(&server, 25);
    inside
        .handle_webhook(&signed(&inbound_text(
            CUSTOMER,
            "wamid.EDGE2",
            at + 30,
            "hi",
        )))
        .await
        .unwrap();
    assert_eq!(
        inside.reply_window(&ChatId::new(CUSTOMER)).await.unwrap(),
        ReplyWindow::Open,
        "24 h minus 30 s ago"
    );
}
