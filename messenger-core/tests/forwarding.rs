//! Every layer forwards every `Messenger` method to the messenger it wraps, with its arguments,
//! unless it deliberately changes the call; and the builder's full stack does too.
//!
//! The inner messenger records each call, and answers every provided method with something the
//! trait's default would not give (`mark_read` is `Ok`, `reply_window` is `Open`, ...): a layer
//! that forgets to forward a method falls back to the default, and the check for that method
//! fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use futures::StreamExt;

use messenger_core::consent::{AgreementEdition, Consent, FirstContactNotice};
use messenger_core::layers::{
    Deduplicated, Gated, RateLimited, RetryPolicy, Retrying, Stack, Stacked,
};
use messenger_core::plan::{Part, ReplyWindow};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountId, AccountInfo, ByteStream, Capabilities, ChatId, EventStream, InboundEvent, MediaRef,
    MessageId, Messenger, OtherEvent, OutgoingContent, OutgoingMessage, Platform, Result,
    SendReport, SentPart, Template, UserId,
};

const NOTICE: &str = "Reply STOP to opt out.";

/// One call the inner messenger received, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Platform,
    Capabilities,
    Connect,
    SendPart {
        chat: String,
        text: String,
    },
    Send {
        chat: String,
        text: String,
    },
    SendTemplate {
        chat: String,
        name: String,
    },
    EditText {
        chat: String,
        message: String,
        text: String,
    },
    DeleteMessage {
        chat: String,
        message: String,
    },
    IsGroupChat {
        chat: String,
    },
    CanonicalChat {
        chat: String,
    },
    ReplyWindow {
        chat: String,
    },
    Download {
        media: String,
    },
    MarkRead {
        chat: String,
        message: String,
    },
    HandleWebhook {
        body: Vec<u8>,
    },
    Updates,
    StatusUpdates,
    TrackStatus {
        chat: String,
        message: String,
    },
}

#[derive(Debug)]
struct Recorder {
    caps: Capabilities,
    log: Mutex<Vec<Call>>,
}

impl Recorder {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            caps: Capabilities::of(Platform::Telegram),
            log: Mutex::new(Vec::new()),
        })
    }
    fn record(&self, call: Call) {
        self.log.lock().unwrap().push(call);
    }
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn text_of(content: &OutgoingContent) -> String {
    match content {
        OutgoingContent::Text { text } => text.clone(),
        other => other.caption().unwrap_or_default().to_owned(),
    }
}

fn recorded_event() -> InboundEvent {
    InboundEvent::Other(OtherEvent::new(Platform::Telegram, "recorded").in_chat("42"))
}

#[async_trait]
impl Messenger for Recorder {
    fn platform(&self) -> Platform {
        self.record(Call::Platform);
        Platform::Telegram
    }
    fn capabilities(&self) -> &Capabilities {
        self.record(Call::Capabilities);
        &self.caps
    }
    async fn connect(&self) -> Result<AccountInfo> {
        self.record(Call::Connect);
        Ok(AccountInfo {
            platform: Platform::Telegram,
            id: UserId::new("recorder"),
            name: None,
            username: None,
        })
    }
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.record(Call::SendPart {
            chat: chat.to_string(),
            text: text_of(&part.content),
        });
        Ok(SentPart {
            message_id: MessageId::new("part"),
            timestamp: Utc::now(),
        })
    }
    /// Not the trait's default: a layer that forwards `send` is seen to do so.
    async fn send(&self, message: &OutgoingMessage) -> Result<SendReport> {
        self.record(Call::Send {
            chat: message.chat.to_string(),
            text: text_of(&message.content),
        });
        Ok(SendReport {
            platform: Platform::Telegram,
            chat: message.chat.clone(),
            parts: vec![SentPart {
                message_id: MessageId::new("whole"),
                timestamp: Utc::now(),
            }],
            downgrades: Vec::new(),
        })
    }
    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        self.record(Call::SendTemplate {
            chat: chat.to_string(),
            name: template.name.clone(),
        });
        Ok(SentPart {
            message_id: MessageId::new("template"),
            timestamp: Utc::now(),
        })
    }
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        self.record(Call::EditText {
            chat: chat.to_string(),
            message: message.to_string(),
            text: text.to_owned(),
        });
        Ok(())
    }
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.record(Call::DeleteMessage {
            chat: chat.to_string(),
            message: message.to_string(),
        });
        Ok(())
    }
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        self.record(Call::IsGroupChat {
            chat: chat.to_string(),
        });
        chat.as_str().starts_with('-')
    }
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        self.record(Call::CanonicalChat {
            chat: chat.to_string(),
        });
        ChatId::new(chat.as_str().trim_start_matches('+'))
    }
    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        self.record(Call::ReplyWindow {
            chat: chat.to_string(),
        });
        Ok(ReplyWindow::Open)
    }
    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.record(Call::Download {
            media: media.id.to_string(),
        });
        Ok(Box::pin(futures::stream::iter(vec![Ok(
            bytes::Bytes::from_static(b"recorded bytes"),
        )])))
    }
    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.record(Call::MarkRead {
            chat: chat.to_string(),
            message: message.to_string(),
        });
        Ok(())
    }
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        self.record(Call::HandleWebhook {
            body: request.body.to_vec(),
        });
        Ok(WebhookOutcome {
            events: vec![recorded_event()],
            response: WebhookResponse::text("recorded"),
        })
    }
    fn updates(&self) -> Result<EventStream> {
        self.record(Call::Updates);
        Ok(Box::pin(futures::stream::iter(vec![Ok(recorded_event())])))
    }
    fn status_updates(&self) -> Result<EventStream> {
        self.record(Call::StatusUpdates);
        Ok(Box::pin(futures::stream::iter(vec![Ok(recorded_event())])))
    }
    fn track_status(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.record(Call::TrackStatus {
            chat: chat.to_string(),
            message: message.to_string(),
        });
        Ok(())
    }
}

/// What the inner messenger receives for `send(text "Hello" to 42)`.
enum SendRoute {
    /// The whole message, through the inner `send`.
    Whole,
    /// Planned by the layer and sent part by part, with this text.
    Parts(String),
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(600), f)
        .await
        .expect("the call did not finish")
}

fn assert_received(rec: &Recorder, expected: &Call, method: &str) {
    let log = rec.take();
    assert!(
        log.contains(expected),
        "{method}: the inner messenger did not receive {expected:?}; it received {log:?}"
    );
}

/// Calls every method of `layer` and checks what reached `rec`.
async fn exercise(name: &str, layer: &dyn Messenger, rec: &Recorder, send: SendRoute) {
    let chat = ChatId::new("42");
    let message = MessageId::new("7");
    rec.take();

    assert_eq!(layer.platform(), Platform::Telegram);
    assert_received(rec, &Call::Platform, &format!("{name}.platform"));

    assert_eq!(layer.capabilities().platform, Platform::Telegram);
    assert_received(rec, &Call::Capabilities, &format!("{name}.capabilities"));

    let info = within(layer.connect()).await.unwrap();
    assert_eq!(info.id.as_str(), "recorder", "{name}.connect");
    assert_received(rec, &Call::Connect, &format!("{name}.connect"));

    let part = Part {
        content: OutgoingContent::text("a part"),
        reply_to: None,
        idempotency_key: None,
    };
    within(layer.send_part(&chat, &part)).await.unwrap();
    assert_received(
        rec,
        &Call::SendPart {
            chat: "42".into(),
            text: "a part".into(),
        },
        &format!("{name}.send_part"),
    );

    within(layer.send(&OutgoingMessage::text("42", "Hello")))
        .await
        .unwrap();
    let log = rec.take();
    match &send {
        SendRoute::Whole => {
            let whole = Call::Send {
                chat: "42".into(),
                text: "Hello".into(),
            };
            assert!(log.contains(&whole), "{name}.send: {log:?}");
            assert!(
                !log.iter().any(|c| matches!(c, Call::SendPart { .. })),
                "{name}.send planned the message itself: {log:?}"
            );
        }
        SendRoute::Parts(text) => {
            let part = Call::SendPart {
                chat: "42".into(),
                text: text.clone(),
            };
            assert!(log.contains(&part), "{name}.send: {log:?}");
            // Through this layer's own `send_part`: the inner `send` would bypass it.
            assert!(
                !log.iter().any(|c| matches!(c, Call::Send { .. })),
                "{name}.send went around the layer: {log:?}"
            );
            assert!(
                log.contains(&Call::ReplyWindow { chat: "42".into() }),
                "{name}.send planned without the inner reply window: {log:?}"
            );
        }
    }

    let template = Template::new("order_update", "en_US");
    let sent = within(layer.send_template(&chat, &template)).await.unwrap();
    assert_eq!(sent.message_id.as_str(), "template", "{name}.send_template");
    assert_received(
        rec,
        &Call::SendTemplate {
            chat: "42".into(),
            name: "order_update".into(),
        },
        &format!("{name}.send_template"),
    );

    within(layer.edit_text(&chat, &message, "Edited"))
        .await
        .unwrap();
    assert_received(
        rec,
        &Call::EditText {
            chat: "42".into(),
            message: "7".into(),
            text: "Edited".into(),
        },
        &format!("{name}.edit_text"),
    );

    within(layer.delete_message(&chat, &message)).await.unwrap();
    assert_received(
        rec,
        &Call::DeleteMessage {
            chat: "42".into(),
            message: "7".into(),
        },
        &format!("{name}.delete_message"),
    );

    assert!(
        layer.is_group_chat(&ChatId::new("-100")),
        "{name}.is_group_chat"
    );
    assert_received(
        rec,
        &Call::IsGroupChat {
            chat: "-100".into(),
        },
        &format!("{name}.is_group_chat"),
    );

    assert_eq!(
        layer.canonical_chat(&ChatId::new("+42")).as_str(),
        "42",
        "{name}.canonical_chat"
    );
    assert_received(
        rec,
        &Call::CanonicalChat { chat: "+42".into() },
        &format!("{name}.canonical_chat"),
    );

    assert_eq!(
        within(layer.reply_window(&chat)).await.unwrap(),
        ReplyWindow::Open,
        "{name}.reply_window"
    );
    assert_received(
        rec,
        &Call::ReplyWindow { chat: "42".into() },
        &format!("{name}.reply_window"),
    );

    let body = within(layer.download(&MediaRef::new("file-9")))
        .await
        .unwrap();
    let bytes: Vec<u8> = body.map(|c| c.unwrap()).collect::<Vec<_>>().await.concat();
    assert_eq!(bytes, b"recorded bytes", "{name}.download");
    assert_received(
        rec,
        &Call::Download {
            media: "file-9".into(),
        },
        &format!("{name}.download"),
    );

    within(layer.mark_read(&chat, &message)).await.unwrap();
    assert_received(
        rec,
        &Call::MarkRead {
            chat: "42".into(),
            message: "7".into(),
        },
        &format!("{name}.mark_read"),
    );

    let outcome = within(layer.handle_webhook(&WebhookRequest::post("{\"update\":1}")))
        .await
        .unwrap();
    assert_eq!(
        outcome.events,
        vec![recorded_event()],
        "{name}.handle_webhook"
    );
    assert_eq!(outcome.response, WebhookResponse::text("recorded"));
    assert_received(
        rec,
        &Call::HandleWebhook {
            body: b"{\"update\":1}".to_vec(),
        },
        &format!("{name}.handle_webhook"),
    );

    let mut updates = layer.updates().unwrap();
    let first = within(updates.next()).await.unwrap().unwrap();
    assert_eq!(first, recorded_event(), "{name}.updates");
    assert_received(rec, &Call::Updates, &format!("{name}.updates"));

    let mut statuses = layer.status_updates().unwrap();
    let first = within(statuses.next()).await.unwrap().unwrap();
    assert_eq!(first, recorded_event(), "{name}.status_updates");
    assert_received(rec, &Call::StatusUpdates, &format!("{name}.status_updates"));

    layer
        .track_status(&ChatId::new("42"), &MessageId::new("7"))
        .unwrap();
    assert_received(
        rec,
        &Call::TrackStatus {
            chat: "42".into(),
            message: "7".into(),
        },
        &format!("{name}.track_status"),
    );
}

/// A consent under which `shop-a` may use the module, with a fixed notice.
async fn active_consent() -> Arc<Consent> {
    let consent = Arc::new(
        Consent::builder()
            .notice(FirstContactNotice::new(NOTICE))
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
    consent
        .activate(&AccountId::new("shop-a"), "v1", "owner ticked the box")
        .await
        .unwrap();
    consent
}

fn with_notice(text: &str) -> String {
    format!("{text}\n\n{NOTICE}")
}

#[tokio::test(start_paused = true)]
async fn arc_forwards_everything() {
    let rec = Recorder::new();
    let layer: Arc<Recorder> = rec.clone();
    exercise("Arc", &layer, &rec, SendRoute::Whole).await;
}

#[tokio::test(start_paused = true)]
async fn rate_limited_forwards_everything_and_limits_each_part() {
    let rec = Recorder::new();
    let layer = RateLimited::new(rec.clone());
    exercise(
        "RateLimited",
        &layer,
        &rec,
        SendRoute::Parts("Hello".into()),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn retrying_forwards_everything_and_retries_each_part() {
    let rec = Recorder::new();
    let layer = Retrying::new(rec.clone(), RetryPolicy::default());
    exercise("Retrying", &layer, &rec, SendRoute::Parts("Hello".into())).await;
}

#[tokio::test(start_paused = true)]
async fn deduplicated_forwards_everything_and_the_whole_send() {
    let rec = Recorder::new();
    let layer = Deduplicated::new(rec.clone());
    exercise("Deduplicated", &layer, &rec, SendRoute::Whole).await;
}

#[tokio::test(start_paused = true)]
async fn gated_forwards_what_it_allows_and_adds_the_notice() {
    let rec = Recorder::new();
    let layer = Gated::new(
        rec.clone(),
        AccountId::new("shop-a"),
        active_consent().await,
    );
    // The gate plans the message itself, with the first-contact notice.
    exercise(
        "Gated",
        &layer,
        &rec,
        SendRoute::Parts(with_notice("Hello")),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_full_stack_forwards_everything() {
    let rec = Recorder::new();
    let layer: Stacked<Arc<Recorder>> =
        Stack::new(rec.clone(), "shop-a", active_consent().await).build();
    exercise(
        "Stack",
        &layer,
        &rec,
        SendRoute::Parts(with_notice("Hello")),
    )
    .await;
}
