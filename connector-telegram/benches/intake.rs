//! Intake throughput of the Telegram connector beside the JSON floor (issue 14, item 1).
//!
//! Run: `cargo bench -p connector-telegram --bench intake` (the table of ratios is printed at
//! the end). The public corpus is `$MESSENGER_FIXTURES/telegram` (default
//! `../../shared/fixtures`, as the conformance tests read it): every file of `updates/`, and
//! the message of `messages/` inside an update, as the conformance test embeds it. The
//! project's own payloads are those of `benches/parse.rs` (`shared/platforms/telegram.md` §4).
//!
//! Each set is measured four ways over the same bytes (see `support/mod.rs`): `IgnoredAny`,
//! `Value`, [`connector_telegram::parse`] and `handle_webhook` with the right secret header.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

/// The intake harness every connector's bench shares (one file, in the tests crate).
#[path = "../../tests/benches/intake_support/mod.rs"]
mod support;

use std::path::PathBuf;

use connector_telegram::{SECRET_HEADER, TelegramBot, TelegramConfig};
use criterion::Criterion;
use messenger_core::Messenger;
use messenger_core::webhook::WebhookRequest;
use support::{Set, Webhook, measure, ready};

const SECRET: &str = "Bench_secret-token";

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
    let updates: Vec<String> = (0..100)
        .map(|i| {
            TEXT.replacen("812345678", &(812345678 + i).to_string(), 1)
                .replacen(
                    "\"message_id\":42",
                    &format!("\"message_id\":{}", 42 + i),
                    1,
                )
        })
        .collect();
    format!(r#"{{"ok":true,"result":[{}]}}"#, updates.join(","))
}

fn fixtures() -> PathBuf {
    let root = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = root.join("telegram");
    assert!(
        dir.join("updates").is_dir(),
        "fixtures folder {} is missing (set MESSENGER_FIXTURES to shared/fixtures)",
        dir.display()
    );
    dir
}

fn json_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Every update of the corpus, and its message inside an update.
fn public() -> Vec<Vec<u8>> {
    let dir = fixtures();
    let mut bodies: Vec<Vec<u8>> = json_files(dir.join("updates"))
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for p in json_files(dir.join("messages")) {
        let message = std::fs::read_to_string(p).unwrap();
        bodies.push(format!(r#"{{"update_id":1,"message":{message}}}"#).into_bytes());
    }
    assert!(bodies.len() >= 60, "only {} fixtures read", bodies.len());
    bodies
}

fn bot() -> TelegramBot {
    TelegramConfig::new("123456:bench-token")
        .base_url("http://127.0.0.1:9")
        .webhook_secret(SECRET)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let bot = bot();
    let parse = |body: &[u8]| connector_telegram::parse(body).unwrap().len();
    let request =
        |_: usize, body: &[u8]| WebhookRequest::post(body.to_vec()).header(SECRET_HEADER, SECRET);
    let handle = |_: usize, r: &WebhookRequest| ready(bot.handle_webhook(r)).unwrap();
    let verify = |r: &WebhookRequest| connector_telegram::webhook::verify(r, Some(SECRET)).is_ok();
    let webhook = Some(Webhook {
        request: &request,
        handle: &handle,
        verify: Some(&verify),
    });
    measure(
        c,
        Set {
            name: "telegram_public_updates",
            bodies: public(),
            parse: &parse,
            webhook,
        },
    );
    for (name, body) in [("telegram_own_text", TEXT), ("telegram_own_photo", PHOTO)] {
        measure(
            c,
            Set {
                name,
                bodies: vec![body.as_bytes().to_vec()],
                parse: &parse,
                webhook,
            },
        );
    }
    measure(
        c,
        Set {
            name: "telegram_own_getupdates_100",
            bodies: vec![batch().into_bytes()],
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
