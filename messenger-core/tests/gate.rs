//! The `Gated` layer: refusals without a request, the first-contact notice, stop words on intake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use messenger_core::consent::{AcceptanceMethod, AgreementEdition, ChatKey, Consent};
use messenger_core::layers::gate::Gated;
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountId, AccountInfo, ByteStream, Capabilities, ChatId, ContactChange, ContactEvent, Content,
    Error, ErrorKind, EventStream, InboundEvent, MediaRef, MediaSource, MessageEvent, MessageId,
    Messenger, OutgoingContent, OutgoingMessage, Platform, Result, Sender, SentPart, UserId,
};

/// The header the mock connector verifies webhook deliveries with.
const SECRET_HEADER: &str = "x-test-secret";
const SECRET: &str = "s3cret";

/// A delivery the mock connector accepts as verified.
fn signed(body: &str) -> WebhookRequest {
    WebhookRequest::post(body.to_owned()).header(SECRET_HEADER, SECRET)
}

/// A messenger that counts every call that could make a request and records what it sent.
///
/// Its `handle_webhook` verifies like a connector (a secret header; no request leaves) and
/// counts verified deliveries in `webhooks`, not in `calls`.
struct Mock {
    caps: Capabilities,
    calls: AtomicUsize,
    webhooks: AtomicUsize,
    sent: Mutex<Vec<(ChatId, OutgoingContent)>>,
    fail_next_send: Mutex<bool>,
    inbound: Mutex<Vec<InboundEvent>>,
}

impl Mock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            caps: Capabilities::of(Platform::Telegram),
            calls: AtomicUsize::new(0),
            webhooks: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
            fail_next_send: Mutex::new(false),
            inbound: Mutex::new(Vec::new()),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
    fn sent_texts(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| match c {
                OutgoingContent::Text { text } => text.clone(),
                other => other.caption().unwrap_or_default().to_owned(),
            })
            .collect()
    }
    fn set_inbound(&self, events: Vec<InboundEvent>) {
        *self.inbound.lock().unwrap() = events;
    }
}

#[async_trait]
impl Messenger for Mock {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }
    /// Like WhatsApp: `+42` and `42` are one chat, reported as `42`.
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        ChatId::new(chat.as_str().trim_start_matches('+'))
    }
    fn capabilities(&self) -> &Capabilities {
        self.call();
        &self.caps
    }
    async fn connect(&self) -> Result<AccountInfo> {
        self.call();
        Ok(AccountInfo {
            platform: Platform::Telegram,
            id: UserId::new("1"),
            name: None,
            username: None,
        })
    }
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.call();
        if std::mem::take(&mut *self.fail_next_send.lock().unwrap()) {
            return Err(Error::transport("connection reset"));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((chat.clone(), part.content.clone()));
        Ok(SentPart {
            message_id: MessageId::from(sent.len() as u64),
            timestamp: Utc::now(),
        })
    }
    async fn send(&self, message: &OutgoingMessage) -> Result<messenger_core::SendReport> {
        self.call();
        messenger_core::send::execute(self, message).await
    }
    fn is_group_chat(&self, _chat: &ChatId) -> bool {
        self.call();
        false
    }
    async fn reply_window(&self, _chat: &ChatId) -> Result<messenger_core::plan::ReplyWindow> {
        self.call();
        Ok(messenger_core::plan::ReplyWindow::NotApplicable)
    }
    async fn download(&self, _media: &MediaRef) -> Result<ByteStream> {
        self.call();
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn mark_read(&self, _chat: &ChatId, _message: &MessageId) -> Result<()> {
        self.call();
        Ok(())
    }
    async fn send_template(
        &self,
        _chat: &ChatId,
        _template: &messenger_core::Template,
    ) -> Result<SentPart> {
        self.call();
        Ok(SentPart {
            message_id: MessageId::new("t1"),
            timestamp: Utc::now(),
        })
    }
    async fn edit_text(&self, _chat: &ChatId, _message: &MessageId, _text: &str) -> Result<()> {
        self.call();
        Ok(())
    }
    async fn delete_message(&self, _chat: &ChatId, _message: &MessageId) -> Result<()> {
        self.call();
        Ok(())
    }
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        messenger_core::webhook::verify_secret_header(request, SECRET_HEADER, SECRET)?;
        self.webhooks.fetch_add(1, Ordering::SeqCst);
        Ok(WebhookOutcome {
            events: self.inbound.lock().unwrap().clone(),
            response: WebhookResponse::ok(),
        })
    }
    fn updates(&self) -> Result<EventStream> {
        self.call();
        let events: Vec<Result<InboundEvent>> = self
            .inbound
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .map(Ok)
            .collect();
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn edition(id: &str, published: DateTime<Utc>) -> AgreementEdition {
    AgreementEdition::new(
        id,
        published,
        format!("https://crm.example/agreement/{id}")
            .parse()
            .unwrap(),
        format!("text of {id}"),
    )
}

const NOTICE: &str = "Reply STOP to opt out.";

/// A consent with edition v1 published; `shop-a` activated when `active`.
async fn setup(active: bool) -> (Arc<Mock>, Gated<Arc<Mock>>, Arc<Consent>) {
    let consent = Arc::new(
        Consent::builder()
            .notice(messenger_core::consent::FirstContactNotice::new(NOTICE))
            .build(),
    );
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let account = AccountId::new("shop-a");
    if active {
        consent
            .activate(&account, "v1", "owner ticked the box")
            .await
            .unwrap();
    }
    let mock = Mock::new();
    let gate = Gated::new(mock.clone(), account, consent.clone());
    (mock, gate, consent)
}

/// A planned part (built by the planner, so it stays valid whatever fields `Part` gains).
fn hello_part() -> Part {
    messenger_core::plan::plan(
        &OutgoingMessage::text("42", "Hello"),
        &Capabilities::of(Platform::Telegram),
        messenger_core::plan::ReplyWindow::NotApplicable,
    )
    .unwrap()
    .parts
    .remove(0)
}

fn message(chat: &str, text: &str) -> InboundEvent {
    InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: chat.into(),
        message_id: "55".into(),
        sender: Some(Sender {
            id: UserId::new("9001"),
            name: Some("Customer".into()),
        }),
        timestamp: at(2026, 2, 3),
        reply_to: None,
        edited: false,
        content: Content::Text { text: text.into() },
    })
}

/// Every call that could reach the platform is refused with `kind`, and nothing reaches it.
async fn assert_all_refused(mock: &Mock, gate: &Gated<Arc<Mock>>, kind: ErrorKind) {
    let chat = ChatId::new("42");
    assert_eq!(
        gate.send(&OutgoingMessage::text("42", "Hello"))
            .await
            .unwrap_err()
            .kind(),
        kind
    );
    let part = hello_part();
    assert_eq!(gate.send_part(&chat, &part).await.unwrap_err().kind(), kind);
    let template = messenger_core::Template::new("order_update", "en_US");
    assert_eq!(
        gate.send_template(&chat, &template)
            .await
            .unwrap_err()
            .kind(),
        kind
    );
    assert_eq!(
        gate.edit_text(&chat, &MessageId::new("1"), "Edited")
            .await
            .unwrap_err()
            .kind(),
        kind
    );
    assert_eq!(
        gate.delete_message(&chat, &MessageId::new("1"))
            .await
            .unwrap_err()
            .kind(),
        kind
    );
    assert_eq!(
        gate.mark_read(&chat, &MessageId::new("1"))
            .await
            .unwrap_err()
            .kind(),
        kind
    );
    assert_eq!(
        gate.download(&MediaRef::new("file-1"))
            .await
            .err()
            .unwrap()
            .kind(),
        kind
    );
    // A verified delivery is refused after verification...
    let err = gate.handle_webhook(&signed("{}")).await.unwrap_err();
    assert_eq!(err.kind(), kind);
    assert_eq!(WebhookResponse::for_error(&err).status, 403);
    // ...and an unsigned one is refused as unsigned: it learns nothing of the module's state.
    let err = gate
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    assert_eq!(WebhookResponse::for_error(&err).status, 401);

    let mut stream = gate.updates().unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap_err().kind(), kind);
    assert!(stream.next().await.is_none(), "a refusal ends the stream");
    assert_eq!(gate.checked_updates().await.err().unwrap().kind(), kind);
    // Polled statuses too: nothing is polled for an account that may not use the module.
    let mut statuses = gate.status_updates().unwrap();
    assert_eq!(statuses.next().await.unwrap().unwrap_err().kind(), kind);
    assert!(statuses.next().await.is_none());

    assert_eq!(mock.calls(), 0, "no call reached the inner messenger");
}

#[tokio::test]
async fn an_inactive_module_refuses_everything_without_a_request() {
    let (mock, gate, _consent) = setup(false).await;
    assert_all_refused(&mock, &gate, ErrorKind::ModuleInactive).await;
}

#[tokio::test]
async fn a_deactivated_module_refuses_everything_without_a_request() {
    let (mock, gate, consent) = setup(true).await;
    gate.send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap();
    consent.deactivate(gate.account()).await.unwrap();
    let before = mock.calls();
    mock.calls.store(0, Ordering::SeqCst);
    assert!(before > 0);
    assert_all_refused(&mock, &gate, ErrorKind::ModuleInactive).await;
}

#[tokio::test]
async fn a_suspended_platform_refuses_everything_without_a_request() {
    let (mock, gate, consent) = setup(true).await;
    consent.suspend(Platform::Telegram).await.unwrap();
    assert_all_refused(&mock, &gate, ErrorKind::PlatformSuspended).await;

    consent.resume(Platform::Telegram).await.unwrap();
    gate.send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap();
    assert!(mock.calls() > 0);
}

#[tokio::test]
async fn an_opted_out_customer_gets_nothing_but_reading_still_works() {
    let (mock, gate, consent) = setup(true).await;
    consent
        .opt_outs()
        .opt_out(&ChatKey::new("shop-a", Platform::Telegram, "42"))
        .await
        .unwrap();
    let err = gate
        .send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(err.delivery(), messenger_core::Delivery::NotSent);
    let part = hello_part();
    assert_eq!(
        gate.send_part(&ChatId::new("42"), &part)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::OptedOut
    );
    assert_eq!(mock.calls(), 0);

    // A template or an edit reaches the customer too: refused without a request.
    let template = messenger_core::Template::new("order_update", "en_US");
    assert_eq!(
        gate.send_template(&ChatId::new("+42"), &template)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::OptedOut
    );
    assert_eq!(
        gate.edit_text(&ChatId::new("42"), &MessageId::new("1"), "Edited")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::OptedOut
    );
    assert_eq!(mock.calls(), 0);

    // Other chats are unaffected; marking a message read or deleting one is not a message to
    // the customer.
    gate.send(&OutgoingMessage::text("43", "Hello"))
        .await
        .unwrap();
    gate.mark_read(&ChatId::new("42"), &MessageId::new("1"))
        .await
        .unwrap();
    gate.delete_message(&ChatId::new("42"), &MessageId::new("1"))
        .await
        .unwrap();
    assert_eq!(mock.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_first_message_carries_the_notice_and_the_second_does_not() {
    let (mock, gate, _consent) = setup(true).await;
    gate.send(&OutgoingMessage::text("42", "Your order is ready"))
        .await
        .unwrap();
    gate.send(&OutgoingMessage::text("42", "It ships tomorrow"))
        .await
        .unwrap();
    // Another chat gets its own first notice.
    gate.send(&OutgoingMessage::text("77", "Hello"))
        .await
        .unwrap();
    assert_eq!(
        mock.sent_texts(),
        vec![
            format!("Your order is ready\n\n{NOTICE}"),
            "It ships tomorrow".to_owned(),
            format!("Hello\n\n{NOTICE}"),
        ]
    );
}

#[tokio::test]
async fn the_notice_goes_into_a_caption_or_becomes_one() {
    let (mock, gate, _consent) = setup(true).await;
    let image = |caption: Option<&str>| OutgoingContent::Image {
        media: MediaSource::bytes(vec![0x89, b'P', b'N', b'G'], "image/png", "a.png"),
        caption: caption.map(str::to_owned),
    };
    gate.send(&OutgoingMessage::new("1", image(Some("Receipt"))))
        .await
        .unwrap();
    gate.send(&OutgoingMessage::new("2", image(None)))
        .await
        .unwrap();
    let sent = mock.sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].1.caption(),
        Some(format!("Receipt\n\n{NOTICE}").as_str())
    );
    assert_eq!(sent[1].1.caption(), Some(NOTICE));
}

#[tokio::test]
async fn the_planner_sees_the_notice() {
    let (mock, gate, _consent) = setup(true).await;
    // Fits Telegram's 4096 alone, but not with the notice: the plan splits it.
    let long = "word ".repeat(818);
    let report = gate
        .send(&OutgoingMessage::text("42", long.trim_end()))
        .await
        .unwrap();
    assert!(report.parts.len() >= 2, "{report:?}");
    let texts = mock.sent_texts();
    assert_eq!(texts.len(), report.parts.len());
    // Nothing is lost and the notice comes last, whatever boundaries the planner chose.
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squash(&texts.concat()), squash(&format!("{long}{NOTICE}")));
    assert!(!texts[0].contains("STOP"));
}

#[tokio::test]
async fn a_failed_first_send_does_not_count_as_contact() {
    let (mock, gate, _consent) = setup(true).await;
    *mock.fail_next_send.lock().unwrap() = true;
    let err = gate
        .send(&OutgoingMessage::text("42", "First try"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    gate.send(&OutgoingMessage::text("42", "Second try"))
        .await
        .unwrap();
    assert_eq!(mock.sent_texts(), vec![format!("Second try\n\n{NOTICE}")]);
}

#[tokio::test]
async fn a_stop_word_via_webhook_adds_a_contact_event_and_blocks_the_next_send() {
    let (mock, gate, _consent) = setup(true).await;
    gate.send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap();
    mock.set_inbound(vec![
        message("42", "Стоп!"),
        InboundEvent::Other(messenger_core::OtherEvent {
            platform: Platform::Telegram,
            kind: "poll".into(),
            chat_id: None,
        }),
    ]);
    let outcome = gate.handle_webhook(&signed("{}")).await.unwrap();
    assert_eq!(outcome.response, WebhookResponse::ok());
    assert_eq!(outcome.events.len(), 3);
    assert_eq!(outcome.events[0], message("42", "Стоп!"));
    assert_eq!(
        outcome.events[1],
        InboundEvent::Contact(ContactEvent {
            platform: Platform::Telegram,
            chat_id: "42".into(),
            user_id: UserId::new("9001"),
            change: ContactChange::OptedOut,
            new_chat_id: None,
            timestamp: at(2026, 2, 3),
        })
    );
    assert!(matches!(outcome.events[2], InboundEvent::Other(_)));

    let calls = mock.calls();
    let err = gate
        .send(&OutgoingMessage::text("42", "Are you sure?"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(mock.calls(), calls, "no request for an opted-out customer");
    assert_eq!(mock.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_platform_block_via_webhook_opts_out_without_an_extra_event() {
    let (mock, gate, _consent) = setup(true).await;
    let blocked = InboundEvent::Contact(ContactEvent {
        platform: Platform::Telegram,
        chat_id: "42".into(),
        user_id: UserId::new("42"),
        change: ContactChange::Blocked,
        new_chat_id: None,
        timestamp: at(2026, 2, 3),
    });
    mock.set_inbound(vec![blocked.clone()]);
    let outcome = gate.handle_webhook(&signed("{}")).await.unwrap();
    assert_eq!(outcome.events, vec![blocked]);
    assert_eq!(
        gate.send(&OutgoingMessage::text("42", "Hello"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::OptedOut
    );
    assert!(mock.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn long_polling_sees_stop_words_and_stops_on_deactivation() {
    let (mock, gate, consent) = setup(true).await;
    mock.set_inbound(vec![
        message("42", "STOP"),
        message("43", "hello"),
        message("44", "hello again"),
    ]);
    let mut stream = gate.checked_updates().await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, message("42", "STOP"));
    match stream.next().await.unwrap().unwrap() {
        InboundEvent::Contact(c) => {
            assert_eq!(c.change, ContactChange::OptedOut);
            assert_eq!(c.chat_id.as_str(), "42");
        }
        other => panic!("expected a contact event, got {other:?}"),
    }
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        message("43", "hello")
    );

    consent.deactivate(gate.account()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::ModuleInactive
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn the_stream_is_not_opened_before_it_is_checked() {
    let (mock, gate, _consent) = setup(false).await;
    let stream = gate.updates().unwrap();
    drop(stream);
    assert_eq!(
        mock.calls(),
        0,
        "updates() defers the inner call to the first poll"
    );
}

#[tokio::test]
async fn continued_use_through_the_gate_is_recorded() {
    let (_mock, gate, consent) = setup(true).await;
    consent
        .publish(edition("v2", at(2025, 6, 1)))
        .await
        .unwrap();
    gate.send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap();
    let records = consent
        .acceptance_log()
        .records_for(gate.account())
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].method, AcceptanceMethod::ContinuedUse);
    assert_eq!(records[1].edition, "v2");
}

#[tokio::test]
async fn the_notice_is_added_under_the_recommended_order_with_dedup_outermost() {
    let (mock, gate, _consent) = setup(true).await;
    // Deduplicated<Gated<_>>: the dedup layer must hand the whole message to the gate.
    let stack = messenger_core::layers::Deduplicated::new(gate);
    stack
        .send(&OutgoingMessage::text("42", "Your order is ready"))
        .await
        .unwrap();
    assert_eq!(
        mock.sent_texts(),
        vec![format!("Your order is ready\n\n{NOTICE}")]
    );
}

#[tokio::test]
async fn consent_keys_use_the_canonical_chat_id() {
    let (mock, gate, _consent) = setup(true).await;
    // The first contact is one contact however the CRM writes the id.
    gate.send(&OutgoingMessage::text("+42", "Hello"))
        .await
        .unwrap();
    gate.send(&OutgoingMessage::text("42", "Again"))
        .await
        .unwrap();
    assert_eq!(
        mock.sent_texts(),
        vec![format!("Hello\n\n{NOTICE}"), "Again".to_owned()]
    );
    // A STOP reported from `42` stops sends to `+42`, without a request.
    mock.set_inbound(vec![message("42", "STOP")]);
    gate.handle_webhook(&signed("{}")).await.unwrap();
    let calls = mock.calls();
    let err = gate
        .send(&OutgoingMessage::text("+42", "One more offer"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(mock.calls(), calls);
    let err = gate
        .send_part(&ChatId::new("+42"), &hello_part())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(mock.calls(), calls);
}

#[tokio::test]
async fn a_template_is_gated_but_carries_no_notice_and_is_not_the_first_contact() {
    let (mock, gate, _consent) = setup(true).await;
    let template = messenger_core::Template::new("order_update", "en_US");
    gate.send_template(&ChatId::new("42"), &template)
        .await
        .unwrap();
    assert!(
        mock.sent.lock().unwrap().is_empty(),
        "a template goes out as approved, never through the planner"
    );
    // The template could not carry the notice: the next free-form message does.
    gate.send(&OutgoingMessage::text("42", "Your order is ready"))
        .await
        .unwrap();
    assert_eq!(
        mock.sent_texts(),
        vec![format!("Your order is ready\n\n{NOTICE}")]
    );
}

#[tokio::test]
async fn an_unsigned_webhook_learns_nothing_and_records_nothing() {
    // Inactive module: an unsigned request gets the connector's 401, not the gate's 403.
    let (mock, gate, _consent) = setup(false).await;
    let err = gate
        .handle_webhook(&WebhookRequest::post("{}").header(SECRET_HEADER, "guess"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    assert_eq!(WebhookResponse::for_error(&err).status, 401);
    assert_eq!(mock.webhooks.load(Ordering::SeqCst), 0);

    // Active module, new edition in effect: an unsigned request must not be taken as the
    // owner's continued use of the module.
    let (_mock, gate, consent) = setup(true).await;
    consent
        .publish(edition("v2", at(2025, 6, 1)))
        .await
        .unwrap();
    let err = gate
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    let records = consent.acceptance_log().records().await.unwrap();
    assert_eq!(records.len(), 1, "only the activation: {records:?}");
    assert_eq!(records[0].method, AcceptanceMethod::Activation);

    // A verified delivery is use of the module, and is recorded as such.
    gate.handle_webhook(&signed("{}")).await.unwrap();
    let records = consent.acceptance_log().records().await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].method, AcceptanceMethod::ContinuedUse);
}
