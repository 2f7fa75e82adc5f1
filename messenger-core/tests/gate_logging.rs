//! The gate logs its decisions without content.
//!
//! Alone in its test binary: `tracing`'s per-callsite interest cache is shared by every thread,
//! so capturing logs with a thread-local subscriber while other tests run is racy.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::gate::Gated;
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountId, AccountInfo, ByteStream, Capabilities, ChatId, Content, Error, ErrorKind,
    InboundEvent, MediaRef, MessageEvent, MessageId, Messenger, OutgoingMessage, Platform, Result,
    Sender, SentPart, UserId,
};

/// Answers every send and hands out one inbound `STOP` from `chat` on a webhook.
struct Mock {
    caps: Capabilities,
    chat: String,
}

#[async_trait]
impl Messenger for Mock {
    fn platform(&self) -> Platform {
        Platform::WhatsApp
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn connect(&self) -> Result<AccountInfo> {
        Err(Error::unsupported("not in this test"))
    }
    async fn send_part(&self, _chat: &ChatId, _part: &Part) -> Result<SentPart> {
        Ok(SentPart {
            message_id: MessageId::new("wamid.1"),
            timestamp: Utc::now(),
        })
    }
    async fn download(&self, _media: &MediaRef) -> Result<ByteStream> {
        Err(Error::unsupported("not in this test"))
    }
    async fn handle_webhook(&self, _request: &WebhookRequest) -> Result<WebhookOutcome> {
        Ok(WebhookOutcome {
            events: vec![InboundEvent::Message(MessageEvent {
                platform: Platform::WhatsApp,
                chat_id: self.chat.as_str().into(),
                message_id: "wamid.2".into(),
                sender: Some(Sender {
                    id: UserId::new(self.chat.as_str()),
                    name: Some("Ivan Petrov".into()),
                }),
                timestamp: Utc.with_ymd_and_hms(2026, 2, 3, 0, 0, 0).unwrap(),
                reply_to: None,
                edited: false,
                content: Content::Text {
                    text: "STOP".into(),
                },
            })],
            response: WebhookResponse::ok(),
        })
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn decisions_are_logged_without_content() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let phone = "79991234567";
    let notice = "Reply STOP to opt out (notice text).";
    let consent = Arc::new(
        Consent::builder()
            .notice(messenger_core::consent::FirstContactNotice::new(notice))
            .build(),
    );
    consent
        .publish(AgreementEdition::new(
            "v1",
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            "https://crm.example/agreement/v1".parse().unwrap(),
            "text",
        ))
        .await
        .unwrap();
    let account = AccountId::new("shop-a");
    consent
        .activate(&account, "v1", "owner ticked the box")
        .await
        .unwrap();
    let gate = Gated::new(
        Mock {
            caps: Capabilities::of(Platform::WhatsApp),
            chat: phone.to_owned(),
        },
        account,
        consent,
    );

    // WhatsApp's reply window is not modelled by this mock: the default is "not applicable".
    gate.send(&OutgoingMessage::text(phone, "Секретный текст заказа"))
        .await
        .unwrap();
    let outcome = gate
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap();
    assert_eq!(outcome.events.len(), 2);
    let err = gate
        .send(&OutgoingMessage::text(phone, "Секретный текст заказа"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refused by the gate"), "{logs}");
    assert!(logs.contains("opted_out"), "{logs}");
    assert!(logs.contains("opt-out state changed"), "{logs}");
    assert!(logs.contains(&ChatId::new(phone).fingerprint()), "{logs}");
    for secret in [phone, "Секретный", notice, "Ivan", "owner ticked the box"] {
        assert!(!logs.contains(secret), "`{secret}` leaked into:\n{logs}");
    }
}
