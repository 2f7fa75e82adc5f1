//! Injected faults: each kind, on both platforms, as a client sees it, and what the sandbox
//! stored meanwhile ("maybe sent" must be observable).

mod common;

use common::{Receiver, client, eventually, sandbox};
use messenger_sandbox::{
    AccountSpec, CustomerMessage, Fault, FaultSpec, NewCustomer, Sandbox, SandboxAccount,
};
use serde_json::{Value, json};

struct Tg {
    sandbox: Sandbox,
    bot: SandboxAccount,
    chat: String,
    http: reqwest::Client,
}

impl Tg {
    async fn new() -> Self {
        let sandbox = sandbox().await;
        let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
        let chat = sandbox
            .create_customer(&bot.id, &NewCustomer::named("I"))
            .unwrap()
            .id;
        Self {
            sandbox,
            bot,
            chat,
            http: client(),
        }
    }

    async fn send(&self, text: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!(
                "{}/bot{}/sendMessage",
                self.sandbox.urls().telegram(),
                self.bot.token
            ))
            .json(&json!({ "chat_id": self.chat.parse::<i64>().unwrap(), "text": text }))
            .send()
            .await
    }

    async fn get_me(&self) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/bot{}/getMe",
                self.sandbox.urls().telegram(),
                self.bot.token
            ))
            .send()
            .await
            .unwrap()
    }

    fn fault(&self, spec: FaultSpec) {
        self.sandbox.inject_fault(&self.bot.id, &spec).unwrap();
    }

    fn stored(&self) -> usize {
        self.sandbox
            .received(&self.bot.id, &self.chat)
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn server_error_answers_in_telegram_shape_and_stores_nothing() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::ServerError { status: 502 }));
    let resp = t.send("x").await.unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" })
    );
    assert_eq!(t.stored(), 0);
    // One request consumed the fault.
    assert_eq!(t.send("y").await.unwrap().status(), 200);
    assert_eq!(t.stored(), 1);
}

#[tokio::test]
async fn rate_limited_fault_carries_retry_after() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::RateLimited { retry_after: 7 }));
    let resp = t.send("x").await.unwrap();
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["parameters"]["retry_after"], 7);
    assert_eq!(body["description"], "Too Many Requests: retry after 7");
    assert_eq!(t.stored(), 0);
}

#[tokio::test]
async fn rate_limited_fault_of_zero_seconds_carries_no_retry_after() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::RateLimited { retry_after: 0 }));
    let resp = t.send("x").await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], 429);
    assert!(body.get("parameters").is_none(), "{body}");
    assert_eq!(t.stored(), 0);
}

#[tokio::test]
async fn delay_then_success_is_logged() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::Delay { millis: 50 }));
    assert_eq!(t.send("x").await.unwrap().status(), 200);
    assert_eq!(t.stored(), 1);
    let requests = t.sandbox.requests(&t.bot.id).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].fault.as_deref(), Some("delay"));
    assert_eq!(requests[0].status, 200);
    assert_eq!(requests[0].operation, "sendMessage");
}

#[tokio::test]
async fn dropped_connection_after_processing_is_maybe_sent() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::DropConnection {
        before_processing: false,
    }));
    let err = t.send("did it go?").await.expect_err("no response at all");
    assert!(!err.is_status());
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    // The message was stored and reached the customer anyway.
    let received = t.sandbox.received(&t.bot.id, &t.chat).unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text.as_deref(), Some("did it go?"));
    let requests = t.sandbox.requests(&t.bot.id).unwrap();
    assert_eq!(requests[0].status, 0);
    assert_eq!(requests[0].fault.as_deref(), Some("drop_connection"));
    // The sandbox keeps serving.
    assert_eq!(t.send("again").await.unwrap().status(), 200);
}

#[tokio::test]
async fn dropped_connection_before_processing_stores_nothing() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::DropConnection {
        before_processing: true,
    }));
    assert!(t.send("x").await.is_err());
    assert_eq!(t.stored(), 0);
}

#[tokio::test]
async fn truncated_body_after_processing() {
    let t = Tg::new().await;
    t.fault(FaultSpec::new(Fault::TruncatedBody));
    let resp = t.send("cut").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.json::<Value>().await.is_err(),
        "the body cannot be read whole"
    );
    assert_eq!(t.stored(), 1);
}

#[tokio::test]
async fn faults_can_target_one_operation_and_count() {
    let t = Tg::new().await;
    t.fault(
        FaultSpec::new(Fault::ServerError { status: 500 })
            .operation("sendmessage")
            .times(2),
    );
    assert_eq!(t.sandbox.faults(&t.bot.id).unwrap().len(), 1);
    // getMe is not affected and does not consume the fault.
    assert_eq!(t.get_me().await.status(), 200);
    assert_eq!(t.send("a").await.unwrap().status(), 500);
    assert_eq!(t.sandbox.faults(&t.bot.id).unwrap()[0].count, 1);
    assert_eq!(t.send("b").await.unwrap().status(), 500);
    assert!(t.sandbox.faults(&t.bot.id).unwrap().is_empty());
    assert_eq!(t.send("c").await.unwrap().status(), 200);

    t.fault(FaultSpec::new(Fault::ServerError { status: 503 }).times(5));
    t.sandbox.clear_faults(&t.bot.id).unwrap();
    assert_eq!(t.send("d").await.unwrap().status(), 200);
    assert!(
        t.sandbox
            .inject_fault(
                &t.bot.id,
                &FaultSpec::new(Fault::ServerError { status: 404 })
            )
            .is_err()
    );
}

#[tokio::test]
async fn faults_on_file_downloads() {
    let t = Tg::new().await;
    let receipt = t
        .sandbox
        .customer_sends(
            &t.bot.id,
            &t.chat,
            &CustomerMessage::media(messenger_sandbox::MediaUpload::new(
                messenger_sandbox::MessageKind::File,
                b"%PDF-1.4 content".to_vec(),
            )),
        )
        .unwrap();
    let file: Value = t
        .http
        .post(format!(
            "{}/bot{}/getFile",
            t.sandbox.urls().telegram(),
            t.bot.token
        ))
        .json(&json!({ "file_id": receipt.media_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/file/bot{}/{}",
        t.sandbox.urls().telegram(),
        t.bot.token,
        file["result"]["file_path"].as_str().unwrap()
    );
    t.fault(FaultSpec::new(Fault::TruncatedBody).operation("file"));
    let mut resp = t.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(16));
    // Half of the body arrives, then the connection closes.
    let mut got = Vec::new();
    let error = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => panic!("the body must not end cleanly"),
            Err(err) => break err,
        }
    };
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    assert_eq!(
        got,
        b"%PDF-1."
            .to_vec()
            .into_iter()
            .chain([b'4'])
            .collect::<Vec<u8>>()
    );
    assert_eq!(
        t.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        16
    );
}

struct Wa {
    sandbox: Sandbox,
    number: SandboxAccount,
    customer: String,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Wa {
    async fn new() -> Self {
        let sandbox = sandbox().await;
        let receiver = Receiver::start().await;
        let number = sandbox
            .create_account(&AccountSpec::whatsapp().webhook_url(receiver.url.clone()))
            .unwrap();
        let customer = sandbox
            .create_customer(&number.id, &NewCustomer::named("M"))
            .unwrap()
            .id;
        sandbox
            .customer_sends(&number.id, &customer, &CustomerMessage::text("hi"))
            .unwrap();
        receiver.next().await;
        Self {
            sandbox,
            number,
            customer,
            receiver,
            http: client(),
        }
    }

    async fn send(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!(
                "{}/v25.0/{}/messages",
                self.sandbox.urls().whatsapp(),
                self.number.id
            ))
            .bearer_auth(&self.number.token)
            .json(
                &json!({ "messaging_product": "whatsapp", "to": self.customer, "type": "text",
                           "text": { "body": "hello" } }),
            )
            .send()
            .await
    }
}

#[tokio::test]
async fn whatsapp_faults_use_graph_errors() {
    let t = Wa::new().await;
    t.sandbox
        .inject_fault(
            &t.number.id,
            &FaultSpec::new(Fault::ServerError { status: 500 }),
        )
        .unwrap();
    let resp = t.send().await.unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 1);
    assert_eq!(body["error"]["is_transient"], true);

    t.sandbox
        .inject_fault(
            &t.number.id,
            &FaultSpec::new(Fault::RateLimited { retry_after: 9 }),
        )
        .unwrap();
    let resp = t.send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "9");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 130429);
    assert!(
        t.sandbox
            .received(&t.number.id, &t.customer)
            .unwrap()
            .is_empty()
    );
    assert!(t.receiver.nothing_more().await);
}

#[tokio::test]
async fn whatsapp_rate_limit_of_zero_seconds_has_no_retry_after_header() {
    let t = Wa::new().await;
    t.sandbox
        .inject_fault(
            &t.number.id,
            &FaultSpec::new(Fault::RateLimited { retry_after: 0 }),
        )
        .unwrap();
    let resp = t.send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 130429);
}

#[tokio::test]
async fn whatsapp_dropped_connection_still_sends_and_reports_statuses() {
    let t = Wa::new().await;
    t.sandbox
        .inject_fault(
            &t.number.id,
            &FaultSpec::new(Fault::DropConnection {
                before_processing: false,
            })
            .operation("messages"),
        )
        .unwrap();
    assert!(t.send().await.is_err());
    let received = t.sandbox.received(&t.number.id, &t.customer).unwrap();
    assert_eq!(received.len(), 1);
    // The statuses tell the client what happened to the wamid it never saw.
    let status = t.receiver.next().await.json();
    let status = &status["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["status"], "sent");
    assert_eq!(status["id"], received[0].id.as_str());
}

#[tokio::test]
async fn whatsapp_truncated_media_download() {
    let t = Wa::new().await;
    let receipt = t
        .sandbox
        .customer_sends(
            &t.number.id,
            &t.customer,
            &CustomerMessage::media(messenger_sandbox::MediaUpload::new(
                messenger_sandbox::MessageKind::File,
                b"%PDF-1.4 some document".to_vec(),
            )),
        )
        .unwrap();
    t.receiver.next().await;
    let info: Value = t
        .http
        .get(format!(
            "{}/v25.0/{}",
            t.sandbox.urls().whatsapp(),
            receipt.media_id.unwrap()
        ))
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t.sandbox
        .inject_fault(
            &t.number.id,
            &FaultSpec::new(Fault::TruncatedBody).operation("media_download"),
        )
        .unwrap();
    let url = info["url"].as_str().unwrap();
    let resp = t
        .http
        .get(url)
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());
    let whole = t
        .http
        .get(url)
        .bearer_auth(&t.number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.bytes().await.unwrap().len(), 22);
    eventually(|| t.sandbox.requests(&t.number.id).unwrap().len() == 3).await;
}
