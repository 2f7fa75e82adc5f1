//! Captures ALL tracing output (TRACE level, spans included, and reqwest's `log` records through
//! the tracing-log bridge) over a full send + receive + download + webhook cycle, and proves that
//! neither the token nor any message text, caption, file name, name or phone number is in it.
//!
//! One test in its own binary: the subscriber is global, so the hyper tasks running on other
//! runtime threads are captured too. Only the mock server's own logs (`mockito`, the test's fake
//! Telegram, which prints what it receives) are filtered out: they are not the client.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{TOKEN, config, drain_within, fail, next_within, ok, path, sent_message};
use connector_telegram::SECRET_HEADER;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{
    ByteStream, ContentKind, MediaSource, Messenger, OutgoingContent, OutgoingMessage,
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
    "AAH-test_TOKEN",
    "do-not-leak",
    // Outbound content.
    "Outbound-Text-Секрет",
    "Outbound-Caption-Тайна",
    "outbound-file-name.png",
    "streamed-name.pdf",
    // Inbound content and personal data.
    "Inbound-Text-Привет",
    "Inbound-Caption-Подпись",
    "inbound-document-name.pdf",
    "Customerfirst",
    "Customerlast",
    "+79991234567",
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
    let bot = config(&server)
        .webhook_secret("Webhook_Secret-Value")
        .build()
        .unwrap();

    // connect
    server
        .mock("POST", path("getMe").as_str())
        .with_body(ok(json!({"id": 7000000001_i64, "is_bot": true, "first_name": "MyBot", "username": "my_bot"})))
        .create_async()
        .await;
    bot.connect().await.unwrap();

    // send: text with a reply, a photo from bytes with a caption, a document from a stream
    server
        .mock("POST", path("sendMessage").as_str())
        .match_body(Matcher::PartialJson(json!({"chat_id": 123456789})))
        .with_body(ok(sent_message(1, 123456789, 1767225800)))
        .create_async()
        .await;
    server
        .mock("POST", path("sendPhoto").as_str())
        .with_body(ok(sent_message(2, 123456789, 1767225800)))
        .create_async()
        .await;
    server
        .mock("POST", path("sendDocument").as_str())
        .with_body(ok(sent_message(3, 123456789, 1767225800)))
        .create_async()
        .await;
    bot.send(&OutgoingMessage::text("123456789", "Outbound-Text-Секрет").reply_to("42"))
        .await
        .unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![9u8; 2048], "image/png", "outbound-file-name.png"),
        Some("Outbound-Caption-Тайна".into()),
    )
    .unwrap();
    bot.send(&OutgoingMessage::new("123456789", photo))
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
    bot.send(&OutgoingMessage::new("123456789", doc))
        .await
        .unwrap();

    // a refused send is logged by kind only
    server
        .mock("POST", path("sendMessage").as_str())
        .match_body(Matcher::PartialJson(json!({"chat_id": 555})))
        .with_status(403)
        .with_body(fail(403, "Forbidden: bot was blocked by the user"))
        .create_async()
        .await;
    assert!(
        bot.send(&OutgoingMessage::text("555", "Outbound-Text-Секрет"))
            .await
            .is_err()
    );

    // receive by long polling
    let update = json!({"update_id": 900, "message": {
        "message_id": 77,
        "from": {"id": 123456789, "is_bot": false, "first_name": "Customerfirst", "last_name": "Customerlast"},
        "chat": {"id": 123456789, "type": "private", "first_name": "Customerfirst"},
        "date": 1767225600,
        "document": {"file_id": "DOC-ID", "file_unique_id": "u", "file_name": "inbound-document-name.pdf",
                     "mime_type": "application/pdf", "file_size": 5},
        "caption": "Inbound-Caption-Подпись"
    }});
    let updates = json!([
        {"update_id": 898, "message": {"message_id": 75, "date": 1767225600,
            "from": {"id": 123456789, "first_name": "Customerfirst", "last_name": "Customerlast"},
            "chat": {"id": 123456789, "type": "private"}, "text": "Inbound-Text-Привет"}},
        {"update_id": 899, "message": {"message_id": 76, "date": 1767225600,
            "chat": {"id": 123456789, "type": "private"},
            "contact": {"phone_number": "+79991234567", "first_name": "Customerfirst"}}},
        update.clone()
    ]);
    server
        .mock("POST", path("getUpdates").as_str())
        .match_body(Matcher::Json(json!({"limit": 100, "timeout": 0})))
        .with_body(ok(updates))
        .create_async()
        .await;
    server
        .mock("POST", path("getUpdates").as_str())
        .match_body(Matcher::Json(
            json!({"offset": 901, "limit": 100, "timeout": 0}),
        ))
        .with_status(409)
        .with_body(fail(
            409,
            "Conflict: terminated by other getUpdates request",
        ))
        .create_async()
        .await;
    let stream = bot.updates().unwrap();
    let mut media = None;
    // Bounded: a regressing offset would repeat the batch forever.
    for item in drain_within(stream, 10).await {
        if let Ok(messenger_core::InboundEvent::Message(m)) = item
            && let Some(found) = m.content.media()
        {
            media = Some(found.clone());
        }
    }
    let media = media.expect("the document arrived");

    // download it
    server
        .mock("POST", path("getFile").as_str())
        .with_body(ok(json!({"file_id": "DOC-ID", "file_unique_id": "u", "file_size": 5, "file_path": "documents/file_3.pdf"})))
        .create_async()
        .await;
    server
        .mock(
            "GET",
            format!("/file/bot{TOKEN}/documents/file_3.pdf").as_str(),
        )
        .with_body("%PDF-")
        .create_async()
        .await;
    let mut download = bot.download(&media).await.unwrap();
    while let Some(chunk) = next_within(&mut download).await {
        chunk.unwrap();
    }

    // and a webhook delivery, accepted and rejected
    let request =
        WebhookRequest::post(update.to_string()).header(SECRET_HEADER, "Webhook_Secret-Value");
    assert_eq!(bot.handle_webhook(&request).await.unwrap().events.len(), 1);
    let wrong =
        WebhookRequest::post(update.to_string()).header(SECRET_HEADER, "Webhook_Secret-Valuf");
    assert!(bot.handle_webhook(&wrong).await.is_err());

    // Debug of everything the caller may log
    tracing::info!(?bot, ?media, ?request, "caller logs its values");

    drop(bot);
    drop(server);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    if let Ok(dump) = std::env::var("NO_LEAK_DUMP") {
        std::fs::write(dump, &logs).unwrap();
    }
    // Something was logged, by this connector and by the HTTP stack.
    assert!(logs.contains("telegram call ok"), "connector logs missing");
    assert!(logs.contains("getUpdates"), "connector logs missing");
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
    assert!(!logs.contains("/bot1"), "a token-bearing path leaked");
}
