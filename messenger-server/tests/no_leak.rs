//! No route writes message content, passwords, tokens, tickets, keys or customers' ids into the
//! logs: the `tracing` output of a full API cycle (at TRACE for the project's crates) is
//! captured and searched for every one of them.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::*;
use messenger_core::Platform;
use messenger_sandbox::{AccountPatch, CustomerMessage};
use messenger_server::config::Intake;
use reqwest::StatusCode;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_api_cycle_logs_no_content_and_no_credential() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,messenger_server=trace,messenger_inbox=trace,messenger_core=trace,messenger_http=trace,messenger_sandbox=trace,connector_telegram=trace,connector_whatsapp=trace,connector_vk=trace",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let secrets = tokio::time::timeout(Duration::from_secs(180), cycle())
        .await
        .expect("the test timed out");
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("signed in"), "the capture works");
    assert!(logs.len() > 2000, "the cycle logged something");
    for secret in secrets {
        assert!(!logs.contains(&secret), "the logs contain `{secret}`");
    }
}

/// Runs the cycle; returns everything that must not be logged.
async fn cycle() -> Vec<String> {
    let world = World::new().await;
    let db = Database::sqlite();
    let tg = world.account(Platform::Telegram, Intake::Poll);
    let wa = world.account(Platform::WhatsApp, Intake::Webhook);
    let names = [tg.name.clone(), wa.name.clone()];
    let config = world.config(&db, vec![tg, wa], &[&names[0], &names[1]]);
    let server = world.start(config).await;
    let url = server.url();
    let demo_tg = world.demo.account(Platform::Telegram).unwrap();
    let demo_wa = world.demo.account(Platform::WhatsApp).unwrap();
    let owner = Api::signed_in(&url, OWNER).await;
    let agent = Api::signed_in(&url, AGENT).await;
    let wa_id = owner.account_id(&names[1]).await;
    world
        .sandbox
        .update_account(
            &demo_wa.account.id,
            &AccountPatch {
                webhook_url: Some(format!("{url}/webhooks/whatsapp/{wa_id}")),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let (_, ticket) = agent.post("/api/auth/ticket", json!({})).await;
    let ticket_token = ticket["ticket"].as_str().unwrap().to_owned();
    let mut events = Events::open(
        &agent.http,
        &format!("{url}{}", ticket["url"].as_str().unwrap()),
        None,
    )
    .await;
    events.next_named("ready").await;

    let inbound_tg = "inbound-telegram-CONTENT-6b1f";
    let inbound_wa = "inbound-whatsapp-CONTENT-93ce";
    world
        .sandbox
        .customer_sends(
            &demo_tg.account.id,
            &demo_tg.customer.id,
            &CustomerMessage::text(inbound_tg),
        )
        .unwrap();
    let conversation = events.next_named("new_message").await["conversation"]
        .as_i64()
        .unwrap();
    world
        .sandbox
        .customer_sends(
            &demo_wa.account.id,
            &demo_wa.customer.id,
            &CustomerMessage::text(inbound_wa),
        )
        .unwrap();
    events.next_named("new_message").await;

    let outbound = "outbound-reply-CONTENT-d41d";
    let caption = "outbound-caption-CONTENT-77aa";
    let file_name = "outbound-FILENAME-1c2d.txt";
    let key = "client-key-CONTENT-5e5e";
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation}/plan"),
            json!({"draft": {"kind": "text", "text": outbound}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": key, "draft": {"kind": "text", "text": outbound}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": key, "draft": {"kind": "text", "text": outbound}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": "file-1", "draft": {"kind": "file", "caption": caption,
                   "media": {"data": base64::engine::general_purpose::STANDARD.encode(b"file body"), "mime_type": "text/plain", "file_name": file_name}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually("both sends reach the customer", || async {
        world
            .sandbox
            .received(&demo_tg.account.id, &demo_tg.customer.id)
            .unwrap()
            .len()
            >= 2
    })
    .await;
    agent
        .ok(&format!("/api/conversations/{conversation}/messages"))
        .await;
    agent.ok(&format!("/api/search?q={inbound_tg}")).await;
    let customer = agent
        .ok(&format!("/api/conversations/{conversation}"))
        .await["customer"]["id"]
        .as_i64()
        .unwrap();
    owner.ok(&format!("/api/customers/{customer}/export")).await;
    // A malformed body quoting content; a wrong password.
    let _ = owner
        .http
        .post(format!("{url}/api/employees"))
        .bearer_auth(owner.token.as_ref().unwrap())
        .header("content-type", "application/json")
        .body(format!(
            "{{\"name\": \"{outbound}\", \"role\": \"{caption}\"}}"
        ))
        .send()
        .await
        .unwrap();
    let wrong_password = "wrong-PASSWORD-8e8e";
    let _ = Api::new(&url)
        .post(
            "/api/auth/sign-in",
            json!({"login": "anna", "password": wrong_password}),
        )
        .await;
    // An API key, shown once and used.
    let agent_id = agent.ok("/api/me").await["employee"]["id"]
        .as_i64()
        .unwrap();
    let (_, created) = owner
        .post(
            "/api/api-keys",
            json!({"employee": agent_id, "name": "sync"}),
        )
        .await;
    let api_key = created["key"].as_str().unwrap().to_owned();
    let mut machine = Api::new(&url);
    machine.token = Some(api_key.clone());
    machine.ok("/api/conversations").await;
    // A forged webhook.
    let _ = reqwest::Client::new()
        .post(format!("{url}/webhooks/whatsapp/{wa_id}"))
        .header("x-hub-signature-256", format!("sha256={}", "1".repeat(64)))
        .body(format!("{{\"text\": \"{inbound_wa}\"}}"))
        .send()
        .await
        .unwrap();
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.shutdown(Duration::from_secs(10)).await;
    assert!(!metrics.contains(outbound));

    let credentials = world.sandbox.credentials(&demo_tg.account.id).unwrap();
    let bot_token = credentials.get("token").unwrap().to_owned();
    let wa_credentials = world.sandbox.credentials(&demo_wa.account.id).unwrap();
    vec![
        inbound_tg.to_owned(),
        inbound_wa.to_owned(),
        outbound.to_owned(),
        caption.to_owned(),
        file_name.to_owned(),
        key.to_owned(),
        wrong_password.to_owned(),
        OWNER.1.to_owned(),
        AGENT.1.to_owned(),
        owner.token.clone().unwrap(),
        agent.token.clone().unwrap(),
        ticket_token,
        api_key,
        bot_token,
        wa_credentials.get("token").unwrap().to_owned(),
        wa_credentials.get("app_secret").unwrap().to_owned(),
        demo_wa.customer.id.clone(),
        "operator-token-for-tests".to_owned(),
    ]
}
