//! Intake throughput of the WhatsApp connector beside the JSON floor (issue 14, item 1).
//!
//! Run: `cargo bench -p connector-whatsapp --bench intake` (the table of ratios is printed at
//! the end). The public corpus is every webhook payload of `$MESSENGER_FIXTURES/whatsapp`
//! (pywa's test cases and the examples of Meta's OpenAPI file), each written compactly as the
//! conformance tests write it; the project's own payloads are those of `benches/parse.rs`
//! (`shared/platforms/whatsapp.md` §6).
//!
//! Each set is measured over the same bytes as `IgnoredAny`, `Value`,
//! [`connector_whatsapp::parse`], `handle_webhook` (signed with the app secret, served by a
//! connector of the delivery's phone number, as in the conformance test) and
//! [`verify_signature`](connector_whatsapp::webhook::verify_signature) alone: the HMAC-SHA256
//! over the body is part of `handle_webhook`, and its share is reported.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

/// The intake harness every connector's bench shares (one file, in the tests crate).
#[path = "../../tests/benches/intake_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use connector_whatsapp::webhook::{SIGNATURE_HEADER, phone_number_ids, verify_signature};
use connector_whatsapp::{DEFAULT_MAX_WEBHOOK_BODY, WhatsApp, WhatsAppConfig};
use criterion::Criterion;
use messenger_core::Messenger;
use messenger_core::webhook::{WebhookRequest, hmac_sha256_hex};
use serde_json::{Value, json};
use support::{Set, Webhook, measure, ready};

const APP_SECRET: &str = "bench-app-secret-7d2e";
const PHONE_ID: &str = "106540352242922";

fn envelope(value: Value) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "419561257915477",
        "changes": [{"field": "messages", "value": value}]}]})
    .to_string()
}

fn metadata() -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_ID})
}

/// One inbound text with its contact.
fn text() -> String {
    envelope(
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "timestamp": "1749416383", "type": "text",
            "text": {"body": "Does it come in another color?"}}]}),
    )
}

/// One inbound image with a caption.
fn image() -> String {
    envelope(
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgB=",
            "timestamp": "1744344496", "type": "image",
            "image": {"caption": "Taj Mahal", "mime_type": "image/jpeg",
                "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "1003383421387256"}}]}),
    )
}

/// 50 statuses (sent, delivered, read, failed with 131047) in one delivery.
fn statuses() -> String {
    let names = ["sent", "delivered", "read", "failed"];
    let statuses: Vec<Value> = (0..50)
        .map(|i| {
            let name = names[i % names.len()];
            let mut s = json!({"id": format!("wamid.gBGGFlCGg0cvAglAxydbAoy-gw{i:03}"),
                "status": name, "timestamp": (1603086313 + i).to_string(),
                "recipient_id": "16315551234",
                "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}});
            if name == "failed" {
                s["errors"] = json!([{"code": 131047, "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]);
            }
            s
        })
        .collect();
    envelope(json!({"messaging_product": "whatsapp", "metadata": metadata(), "statuses": statuses}))
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let wa = dir.join("whatsapp");
    assert!(
        wa.is_dir(),
        "fixtures folder {} is missing: set MESSENGER_FIXTURES to the path of shared/fixtures",
        wa.display()
    );
    wa
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every webhook payload of the corpus (any JSON object with an `entry` array, or a case of a
/// file of cases), written compactly.
fn public() -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for path in json_files(&fixtures()) {
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Value::Object(map) = value else { continue };
        if map.get("entry").is_some_and(Value::is_array) {
            bodies.push(serde_json::to_vec(&map).unwrap());
            continue;
        }
        for (_, case) in map {
            if case.get("entry").is_some_and(Value::is_array) {
                bodies.push(serde_json::to_vec(&case).unwrap());
            }
        }
    }
    assert!(
        bodies.len() >= 40,
        "only {} webhook cases read",
        bodies.len()
    );
    bodies
}

/// The connector of the first phone number a delivery is for, as the conformance test serves
/// it.
fn connector(body: &[u8]) -> WhatsApp {
    let number = phone_number_ids(body, DEFAULT_MAX_WEBHOOK_BODY)
        .unwrap()
        .into_iter()
        .next()
        .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| PHONE_ID.to_owned());
    WhatsAppConfig::new("bench-token", number)
        .app_secret(APP_SECRET)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap()
}

fn signed(body: &[u8]) -> WebhookRequest {
    WebhookRequest::post(body.to_vec()).header(
        SIGNATURE_HEADER,
        format!("sha256={}", hmac_sha256_hex(APP_SECRET.as_bytes(), body)),
    )
}

fn set(c: &mut Criterion, name: &str, bodies: Vec<Vec<u8>>) {
    let connectors: Vec<WhatsApp> = bodies.iter().map(|b| connector(b)).collect();
    let parse = |body: &[u8]| connector_whatsapp::parse(body).unwrap().len();
    let request = |_: usize, body: &[u8]| signed(body);
    let handle = |i: usize, r: &WebhookRequest| ready(connectors[i].handle_webhook(r)).unwrap();
    let verify = |r: &WebhookRequest| verify_signature(r, Some(APP_SECRET)).is_ok();
    measure(
        c,
        Set {
            name,
            bodies,
            parse: &parse,
            webhook: Some(Webhook {
                request: &request,
                handle: &handle,
                verify: Some(&verify),
            }),
        },
    );
}

fn bench(c: &mut Criterion) {
    set(c, "whatsapp_public_webhooks", public());
    set(c, "whatsapp_own_text", vec![text().into_bytes()]);
    set(c, "whatsapp_own_image", vec![image().into_bytes()]);
    set(c, "whatsapp_own_statuses_50", vec![statuses().into_bytes()]);
}

fn main() {
    let mut c = support::criterion();
    bench(&mut c);
    c.final_summary();
    support::report();
}
