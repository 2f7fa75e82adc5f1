//! `layers::Stack`: the one safe order of the layers, end to end over a scripted connector.
//!
//! Timing is checked on tokio's paused clock: sleeps complete in virtual time and the recorded
//! instants are exact.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use tokio::time::Instant;

use messenger_core::backoff::Backoff;
use messenger_core::consent::{AgreementEdition, Consent, FirstContactNotice};
use messenger_core::layers::{MemorySeenEvents, RetryPolicy, Stack, Stacked};
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountId, AccountInfo, ByteStream, Capabilities, ChatId, ContactChange, Content, Error,
    ErrorKind, InboundEvent, MediaRef, MessageEvent, MessageId, Messenger, OutgoingContent,
    OutgoingMessage, Platform, Result, SentPart, UserId,
};

const NOTICE: &str = "Reply STOP to opt out.";

#[derive(Debug, Clone)]
struct Attempt {
    text: String,
    at: Instant,
    ok: bool,
}

/// A Telegram-like connector that records every attempt and fails the ones scripted to fail.
struct Connector {
    caps: Capabilities,
    failures: Mutex<VecDeque<Error>>,
    attempts: Mutex<Vec<Attempt>>,
    deliveries: Mutex<VecDeque<Vec<InboundEvent>>>,
}

impl Connector {
    fn new(failures: impl IntoIterator<Item = Error>) -> Arc<Self> {
        Arc::new(Self {
            caps: Capabilities::of(Platform::Telegram),
            failures: Mutex::new(failures.into_iter().collect()),
            attempts: Mutex::new(Vec::new()),
            deliveries: Mutex::new(VecDeque::new()),
        })
    }
    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }
    fn delivered(&self) -> Vec<String> {
        self.attempts()
            .into_iter()
            .filter(|a| a.ok)
            .map(|a| a.text)
            .collect()
    }
}

#[async_trait]
impl Messenger for Connector {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn connect(&self) -> Result<AccountInfo> {
        Ok(AccountInfo {
            platform: Platform::Telegram,
            id: UserId::new("1"),
            name: None,
            username: None,
        })
    }
    async fn send_part(&self, _chat: &ChatId, part: &Part) -> Result<SentPart> {
        let OutgoingContent::Text { text } = &part.content else {
            panic!("only text in this test");
        };
        let failure = self.failures.lock().unwrap().pop_front();
        let mut attempts = self.attempts.lock().unwrap();
        attempts.push(Attempt {
            text: text.clone(),
            at: Instant::now(),
            ok: failure.is_none(),
        });
        match failure {
            Some(err) => Err(err),
            None => Ok(SentPart {
                message_id: MessageId::new(attempts.len().to_string()),
                timestamp: Utc::now(),
            }),
        }
    }
    async fn download(&self, _media: &MediaRef) -> Result<ByteStream> {
        Err(Error::unsupported("not in this test"))
    }
    async fn handle_webhook(&self, _request: &WebhookRequest) -> Result<WebhookOutcome> {
        let events = self
            .deliveries
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_default();
        Ok(WebhookOutcome {
            events,
            response: WebhookResponse::ok(),
        })
    }
}

async fn consent() -> Arc<Consent> {
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

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default().max_attempts(4).backoff(Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(1),
    ))
}

async fn within<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .expect("did not finish in time")
}

#[tokio::test(start_paused = true)]
async fn the_stack_adds_the_notice_limits_every_part_and_retries() {
    // The first attempt fails before anything went out; the stack retries it.
    let connector = Connector::new([Error::transport("connection reset")]);
    let stack: Stacked<Arc<Connector>> = Stack::new(connector.clone(), "shop-a", consent().await)
        .retry_policy(fast_retries())
        .build();

    // Three paragraphs of ~3 000 chars: over Telegram's 4 096, so the planner splits them.
    let paragraph = |c: char| std::iter::repeat_n(c, 3000).collect::<String>();
    let text = format!(
        "{}\n\n{}\n\n{}",
        paragraph('a'),
        paragraph('b'),
        paragraph('c')
    );
    let report = within(
        Duration::from_secs(60),
        stack.send(&OutgoingMessage::text("42", text.clone())),
    )
    .await
    .unwrap();

    // Every part went out once, in order, and the last one ends with the notice.
    let delivered = connector.delivered();
    assert!(delivered.len() >= 3, "{} parts", delivered.len());
    assert_eq!(report.parts.len(), delivered.len());
    assert_eq!(
        delivered.concat().replace('\n', ""),
        format!("{text}{NOTICE}").replace('\n', ""),
        "nothing lost, nothing repeated, the notice at the end"
    );
    assert!(
        delivered
            .last()
            .unwrap()
            .ends_with(&format!("\n\n{NOTICE}"))
    );
    assert_eq!(
        delivered.iter().filter(|p| p.contains(NOTICE)).count(),
        1,
        "the notice once"
    );

    // The failed attempt was retried...
    let attempts = connector.attempts();
    assert!(!attempts[0].ok);
    assert_eq!(attempts[1].text, attempts[0].text, "the same part again");
    assert_eq!(attempts.len(), delivered.len() + 1);
    // ...and every attempt, the retry included, kept Telegram's 1 msg/s in a private chat.
    for pair in attempts.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_secs(1), "gap {gap:?} under 1/s");
    }

    // A second message is no first contact: no notice.
    within(
        Duration::from_secs(60),
        stack.send(&OutgoingMessage::text("42", "Second")),
    )
    .await
    .unwrap();
    assert_eq!(connector.delivered().last().unwrap(), "Second");
}

#[tokio::test(start_paused = true)]
async fn the_stack_takes_in_once_and_applies_stop_words() {
    let connector = Connector::new([]);
    let stop = InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: "42".into(),
        message_id: "5".into(),
        sender: None,
        timestamp: Utc.with_ymd_and_hms(2026, 2, 3, 0, 0, 0).unwrap(),
        reply_to: None,
        edited: false,
        content: Content::Text {
            text: "STOP".into(),
        },
    });
    connector
        .deliveries
        .lock()
        .unwrap()
        .extend([vec![stop.clone()], vec![stop.clone()]]);
    let seen = Arc::new(MemorySeenEvents::new(100));
    let stack = Stack::new(connector.clone(), "shop-a", consent().await)
        .seen_events(seen.clone())
        .build();

    let first = stack
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap();
    assert_eq!(
        first.events.len(),
        2,
        "the message and the opt-out it caused"
    );
    assert!(matches!(
        &first.events[1],
        InboundEvent::Contact(c) if c.change == ContactChange::OptedOut
    ));
    // Seen-event keys are scoped by the account by default.
    use messenger_core::layers::SeenEvents;
    let key = stop.dedup_key().unwrap();
    assert!(seen.is_seen(&format!("shop-a/{key}")).await.unwrap());
    assert!(!seen.is_seen(&key).await.unwrap());

    // The platform delivers again: dropped as a repeat.
    let again = stack
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap();
    assert!(again.events.is_empty(), "{:?}", again.events);

    // And the customer who said STOP gets nothing, without a request.
    let err = stack
        .send(&OutgoingMessage::text("42", "Offer"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert!(connector.attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_stack_passes_its_rate_options_down() {
    let connector = Connector::new([Error::rate_limited(Some(Duration::from_secs(10)))]);
    let stack = Stack::new(connector.clone(), "shop-a", consent().await)
        .retry_policy(RetryPolicy::default().max_attempts(1))
        .per_chat(None)
        .overall(None)
        .max_pause(Duration::from_secs(5))
        .build();
    let err = stack
        .send(&OutgoingMessage::text("42", "Hello"))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));

    // 10 s is past the 5 s cap: refused at once, without a request (the default cap, 60 s,
    // would have waited).
    let started = Instant::now();
    let err = within(
        Duration::from_millis(1),
        stack.send(&OutgoingMessage::text("42", "Hello again")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(Instant::now(), started);
    assert_eq!(connector.attempts().len(), 1);

    // No per-chat or overall spacing: two sends to another chat go out back to back.
    stack
        .send(&OutgoingMessage::text("43", "One"))
        .await
        .unwrap();
    stack
        .send(&OutgoingMessage::text("43", "Two"))
        .await
        .unwrap();
    let attempts = connector.attempts();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[2].at, attempts[1].at);
}
