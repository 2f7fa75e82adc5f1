//! The Telegram Bot API emulation, exercised with plain reqwest as a connector would.

mod common;

use std::time::Duration;

use common::{Receiver, client, eventually, ogg, pdf, png, sandbox, sandbox_with, strict};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, MediaUpload, MessageDirection, MessageKind,
    MessageStatus, NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

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

    fn with(sandbox: Sandbox) -> Self {
        let bot = sandbox
            .create_account(&AccountSpec::telegram().name("Shop"))
            .unwrap();
        let customer = sandbox
            .create_customer(&bot.id, &NewCustomer::named("Ivan"))
            .unwrap()
            .id;
        Self {
            sandbox,
            bot,
            customer,
            http: client(),
        }
    }

    fn url(&self, method: &str) -> String {
        format!(
            "{}/bot{}/{method}",
            self.sandbox.urls().telegram(),
            self.bot.token
        )
    }

    async fn call(&self, method: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(method))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn multipart(&self, method: &str, form: Form) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(method))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    fn chat(&self) -> i64 {
        self.customer.parse().unwrap()
    }
}

fn assert_error(got: &(u16, Value), code: u16, description: &str) {
    assert_eq!(got.0, code, "{}", got.1);
    assert_eq!(got.1["ok"], false);
    assert_eq!(got.1["error_code"], code);
    assert_eq!(got.1["description"], description);
}

#[tokio::test]
async fn get_me_wrong_token_and_unknown_method() {
    let t = Bot::new().await;
    let (status, me) = t.call("getMe", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(me["ok"], true);
    assert_eq!(me["result"]["is_bot"], true);
    assert_eq!(me["result"]["first_name"], "Shop");
    assert_eq!(me["result"]["id"].as_i64().unwrap().to_string(), t.bot.id);

    // Method names are case-insensitive; GET works too.
    let resp = t.http.get(t.url("GETME")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let wrong = format!("{}/bot123:wrong/getMe", t.sandbox.urls().telegram());
    let resp = t.http.get(wrong).send().await.unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_error(&got, 401, "Unauthorized");

    let got = t.call("sendSticker", json!({})).await;
    assert_error(&got, 404, "Not Found");
}

#[tokio::test]
async fn send_message_json_form_and_query_bodies() {
    let t = Bot::new().await;
    let (status, sent) = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "one" }))
        .await;
    assert_eq!(status, 200);
    let msg = &sent["result"];
    assert_eq!(msg["text"], "one");
    assert_eq!(msg["chat"]["id"], t.chat());
    assert_eq!(msg["chat"]["type"], "private");
    assert_eq!(msg["from"]["is_bot"], true);
    assert!(msg["date"].as_i64().unwrap() > 1_600_000_000);

    let resp = t
        .http
        .post(t.url("sendMessage"))
        .form(&[("chat_id", t.customer.as_str()), ("text", "two")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = t
        .http
        .get(t.url("sendMessage"))
        .query(&[("chat_id", t.customer.as_str()), ("text", "three")])
        .send()
        .await
        .unwrap();
    let third: Value = resp.json().await.unwrap();
    assert!(third["result"]["message_id"].as_i64() > msg["message_id"].as_i64());

    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    let texts: Vec<_> = received.iter().map(|m| m.text.clone().unwrap()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert!(received.iter().all(|m| m.kind == MessageKind::Text
        && m.direction == MessageDirection::Outbound
        && m.status == MessageStatus::Sent));
    assert_eq!(received[0].id, msg["message_id"].to_string());
}

#[tokio::test]
async fn send_message_enforces_chat_and_text_rules() {
    let t = Bot::new().await;
    let got = t
        .call("sendMessage", json!({ "chat_id": 999, "text": "x" }))
        .await;
    assert_error(&got, 400, "Bad Request: chat not found");
    let got = t
        .call("sendMessage", json!({ "chat_id": "@someone", "text": "x" }))
        .await;
    assert_error(&got, 400, "Bad Request: chat not found");
    let got = t.call("sendMessage", json!({ "text": "x" })).await;
    assert_error(&got, 400, "Bad Request: chat_id is empty");
    let got = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "" }))
        .await;
    assert_error(&got, 400, "Bad Request: message text is empty");

    // 4096 UTF-16 code units pass; an emoji counts two.
    let max = "я".repeat(4096);
    let (status, _) = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": max }))
        .await;
    assert_eq!(status, 200);
    let emoji = "😀".repeat(2049); // 2049 chars, 4098 UTF-16 units
    let got = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": emoji }))
        .await;
    assert_error(&got, 400, "Bad Request: message is too long");

    // The limit counts the text after entity parsing.
    let html = format!("<b>{}</b>", "a".repeat(4096));
    let (status, sent) = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": html, "parse_mode": "HTML" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["result"]["text"].as_str().unwrap().len(), 4096);
    let got = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "<blink>x</blink>", "parse_mode": "HTML" }),
        )
        .await;
    assert_eq!(got.0, 400);
    assert!(
        got.1["description"]
            .as_str()
            .unwrap()
            .starts_with("Bad Request: can't parse entities: Unsupported start tag \"blink\"")
    );
    let got = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "1.5", "parse_mode": "MarkdownV2" }),
        )
        .await;
    assert_error(
        &got,
        400,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
    );
    let got = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "x", "parse_mode": "BBCode" }),
        )
        .await;
    assert_error(&got, 400, "Bad Request: unsupported parse_mode");

    // Only the two successful sends were stored.
    assert_eq!(t.sandbox.received(&t.bot.id, &t.customer).unwrap().len(), 2);
}

#[tokio::test]
async fn replies_need_an_existing_message() {
    let t = Bot::new().await;
    let receipt = t
        .sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("question"))
        .unwrap();
    let (status, sent) = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "answer",
                    "reply_parameters": { "message_id": receipt.message_id.parse::<i64>().unwrap() } }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["result"]["reply_to_message"]["text"], "question");
    let got = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "x", "reply_parameters": { "message_id": 9999 } }),
        )
        .await;
    assert_error(&got, 400, "Bad Request: message to be replied not found");
    let (status, _) = t
        .call(
            "sendMessage",
            json!({ "chat_id": t.chat(), "text": "x",
                    "reply_parameters": { "message_id": 9999, "allow_sending_without_reply": true } }),
        )
        .await;
    assert_eq!(status, 200);
    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert_eq!(
        received[0].reply_to.as_deref(),
        Some(receipt.message_id.as_str())
    );
}

#[tokio::test]
async fn blocked_bot_gets_403_and_my_chat_member_updates() {
    let t = Bot::new().await;
    t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    let got = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "hi" }))
        .await;
    assert_error(&got, 403, "Forbidden: bot was blocked by the user");
    let got = t
        .call(
            "sendChatAction",
            json!({ "chat_id": t.chat(), "action": "typing" }),
        )
        .await;
    assert_error(&got, 403, "Forbidden: bot was blocked by the user");
    t.sandbox.unblock(&t.bot.id, &t.customer).unwrap();
    let (status, _) = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "hi" }))
        .await;
    assert_eq!(status, 200);

    let (_, updates) = t.call("getUpdates", json!({})).await;
    let updates = updates["result"].as_array().unwrap().clone();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[0]["my_chat_member"]["new_chat_member"]["status"],
        "kicked"
    );
    assert_eq!(
        updates[0]["my_chat_member"]["old_chat_member"]["status"],
        "member"
    );
    assert_eq!(
        updates[1]["my_chat_member"]["new_chat_member"]["status"],
        "member"
    );
    assert_eq!(updates[1]["my_chat_member"]["chat"]["id"], t.chat());
}

#[tokio::test]
async fn photo_upload_get_file_download_and_file_id_reuse() {
    let t = Bot::new().await;
    let bytes = png(640, 480, 1000);
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .text("caption", "receipt")
        .part(
            "photo",
            Part::bytes(bytes.clone())
                .file_name("r.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let (status, sent) = t.multipart("sendPhoto", form).await;
    assert_eq!(status, 200, "{sent}");
    let photo = &sent["result"]["photo"].as_array().unwrap()[0];
    assert_eq!(sent["result"]["caption"], "receipt");
    assert_eq!(photo["width"], 640);
    assert_eq!(photo["height"], 480);
    assert_eq!(photo["file_size"], bytes.len());
    let file_id = photo["file_id"].as_str().unwrap().to_string();

    let (status, file) = t.call("getFile", json!({ "file_id": file_id })).await;
    assert_eq!(status, 200);
    assert_eq!(file["result"]["file_size"], bytes.len());
    let path = file["result"]["file_path"].as_str().unwrap();
    let url = format!(
        "{}/file/bot{}/{path}",
        t.sandbox.urls().telegram(),
        t.bot.token
    );
    let downloaded = t.http.get(&url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let wrong = format!("{}/file/bot1:nope/{path}", t.sandbox.urls().telegram());
    assert_eq!(t.http.get(&wrong).send().await.unwrap().status(), 401);

    // Reuse by file_id (JSON body): same file, no upload.
    let (status, again) = t
        .call(
            "sendPhoto",
            json!({ "chat_id": t.chat(), "photo": file_id }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["result"]["photo"][0]["file_id"], file_id.as_str());
    // The type cannot change.
    let got = t
        .call(
            "sendDocument",
            json!({ "chat_id": t.chat(), "document": file_id }),
        )
        .await;
    assert_error(&got, 400, "Bad Request: type of file mismatch");
    // file_ids are per bot.
    let other = t.sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let other_customer = t
        .sandbox
        .create_customer(&other.id, &NewCustomer::named("P"))
        .unwrap();
    let resp = t
        .http
        .post(format!(
            "{}/bot{}/sendPhoto",
            t.sandbox.urls().telegram(),
            other.token
        ))
        .json(&json!({ "chat_id": other_customer.id.parse::<i64>().unwrap(), "photo": file_id }))
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_error(
        &got,
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    );

    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].kind, MessageKind::Image);
    assert_eq!(received[0].caption.as_deref(), Some("receipt"));
    let media = received[0].media.as_ref().unwrap();
    assert_eq!(media.size, Some(bytes.len() as u64));
    assert_eq!(media.mime_type.as_deref(), Some("image/png"));
    assert_eq!(media.reference.as_deref(), Some(file_id.as_str()));
}

#[tokio::test]
async fn photo_and_caption_limits() {
    let t = Bot::new().await;
    let part = |bytes: Vec<u8>| {
        Part::bytes(bytes)
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap()
    };
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .text("caption", "ж".repeat(1025))
        .part("photo", part(png(10, 10, 10)));
    assert_error(
        &t.multipart("sendPhoto", form).await,
        400,
        "Bad Request: message caption is too long",
    );
    let form = Form::new().text("chat_id", t.customer.clone()).part(
        "photo",
        Part::bytes(b"not an image".to_vec()).file_name("x.png"),
    );
    assert_error(
        &t.multipart("sendPhoto", form).await,
        400,
        "Bad Request: IMAGE_PROCESS_FAILED",
    );
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .part("photo", part(png(9000, 2000, 10)));
    assert_error(
        &t.multipart("sendPhoto", form).await,
        400,
        "Bad Request: PHOTO_INVALID_DIMENSIONS",
    );
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .part("photo", part(png(100, 100, 10 * 1024 * 1024)));
    assert_error(
        &t.multipart("sendPhoto", form).await,
        400,
        "Bad Request: PHOTO_SAVE_FILE_INVALID",
    );
    let got = t.call("sendPhoto", json!({ "chat_id": t.chat() })).await;
    assert_error(&got, 400, "Bad Request: there is no photo in the request");
    assert!(
        t.sandbox
            .received(&t.bot.id, &t.customer)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn documents_voice_audio_video_and_urls() {
    let t = Bot::new().await;
    let file = |bytes: Vec<u8>, name: &str| Part::bytes(bytes).file_name(name.to_string());
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .text("caption", "invoice")
        .part("document", file(pdf(2000), "invoice.pdf"));
    let (status, doc) = t.multipart("sendDocument", form).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["result"]["document"]["file_name"], "invoice.pdf");
    assert_eq!(doc["result"]["document"]["mime_type"], "application/pdf");
    assert_eq!(doc["result"]["document"]["file_size"], 2000);

    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .text("duration", "3")
        .part("voice", file(ogg(500), "note.ogg"));
    let (_, voice) = t.multipart("sendVoice", form).await;
    assert_eq!(voice["result"]["voice"]["duration"], 3);
    assert_eq!(voice["result"]["voice"]["mime_type"], "audio/ogg");
    // A voice note that is not OGG/MP3/M4A goes out as a document.
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .part("voice", file(b"RIFF0000WAVEfmt ".to_vec(), "note.wav"));
    let (_, wav) = t.multipart("sendVoice", form).await;
    assert!(wav["result"]["voice"].is_null());
    assert!(wav["result"]["document"]["file_id"].is_string());

    let mut mp3 = b"ID3\x03\0".to_vec();
    mp3.resize(300, 0);
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .text("title", "Song")
        .part("audio", file(mp3, "song.mp3"));
    let (_, audio) = t.multipart("sendAudio", form).await;
    assert_eq!(audio["result"]["audio"]["mime_type"], "audio/mpeg");
    assert_eq!(audio["result"]["audio"]["title"], "Song");

    let mut mp4 = b"\0\0\0\x18ftypmp42".to_vec();
    mp4.resize(400, 0);
    let form = Form::new()
        .text("chat_id", t.customer.clone())
        .part("video", file(mp4, "clip.mp4"));
    let (_, video) = t.multipart("sendVideo", form).await;
    assert_eq!(video["result"]["video"]["mime_type"], "video/mp4");

    // A URL is recorded, never fetched: the file has no bytes to download.
    let (status, by_url) = t
        .call(
            "sendPhoto",
            json!({ "chat_id": t.chat(), "photo": "https://example.com/a.jpg" }),
        )
        .await;
    assert_eq!(status, 200);
    let url_file = by_url["result"]["photo"][0]["file_id"].as_str().unwrap();
    let got = t.call("getFile", json!({ "file_id": url_file })).await;
    assert_error(
        &got,
        400,
        "Bad Request: wrong file_id or the file is temporarily unavailable",
    );
    let got = t.call("getFile", json!({ "file_id": "nonsense" })).await;
    assert_error(&got, 400, "Bad Request: invalid file_id");

    let kinds: Vec<MessageKind> = t
        .sandbox
        .received(&t.bot.id, &t.customer)
        .unwrap()
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            MessageKind::File,
            MessageKind::Voice,
            MessageKind::File,
            MessageKind::Audio,
            MessageKind::Video,
            MessageKind::Image
        ]
    );
    let received = t.sandbox.received(&t.bot.id, &t.customer).unwrap();
    assert_eq!(
        received[5].media.as_ref().unwrap().url.as_deref(),
        Some("https://example.com/a.jpg")
    );
    assert_eq!(
        received[0].media.as_ref().unwrap().file_name.as_deref(),
        Some("invoice.pdf")
    );
}

#[tokio::test]
async fn big_files_are_refused_on_upload_and_download() {
    let t = Bot::new().await;
    let form = Form::new().text("chat_id", t.customer.clone()).part(
        "document",
        Part::bytes(pdf(21 * 1024 * 1024)).file_name("big.pdf"),
    );
    let (status, doc) = t.multipart("sendDocument", form).await;
    assert_eq!(status, 200);
    let file_id = doc["result"]["document"]["file_id"].as_str().unwrap();
    let got = t.call("getFile", json!({ "file_id": file_id })).await;
    assert_error(&got, 400, "Bad Request: file is too big");

    let form = Form::new().text("chat_id", t.customer.clone()).part(
        "document",
        Part::bytes(pdf(50 * 1024 * 1024 + 1)).file_name("huge.pdf"),
    );
    assert_error(
        &t.multipart("sendDocument", form).await,
        413,
        "Request Entity Too Large",
    );
    assert_eq!(t.sandbox.received(&t.bot.id, &t.customer).unwrap().len(), 1);
}

#[tokio::test]
async fn customer_media_arrives_as_an_update_and_downloads() {
    let t = Bot::new().await;
    let bytes = ogg(777);
    let receipt = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.customer,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Voice, bytes.clone())),
        )
        .unwrap();
    let (_, updates) = t.call("getUpdates", json!({})).await;
    let voice = &updates["result"][0]["message"]["voice"];
    assert_eq!(voice["file_id"].as_str(), receipt.media_id.as_deref());
    assert_eq!(voice["mime_type"], "audio/ogg");
    assert_eq!(voice["file_size"], 777);
    let (_, file) = t
        .call("getFile", json!({ "file_id": voice["file_id"] }))
        .await;
    let url = format!(
        "{}/file/bot{}/{}",
        t.sandbox.urls().telegram(),
        t.bot.token,
        file["result"]["file_path"].as_str().unwrap()
    );
    assert_eq!(
        t.http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        bytes.as_slice()
    );

    // A command gets its bot_command entity.
    t.sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("/start now"))
        .unwrap();
    let (_, updates) = t
        .call(
            "getUpdates",
            json!({ "offset": updates["result"][0]["update_id"].as_i64().unwrap() + 1 }),
        )
        .await;
    assert_eq!(
        updates["result"][0]["message"]["entities"][0]["type"],
        "bot_command"
    );
    assert_eq!(updates["result"][0]["message"]["entities"][0]["length"], 6);
}

#[tokio::test]
async fn get_updates_offsets_limits_and_confirmation() {
    let t = Bot::new().await;
    for text in ["a", "b", "c"] {
        t.sandbox
            .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text(text))
            .unwrap();
    }
    let (_, all) = t.call("getUpdates", json!({})).await;
    let all = all["result"].as_array().unwrap().clone();
    assert_eq!(all.len(), 3);
    let ids: Vec<i64> = all
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids[1], ids[0] + 1);
    assert_eq!(ids[2], ids[0] + 2);
    assert_eq!(all[0]["message"]["text"], "a");
    assert_eq!(all[0]["message"]["from"]["first_name"], "Ivan");

    // Without confirmation the same updates come again; limit cuts the batch.
    let (_, first) = t.call("getUpdates", json!({ "limit": 1 })).await;
    assert_eq!(first["result"].as_array().unwrap().len(), 1);
    assert_eq!(first["result"][0]["update_id"], ids[0]);

    // offset = last + 1 confirms everything below it.
    let (_, rest) = t.call("getUpdates", json!({ "offset": ids[1] })).await;
    assert_eq!(rest["result"].as_array().unwrap().len(), 2);
    let (_, again) = t.call("getUpdates", json!({})).await;
    assert_eq!(again["result"][0]["update_id"], ids[1]);
    assert_eq!(t.sandbox.account(&t.bot.id).unwrap().pending, 2);

    // A negative offset keeps only the last updates.
    let (_, last) = t.call("getUpdates", json!({ "offset": -1 })).await;
    assert_eq!(last["result"].as_array().unwrap().len(), 1);
    assert_eq!(last["result"][0]["update_id"], ids[2]);
    let (_, after) = t.call("getUpdates", json!({})).await;
    assert_eq!(after["result"].as_array().unwrap().len(), 1);

    let (_, done) = t.call("getUpdates", json!({ "offset": ids[2] + 1 })).await;
    assert!(done["result"].as_array().unwrap().is_empty());
    assert_eq!(t.sandbox.account(&t.bot.id).unwrap().pending, 0);
}

#[tokio::test]
async fn long_poll_returns_when_an_update_arrives() {
    let t = Bot::new().await;
    let http = t.http.clone();
    let url = t.url("getUpdates");
    let poll = tokio::spawn(async move {
        http.post(url)
            .json(&json!({ "timeout": 20 }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    // The message may land before or after the poll starts; either way the poll returns it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    t.sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("late"))
        .unwrap();
    let got = poll.await.unwrap();
    assert_eq!(got["result"][0]["message"]["text"], "late");
}

#[tokio::test]
async fn a_second_poller_terminates_the_first() {
    let t = Bot::new().await;
    let http = t.http.clone();
    let url = t.url("getUpdates");
    let first = tokio::spawn(async move {
        let resp = http
            .post(url)
            .json(&json!({ "timeout": 30 }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    });
    // Keep starting short polls until the long one is terminated.
    let got = loop {
        let (status, _) = t.call("getUpdates", json!({ "timeout": 0 })).await;
        assert_eq!(status, 200);
        if first.is_finished() {
            break first.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_error(
        &got,
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
}

#[tokio::test]
async fn webhook_delivery_with_secret_and_conflict_with_polling() {
    let t = Bot::new().await;
    let receiver = Receiver::start().await;
    let (status, set) = t
        .call(
            "setWebhook",
            json!({ "url": receiver.url, "secret_token": "s3cr3t_TOKEN-1" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(set["result"], true);
    assert_eq!(set["description"], "Webhook was set");

    let got = t.call("getUpdates", json!({})).await;
    assert_error(
        &got,
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );

    t.sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("via hook"))
        .unwrap();
    let delivery = receiver.next().await;
    assert_eq!(
        delivery
            .header("x-telegram-bot-api-secret-token")
            .as_deref(),
        Some("s3cr3t_TOKEN-1")
    );
    assert_eq!(
        delivery.header("content-type").as_deref(),
        Some("application/json")
    );
    let update = delivery.json();
    assert_eq!(update["message"]["text"], "via hook");
    assert!(update["update_id"].is_i64());

    eventually(|| t.sandbox.account(&t.bot.id).unwrap().pending == 0).await;
    let (_, info) = t.call("getWebhookInfo", json!({})).await;
    assert_eq!(info["result"]["url"], receiver.url.as_str());
    assert_eq!(info["result"]["has_custom_certificate"], false);
    assert_eq!(info["result"]["max_connections"], 40);

    let (_, deleted) = t.call("deleteWebhook", json!({})).await;
    assert_eq!(deleted["description"], "Webhook was deleted");
    let (_, info) = t.call("getWebhookInfo", json!({})).await;
    assert_eq!(info["result"]["url"], "");
    let (status, updates) = t.call("getUpdates", json!({})).await;
    assert_eq!(status, 200);
    // The delivered update was confirmed by the 200 of the webhook.
    assert!(updates["result"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn set_webhook_validates_url_and_secret() {
    let t = Bot::new().await;
    let got = t
        .call("setWebhook", json!({ "url": "http://example.com/hook" }))
        .await;
    assert_error(
        &got,
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    );
    let got = t
        .call(
            "setWebhook",
            json!({ "url": "https://example.com:9999/hook" }),
        )
        .await;
    assert_error(
        &got,
        400,
        "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
    );
    let got = t
        .call(
            "setWebhook",
            json!({ "url": "https://example.com/hook", "secret_token": "bad secret!" }),
        )
        .await;
    assert_error(
        &got,
        400,
        "Bad Request: secret token contains unallowed characters",
    );
    let (status, _) = t
        .call("setWebhook", json!({ "url": "https://example.com/hook" }))
        .await;
    assert_eq!(status, 200);
    // An empty URL removes the webhook.
    let (_, removed) = t.call("setWebhook", json!({ "url": "" })).await;
    assert_eq!(removed["description"], "Webhook was deleted");
}

#[tokio::test]
async fn failed_webhook_deliveries_are_retried_and_reported() {
    let t = Bot::new().await;
    let receiver = Receiver::start_failing(2, "x").await;
    t.sandbox
        .update_account(
            &t.bot.id,
            &AccountPatch {
                webhook_url: Some(receiver.url.clone()),
                webhook_secret: Some("abc".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    t.sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("retry me"))
        .unwrap();
    let first = receiver.next().await;
    let second = receiver.next().await;
    let third = receiver.next().await;
    assert_eq!(first.body, third.body, "the same update is delivered again");
    assert_eq!(second.body, third.body);
    assert!(receiver.nothing_more().await);
    eventually(|| t.sandbox.deliveries(&t.bot.id).unwrap().len() == 3).await;
    let deliveries = t.sandbox.deliveries(&t.bot.id).unwrap();
    let statuses: Vec<Option<u16>> = deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(
        deliveries[0].error.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
    let (_, info) = t.call("getWebhookInfo", json!({})).await;
    assert_eq!(info["result"]["pending_update_count"], 0);
    assert_eq!(
        info["result"]["last_error_message"],
        "Wrong response from the webhook: 500 Internal Server Error"
    );
}

#[tokio::test]
async fn flood_control_answers_429_with_retry_after() {
    let config = SandboxConfig {
        telegram_per_chat: strict(2),
        ..SandboxConfig::default()
    };
    let t = Bot::with(sandbox_with(config).await);
    for _ in 0..2 {
        let (status, _) = t
            .call("sendMessage", json!({ "chat_id": t.chat(), "text": "x" }))
            .await;
        assert_eq!(status, 200);
    }
    let got = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "x" }))
        .await;
    assert_eq!(got.0, 429);
    let retry_after = got.1["parameters"]["retry_after"].as_u64().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(
        got.1["description"],
        format!("Too Many Requests: retry after {retry_after}")
    );
    // Another chat has its own bucket.
    let other = t
        .sandbox
        .create_customer(&t.bot.id, &NewCustomer::named("P"))
        .unwrap();
    let (status, _) = t
        .call(
            "sendMessage",
            json!({ "chat_id": other.id.parse::<i64>().unwrap(), "text": "x" }),
        )
        .await;
    assert_eq!(status, 200);
    // After waiting retry_after (on the sandbox clock) the chat accepts again.
    t.sandbox.advance_clock(Duration::from_secs(retry_after));
    let (status, _) = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "x" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(t.sandbox.received(&t.bot.id, &t.customer).unwrap().len(), 3);
}

#[tokio::test]
async fn default_limits_tolerate_a_short_burst() {
    let t = Bot::with(sandbox_with(SandboxConfig::default()).await);
    for _ in 0..3 {
        let (status, _) = t
            .call("sendMessage", json!({ "chat_id": t.chat(), "text": "x" }))
            .await;
        assert_eq!(status, 200);
    }
    // A sustained stream hits flood control.
    let mut limited = false;
    for _ in 0..20 {
        let (status, _) = t
            .call("sendMessage", json!({ "chat_id": t.chat(), "text": "x" }))
            .await;
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited);
}

#[tokio::test]
async fn customer_reads_change_state_but_report_nothing() {
    let t = Bot::new().await;
    let (_, sent) = t
        .call("sendMessage", json!({ "chat_id": t.chat(), "text": "a" }))
        .await;
    t.call("sendMessage", json!({ "chat_id": t.chat(), "text": "b" }))
        .await;
    let first = sent["result"]["message_id"].to_string();
    let outcome = t
        .sandbox
        .customer_reads(&t.bot.id, &t.customer, Some(&first))
        .unwrap();
    assert_eq!(outcome.read, 1);
    let statuses: Vec<MessageStatus> = t
        .sandbox
        .received(&t.bot.id, &t.customer)
        .unwrap()
        .iter()
        .map(|m| m.status)
        .collect();
    assert_eq!(statuses, [MessageStatus::Read, MessageStatus::Sent]);
    let (_, updates) = t.call("getUpdates", json!({})).await;
    assert!(updates["result"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn allowed_updates_filter_and_chat_action() {
    let t = Bot::new().await;
    let (status, _) = t
        .call("getUpdates", json!({ "allowed_updates": ["message"] }))
        .await;
    assert_eq!(status, 200);
    t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    t.sandbox.unblock(&t.bot.id, &t.customer).unwrap();
    t.sandbox
        .customer_sends(&t.bot.id, &t.customer, &CustomerMessage::text("only me"))
        .unwrap();
    // Form bodies carry allowed_updates as a JSON string; [] restores the default set.
    let resp = t
        .http
        .post(t.url("getUpdates"))
        .form(&[("allowed_updates", "[]")])
        .send()
        .await
        .unwrap();
    let updates: Value = resp.json().await.unwrap();
    let updates = updates["result"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["message"]["text"], "only me");
    t.sandbox.block(&t.bot.id, &t.customer).unwrap();
    let (_, updates) = t.call("getUpdates", json!({ "offset": -1 })).await;
    assert!(updates["result"][0]["my_chat_member"].is_object());
    t.sandbox.unblock(&t.bot.id, &t.customer).unwrap();

    let (status, action) = t
        .call(
            "sendChatAction",
            json!({ "chat_id": t.chat(), "action": "typing" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(action["result"], true);
    let got = t
        .call(
            "sendChatAction",
            json!({ "chat_id": 1, "action": "typing" }),
        )
        .await;
    assert_error(&got, 400, "Bad Request: chat not found");
}
