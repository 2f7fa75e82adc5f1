//! The RateLimited, Retrying and Deduplicated layers over a recording mock messenger.
//!
//! Timing is checked on tokio's paused clock (`start_paused`): sleeps complete in virtual time and
//! the recorded `Instant`s are deterministic. Nothing here reads the wall clock.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use futures::StreamExt;
use tokio::time::Instant;

use messenger_core::backoff::Backoff;
use messenger_core::capabilities::{Rate, RateLimits};
use messenger_core::layers::{
    Deduplicated, MemorySeenEvents, MessengerExt, RateLimited, RetryPolicy, Retrying, SeenEvents,
};
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Content, Delivery, Error, ErrorKind,
    EventStream, InboundEvent, MediaRef, MessageEvent, MessageId, Messenger, OtherEvent,
    OutgoingContent, Platform, Result, SentPart, UserId,
};

// ---------------------------------------------------------------------------------------------
// The mock

#[derive(Debug, Clone)]
struct Call {
    chat: String,
    text: String,
    key: Option<String>,
    started: Instant,
    ended: Instant,
}

/// A messenger that records every `send_part` (with paused-clock instants), answers from a
/// script (then `Ok`), and serves scripted webhook outcomes and an update stream.
struct Mock {
    caps: Capabilities,
    groups: HashSet<String>,
    latency: Duration,
    script: Mutex<VecDeque<Error>>,
    calls: Mutex<Vec<Call>>,
    connects: Mutex<u32>,
    downloads: Mutex<u32>,
    webhook_batches: Mutex<VecDeque<Vec<InboundEvent>>>,
    updates: Mutex<Option<Vec<Result<InboundEvent>>>>,
}

impl Mock {
    fn new() -> Self {
        Self::with_limits(RateLimits::default())
    }

    fn with_limits(limits: RateLimits) -> Self {
        let mut caps = Capabilities::of(Platform::Telegram);
        caps.rate_limits = limits;
        Self {
            caps,
            groups: HashSet::new(),
            latency: Duration::ZERO,
            script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            connects: Mutex::new(0),
            downloads: Mutex::new(0),
            webhook_batches: Mutex::new(VecDeque::new()),
            updates: Mutex::new(None),
        }
    }

    fn group(mut self, chat: &str) -> Self {
        self.groups.insert(chat.to_owned());
        self
    }

    fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The next calls (of any operation) fail with these errors, in order.
    fn failing(self, errors: impl IntoIterator<Item = Error>) -> Self {
        self.script.lock().unwrap().extend(errors);
        self
    }

    fn next_error(&self) -> Option<Error> {
        self.script.lock().unwrap().pop_front()
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Messenger for Mock {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn connect(&self) -> Result<AccountInfo> {
        *self.connects.lock().unwrap() += 1;
        if let Some(err) = self.next_error() {
            return Err(err);
        }
        Ok(AccountInfo {
            platform: Platform::Telegram,
            id: UserId::new("1"),
            name: Some("bot".into()),
            username: None,
        })
    }

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let started = Instant::now();
        tokio::time::sleep(self.latency).await;
        let text = match &part.content {
            OutgoingContent::Text { text } => text.clone(),
            _ => String::new(),
        };
        let mut calls = self.calls.lock().unwrap();
        calls.push(Call {
            chat: chat.to_string(),
            text,
            key: part.idempotency_key.clone(),
            started,
            ended: Instant::now(),
        });
        let n = calls.len();
        drop(calls);
        if let Some(err) = self.next_error() {
            return Err(err);
        }
        Ok(SentPart {
            message_id: MessageId::new(n.to_string()),
            timestamp: Utc::now(),
        })
    }

    fn is_group_chat(&self, chat: &ChatId) -> bool {
        self.groups.contains(chat.as_str())
    }

    async fn download(&self, _media: &MediaRef) -> Result<ByteStream> {
        *self.downloads.lock().unwrap() += 1;
        if let Some(err) = self.next_error() {
            return Err(err);
        }
        Ok(Box::pin(futures::stream::iter(vec![Ok(
            bytes::Bytes::from_static(b"abc"),
        )])))
    }

    async fn handle_webhook(&self, _request: &WebhookRequest) -> Result<WebhookOutcome> {
        let events = self
            .webhook_batches
            .lock()
            .unwrap()
            .pop_front()
            .ok_or_else(|| Error::decode("no more scripted deliveries"))?;
        Ok(WebhookOutcome {
            events,
            response: WebhookResponse::text("ok"),
        })
    }

    fn updates(&self) -> Result<EventStream> {
        let items = self.updates.lock().unwrap().take().unwrap_or_default();
        Ok(Box::pin(futures::stream::iter(items)))
    }
}

fn part(text: &str) -> Part {
    Part {
        content: OutgoingContent::text(text),
        reply_to: None,
        idempotency_key: None,
    }
}

fn keyed_part(text: &str, key: &str) -> Part {
    Part {
        idempotency_key: Some(key.to_owned()),
        ..part(text)
    }
}

async fn read_all(body: ByteStream) -> Vec<u8> {
    let chunks: Vec<_> = body.map(|c| c.unwrap()).collect().await;
    chunks.concat()
}

fn chat(id: &str) -> ChatId {
    ChatId::new(id)
}

fn message(chat: &str, id: &str) -> InboundEvent {
    InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: ChatId::new(chat),
        message_id: MessageId::new(id),
        sender: None,
        timestamp: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        reply_to: None,
        edited: false,
        content: Content::Text { text: "hi".into() },
    })
}

fn other() -> InboundEvent {
    InboundEvent::Other(OtherEvent {
        platform: Platform::Telegram,
        kind: "poll".into(),
    })
}

fn message_ids(events: &[InboundEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m.message_id.to_string(),
            InboundEvent::Other(o) => format!("other:{}", o.kind),
            _ => "?".into(),
        })
        .collect()
}

fn telegram_limits() -> RateLimits {
    Capabilities::of(Platform::Telegram).rate_limits
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy::default().max_attempts(4).backoff(Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(1),
    ))
}

// ---------------------------------------------------------------------------------------------
// RateLimited

#[tokio::test(start_paused = true)]
async fn per_chat_sends_are_spaced_one_second_apart() {
    let limited = RateLimited::new(Mock::with_limits(telegram_limits()));
    for i in 0..4 {
        limited
            .send_part(&chat("10"), &part(&i.to_string()))
            .await
            .unwrap();
    }
    let calls = limited.inner().calls();
    assert_eq!(calls.len(), 4);
    for pair in calls.windows(2) {
        let gap = pair[1].started - pair[0].started;
        assert!(gap >= Duration::from_secs(1), "gap {gap:?} under 1/s");
        // No needless waiting either: the next send goes as soon as the limit allows.
        assert!(
            gap < Duration::from_millis(1100),
            "gap {gap:?} far over 1/s"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn group_sends_are_spaced_by_twenty_per_minute() {
    let limited = RateLimited::new(Mock::with_limits(telegram_limits()).group("-100"));
    for i in 0..3 {
        limited
            .send_part(&chat("-100"), &part(&i.to_string()))
            .await
            .unwrap();
    }
    // A private chat of the same account is not held to the group's spacing.
    limited.send_part(&chat("10"), &part("p0")).await.unwrap();
    limited.send_part(&chat("10"), &part("p1")).await.unwrap();

    let calls = limited.inner().calls();
    let group: Vec<_> = calls.iter().filter(|c| c.chat == "-100").collect();
    for pair in group.windows(2) {
        let gap = pair[1].started - pair[0].started;
        assert!(
            gap >= Duration::from_secs(3),
            "group gap {gap:?} under 20/min"
        );
    }
    let private: Vec<_> = calls.iter().filter(|c| c.chat == "10").collect();
    let gap = private[1].started - private[0].started;
    assert!(
        gap >= Duration::from_secs(1) && gap < Duration::from_secs(3),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn builder_overrides_documented_limits() {
    let limited = RateLimited::builder(Mock::with_limits(telegram_limits()))
        .per_chat(Some(Rate::per_second(2)))
        .overall(None)
        .build();
    assert_eq!(limited.limits().overall, None);
    for i in 0..3 {
        limited
            .send_part(&chat("10"), &part(&i.to_string()))
            .await
            .unwrap();
    }
    let calls = limited.inner().calls();
    for pair in calls.windows(2) {
        let gap = pair[1].started - pair[0].started;
        assert!(
            gap >= Duration::from_millis(500) && gap < Duration::from_secs(1),
            "{gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_sends_to_one_chat_keep_call_order() {
    // Each request takes longer than the chat's spacing: only a lock held until the platform
    // answered keeps the sends from overlapping (and so from arriving out of order).
    let limited =
        RateLimited::new(Mock::with_limits(telegram_limits()).latency(Duration::from_millis(1500)));
    let sends = (0..6).map(|i| {
        let limited = &limited;
        async move {
            limited
                .send_part(&chat("10"), &part(&i.to_string()))
                .await
                .unwrap()
        }
    });
    futures::future::join_all(sends).await;

    let calls = limited.inner().calls();
    let order: Vec<&str> = calls.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(order, ["0", "1", "2", "3", "4", "5"]);
    for pair in calls.windows(2) {
        assert!(
            pair[1].started >= pair[0].ended,
            "a send to the chat started before the previous one was answered"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn different_chats_wait_only_for_the_overall_limit() {
    let limited =
        RateLimited::new(Mock::with_limits(telegram_limits()).latency(Duration::from_millis(500)));
    let sends = (0..10).map(|i| {
        let limited = &limited;
        async move {
            limited
                .send_part(&chat(&format!("chat-{i}")), &part("x"))
                .await
                .unwrap()
        }
    });
    futures::future::join_all(sends).await;

    let mut starts: Vec<Instant> = limited.inner().calls().iter().map(|c| c.started).collect();
    starts.sort();
    let overall = Rate::per_second(30).interval();
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= overall, "overall 30/s broken: {gap:?}");
        assert!(
            gap < overall * 2,
            "chats serialised beyond the overall limit: {gap:?}"
        );
    }
    // All ten went out within one per-chat interval: none waited for another chat's spacing
    // or for another chat's request to finish.
    assert!(starts[9] - starts[0] < Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn platform_retry_after_holds_back_every_chat() {
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(5)))]);
    let limited = RateLimited::new(mock);

    let err = limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // Not retried by this layer.
    assert_eq!(limited.inner().calls().len(), 1);

    limited.send_part(&chat("20"), &part("b")).await.unwrap();
    let calls = limited.inner().calls();
    let gap = calls[1].started - calls[0].ended;
    assert!(
        gap >= Duration::from_secs(5),
        "sent {gap:?} after a 5 s retry-after"
    );
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_does_not_panic_and_still_holds_back() {
    // Telegram's `retry_after` is any JSON integer: `Instant + Duration` must not overflow.
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(u64::MAX)))]);
    let limited = RateLimited::new(mock);
    let err = limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // The account is paused (for as long as the clock can say), not released.
    let next = tokio::time::timeout(
        Duration::from_secs(365 * 86_400),
        limited.send_part(&chat("20"), &part("b")),
    )
    .await;
    assert!(next.is_err(), "a send went out during the platform's pause");
    assert_eq!(limited.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_chats_are_forgotten() {
    let limited = RateLimited::builder(Mock::new())
        .per_chat(Some(Rate::per_second(1)))
        .build();
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("a{i}")), &part("x"))
            .await
            .unwrap();
    }
    assert_eq!(
        limited.tracked_chats(),
        3000,
        "chats within their spacing are kept"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("b{i}")), &part("x"))
            .await
            .unwrap();
    }
    let tracked = limited.tracked_chats();
    assert!(
        (3000..6000).contains(&tracked),
        "the 3000 idle chats should have been dropped, tracking {tracked}"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limited_delegates_other_methods() {
    let limited = Mock::new().rate_limited();
    assert_eq!(limited.platform(), Platform::Telegram);
    assert_eq!(limited.capabilities().platform, Platform::Telegram);
    limited.connect().await.unwrap();
    let body = limited.download(&MediaRef::new("f")).await.unwrap();
    assert_eq!(read_all(body).await, b"abc");
    assert_eq!(*limited.inner().connects.lock().unwrap(), 1);
    assert_eq!(*limited.inner().downloads.lock().unwrap(), 1);
    let err = limited
        .mark_read(&chat("1"), &MessageId::new("2"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

// ---------------------------------------------------------------------------------------------
// Retrying

#[tokio::test(start_paused = true)]
async fn transport_errors_are_retried_until_success() {
    let mock = Mock::new().failing([Error::transport("reset"), Error::transport("reset")]);
    let retrying = Retrying::new(mock, fast_policy());
    let sent = retrying.send_part(&chat("10"), &part("a")).await.unwrap();
    let calls = retrying.inner().calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(sent.message_id.as_str(), "3");
    // Backoff: the first retry waits at least half the base, the second half of twice the base.
    assert!(calls[1].started - calls[0].ended >= Duration::from_millis(50));
    assert!(calls[2].started - calls[1].ended >= Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn invalid_input_is_not_retried() {
    let mock = Mock::new().failing([Error::invalid_input("bad chat id")]);
    let retrying = Retrying::new(mock, fast_policy());
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn maybe_sent_is_not_retried_without_a_key() {
    let mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    let retrying = Retrying::new(mock, fast_policy());
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn maybe_sent_is_not_retried_under_a_key_the_platform_ignores() {
    // Telegram and WhatsApp take no key: a resend after a lost answer is a second message.
    let mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    let retrying = Retrying::new(mock, fast_policy());
    let err = retrying
        .send_part(&chat("10"), &keyed_part("a", "order-17#0"))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn maybe_sent_is_retried_where_the_platform_deduplicates_by_key() {
    let mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    let retrying = Retrying::new(mock, fast_policy().platform_deduplicates(true));
    retrying
        .send_part(&chat("10"), &keyed_part("a", "order-17#0"))
        .await
        .unwrap();
    let calls = retrying.inner().calls();
    assert_eq!(calls.len(), 2);
    // The retry carries the same key, so the platform drops it if the first one arrived.
    assert_eq!(calls[1].key.as_deref(), Some("order-17#0"));
}

#[tokio::test(start_paused = true)]
async fn maybe_sent_without_a_key_is_not_retried_even_where_the_platform_deduplicates() {
    let mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    let retrying = Retrying::new(mock, fast_policy().platform_deduplicates(true));
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_capped() {
    let mock = Mock::new().failing((0..10).map(|_| Error::transport("down")));
    let retrying = Retrying::new(mock, fast_policy().max_attempts(3));
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(retrying.inner().calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn platform_retry_after_sets_the_delay() {
    let mock = Mock::new().failing([Error::rate_limited(Some(Duration::from_secs(7)))]);
    let retrying = Retrying::new(mock, fast_policy());
    retrying.send_part(&chat("10"), &part("a")).await.unwrap();
    let calls = retrying.inner().calls();
    assert_eq!(calls.len(), 2);
    let gap = calls[1].started - calls[0].ended;
    assert!(
        gap >= Duration::from_secs(7),
        "retried after {gap:?}, platform said 7 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_over_the_maximum_is_not_waited_out() {
    let mock = Mock::new().failing([Error::rate_limited(Some(Duration::from_secs(3600)))]);
    let retrying = Retrying::new(mock, fast_policy().max_wait(Duration::from_secs(60)));
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn connect_and_download_are_retried() {
    let mock = Mock::new().failing([Error::transport("reset")]);
    let retrying = Retrying::new(mock, fast_policy());
    retrying.connect().await.unwrap();
    retrying
        .inner()
        .script
        .lock()
        .unwrap()
        .push_back(Error::transport("reset"));
    let body = retrying.download(&MediaRef::new("f")).await.unwrap();
    assert_eq!(read_all(body).await, b"abc");
    // connect: fail + ok; download: fail + ok.
    assert_eq!(*retrying.inner().connects.lock().unwrap(), 2);
    assert_eq!(*retrying.inner().downloads.lock().unwrap(), 2);

    let unauthorized =
        Mock::new().failing([Error::transport("401").with_kind(ErrorKind::Unauthorized)]);
    let retrying = Retrying::new(unauthorized, fast_policy());
    assert_eq!(
        retrying.connect().await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert_eq!(*retrying.inner().connects.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_pass_through_the_rate_limiter() {
    // Retrying<RateLimited<_>>: the limiter sees the platform's retry-after and the retry
    // waits for it and for the chat's spacing.
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(4)))]);
    let m = mock.rate_limited().retrying(fast_policy());
    m.send_part(&chat("10"), &part("a")).await.unwrap();
    let calls = m.inner().inner().calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].started - calls[0].ended >= Duration::from_secs(4));
}

// ---------------------------------------------------------------------------------------------
// Deduplicated

fn webhook(deliveries: Vec<Vec<InboundEvent>>) -> Mock {
    let mock = Mock::new();
    mock.webhook_batches.lock().unwrap().extend(deliveries);
    mock
}

#[tokio::test]
async fn repeated_webhook_events_are_dropped_and_the_response_kept() {
    let m = webhook(vec![
        vec![message("1", "100"), other()],
        vec![message("1", "100"), message("1", "101"), other()],
        vec![message("2", "100"), message("2", "100")],
    ])
    .deduplicated();
    let req = WebhookRequest::post("{}");

    let first = m.handle_webhook(&req).await.unwrap();
    assert_eq!(message_ids(&first.events), ["100", "other:poll"]);

    let second = m.handle_webhook(&req).await.unwrap();
    // The repeat is gone, the new message and the key-less event pass.
    assert_eq!(message_ids(&second.events), ["101", "other:poll"]);
    assert_eq!(second.response, WebhookResponse::text("ok"));

    // Same message id in another chat is another event; a repeat inside one delivery is dropped.
    let third = m.handle_webhook(&req).await.unwrap();
    assert_eq!(message_ids(&third.events), ["100"]);
    assert_eq!(third.events[0].chat_id().unwrap().as_str(), "2");
}

#[tokio::test]
async fn webhook_errors_pass_through() {
    let m = webhook(vec![]).deduplicated();
    let err = m
        .handle_webhook(&WebhookRequest::post("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn repeated_stream_events_are_dropped() {
    let mock = Mock::new();
    *mock.updates.lock().unwrap() = Some(vec![
        Ok(message("1", "1")),
        Ok(message("1", "2")),
        Ok(message("1", "1")),
        Ok(other()),
        Ok(message("1", "2")),
        Ok(other()),
        Ok(message("1", "3")),
    ]);
    let m = mock.deduplicated();
    let events: Vec<InboundEvent> = m.updates().unwrap().map(|e| e.unwrap()).collect().await;
    assert_eq!(
        message_ids(&events),
        ["1", "2", "other:poll", "other:poll", "3"]
    );
}

#[tokio::test]
async fn stream_errors_pass_through() {
    let mock = Mock::new();
    *mock.updates.lock().unwrap() = Some(vec![
        Ok(message("1", "1")),
        Err(Error::new(ErrorKind::Conflict, "another poller")),
    ]);
    let m = mock.deduplicated();
    let items: Vec<Result<InboundEvent>> = m.updates().unwrap().collect().await;
    assert!(items[0].is_ok());
    assert_eq!(items[1].as_ref().unwrap_err().kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn a_stream_event_is_marked_seen_only_after_it_was_handed_out() {
    let store = Arc::new(MemorySeenEvents::new(100));
    let mock = Mock::new();
    *mock.updates.lock().unwrap() = Some(vec![Ok(message("1", "1")), Ok(message("1", "2"))]);
    let m = Deduplicated::with_store(mock, store.clone());
    let key = message("1", "1").dedup_key().unwrap();

    let mut updates = m.updates().unwrap();
    let first = updates.next().await.unwrap().unwrap();
    assert_eq!(message_ids(&[first]), ["1"]);
    // Handed out, but the consumer has not come back yet: a crash now must not lose it.
    assert!(!store.is_seen(&key).await.unwrap());
    updates.next().await.unwrap().unwrap();
    assert!(store.is_seen(&key).await.unwrap());
}

#[tokio::test]
async fn the_store_is_bounded_and_forgets_the_oldest() {
    let store = Arc::new(MemorySeenEvents::new(2));
    let m = Deduplicated::with_store(
        webhook(vec![
            vec![message("1", "1"), message("1", "2"), message("1", "3")],
            vec![message("1", "1"), message("1", "3")],
        ]),
        store.clone(),
    );
    let req = WebhookRequest::post("{}");
    assert_eq!(m.handle_webhook(&req).await.unwrap().events.len(), 3);
    assert_eq!(store.len(), 2);
    // "1" was evicted (oldest); "3" is still remembered.
    let again = m.handle_webhook(&req).await.unwrap();
    assert_eq!(message_ids(&again.events), ["1"]);
    assert!(store.len() <= store.capacity());
}

#[tokio::test]
async fn scopes_keep_accounts_apart_in_a_shared_store() {
    let store: Arc<dyn SeenEvents> = Arc::new(MemorySeenEvents::default());
    let a = Deduplicated::with_store(webhook(vec![vec![message("1", "1")]]), store.clone())
        .scope("bot-a");
    let b = Deduplicated::with_store(webhook(vec![vec![message("1", "1")]]), store).scope("bot-b");
    let req = WebhookRequest::post("{}");
    assert_eq!(a.handle_webhook(&req).await.unwrap().events.len(), 1);
    assert_eq!(b.handle_webhook(&req).await.unwrap().events.len(), 1);
}

#[tokio::test]
async fn deduplicated_delegates_sends() {
    let m = Mock::new().deduplicated();
    m.send_part(&chat("10"), &part("a")).await.unwrap();
    assert_eq!(m.inner().calls().len(), 1);
    assert!(!m.is_group_chat(&chat("10")));
}

#[tokio::test]
async fn claim_says_which_keys_are_new_including_repeats_within_a_batch() {
    let store = MemorySeenEvents::new(10);
    let keys: Vec<String> = ["a", "b", "a"].iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(store.claim(&keys).await.unwrap(), [true, true, false]);
    let again: Vec<String> = ["b", "c"].iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(store.claim(&again).await.unwrap(), [false, true]);
    assert!(store.is_seen("c").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_of_one_key_let_exactly_one_through() {
    let store = Arc::new(MemorySeenEvents::default());
    for round in 0..200 {
        let key = vec![format!("event-{round}")];
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                let key = key.clone();
                tokio::spawn(async move { store.claim(&key).await.unwrap()[0] })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
