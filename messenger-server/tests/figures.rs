//! Measured figures for docs/benchmarks.md ("Server"): webhook intake requests per second on
//! one node (a loopback load generator posting signed WhatsApp deliveries, each a new message
//! verified and stored), and the latency of server-sent events fanned out between two nodes on
//! one PostgreSQL. Ignored by default; they measure, nothing asserts on time:
//!
//! ```sh
//! MESSENGER_FIGURES=1 MESSENGER_PG_URL=postgres://messenger:messenger@127.0.0.1:5432/messenger_test \
//!   cargo test -p messenger-server --release --test figures -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Without `MESSENGER_FIGURES` they return at once (CI runs every ignored test).
#![allow(clippy::print_stdout)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use messenger_core::Platform;
use messenger_core::webhook::hmac_sha256_hex;
use messenger_server::config::Intake;
use messenger_server::{Server, ServerConfig};

fn wanted() -> bool {
    let on = std::env::var_os("MESSENGER_FIGURES").is_some();
    if !on {
        println!("SKIPPED: set MESSENGER_FIGURES=1 to measure");
    }
    on
}

/// A signed WhatsApp delivery of one text message.
fn delivery(phone_number_id: &str, app_secret: &str, n: usize) -> (String, String) {
    let from = format!("1555{:07}", n % 500);
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550000000","phone_number_id":"{phone_number_id}"}},"contacts":[{{"profile":{{"name":"Load"}},"wa_id":"{from}"}}],"messages":[{{"from":"{from}","id":"wamid.load-{n}-{}","timestamp":"1749416383","type":"text","text":{{"body":"load {n}"}}}}]}}}}]}}]}}"#,
        std::process::id()
    );
    let signature = format!(
        "sha256={}",
        hmac_sha256_hex(app_secret.as_bytes(), body.as_bytes())
    );
    (body, signature)
}

struct Target {
    url: String,
    phone_number_id: String,
    app_secret: String,
}

async fn whatsapp_target(world: &World, server: &Server) -> Target {
    let owner = Api::signed_in(&server.url(), OWNER).await;
    let id = owner.account_id("WhatsApp demo").await;
    let demo = world.demo.account(Platform::WhatsApp).unwrap();
    let credentials = world.sandbox.credentials(&demo.account.id).unwrap();
    Target {
        url: format!("{}/webhooks/whatsapp/{id}", server.url()),
        phone_number_id: credentials.get("phone_number_id").unwrap().to_owned(),
        app_secret: credentials.get("app_secret").unwrap().to_owned(),
    }
}

async fn intake(db: Database, label: &str) {
    let world = World::new().await;
    let wa = world.account(Platform::WhatsApp, Intake::Webhook);
    let mut config: ServerConfig = world.config(&db, vec![wa], &[]);
    config.polling.enabled = false;
    let server = world.start(config).await;
    let target = Arc::new(whatsapp_target(&world, &server).await);
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let total = 4000;
    let concurrency = 32;
    // Warm up: connections, the account's stack.
    for n in 0..50 {
        let (body, sig) = delivery(&target.phone_number_id, &target.app_secret, 1_000_000 + n);
        let r = http
            .post(&target.url)
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let start = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..total)
        .map(|n| {
            let http = http.clone();
            let target = target.clone();
            async move {
                let (body, sig) = delivery(&target.phone_number_id, &target.app_secret, n);
                let t = Instant::now();
                let r = http
                    .post(&target.url)
                    .header("x-hub-signature-256", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let mut sorted = latencies;
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    println!(
        "FIGURE intake {label}: {total} signed deliveries, {concurrency} concurrent: {:.2} s = {:.0} requests/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        sorted.last().unwrap().as_secs_f64() * 1000.0,
    );
    let owner = Api::signed_in(&server.url(), OWNER).await;
    let stored = owner.ok("/api/conversations?limit=1000").await["conversations"]
        .as_array()
        .unwrap()
        .len();
    println!("FIGURE intake {label}: {stored} conversations stored");
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a figure: MESSENGER_FIGURES=1, release build"]
async fn webhook_intake_per_second() {
    if !wanted() {
        return;
    }
    intake(Database::sqlite(), "SQLite file").await;
    if let Some(db) = Database::postgres() {
        intake(db, "PostgreSQL").await;
    }
}

/// A delivery posted to node A, its event received on node B (or A itself).
async fn fan_out(label: &str, to_other: bool) {
    let Some(db) = Database::postgres() else {
        println!("SKIPPED: the fan-out figure needs MESSENGER_PG_URL");
        return;
    };
    let world = World::new().await;
    let wa = world.account(Platform::WhatsApp, Intake::Webhook);
    let mut config = world.config(&db, vec![wa], &[]);
    config.polling.enabled = false;
    config.node = Some("node-a".into());
    let a = world.start(config.clone()).await;
    config.node = Some("node-b".into());
    let b = world.start(config).await;
    let target = whatsapp_target(&world, &a).await;
    let listener = Api::signed_in(&if to_other { b.url() } else { a.url() }, OWNER).await;
    let mut events = listener.events().await;
    events.next_named("ready").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let rounds = 200;
    let mut latencies = Vec::with_capacity(rounds);
    for n in 0..rounds {
        let (body, sig) = delivery(&target.phone_number_id, &target.app_secret, 2_000_000 + n);
        let t = Instant::now();
        let r = http
            .post(&target.url)
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        events.next_named("new_message").await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "FIGURE fan-out {label}: {rounds} deliveries one at a time, POST on node A -> SSE event: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.95).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0,
    );
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a figure: MESSENGER_FIGURES=1 and MESSENGER_PG_URL, release build"]
async fn sse_fan_out_between_nodes() {
    if !wanted() {
        return;
    }
    fan_out("the same node (A)", false).await;
    fan_out("another node (B, LISTEN/NOTIFY)", true).await;
}
