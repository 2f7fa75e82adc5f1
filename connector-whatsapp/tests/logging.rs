//! Logs never carry the token, phone numbers, message text, captions or file names: a full
//! connect / webhook / send / upload / download cycle is run under a TRACE subscriber that
//! captures every target, and the output is searched.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use futures::StreamExt;
use messenger_core::{MediaRef, MediaSource, Messenger, OutgoingContent, OutgoingMessage};
use mockito::Matcher;
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

const BUSINESS_NUMBER: &str = "15550783881";
const INBOUND_TEXT: &str = "My card number ends with 4242, please help";
const OUTBOUND_TEXT: &str = "We refunded order 7731 to Sheena";
const CAPTION: &str = "Private invoice caption";
const FILE_NAME: &str = "sheena-medical-report.pdf";

#[tokio::test]
async fn no_secret_or_personal_data_reaches_the_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v25.0/106540352242922")
        .match_query(Matcher::Any)
        .with_body(
            json!({"id": PHONE_ID, "display_phone_number": BUSINESS_NUMBER,
                   "verified_name": "Jasper's Market", "quality_rating": "GREEN"})
            .to_string(),
        )
        .create_async()
        .await;
    server
        .mock("POST", MEDIA_PATH)
        .with_body(r#"{"id":"4490709327384033"}"#)
        .create_async()
        .await;
    server
        .mock("POST", MESSAGES_PATH)
        .with_body(accepted(
            "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
        ))
        .expect(3)
        .create_async()
        .await;
    server
        .mock("GET", "/v25.0/1003383421387256")
        .with_body(
            json!({"url": format!("{}/media/x?mid=1", server.url()),
                          "mime_type": "image/jpeg", "file_size": 5})
            .to_string(),
        )
        .create_async()
        .await;
    server
        .mock("GET", "/media/x")
        .match_query(Matcher::Any)
        .with_body("bytes")
        .create_async()
        .await;

    let wa = client(&server);
    wa.connect().await.unwrap();
    let number = wa.phone_number().await.unwrap();
    tracing::debug!(?number, "phone number (Debug)");

    // Inbound: a text with personal data, a status, an image.
    let inbound = envelope(
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}],
        "messages": [
            {"from": CUSTOMER, "id": "wamid.IN1", "timestamp": now().to_string(), "type": "text",
             "text": {"body": INBOUND_TEXT}},
            {"from": CUSTOMER, "id": "wamid.IN2", "timestamp": now().to_string(), "type": "image",
             "image": {"id": "1003383421387256", "mime_type": "image/jpeg", "caption": CAPTION}}],
        "statuses": [{"id": "wamid.OUT", "status": "delivered", "timestamp": now().to_string(),
                      "recipient_id": CUSTOMER}]}),
    );
    let outcome = wa.handle_webhook(&signed(&inbound)).await.unwrap();
    tracing::debug!(?outcome, "webhook outcome (Debug)");

    // Outbound: a text, a document upload with a caption and a file name.
    let report = wa
        .send(&OutgoingMessage::text(CUSTOMER, OUTBOUND_TEXT))
        .await
        .unwrap();
    tracing::debug!(?report, "send report (Debug)");
    wa.send(&OutgoingMessage::new(
        CUSTOMER,
        OutgoingContent::File {
            media: MediaSource::bytes(&b"%PDF"[..], "application/pdf", FILE_NAME),
            caption: Some(CAPTION.into()),
        },
    ))
    .await
    .unwrap();

    // A download.
    let mut stream = wa
        .download(&MediaRef::new("1003383421387256"))
        .await
        .unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    tracing::debug!(?wa, "client (Debug)");

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("whatsapp message accepted") && logs.contains("whatsapp media uploaded"),
        "the capture must see the connector's own logs:\n{logs}"
    );
    for secret in [
        TOKEN,
        APP_SECRET,
        VERIFY_TOKEN,
        CUSTOMER,
        BUSINESS_NUMBER,
        INBOUND_TEXT,
        OUTBOUND_TEXT,
        CAPTION,
        FILE_NAME,
        "Sheena",
        // A wamid encodes the phone number (base64 of "16505551234" starts like this).
        "MTY1MDU1NTEyMzQ",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs:\n{logs}"
        );
    }
}
