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
use messenger_core::layers::rate_limit::quota_window;
use messenger_core::layers::{
    Deduplicated, MemorySeenEvents, RateLimited, RetryPolicy, Retrying, SeenEvents,
};
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Content, Delivery, Error, ErrorKind,
    EventStream, InboundEvent, MediaRef, MessageEvent, MessageId, Messenger, OtherEvent,
    OutgoingContent, Platform, RateScope, Result, SentPart, UserId,
};

/// Runs `f` within `limit` of (paused) time: a regression fails instead of hanging.
async fn within<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .expect("did not finish in time")
}

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

    async fn send_template(
        &self,
        chat: &ChatId,
        template: &messenger_core::Template,
    ) -> Result<SentPart> {
        self.send_part(chat, &part(&format!("template:{}", template.name)))
            .await
    }

    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        self.send_part(chat, &part(&format!("edit:{message}:{text}")))
            .await
            .map(drop)
    }

    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.send_part(chat, &part(&format!("delete:{message}")))
            .await
            .map(drop)
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
        chat_id: None,
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
async fn a_burst_within_a_quota_goes_at_once_and_the_next_waits_for_the_oldest_to_leave() {
    // Only the group's quota: 20 in any minute (plus the documented 1 % margin).
    let limited = RateLimited::builder(
        Mock::with_limits(telegram_limits())
            .group("-100")
            .latency(Duration::from_millis(250)),
    )
    .per_chat(None)
    .overall(None)
    .build();
    let window = quota_window(Rate::per_minute(20));
    assert_eq!(window, Duration::from_millis(60_600));
    let t0 = Instant::now();
    for i in 0..23 {
        within(
            Duration::from_secs(600),
            limited.send_part(&chat("-100"), &part(&i.to_string())),
        )
        .await
        .unwrap();
    }
    let calls = limited.inner().calls();
    // The first 20 went back to back: each as soon as the one before was answered.
    for (i, call) in calls.iter().take(20).enumerate() {
        assert_eq!(
            call.started,
            t0 + Duration::from_millis(250) * u32::try_from(i).unwrap()
        );
    }
    // The 21st waited exactly until the oldest had left the window: counted from its answer.
    for i in 20..23 {
        assert_eq!(
            calls[i].started,
            calls[i - 20].ended + window,
            "send {i} waited for send {} to leave the window",
            i - 20
        );
    }
    // Never more than 20 in any window, counted either from starts or from answers.
    for pair in calls.windows(21) {
        assert!(pair[20].started - pair[0].ended >= Duration::from_secs(60));
    }
}

#[tokio::test(start_paused = true)]
async fn telegram_groups_keep_one_a_second_and_twenty_a_minute() {
    // The documented limits: 1/s in any chat (a pace), 20/min in a group (a quota), 30/s overall.
    let limited = RateLimited::new(Mock::with_limits(telegram_limits()).group("-100"));
    let t0 = Instant::now();
    for i in 0..22 {
        within(
            Duration::from_secs(600),
            limited.send_part(&chat("-100"), &part(&i.to_string())),
        )
        .await
        .unwrap();
    }
    let calls = limited.inner().calls();
    // The first 20 a second apart: the per-chat pace, not the 3 s the quota averages to.
    for (i, call) in calls.iter().take(20).enumerate() {
        assert_eq!(
            call.started,
            t0 + Duration::from_secs(u64::try_from(i).unwrap())
        );
    }
    // Then the quota: the 21st when the first has been in the past 60.6 s, the 22nd a second on.
    let window = quota_window(Rate::per_minute(20));
    assert_eq!(calls[20].started, calls[0].ended + window);
    assert_eq!(calls[21].started, calls[1].ended + window);

    // A private chat of the same account is held to its own pace only.
    limited.send_part(&chat("10"), &part("p0")).await.unwrap();
    limited.send_part(&chat("10"), &part("p1")).await.unwrap();
    let calls = limited.inner().calls();
    let private: Vec<_> = calls.iter().filter(|c| c.chat == "10").collect();
    assert_eq!(
        private[1].started - private[0].started,
        Duration::from_secs(1)
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_sends_to_a_group_keep_call_order_under_its_quota() {
    let limited = RateLimited::builder(
        Mock::with_limits(telegram_limits())
            .group("-100")
            .latency(Duration::from_millis(10)),
    )
    .per_chat(None)
    .per_group(Some(Rate::quota(3, Duration::from_secs(10))))
    .build();
    let sends = (0..8).map(|i| {
        let limited = &limited;
        async move {
            limited
                .send_part(&chat("-100"), &part(&i.to_string()))
                .await
                .unwrap()
        }
    });
    within(Duration::from_secs(120), futures::future::join_all(sends)).await;
    let calls = limited.inner().calls();
    let order: Vec<&str> = calls.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(order, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    let window = quota_window(Rate::quota(3, Duration::from_secs(10)));
    for i in 3..8 {
        assert_eq!(calls[i].started, calls[i - 3].ended + window);
    }
}

#[tokio::test(start_paused = true)]
async fn an_overall_quota_counts_sends_in_flight_across_chats() {
    // 5 in any 10 s across the account; each request takes 500 ms.
    let rate = Rate::quota(5, Duration::from_secs(10));
    let limited = RateLimited::builder(
        Mock::with_limits(telegram_limits()).latency(Duration::from_millis(500)),
    )
    .per_chat(None)
    .overall(Some(rate))
    .build();
    let t0 = Instant::now();
    let sends = (0..12).map(|i| {
        let limited = &limited;
        async move {
            limited
                .send_part(&chat(&format!("chat-{i}")), &part("x"))
                .await
                .unwrap()
        }
    });
    within(Duration::from_secs(120), futures::future::join_all(sends)).await;
    let mut starts: Vec<Instant> = limited.inner().calls().iter().map(|c| c.started).collect();
    starts.sort();
    let window = quota_window(rate);
    let answered = t0 + Duration::from_millis(500);
    // A burst of five at once; the sixth waited for the first five to be answered, then for
    // them to leave the window.
    assert!(starts[..5].iter().all(|s| *s == t0), "{starts:?}");
    assert!(
        starts[5..10].iter().all(|s| *s == answered + window),
        "{starts:?}"
    );
    let second = answered + window + Duration::from_millis(500);
    assert!(
        starts[10..].iter().all(|s| *s == second + window),
        "{starts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_send_given_up_in_flight_still_counts_against_the_quota() {
    let rate = Rate::quota(1, Duration::from_secs(10));
    let limited =
        RateLimited::builder(Mock::with_limits(telegram_limits()).latency(Duration::from_secs(1)))
            .per_chat(None)
            .overall(Some(rate))
            .build();
    // The caller gives up half-way through the request: it may have reached the platform.
    let t0 = Instant::now();
    let gave_up = tokio::time::timeout(
        Duration::from_millis(500),
        limited.send_part(&chat("a"), &part("x")),
    )
    .await;
    assert!(gave_up.is_err());
    within(
        Duration::from_secs(60),
        limited.send_part(&chat("b"), &part("y")),
    )
    .await
    .unwrap();
    let calls = limited.inner().calls();
    assert_eq!(calls.len(), 1, "the abandoned request never finished");
    assert_eq!(
        calls[0].started,
        t0 + Duration::from_millis(500) + quota_window(rate)
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
async fn an_account_wide_retry_after_holds_back_every_chat() {
    let mock = Mock::with_limits(telegram_limits())
        .failing([
            Error::rate_limited(Some(Duration::from_secs(5))).with_rate_scope(RateScope::Account)
        ]);
    let limited = RateLimited::new(mock);

    let err = limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // Not retried by this layer.
    assert_eq!(limited.inner().calls().len(), 1);

    within(
        Duration::from_secs(10),
        limited.send_part(&chat("20"), &part("b")),
    )
    .await
    .unwrap();
    let calls = limited.inner().calls();
    let gap = calls[1].started - calls[0].ended;
    assert_eq!(gap, Duration::from_secs(5), "the account's pause, exactly");
}

#[tokio::test(start_paused = true)]
async fn a_chat_retry_after_holds_back_that_chat_only() {
    // Unmarked: the narrowest scope, the chat the answer came from.
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(5)))]);
    let limited = RateLimited::new(mock);
    let err = limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.rate_scope(), RateScope::Chat);

    // Another chat goes at once (the overall spacing of 34 ms is all it waits for).
    within(
        Duration::from_secs(1),
        limited.send_part(&chat("20"), &part("b")),
    )
    .await
    .unwrap();
    // The chat that was told to wait waits, exactly the retry-after.
    within(
        Duration::from_secs(10),
        limited.send_part(&chat("10"), &part("c")),
    )
    .await
    .unwrap();
    let calls = limited.inner().calls();
    assert_eq!(calls[1].chat, "20");
    assert!(calls[1].started - calls[0].ended < Duration::from_millis(50));
    assert_eq!(calls[2].chat, "10");
    assert_eq!(calls[2].started - calls[0].ended, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_pause_past_the_cap_fails_the_send_at_once_without_a_request() {
    // Telegram's flood control can ask for an hour.
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(3600)))]);
    let limited = RateLimited::builder(mock)
        .max_pause(Duration::from_secs(60))
        .build();
    limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(100)).await;

    // The same chat: refused now, with the time remaining, and no request.
    let err = within(
        Duration::from_millis(1),
        limited.send_part(&chat("10"), &part("b")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(err.rate_scope(), RateScope::Chat);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3500)));
    assert_eq!(
        Instant::now(),
        t0 + Duration::from_secs(100),
        "it did not sleep"
    );
    assert_eq!(limited.inner().calls().len(), 1);
    // Templates and edits take the same slot and are refused alike.
    let template = messenger_core::Template::new("t", "en");
    let err = limited
        .send_template(&chat("10"), &template)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let err = limited
        .edit_text(&chat("10"), &MessageId::new("1"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);

    // Every other chat goes on as if nothing happened.
    within(
        Duration::from_secs(1),
        limited.send_part(&chat("20"), &part("c")),
    )
    .await
    .unwrap();
    assert_eq!(limited.inner().calls().len(), 2);

    // Once the pause is within the cap, the chat waits it out and sends.
    tokio::time::sleep(Duration::from_secs(3500 - 30)).await;
    within(
        Duration::from_secs(31),
        limited.send_part(&chat("10"), &part("d")),
    )
    .await
    .unwrap();
    let calls = limited.inner().calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].started, calls[0].ended + Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn an_account_pause_past_the_cap_refuses_every_chat_instead_of_stalling_it() {
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(3600)))
            .with_rate_scope(RateScope::Account)]);
    let limited = RateLimited::new(mock);
    assert_eq!(limited.max_pause(), Duration::from_secs(60));
    limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    for other in ["20", "30"] {
        let err = within(
            Duration::from_millis(100),
            limited.send_part(&chat(other), &part("b")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.rate_scope(), RateScope::Account);
        assert!(err.retry_after().unwrap() > Duration::from_secs(3500));
    }
    assert_eq!(limited.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_account_pause_arriving_while_a_send_waits_for_its_slot_is_honoured() {
    // Two chats: the second waits for the overall spacing while the first's answer pauses the
    // account past the cap; the second must be refused, not sent.
    let limited = RateLimited::builder(
        Mock::with_limits(telegram_limits())
            .latency(Duration::from_millis(1))
            .failing([Error::rate_limited(Some(Duration::from_secs(3600)))
                .with_rate_scope(RateScope::Account)]),
    )
    .overall(Some(Rate::per_second(1)))
    .build();
    let (c10, c20, a, b) = (chat("10"), chat("20"), part("a"), part("b"));
    let (first, second) = within(
        Duration::from_secs(10),
        futures::future::join(limited.send_part(&c10, &a), limited.send_part(&c20, &b)),
    )
    .await;
    assert_eq!(first.unwrap_err().kind(), ErrorKind::RateLimited);
    let err = second.unwrap_err();
    assert_eq!(err.rate_scope(), RateScope::Account);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(limited.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_does_not_panic_and_is_refused_not_slept() {
    // Telegram's `retry_after` is any JSON integer: `Instant + Duration` must not overflow.
    let mock = Mock::with_limits(telegram_limits())
        .failing([Error::rate_limited(Some(Duration::from_secs(u64::MAX)))]);
    let limited = RateLimited::new(mock);
    let err = limited
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // The chat is paused (for as long as the clock can say): refused at once, not released.
    let err = within(
        Duration::from_millis(1),
        limited.send_part(&chat("10"), &part("b")),
    )
    .await
    .unwrap_err();
    assert!(err.retry_after().unwrap() > Duration::from_secs(365 * 86_400));
    assert_eq!(limited.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_paused_chat_is_not_forgotten_with_the_idle_ones() {
    let limited = RateLimited::builder(
        Mock::new().failing([Error::rate_limited(Some(Duration::from_secs(3600)))]),
    )
    .per_chat(Some(Rate::per_second(1)))
    .build();
    limited
        .send_part(&chat("paused"), &part("a"))
        .await
        .unwrap_err();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Enough other chats to sweep the table several times over.
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("c{i}")), &part("x"))
            .await
            .unwrap();
    }
    let err = within(
        Duration::from_millis(1),
        limited.send_part(&chat("paused"), &part("b")),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::RateLimited,
        "the pause survived the sweep"
    );
    assert_eq!(limited.inner().calls().len(), 3001);
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
async fn group_chats_are_kept_while_their_quota_holds_and_forgotten_after() {
    let mut mock = Mock::new();
    for i in 0..3000 {
        mock = mock.group(&format!("-{i}")).group(&format!("-b{i}"));
    }
    let limited = RateLimited::builder(mock)
        .per_group(Some(Rate::per_minute(20)))
        .build();
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("-{i}")), &part("x"))
            .await
            .unwrap();
    }
    // A second later their pace is long over but their quota still counts the send.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("-b{i}")), &part("x"))
            .await
            .unwrap();
    }
    assert_eq!(
        limited.tracked_chats(),
        6000,
        "groups within their window are kept"
    );
    // Past the window, the first 3 000 are as good as new and are dropped at the next sweep.
    tokio::time::sleep(Duration::from_secs(61)).await;
    for i in 0..3000 {
        limited
            .send_part(&chat(&format!("c{i}")), &part("x"))
            .await
            .unwrap();
    }
    let tracked = limited.tracked_chats();
    assert!(
        tracked < 9000,
        "idle groups should have been dropped, tracking {tracked}"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limited_delegates_other_methods() {
    let limited = RateLimited::new(Mock::new());
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
async fn maybe_sent_is_retried_where_the_capabilities_say_keyed_sends_are_dropped() {
    // VK's capabilities say so (random_id): the default policy then resends a keyed part.
    let mut mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    mock.caps.keyed_sends = true;
    let retrying = Retrying::new(mock, fast_policy());
    retrying
        .send_part(&chat("10"), &keyed_part("a", "order-17#0"))
        .await
        .unwrap();
    assert_eq!(retrying.inner().calls().len(), 2);
    // Without a key there is nothing for the platform to drop the repeat by.
    let mut mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    mock.caps.keyed_sends = true;
    let retrying = Retrying::new(mock, fast_policy());
    let err = retrying
        .send_part(&chat("10"), &part("a"))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(retrying.inner().calls().len(), 1);
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
async fn a_template_is_retried_but_never_resent_when_it_may_have_gone_out() {
    let template = messenger_core::Template::new("order_update", "en_US");
    let mock = Mock::new().failing([Error::transport("reset")]);
    let retrying = Retrying::new(mock, fast_policy().platform_deduplicates(true));
    retrying
        .send_template(&chat("10"), &template)
        .await
        .unwrap();
    assert_eq!(
        retrying.inner().calls().len(),
        2,
        "a NotSent failure is retried"
    );

    // A template carries no key: even where the platform de-duplicates keyed sends, a
    // template that may have gone out is not sent again.
    let mock =
        Mock::new().failing([Error::transport("timeout").with_delivery(Delivery::MaybeSent)]);
    let retrying = Retrying::new(mock, fast_policy().platform_deduplicates(true));
    let err = retrying
        .send_template(&chat("10"), &template)
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(retrying.inner().calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn edits_and_deletions_are_retried_even_when_they_may_have_gone_through() {
    // Idempotent: doing them twice leaves the same result.
    let maybe = || Error::transport("timeout").with_delivery(Delivery::MaybeSent);
    let retrying = Retrying::new(Mock::new().failing([maybe()]), fast_policy());
    retrying
        .edit_text(&chat("10"), &MessageId::new("5"), "new text")
        .await
        .unwrap();
    retrying.inner().script.lock().unwrap().push_back(maybe());
    retrying
        .delete_message(&chat("10"), &MessageId::new("5"))
        .await
        .unwrap();
    let texts: Vec<String> = retrying
        .inner()
        .calls()
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert_eq!(
        texts,
        ["edit:5:new text", "edit:5:new text", "delete:5", "delete:5"]
    );
}

#[tokio::test(start_paused = true)]
async fn templates_and_edits_take_the_chat_slot() {
    let limited = RateLimited::new(Mock::with_limits(telegram_limits()));
    let template = messenger_core::Template::new("t", "en");
    limited.send_part(&chat("10"), &part("a")).await.unwrap();
    limited.send_template(&chat("10"), &template).await.unwrap();
    limited
        .edit_text(&chat("10"), &MessageId::new("1"), "b")
        .await
        .unwrap();
    // Deleting is not a message: not spaced.
    limited
        .delete_message(&chat("10"), &MessageId::new("1"))
        .await
        .unwrap();
    let calls = limited.inner().calls();
    assert_eq!(calls[1].started - calls[0].started, Duration::from_secs(1));
    assert_eq!(calls[2].started - calls[1].started, Duration::from_secs(1));
    assert_eq!(calls[3].started, calls[2].started);
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
    let m = Retrying::new(RateLimited::new(mock), fast_policy());
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
    let m = Deduplicated::new(webhook(vec![
        vec![message("1", "100"), other()],
        vec![message("1", "100"), message("1", "101"), other()],
        vec![message("2", "100"), message("2", "100")],
    ]));
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
    let m = Deduplicated::new(webhook(vec![]));
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
    let m = Deduplicated::new(mock);
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
    let m = Deduplicated::new(mock);
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
    let m = Deduplicated::new(Mock::new());
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
