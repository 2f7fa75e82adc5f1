//! Captures ALL tracing output (TRACE, spans included, and reqwest's `log` records through the
//! tracing-log bridge) over a full cycle (connect, sends with uploads, a refused send, long
//! polling, a download, webhook deliveries accepted and refused, `Debug` of every value) and
//! proves that neither the token, the callback secret, the confirmation string, the long-poll
//! key nor any message text, caption or file name is in it.
//!
//! One test in its own binary: the subscriber is global. The mock server's own logs
//! (`mockito`, which prints what it receives) are filtered out: they are not the client.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{
    ByteStream, ContentKind, InboundEvent, MediaSource, Messenger, OutgoingContent, OutgoingMessage,
};
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
    TOKEN,
    "TEST-Token",
    "do-not-leak",
    "Callback_Secret-Value",
    "Confirm-Code-x1",
    "LpKey-Secret-Value",
    "Outbound-Text-Секрет",
    "Outbound-Caption-Тайна",
    "outbound-file-name.png",
    "streamed-name.pdf",
    "Inbound-Text-Привет",
    "inbound-document-name.pdf",
    "Edited-Text-Правка",
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
    let base = server.url();
    let vk = config(&server)
        .secret("Callback_Secret-Value")
        .confirmation("Confirm-Code-x1")
        .build()
        .unwrap();

    // connect
    server
        .mock("POST", "/method/groups.getById")
        .with_body(ok(json!({"groups": [{"id": GROUP, "name": "Shop"}]})))
        .create_async()
        .await;
    within(vk.connect()).await.unwrap();

    // sends: text with a reply, a photo with a caption, a streamed document
    server
        .mock("POST", "/method/messages.send")
        .match_body(mockito::Matcher::Regex("peer_id=111&".into()))
        .with_body(ok(json!(346)))
        .create_async()
        .await;
    server
        .mock("POST", "/method/photos.getMessagesUploadServer")
        .with_body(ok(
            json!({"upload_url": format!("{base}/upload/photo"), "album_id": -64, "user_id": 0}),
        ))
        .create_async()
        .await;
    server
        .mock("POST", "/upload/photo")
        .with_body(r#"{"server":1,"photo":"[{\"photo\":\"x\"}]","hash":"h"}"#)
        .create_async()
        .await;
    server
        .mock("POST", "/method/photos.saveMessagesPhoto")
        .with_body(ok(json!([{"id": 5, "owner_id": -1, "access_key": "k"}])))
        .create_async()
        .await;
    server
        .mock("POST", "/method/docs.getMessagesUploadServer")
        .with_body(ok(json!({"upload_url": format!("{base}/upload/doc")})))
        .create_async()
        .await;
    server
        .mock("POST", "/upload/doc")
        .with_body(r#"{"file":"opaque"}"#)
        .create_async()
        .await;
    server
        .mock("POST", "/method/docs.save")
        .with_body(ok(
            json!({"type": "doc", "doc": {"id": 6, "owner_id": -1, "title": "streamed-name.pdf"}}),
        ))
        .create_async()
        .await;
    within(
        vk.send(
            &OutgoingMessage::text("111", "Outbound-Text-Секрет")
                .reply_to("42")
                .idempotency_key("k1"),
        ),
    )
    .await
    .unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![9u8; 64], "image/png", "outbound-file-name.png"),
        Some("Outbound-Caption-Тайна".into()),
    )
    .unwrap();
    within(vk.send(&OutgoingMessage::new("111", photo)))
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
    within(vk.send(&OutgoingMessage::new("111", doc)))
        .await
        .unwrap();

    // a refused send, an edit
    server
        .mock("POST", "/method/messages.send")
        .match_body(mockito::Matcher::Regex("peer_id=555&".into()))
        .with_body(
            json!({"error": {"error_code": 100, "error_msg": "One of the parameters specified was missing or invalid: message Outbound-Text-Секрет",
                "request_params": [{"key": "message", "value": "Outbound-Text-Секрет"},
                                   {"key": "access_token", "value": TOKEN}]}})
            .to_string(),
        )
        .create_async()
        .await;
    let refused = within(vk.send(&OutgoingMessage::text("555", "Outbound-Text-Секрет")))
        .await
        .unwrap_err();
    tracing::info!(error = %refused, debug = ?refused, "caller logs the error");
    server
        .mock("POST", "/method/messages.edit")
        .with_body(ok(json!(1)))
        .create_async()
        .await;
    within(vk.edit_text(&"111".into(), &"346".into(), "Edited-Text-Правка"))
        .await
        .unwrap();

    // receive by long polling
    server
        .mock("POST", "/method/groups.getLongPollServer")
        .with_body(ok(
            json!({"key": "LpKey-Secret-Value", "server": format!("{base}/wh1"), "ts": "1"}),
        ))
        .create_async()
        .await;
    let update = json!({"type": "message_new", "group_id": GROUP, "event_id": "e1", "object": {
        "message": {"id": 77, "date": 1717000000, "peer_id": 111, "from_id": 111, "out": 0,
        "text": "Inbound-Text-Привет", "attachments": [{"type": "doc", "doc": {"id": 1,
        "owner_id": 111, "title": "inbound-document-name.pdf", "size": 5, "ext": "pdf",
        "url": format!("{base}/files/doc.pdf")}}]}}});
    server
        .mock("GET", "/wh1?act=a_check&key=LpKey-Secret-Value&ts=1&wait=0")
        .with_body(json!({"ts": "2", "updates": [update.clone()]}).to_string())
        .create_async()
        .await;
    let mut stream = vk.updates().unwrap();
    let media = loop {
        match within(stream.next()).await {
            Some(Ok(InboundEvent::Message(m))) => break m.content.media().unwrap().clone(),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    drop(stream);

    // download it
    server
        .mock("GET", "/files/doc.pdf")
        .with_body("%PDF-")
        .create_async()
        .await;
    let mut download = within(vk.download(&media)).await.unwrap();
    while let Some(chunk) = within(download.next()).await {
        chunk.unwrap();
    }

    // webhook deliveries: confirmation, accepted, refused
    let confirmation = json!({"type": "confirmation", "group_id": GROUP}).to_string();
    within(vk.handle_webhook(&WebhookRequest::post(confirmation)))
        .await
        .unwrap();
    let mut signed = update.clone();
    signed["secret"] = json!("Callback_Secret-Value");
    let request = WebhookRequest::post(signed.to_string());
    assert_eq!(
        within(vk.handle_webhook(&request))
            .await
            .unwrap()
            .events
            .len(),
        1
    );
    let mut wrong = update.clone();
    wrong["secret"] = json!("Callback_Secret-Valuf");
    assert!(
        within(vk.handle_webhook(&WebhookRequest::post(wrong.to_string())))
            .await
            .is_err()
    );

    // Debug of everything a caller may log
    let events = connector_vk::parse(signed.to_string().as_bytes()).unwrap();
    tracing::info!(?vk, ?media, ?request, ?events, config = ?vk.config(), "caller logs its values");

    drop(vk);
    drop(server);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    if let Ok(dump) = std::env::var("NO_LEAK_DUMP") {
        std::fs::write(dump, &logs).unwrap();
    }
    assert!(logs.contains("vk call ok"), "connector logs missing");
    assert!(logs.contains("vk message sent"), "connector logs missing");
    assert!(
        logs.contains("vk callback refused"),
        "connector logs missing"
    );
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
