//! The WhatsApp Cloud API emulation, exercised with plain reqwest as a connector would, with a
//! local receiver for the signed webhooks.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{
    Received, Receiver, client, eventually, ogg, pdf, png, sandbox, sandbox_with, strict,
};
use messenger_core::webhook::verify_hmac_sha256;
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, MediaUpload, MessageKind, MessageStatus,
    NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "app-secret-for-tests";

struct Wa {
    sandbox: Sandbox,
    number: SandboxAccount,
    customer: String,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Wa {
    async fn new() -> Self {
        Self::with(sandbox().await).await
    }

    async fn with(sandbox: Sandbox) -> Self {
        let receiver = Receiver::start().await;
        let number = sandbox
            .create_account(
                &AccountSpec::whatsapp()
                    .app_secret(SECRET)
                    .webhook_url(receiver.url.clone())
                    .verify_token("verify-me")
                    .name("Shop"),
            )
            .unwrap();
        let customer = sandbox
            .create_customer(
                &number.id,
                &NewCustomer::named("Sheena").id("+1 650 555 1234"),
            )
            .unwrap()
            .id;
        Self {
            sandbox,
            number,
            customer,
            receiver,
            http: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v25.0/{path}", self.sandbox.urls().whatsapp())
    }

    async fn send(&self, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(&format!("{}/messages", self.number.id)))
            .bearer_auth(&self.number.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn text(&self, to: &str, body: &str) -> (u16, Value) {
        self.send(
            json!({ "messaging_product": "whatsapp", "recipient_type": "individual",
                          "to": to, "type": "text", "text": { "body": body } }),
        )
        .await
    }

    /// The customer writes, which opens the window; the inbound webhook is consumed.
    async fn open_window(&self) -> Value {
        self.sandbox
            .customer_sends(
                &self.number.id,
                &self.customer,
                &CustomerMessage::text("hi"),
            )
            .unwrap();
        let delivery = self.next_signed().await;
        delivery.json()
    }

    /// The next webhook delivery, after checking its signature.
    async fn next_signed(&self) -> Received {
        let delivery = self.receiver.next().await;
        let signature = delivery.header("x-hub-signature-256");
        verify_hmac_sha256(
            SECRET.as_bytes(),
            &delivery.body,
            signature.as_deref(),
            "sha256=",
        )
        .expect("the delivery is signed with the app secret");
        delivery
    }

    async fn next_status(&self) -> Value {
        let body = self.next_signed().await.json();
        body["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
    }

    async fn upload(&self, bytes: Vec<u8>, mime: &str, name: &str) -> (u16, Value) {
        let form = Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime.to_string())
            .part(
                "file",
                Part::bytes(bytes)
                    .file_name(name.to_string())
                    .mime_str(mime)
                    .unwrap(),
            );
        let resp = self
            .http
            .post(self.url(&format!("{}/media", self.number.id)))
            .bearer_auth(&self.number.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

fn graph_error(got: &(u16, Value), http: u16, code: i64) -> &Value {
    assert_eq!(got.0, http, "{}", got.1);
    let error = &got.1["error"];
    assert_eq!(error["code"], code, "{}", got.1);
    assert!(error["message"].is_string());
    assert!(error["type"].is_string());
    assert!(error["fbtrace_id"].is_string());
    error
}

#[tokio::test]
async fn phone_number_object_and_auth_errors() {
    let t = Wa::new().await;
    let resp = t
        .http
        .get(t.url(&t.number.id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let number: Value = resp.json().await.unwrap();
    assert_eq!(number["id"], t.number.id.as_str());
    assert_eq!(number["verified_name"], "Shop");
    assert_eq!(number["platform_type"], "CLOUD_API");
    let resp = t
        .http
        .get(t.url(&t.number.id))
        .query(&[("fields", "verified_name")])
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    let filtered: Value = resp.json().await.unwrap();
    assert_eq!(
        filtered,
        json!({ "id": t.number.id, "verified_name": "Shop" })
    );

    let resp = t
        .http
        .get(t.url(&t.number.id))
        .bearer_auth("EAAwrong")
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    graph_error(&got, 401, 190);
    let resp = t.http.get(t.url(&t.number.id)).send().await.unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    graph_error(&got, 401, 104);

    // Another number's object is not visible with this token.
    let other = t.sandbox.create_account(&AccountSpec::whatsapp()).unwrap();
    let resp = t
        .http
        .get(t.url(&other.id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    let error = graph_error(&got, 400, 100);
    assert_eq!(error["error_subcode"], 33);
    assert_eq!(error["type"], "GraphMethodException");
    let got = {
        let resp = t
            .http
            .post(t.url(&format!("{}/messages", other.id)))
            .bearer_auth(&t.number.token)
            .json(&json!({ "messaging_product": "whatsapp", "to": "1", "type": "text", "text": { "body": "x" } }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(graph_error(&got, 400, 100)["error_subcode"], 33);
}

#[tokio::test]
async fn inbound_message_then_text_with_sent_and_delivered_statuses() {
    let t = Wa::new().await;
    let inbound = t.open_window().await;
    assert_eq!(inbound["object"], "whatsapp_business_account");
    let value = &inbound["entry"][0]["changes"][0]["value"];
    assert_eq!(inbound["entry"][0]["changes"][0]["field"], "messages");
    assert_eq!(value["metadata"]["phone_number_id"], t.number.id.as_str());
    assert_eq!(value["contacts"][0]["wa_id"], "16505551234");
    assert_eq!(value["contacts"][0]["profile"]["name"], "Sheena");
    assert_eq!(value["messages"][0]["from"], "16505551234");
    assert_eq!(value["messages"][0]["type"], "text");
    assert_eq!(value["messages"][0]["text"]["body"], "hi");
    assert!(value["messages"][0]["timestamp"].is_string());

    let (status, sent) = t.text("+16505551234", "Your order shipped").await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["messaging_product"], "whatsapp");
    assert_eq!(sent["contacts"][0]["input"], "+16505551234");
    assert_eq!(sent["contacts"][0]["wa_id"], "16505551234");
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."));

    let first = t.next_status().await;
    assert_eq!(first["id"], wamid.as_str());
    assert_eq!(first["status"], "sent");
    assert_eq!(first["recipient_id"], "16505551234");
    assert_eq!(first["pricing"]["category"], "service");
    let second = t.next_status().await;
    assert_eq!(second["status"], "delivered");

    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, wamid);
    assert_eq!(received[0].text.as_deref(), Some("Your order shipped"));
    assert_eq!(received[0].status, MessageStatus::Delivered);

    // The customer reads: a read status, and the state follows.
    let read = t
        .sandbox
        .customer_reads(&t.number.id, &t.customer, None)
        .unwrap();
    assert_eq!(read.read, 1);
    let third = t.next_status().await;
    assert_eq!(third["status"], "read");
    assert_eq!(third["id"], wamid.as_str());
    assert_eq!(
        t.sandbox.received(&t.number.id, &t.customer).unwrap()[0].status,
        MessageStatus::Read
    );
}

#[tokio::test]
async fn outside_the_window_a_send_is_accepted_then_fails_with_131047() {
    let t = Wa::new().await;
    // The customer never wrote: the window is closed.
    let (status, sent) = t.text(&t.customer, "hello?").await;
    assert_eq!(status, 200);
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    let failed = t.next_status().await;
    assert_eq!(failed["id"], wamid.as_str());
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131047);
    assert_eq!(failed["errors"][0]["title"], "Re-engagement message");
    assert!(
        failed["errors"][0]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    assert_eq!(received[0].status, MessageStatus::Failed);
    assert_eq!(received[0].error.as_ref().unwrap().code, 131047);

    // A template is allowed outside the window.
    let (status, _) = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "template",
                      "template": { "name": "hello_world", "language": { "code": "en_US" } } }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(t.next_status().await["status"], "sent");
    assert_eq!(t.next_status().await["status"], "delivered");
    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    assert_eq!(received[1].kind, MessageKind::Template);
    assert_eq!(received[1].template.as_deref(), Some("hello_world"));

    // The customer writes: the window opens for 24 h on the sandbox clock.
    t.open_window().await;
    assert!(
        t.sandbox
            .customer(&t.number.id, &t.customer)
            .unwrap()
            .window_open_until
            .is_some()
    );
    t.text(&t.customer, "inside").await;
    assert_eq!(t.next_status().await["status"], "sent");
    assert_eq!(t.next_status().await["status"], "delivered");
    t.sandbox.advance_clock(Duration::from_secs(24 * 3600 + 1));
    assert!(
        t.sandbox
            .customer(&t.number.id, &t.customer)
            .unwrap()
            .window_open_until
            .is_none()
    );
    t.text(&t.customer, "too late").await;
    let failed = t.next_status().await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131047);
}

#[tokio::test]
async fn unknown_and_blocking_recipients_fail_with_131026() {
    let t = Wa::new().await;
    let (status, _) = t.text("15550009999", "anyone?").await;
    assert_eq!(status, 200);
    let failed = t.next_status().await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131026);

    t.open_window().await;
    t.sandbox.block(&t.number.id, &t.customer).unwrap();
    let (status, _) = t.text(&t.customer, "blocked?").await;
    assert_eq!(status, 200);
    let failed = t.next_status().await;
    assert_eq!(failed["errors"][0]["code"], 131026);
    t.sandbox.unblock(&t.number.id, &t.customer).unwrap();
    t.text(&t.customer, "back").await;
    assert_eq!(t.next_status().await["status"], "sent");
}

#[tokio::test]
async fn send_validation_errors_are_graph_shaped() {
    let t = Wa::new().await;
    t.open_window().await;
    let got = t
        .send(json!({ "to": t.customer, "type": "text", "text": { "body": "x" } }))
        .await;
    graph_error(&got, 400, 100);
    let got = t
        .send(json!({ "messaging_product": "whatsapp", "type": "text", "text": { "body": "x" } }))
        .await;
    assert_eq!(
        graph_error(&got, 400, 100)["message"],
        "(#100) The parameter to is required."
    );
    let got = t.text(&t.customer, &"ы".repeat(4097)).await;
    let error = graph_error(&got, 400, 100);
    assert!(error["message"].as_str().unwrap().contains("4096"));
    let (status, _) = t.text(&t.customer, &"ы".repeat(4096)).await;
    assert_eq!(status, 200);
    let got = t
        .send(json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "image",
                      "image": { "link": "https://example.com/a.jpg", "caption": "c".repeat(1025) } }))
        .await;
    graph_error(&got, 400, 100);
    let got = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "image",
                      "image": { "link": "ftp://example.com/a.jpg" } }),
        )
        .await;
    graph_error(&got, 400, 100);
    let got = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "image",
                      "image": { "id": "123456" } }),
        )
        .await;
    graph_error(&got, 400, 100);
    let got = t
        .send(json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "hologram" }))
        .await;
    graph_error(&got, 400, 100);
    let got = t.text("not-a-number", "x").await;
    graph_error(&got, 400, 131009);
    let resp = t
        .http
        .post(t.url(&format!("{}/messages", t.number.id)))
        .bearer_auth(&t.number.token)
        .body("{ not json")
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    graph_error(&got, 400, 100);
    // Only the one valid text was stored.
    assert_eq!(
        t.sandbox.received(&t.number.id, &t.customer).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn media_upload_retrieve_download_expire_and_delete() {
    let t = Wa::new().await;
    let bytes = png(64, 64, 3000);
    let (status, uploaded) = t.upload(bytes.clone(), "image/png", "a.png").await;
    assert_eq!(status, 200, "{uploaded}");
    let id = uploaded["id"].as_str().unwrap().to_string();

    let info: Value = t
        .http
        .get(t.url(&id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["file_size"], bytes.len());
    assert_eq!(info["sha256"], hex::encode(Sha256::digest(&bytes)));
    let url = info["url"].as_str().unwrap().to_string();

    let download = t
        .http
        .get(&url)
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(t.http.get(&url).send().await.unwrap().status(), 401);
    let other = t.sandbox.create_account(&AccountSpec::whatsapp()).unwrap();
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&other.token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The other number cannot see the media object either.
    let resp = t
        .http
        .get(t.url(&id))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = t
        .http
        .get(t.url(&id))
        .query(&[("phone_number_id", other.id.as_str())])
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // URLs expire (5 minutes by default, on the sandbox clock); a new GET gives a new URL.
    t.sandbox.advance_clock(Duration::from_secs(301));
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&t.number.token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let fresh: Value = t
        .http
        .get(t.url(&id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh_url = fresh["url"].as_str().unwrap();
    assert_ne!(fresh_url, url);
    assert_eq!(
        t.http
            .get(fresh_url)
            .bearer_auth(&t.number.token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let deleted: Value = t
        .http
        .delete(t.url(&id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted, json!({ "success": true }));
    let resp = t
        .http
        .get(t.url(&id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_eq!(graph_error(&got, 400, 100)["error_subcode"], 33);
}

#[tokio::test]
async fn media_upload_errors() {
    let t = Wa::new().await;
    let (status, body) = t
        .upload(b"PK\x03\x04zip".to_vec(), "application/zip", "a.zip")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 100);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/zip")
    );
    let (status, body) = t
        .upload(png(10, 10, 5 * 1024 * 1024), "image/png", "big.png")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 131053);
    let form = Form::new().part(
        "file",
        Part::bytes(pdf(100))
            .file_name("a.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let resp = t
        .http
        .post(t.url(&format!("{}/media", t.number.id)))
        .bearer_auth(&t.number.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let got = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_eq!(
        graph_error(&got, 400, 100)["message"],
        "(#100) The parameter messaging_product is required."
    );
}

#[tokio::test]
async fn media_messages_by_id_and_link() {
    let t = Wa::new().await;
    t.open_window().await;
    let (_, image) = t.upload(png(32, 32, 100), "image/png", "i.png").await;
    let (_, doc) = t.upload(pdf(500), "application/pdf", "invoice.pdf").await;
    let (_, voice) = t.upload(ogg(300), "audio/ogg", "v.ogg").await;
    let sends = [
        json!({ "type": "image", "image": { "id": image["id"], "caption": "look" } }),
        json!({ "type": "document", "document": { "id": doc["id"], "caption": "Invoice #42", "filename": "invoice-42.pdf" } }),
        json!({ "type": "audio", "audio": { "id": voice["id"], "voice": true } }),
        json!({ "type": "video", "video": { "link": "https://example.com/v.mp4" } }),
    ];
    for mut body in sends {
        body["messaging_product"] = json!("whatsapp");
        body["to"] = json!(t.customer);
        let (status, sent) = t.send(body).await;
        assert_eq!(status, 200, "{sent}");
        assert_eq!(t.next_status().await["status"], "sent");
        assert_eq!(t.next_status().await["status"], "delivered");
    }
    // An image id sent as a sticker does not fit: accepted, then failed.
    let (status, _) = t
        .send(json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "sticker", "sticker": { "id": image["id"] } }))
        .await;
    assert_eq!(status, 200);
    let failed = t.next_status().await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131053);

    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Image,
            MessageKind::File,
            MessageKind::Voice,
            MessageKind::Video,
            MessageKind::Sticker
        ]
    );
    assert_eq!(received[0].caption.as_deref(), Some("look"));
    assert_eq!(
        received[0].media.as_ref().unwrap().mime_type.as_deref(),
        Some("image/png")
    );
    assert_eq!(
        received[1].media.as_ref().unwrap().file_name.as_deref(),
        Some("invoice-42.pdf")
    );
    assert_eq!(received[1].media.as_ref().unwrap().size, Some(500));
    assert_eq!(
        received[3].media.as_ref().unwrap().url.as_deref(),
        Some("https://example.com/v.mp4")
    );
    assert_eq!(received[4].status, MessageStatus::Failed);
}

#[tokio::test]
async fn customer_media_arrives_signed_and_downloads() {
    let t = Wa::new().await;
    let bytes = png(20, 20, 50);
    let receipt = t
        .sandbox
        .customer_sends(
            &t.number.id,
            &t.customer,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Image, bytes.clone()))
                .caption("Taj Mahal"),
        )
        .unwrap();
    let body = t.next_signed().await.json();
    let message = &body["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["id"], receipt.message_id.as_str());
    assert_eq!(message["type"], "image");
    assert_eq!(message["image"]["caption"], "Taj Mahal");
    assert_eq!(message["image"]["mime_type"], "image/png");
    assert_eq!(
        message["image"]["sha256"],
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
    );
    let id = message["image"]["id"].as_str().unwrap();
    assert_eq!(Some(id), receipt.media_id.as_deref());
    let info: Value = t
        .http
        .get(t.url(id))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let downloaded = t
        .http
        .get(info["url"].as_str().unwrap())
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(downloaded.as_ref(), bytes.as_slice());

    // A voice note is audio with voice: true.
    t.sandbox
        .customer_sends(
            &t.number.id,
            &t.customer,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Voice, ogg(100)))
                .reply_to(receipt.message_id.clone()),
        )
        .unwrap();
    let body = t.next_signed().await.json();
    let message = &body["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], "audio");
    assert_eq!(message["audio"]["voice"], true);
    assert_eq!(message["audio"]["mime_type"], "audio/ogg; codecs=opus");
    assert_eq!(message["context"]["id"], receipt.message_id.as_str());
}

#[tokio::test]
async fn mark_as_read_marks_inbound_messages() {
    let t = Wa::new().await;
    t.open_window().await;
    let second = t
        .sandbox
        .customer_sends(&t.number.id, &t.customer, &CustomerMessage::text("again"))
        .unwrap();
    t.next_signed().await;
    let (status, body) = t
        .send(json!({ "messaging_product": "whatsapp", "status": "read", "message_id": second.message_id,
                      "typing_indicator": { "type": "text" } }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "success": true }));
    let messages = t.sandbox.messages(&t.number.id, &t.customer).unwrap();
    assert!(messages.iter().all(|m| m.status == MessageStatus::Read));
    let got = t
        .send(json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown" }))
        .await;
    graph_error(&got, 400, 100);
}

#[tokio::test]
async fn offline_customers_get_delivered_later_and_statuses_can_be_out_of_order() {
    let t = Wa::new().await;
    t.open_window().await;
    t.sandbox
        .set_online(&t.number.id, &t.customer, false)
        .unwrap();
    let (_, sent) = t.text(&t.customer, "while offline").await;
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(t.next_status().await["status"], "sent");
    assert!(t.receiver.nothing_more().await);
    assert_eq!(
        t.sandbox.received(&t.number.id, &t.customer).unwrap()[0].status,
        MessageStatus::Sent
    );
    t.sandbox
        .set_online(&t.number.id, &t.customer, true)
        .unwrap();
    let delivered = t.next_status().await;
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["id"], wamid.as_str());

    t.sandbox
        .update_account(
            &t.number.id,
            &AccountPatch {
                out_of_order_statuses: Some(true),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    t.text(&t.customer, "scrambled").await;
    assert_eq!(t.next_status().await["status"], "delivered");
    assert_eq!(t.next_status().await["status"], "sent");
}

#[tokio::test]
async fn pair_and_throughput_limits() {
    let config = SandboxConfig {
        whatsapp_pair: strict(1),
        whatsapp_per_number: strict(3),
        ..SandboxConfig::default()
    };
    let t = Wa::with(sandbox_with(config).await).await;
    t.open_window().await;
    let (status, _) = t.text(&t.customer, "one").await;
    assert_eq!(status, 200);
    let got = t.text(&t.customer, "two").await;
    let error = graph_error(&got, 400, 131056);
    assert!(error["error_data"]["details"].is_string());
    // Other recipients are not limited by this pair, but the number's throughput is.
    let (status, _) = t.text("15550000001", "a").await;
    assert_eq!(status, 200);
    let (status, _) = t.text("15550000002", "b").await;
    assert_eq!(status, 200);
    let got = t.text("15550000003", "c").await;
    graph_error(&got, 400, 130429);
    assert_eq!(
        t.sandbox.received(&t.number.id, &t.customer).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn webhook_handshake_and_signature_with_a_changed_secret() {
    let t = Wa::new().await;
    let check = t.sandbox.verify_webhook(&t.number.id).await.unwrap();
    assert_eq!(check.status, 200);
    assert!(check.challenge_echoed);
    t.sandbox
        .update_account(
            &t.number.id,
            &AccountPatch {
                verify_token: Some("wrong".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let check = t.sandbox.verify_webhook(&t.number.id).await.unwrap();
    assert_eq!(check.status, 403);
    assert!(!check.challenge_echoed);

    t.sandbox
        .update_account(
            &t.number.id,
            &AccountPatch {
                app_secret: Some("rotated".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    t.sandbox
        .customer_sends(&t.number.id, &t.customer, &CustomerMessage::text("x"))
        .unwrap();
    let delivery = t.receiver.next().await;
    let signature = delivery.header("x-hub-signature-256");
    assert!(
        verify_hmac_sha256(b"rotated", &delivery.body, signature.as_deref(), "sha256=").is_ok()
    );
    assert!(
        verify_hmac_sha256(
            SECRET.as_bytes(),
            &delivery.body,
            signature.as_deref(),
            "sha256="
        )
        .is_err()
    );
}

#[tokio::test]
async fn events_wait_for_a_webhook_url() {
    let sandbox = sandbox().await;
    let number = sandbox
        .create_account(&AccountSpec::whatsapp().app_secret(SECRET))
        .unwrap();
    let customer = sandbox
        .create_customer(&number.id, &NewCustomer::named("A"))
        .unwrap();
    sandbox
        .customer_sends(&number.id, &customer.id, &CustomerMessage::text("queued"))
        .unwrap();
    assert_eq!(sandbox.account(&number.id).unwrap().pending, 1);
    let receiver = Receiver::start().await;
    sandbox
        .update_account(
            &number.id,
            &AccountPatch {
                webhook_url: Some(receiver.url.clone()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let body = receiver.next().await.json();
    assert_eq!(
        body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"],
        "queued"
    );
    eventually(|| sandbox.account(&number.id).unwrap().pending == 0).await;
}

#[tokio::test]
async fn reactions_and_other_types_are_stored() {
    let t = Wa::new().await;
    let inbound = t.open_window().await;
    let wamid = inbound["entry"][0]["changes"][0]["value"]["messages"][0]["id"].clone();
    let (status, _) = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "reaction",
                      "reaction": { "message_id": wamid, "emoji": "👍" } }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "location",
                      "location": { "latitude": 1.0, "longitude": 2.0 } }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = t
        .send(
            json!({ "messaging_product": "whatsapp", "to": t.customer, "type": "text",
                      "context": { "message_id": wamid }, "text": { "body": "quoted" } }),
        )
        .await;
    assert_eq!(status, 200);
    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    assert_eq!(received[0].kind, MessageKind::Reaction);
    assert_eq!(received[0].text.as_deref(), Some("👍"));
    assert_eq!(
        received[0].reply_to.as_ref(),
        wamid.as_str().map(str::to_string).as_ref()
    );
    assert_eq!(received[1].kind, MessageKind::Other);
    assert_eq!(received[2].reply_to.as_deref(), wamid.as_str());
}
