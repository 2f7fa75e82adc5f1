//! Intake throughput of the MAX connector beside the JSON floor (issue 14, item 1).
//!
//! Run: `cargo bench -p connector-max --bench intake` (the table of ratios is printed at the
//! end). The public corpus is `$MESSENGER_FIXTURES/max` (the Go client's stubs, as the
//! conformance tests read them): every `webhook.*.json` (one update a body: `parse` and
//! `handle_webhook`) and every `update.*.json` (`GET /updates` answers: `parse`). The
//! project's own payloads follow `shared/platforms/max.md` §5.5–5.6: a text, a photo, and a
//! long-poll answer of 100 texts.
//!
//! Each set is measured over the same bytes as `IgnoredAny`, `Value`, [`connector_max::parse`],
//! `handle_webhook` with the right `X-Max-Bot-Api-Secret`, and the header check alone.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

/// The intake harness every connector's bench shares (one file, in the tests crate).
#[path = "../../tests/benches/intake_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use connector_max::{Max, MaxConfig, SECRET_HEADER};
use criterion::Criterion;
use messenger_core::Messenger;
use messenger_core::webhook::WebhookRequest;
use support::{Set, Webhook, measure, ready};

const SECRET: &str = "Bench_Secret-123";

/// A customer's text in a dialog (§5.5).
fn text(mid: &str) -> String {
    format!(
        r#"{{"update_type":"message_created","timestamp":1775025604499,"user_locale":"ru",
  "message":{{"sender":{{"user_id":123456789,"first_name":"John","last_name":"Doe","is_bot":false,"last_activity_time":1775024330000,"name":"John Doe"}},
  "recipient":{{"chat_id":182182182,"chat_type":"dialog","user_id":229229229}},
  "timestamp":1775025603399,
  "body":{{"mid":"{mid}","seq":116327994376978687,"text":"Здравствуйте! Где мой заказ №4521?"}}}}}}"#
    )
}

/// A photo with a caption (§5.6).
const PHOTO: &str = r#"{"update_type":"message_created","timestamp":1775025700000,
  "message":{"sender":{"user_id":123456789,"first_name":"John","is_bot":false},
  "recipient":{"chat_id":182182182,"chat_type":"dialog","user_id":229229229},
  "timestamp":1775025699000,
  "body":{"mid":"mid.0000000000a1b2c3","seq":116327994376978690,"text":"чек",
    "attachments":[{"type":"image","payload":{"photo_id":6543210987,"token":"f9LHodD0cOJ5BHZ8nQ7T","url":"https://i.oneme.ru/i?r=BTGBPUwtwgYUeoFhO7rESmr8"}}]}}}"#;

/// A `GET /updates` answer of 100 texts.
fn answer() -> String {
    let updates: Vec<String> = (0..100).map(|i| text(&format!("mid.{i:016x}"))).collect();
    format!(r#"{{"updates":[{}],"marker":25493970}}"#, updates.join(","))
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let max = dir.join("max");
    assert!(
        max.is_dir(),
        "fixtures folder {} is missing: set MESSENGER_FIXTURES to the path of shared/fixtures",
        max.display()
    );
    max
}

/// The files of the corpus whose names start with `prefix` and end with `.json`.
fn files(prefix: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let max: Max = MaxConfig::new("bench-token")
        .base_url("http://127.0.0.1:9")
        .webhook_secret(SECRET)
        .build()
        .unwrap();
    let parse = |body: &[u8]| connector_max::parse(body).unwrap().len();
    let request =
        |_: usize, body: &[u8]| WebhookRequest::post(body.to_vec()).header(SECRET_HEADER, SECRET);
    let handle = |_: usize, r: &WebhookRequest| ready(max.handle_webhook(r)).unwrap();
    let verify = |r: &WebhookRequest| connector_max::webhook::verify(r, Some(SECRET)).is_ok();
    let webhook = Some(Webhook {
        request: &request,
        handle: &handle,
        verify: Some(&verify),
    });
    let webhooks = files("webhook.");
    assert!(
        webhooks.len() >= 15,
        "only {} webhook fixtures",
        webhooks.len()
    );
    measure(
        c,
        Set {
            name: "max_public_webhooks",
            bodies: webhooks,
            parse: &parse,
            webhook,
        },
    );
    let answers = files("update.");
    assert!(answers.len() >= 9, "only {} update fixtures", answers.len());
    measure(
        c,
        Set {
            name: "max_public_updates_answers",
            bodies: answers,
            parse: &parse,
            webhook: None,
        },
    );
    for (name, body) in [
        ("max_own_text", text("mid.0000000000a1b2c4")),
        ("max_own_photo", PHOTO.to_owned()),
    ] {
        measure(
            c,
            Set {
                name,
                bodies: vec![body.into_bytes()],
                parse: &parse,
                webhook,
            },
        );
    }
    measure(
        c,
        Set {
            name: "max_own_updates_100",
            bodies: vec![answer().into_bytes()],
            parse: &parse,
            webhook: None,
        },
    );
}

fn main() {
    let mut c = support::criterion();
    bench(&mut c);
    c.final_summary();
    support::report();
}
