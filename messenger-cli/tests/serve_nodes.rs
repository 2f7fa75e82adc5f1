//! Several nodes on one PostgreSQL: two `messenger serve` PROCESSES with one configuration.
//!
//! - A webhook posted to node A (the sandbox's WhatsApp delivers there) appears in the event
//!   stream opened on node B.
//! - A burst of sends enqueued on both nodes (some keys repeated on the other node) is sent
//!   once each; node A is killed (SIGKILL) while sends are in flight, and nothing is lost:
//!   every message reaches the sandbox's customer phone exactly once (VK drops a repeated
//!   `random_id`, so the rows A had claimed are resent under their keys by B).
//! - The long-poll lease moves to B: a customer's message after the kill still arrives.
//!
//! Needs `MESSENGER_PG_URL` (set by `.ci/run`); without it the test says it was skipped.
#![allow(clippy::print_stderr)]

mod serve_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use messenger_core::Platform;
use messenger_sandbox::{AccountPatch, CustomerMessage, Fault, FaultSpec, NewCustomer};
use serde_json::json;
use serve_common::*;

const BURST: usize = 32;
const EXTRA_CUSTOMERS: usize = 3;

fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "key"]
        .iter()
        .any(|w| k.contains(w))
        && k != "phone_number_id"
}

/// Writes `value` into `dir/name` and returns its `file:` reference.
fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    format!("file:{}", path.display())
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_intake_events_and_sends() {
    let Ok(url) = std::env::var("MESSENGER_PG_URL") else {
        eprintln!(
            "SKIPPED: the multi-node test needs MESSENGER_PG_URL (a PostgreSQL database); .ci/run sets it"
        );
        return;
    };
    tokio::time::timeout(Duration::from_secs(240), run(url))
        .await
        .expect("the test timed out");
}

async fn run(pg: String) {
    let dir = std::env::temp_dir().join(format!("messenger-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = format!("nodes_{}", std::process::id());
    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();

    // One configuration for both nodes: accounts by secret files, a short lease.
    let mut accounts = String::new();
    for platform in [Platform::WhatsApp, Platform::Vk] {
        let d = demo.account(platform).unwrap();
        let credentials = sandbox.credentials(&d.account.id).unwrap();
        let (mut settings, mut secrets) = (BTreeMap::new(), BTreeMap::new());
        for key in credentials.keys() {
            let value = credentials.get(key).unwrap_or_default();
            if is_secret(key) {
                secrets.insert(
                    key.to_owned(),
                    secret_file(&dir, &format!("{}-{key}", platform.as_str()), value),
                );
            } else {
                settings.insert(key.to_owned(), value.to_owned());
            }
        }
        let table = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k} = {}", toml_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        accounts.push_str(&format!(
            "\n[[accounts]]\nname = \"{} shop\"\nplatform = \"{}\"\nactivate = true\nsettings = {{ {} }}\nsecrets = {{ {} }}\n",
            platform.as_str(),
            platform.as_str(),
            table(&settings),
            table(&secrets)
        ));
    }
    let key = secret_file(&dir, "acceptance-key", &"5a".repeat(32));
    let password = secret_file(&dir, "owner-password", "nodes-owner-pass");
    let url_ref = secret_file(&dir, "database-url", &pg);
    let config = |node: &str| {
        format!(
            r#"listen = "127.0.0.1:0"
database_url_ref = "{url_ref}"
database_schema = "{schema}"
acceptance_key = "{key}"
node = "{node}"
outbox_workers = 2
outbox_lease_seconds = 2

[polling]
lease_seconds = 2

[agreement]
edition = "2026-05"
published = "2026-05-01T00:00:00Z"
url = "https://crm.example/agreement"
text = "the agreement"

[workspace]
name = "Shop"

[[employees]]
login = "anna"
name = "Anna"
role = "owner"
password = "{password}"
{accounts}"#
        )
    };
    let config_a = dir.join("node-a.toml");
    let config_b = dir.join("node-b.toml");
    std::fs::write(&config_a, config("node-a")).unwrap();
    std::fs::write(&config_b, config("node-b")).unwrap();
    let a = Node::start(&["--config", config_a.to_str().unwrap()], &[]);
    let b = Node::start(&["--config", config_b.to_str().unwrap()], &[]);
    // One sign-in serves every node: sessions are in the database.
    let on_a = Api::signed_in(&a.url, "anna", "nodes-owner-pass").await;
    let on_b = on_a.at(&b.url);
    let wa = on_b.account_of("whatsapp").await;
    let vk = on_b.account_of("vk").await;

    // A webhook to node A, an event on node B.
    let demo_wa = demo.account(Platform::WhatsApp).unwrap();
    sandbox
        .update_account(
            &demo_wa.account.id,
            &AccountPatch {
                webhook_url: Some(format!("{}/webhooks/whatsapp/{wa}", a.url)),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let mut events_b = on_b.events().await;
    let sent_at = Instant::now();
    sandbox
        .customer_sends(
            &demo_wa.account.id,
            &demo_wa.customer.id,
            &CustomerMessage::text("to node A"),
        )
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (name, data) = tokio::time::timeout_at(deadline, events_b.recv())
            .await
            .expect("node B's stream got no new_message within the wait")
            .expect("node B's stream ended");
        if name == "new_message" && data["account"].as_i64() == Some(wa) {
            break;
        }
    }
    let fan_out = sent_at.elapsed();
    let delivered_to = sandbox.deliveries(&demo_wa.account.id).unwrap();
    assert!(
        delivered_to.iter().any(|d| d.status == Some(200)),
        "the webhook went to node A"
    );

    // VK customers write (polled by whichever node holds the lease).
    let demo_vk = demo.account(Platform::Vk).unwrap();
    let mut customers = vec![demo_vk.customer.id.clone()];
    for i in 0..EXTRA_CUSTOMERS {
        let c = sandbox
            .create_customer(
                &demo_vk.account.id,
                &NewCustomer::named(format!("Customer {i}")).allows_messages(true),
            )
            .unwrap();
        customers.push(c.id);
    }
    for c in &customers {
        sandbox
            .customer_sends(&demo_vk.account.id, c, &CustomerMessage::text("hi"))
            .unwrap();
    }
    eventually("every VK customer's conversation", WAIT, || async {
        let list = on_b.ok(&format!("/api/conversations?account={vk}")).await;
        list["conversations"].as_array().unwrap().len() == customers.len()
    })
    .await;
    let list = on_b.ok(&format!("/api/conversations?account={vk}")).await;
    let conversations: Vec<i64> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();

    // The burst: enqueued on both nodes, the platform holding the first sends in flight.
    sandbox
        .inject_fault(
            &demo_vk.account.id,
            &FaultSpec::new(Fault::Delay { millis: 1500 })
                .times(12)
                .operation("messages.send"),
        )
        .unwrap();
    let mut rows = BTreeMap::new();
    for i in 0..BURST {
        let api = if i % 2 == 0 { &on_a } else { &on_b };
        let conversation = conversations[i % conversations.len()];
        let body = json!({"idempotency_key": format!("burst-{i}"), "draft": {"kind": "text", "text": format!("burst {i}")}});
        let (status, entry) = api
            .post(
                &format!("/api/conversations/{conversation}/messages"),
                body.clone(),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{entry}");
        rows.insert(i, entry["id"].as_i64().unwrap());
        // Every fourth key is sent again, to the other node: the first row, no second send.
        if i % 4 == 0 {
            let other = if i % 2 == 0 { &on_b } else { &on_a };
            let (status, again) = other
                .post(&format!("/api/conversations/{conversation}/messages"), body)
                .await;
            assert_eq!(status, reqwest::StatusCode::OK);
            assert_eq!(again["id"], entry["id"]);
        }
    }
    // Node A dies mid-burst: some sends confirmed, others held in flight by the platform.
    let confirmed = || {
        sandbox
            .requests(&demo_vk.account.id)
            .unwrap()
            .iter()
            .filter(|r| r.operation == "messages.send" && r.status == 200)
            .count()
    };
    eventually("the first sends are confirmed", WAIT, || async {
        confirmed() >= 4
    })
    .await;
    let sent_before_kill = confirmed();
    a.kill();
    let killed_at = Instant::now();

    // Node B finishes everything: rows A had claimed are recovered after their lease.
    eventually(
        "every burst row is sent",
        Duration::from_secs(90),
        || async {
            let mut all = true;
            for id in rows.values() {
                let entry = on_b.ok(&format!("/api/outbox/{id}")).await;
                if entry["state"] != "sent" {
                    all = false;
                    break;
                }
            }
            all
        },
    )
    .await;
    let recovered_in = killed_at.elapsed();
    // Rows node A had claimed when it died were attempted again by node B.
    let mut resent = 0;
    for id in rows.values() {
        if on_b.ok(&format!("/api/outbox/{id}")).await["attempts"]
            .as_i64()
            .unwrap_or(0)
            > 1
        {
            resent += 1;
        }
    }
    let mut delivered = BTreeMap::new();
    for c in &customers {
        for m in sandbox.received(&demo_vk.account.id, c).unwrap() {
            if let Some(text) = m.text.as_deref().filter(|t| t.starts_with("burst ")) {
                let n: usize = text["burst ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                *delivered.entry(n).or_insert(0) += 1;
            }
        }
    }
    let requests = sandbox
        .requests(&demo_vk.account.id)
        .unwrap()
        .iter()
        .filter(|r| r.operation == "messages.send")
        .count();
    let lost: Vec<usize> = (0..BURST).filter(|i| !delivered.contains_key(i)).collect();
    let twice: Vec<usize> = delivered
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| *i)
        .collect();
    eprintln!(
        "multi-node: webhook on A -> event on B in {fan_out:?}; burst of {BURST} sends ({} repeated keys), {sent_before_kill} confirmed before node A was killed; \
         all sent {recovered_in:?} after the kill; {resent} rows attempted again after the kill, {requests} messages.send requests; delivered {} distinct, lost {lost:?}, duplicated {twice:?}",
        BURST.div_ceil(4),
        delivered.len()
    );
    assert!(sent_before_kill < BURST, "A was killed mid-burst");
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(twice.is_empty(), "delivered twice: {twice:?}");

    // The poll lease moved to B if A held it: VK intake goes on.
    sandbox
        .customer_sends(
            &demo_vk.account.id,
            &demo_vk.customer.id,
            &CustomerMessage::text("after the kill"),
        )
        .unwrap();
    eventually("VK intake continues on node B", WAIT, || async {
        let list = on_b.ok("/api/search?q=after%20the%20kill").await;
        list["hits"].as_array().is_some_and(|h| !h.is_empty())
    })
    .await;
    let status = b.stop();
    assert!(status.success(), "node B stops cleanly: {status}");
    sandbox.shutdown().await;
    let _ = tokio::process::Command::new("psql")
        .arg(&pg)
        .arg("-q")
        .arg("-c")
        .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}
