//! Intake throughput of the VK connector beside the JSON floor (issue 14, item 1).
//!
//! Run: `cargo bench -p connector-vk --bench intake` (the table of ratios is printed at the
//! end). The public corpus is `$MESSENGER_FIXTURES/vk/kutana_longpoll_session.json`: its Bots
//! Long Poll answers (`parse`), and each of their events as the Callback API would POST it,
//! with the community's `secret` added (`parse` and `handle_webhook`). The project's own
//! payloads are the examples of `shared/platforms/vk.md`: a text, a message with a photo, a
//! voice note and a file, and a Long Poll answer of 100 texts.
//!
//! Each set is measured over the same bytes as `IgnoredAny`, `Value`, [`connector_vk::parse`]
//! and `handle_webhook` (the secret is in the body, so its check is part of the parse).

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

/// The intake harness every connector's bench shares (one file, in the tests crate).
#[path = "../../tests/benches/intake_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use connector_vk::{Vk, VkConfig};
use criterion::Criterion;
use messenger_core::Messenger;
use messenger_core::webhook::WebhookRequest;
use serde_json::Value;
use support::{Set, Webhook, measure, ready};

const SECRET: &str = "Bench-Secret_7f3a";
/// The community of the own payloads.
const GROUP: u64 = 123456;

/// A customer's text (vk.md, "Inbound text (Callback)").
fn text(id: u64) -> String {
    format!(
        r#"{{"type":"message_new","group_id":{GROUP},"event_id":"3a6b1f0c5e2d4c1b{id:04x}","v":"5.199","secret":"{SECRET}",
 "object":{{
  "message":{{"id":{id},"date":1717000000,"peer_id":111,"from_id":111,"out":0,"version":10000123,
             "conversation_message_id":12,"text":"Здравствуйте! Где мой заказ №4521?","attachments":[],"fwd_messages":[],
             "important":false,"is_hidden":false}},
  "client_info":{{"button_actions":["text","vkpay","open_app","location","open_link","callback"],
                 "keyboard":true,"inline_keyboard":true,"carousel":true,"lang_id":0}}}}}}"#
    )
}

/// A photo, a voice note and a file (vk.md, "Inbound photo + voice + file").
fn attachments() -> String {
    format!(
        r#"{{"type":"message_new","group_id":{GROUP},"event_id":"3a6b1f0c5e2d4c1ba001","v":"5.199","secret":"{SECRET}",
 "object":{{
  "message":{{"id":346,"date":1717000000,"peer_id":111,"from_id":111,"out":0,"version":10000124,
             "conversation_message_id":13,"text":"","fwd_messages":[],"important":false,"is_hidden":false,
"attachments":[
 {{"type":"photo","photo":{{"id":457239017,"owner_id":111,"album_id":-3,"date":1717000000,"access_key":"8f1e2d",
   "has_tags":false,"text":"","sizes":[{{"type":"s","url":"https://sun9-1.userapi.com/s.jpg","width":75,"height":56}},
                                       {{"type":"x","url":"https://sun9-1.userapi.com/x.jpg","width":604,"height":453}}]}}}},
 {{"type":"audio_message","audio_message":{{"id":654321,"owner_id":111,"duration":4,"access_key":"c0ffee",
   "link_ogg":"https://psv4.userapi.com/c1/audiomsg.ogg","link_mp3":"https://psv4.userapi.com/c1/audiomsg.mp3",
   "waveform":[0,3,7,12,9,4]}}}},
 {{"type":"doc","doc":{{"id":6789,"owner_id":111,"title":"invoice.pdf","size":48213,"ext":"pdf","type":1,
   "date":1717000000,"url":"https://vk.com/doc111_6789?hash=ab12","access_key":"ab12"}}}}]}},
  "client_info":{{"button_actions":["text"],"keyboard":true,"inline_keyboard":true,"carousel":true,"lang_id":0}}}}}}"#
    )
}

/// A Long Poll answer of 100 texts (events carry no `secret` there).
fn answer() -> String {
    let updates: Vec<String> = (0..100)
        .map(|i| text(1000 + i).replace(&format!(r#""secret":"{SECRET}","#), ""))
        .collect();
    format!(r#"{{"ts":"5","updates":[{}]}}"#, updates.join(","))
}

fn session() -> Vec<Value> {
    let root = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let path = root.join("vk/kutana_longpoll_session.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set MESSENGER_FIXTURES to the path of shared/fixtures)",
            path.display()
        )
    });
    let session: Value = serde_json::from_slice(&bytes).unwrap();
    session.as_array().unwrap().clone()
}

/// The session's Long Poll answers, and each of their events as a Callback body with the
/// secret; the community they are for.
fn public() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, u64) {
    let mut answers = Vec::new();
    let mut events = Vec::new();
    let mut group = 0;
    for call in session() {
        if !call["url"].as_str().unwrap().contains("act=a_check") {
            continue;
        }
        answers.push(serde_json::to_vec(&call["response"]).unwrap());
        for update in call["response"]["updates"].as_array().unwrap() {
            group = update["group_id"].as_u64().unwrap();
            let mut update = update.clone();
            update["secret"] = SECRET.into();
            events.push(serde_json::to_vec(&update).unwrap());
        }
    }
    assert!(
        answers.len() >= 3 && events.len() >= 2,
        "the session is short"
    );
    (answers, events, group)
}

fn vk(group: u64) -> Vk {
    VkConfig::new("vk1.a.bench-token", group)
        .base_url("http://127.0.0.1:9")
        .secret(SECRET)
        .confirmation("693d0ba9")
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let (answers, events, group) = public();
    let parse = |body: &[u8]| connector_vk::parse(body).unwrap().len();
    let request = |_: usize, body: &[u8]| WebhookRequest::post(body.to_vec());
    let public_vk = vk(group);
    let handle = |_: usize, r: &WebhookRequest| ready(public_vk.handle_webhook(r)).unwrap();
    measure(
        c,
        Set {
            name: "vk_public_callback_events",
            bodies: events,
            parse: &parse,
            webhook: Some(Webhook {
                request: &request,
                handle: &handle,
                verify: None,
            }),
        },
    );
    measure(
        c,
        Set {
            name: "vk_public_longpoll_answers",
            bodies: answers,
            parse: &parse,
            webhook: None,
        },
    );
    let own_vk = vk(GROUP);
    let handle = |_: usize, r: &WebhookRequest| ready(own_vk.handle_webhook(r)).unwrap();
    let webhook = Some(Webhook {
        request: &request,
        handle: &handle,
        verify: None,
    });
    for (name, body) in [
        ("vk_own_text", text(345)),
        ("vk_own_attachments", attachments()),
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
            name: "vk_own_longpoll_100",
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
