//! Measured figures for docs/benchmarks.md: ingest throughput and outbox send latency on each
//! backend. Ignored by default (they measure; nothing asserts on time):
//!
//! ```sh
//! MESSENGER_FIGURES=1 MESSENGER_PG_URL=postgres://messenger:messenger@127.0.0.1:5432/messenger_test \
//!   cargo test -p messenger-inbox --release --test figures -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Without `MESSENGER_FIGURES` they return at once, so CI's run of every ignored test (the
//! conformance step) stays quick.
#![allow(clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use messenger_inbox::{ConversationFilter, Draft};

fn wanted() -> bool {
    let on = std::env::var_os("MESSENGER_FIGURES").is_some();
    if !on {
        println!("SKIPPED: set MESSENGER_FIGURES=1 to measure");
    }
    on
}

async fn measure(f: Fixture) {
    let s = f.seed().await;
    with_stubs(&f.inbox);
    // Ingest: 40 batches of 50 messages over 200 chats (a webhook delivery each).
    let batches = 40;
    let per_batch = 50;
    let start = Instant::now();
    for b in 0..batches {
        let events: Vec<_> = (0..per_batch)
            .map(|i| {
                tg(
                    &format!("{}", (b * per_batch + i) % 200),
                    &format!("{b}-{i}"),
                    "a customer's message of ordinary length, about an order",
                )
            })
            .collect();
        f.inbox.ingest(s.account.id, &events).await.unwrap();
    }
    let elapsed = start.elapsed();
    let total = batches * per_batch;
    let redelivery = Instant::now();
    let events: Vec<_> = (0..per_batch)
        .map(|i| tg(&format!("{}", i % 200), &format!("0-{i}"), "x"))
        .collect();
    f.inbox.ingest(s.account.id, &events).await.unwrap();
    let redelivery = redelivery.elapsed();
    // Outbox: enqueue → sent (a local worker woken by the send; an in-process platform), one at a time.
    let conv = f
        .inbox
        .conversations(s.owner.id, ConversationFilter::default().limit(1))
        .await
        .unwrap()[0]
        .id;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let worker = f.inbox.worker("bench");
    let task = tokio::spawn(async move { worker.run(stop).await });
    let mut latencies = Vec::new();
    for i in 0..200 {
        let t0 = Instant::now();
        let e = f
            .inbox
            .send(s.owner.id, conv, Draft::text(format!("reply {i}")))
            .await
            .unwrap();
        loop {
            let state = f.inbox.outbox_entry(s.owner.id, e.id).await.unwrap().state;
            if state == messenger_inbox::OutboxState::Sent {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(t0.elapsed());
    }
    let _ = stop_tx.send(true);
    let _ = task.await;
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "FIGURES {}: ingest {total} messages in {:.2} s = {:.0} messages/s (batches of {per_batch}); \
         redelivery of a batch of {per_batch}: {:.1} ms; outbox enqueue→sent (200 sends): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        f.backend,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        redelivery.as_secs_f64() * 1e3,
        p(0.5).as_secs_f64() * 1e3,
        p(0.95).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures; run with --ignored --nocapture"]
async fn figures_sqlite() {
    if !wanted() {
        return;
    }
    measure(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures; run with --ignored --nocapture"]
async fn figures_postgres() {
    if !wanted() {
        return;
    }
    match Fixture::postgres().await {
        Some(f) => measure(f).await,
        None => pg_skipped("figures::figures_postgres"),
    }
}
