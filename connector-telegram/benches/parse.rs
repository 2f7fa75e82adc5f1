//! Criterion benchmarks of [`connector_telegram::parse`] on webhook bodies shaped like the
//! examples of `shared/platforms/telegram.md` §4 (illustrative values, written here).
//!
//! Run: `cargo bench -p connector-telegram --bench parse -- --warm-up-time 1 --measurement-time 2`
//!
//! `telegram_parse` measures [`connector_telegram::parse`] (what `messenger parse` runs: it
//! tells an update from an array or a getUpdates answer first); `telegram_parse_update`
//! measures [`connector_telegram::parse_update`], the one decoder the webhook and long polling
//! run per update.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A private text message with a command entity (§4.1).
const TEXT: &str = r#"{"update_id":812345678,"message":{"message_id":42,
  "from":{"id":123456789,"is_bot":false,"first_name":"Ivan","username":"ivan","language_code":"ru"},
  "chat":{"id":123456789,"type":"private","first_name":"Ivan","username":"ivan"},
  "date":1767225600,"text":"Здравствуйте! Где мой заказ №4521? /start",
  "entities":[{"offset":35,"length":6,"type":"bot_command"}]}}"#;

/// A photo in three sizes with a caption, in a supergroup (§4.2).
const PHOTO: &str = r#"{"update_id":812345679,"message":{"message_id":43,
  "from":{"id":123456789,"is_bot":false,"first_name":"Ivan"},
  "chat":{"id":-1001234567890,"type":"supergroup","title":"Team"},
  "date":1767225660,
  "photo":[
    {"file_id":"AgACAgIAAxkBAAIBZ2Wq1","file_unique_id":"AQADq1","width":90,"height":67,"file_size":1432},
    {"file_id":"AgACAgIAAxkBAAIBZ2Wq2","file_unique_id":"AQADr2","width":320,"height":240,"file_size":21450},
    {"file_id":"AgACAgIAAxkBAAIBZ2Wq3","file_unique_id":"AQADs3","width":1280,"height":960,"file_size":160233}],
  "caption":"receipt","media_group_id":"13612345678901234"}}"#;

/// A getUpdates answer of 100 text updates (a full long-poll batch).
fn batch() -> String {
    let update: serde_json::Value = serde_json::from_str(TEXT).unwrap();
    let updates: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut u = update.clone();
            u["update_id"] = (812345678 + i).into();
            u["message"]["message_id"] = (42 + i).into();
            u
        })
        .collect();
    serde_json::json!({"ok": true, "result": updates}).to_string()
}

fn bench(c: &mut Criterion) {
    let batch = batch();
    let mut group = c.benchmark_group("telegram_parse");
    for (name, body) in [("text", TEXT), ("photo", PHOTO), ("batch_100", &batch)] {
        assert!(
            !connector_telegram::parse(body.as_bytes())
                .unwrap()
                .is_empty()
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| connector_telegram::parse(black_box(body.as_bytes())).unwrap())
        });
    }
    group.finish();
    let mut group = c.benchmark_group("telegram_parse_update");
    for (name, body) in [("text", TEXT), ("photo", PHOTO)] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| connector_telegram::parse_update(black_box(body.as_bytes())).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
