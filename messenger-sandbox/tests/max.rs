//! The MAX Bot API emulation, exercised with plain reqwest as a connector would: tokens, `/me`,
//! `/messages` both ways, the two-step uploads and their processing window, downloads and
//! `/videos`, `/updates` with markers, subscriptions and their deliveries, the rate limit,
//! faults, the customer's side, credentials, the demo and the logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Receiver, client, ogg, pdf, png, sandbox, sandbox_with, strict};
use messenger_core::Platform;
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageDirection,
    MessageKind, MessageStatus, NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// Bounds every wait of these tests.
const WAIT: Duration = Duration::from_secs(20);

struct Bot {
    sandbox: Sandbox,
    bot: SandboxAccount,
    customer: String,
    http: reqwest::Client,
}

impl Bot {
    async fn new() -> Self {
        Self::with(sandbox().await)
    }

    async fn with_config(config: SandboxConfig) -> Self {
        Self::with(sandbox_with(config).await)
    }

    fn with(sandbox: Sandbox) -> Self {
        let bot = sandbox
            .create_account(&AccountSpec::new(Platform::Max).name("Shop"))
            .unwrap();
        let customer = sandbox
            .create_customer(
                &bot.id,
                &NewCustomer {
                    language_code: Some("ru".into()),
                    ..NewCustomer::named("Ivan")
                },
            )
            .unwrap()
            .id;
        Self {
            sandbox,
            bot,
            customer,
            http: client(),
        }
    }

    fn root(&self) -> String {
        self.sandbox
            .urls()
            .platform(Platform::Max)
            .unwrap()
            .to_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root())
    }

    async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("Authorization", &self.bot.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.request(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// Sends to the customer by user id.
    async fn send(&self, body: Value) -> (u16, Value) {
        self.post(&format!("/messages?user_id={}", self.customer), body)
            .await
    }

    /// The dialog's chat id, learned from a send by user id.
    async fn chat(&self) -> i64 {
        let (status, sent) = self.send(json!({ "text": "hello" })).await;
        assert_eq!(status, 200, "{sent}");
        sent["message"]["recipient"]["chat_id"].as_i64().unwrap()
    }

    /// `GET /updates` with a query.
    async fn updates(&self, query: &str) -> (u16, Value) {
        self.get(&format!("/updates?{query}")).await
    }

    /// Step 1 of an upload: `{url, token?}`.
    async fn upload_url(&self, kind: &str) -> Value {
        let (status, answer) = self
            .request(Method::POST, &format!("/uploads?type={kind}"), None)
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// Step 2: the bytes as the multipart part `data`, with no token.
    async fn upload_to(&self, url: &str, bytes: Vec<u8>, name: &str, mime: &str) -> Response {
        let form = Form::new().part(
            "data",
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
        self.http.post(url).multipart(form).send().await.unwrap()
    }
}

async fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].is_string(), "{}", got.1);
}

/// A config whose uploads stay "being processed" until the clock is advanced.
fn slow_processing() -> SandboxConfig {
    SandboxConfig {
        max_processing_delay: Duration::from_secs(60),
        webhook_retry_delay: Duration::from_millis(20),
        ..SandboxConfig::default().without_rate_limits()
    }
}

fn mp4(len: usize) -> Vec<u8> {
    let mut v = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    v.resize(len, 7);
    v
}

fn mp3(len: usize) -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    v.resize(len, 3);
    v
}

// ---------------------------------------------------------------------------------------------
// Tokens, /me, paths
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn me_needs_the_raw_token_in_the_header() {
    let t = Bot::new().await;
    let (status, me) = t.get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["user_id"].to_string(), t.bot.id);
    assert_eq!(me["first_name"], "Shop");
    assert_eq!(me["is_bot"], true);
    assert!(me["username"].is_string());
    assert!(me["last_activity_time"].as_i64().unwrap() > 1_600_000_000_000);

    let url = t.url("/me");
    for req in [
        t.http.get(&url),
        t.http.get(&url).header("Authorization", "wrong-token"),
        t.http
            .get(&url)
            .header("Authorization", format!("Bearer {}", t.bot.token)),
        t.http.get(format!("{url}?access_token={}", t.bot.token)),
    ] {
        let got = read(req.send().await.unwrap()).await;
        assert_error(&got, 401, "verify.token");
        assert_eq!(got.1["message"], "Invalid access_token");
    }

    // Unknown paths and methods, in MAX's shape; nothing of MAX at the root.
    assert_error(&t.get("/chats").await, 404, "not.found");
    assert_error(
        &t.request(Method::PATCH, "/messages", None).await,
        405,
        "method.not.allowed",
    );
    let root = t
        .http
        .get(format!("{}/me", t.sandbox.urls().base))
        .header("Authorization", &t.bot.token)
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// POST /messages, PUT, DELETE
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn messages_go_to_the_dialog_by_user_or_chat_id() {
    let t = Bot::new().await;
    let before = t.sandbox.clock().now.timestamp_millis();
    let (status, sent) = t.send(json!({ "text": "Заказ готов" })).await;
    assert_eq!(status, 200, "{sent}");
    let msg = &sent["message"];
    assert_eq!(msg["sender"]["user_id"].to_string(), t.bot.id);
    assert_eq!(msg["sender"]["is_bot"], true);
    assert_eq!(msg["recipient"]["chat_type"], "dialog");
    assert_eq!(msg["recipient"]["user_id"].to_string(), t.customer);
    let chat = msg["recipient"]["chat_id"].as_i64().unwrap();
    assert!(chat > 0);
    assert_ne!(
        chat.to_string(),
        t.customer,
        "a dialog has a chat id of its own"
    );
    let ts = msg["timestamp"].as_i64().unwrap();
    assert!(ts >= before && ts < before + 60_000, "milliseconds: {ts}");
    let mid = msg["body"]["mid"].as_str().unwrap().to_owned();
    assert!(mid.starts_with("mid.") && mid.len() == 36, "{mid}");
    assert!(msg["body"]["seq"].is_i64());
    assert_eq!(msg["body"]["text"], "Заказ готов");

    // The same dialog by chat id, with a format and notify; the format is recorded.
    let (status, second) = t
        .post(
            &format!("/messages?chat_id={chat}"),
            json!({ "text": "**Скидка**", "format": "markdown", "notify": false }),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["message"]["recipient"]["chat_id"], chat);
    assert!(second["message"]["body"]["seq"].as_i64() > msg["body"]["seq"].as_i64());
    let (status, _) = t
        .send(json!({ "text": "<b>html</b>", "format": "html" }))
        .await;
    assert_eq!(status, 200);

    // A reply to the customer's message carries the link.
    let question = t
        .sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("Где заказ?"))
        .unwrap();
    let (status, reply) = t
        .send(json!({ "text": "В пути", "link": { "type": "reply", "mid": question.message_id } }))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["message"]["link"]["type"], "reply");
    assert_eq!(
        reply["message"]["link"]["message"]["mid"],
        question.message_id
    );
    assert_eq!(reply["message"]["link"]["message"]["text"], "Где заказ?");
    assert_eq!(
        reply["message"]["link"]["sender"]["user_id"].to_string(),
        t.customer
    );
    // A forward of the bot's own message.
    let (status, fwd) = t
        .send(json!({ "link": { "type": "forward", "mid": mid }, "text": "см. выше" }))
        .await;
    assert_eq!(status, 200, "{fwd}");
    assert_eq!(fwd["message"]["link"]["type"], "forward");

    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    let texts: Vec<&str> = received.iter().filter_map(|m| m.text.as_deref()).collect();
    assert_eq!(
        texts,
        [
            "Заказ готов",
            "**Скидка**",
            "<b>html</b>",
            "В пути",
            "см. выше"
        ]
    );
    assert!(received.iter().all(|m| m.kind == MessageKind::Text
        && m.direction == MessageDirection::Outbound
        && m.status == MessageStatus::Sent));
    assert_eq!(received[0].id, mid);
    assert_eq!(received[1].parse_mode.as_deref(), Some("markdown"));
    assert_eq!(
        received[3].reply_to.as_deref(),
        Some(question.message_id.as_str())
    );
}

#[tokio::test]
async fn messages_are_refused_where_max_refuses_them() {
    let t = Bot::new().await;
    let chat = t.chat().await;

    // 4000 characters pass, 4001 do not (characters, not bytes or UTF-16 units).
    let (status, _) = t.send(json!({ "text": "я".repeat(4000) })).await;
    assert_eq!(status, 200);
    let (status, _) = t.send(json!({ "text": "😀".repeat(4000) })).await;
    assert_eq!(status, 200);
    assert_error(
        &t.send(json!({ "text": "a".repeat(4001) })).await,
        400,
        "proto.payload",
    );
    assert_error(&t.send(json!({})).await, 400, "proto.payload");
    assert_error(&t.send(json!({ "text": "" })).await, 400, "proto.payload");
    assert_error(
        &t.send(json!({ "text": "x", "format": "bbcode" })).await,
        400,
        "proto.payload",
    );
    assert_error(
        &t.send(json!({ "text": "x", "link": { "type": "reply", "mid": "mid.nope" } }))
            .await,
        400,
        "proto.payload",
    );
    let bad_json = t
        .http
        .post(t.url(&format!("/messages?user_id={}", t.customer)))
        .header("Authorization", &t.bot.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(&read(bad_json).await, 400, "proto.payload");

    // Recipients.
    let got = t.post("/messages?chat_id=0", json!({ "text": "x" })).await;
    assert_error(&got, 403, "chat.denied");
    assert_eq!(got.1["message"], "Invalid chatId: 0");
    assert_error(
        &t.post("/messages?chat_id=777", json!({ "text": "x" }))
            .await,
        404,
        "chat.not.found",
    );
    assert_error(
        &t.post("/messages?chat_id=-70801090403050", json!({ "text": "x" }))
            .await,
        404,
        "chat.not.found",
    );
    assert_error(
        &t.post("/messages?user_id=123", json!({ "text": "x" }))
            .await,
        404,
        "not.found",
    );
    assert_error(
        &t.post(
            &format!("/messages?chat_id={chat}&user_id={}", t.customer),
            json!({ "text": "x" }),
        )
        .await,
        400,
        "proto.payload",
    );
    assert_error(
        &t.post("/messages", json!({ "text": "x" })).await,
        400,
        "proto.payload",
    );

    // Nothing refused was stored.
    assert_eq!(t.sandbox.received(&t.bot.id, &t.customer).unwrap().len(), 3);
}

#[tokio::test]
async fn edits_and_deletes_name_the_message_by_its_id() {
    let t = Bot::new().await;
    let (_, sent) = t.send(json!({ "text": "Цена: 100" })).await;
    let mid = sent["message"]["body"]["mid"].as_str().unwrap().to_owned();

    let (status, ok) = t
        .request(
            Method::PUT,
            &format!("/messages?message_id={mid}"),
            Some(json!({ "text": "Цена: 90", "attachments": null })),
        )
        .await;
    assert_eq!((status, &ok), (200, &json!({ "success": true })));
    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert_eq!(received[0].text.as_deref(), Some("Цена: 90"));
    assert_eq!(received[0].id, mid);

    // Edits are checked like sends; the customer's messages are not the bot's to change.
    assert_error(
        &t.request(
            Method::PUT,
            &format!("/messages?message_id={mid}"),
            Some(json!({ "text": "a".repeat(4001) })),
        )
        .await,
        400,
        "proto.payload",
    );
    let theirs = t
        .sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("моё"))
        .unwrap();
    let (status, refused) = t
        .request(
            Method::PUT,
            &format!("/messages?message_id={}", theirs.message_id),
            Some(json!({ "text": "чужое" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(refused["success"], false);
    assert!(refused["message"].is_string());
    let (status, refused) = t
        .request(
            Method::DELETE,
            &format!("/messages?message_id={}", theirs.message_id),
            None,
        )
        .await;
    assert_eq!((status, refused["success"].clone()), (200, json!(false)));
    assert_error(
        &t.request(
            Method::PUT,
            "/messages?message_id=mid.nope",
            Some(json!({ "text": "x" })),
        )
        .await,
        404,
        "not.found",
    );
    assert_error(
        &t.request(Method::DELETE, "/messages", None).await,
        400,
        "proto.payload",
    );

    let (status, ok) = t
        .request(Method::DELETE, &format!("/messages?message_id={mid}"), None)
        .await;
    assert_eq!((status, ok), (200, json!({ "success": true })));
    assert!(
        t.sandbox
            .received(&t.bot.id, &t.customer)
            .unwrap()
            .is_empty()
    );
    assert_error(
        &t.request(Method::DELETE, &format!("/messages?message_id={mid}"), None)
            .await,
        404,
        "not.found",
    );
}

// ---------------------------------------------------------------------------------------------
// Uploads, processing, downloads, /videos
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_image_goes_up_in_two_steps_and_waits_for_processing() {
    let t = Bot::with_config(slow_processing()).await;
    let endpoint = t.upload_url("image").await;
    let url = endpoint["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/upload/", t.root())), "{url}");
    assert!(
        endpoint.get("token").is_none(),
        "an image's token comes from the host"
    );

    let image = png(64, 48, 100);
    let resp = t
        .upload_to(url, image.clone(), "receipt.png", "image/png")
        .await;
    assert_eq!(resp.status(), 200);
    let host: Value = resp.json().await.unwrap();
    let photos = host["photos"].as_object().expect("photos").clone();
    assert_eq!(photos.len(), 1);
    let token = photos.values().next().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Too early: attachment.not.ready, and nothing is stored.
    let attach = json!({ "text": "чек", "attachments": [{ "type": "image", "payload": { "photos": photos } }] });
    let got = t.send(attach.clone()).await;
    assert_error(&got, 400, "attachment.not.ready");
    assert_eq!(
        got.1["message"],
        "Key: errors.process.attachment.file.not.processed"
    );
    let by_token = json!({ "attachments": [{ "type": "image", "payload": { "token": token } }] });
    assert_error(&t.send(by_token.clone()).await, 400, "attachment.not.ready");
    assert!(
        t.sandbox
            .received(&t.bot.id, &t.customer)
            .unwrap()
            .is_empty()
    );

    // Once processed (the sandbox clock), the same body goes through.
    t.sandbox.advance_clock(Duration::from_secs(61));
    let (status, sent) = t.send(attach).await;
    assert_eq!(status, 200, "{sent}");
    let shown = &sent["message"]["body"]["attachments"][0];
    assert_eq!(shown["type"], "image");
    assert_eq!(shown["payload"]["token"], token.as_str());
    assert!(shown["payload"]["photo_id"].is_i64());
    let download = shown["payload"]["url"].as_str().unwrap();
    assert!(
        download.starts_with(&format!("{}/files/", t.root())),
        "{download}"
    );
    // The URL is signed: no token needed.
    let bytes = t
        .http
        .get(download)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), image.as_slice());
    let (status, _) = t.send(by_token).await;
    assert_eq!(status, 200);

    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].kind, MessageKind::Image);
    assert_eq!(received[0].caption.as_deref(), Some("чек"));
    assert_eq!(received[0].text, None);
    let media = received[0].media.as_ref().unwrap();
    assert_eq!(media.size, Some(image.len() as u64));
    assert_eq!(media.mime_type.as_deref(), Some("image/png"));
    assert_eq!(media.file_name.as_deref(), Some("receipt.png"));
    assert_eq!(media.reference.as_deref(), Some(token.as_str()));

    // An image by external URL is recorded, never fetched.
    let (status, sent) = t
        .send(json!({ "attachments": [{ "type": "image", "payload": { "url": "https://cdn.example/a.png" } }] }))
        .await;
    assert_eq!(status, 200, "{sent}");
    let last = t
        .sandbox
        .received(&t.bot.id, &t.customer)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        last.media.unwrap().url.as_deref(),
        Some("https://cdn.example/a.png")
    );
    // One form only.
    assert_error(
        &t.send(json!({ "attachments": [{ "type": "image", "payload": { "url": "https://cdn.example/a.png", "token": token } }] }))
            .await,
        400,
        "proto.payload",
    );
}

#[tokio::test]
async fn files_video_and_audio_take_their_tokens_from_the_right_step() {
    let t = Bot::with_config(slow_processing()).await;

    // A file: the host answers its token.
    let endpoint = t.upload_url("file").await;
    assert!(endpoint.get("token").is_none());
    let doc = pdf(300);
    let resp = t
        .upload_to(
            endpoint["url"].as_str().unwrap(),
            doc.clone(),
            "act.pdf",
            "application/pdf",
        )
        .await;
    let file_token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A video: the token comes with the URL; the host answers XML.
    let endpoint = t.upload_url("video").await;
    let video_token = endpoint["token"].as_str().unwrap().to_owned();
    let video_body = json!({ "text": "обзор", "attachments": [{ "type": "video", "payload": { "token": video_token } }] });
    // Before its bytes arrive the token is not ready either.
    assert_error(
        &t.send(video_body.clone()).await,
        400,
        "attachment.not.ready",
    );
    let (status, details) = t.get(&format!("/videos/{video_token}")).await;
    assert_eq!(status, 200);
    assert_eq!(details["urls"], Value::Null);
    let clip = mp4(2000);
    let resp = t
        .upload_to(
            endpoint["url"].as_str().unwrap(),
            clip.clone(),
            "clip.mp4",
            "video/mp4",
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/xml"
    );
    assert!(resp.text().await.unwrap().contains("<retval>1</retval>"));
    // One file per URL.
    let again = t
        .upload_to(
            endpoint["url"].as_str().unwrap(),
            clip.clone(),
            "clip.mp4",
            "video/mp4",
        )
        .await;
    assert_error(&read(again).await, 400, "proto.payload");

    let endpoint = t.upload_url("audio").await;
    let audio_token = endpoint["token"].as_str().unwrap().to_owned();
    let track = mp3(1500);
    let resp = t
        .upload_to(
            endpoint["url"].as_str().unwrap(),
            track.clone(),
            "track.mp3",
            "audio/mpeg",
        )
        .await;
    assert_eq!(resp.status(), 200);

    // Not processed yet: every kind answers attachment.not.ready.
    let file_body =
        json!({ "attachments": [{ "type": "file", "payload": { "token": file_token } }] });
    let audio_body =
        json!({ "attachments": [{ "type": "audio", "payload": { "token": audio_token } }] });
    for body in [&file_body, &video_body, &audio_body] {
        assert_error(&t.send(body.clone()).await, 400, "attachment.not.ready");
    }
    // A token of the wrong kind, of nobody, or a file next to another attachment: refused.
    assert_error(
        &t.send(
            json!({ "attachments": [{ "type": "video", "payload": { "token": file_token } }] }),
        )
        .await,
        400,
        "proto.payload",
    );
    assert_error(
        &t.send(json!({ "attachments": [{ "type": "file", "payload": { "token": "forged" } }] }))
            .await,
        400,
        "proto.payload",
    );

    t.sandbox.advance_clock(Duration::from_secs(61));
    assert_error(
        &t.send(json!({ "attachments": [
            { "type": "file", "payload": { "token": file_token } },
            { "type": "audio", "payload": { "token": audio_token } }
        ] }))
        .await,
        400,
        "proto.payload",
    );
    let (status, sent) = t.send(file_body).await;
    assert_eq!(status, 200, "{sent}");
    let shown = &sent["message"]["body"]["attachments"][0];
    assert_eq!(shown["type"], "file");
    assert_eq!(shown["filename"], "act.pdf");
    assert_eq!(shown["size"], doc.len());
    let (status, sent) = t.send(video_body).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        sent["message"]["body"]["attachments"][0]["payload"]["token"],
        video_token.as_str()
    );
    let (status, _) = t.send(audio_body).await;
    assert_eq!(status, 200);

    // GET /videos gives the processed video's file.
    let (status, details) = t.get(&format!("/videos/{video_token}")).await;
    assert_eq!(status, 200);
    let mp4_url = details["urls"]["mp4_720"].as_str().unwrap();
    let bytes = t
        .http
        .get(mp4_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), clip.as_slice());
    assert_error(&t.get("/videos/nope").await, 404, "not.found");
    assert_error(
        &t.get(&format!("/videos/{file_token}")).await,
        404,
        "not.found",
    );

    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [MessageKind::File, MessageKind::Video, MessageKind::Audio]
    );
    for (view, bytes) in received.iter().zip([&doc, &clip, &track]) {
        assert_eq!(view.media.as_ref().unwrap().size, Some(bytes.len() as u64));
    }
    assert_eq!(received[1].caption.as_deref(), Some("обзор"));
}

#[tokio::test]
async fn uploads_are_checked_against_the_sheet() {
    let t = Bot::new().await;
    for query in ["/uploads", "/uploads?type=photo", "/uploads?type=sticker"] {
        assert_error(
            &t.request(Method::POST, query, None).await,
            400,
            "proto.payload",
        );
    }
    // A forbidden extension, whatever the type.
    for kind in ["file", "image"] {
        let url = t.upload_url(kind).await["url"].as_str().unwrap().to_owned();
        let got = read(
            t.upload_to(
                &url,
                b"MZ\x90\x00".to_vec(),
                "setup.exe",
                "application/octet-stream",
            )
            .await,
        )
        .await;
        assert_error(&got, 400, "proto.payload");
        assert_eq!(got.1["message"], "File extension is forbidden");
    }
    // An image that is not one, and one over 7680 px.
    let url = t.upload_url("image").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(
            t.upload_to(&url, pdf(100), "a.pdf", "application/pdf")
                .await,
        )
        .await,
        400,
        "proto.payload",
    );
    let url = t.upload_url("image").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(
            t.upload_to(&url, png(7681, 10, 10), "wide.png", "image/png")
                .await,
        )
        .await,
        400,
        "proto.payload",
    );
    // Audio that is not audio, video that is not video, an empty file.
    let url = t.upload_url("audio").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(
            t.upload_to(&url, pdf(100), "a.pdf", "application/pdf")
                .await,
        )
        .await,
        400,
        "proto.payload",
    );
    let url = t.upload_url("video").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(t.upload_to(&url, ogg(100), "a.ogg", "audio/ogg").await).await,
        400,
        "proto.payload",
    );
    let url = t.upload_url("file").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(
            t.upload_to(&url, Vec::new(), "empty.txt", "text/plain")
                .await,
        )
        .await,
        400,
        "proto.payload",
    );
    // Not multipart, or without the part `data`.
    let url = t.upload_url("file").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &read(t.http.post(&url).body("raw").send().await.unwrap()).await,
        400,
        "proto.payload",
    );
    let form = Form::new().part("file", Part::bytes(pdf(10)).file_name("a.pdf"));
    assert_error(
        &read(t.http.post(&url).multipart(form).send().await.unwrap()).await,
        400,
        "proto.payload",
    );
    // The URL was not spent by the refusals.
    let resp = t.upload_to(&url, pdf(10), "a.pdf", "application/pdf").await;
    assert_eq!(resp.status(), 200);
    // An unknown upload URL or file.
    let got = read(
        t.upload_to(&t.url("/upload/nope"), pdf(10), "a.pdf", "application/pdf")
            .await,
    )
    .await;
    assert_error(&got, 404, "not.found");
    let got = read(t.http.get(t.url("/files/nope")).send().await.unwrap()).await;
    assert_error(&got, 404, "not.found");

    // Another bot's token is not this bot's.
    let other = t
        .sandbox
        .create_account(&AccountSpec::new(Platform::Max))
        .unwrap();
    let (_, endpoint) = read(
        t.http
            .post(t.url("/uploads?type=file"))
            .header("Authorization", &other.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = t
        .upload_to(
            endpoint["url"].as_str().unwrap(),
            pdf(10),
            "a.pdf",
            "application/pdf",
        )
        .await;
    let token = resp.json::<Value>().await.unwrap()["token"].clone();
    assert_error(
        &t.send(json!({ "attachments": [{ "type": "file", "payload": { "token": token } }] }))
            .await,
        400,
        "proto.payload",
    );
}

// ---------------------------------------------------------------------------------------------
// The customer's side and GET /updates
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn customer_messages_arrive_as_updates_with_downloadable_media() {
    let t = Bot::new().await;
    let chat = t.chat().await;
    let image = png(8, 8, 50);
    let clip = mp4(1200);
    let cases: Vec<(MediaUpload, &str)> = vec![
        (
            MediaUpload::new(MessageKind::Image, image.clone()).mime_type("image/png"),
            "image",
        ),
        (
            MediaUpload::new(MessageKind::File, pdf(400))
                .mime_type("application/pdf")
                .file_name("invoice.pdf"),
            "file",
        ),
        (
            MediaUpload::new(MessageKind::Audio, mp3(900)).mime_type("audio/mpeg"),
            "audio",
        ),
        (
            MediaUpload::new(MessageKind::Video, clip.clone()).mime_type("video/mp4"),
            "video",
        ),
        (
            MediaUpload::new(MessageKind::Sticker, png(4, 4, 4)).mime_type("image/png"),
            "sticker",
        ),
    ];
    let text = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.customer,
            &CustomerMessage::text("Здравствуйте"),
        )
        .unwrap();
    let mut receipts = Vec::new();
    for (upload, _) in &cases {
        receipts.push(
            t.sandbox
                .customer_sends(
                    &t.bot.id,
                    &t.customer,
                    &CustomerMessage::media(upload.clone()).caption("подпись"),
                )
                .unwrap(),
        );
    }
    let reply = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.customer,
            &CustomerMessage::text("ответ").reply_to(text.message_id.clone()),
        )
        .unwrap();

    let (status, answer) = t.updates("timeout=0").await;
    assert_eq!(status, 200, "{answer}");
    let updates = answer["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2 + cases.len());
    assert!(answer["marker"].is_i64());
    for u in updates {
        assert_eq!(u["update_type"], "message_created");
        assert_eq!(u["user_locale"], "ru");
        assert!(u["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        let m = &u["message"];
        assert_eq!(m["sender"]["user_id"].to_string(), t.customer);
        assert_eq!(m["sender"]["is_bot"], false);
        assert_eq!(m["sender"]["first_name"], "Ivan");
        assert_eq!(m["recipient"]["chat_id"], chat);
        assert_eq!(m["recipient"]["chat_type"], "dialog");
        assert_eq!(m["recipient"]["user_id"].to_string(), t.bot.id);
    }
    assert_eq!(updates[0]["message"]["body"]["text"], "Здравствуйте");
    assert_eq!(updates[0]["message"]["body"]["mid"], text.message_id);
    assert!(
        text.update_id.is_some(),
        "the receipt names the update's marker"
    );

    for (i, ((upload, kind), receipt)) in cases.iter().zip(&receipts).enumerate() {
        let m = &updates[i + 1]["message"];
        assert_eq!(m["body"]["mid"], receipt.message_id);
        assert_eq!(m["body"]["text"], "подпись", "{kind}");
        let a = &m["body"]["attachments"][0];
        assert_eq!(a["type"], *kind);
        let url = a["payload"]["url"].as_str().unwrap();
        let media_id = receipt.media_id.as_deref().unwrap();
        let download = if *kind == "video" {
            // The receipt names the token; GET /videos gives the file.
            assert_eq!(a["payload"]["token"], media_id);
            let (status, details) = t.get(&format!("/videos/{media_id}")).await;
            assert_eq!(status, 200);
            details["urls"]["mp4_720"].as_str().unwrap().to_owned()
        } else {
            assert_eq!(url, media_id);
            url.to_owned()
        };
        let bytes = t
            .http
            .get(&download)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bytes.as_ref(), upload.data.as_ref(), "{kind}");
        if *kind == "file" {
            assert_eq!(a["filename"], "invoice.pdf");
            assert_eq!(a["size"], 400);
        }
        if *kind == "image" {
            assert!(a["payload"]["token"].is_string() && a["payload"]["photo_id"].is_i64());
        }
        if *kind == "sticker" {
            assert!(a["payload"]["code"].is_string());
        }
    }
    let last = &updates[updates.len() - 1]["message"];
    assert_eq!(last["body"]["mid"], reply.message_id);
    assert_eq!(last["link"]["type"], "reply");
    assert_eq!(last["link"]["message"]["mid"], text.message_id);

    // An inbound token can be sent again by the bot.
    let image_token = updates[1]["message"]["body"]["attachments"][0]["payload"]["token"].clone();
    let (status, _) = t
        .send(json!({ "attachments": [{ "type": "image", "payload": { "token": image_token } }] }))
        .await;
    assert_eq!(status, 200);

    // The control view has the conversation.
    let all = t.sandbox.messages(&t.bot.id, &t.customer).unwrap();
    let inbound: Vec<_> = all
        .iter()
        .filter(|m| m.direction == MessageDirection::Inbound)
        .collect();
    assert_eq!(inbound.len(), 2 + cases.len());
    assert_eq!(inbound[1].kind, MessageKind::Image);
    assert_eq!(inbound[1].caption.as_deref(), Some("подпись"));
    assert_eq!(
        inbound[1].media.as_ref().unwrap().size,
        Some(image.len() as u64)
    );
}

#[tokio::test]
async fn a_native_voice_note_arrives_without_its_message() {
    let t = Bot::new().await;
    let receipt = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.customer,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Voice, ogg(500))),
        )
        .unwrap();
    assert_eq!(receipt.media_id, None);
    let (_, answer) = t.updates("timeout=0").await;
    let u = &answer["updates"][0];
    assert_eq!(u["update_type"], "message_created");
    assert!(u.get("message").is_none(), "{u}");
    assert!(u["timestamp"].is_i64());
    assert_eq!(u["user_locale"], "ru");
    // The sandbox still shows what the customer sent.
    let inbound = t.sandbox.messages(&t.bot.id, &t.customer).unwrap();
    assert_eq!(inbound[0].kind, MessageKind::Voice);
    assert_eq!(inbound[0].id, receipt.message_id);
}

#[tokio::test]
async fn markers_confirm_what_came_before_them() {
    let t = Bot::new().await;
    let say = |text: &str| {
        t.sandbox
            .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text(text))
            .unwrap()
    };
    let texts = |answer: &Value| -> Vec<String> {
        answer["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["message"]["body"]["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = say("one");
    say("two");
    say("three");

    // No marker: everything not confirmed; asking again gives it again.
    let (_, a) = t.updates("timeout=0").await;
    assert_eq!(texts(&a), ["one", "two", "three"]);
    let marker = a["marker"].as_i64().unwrap();
    assert_eq!(marker, first.update_id.unwrap() + 3);
    let (_, again) = t.updates("timeout=0").await;
    assert_eq!(texts(&again), ["one", "two", "three"]);

    // A limit answers a part, with the marker that confirms it.
    let (_, part) = t.updates("timeout=0&limit=2").await;
    assert_eq!(texts(&part), ["one", "two"]);
    let part_marker = part["marker"].as_i64().unwrap();
    let (_, rest) = t.updates(&format!("timeout=0&marker={part_marker}")).await;
    assert_eq!(texts(&rest), ["three"]);
    assert_eq!(rest["marker"], marker);

    // The marker confirms: an empty answer keeps it.
    let (_, empty) = t.updates(&format!("timeout=0&marker={marker}")).await;
    assert_eq!(empty, json!({ "updates": [], "marker": marker }));
    let (_, empty) = t.updates("timeout=0").await;
    assert_eq!(empty["updates"], json!([]));
    assert_eq!(t.sandbox.account(&t.bot.id).unwrap().pending, 0);

    // The type filter.
    say("four");
    t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    let (_, stops) = t
        .updates(&format!(
            "timeout=0&marker={marker}&types=bot_stopped,bot_started"
        ))
        .await;
    let kinds: Vec<&str> = stops["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["bot_stopped"]);

    // Parameters out of range.
    for query in [
        "limit=0",
        "limit=1001",
        "timeout=91",
        "timeout=-1",
        "marker=x",
    ] {
        assert_error(&t.updates(query).await, 400, "proto.payload");
    }
}

#[tokio::test]
async fn a_long_poll_is_held_until_an_update_comes() {
    let t = Bot::new().await;
    let (_, a) = t.updates("timeout=0").await;
    let marker = a["marker"].as_i64().unwrap();
    let query = format!("timeout=30&marker={marker}");
    let poll = t.updates(&query);
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.sandbox
            .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("наконец"))
            .unwrap();
    };
    let ((status, answer), ()) = tokio::time::timeout(WAIT, async { tokio::join!(poll, write) })
        .await
        .expect("the held poll answers when the update comes");
    assert_eq!(status, 200);
    assert_eq!(answer["updates"][0]["message"]["body"]["text"], "наконец");
    assert_eq!(answer["marker"], marker + 1);

    // A short timeout answers empty with the marker kept.
    let (status, empty) =
        tokio::time::timeout(WAIT, t.updates(&format!("timeout=1&marker={}", marker + 1)))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(empty, json!({ "updates": [], "marker": marker + 1 }));
}

#[tokio::test]
async fn stopping_and_restarting_the_bot_are_updates_and_reads_are_not() {
    let t = Bot::new().await;
    let chat = t.chat().await;
    let (_, a) = t.updates("timeout=0").await;
    let marker = a["marker"].as_i64().unwrap();

    let blocked = t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    assert!(blocked.blocked);
    let (_, stop) = t.updates(&format!("timeout=0&marker={marker}")).await;
    let u = &stop["updates"][0];
    assert_eq!(u["update_type"], "bot_stopped");
    assert_eq!(u["chat_id"], chat);
    assert_eq!(u["user"]["user_id"].to_string(), t.customer);
    assert_eq!(u["user_locale"], "ru");
    assert!(u["timestamp"].is_i64());
    let marker = stop["marker"].as_i64().unwrap();

    // Sends are refused with chat.denied; the customer cannot write either.
    let got = t.send(json!({ "text": "Вы тут?" })).await;
    assert_error(&got, 403, "chat.denied");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("error.dialog.suspended")
    );
    assert_error(
        &t.post(&format!("/messages?chat_id={chat}"), json!({ "text": "x" }))
            .await,
        403,
        "chat.denied",
    );
    assert!(
        t.sandbox
            .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("x"))
            .is_err()
    );
    // Blocking twice changes nothing.
    t.sandbox.block(&t.bot.id, &t.customer).unwrap();

    t.sandbox.unblock(&t.bot.id, &t.customer).unwrap();
    let (_, start) = t.updates(&format!("timeout=0&marker={marker}")).await;
    assert_eq!(start["updates"].as_array().unwrap().len(), 1);
    let u = &start["updates"][0];
    assert_eq!(u["update_type"], "bot_started");
    assert_eq!(u["chat_id"], chat);
    assert_eq!(u["user_id"].to_string(), t.customer);
    let marker = start["marker"].as_i64().unwrap();
    let (status, _) = t.send(json!({ "text": "С возвращением" })).await;
    assert_eq!(status, 200);

    // Reads: the sandbox marks them, MAX tells the bot nothing.
    let outcome = t
        .sandbox
        .customer_reads(&t.bot.id, &t.customer, None)
        .unwrap();
    assert_eq!(outcome.read, 2);
    let (_, none) = t.updates(&format!("timeout=0&marker={marker}")).await;
    assert_eq!(none["updates"], json!([]));
    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert!(received.iter().all(|m| m.status == MessageStatus::Read));
}

// ---------------------------------------------------------------------------------------------
// Subscriptions and deliveries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_subscription_delivers_with_the_secret_and_stops_long_polling() {
    let t = Bot::new().await;
    let receiver = Receiver::start().await;
    let (status, ok) = t
        .post(
            "/subscriptions",
            json!({ "url": receiver.url, "secret": "Hook_Secret-1", "update_types": ["message_created", "bot_stopped"] }),
        )
        .await;
    assert_eq!((status, ok), (200, json!({ "success": true })));
    let (_, list) = t.get("/subscriptions").await;
    let subs = list["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["url"], receiver.url.as_str());
    assert_eq!(
        subs[0]["update_types"],
        json!(["message_created", "bot_stopped"])
    );
    assert!(subs[0]["time"].is_i64());
    assert!(subs[0].get("secret").is_none());
    let account = t.sandbox.account(&t.bot.id).unwrap();
    assert_eq!(account.webhook_url.as_deref(), Some(receiver.url.as_str()));
    assert_eq!(account.webhook_secret.as_deref(), Some("Hook_Secret-1"));
    assert_eq!(
        t.sandbox
            .credentials(&t.bot.id)
            .unwrap()
            .get("webhook_secret"),
        Some("Hook_Secret-1")
    );

    // Long polling is refused while subscribed.
    assert_error(&t.updates("timeout=0").await, 405, "method.not.allowed");

    let receipt = t
        .sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("по вебхуку"))
        .unwrap();
    let got = receiver.next().await;
    assert_eq!(
        got.header("x-max-bot-api-secret").as_deref(),
        Some("Hook_Secret-1")
    );
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = got.json();
    assert_eq!(
        body["update_type"], "message_created",
        "one Update per delivery"
    );
    assert_eq!(body["message"]["body"]["mid"], receipt.message_id);
    assert_eq!(body["message"]["body"]["text"], "по вебхуку");

    t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    assert_eq!(receiver.next().await.json()["update_type"], "bot_stopped");
    // bot_started is not among the subscription's types: not delivered.
    t.sandbox.unblock(&t.bot.id, &t.customer).unwrap();
    assert!(receiver.nothing_more().await);
    let deliveries = t.sandbox.deliveries(&t.bot.id).unwrap();
    let kinds: Vec<&str> = deliveries.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["message_created", "bot_stopped"]);
    assert!(deliveries.iter().all(|d| d.status == Some(200)));
    assert_eq!(
        deliveries[0].reference,
        receipt.update_id.unwrap().to_string()
    );
    assert_eq!(t.sandbox.account(&t.bot.id).unwrap().pending, 0);

    // Refusals: secret, URL, unsubscribing a URL that is not subscribed.
    for body in [
        json!({ "url": receiver.url, "secret": "abc" }),
        json!({ "url": receiver.url, "secret": "no spaces here" }),
        json!({ "url": "http://example.com/hook" }),
        json!({ "url": "https://example.com:8443/hook" }),
        json!({ "secret": "Hook_Secret-1" }),
    ] {
        assert_error(&t.post("/subscriptions", body).await, 400, "proto.payload");
    }
    let (status, no) = t
        .request(
            Method::DELETE,
            "/subscriptions?url=http%3A%2F%2F127.0.0.1%3A1%2Fx",
            None,
        )
        .await;
    assert_eq!((status, no["success"].clone()), (200, json!(false)));
    assert_error(
        &t.request(Method::DELETE, "/subscriptions", None).await,
        400,
        "proto.payload",
    );

    let encoded: String = url::form_urlencoded::byte_serialize(receiver.url.as_bytes()).collect();
    let (status, ok) = t
        .request(
            Method::DELETE,
            &format!("/subscriptions?url={encoded}"),
            None,
        )
        .await;
    assert_eq!((status, ok), (200, json!({ "success": true })));
    let (_, list) = t.get("/subscriptions").await;
    assert_eq!(list, json!({ "subscriptions": [] }));
    let (status, _) = t.updates("timeout=0").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_lose_nothing() {
    let receiver = Receiver::start_failing(2, "unused").await;
    let sandbox = sandbox().await;
    let bot = sandbox
        .create_account(
            &AccountSpec::new(Platform::Max)
                .webhook_url(receiver.url.clone())
                .webhook_secret("Secret_42"),
        )
        .unwrap();
    assert_eq!(bot.webhook_secret.as_deref(), Some("Secret_42"));
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    let receipt = sandbox
        .customer_sends(&bot.id, &ivan.id, &CustomerMessage::text("раз"))
        .unwrap();
    for _ in 0..3 {
        let got = receiver.next().await;
        assert_eq!(
            got.header("x-max-bot-api-secret").as_deref(),
            Some("Secret_42")
        );
        assert_eq!(got.json()["message"]["body"]["mid"], receipt.message_id);
    }
    common::eventually(|| sandbox.account(&bot.id).unwrap().pending == 0).await;
    let statuses: Vec<Option<u16>> = sandbox
        .deliveries(&bot.id)
        .unwrap()
        .iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);

    // The control API sets and removes the subscription like POST / DELETE /subscriptions.
    let patched = sandbox
        .update_account(
            &bot.id,
            &AccountPatch {
                webhook_secret: Some(String::new()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    assert_eq!(patched.webhook_secret, None);
    let patched = sandbox
        .update_account(
            &bot.id,
            &AccountPatch {
                webhook_url: Some(String::new()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    assert_eq!(patched.webhook_url, None);
    assert!(
        sandbox
            .update_account(
                &bot.id,
                &AccountPatch {
                    webhook_secret: Some("Secret_43".into()),
                    ..AccountPatch::default()
                },
            )
            .is_err(),
        "no subscription to put a secret on"
    );
}

// ---------------------------------------------------------------------------------------------
// Rate limit and faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_per_bot_rate_limit_answers_429() {
    let t = Bot::with_config(SandboxConfig {
        max_per_bot: strict(3),
        ..SandboxConfig::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(t.get("/me").await.0, 200);
    }
    let resp = t
        .http
        .post(t.url(&format!("/messages?user_id={}", t.customer)))
        .header("Authorization", &t.bot.token)
        .json(&json!({ "text": "x" }))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_error(&read(resp).await, 429, "too.many.requests");
    assert!(
        t.sandbox
            .received(&t.bot.id, &t.customer)
            .unwrap()
            .is_empty()
    );
    let logged: Vec<(String, u16)> = t
        .sandbox
        .requests(&t.bot.id)
        .unwrap()
        .into_iter()
        .map(|r| (r.operation, r.status))
        .collect();
    assert_eq!(logged.last().unwrap(), &("POST /messages".to_owned(), 429));
    assert_eq!(logged[0], ("GET /me".to_owned(), 200));
    // The default follows the sheet: 30 per second (one allowance every 1/30 s).
    assert_eq!(
        SandboxConfig::default().max_per_bot,
        Some(messenger_sandbox::RateLimit::new(
            30,
            Duration::from_nanos(33_333_333)
        ))
    );
    assert_eq!(
        SandboxConfig::default().without_rate_limits().max_per_bot,
        None
    );
}

#[tokio::test]
async fn faults_apply_to_max_requests() {
    let t = Bot::new().await;
    let fault = |spec: FaultSpec| t.sandbox.inject_fault(&t.bot.id, &spec).unwrap();

    fault(FaultSpec::new(Fault::ServerError { status: 502 }).operation("POST /messages"));
    assert_error(&t.send(json!({ "text": "x" })).await, 502, "internal.error");
    assert!(
        t.sandbox
            .received(&t.bot.id, &t.customer)
            .unwrap()
            .is_empty()
    );

    fault(FaultSpec::new(Fault::RateLimited { retry_after: 7 }));
    let resp = t
        .http
        .get(t.url("/me"))
        .header("Authorization", &t.bot.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_error(&read(resp).await, 429, "too.many.requests");

    // Dropped after processing: the client sees no answer, the message was sent.
    fault(
        FaultSpec::new(Fault::DropConnection {
            before_processing: false,
        })
        .operation("post /MESSAGES"),
    );
    assert!(
        t.http
            .post(t.url(&format!("/messages?user_id={}", t.customer)))
            .header("Authorization", &t.bot.token)
            .json(&json!({ "text": "maybe" }))
            .send()
            .await
            .is_err()
    );
    assert_eq!(t.sandbox.received(&t.bot.id, &t.customer).unwrap().len(), 1);

    // The upload host and downloads have their own operations.
    let url = t.upload_url("file").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    fault(FaultSpec::new(Fault::ServerError { status: 503 }).operation("upload"));
    assert_error(
        &read(t.upload_to(&url, pdf(10), "a.pdf", "application/pdf").await).await,
        503,
        "internal.error",
    );
    let resp = t.upload_to(&url, pdf(10), "a.pdf", "application/pdf").await;
    assert_eq!(
        resp.status(),
        200,
        "a refused attempt does not spend the URL"
    );
    let receipt = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.customer,
            &CustomerMessage::media(MediaUpload::new(MessageKind::File, pdf(64))),
        )
        .unwrap();
    fault(FaultSpec::new(Fault::TruncatedBody).operation("download"));
    let cut = t
        .http
        .get(receipt.media_id.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert!(cut.is_err(), "the body is cut");

    fault(FaultSpec::new(Fault::Delay { millis: 50 }).operation("GET /updates"));
    let (status, _) = t.updates("timeout=0").await;
    assert_eq!(status, 200);

    let faulted: Vec<(String, String)> = t
        .sandbox
        .requests(&t.bot.id)
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.operation, r.fault?)))
        .collect();
    assert_eq!(
        faulted,
        [
            ("POST /messages".to_owned(), "server_error".to_owned()),
            ("GET /me".to_owned(), "rate_limited".to_owned()),
            ("POST /messages".to_owned(), "drop_connection".to_owned()),
            ("upload".to_owned(), "server_error".to_owned()),
            ("download".to_owned(), "truncated_body".to_owned()),
            ("GET /updates".to_owned(), "delay".to_owned()),
        ]
    );
    assert!(t.sandbox.faults(&t.bot.id).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Accounts, credentials, the demo
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_credentials_and_the_demo() {
    let sandbox = sandbox().await;
    let bot = sandbox
        .create_account(
            &AccountSpec::new(Platform::Max)
                .id("777000111")
                .token("max-token-1")
                .username("shop_bot"),
        )
        .unwrap();
    assert_eq!(bot.id, "777000111");
    assert_eq!(bot.username.as_deref(), Some("shop_bot"));
    let credentials = sandbox.credentials(&bot.id).unwrap();
    let keys: Vec<&str> = credentials.keys().collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(credentials.get("token"), Some("max-token-1"));
    assert_eq!(
        credentials.get("base_url"),
        Some(format!("{}/max", sandbox.urls().base).as_str())
    );
    assert_eq!(
        sandbox.urls().platform(Platform::Max),
        credentials.get("base_url")
    );

    for spec in [
        AccountSpec::new(Platform::Max).id("abc"),
        AccountSpec::new(Platform::Max).id("-5"),
        AccountSpec::new(Platform::Max).token("has space"),
        AccountSpec::new(Platform::Max).webhook_url("http://example.com/hook"),
        AccountSpec::new(Platform::Max)
            .webhook_url("http://127.0.0.1:9/hook")
            .webhook_secret("abc"),
    ] {
        assert!(sandbox.create_account(&spec).is_err(), "{spec:?}");
    }
    assert!(
        sandbox
            .create_account(&AccountSpec::new(Platform::Max).token("max-token-1"))
            .is_err(),
        "tokens are unique"
    );
    assert!(
        sandbox
            .create_customer(&bot.id, &NewCustomer::named("X").id("not-a-number"))
            .is_err()
    );
    assert!(
        sandbox
            .update_account(
                &bot.id,
                &AccountPatch {
                    app_secret: Some("x".into()),
                    ..AccountPatch::default()
                },
            )
            .is_err()
    );
    sandbox.shutdown().await;

    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();
    let seeded = demo.account(Platform::Max).expect("a MAX demo bot");
    assert_eq!(seeded.account.id, "500000001");
    assert_eq!(seeded.customer.id, "400000001");
    assert_eq!(seeded.customer.name, "Anna");
    let credentials = sandbox.credentials(&seeded.account.id).unwrap();
    let me = client()
        .get(format!("{}/me", credentials.get("base_url").unwrap()))
        .header("Authorization", credentials.get("token").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

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
async fn a_max_cycle_logs_no_content_names_or_tokens() {
    const TEXT: &str = "SECRET-TEXT-4242";
    const CAPTION: &str = "SECRET-CAPTION-77";
    const FILE_NAME: &str = "secret-file-name.pdf";
    const TOKEN: &str = "SECRETmaxTokenValue_0123456789";
    const HOOK_SECRET: &str = "SECRET-hook-value";
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("messenger_sandbox=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sandbox = Sandbox::start_with("127.0.0.1:0", SandboxConfig::default())
        .await
        .unwrap();
    let receiver = Receiver::start().await;
    let http = client();
    let bot = sandbox
        .create_account(&AccountSpec::new(Platform::Max).token(TOKEN))
        .unwrap();
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    let root = sandbox.urls().platform(Platform::Max).unwrap().to_owned();
    sandbox
        .customer_sends(
            &bot.id,
            &ivan.id,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::File, pdf(100)).file_name(FILE_NAME),
            )
            .caption(CAPTION),
        )
        .unwrap();
    let updates = http
        .get(format!("{root}/updates?timeout=0"))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(updates.status(), 200);
    let endpoint: Value = http
        .post(format!("{root}/uploads?type=file"))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let form = Form::new().part("data", Part::bytes(pdf(100)).file_name(FILE_NAME));
    let host: Value = http
        .post(endpoint["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sandbox.advance_clock(Duration::from_secs(5));
    let sent = http
        .post(format!("{root}/messages?user_id={}", ivan.id))
        .header("Authorization", TOKEN)
        .json(&json!({ "text": CAPTION, "attachments": [{ "type": "file", "payload": { "token": host["token"] } }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let resp = http
        .post(format!("{root}/subscriptions"))
        .header("Authorization", TOKEN)
        .json(&json!({ "url": receiver.url, "secret": HOOK_SECRET }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sandbox
        .customer_sends(&bot.id, &ivan.id, &CustomerMessage::text(TEXT))
        .unwrap();
    receiver.next().await;
    sandbox.shutdown().await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sandbox max: message sent"),
        "tracing was captured"
    );
    assert!(
        logs.contains("sandbox max: upload received"),
        "tracing was captured"
    );
    for secret in [TEXT, CAPTION, FILE_NAME, TOKEN, HOOK_SECRET, "SECRET"] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}
