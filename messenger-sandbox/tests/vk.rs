//! The VK emulator over HTTP, as a connector sees it: the envelope and every error shape,
//! `groups.getById`, `messages.send` with consent, limits and `random_id` de-duplication, the
//! upload servers, downloads, edits, deletes, reads, the Bots Long Poll with `failed` answers,
//! Callback deliveries with the secret and the confirmation handshake, the rate limit, group
//! chats, faults, the demo community, and logs without content.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::{client, eventually, ogg, pdf, png, sandbox, sandbox_with, strict};
use messenger_core::registry::BASE_URL;
use messenger_core::{ErrorKind, Platform};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageDirection,
    MessageKind, MessageStatus, NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const V: &str = "5.199";

/// A sandbox community and a client of its API.
struct Vk {
    sandbox: Sandbox,
    http: reqwest::Client,
    account: SandboxAccount,
}

impl Vk {
    async fn new() -> Self {
        Self::with(sandbox().await, AccountSpec::vk()).await
    }

    async fn with(sandbox: Sandbox, spec: AccountSpec) -> Self {
        let account = sandbox.create_account(&spec).unwrap();
        Self {
            sandbox,
            http: client(),
            account,
        }
    }

    fn root(&self) -> String {
        self.sandbox
            .urls()
            .platform(Platform::Vk)
            .unwrap()
            .to_string()
    }

    fn group(&self) -> i64 {
        self.account.id.parse().unwrap()
    }

    /// A customer who wrote to the community or allowed its messages.
    fn allowed_customer(&self, name: &str) -> String {
        self.sandbox
            .create_customer(
                &self.account.id,
                &NewCustomer::named(name).allows_messages(true),
            )
            .unwrap()
            .id
    }

    /// `POST {vk}/method/<name>` form-encoded with the bearer token and `v`.
    async fn call(&self, method: &str, params: &[(&str, &str)]) -> Value {
        self.call_as(&self.account.token, method, params).await
    }

    async fn call_as(&self, token: &str, method: &str, params: &[(&str, &str)]) -> Value {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("v", V));
        let resp = self
            .http
            .post(format!("{}/method/{method}", self.root()))
            .bearer_auth(token)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "VK answers errors inside HTTP 200");
        resp.json().await.unwrap()
    }

    async fn send_text(&self, peer: &str, random_id: i64, text: &str) -> Value {
        let random_id = random_id.to_string();
        self.call(
            "messages.send",
            &[
                ("peer_id", peer),
                ("random_id", &random_id),
                ("message", text),
            ],
        )
        .await
    }

    /// `groups.getLongPollServer`: (server, key, ts).
    async fn lp_server(&self) -> (String, String, String) {
        let group = self.account.id.clone();
        let r = self
            .call("groups.getLongPollServer", &[("group_id", &group)])
            .await;
        let s = &r["response"];
        (
            s["server"].as_str().unwrap().to_string(),
            s["key"].as_str().unwrap().to_string(),
            s["ts"].as_str().unwrap().to_string(),
        )
    }

    async fn a_check(&self, server: &str, key: &str, ts: &str, wait: u64) -> Value {
        self.http
            .get(server)
            .query(&[
                ("act", "a_check"),
                ("key", key),
                ("ts", ts),
                ("wait", &wait.to_string()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every event from the first unconfirmed one on (one a_check, no waiting).
    async fn events(&self) -> Vec<Value> {
        let (server, key, ts) = self.lp_server().await;
        let answer = self.a_check(&server, &key, &ts, 0).await;
        answer["updates"].as_array().cloned().unwrap_or_default()
    }

    async fn upload(&self, url: &str, field: &'static str, bytes: Vec<u8>, name: &str) -> Value {
        let form = Form::new().part(field, Part::bytes(bytes).file_name(name.to_string()));
        self.http
            .post(url)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Photo upload and save: the attachment string.
    async fn photo(&self, peer: &str, bytes: Vec<u8>) -> String {
        let server = self
            .call("photos.getMessagesUploadServer", &[("peer_id", peer)])
            .await;
        let url = server["response"]["upload_url"]
            .as_str()
            .unwrap()
            .to_string();
        let up = self.upload(&url, "photo", bytes, "photo.png").await;
        let server_id = up["server"].to_string();
        let saved = self
            .call(
                "photos.saveMessagesPhoto",
                &[
                    ("photo", up["photo"].as_str().unwrap()),
                    ("server", &server_id),
                    ("hash", up["hash"].as_str().unwrap()),
                ],
            )
            .await;
        let p = &saved["response"][0];
        format!(
            "photo{}_{}_{}",
            p["owner_id"],
            p["id"],
            p["access_key"].as_str().unwrap()
        )
    }

    /// Document (or voice note) upload and save: the `docs.save` response.
    async fn doc(&self, kind: &str, peer: &str, bytes: Vec<u8>, name: &str) -> Value {
        let server = self
            .call(
                "docs.getMessagesUploadServer",
                &[("type", kind), ("peer_id", peer)],
            )
            .await;
        let url = server["response"]["upload_url"]
            .as_str()
            .unwrap()
            .to_string();
        let up = self.upload(&url, "file", bytes, name).await;
        let Some(file) = up["file"].as_str() else {
            return up;
        };
        self.call("docs.save", &[("file", file)]).await
    }
}

fn code(v: &Value) -> i64 {
    v["error"]["error_code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}

fn doc_attachment(saved: &Value) -> String {
    let kind = saved["response"]["type"].as_str().unwrap();
    let d = &saved["response"][kind];
    format!(
        "doc{}_{}_{}",
        d["owner_id"],
        d["id"],
        d["access_key"].as_str().unwrap()
    )
}

#[tokio::test]
async fn tokens_envelope_get_by_id_and_credentials() {
    let vk = Vk::with(
        sandbox().await,
        AccountSpec::vk()
            .id("229000777")
            .name("Пекарня")
            .username("bakery"),
    )
    .await;
    assert_eq!(vk.account.id, "229000777");
    assert_eq!(vk.account.platform, Platform::Vk);

    // Without parameters: the token's own community, in 5.199's shape.
    let me = vk.call("groups.getById", &[]).await;
    assert_eq!(me["response"]["groups"][0]["id"], 229_000_777);
    assert_eq!(me["response"]["groups"][0]["name"], "Пекарня");
    assert_eq!(me["response"]["groups"][0]["screen_name"], "bakery");
    assert_eq!(me["response"]["profiles"], json!([]));
    // With parameters: by id or screen name; an unknown one is error 100.
    let by_id = vk
        .call("groups.getById", &[("group_id", "229000777")])
        .await;
    assert_eq!(by_id["response"]["groups"][0]["id"], 229_000_777);
    let by_name = vk.call("groups.getById", &[("group_ids", "bakery")]).await;
    assert_eq!(by_name["response"]["groups"][0]["id"], 229_000_777);
    let unknown = vk.call("groups.getById", &[("group_ids", "1")]).await;
    assert_eq!(code(&unknown), 100);

    // The token as the `access_token` parameter works too, over GET.
    let url = format!("{}/method/groups.getById", vk.root());
    let me: Value = vk
        .http
        .get(&url)
        .query(&[("access_token", vk.account.token.as_str()), ("v", V)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["response"]["groups"][0]["id"], 229_000_777);

    // Error 5, inside HTTP 200, with the request's parameters but never the token.
    let bad = vk
        .call_as("vk1.a.wrong", "messages.send", &[("peer_id", "1")])
        .await;
    assert_eq!(code(&bad), 5);
    assert_eq!(
        bad["error"]["error_msg"],
        "User authorization failed: invalid access_token (4)."
    );
    let params = bad["error"]["request_params"].as_array().unwrap();
    assert!(params.contains(&json!({"key": "method", "value": "messages.send"})));
    assert!(params.contains(&json!({"key": "peer_id", "value": "1"})));
    let resp = vk
        .http
        .post(&url)
        .form(&[("v", V), ("access_token", "vk1.a.wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("vk1.a.wrong"), "the token is not echoed");
    let none: Value = vk
        .http
        .post(&url)
        .form(&[("v", V)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&none), 5);
    assert!(
        none["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("no access_token")
    );
    // Unknown methods: 3; no version: 8.
    assert_eq!(code(&vk.call("messages.fly", &[]).await), 3);
    let unversioned: Value = vk
        .http
        .post(&url)
        .bearer_auth(&vk.account.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&unversioned), 8);

    // The credentials a connector needs, with the registry's keys.
    let credentials = vk.sandbox.credentials(&vk.account.id).unwrap();
    assert_eq!(credentials.get("token"), Some(vk.account.token.as_str()));
    assert_eq!(credentials.get("group_id"), Some("229000777"));
    assert_eq!(credentials.get(BASE_URL), Some(vk.root().as_str()));
    assert_eq!(
        credentials.get("secret"),
        vk.account.webhook_secret.as_deref()
    );
    assert!(credentials.get("secret").is_some(), "a secret is generated");
    assert_eq!(
        credentials.get("confirmation"),
        vk.account.verify_token.as_deref()
    );
    assert_eq!(vk.root(), format!("{}/vk", vk.sandbox.urls().base));

    // Ids are digits; two communities cannot share an id.
    assert_eq!(
        vk.sandbox
            .create_account(&AccountSpec::vk().id("club"))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        vk.sandbox
            .create_account(&AccountSpec::vk().id("229000777"))
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn sends_follow_consent_limits_and_random_id() {
    let vk = Vk::new().await;
    let id = &vk.account.id;
    let stranger = vk
        .sandbox
        .create_customer(id, &NewCustomer::named("Oleg"))
        .unwrap()
        .id;

    // Never wrote, never allowed: 901, nothing stored.
    let r = vk.send_text(&stranger, 11, "Здравствуйте").await;
    assert_eq!(code(&r), 901);
    assert_eq!(
        r["error"]["error_msg"],
        "Can't send messages for users without permission"
    );
    let allowed = vk
        .call(
            "messages.isMessagesFromGroupAllowed",
            &[("group_id", id), ("user_id", &stranger)],
        )
        .await;
    assert_eq!(allowed["response"]["is_allowed"], 0);
    // Unknown users: 901 too; unknown group chats: 917; a community peer: 100.
    assert_eq!(code(&vk.send_text("123", 12, "x").await), 901);
    assert_eq!(code(&vk.send_text("2000000099", 13, "x").await), 917);
    assert_eq!(code(&vk.send_text("-5", 14, "x").await), 100);

    // The customer allows messages: sends go through.
    vk.sandbox.allow_messages(id, &stranger).unwrap();
    let allowed = vk
        .call(
            "messages.isMessagesFromGroupAllowed",
            &[("group_id", id), ("user_id", &stranger)],
        )
        .await;
    assert_eq!(allowed["response"]["is_allowed"], 1);
    let first = vk.send_text(&stranger, 777, "Ваш заказ готов").await;
    let first_id = first["response"].as_i64().expect("a message id");
    assert!(first_id > 0);

    // The same random_id to the same peer: the first message's id, nothing stored.
    let again = vk.send_text(&stranger, 777, "Ваш заказ готов").await;
    assert_eq!(again["response"].as_i64(), Some(first_id));
    let received = vk.sandbox.received(id, &stranger).unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, first_id.to_string());
    assert_eq!(received[0].text.as_deref(), Some("Ваш заказ готов"));
    assert_eq!(received[0].status, MessageStatus::Sent);
    // Another random_id is another message; so is the same random_id to another peer.
    let second = vk.send_text(&stranger, 778, "Ещё").await;
    assert_ne!(second["response"].as_i64(), Some(first_id));
    let anna = vk.allowed_customer("Anna");
    let to_anna = vk.send_text(&anna, 777, "Ваш заказ готов").await;
    assert!(to_anna["response"].as_i64().unwrap() > first_id);
    assert_eq!(vk.sandbox.received(id, &stranger).unwrap().len(), 2);
    assert_eq!(vk.sandbox.received(id, &anna).unwrap().len(), 1);

    // Text limits: 9000 characters, 914 above; empty is 100; random_id is required.
    let at_limit = "я".repeat(9000);
    assert!(vk.send_text(&anna, 1, &at_limit).await["response"].is_i64());
    let over = "я".repeat(9001);
    let r = vk.send_text(&anna, 2, &over).await;
    assert_eq!(code(&r), 914);
    assert_eq!(r["error"]["error_msg"], "Message is too long");
    assert_eq!(code(&vk.send_text(&anna, 3, "  ").await), 100);
    let r = vk
        .call("messages.send", &[("peer_id", &anna), ("message", "x")])
        .await;
    assert_eq!(code(&r), 100);
    assert!(
        r["error"]["error_msg"]
            .as_str()
            .unwrap()
            .ends_with(": random_id is a required parameter")
    );
    let r = vk
        .call("messages.send", &[("random_id", "5"), ("message", "x")])
        .await;
    assert_eq!(code(&r), 100);

    // Replies: to the customer's message; an unknown one is 100.
    let question = vk
        .sandbox
        .customer_sends(id, &anna, &CustomerMessage::text("Где заказ?"))
        .unwrap();
    let reply = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "40"),
                ("message", "Уже в пути"),
                ("reply_to", &question.message_id),
            ],
        )
        .await;
    assert!(reply["response"].is_i64(), "{reply}");
    let last = vk.sandbox.received(id, &anna).unwrap().pop().unwrap();
    assert_eq!(last.reply_to.as_deref(), Some(question.message_id.as_str()));
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "41"),
                ("message", "x"),
                ("reply_to", "999999"),
            ],
        )
        .await;
    assert_eq!(code(&r), 100);

    // Deny: 901 again, and writing gives permission back. Blacklisted: 900.
    vk.sandbox.deny_messages(id, &anna).unwrap();
    assert_eq!(code(&vk.send_text(&anna, 50, "x").await), 901);
    vk.sandbox
        .customer_sends(id, &anna, &CustomerMessage::text("Я снова тут"))
        .unwrap();
    assert!(vk.send_text(&anna, 51, "x").await["response"].is_i64());
    vk.sandbox.block(id, &anna).unwrap();
    let r = vk.send_text(&anna, 52, "x").await;
    assert_eq!(code(&r), 900);
    assert_eq!(
        r["error"]["error_msg"],
        "Can't send messages for users from blacklist"
    );
    vk.sandbox.unblock(id, &anna).unwrap();
    assert!(vk.send_text(&anna, 53, "x").await["response"].is_i64());

    // Allow and deny are VK's: other platforms say so.
    let bot = vk.sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let ivan = vk
        .sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    let err = vk.sandbox.allow_messages(&bot.id, &ivan.id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let control = vk.sandbox.control().unwrap();
    let err = control.deny_messages(&bot.id, &ivan.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    control.deny_messages(id, &stranger).await.unwrap();
    assert_eq!(code(&vk.send_text(&stranger, 60, "x").await), 901);
    control.allow_messages(id, &stranger).await.unwrap();
    assert!(vk.send_text(&stranger, 61, "x").await["response"].is_i64());
}

#[tokio::test]
async fn uploads_save_and_send_every_kind_by_attachment() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    let image = png(64, 48, 100);
    let photo = vk.photo(&anna, image.clone()).await;
    assert!(
        photo.starts_with(&format!("photo-{}_", vk.group())),
        "{photo}"
    );
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "1"),
                ("message", "Маршрут"),
                ("attachment", &photo),
            ],
        )
        .await;
    assert!(r["response"].is_i64(), "{r}");

    let file = pdf(3000);
    let saved = vk.doc("doc", &anna, file.clone(), "invoice.pdf").await;
    assert_eq!(saved["response"]["type"], "doc");
    assert_eq!(saved["response"]["doc"]["title"], "invoice.pdf");
    assert_eq!(saved["response"]["doc"]["ext"], "pdf");
    assert_eq!(saved["response"]["doc"]["size"], 3000);
    let doc = doc_attachment(&saved);
    let voice_bytes = ogg(2500);
    let voice = vk
        .doc("audio_message", &anna, voice_bytes.clone(), "note.ogg")
        .await;
    assert_eq!(voice["response"]["type"], "audio_message");
    assert!(voice["response"]["audio_message"]["link_ogg"].is_string());
    let voice = doc_attachment(&voice);
    for (i, attachment) in [&doc, &voice].into_iter().enumerate() {
        let rid = (10 + i).to_string();
        let r = vk
            .call(
                "messages.send",
                &[
                    ("peer_id", &anna),
                    ("random_id", &rid),
                    ("attachment", attachment),
                ],
            )
            .await;
        assert!(r["response"].is_i64(), "{r}");
    }
    // Without the access key: the community's own objects are fine.
    let bare = photo.rsplit_once('_').unwrap().0.to_string();
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "20"),
                ("attachment", &bare),
            ],
        )
        .await;
    assert!(r["response"].is_i64(), "{r}");

    let received = vk.sandbox.received(&id, &anna).unwrap();
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Image,
            MessageKind::File,
            MessageKind::Voice,
            MessageKind::Image
        ]
    );
    assert_eq!(received[0].caption.as_deref(), Some("Маршрут"));
    assert_eq!(received[0].text, None);
    for (view, bytes) in received.iter().zip([&image, &file, &voice_bytes]) {
        let m = view.media.as_ref().unwrap();
        assert_eq!(m.size, Some(bytes.len() as u64));
    }

    // What VK refuses: a PDF, an extreme side ratio or no `photo` field as a photo ("[]"); an
    // MP3 or an executable as a document, an MP3 as a voice note, an empty file.
    let server = vk
        .call("photos.getMessagesUploadServer", &[("peer_id", &anna)])
        .await;
    assert_eq!(server["response"]["album_id"], -64);
    assert_eq!(server["response"]["group_id"], vk.group());
    let url = server["response"]["upload_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("{}/upload/photo/", vk.root())),
        "{url}"
    );
    for (field, bytes) in [
        ("photo", pdf(100)),
        ("photo", png(2100, 100, 10)),
        ("file", png(10, 10, 10)),
    ] {
        let up = vk.upload(&url, field, bytes, "x.png").await;
        assert_eq!(up["photo"], "[]", "{up}");
    }
    let mut mp3 = b"ID3\x04\x00".to_vec();
    mp3.resize(500, 1);
    for (kind, bytes, name) in [
        ("doc", mp3.clone(), "track.mp3"),
        ("doc", b"MZ\x90\x00rest".to_vec(), "setup.exe"),
        ("audio_message", mp3, "note.mp3"),
        ("doc", Vec::new(), "empty.txt"),
    ] {
        let up = vk.doc(kind, &anna, bytes, name).await;
        assert!(up["error"].is_string(), "{kind} {name}: {up}");
        assert!(up.get("file").is_none());
    }
    let r = vk
        .call("docs.getMessagesUploadServer", &[("type", "sticker")])
        .await;
    assert_eq!(code(&r), 100);

    // Saving: a wrong hash is 121, an unknown upload 100; a saved upload is gone.
    let up = vk.upload(&url, "photo", png(8, 8, 10), "p.png").await;
    let server_id = up["server"].to_string();
    let photo_token = up["photo"].as_str().unwrap();
    let r = vk
        .call(
            "photos.saveMessagesPhoto",
            &[
                ("photo", photo_token),
                ("server", &server_id),
                ("hash", "nope"),
            ],
        )
        .await;
    assert_eq!(code(&r), 121);
    let r = vk
        .call(
            "photos.saveMessagesPhoto",
            &[("photo", "unknown"), ("server", &server_id), ("hash", "x")],
        )
        .await;
    assert_eq!(code(&r), 100);
    assert_eq!(
        code(&vk.call("docs.save", &[("file", "unknown")]).await),
        100
    );

    // Attachments that are not this community's objects: 100.
    for bad in ["photo1_2_3", "doc-1_2", "wall-1_2", "garbage"] {
        let r = vk
            .call(
                "messages.send",
                &[("peer_id", &anna), ("random_id", "99"), ("attachment", bad)],
            )
            .await;
        assert_eq!(code(&r), 100, "{bad}");
    }

    // Upload servers refuse peers the community may not write to.
    let stranger = vk
        .sandbox
        .create_customer(&id, &NewCustomer::named("Oleg"))
        .unwrap()
        .id;
    let r = vk
        .call("photos.getMessagesUploadServer", &[("peer_id", &stranger)])
        .await;
    assert_eq!(code(&r), 901);
    let r = vk
        .call(
            "docs.getMessagesUploadServer",
            &[("type", "doc"), ("peer_id", &stranger)],
        )
        .await;
    assert_eq!(code(&r), 901);
}

#[tokio::test]
async fn a_photo_over_50_mb_is_refused() {
    let vk = Vk::new().await;
    let anna = vk.allowed_customer("Anna");
    let server = vk
        .call("photos.getMessagesUploadServer", &[("peer_id", &anna)])
        .await;
    let url = server["response"]["upload_url"]
        .as_str()
        .unwrap()
        .to_string();
    let up = vk
        .upload(&url, "photo", png(100, 100, 50_000_001), "big.png")
        .await;
    assert_eq!(up["photo"], "[]");
    // At most 50 MB is taken.
    let up = vk
        .upload(&url, "photo", png(100, 100, 49_000_000), "fits.png")
        .await;
    assert_ne!(up["photo"], "[]");
}

#[tokio::test]
async fn customer_media_arrives_as_attachments_and_downloads() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    let image = png(640, 480, 200);
    let file = pdf(5000);
    let voice = ogg(3000);
    let mut track = b"ID3\x04\x00".to_vec();
    track.resize(4000, 9);
    let cases = [
        (
            MediaUpload::new(MessageKind::Image, image.clone()).mime_type("image/png"),
            "photo",
        ),
        (
            MediaUpload::new(MessageKind::File, file.clone())
                .mime_type("application/pdf")
                .file_name("счёт.pdf"),
            "doc",
        ),
        (
            MediaUpload::new(MessageKind::Voice, voice.clone()).mime_type("audio/ogg"),
            "audio_message",
        ),
        (
            MediaUpload::new(MessageKind::Audio, track.clone()).mime_type("audio/mpeg"),
            "audio",
        ),
        (
            MediaUpload::new(MessageKind::Video, b"\0\0\0\x18ftypmp42rest".to_vec()),
            "video",
        ),
    ];
    let mut receipts = Vec::new();
    for (upload, _) in &cases {
        let receipt = vk
            .sandbox
            .customer_sends(
                &id,
                &anna,
                &CustomerMessage::media(upload.clone()).caption("подпись"),
            )
            .unwrap();
        receipts.push(receipt);
    }
    let events = vk.events().await;
    assert_eq!(events.len(), cases.len());
    let http = &vk.http;
    for ((event, (upload, wire)), receipt) in events.iter().zip(&cases).zip(&receipts) {
        assert_eq!(event["type"], "message_new");
        assert_eq!(event["group_id"], vk.group());
        assert_eq!(event["v"], "5.199");
        assert!(event["event_id"].is_string());
        assert!(event.get("secret").is_none(), "Long Poll carries no secret");
        let m = &event["object"]["message"];
        assert_eq!(m["out"], 0);
        assert_eq!(m["from_id"].to_string(), anna);
        assert_eq!(m["peer_id"].to_string(), anna);
        assert_eq!(
            m["text"], "подпись",
            "VK has no captions: the text goes along"
        );
        assert_eq!(m["id"].to_string(), receipt.message_id);
        assert!(event["object"]["client_info"].is_object());
        let attachment = &m["attachments"][0];
        assert_eq!(attachment["type"], *wire);
        let body = &attachment[*wire];
        let media_id = receipt.media_id.clone().unwrap();
        assert!(
            media_id.starts_with(&format!(
                "{}{anna}_{}",
                if *wire == "audio_message" {
                    "doc"
                } else {
                    wire
                },
                body["id"]
            )),
            "{media_id}"
        );
        let url = match *wire {
            "photo" => {
                let sizes = body["sizes"].as_array().unwrap();
                let x = sizes.iter().find(|s| s["type"] == "x").unwrap();
                assert_eq!(
                    (x["width"].as_u64(), x["height"].as_u64()),
                    (Some(640), Some(480))
                );
                x["url"].as_str().map(str::to_string)
            }
            "doc" => {
                assert_eq!(body["title"], "счёт.pdf");
                assert_eq!(body["size"], 5000);
                assert_eq!(body["ext"], "pdf");
                body["url"].as_str().map(str::to_string)
            }
            "audio_message" => body["link_ogg"].as_str().map(str::to_string),
            "audio" => body["url"].as_str().map(str::to_string),
            _ => {
                assert!(body.get("url").is_none(), "VK gives no URL for videos");
                None
            }
        };
        let Some(url) = url else { continue };
        assert!(url.starts_with(&vk.root()), "{url}");
        let bytes = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(bytes.as_ref(), upload.data.as_ref(), "{wire}");
    }
    // A document's link redirects to its file, like vk.com/doc... links.
    let doc_url = events[1]["object"]["message"]["attachments"][0]["doc"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects.get(&doc_url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{}/media/", vk.root())));
    let tampered = doc_url.replace("hash=", "hash=x");
    assert_eq!(
        no_redirects.get(&tampered).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        http.get(format!("{}/media/unknown", vk.root()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The conversation shows them as the customer sent them.
    let messages = vk.sandbox.messages(&id, &anna).unwrap();
    let kinds: Vec<MessageKind> = messages.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Image,
            MessageKind::File,
            MessageKind::Voice,
            MessageKind::Audio,
            MessageKind::Video
        ]
    );
    assert!(
        messages
            .iter()
            .all(|m| m.direction == MessageDirection::Inbound)
    );
    assert_eq!(messages[1].caption.as_deref(), Some("подпись"));

    // The customer's photo can be sent back with its access key, not without it.
    let photo = receipts[0].media_id.clone().unwrap();
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "1"),
                ("attachment", &photo),
            ],
        )
        .await;
    assert!(r["response"].is_i64(), "{r}");
    let bare = photo.rsplit_once('_').unwrap().0.to_string();
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "2"),
                ("attachment", &bare),
            ],
        )
        .await;
    assert_eq!(code(&r), 100);
}

#[tokio::test]
async fn own_sends_edits_reads_and_consent_become_events() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    let hello = vk
        .sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("Привет"))
        .unwrap();
    let sent = vk.send_text(&anna, 5, "Здравствуйте").await["response"]
        .as_i64()
        .unwrap();
    let second = vk.send_text(&anna, 6, "Чем помочь?").await["response"]
        .as_i64()
        .unwrap();
    let edited = vk
        .call(
            "messages.edit",
            &[
                ("peer_id", &anna),
                ("message_id", &sent.to_string()),
                ("message", "Добрый день"),
            ],
        )
        .await;
    assert_eq!(edited["response"], 1);
    assert_eq!(vk.sandbox.customer_reads(&id, &anna, None).unwrap().read, 2);
    vk.sandbox.deny_messages(&id, &anna).unwrap();
    vk.sandbox.deny_messages(&id, &anna).unwrap(); // no second event
    vk.sandbox.allow_messages(&id, &anna).unwrap();

    let events = vk.events().await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "message_new",
            "message_reply",
            "message_reply",
            "message_edit",
            "message_read",
            "message_deny",
            "message_allow"
        ]
    );
    assert_eq!(
        events[0]["object"]["message"]["id"].to_string(),
        hello.message_id
    );
    let reply = &events[1]["object"];
    assert_eq!(reply["out"], 1);
    assert_eq!(reply["id"], sent);
    assert_eq!(reply["from_id"], -vk.group());
    assert_eq!(reply["peer_id"].to_string(), anna);
    assert_eq!(reply["random_id"], 5);
    assert_eq!(reply["text"], "Здравствуйте");
    assert_eq!(events[3]["object"]["text"], "Добрый день");
    assert_eq!(events[3]["object"]["out"], 1);
    assert!(events[3]["object"]["update_time"].is_i64());
    let read = &events[4]["object"];
    assert_eq!(read["from_id"].to_string(), anna);
    assert_eq!(read["peer_id"].to_string(), anna);
    assert_eq!(read["read_message_id"], second);
    assert_eq!(
        events[5]["object"],
        json!({ "user_id": anna.parse::<i64>().unwrap() })
    );
    assert_eq!(events[6]["object"]["user_id"].to_string(), anna);
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    // The customer's phone shows the edit and the reads.
    let received = vk.sandbox.received(&id, &anna).unwrap();
    assert_eq!(received[0].text.as_deref(), Some("Добрый день"));
    assert!(received.iter().all(|m| m.status == MessageStatus::Read));
}

#[tokio::test]
async fn edit_delete_and_mark_as_read_follow_vk() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    let inbound = vk
        .sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("Вопрос"))
        .unwrap();
    let a = vk.send_text(&anna, 1, "один").await["response"]
        .as_i64()
        .unwrap();
    let b = vk.send_text(&anna, 2, "два").await["response"]
        .as_i64()
        .unwrap();

    // Edits: only the community's own messages, within 24 hours; 914 and 100 as for sends.
    let edit = |message_id: String, text: &'static str| {
        let anna = anna.clone();
        let vk = &vk;
        async move {
            vk.call(
                "messages.edit",
                &[
                    ("peer_id", &anna),
                    ("message_id", &message_id),
                    ("message", text),
                ],
            )
            .await
        }
    };
    assert_eq!(code(&edit(inbound.message_id.clone(), "x").await), 920);
    assert_eq!(code(&edit("999999".into(), "x").await), 100);
    assert_eq!(code(&edit(a.to_string(), "").await), 100);

    // Deletes for everybody: the message leaves the customer's phone.
    let deleted = vk
        .call(
            "messages.delete",
            &[
                ("peer_id", &anna),
                ("message_ids", &a.to_string()),
                ("delete_for_all", "1"),
            ],
        )
        .await;
    assert_eq!(deleted["response"][0]["response"], 1, "{deleted}");
    assert_eq!(deleted["response"][0]["message_id"], a);
    let received = vk.sandbox.received(&id, &anna).unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, b.to_string());
    // The customer's own message cannot be deleted for everybody: an item error.
    let r = vk
        .call(
            "messages.delete",
            &[
                ("peer_id", &anna),
                ("message_ids", &inbound.message_id),
                ("delete_for_all", "1"),
            ],
        )
        .await;
    assert_eq!(r["response"][0]["error"]["code"], 924);
    assert_eq!(
        code(&vk.call("messages.delete", &[("peer_id", &anna)]).await),
        100
    );

    // After 24 hours: no edit (909), no delete for everybody (924).
    vk.sandbox.advance_clock(Duration::from_secs(25 * 3600));
    assert_eq!(code(&edit(b.to_string(), "поздно").await), 909);
    let r = vk
        .call(
            "messages.delete",
            &[
                ("peer_id", &anna),
                ("message_ids", &b.to_string()),
                ("delete_for_all", "1"),
            ],
        )
        .await;
    assert_eq!(r["response"][0]["error"]["code"], 924);
    assert_eq!(vk.sandbox.received(&id, &anna).unwrap().len(), 1);

    // markAsRead: the customer's messages become read by the community.
    let r = vk
        .call(
            "messages.markAsRead",
            &[
                ("peer_id", &anna),
                ("start_message_id", &inbound.message_id),
                ("mark_conversation_as_read", "1"),
                ("group_id", &id),
            ],
        )
        .await;
    assert_eq!(r["response"], 1);
    let messages = vk.sandbox.messages(&id, &anna).unwrap();
    assert_eq!(messages[0].status, MessageStatus::Read);
    let r = vk
        .call(
            "messages.markAsRead",
            &[("peer_id", &anna), ("group_id", "1")],
        )
        .await;
    assert_eq!(code(&r), 15);
    let r = vk.call("messages.markAsRead", &[("peer_id", "123")]).await;
    assert_eq!(code(&r), 901);
}

#[tokio::test]
async fn long_poll_sessions_ts_and_failed_answers() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    // getLongPollServer wants this community's id.
    assert_eq!(code(&vk.call("groups.getLongPollServer", &[]).await), 100);
    assert_eq!(
        code(
            &vk.call("groups.getLongPollServer", &[("group_id", "1")])
                .await
        ),
        15
    );
    for text in ["один", "два"] {
        vk.sandbox
            .customer_sends(&id, &anna, &CustomerMessage::text(text))
            .unwrap();
    }
    let (server, key, ts) = vk.lp_server().await;
    assert_eq!(server, format!("{}/lp/{id}", vk.root()));
    assert_eq!(ts, "0", "events nobody confirmed are still to come");
    let batch = vk.a_check(&server, &key, &ts, 0).await;
    assert_eq!(batch["ts"], "2");
    assert_eq!(batch["updates"].as_array().unwrap().len(), 2);
    // Asking from ts 2 confirms both: a new session starts after them.
    let empty = vk.a_check(&server, &key, "2", 0).await;
    assert_eq!(empty, json!({ "ts": "2", "updates": [] }));
    let (_, key2, ts2) = vk.lp_server().await;
    assert_eq!(ts2, "2");
    // An older ts gets the events again (re-delivery by ts), with the same ids.
    let again = vk.a_check(&server, &key2, "1", 0).await;
    assert_eq!(
        again["updates"][0]["event_id"],
        batch["updates"][1]["event_id"]
    );

    // A long poll waits for the next event and returns it at once.
    let waiting = {
        let http = vk.http.clone();
        let (server, key) = (server.clone(), key2.clone());
        tokio::spawn(async move {
            http.get(&server)
                .query(&[
                    ("act", "a_check"),
                    ("key", key.as_str()),
                    ("ts", "2"),
                    ("wait", "25"),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("три"))
        .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the long poll returns when the event comes")
        .unwrap();
    assert_eq!(woke["ts"], "3");
    assert_eq!(woke["updates"][0]["object"]["message"]["text"], "три");

    // Protocol errors: an unknown key is failed 2; a ts from the future is failed 1.
    assert_eq!(
        vk.a_check(&server, "nokey", "3", 0).await,
        json!({ "failed": 2 })
    );
    assert_eq!(
        vk.a_check(&server, &key2, "99", 0).await,
        json!({ "failed": 1, "ts": 3 })
    );
    let http = &vk.http;
    let unknown = http
        .get(format!("{}/lp/1", vk.root()))
        .query(&[("act", "a_check"), ("key", key2.as_str()), ("ts", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // failed on demand: 1 keeps the caller's ts; 2 and 3 revoke the key.
    let fail = |failed: u8| {
        vk.sandbox
            .inject_fault(
                &id,
                &FaultSpec::new(Fault::PollFailed { failed }).operation("a_check"),
            )
            .unwrap();
    };
    fail(1);
    assert_eq!(
        vk.a_check(&server, &key2, "3", 0).await,
        json!({ "failed": 1, "ts": 3 })
    );
    fail(2);
    assert_eq!(
        vk.a_check(&server, &key2, "3", 0).await,
        json!({ "failed": 2 })
    );
    assert_eq!(
        vk.a_check(&server, &key2, "3", 0).await,
        json!({ "failed": 2 }),
        "the key stays revoked"
    );
    let (_, key3, _) = vk.lp_server().await;
    fail(3);
    assert_eq!(
        vk.a_check(&server, &key3, "3", 0).await,
        json!({ "failed": 3 })
    );
    assert_eq!(
        vk.a_check(&server, &key3, "3", 0).await,
        json!({ "failed": 2 })
    );
    // Nothing was lost: a new session from the first unconfirmed event has it all.
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("четыре"))
        .unwrap();
    let (_, key4, ts4) = vk.lp_server().await;
    let rest = vk.a_check(&server, &key4, &ts4, 0).await;
    let texts: Vec<&str> = rest["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["object"]["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["три", "четыре"]);
    let faults: Vec<String> = vk
        .sandbox
        .requests(&id)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(faults, ["poll_failed", "poll_failed", "poll_failed"]);
    // A poll failure is 1, 2 or 3.
    let err = vk
        .sandbox
        .inject_fault(&id, &FaultSpec::new(Fault::PollFailed { failed: 4 }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Other emulators answer it as a 500.
    let bot = vk.sandbox.create_account(&AccountSpec::telegram()).unwrap();
    vk.sandbox
        .inject_fault(&bot.id, &FaultSpec::new(Fault::PollFailed { failed: 2 }))
        .unwrap();
    let resp = http
        .get(format!(
            "{}/bot{}/getUpdates",
            vk.sandbox.urls().telegram(),
            bot.token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
}

/// One Callback request the receiver got.
struct Delivered {
    headers: HeaderMap,
    body: Value,
}

struct CallbackState {
    tx: mpsc::UnboundedSender<Delivered>,
    confirmation: Mutex<String>,
    /// The first `wrong` event answers are not `ok`.
    wrong: AtomicUsize,
}

/// A Callback server: answers the confirmation string to `confirmation`, `ok` to events (after
/// `wrong` wrong answers).
async fn callback_server(
    confirmation: &str,
    wrong: usize,
) -> (
    String,
    mpsc::UnboundedReceiver<Delivered>,
    Arc<CallbackState>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(CallbackState {
        tx,
        confirmation: Mutex::new(confirmation.to_string()),
        wrong: AtomicUsize::new(wrong),
    });
    async fn on_post(
        State(state): State<Arc<CallbackState>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> String {
        let body: Value = serde_json::from_slice(&body).unwrap();
        let answer = if body["type"] == "confirmation" {
            state.confirmation.lock().unwrap().clone()
        } else if state
            .wrong
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            "error".to_string()
        } else {
            "ok".to_string()
        };
        let _ = state.tx.send(Delivered { headers, body });
        answer
    }
    let app = Router::new()
        .route("/callback", post(on_post))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx, state)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivered>) -> Delivered {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a Callback delivery arrives")
        .expect("receiver open")
}

#[tokio::test]
async fn callback_deliveries_confirm_carry_the_secret_and_want_ok() {
    let (url, mut rx, server) = callback_server("c0nf1rm", 1).await;
    let vk = Vk::with(
        sandbox().await,
        AccountSpec::vk()
            .webhook_url(url.clone())
            .webhook_secret("s3cr3t")
            .verify_token("c0nf1rm"),
    )
    .await;
    let id = vk.account.id.clone();
    assert_eq!(vk.account.webhook_url.as_deref(), Some(url.as_str()));
    assert_eq!(vk.account.webhook_secret.as_deref(), Some("s3cr3t"));
    assert_eq!(vk.account.verify_token.as_deref(), Some("c0nf1rm"));
    let anna = vk.allowed_customer("Anna");
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("Привет"))
        .unwrap();

    // First the handshake, then the event (which waited behind it).
    let first = next(&mut rx).await;
    assert_eq!(
        first.body,
        json!({ "type": "confirmation", "group_id": vk.group(), "secret": "s3cr3t" })
    );
    let event = next(&mut rx).await;
    assert_eq!(event.body["type"], "message_new");
    assert_eq!(event.body["secret"], "s3cr3t");
    assert_eq!(event.body["group_id"], vk.group());
    assert_eq!(event.body["v"], "5.199");
    assert_eq!(event.body["object"]["message"]["text"], "Привет");
    assert!(event.headers.get("x-retry-counter").is_none());
    // It was answered "error", not "ok": VK sends it again, counting.
    let retry = next(&mut rx).await;
    assert_eq!(retry.body["event_id"], event.body["event_id"]);
    assert_eq!(retry.headers["x-retry-counter"], "1");
    eventually(|| vk.sandbox.account(&id).unwrap().pending == 0).await;
    let deliveries = vk.sandbox.deliveries(&id).unwrap();
    let kinds: Vec<&str> = deliveries.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["confirmation", "message_new", "message_new"]);
    assert_eq!(deliveries[1].status, Some(200));
    assert_eq!(
        deliveries[1].error.as_deref(),
        Some("the answer is not `ok`")
    );
    assert!(deliveries[2].error.is_none());

    // Own sends come too (message_reply), the same event as Long Poll's.
    vk.send_text(&anna, 1, "Здравствуйте").await;
    let reply = next(&mut rx).await;
    assert_eq!(reply.body["type"], "message_reply");
    assert_eq!(reply.body["object"]["out"], 1);
    let lp = vk.events().await;
    let lp_reply = lp.iter().find(|e| e["type"] == "message_reply").unwrap();
    assert_eq!(lp_reply["event_id"], reply.body["event_id"]);

    // A new server that answers the wrong confirmation gets no events.
    *server.confirmation.lock().unwrap() = "wrong".into();
    let (url2, mut rx2, _server2) = callback_server("nope", 0).await;
    vk.sandbox
        .update_account(
            &id,
            &AccountPatch {
                webhook_url: Some(url2.clone()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let handshake = next(&mut rx2).await;
    assert_eq!(handshake.body["type"], "confirmation");
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("ещё"))
        .unwrap();
    eventually(|| {
        vk.sandbox
            .account(&id)
            .unwrap()
            .last_webhook_error
            .as_deref()
            == Some("the answer is not the confirmation string")
    })
    .await;
    let check = vk.sandbox.verify_webhook(&id).await.unwrap();
    assert_eq!(check.status, 200);
    assert!(!check.challenge_echoed);
    // Only handshakes arrive there, no event.
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), rx2.recv()).await {
        assert_eq!(d.body["type"], "confirmation");
    }
    assert_eq!(vk.sandbox.account(&id).unwrap().pending, 1);

    // With the right string, `verify-webhook` confirms it and the waiting event goes out.
    vk.sandbox
        .update_account(
            &id,
            &AccountPatch {
                verify_token: Some("nope".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let check = vk
        .sandbox
        .control()
        .unwrap()
        .verify_webhook(&id)
        .await
        .unwrap();
    assert!(check.challenge_echoed);
    let event = loop {
        let d = next(&mut rx2).await;
        if d.body["type"] != "confirmation" {
            break d;
        }
    };
    assert_eq!(event.body["type"], "message_new");
    assert_eq!(event.body["object"]["message"]["text"], "ещё");

    // Without a secret, events carry none (and a connector refuses them).
    vk.sandbox
        .update_account(
            &id,
            &AccountPatch {
                webhook_secret: Some(String::new()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text("без секрета"))
        .unwrap();
    let unsigned = next(&mut rx2).await;
    assert!(unsigned.body.get("secret").is_none());
    assert!(vk.sandbox.credentials(&id).unwrap().get("secret").is_none());
}

#[tokio::test]
async fn twenty_requests_per_second_per_community() {
    let config = SandboxConfig {
        vk_per_community: strict(20),
        ..SandboxConfig::default()
    };
    let vk = Vk::with(sandbox_with(config).await, AccountSpec::vk()).await;
    for _ in 0..20 {
        assert!(vk.call("groups.getById", &[]).await["response"].is_object());
    }
    let r = vk.call("groups.getById", &[]).await;
    assert_eq!(code(&r), 6);
    assert_eq!(r["error"]["error_msg"], "Too many requests per second");
    // Another community has its own allowance.
    let other = vk.sandbox.create_account(&AccountSpec::vk()).unwrap();
    let r = vk.call_as(&other.token, "groups.getById", &[]).await;
    assert!(r["response"].is_object());
    // The bucket refills on the sandbox clock.
    vk.sandbox.advance_clock(Duration::from_secs(3600));
    assert!(vk.call("groups.getById", &[]).await["response"].is_object());
    // The default is VK's: 20 per second.
    assert_eq!(
        SandboxConfig::default().vk_per_community,
        Some(messenger_sandbox::RateLimit::new(
            20,
            Duration::from_millis(50)
        ))
    );
    assert_eq!(
        SandboxConfig::default()
            .without_rate_limits()
            .vk_per_community,
        None
    );
}

#[tokio::test]
async fn group_chats_use_peer_ids_and_conversation_message_ids() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let chat = vk
        .sandbox
        .create_customer(&id, &NewCustomer::named("Команда").id("2000000001"))
        .unwrap()
        .id;
    let question = vk
        .sandbox
        .customer_sends(&id, &chat, &CustomerMessage::text("Кто дежурит?"))
        .unwrap();
    assert_eq!(question.message_id, "c1");
    let events = vk.events().await;
    let m = &events[0]["object"]["message"];
    assert_eq!(m["id"], 0);
    assert_eq!(m["conversation_message_id"], 1);
    assert_eq!(m["peer_id"], 2_000_000_001_i64);
    assert_ne!(m["from_id"], m["peer_id"], "a member writes in a chat");

    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_ids", &chat),
                ("random_id", "7"),
                ("message", "Я"),
                (
                    "forward",
                    r#"{"peer_id":2000000001,"conversation_message_ids":[1],"is_reply":true}"#,
                ),
            ],
        )
        .await;
    assert_eq!(
        r["response"],
        json!([{ "peer_id": 2_000_000_001_i64, "message_id": 0, "conversation_message_id": 2 }])
    );
    let received = vk.sandbox.received(&id, &chat).unwrap();
    assert_eq!(received[0].id, "c2");
    assert_eq!(received[0].reply_to.as_deref(), Some("c1"));
    // The repeat is dropped here too; an unknown chat is an item error.
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_ids", &format!("{chat},2000000009")),
                ("random_id", "7"),
                ("message", "Я"),
            ],
        )
        .await;
    assert_eq!(r["response"][0]["conversation_message_id"], 2);
    assert_eq!(r["response"][1]["error"]["code"], 917);
    assert_eq!(vk.sandbox.received(&id, &chat).unwrap().len(), 1);

    // Edits, reads and deletes by cmid.
    let r = vk
        .call(
            "messages.edit",
            &[
                ("peer_id", &chat),
                ("cmid", "2"),
                ("message", "Я, до вечера"),
            ],
        )
        .await;
    assert_eq!(r["response"], 1);
    let r = vk
        .call(
            "messages.markAsRead",
            &[("peer_id", &chat), ("up_to_cmid", "1")],
        )
        .await;
    assert_eq!(r["response"], 1);
    assert_eq!(
        vk.sandbox.messages(&id, &chat).unwrap()[0].status,
        MessageStatus::Read
    );
    vk.sandbox.customer_reads(&id, &chat, None).unwrap();
    let read = vk
        .events()
        .await
        .into_iter()
        .find(|e| e["type"] == "message_read")
        .unwrap();
    assert_eq!(read["object"]["read_message_id"], 0);
    assert_eq!(read["object"]["conversation_message_id"], 2);
    let r = vk
        .call(
            "messages.delete",
            &[("peer_id", &chat), ("cmids", "2"), ("delete_for_all", "1")],
        )
        .await;
    assert_eq!(r["response"][0]["response"], 1);
    assert_eq!(r["response"][0]["conversation_message_id"], 2);
    assert!(vk.sandbox.received(&id, &chat).unwrap().is_empty());
    // A chat has no consent of its own.
    assert_eq!(
        vk.sandbox.deny_messages(&id, &chat).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn faults_answer_in_vk_shapes() {
    let vk = Vk::new().await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    let inject = |fault: Fault| {
        vk.sandbox
            .inject_fault(&id, &FaultSpec::new(fault).operation("messages.send"))
            .unwrap();
    };
    // A 5xx: VK's error 10 with that status; nothing stored.
    inject(Fault::ServerError { status: 502 });
    let resp = vk
        .http
        .post(format!("{}/method/messages.send", vk.root()))
        .bearer_auth(&vk.account.token)
        .form(&[
            ("v", V),
            ("peer_id", &anna),
            ("random_id", "1"),
            ("message", "a"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), 10);
    // A rate limit: error 6, no retry-after (VK gives none).
    inject(Fault::RateLimited { retry_after: 3 });
    assert_eq!(code(&vk.send_text(&anna, 2, "b").await), 6);
    assert!(vk.sandbox.received(&id, &anna).unwrap().is_empty());
    // A dropped answer: the message was stored; the resend with the same random_id is not.
    inject(Fault::DropConnection {
        before_processing: false,
    });
    let dropped = vk
        .http
        .post(format!("{}/method/messages.send", vk.root()))
        .bearer_auth(&vk.account.token)
        .form(&[
            ("v", V),
            ("peer_id", &anna),
            ("random_id", "3"),
            ("message", "c"),
        ])
        .send()
        .await;
    assert!(dropped.is_err(), "no answer");
    let resent = vk.send_text(&anna, 3, "c").await;
    let received = vk.sandbox.received(&id, &anna).unwrap();
    assert_eq!(received.len(), 1, "one message on the customer's phone");
    assert_eq!(resent["response"].to_string(), received[0].id);
    let records: Vec<(String, u16, Option<String>)> = vk
        .sandbox
        .requests(&id)
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "messages.send")
        .map(|r| (r.operation, r.status, r.fault))
        .collect();
    assert_eq!(
        records,
        [
            (
                "messages.send".to_string(),
                502,
                Some("server_error".to_string())
            ),
            (
                "messages.send".to_string(),
                200,
                Some("rate_limited".to_string())
            ),
            (
                "messages.send".to_string(),
                0,
                Some("drop_connection".to_string())
            ),
            ("messages.send".to_string(), 200, None),
        ]
    );
    // Faults reach uploads and downloads by their operation names.
    vk.sandbox
        .inject_fault(
            &id,
            &FaultSpec::new(Fault::ServerError { status: 503 }).operation("photo_upload"),
        )
        .unwrap();
    let server = vk
        .call("photos.getMessagesUploadServer", &[("peer_id", &anna)])
        .await;
    let url = server["response"]["upload_url"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = vk
        .http
        .post(&url)
        .multipart(Form::new().part("photo", Part::bytes(png(4, 4, 4)).file_name("p.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn the_demo_community_is_fixed_and_its_customer_allowed_messages() {
    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();
    let seeded = demo.account(Platform::Vk).expect("a VK demo community");
    assert_eq!(seeded.account.id, "229000001");
    assert_eq!(seeded.customer.id, "100000003");
    let credentials = sandbox.credentials(&seeded.account.id).unwrap();
    assert_eq!(
        credentials.get("token"),
        Some("vk1.a.sandboxDemoVkCommunityToken0000000000000000000001")
    );
    assert_eq!(credentials.get("secret"), Some("sandbox-demo-vk-secret"));
    assert_eq!(credentials.get("confirmation"), Some("5a9d0c1e"));
    let vk = Vk {
        http: client(),
        account: seeded.account.clone(),
        sandbox,
    };
    let r = vk.send_text(&seeded.customer.id, 1, "Привет, Анна").await;
    assert!(
        r["response"].is_i64(),
        "the demo customer allowed messages: {r}"
    );
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: every task of the sandbox sees the thread-local subscriber.
#[tokio::test]
async fn a_full_vk_cycle_logs_no_content_or_secrets() {
    const TEXT: &str = "SECRET-VK-TEXT-4242";
    const CAPTION: &str = "SECRET-VK-CAPTION-77";
    const FILE_NAME: &str = "secret-vk-file.pdf";
    const TOKEN: &str = "vk1.a.SECRETvkTokenValue0123456789";
    const SECRET: &str = "SECRETcallbackKEY";
    const CONFIRMATION: &str = "SECRETconfirm";
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("messenger_sandbox=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (url, mut rx, _server) = callback_server(CONFIRMATION, 0).await;
    let vk = Vk::with(
        Sandbox::start_with("127.0.0.1:0", SandboxConfig::default())
            .await
            .unwrap(),
        AccountSpec::vk()
            .token(TOKEN)
            .webhook_url(url)
            .webhook_secret(SECRET)
            .verify_token(CONFIRMATION),
    )
    .await;
    let id = vk.account.id.clone();
    let anna = vk.allowed_customer("Anna");
    vk.sandbox
        .customer_sends(&id, &anna, &CustomerMessage::text(TEXT))
        .unwrap();
    vk.sandbox
        .customer_sends(
            &id,
            &anna,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::File, pdf(100)).file_name(FILE_NAME),
            )
            .caption(CAPTION),
        )
        .unwrap();
    vk.send_text(&anna, 1, TEXT).await;
    let saved = vk.doc("doc", &anna, pdf(200), FILE_NAME).await;
    let r = vk
        .call(
            "messages.send",
            &[
                ("peer_id", &anna),
                ("random_id", "2"),
                ("message", CAPTION),
                ("attachment", &doc_attachment(&saved)),
            ],
        )
        .await;
    assert!(r["response"].is_i64());
    vk.send_text("123", 3, TEXT).await; // an error that echoes the text to the caller
    vk.sandbox.customer_reads(&id, &anna, None).unwrap();
    vk.events().await;
    for _ in 0..5 {
        next(&mut rx).await;
    }
    vk.sandbox.shutdown().await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sandbox vk: message sent"),
        "tracing was captured"
    );
    for secret in [TEXT, CAPTION, FILE_NAME, TOKEN, SECRET, CONFIRMATION] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}
