//! Intake throughput of the Avito connector beside the JSON floor (issue 14, item 1).
//!
//! Run: `cargo bench -p connector-avito --bench intake` (the table of ratios is printed at the
//! end). Avito has no public corpus in `shared/fixtures`; the payloads are the project's own,
//! written from the examples of `shared/platforms/avito.md` §4 as the connector's tests write
//! them: a text, an image and a voice note (webhook v3 deliveries), and a JSON array of 100
//! text deliveries (what `messenger parse` also takes).
//!
//! Each set is measured over the same bytes as `IgnoredAny`, `Value`,
//! [`connector_avito::parse`], `handle_webhook` with the URL token, and the token check alone.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

/// The intake harness every connector's bench shares (one file, in the tests crate).
#[path = "../../tests/benches/intake_support/mod.rs"]
mod support;

use connector_avito::webhook::{TOKEN_PARAM, verify_token};
use connector_avito::{Avito, AvitoConfig};
use criterion::Criterion;
use messenger_core::Messenger;
use messenger_core::webhook::WebhookRequest;
use support::{Set, Webhook, measure, ready};

const TOKEN: &str = "Wh-Token_8c41f0d2-unguessable";

/// A webhook v3 delivery of one message `value`.
fn delivery(value: &str) -> String {
    format!(
        r#"{{"id":"7f3c9a10-5b1e-4d2a-9c61-0b8e2f4a6d11","version":"v3.0.0","timestamp":1717000000,
 "payload":{{"type":"message","value":{value}}}}}"#
    )
}

/// A customer's text (§4, "Inbound text").
fn text(id: u32) -> String {
    delivery(&format!(
        r#"{{
   "id":"3e798a9bf88345ae8fe85ff8912{id:05x}","chat_id":"u2i-y9ykWR1EkNOJJMaE9i9m8w","chat_type":"u2i",
   "user_id":94235311,"author_id":51234567,"created":1717000000,"published_at":"2024-05-29T16:26:40Z",
   "type":"text","content":{{"text":"Здравствуйте, ещё продаётся?"}},"item_id":1768287444,"read":null}}"#
    ))
}

/// An image in four sizes (§4, "Inbound image").
fn image() -> String {
    delivery(
        r#"{"id":"5083651369a3e79f0c1d2e3f4a5b6c7d","chat_id":"u2i-y9ykWR1EkNOJJMaE9i9m8w","chat_type":"u2i",
 "user_id":94235311,"author_id":51234567,"created":1717000100,
 "type":"image","content":{"image":{"sizes":{"1280x960":"https://img.k.avito.ru/chat/1280x960/5083651369.3e79a1b2.jpg",
   "640x480":"https://img.k.avito.ru/chat/640x480/5083651369.3e79a1b2.jpg","140x105":"https://img.k.avito.ru/chat/140x105/5083651369.3e79a1b2.jpg",
   "32x32":"https://img.k.avito.ru/chat/32x32/5083651369.3e79a1b2.jpg"}}}}"#,
    )
}

/// A voice note (§4, "Inbound voice").
fn voice() -> String {
    delivery(
        r#"{"id":"6a1b2c3d4e5f60718293a4b5c6d7e8f9","chat_id":"u2i-y9ykWR1EkNOJJMaE9i9m8w","chat_type":"u2i",
 "user_id":94235311,"author_id":51234567,"created":1717000200,
 "type":"voice","content":{"voice":{"voice_id":"b1c2d3e4"}}}"#,
    )
}

/// 100 text deliveries in one JSON array.
fn array() -> String {
    let items: Vec<String> = (0..100).map(text).collect();
    format!("[{}]", items.join(","))
}

fn avito() -> Avito {
    AvitoConfig::new("bench-client-id", "bench-client-secret")
        .base_url("http://127.0.0.1:9")
        .user_id(94_235_311)
        .webhook_token(TOKEN)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let avito = avito();
    let parse = |body: &[u8]| connector_avito::parse(body).unwrap().len();
    let request = |_: usize, body: &[u8]| {
        let mut request = WebhookRequest::post(body.to_vec());
        request.query = Some(format!("account=shop-1&{TOKEN_PARAM}={TOKEN}"));
        request
    };
    let handle = |_: usize, r: &WebhookRequest| ready(avito.handle_webhook(r)).unwrap();
    let verify = |r: &WebhookRequest| verify_token(r, Some(TOKEN)).is_ok();
    let webhook = Some(Webhook {
        request: &request,
        handle: &handle,
        verify: Some(&verify),
    });
    for (name, body) in [
        ("avito_own_text", text(1)),
        ("avito_own_image", image()),
        ("avito_own_voice", voice()),
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
            name: "avito_own_array_100",
            bodies: vec![array().into_bytes()],
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
