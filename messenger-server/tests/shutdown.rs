//! A graceful shutdown finishes the sends in flight: a send held by the platform when the stop
//! is asked for goes out and is recorded `sent`; one still queued stays queued (nothing
//! claimed and abandoned) and the next start sends it.

mod common;

use std::time::Duration;

use common::*;
use messenger_core::Platform;
use messenger_inbox::{EmployeeId, OutboxId, OutboxState};
use messenger_sandbox::{CustomerMessage, Fault, FaultSpec};
use messenger_server::config::Intake;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_sends_in_flight() {
    tokio::time::timeout(Duration::from_secs(120), run())
        .await
        .expect("the test timed out");
}

async fn run() {
    let world = World::new().await;
    let db = Database::sqlite();
    let tg = world.account(Platform::Telegram, Intake::Poll);
    let config = world.config(&db, vec![tg], &[]);
    let server = world.start(config.clone()).await;
    let owner = Api::signed_in(&server.url(), OWNER).await;
    let owner_id = EmployeeId(
        owner.ok("/api/me").await["employee"]["id"]
            .as_i64()
            .unwrap(),
    );
    let account = owner.account_id("Telegram demo").await;
    let demo = world.demo.account(Platform::Telegram).unwrap();
    let sandbox = &world.sandbox;
    sandbox
        .customer_sends(
            &demo.account.id,
            &demo.customer.id,
            &CustomerMessage::text("hi"),
        )
        .unwrap();
    let conversation = owner.conversation_of(account).await;
    // The platform holds the next send for 2 s.
    sandbox
        .inject_fault(
            &demo.account.id,
            &FaultSpec::new(Fault::Delay { millis: 2000 }).operation("sendMessage"),
        )
        .unwrap();
    let send = |key: &str, text: &str| json!({"idempotency_key": key, "draft": {"kind": "text", "text": text}});
    let (_, first) = owner
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            send("a", "in flight"),
        )
        .await;
    let (_, second) = owner
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            send("b", "queued behind"),
        )
        .await;
    let inbox = server.inbox().clone();
    let first = OutboxId(first["id"].as_i64().unwrap());
    let second = OutboxId(second["id"].as_i64().unwrap());
    eventually("the first send is in flight", || async {
        inbox.outbox_entry(owner_id, first).await.unwrap().state == OutboxState::Sending
    })
    .await;
    let started = tokio::time::Instant::now();
    server.shutdown(Duration::from_secs(20)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the stop waited for the send"
    );
    assert_eq!(
        inbox.outbox_entry(owner_id, first).await.unwrap().state,
        OutboxState::Sent
    );
    let received = sandbox
        .received(&demo.account.id, &demo.customer.id)
        .unwrap();
    assert_eq!(
        received
            .iter()
            .filter(|m| m
                .text
                .as_deref()
                .is_some_and(|t| t.starts_with("in flight")))
            .count(),
        1
    );
    // The one behind it was not claimed: queued, not stuck in `sending`.
    let behind = inbox.outbox_entry(owner_id, second).await.unwrap();
    assert!(
        matches!(behind.state, OutboxState::Queued | OutboxState::Sent),
        "{:?}",
        behind.state
    );
    // The next start sends whatever is left.
    let again = world.start(config).await;
    eventually("the queued send goes out after the restart", || async {
        inbox.outbox_entry(owner_id, second).await.unwrap().state == OutboxState::Sent
    })
    .await;
    let received = sandbox
        .received(&demo.account.id, &demo.customer.id)
        .unwrap();
    assert_eq!(
        received
            .iter()
            .filter(|m| m
                .text
                .as_deref()
                .is_some_and(|t| t.starts_with("queued behind")))
            .count(),
        1
    );
    again.shutdown(Duration::from_secs(5)).await;
}
