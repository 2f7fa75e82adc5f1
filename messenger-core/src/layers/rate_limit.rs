//! [`RateLimited`]: proactive send rate limits, per account and per chat, keeping per-chat order.
//!
//! Limits come from the platform's documented [`RateLimits`] (its [`Capabilities`]), and can be
//! overridden with [`RateLimitedBuilder`].
//! Each limit is applied as a minimum spacing between two sends (`per / count`, rounded up to a
//! whole millisecond): Telegram's
//! 1 msg/s in a private chat means one send a second, its 20/min in a group one send every
//! three seconds, and its 30 msg/s overall one send every 33 ms across the account. Spacing rather
//! than bursts keeps the account clear of flood control, which platforms apply with some slack.
//!
//! When the platform nevertheless answers [`ErrorKind::RateLimited`] with a retry-after, its word
//! wins: every further send of the account waits until then. The layer never retries by itself;
//! put [`Retrying`](super::Retrying) outside it so that every retry passes through it again.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{Instant, sleep_until};
use tracing::debug;

use crate::capabilities::{Capabilities, Rate, RateLimits};
use crate::error::{ErrorKind, Result};
use crate::messenger::{EventStream, Messenger, SentPart};
use crate::model::{AccountInfo, ByteStream, ChatId, MediaRef, MessageId, Platform};
use crate::plan::{Part, ReplyWindow};
use crate::webhook::{WebhookOutcome, WebhookRequest};

/// Below this many tracked chats, idle ones are not swept.
const MIN_SWEEP: usize = 1024;

/// A [`Messenger`] that spaces its sends to stay within the platform's rate limits.
///
/// - Overall: sends of the whole account are spaced by `overall.interval()`.
/// - Per chat: sends to one chat are spaced by `per_chat.interval()`, or `per_group.interval()`
///   where [`Messenger::is_group_chat`] says the chat is a group.
/// - Order: concurrent sends to one chat go out one at a time, in the order they were called
///   (a fair FIFO lock per chat, held until the platform answered). Sends to different chats do
///   not wait on each other beyond the overall limit.
/// - Retry-after: a [`ErrorKind::RateLimited`] answer with a retry-after pauses every further
///   send of the account until then. The error itself is returned to the caller.
///
/// Only [`send_part`](Messenger::send_part) (and so [`send`](Messenger::send)) is limited; every
/// other method goes straight to the inner messenger. State for chats that are idle (no send
/// waiting and the spacing elapsed) is dropped, so memory follows the number of active chats.
///
/// ```no_run
/// # async fn run(connector: impl messenger_core::Messenger) -> messenger_core::Result<()> {
/// use messenger_core::capabilities::Rate;
/// use messenger_core::layers::RateLimited;
/// // The platform's documented limits:
/// let limited = RateLimited::new(connector);
/// // Or stricter ones, e.g. for an account that shares its quota with another system:
/// let limited = RateLimited::builder(limited.into_inner())
///     .overall(Some(Rate::per_second(10)))
///     .build();
/// # let _ = limited; Ok(()) }
/// ```
pub struct RateLimited<M> {
    inner: M,
    limits: RateLimits,
    /// The earliest instant the next send of the account may go out.
    overall_next: Mutex<Option<Instant>>,
    /// Until when the platform asked the account to wait.
    paused_until: Mutex<Option<Instant>>,
    chats: Mutex<ChatTable>,
}

/// Per-chat state: a FIFO lock holding the earliest instant the chat's next send may go out.
#[derive(Default)]
struct ChatSlot {
    next: tokio::sync::Mutex<Option<Instant>>,
}

struct ChatTable {
    map: HashMap<ChatId, Arc<ChatSlot>>,
    /// Sweep idle chats when the map reaches this size.
    sweep_at: usize,
}

impl ChatTable {
    /// Drops chats nobody is sending to whose spacing has elapsed (they are as good as new).
    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, slot| {
            // Only this table hands out clones, and it is locked: a count of 1 is stable.
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.next.try_lock() {
                Ok(next) => next.is_some_and(|at| at > now),
                Err(_) => true,
            }
        });
        self.sweep_at = (self.map.len() * 2).max(MIN_SWEEP);
    }
}

/// The spacing that keeps within `rate`, rounded up to a whole millisecond: timers fire on
/// millisecond ticks, so an interval of 33.3 ms would give gaps of 33 ms now and then.
fn spacing(rate: Rate) -> Duration {
    let interval = rate.interval();
    let ms = interval.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Far enough to mean "not in this process's lifetime" (as tokio's own far future: 30 years).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + by`, without the panic of `Instant + Duration` on overflow: a platform's retry-after
/// is external data (Telegram's `retry_after` is any JSON integer). An instant past the clock's
/// range is taken as `FAR_FUTURE` from `at`.
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .or_else(|| at.checked_add(FAR_FUTURE.min(by)))
        .unwrap_or(at)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds a [`RateLimited`] with limits other than the platform's documented ones.
///
/// Every limit starts at the inner messenger's
/// [`capabilities().rate_limits`](Capabilities::rate_limits); `None` switches a limit off.
///
/// ```no_run
/// # fn run(connector: impl messenger_core::Messenger) {
/// use messenger_core::capabilities::Rate;
/// use messenger_core::layers::RateLimited;
/// let limited = RateLimited::builder(connector)
///     .per_chat(Some(Rate::per_second(1)))
///     .per_group(Some(Rate::per_minute(20)))
///     .overall(None)
///     .build();
/// # let _ = limited; }
/// ```
pub struct RateLimitedBuilder<M> {
    inner: M,
    limits: RateLimits,
}

impl<M: Messenger> RateLimitedBuilder<M> {
    /// The limit across all chats of the account.
    pub fn overall(mut self, rate: Option<Rate>) -> Self {
        self.limits.overall = rate;
        self
    }

    /// The limit within one private chat (and within groups, when `per_group` is `None`).
    pub fn per_chat(mut self, rate: Option<Rate>) -> Self {
        self.limits.per_chat = rate;
        self
    }

    /// The limit within one group chat.
    pub fn per_group(mut self, rate: Option<Rate>) -> Self {
        self.limits.per_group = rate;
        self
    }

    /// All three limits at once.
    pub fn limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The layer.
    pub fn build(self) -> RateLimited<M> {
        RateLimited {
            inner: self.inner,
            limits: self.limits,
            overall_next: Mutex::new(None),
            paused_until: Mutex::new(None),
            chats: Mutex::new(ChatTable {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for RateLimitedBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitedBuilder")
            .field("inner", &self.inner)
            .field("limits", &self.limits)
            .finish()
    }
}

impl<M: Messenger> RateLimited<M> {
    /// Limits `inner` to its platform's documented rate limits.
    pub fn new(inner: M) -> Self {
        Self::builder(inner).build()
    }

    /// A builder starting from `inner`'s documented rate limits.
    pub fn builder(inner: M) -> RateLimitedBuilder<M> {
        let limits = inner.capabilities().rate_limits;
        RateLimitedBuilder { inner, limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// The wrapped messenger.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Unwraps the messenger.
    pub fn into_inner(self) -> M {
        self.inner
    }

    /// How many chats the layer currently keeps state for (active or recently used ones).
    pub fn tracked_chats(&self) -> usize {
        lock(&self.chats).map.len()
    }

    fn slot(&self, chat: &ChatId) -> Arc<ChatSlot> {
        let mut table = lock(&self.chats);
        if table.map.len() >= table.sweep_at {
            table.sweep(Instant::now());
        }
        Arc::clone(table.map.entry(chat.clone()).or_default())
    }

    fn chat_interval(&self, chat: &ChatId) -> Option<Duration> {
        let rate = if self.inner.is_group_chat(chat) {
            self.limits.per_group.or(self.limits.per_chat)
        } else {
            self.limits.per_chat
        };
        rate.map(spacing)
    }

    /// Waits for the platform's retry-after and for a slot under the overall limit.
    async fn wait_account(&self) {
        let interval = self.limits.overall.map(spacing);
        loop {
            let paused = *lock(&self.paused_until);
            if let Some(until) = paused.filter(|u| *u > Instant::now()) {
                debug!(
                    platform = %self.inner.platform(),
                    wait_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64,
                    "waiting for the platform's retry-after"
                );
                sleep_until(until).await;
                continue;
            }
            let Some(interval) = interval else { return };
            let at = {
                let mut next = lock(&self.overall_next);
                let now = Instant::now();
                let at = next.map_or(now, |n| n.max(now));
                *next = Some(later(at, interval));
                at
            };
            sleep_until(at).await;
            // A retry-after may have arrived while this send waited for its slot.
            let paused = *lock(&self.paused_until);
            if paused.is_none_or(|u| u <= Instant::now()) {
                return;
            }
        }
    }

    fn pause(&self, retry_after: Duration) {
        let until = later(Instant::now(), retry_after);
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for RateLimited<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("inner", &self.inner)
            .field("limits", &self.limits)
            .field("tracked_chats", &lock(&self.chats).map.len())
            .finish()
    }
}

#[async_trait]
impl<M: Messenger> Messenger for RateLimited<M> {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    async fn connect(&self) -> Result<AccountInfo> {
        self.inner.connect().await
    }

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let slot = self.slot(chat);
        // Fair (FIFO) and held until the platform answered: one send per chat at a time, in
        // call order.
        let mut next = slot.next.lock().await;
        if let Some(at) = *next {
            sleep_until(at).await;
        }
        self.wait_account().await;
        let started = Instant::now();
        let result = self.inner.send_part(chat, part).await;
        *next = self.chat_interval(chat).map(|i| later(started, i));
        if let Err(err) = &result
            && err.kind() == ErrorKind::RateLimited
            && let Some(retry_after) = err.retry_after()
        {
            debug!(
                platform = %self.inner.platform(),
                retry_after_ms = retry_after.as_millis() as u64,
                "platform asked to slow down; pausing the account's sends"
            );
            self.pause(retry_after);
        }
        result
    }

    fn is_group_chat(&self, chat: &ChatId) -> bool {
        self.inner.is_group_chat(chat)
    }

    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        self.inner.canonical_chat(chat)
    }

    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        self.inner.reply_window(chat).await
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.inner.download(media).await
    }

    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.inner.mark_read(chat, message).await
    }

    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        self.inner.handle_webhook(request).await
    }

    fn updates(&self) -> Result<EventStream> {
        self.inner.updates()
    }
}
