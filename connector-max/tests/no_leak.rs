//! Captures ALL tracing output (TRACE level, spans included, and reqwest's `log` records through
//! the tracing-log bridge) over a full send + receive + download + webhook cycle, and proves that
//! neither the token nor the webhook secret nor any message text, caption, file name, name or
//! phone number is in it.
//!
//! One test in its own binary: the subscriber is global, so the hyper tasks running on other
//! runtime threads are captured too. Only the mock server's own logs (`mockito`, the test's fake
//! MAX, which prints what it receives) are filtered out: they are not the client.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use connector_max::SECRET_HEADER;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{
    ByteStream, ContentKind, InboundEvent, MediaSource, Messenger, OutgoingContent, OutgoingMessage,
};
use mockito::Matcher;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

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

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const SECRETS: &[&str] = &[
    // The token, whole and in parts.
    TOKEN,
    "test_TOKEN",
    "do-not-leak",
    // Outbound content.
    "Outbound-Text-Секрет",
    "Outbound-Caption-Тайна",
    "outbound-file-name.png",
    "streamed-name.pdf",
    "Edited-Text-Правка",
    // Inbound content and personal data.
    "Inbound-Text-Привет",
    "Inbound-Caption-Подпись",
    "inbound-document-name.pdf",
    "Customerfirst",
    "Customerlast",
    "+79991234567",
    "79991234567",
    // The webhook secret.
    "Webhook_Secret-Value",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_reaches_the_logs() {
    let buffer = Buffer::default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,mockito=off"))
        .with_span_events(FmtSpan::FULL)
        .with_writer(buffer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let mut server = mockito::Server::new_async().await;
    let max = config(&server)
        .webhook_secret("Webhook_Secret-Value")
        .build()
        .unwrap();

    // connect
    server
        .mock("GET", "/me")
        .with_body(
            r#"{"user_id":229229229,"first_name":"UniBot","username":"unit_bot","is_bot":true}"#,
        )
        .create_async()
        .await;
    max.connect().await.unwrap();

    // uploads
    for (kind, path) in [("image", "/upload/i"), ("file", "/upload/f")] {
        server
            .mock("POST", "/uploads")
            .match_query(Matcher::UrlEncoded("type".into(), kind.into()))
            .with_body(json!({"url": format!("{}{path}", server.url())}).to_string())
            .create_async()
            .await;
    }
    server
        .mock("POST", "/upload/i")
        .with_body(r#"{"photos":{"k":{"token":"photo-token"}}}"#)
        .create_async()
        .await;
    server
        .mock("POST", "/upload/f")
        .with_body(r#"{"token":"file-token"}"#)
        .create_async()
        .await;

    // sends: the first file send is not ready once
    server
        .mock("POST", "/messages")
        .match_query(Matcher::UrlEncoded("chat_id".into(), "555".into()))
        .with_status(403)
        .with_body(api_error(
            "chat.denied",
            "Key: error.dialog.suspended, args: [79991234567,].",
        ))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::UrlEncoded("chat_id".into(), "182182182".into()))
        .match_body(Matcher::PartialJson(
            json!({"attachments": [{"type": "file"}]}),
        ))
        .with_status(400)
        .with_body(api_error(
            "attachment.not.ready",
            "Key: errors.process.attachment.file.not.processed",
        ))
        .expect(1)
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::UrlEncoded("chat_id".into(), "182182182".into()))
        .with_body(sent("mid.out", 182182182, 1775026671403))
        .create_async()
        .await;
    server
        .mock("PUT", "/messages")
        .match_query(Matcher::Any)
        .with_body(success(true))
        .create_async()
        .await;
    server
        .mock("DELETE", "/messages")
        .match_query(Matcher::Any)
        .with_body(success(true))
        .create_async()
        .await;
    server
        .mock("POST", "/subscriptions")
        .with_body(success(true))
        .create_async()
        .await;

    max.send(&OutgoingMessage::text("182182182", "Outbound-Text-Секрет").reply_to("mid.in"))
        .await
        .unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![9u8; 2048], "image/png", "outbound-file-name.png"),
        Some("Outbound-Caption-Тайна".into()),
    )
    .unwrap();
    max.send(&OutgoingMessage::new("182182182", photo))
        .await
        .unwrap();
    let streamed = MediaSource::stream(4, "application/pdf", "streamed-name.pdf", || {
        Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"%PDF"))])) as ByteStream
    });
    let doc = OutgoingContent::media(
        ContentKind::File,
        streamed,
        Some("Outbound-Caption-Тайна".into()),
    )
    .unwrap();
    max.send(&OutgoingMessage::new("182182182", doc))
        .await
        .unwrap();
    assert!(
        max.send(&OutgoingMessage::text("555", "Outbound-Text-Секрет"))
            .await
            .is_err()
    );
    max.edit_text(&"182182182".into(), &"mid.out".into(), "Edited-Text-Правка")
        .await
        .unwrap();
    max.delete_message(&"182182182".into(), &"mid.out".into())
        .await
        .unwrap();
    max.subscribe("https://crm.example.org/hook", None)
        .await
        .unwrap();

    // receive by long polling
    let sender = json!({"user_id": 123456789, "first_name": "Customerfirst", "last_name": "Customerlast", "is_bot": false});
    let updates = json!({"updates": [
        {"update_type": "message_created", "timestamp": 1775025604499_i64, "message": {
            "sender": sender, "recipient": {"chat_id": 182182182, "chat_type": "dialog"},
            "timestamp": 1775025603399_i64, "body": {"mid": "mid.in1", "text": "Inbound-Text-Привет"}}},
        {"update_type": "message_created", "timestamp": 1775025604499_i64, "message": {
            "sender": sender, "recipient": {"chat_id": 182182182, "chat_type": "dialog"},
            "timestamp": 1775025603399_i64, "body": {"mid": "mid.in2", "attachments": [
                {"type": "contact", "payload": {"vcf_info": "BEGIN:VCARD\nFN:Customerfirst Customerlast\nTEL:+79991234567\nEND:VCARD"}}]}}},
        {"update_type": "message_created", "timestamp": 1775025604499_i64, "message": {
            "sender": sender, "recipient": {"chat_id": 182182182, "chat_type": "dialog"},
            "timestamp": 1775025603399_i64, "body": {"mid": "mid.in3", "text": "Inbound-Caption-Подпись", "attachments": [
                {"type": "file", "payload": {"url": format!("{}/files/3", server.url()), "token": "ft"},
                 "filename": "inbound-document-name.pdf", "size": 5}]}}},
        {"update_type": "bot_started", "timestamp": 1775025604499_i64, "chat_id": 182182182, "user": sender}
    ], "marker": 900});
    server
        .mock("GET", "/updates")
        .match_query(Matcher::Regex("^limit=100&timeout=0$".into()))
        .with_body(updates.to_string())
        .create_async()
        .await;
    server
        .mock("GET", "/updates")
        .match_query(Matcher::UrlEncoded("marker".into(), "900".into()))
        .with_status(405)
        .with_body(api_error("method.not.allowed", "webhook is set"))
        .create_async()
        .await;
    server
        .mock("GET", "/files/3")
        .with_body("%PDF-")
        .create_async()
        .await;
    let mut stream = max.updates().unwrap();
    let mut media = None;
    // Bounded: a regressing marker would repeat the batch forever.
    for _ in 0..20 {
        match next_within(&mut stream).await {
            Some(Ok(InboundEvent::Message(m))) => {
                if let Some(found) = m.content.media() {
                    media = Some(found.clone());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    let media = media.expect("the document arrived");
    let mut download = max.download(&media).await.unwrap();
    while let Some(chunk) = next_within(&mut download).await {
        chunk.unwrap();
    }

    // a webhook delivery, accepted and rejected
    let body = updates["updates"][2].to_string();
    let request = WebhookRequest::post(body.clone()).header(SECRET_HEADER, "Webhook_Secret-Value");
    assert_eq!(max.handle_webhook(&request).await.unwrap().events.len(), 1);
    let wrong = WebhookRequest::post(body.clone()).header(SECRET_HEADER, "Webhook_Secret-Valuf");
    assert!(max.handle_webhook(&wrong).await.is_err());
    let outcome = max.handle_webhook(&request).await.unwrap();

    // Debug of everything the caller may log
    let parsed = connector_max::parse(body.as_bytes()).unwrap();
    tracing::info!(
        ?max,
        ?media,
        ?request,
        ?outcome,
        ?parsed,
        "caller logs its values"
    );

    drop(max);
    drop(server);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    if let Ok(dump) = std::env::var("NO_LEAK_DUMP") {
        std::fs::write(dump, &logs).unwrap();
    }
    // Something was logged, by this connector and by the HTTP stack.
    assert!(logs.contains("max call ok"), "connector logs missing");
    assert!(
        logs.contains("max attachment not ready"),
        "retry logs missing"
    );
    assert!(logs.contains("GET /updates"), "poll logs missing");
    assert!(
        logs.contains("hyper") || logs.contains("reqwest"),
        "HTTP stack logs missing"
    );
    for secret in SECRETS {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs; see the captured output ({} bytes)",
            logs.len()
        );
    }
}
