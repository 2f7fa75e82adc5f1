//! Criterion benchmarks of [`connector_whatsapp::parse`] (and the routing peek) on webhook
//! deliveries shaped like the examples of `shared/platforms/whatsapp.md` §6 (illustrative values, written here).
//!
//! Run: `cargo bench -p connector-whatsapp --bench parse -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn envelope(value: Value) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "419561257915477",
        "changes": [{"field": "messages", "value": value}]}]})
    .to_string()
}

fn metadata() -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"})
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("whatsapp_parse");
    for (name, body) in [
        ("text", text()),
        ("image", image()),
        ("statuses_50", statuses()),
    ] {
        assert!(
            !connector_whatsapp::parse(body.as_bytes())
                .unwrap()
                .is_empty()
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| connector_whatsapp::parse(black_box(body.as_bytes())).unwrap())
        });
    }
    // The routing peek on the largest of them: only the phone-number ids are decoded.
    let body = statuses();
    let limit = connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY;
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("route_statuses_50", |b| {
        b.iter(|| {
            connector_whatsapp::webhook::phone_number_ids(black_box(body.as_bytes()), limit)
                .unwrap()
        })
    });
    group.finish();
}

// `criterion_group!` defines a public function it cannot document.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
