//! The sandbox never logs message text, captions, file names, phone numbers or tokens: a full
//! send/receive cycle on both platforms is traced at TRACE level and the output searched.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Receiver, client, pdf};
use messenger_sandbox::{
    AccountSpec, CustomerMessage, MediaUpload, MessageKind, NewCustomer, Sandbox, SandboxConfig,
};
use reqwest::multipart::{Form, Part};
use serde_json::json;

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

const TEXT: &str = "SECRET-TEXT-4242";
const CAPTION: &str = "SECRET-CAPTION-77";
const FILE_NAME: &str = "secret-file-name.pdf";
const PHONE: &str = "15559876543";
const TG_TOKEN: &str = "9876543:SECRETtokenPART_abcdefghijklmnop";
const WA_TOKEN: &str = "EAAsecretWhatsAppTokenValue";

// A current-thread runtime: every task of the sandbox runs on this thread and sees the
// thread-local subscriber.
#[tokio::test]
async fn a_full_cycle_logs_no_content_or_secrets() {
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

    // Telegram: customer text and file in, bot text and document out.
    let bot = sandbox
        .create_account(
            &AccountSpec::telegram()
                .token(TG_TOKEN)
                .webhook_url(receiver.url.clone()),
        )
        .unwrap();
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    sandbox
        .customer_sends(&bot.id, &ivan.id, &CustomerMessage::text(TEXT))
        .unwrap();
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
    receiver.next().await;
    receiver.next().await;
    let chat = ivan.id.parse::<i64>().unwrap();
    http.post(format!(
        "{}/bot{TG_TOKEN}/sendMessage",
        sandbox.urls().telegram()
    ))
    .json(&json!({ "chat_id": chat, "text": TEXT }))
    .send()
    .await
    .unwrap();
    let form = Form::new()
        .text("chat_id", chat.to_string())
        .text("caption", CAPTION)
        .part("document", Part::bytes(pdf(100)).file_name(FILE_NAME));
    http.post(format!(
        "{}/bot{TG_TOKEN}/sendDocument",
        sandbox.urls().telegram()
    ))
    .multipart(form)
    .send()
    .await
    .unwrap();

    // WhatsApp: customer text in, business text out, statuses, a read.
    let number = sandbox
        .create_account(
            &AccountSpec::whatsapp()
                .token(WA_TOKEN)
                .webhook_url(receiver.url.clone()),
        )
        .unwrap();
    let maria = sandbox
        .create_customer(&number.id, &NewCustomer::named("Maria").id(PHONE))
        .unwrap();
    sandbox
        .customer_sends(&number.id, &maria.id, &CustomerMessage::text(TEXT))
        .unwrap();
    receiver.next().await;
    let resp = http
        .post(format!("{}/v25.0/{}/messages", sandbox.urls().whatsapp(), number.id))
        .bearer_auth(WA_TOKEN)
        .json(&json!({ "messaging_product": "whatsapp", "to": PHONE, "type": "text", "text": { "body": TEXT } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    receiver.next().await;
    receiver.next().await;
    sandbox.customer_reads(&number.id, &maria.id, None).unwrap();
    receiver.next().await;
    sandbox.shutdown().await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sandbox telegram: message sent"),
        "tracing was captured"
    );
    assert!(
        logs.contains("sandbox whatsapp: message accepted"),
        "tracing was captured"
    );
    for secret in [
        TEXT,
        CAPTION,
        FILE_NAME,
        PHONE,
        TG_TOKEN,
        "SECRETtokenPART",
        WA_TOKEN,
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}
