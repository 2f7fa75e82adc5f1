//! Captures ALL tracing output (TRACE, spans included, and reqwest's `log` records through the
//! tracing-log bridge) over a full cycle (the authorization-code flow, a refresh after a refused
//! token, sends with an upload, a refused send, polling, read statuses, a voice download,
//! webhook deliveries accepted and refused, subscriptions, `Debug` of every value) and proves
//! that neither the client secret, an access or refresh token, the authorization code, the
//! webhook token nor any message text, caption or file name is in it.
//!
//! One test in its own binary: the subscriber is global. The mock server's own logs
//! (`mockito`, which prints what it receives) are filtered out: they are not the client.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use connector_avito::AvitoConfig;
use futures::StreamExt;
use messenger_core::oauth::MemoryTokenStore;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{
    ConnectionInput, ConnectionStep, ContentKind, InboundEvent, MediaSource, Messenger,
    OutgoingContent, OutgoingMessage,
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
    CLIENT_SECRET,
    "do-not-leak",
    "Access-From-Code-x9",
    "Refresh-From-Code-x9",
    "Access-Second-y7",
    "Refresh-Second-y7",
    "Auth-Code-z5",
    "Webhook-Token-Secret-w3",
    "Outbound-Text-Секрет",
    "Outbound-Caption-Тайна",
    "outbound-file-name.png",
    "Inbound-Text-Привет",
    "Polled-Text-Опрос",
    "Voice-Sig-q1",
    "Иван Петров",
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
    let store = Arc::new(MemoryTokenStore::new());
    let avito = AvitoConfig::new(CLIENT_ID, CLIENT_SECRET)
        .base_url(&base)
        .authorization_code()
        .token_store(store.clone())
        .webhook_token("Webhook-Token-Secret-w3")
        .poll_interval(Duration::from_millis(20))
        .read_interval(Duration::from_millis(20))
        .build()
        .unwrap();

    // The authorization-code flow.
    token_endpoint(
        &mut server,
        &form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", "Auth-Code-z5"),
        ]),
    )
    .with_body(token_answer_refresh(
        "Access-From-Code-x9",
        "Refresh-From-Code-x9",
        301,
    ))
    .create_async()
    .await;
    server
        .mock("GET", "/core/v1/accounts/self")
        .with_body(json!({"id": USER, "name": "Магазин", "phone": "79990001122"}).to_string())
        .create_async()
        .await;
    let flow = avito.connection_flow();
    let ConnectionStep::OpenUrl { state, .. } = within(flow.start()).await.unwrap() else {
        panic!()
    };
    let step = within(flow.submit(ConnectionInput::text(format!(
        "https://crm.example/cb?code=Auth-Code-z5&state={state}"
    ))))
    .await
    .unwrap();
    assert!(matches!(step, ConnectionStep::Done(_)));
    // A wrong state, logged as refused.
    within(flow.start()).await.unwrap();
    assert!(
        within(flow.submit(ConnectionInput::text("code=Auth-Code-z5&state=forged")))
            .await
            .is_err()
    );

    // Within the refresh margin a second later: the refresh token is used and rotated.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let messages = account_path("v1", &format!("chats/{CHAT}/messages"));
    token_endpoint(&mut server, &refresh_form("Refresh-From-Code-x9"))
        .with_body(token_answer_refresh(
            "Access-Second-y7",
            "Refresh-Second-y7",
            86_400,
        ))
        .expect(1)
        .create_async()
        .await;
    api_as(&mut server, "POST", &messages, "Access-Second-y7")
        .with_body(sent("out-1"))
        .create_async()
        .await;
    within(avito.send(&OutgoingMessage::text(CHAT, "Outbound-Text-Секрет")))
        .await
        .unwrap();

    // An image with a caption and a file name.
    server
        .mock("POST", account_path("v1", "uploadImages").as_str())
        .with_body(r#"{"777.img":{"1280x960":"https://img.k.avito.ru/a.jpg"}}"#)
        .create_async()
        .await;
    server
        .mock("POST", format!("{messages}/image").as_str())
        .with_body(sent("out-2"))
        .create_async()
        .await;
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![9u8; 64], "image/png", "outbound-file-name.png"),
        Some("Outbound-Caption-Тайна".into()),
    )
    .unwrap();
    within(avito.send(&OutgoingMessage::new(CHAT, photo)))
        .await
        .unwrap();

    // A refused send whose error echoes the text.
    server
        .mock(
            "POST",
            account_path("v1", "chats/u2i-refused/messages").as_str(),
        )
        .with_status(400)
        .with_body(
            json!({"error": {"code": 400, "message": "Validation error",
                "fields": {"message.text": "Outbound-Text-Секрет is too long"}}})
            .to_string(),
        )
        .create_async()
        .await;
    let refused = within(avito.send(&OutgoingMessage::text(
        "u2i-refused",
        "Outbound-Text-Секрет",
    )))
    .await
    .unwrap_err();
    tracing::info!(error = %refused, debug = ?refused, "caller logs the error");

    // Polling: one unread chat, one message.
    server
        .mock("GET", account_path("v2", "chats").as_str())
        .match_query(Matcher::Any)
        .with_body(
            json!({"chats": [{"id": CHAT, "users": [{"id": CUSTOMER, "name": "Иван Петров"}]}]})
                .to_string(),
        )
        .create_async()
        .await;
    server
        .mock(
            "GET",
            account_path("v3", &format!("chats/{CHAT}/messages/")).as_str(),
        )
        .match_query(Matcher::Any)
        .with_body(
            json!([
                {"id": "in-1", "author_id": CUSTOMER, "created": 1_717_000_000, "direction": "in",
                 "type": "text", "content": {"text": "Polled-Text-Опрос"}, "is_read": false},
                {"id": "out-1", "author_id": USER, "created": 1_717_000_100, "direction": "out",
                 "type": "text", "content": {"text": "Outbound-Text-Секрет"}, "read": 1_717_000_200}
            ])
            .to_string(),
        )
        .create_async()
        .await;
    let mut updates = avito.updates_and_read_statuses();
    let mut got_message = false;
    let mut got_read = false;
    while !(got_message && got_read) {
        match within(updates.next()).await {
            Some(Ok(InboundEvent::Message(_))) => got_message = true,
            Some(Ok(InboundEvent::Status(_))) => got_read = true,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    drop(updates);

    // A voice note by webhook, then its download.
    server
        .mock("GET", account_path("v1", "getVoiceFiles").as_str())
        .match_query(Matcher::Any)
        .with_body(
            json!({"voices_urls": {"v-1": format!("{base}/files/v.mp4?sig=Voice-Sig-q1")}})
                .to_string(),
        )
        .create_async()
        .await;
    server
        .mock("GET", "/files/v.mp4")
        .match_query(Matcher::Any)
        .with_body("OPUS")
        .create_async()
        .await;
    let mut request = WebhookRequest::post(delivery(customer_message(
        "in-2",
        "voice",
        json!({"voice": {"voice_id": "v-1"}}),
    )));
    request.query = Some("token=Webhook-Token-Secret-w3".into());
    let outcome = within(avito.handle_webhook(&request)).await.unwrap();
    let InboundEvent::Message(voice) = &outcome.events[0] else {
        panic!()
    };
    let media = voice.content.media().unwrap().clone();
    let mut download = within(avito.download(&media)).await.unwrap();
    while let Some(chunk) = within(download.next()).await {
        chunk.unwrap();
    }

    // Webhook deliveries: a text accepted, a wrong token refused.
    let mut text = WebhookRequest::post(delivery(customer_message(
        "in-3",
        "text",
        json!({"text": "Inbound-Text-Привет"}),
    )));
    text.query = Some("token=Webhook-Token-Secret-w3".into());
    assert_eq!(
        within(avito.handle_webhook(&text))
            .await
            .unwrap()
            .events
            .len(),
        1
    );
    let mut wrong = text.clone();
    wrong.query = Some("token=Webhook-Token-Secret-w4".into());
    assert!(within(avito.handle_webhook(&wrong)).await.is_err());

    // Subscriptions (the URL carries the token).
    server
        .mock("POST", "/messenger/v3/webhook")
        .with_body(r#"{"ok":true}"#)
        .create_async()
        .await;
    server
        .mock("POST", "/messenger/v1/subscriptions")
        .with_body(json!({"subscriptions": [{"url": "https://crm.example/h?token=Webhook-Token-Secret-w3", "version": "3"}]}).to_string())
        .create_async()
        .await;
    let url = avito
        .webhook_url(&"https://crm.example/h".parse().unwrap())
        .unwrap();
    within(avito.subscribe_webhook(&url)).await.unwrap();
    let subscriptions = within(avito.webhook_subscriptions()).await.unwrap();

    // Debug of everything a caller may log.
    let events = connector_avito::parse(&text.body).unwrap();
    let tokens = store.get(&messenger_core::AccountId::from(format!(
        "avito:{CLIENT_ID}"
    )));
    tracing::info!(?avito, ?media, ?request, ?events, ?subscriptions, ?tokens, ?outcome, config = ?avito.config(), "caller logs its values");

    drop(avito);
    drop(server);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    if let Ok(dump) = std::env::var("NO_LEAK_DUMP") {
        std::fs::write(dump, &logs).unwrap();
    }
    assert!(tokens.is_some(), "the tokens were saved");
    assert!(logs.contains("avito call ok"), "connector logs missing");
    assert!(
        logs.contains("avito message sent"),
        "connector logs missing"
    );
    assert!(
        logs.contains("avito webhook refused"),
        "connector logs missing"
    );
    assert!(
        logs.contains("authorization response refused"),
        "core logs missing"
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
