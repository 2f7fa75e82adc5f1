#![allow(clippy::print_stderr)]
//! Long polling under a lease: two nodes on one database never poll one account at the same
//! time, and when the polling node dies the lease (and the polling) moves to the other,
//! losing no message. On SQLite and, with `MESSENGER_PG_URL`, on PostgreSQL.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use messenger_core::Platform;
use messenger_inbox::AccountKey;
use messenger_sandbox::CustomerMessage;
use messenger_server::Server;
use messenger_server::config::Intake;
use tokio::time::Instant;

type Log = Arc<Mutex<Vec<(&'static str, AccountKey, bool, Instant)>>>;

async fn node(
    world: &World,
    config: messenger_server::ServerConfig,
    name: &'static str,
    log: &Log,
) -> Server {
    let mut config = config;
    config.node = Some(name.to_owned());
    let log = log.clone();
    Server::builder(config, connectors())
        .resolver(world.secrets.clone())
        .poll_observer(Arc::new(move |account, polling| {
            log.lock()
                .unwrap()
                .push((name, account, polling, Instant::now()));
        }))
        .start()
        .await
        .unwrap()
}

fn polling(log: &Log, name: &str) -> bool {
    let log = log.lock().unwrap();
    log.iter().rev().find(|e| e.0 == name).is_some_and(|e| e.2)
}

/// The intervals each node believed it was polling, as (node, start, end).
fn intervals(log: &Log) -> Vec<(&'static str, Instant, Instant)> {
    let log = log.lock().unwrap();
    let mut out = Vec::new();
    for name in ["node-a", "node-b"] {
        let mut start = None;
        for e in log.iter().filter(|e| e.0 == name) {
            match (e.2, start) {
                (true, None) => start = Some(e.3),
                (false, Some(s)) => {
                    out.push((name, s, e.3));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((name, s, Instant::now() + Duration::from_secs(3600)));
        }
    }
    out
}

async fn lease_moves_and_never_overlaps(db: Database) {
    let world = World::new().await;
    let tg = world.account(Platform::Telegram, Intake::Poll);
    let config = world.config(&db, vec![tg], &[]);
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let a = node(&world, config.clone(), "node-a", &log).await;
    eventually("node A polls", || async { polling(&log, "node-a") }).await;
    let b = node(&world, config, "node-b", &log).await;
    let owner = Api::signed_in(&b.url(), OWNER).await;
    let account = owner.account_id("Telegram demo").await;
    let demo = world.demo.account(Platform::Telegram).unwrap();
    world
        .sandbox
        .customer_sends(
            &demo.account.id,
            &demo.customer.id,
            &CustomerMessage::text("first"),
        )
        .unwrap();
    let conversation = owner.conversation_of(account).await;
    // Several lease lengths: A keeps renewing, B never polls.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(polling(&log, "node-a"));
    assert!(
        !log.lock().unwrap().iter().any(|e| e.0 == "node-b"),
        "node B polled while A held the lease"
    );

    // A dies without giving anything up; B takes over once the lease ran out.
    let died = Instant::now();
    a.abort();
    eventually("node B polls after A died", || async {
        polling(&log, "node-b")
    })
    .await;
    let took = died.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the lease moved in {took:?}"
    );
    world
        .sandbox
        .customer_sends(
            &demo.account.id,
            &demo.customer.id,
            &CustomerMessage::text("second"),
        )
        .unwrap();
    eventually("the second message arrives through node B", || async {
        owner
            .ok(&format!("/api/conversations/{conversation}/messages"))
            .await["messages"]
            .as_array()
            .unwrap()
            .len()
            == 2
    })
    .await;
    let texts: Vec<String> = owner
        .ok(&format!("/api/conversations/{conversation}/messages"))
        .await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, ["first", "second"], "nothing lost, nothing twice");

    // Never at the same time: every interval of A ends before any of B starts.
    let spans = intervals(&log);
    for (n1, s1, e1) in &spans {
        for (n2, s2, e2) in &spans {
            if n1 != n2 {
                assert!(
                    e1 <= s2 || e2 <= s1,
                    "{n1} and {n2} polled at the same time: {spans:?}"
                );
            }
        }
    }
    assert!(spans.iter().any(|s| s.0 == "node-a") && spans.iter().any(|s| s.0 == "node-b"));
    b.shutdown(Duration::from_secs(5)).await;
    // A graceful stop gives the lease up: B's last interval is closed.
    assert!(!polling(&log, "node-b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    tokio::time::timeout(
        Duration::from_secs(120),
        lease_moves_and_never_overlaps(Database::sqlite()),
    )
    .await
    .expect("the test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(db) = Database::postgres() else {
        eprintln!("SKIPPED: the PostgreSQL half of leases (set MESSENGER_PG_URL to run it)");
        return;
    };
    tokio::time::timeout(Duration::from_secs(120), lease_moves_and_never_overlaps(db))
        .await
        .expect("the test timed out");
}
