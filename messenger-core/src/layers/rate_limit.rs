//! [`RateLimited`]: proactive send rate limits, per account, per chat and per group, keeping
//! per-chat order.
//!
//! Limits come from the platform's documented [`RateLimits`] (its
//! [`Capabilities`](crate::Capabilities)), and can be overridden with [`RateLimitedBuilder`].
//! Each limit is kept the way the platform counts it ([`RateKind`](crate::capabilities::RateKind)):
//!
//! - **Spacing** ([`Rate::per_second`], [`Rate::spacing`]): a minimum gap of `per / count`
//!   between two sends' starts, rounded up to a whole millisecond (timers fire on millisecond
//!   ticks, so a gap of 33.3 ms would come out as 33 ms now and then). Telegram's 1 msg/s in a
//!   chat is one send a second; its 30 msg/s overall one send every 34 ms across the account.
//! - **Quota** ([`Rate::per_minute`], [`Rate::quota`]): a sliding-window log, at most `count`
//!   sends in any window of `per`, bursts within it going at once. A send counts from the
//!   moment the platform *answered* it, not from its start: the platform saw the request
//!   somewhere between the two, so no network delay, however uneven, can make two sends look
//!   closer to the platform than to the layer. On top of that the window is lengthened by a
//!   safety margin of 1 % ([`quota_window`]: 60.6 s for a minute) for clocks that do not run
//!   quite alike. Telegram's 20 messages a minute in a group: 20 go at once, the 21st when the
//!   first has been answered 60.6 s ago.
//!
//! Where the limits apply:
//!
//! - `overall`: across every chat of the account;
//! - `per_chat`: within any one chat, groups included;
//! - `per_group`: within a group chat ([`Messenger::is_group_chat`]), in addition to `per_chat`
//!   (Telegram: 1 msg/s in any chat, and at most 20 a minute in a group).
//!
//! What is limited: [`send_part`](Messenger::send_part) (so every part of a
//! [`send`](Messenger::send)), [`send_template`](Messenger::send_template) and
//! [`edit_text`](Messenger::edit_text), each taking the chat's slot. Every other method goes
//! straight to the inner messenger.
//!
//! # The platform's retry-after
//!
//! When the platform nevertheless answers [`ErrorKind::RateLimited`] with a retry-after, its word
//! wins, as far as it reaches ([`Error::rate_scope`](crate::Error::rate_scope)):
//!
//! - [`RateScope::Chat`] (the default for an unmarked answer): only that chat is paused; sends to
//!   every other chat go on under the usual limits.
//! - [`RateScope::Account`]: every chat of the account is paused.
//!
//! What one answer can make a caller wait is capped by [`max_pause`](RateLimitedBuilder::max_pause)
//! (60 s by default): a send that would have to wait longer than the cap for a pause is not made
//! to sleep; it fails at once with [`ErrorKind::RateLimited`], its
//! [`retry_after`](crate::Error::retry_after) the time remaining, [`Delivery::NotSent`], and no
//! request leaves. A pause within the cap is waited out. So a 3 600 s flood wait in one chat
//! refuses sends to that chat for the hour (the platform would refuse them anyway) and stalls no
//! other chat; an account-wide one refuses every send for the hour instead of hanging them all.
//!
//! The layer never retries by itself; put [`Retrying`](super::Retrying) outside it (as
//! [`Stack`](super::Stack) does) so that every retry passes through it again.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};
use tracing::debug;

use super::Wrapper;
use crate::capabilities::{Rate, RateLimits};
use crate::error::{Delivery, Error, ErrorKind, RateScope, Result};
use crate::messenger::{Messenger, SentPart};
use crate::model::{ChatId, MessageId, Template};
use crate::plan::Part;

/// Below this many tracked chats, idle ones are not swept.
const MIN_SWEEP: usize = 1024;

/// The window a [quota](crate::capabilities::RateKind::Quota) is kept over: the rate's `per`
/// plus a safety margin of 1 % of it, the margin rounded up to a whole millisecond (60.6 s for
/// Telegram's 20 messages a minute in a group).
///
/// ```
/// use std::time::Duration;
/// use messenger_core::capabilities::Rate;
/// use messenger_core::layers::rate_limit::quota_window;
/// assert_eq!(quota_window(Rate::per_minute(20)), Duration::from_millis(60_600));
/// ```
pub fn quota_window(rate: Rate) -> Duration {
    let margin_ms = rate.per.as_nanos().div_ceil(100).div_ceil(1_000_000);
    rate.per.saturating_add(Duration::from_millis(
        u64::try_from(margin_ms).unwrap_or(u64::MAX),
    ))
}

/// A [`Messenger`] that keeps its sends within the platform's rate limits.
///
/// - Overall: across every chat of the account, `overall`.
/// - Per chat: within any one chat, `per_chat`; within a group ([`Messenger::is_group_chat`]),
///   `per_group` as well.
/// - Each limit as the platform counts it: a minimum spacing for a
///   [`Spacing`](crate::capabilities::RateKind::Spacing) rate, a sliding-window quota (bursts
///   within it at once) for a [`Quota`](crate::capabilities::RateKind::Quota) one; see the
///   [module docs](self).
/// - Order: concurrent sends to one chat go out one at a time, in the order they were called
///   (a fair FIFO lock per chat, held until the platform answered). Sends to different chats do
///   not wait on each other beyond the overall limit.
/// - Retry-after: a [`ErrorKind::RateLimited`] answer with a retry-after pauses the chat it came
///   from, or the whole account for [`RateScope::Account`]; a pause longer than
///   [`max_pause`](RateLimitedBuilder::max_pause) refuses sends instead of stalling them (see
///   the [module docs](self)). The error itself is returned to the caller.
///
/// [`send_part`](Messenger::send_part) (and so [`send`](Messenger::send)),
/// [`send_template`](Messenger::send_template) and [`edit_text`](Messenger::edit_text) are
/// limited; every other method goes straight to the inner messenger. State for chats that are
/// idle (no send waiting, no limit or pause still in force) is dropped, so memory follows the
/// number of active chats. Chats are keyed by [`Messenger::canonical_chat`].
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
    max_pause: Duration,
    /// Spacing overall: the earliest instant the next send of the account may start.
    overall_next: Mutex<Option<Instant>>,
    /// Quota overall: the account's sliding-window log.
    overall_log: Mutex<QuotaLog>,
    /// Woken whenever a send holding an overall quota permit ends.
    overall_answered: Notify,
    /// Until when the platform asked the whole account to wait.
    paused_until: Mutex<Option<Instant>>,
    chats: Mutex<ChatTable>,
}

/// The sliding-window log of an account-wide quota: sends answered within the window, and
/// sends in flight (which count until they are answered, and from then on for the window).
#[derive(Default)]
struct QuotaLog {
    /// When the platform answered each send still in the window, oldest first.
    answered: VecDeque<Instant>,
    in_flight: usize,
}

/// One send's place in the account's quota; released when it drops.
struct QuotaPermit<'a> {
    log: &'a Mutex<QuotaLog>,
    answered: &'a Notify,
    /// Whether the send left (count it from now) or was abandoned before it did.
    sent: bool,
}

impl QuotaPermit<'_> {
    /// Gives the place back without counting a send (none left).
    fn unused(mut self) {
        self.sent = false;
    }
}

impl Drop for QuotaPermit<'_> {
    fn drop(&mut self) {
        {
            let mut log = lock(self.log);
            log.in_flight = log.in_flight.saturating_sub(1);
            if self.sent {
                // Pushed under the lock at the lock's now: the log stays in order.
                log.answered.push_back(Instant::now());
            }
        }
        self.answered.notify_waiters();
    }
}

/// The limits that apply within one chat: `per_chat`, and `per_group` in a group.
type ChatRates = [Option<Rate>; 2];

/// Per-chat state, behind a FIFO lock held for the whole of a send.
#[derive(Default)]
struct ChatState {
    /// Spacing: the earliest instant the chat's next send may start.
    next: Option<Instant>,
    /// Quota: when the chat's latest sends were answered (their start while in flight), oldest
    /// first; as many as the largest quota counts.
    log: VecDeque<Instant>,
    /// Until when the quota log still matters (the newest entry plus the longest window).
    log_until: Option<Instant>,
    /// Until when the platform asked this chat to wait.
    paused_until: Option<Instant>,
}

impl ChatState {
    /// Whether the state still matters at `now` (else it is as good as new).
    fn in_force(&self, now: Instant) -> bool {
        [self.next, self.log_until, self.paused_until]
            .into_iter()
            .flatten()
            .any(|at| at > now)
    }

    /// The earliest instant the next send may start under `rates`, if that is constrained.
    fn ready_at(&self, rates: &ChatRates) -> Option<Instant> {
        let mut at = self.next;
        for rate in rates.iter().flatten().filter(|r| r.is_quota()) {
            let count = usize::try_from(rate.count.max(1)).unwrap_or(usize::MAX);
            if self.log.len() >= count {
                let oldest = self.log[self.log.len() - count];
                let free = later(oldest, quota_window(*rate));
                at = Some(at.map_or(free, |a| a.max(free)));
            }
        }
        at
    }

    /// A send starts at `started`.
    fn started(&mut self, started: Instant, rates: &ChatRates) {
        self.next = rates
            .iter()
            .flatten()
            .filter(|r| !r.is_quota())
            .map(|r| later(started, spacing(*r)))
            .max();
        let keep = rates
            .iter()
            .flatten()
            .filter(|r| r.is_quota())
            .map(|r| usize::try_from(r.count.max(1)).unwrap_or(usize::MAX))
            .max();
        let window = rates
            .iter()
            .flatten()
            .filter(|r| r.is_quota())
            .map(|r| quota_window(*r))
            .max();
        match (keep, window) {
            (Some(keep), Some(window)) => {
                // Counted from its start until the answer comes (then from the answer), so a
                // send whose caller gave up while it was in flight still counts.
                self.log.push_back(started);
                while self.log.len() > keep {
                    self.log.pop_front();
                }
                self.log_until = Some(later(started, window));
            }
            _ => self.log.clear(),
        }
    }

    /// The send that started last was answered at `answered`.
    fn answered(&mut self, answered: Instant, rates: &ChatRates) {
        let window = rates
            .iter()
            .flatten()
            .filter(|r| r.is_quota())
            .map(|r| quota_window(*r))
            .max();
        if let (Some(window), Some(last)) = (window, self.log.back_mut()) {
            *last = answered;
            self.log_until = Some(later(answered, window));
        }
    }
}

#[derive(Default)]
struct ChatSlot {
    state: tokio::sync::Mutex<ChatState>,
}

struct ChatTable {
    map: HashMap<ChatId, Arc<ChatSlot>>,
    /// Sweep idle chats when the map reaches this size.
    sweep_at: usize,
}

impl ChatTable {
    /// Drops chats nobody is sending to whose limits no longer hold anything back (they are as
    /// good as new).
    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, slot| {
            // Only this table hands out clones, and it is locked: a count of 1 is stable.
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.state.try_lock() {
                Ok(state) => state.in_force(now),
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
/// [`capabilities().rate_limits`](crate::Capabilities::rate_limits); `None` switches a limit off.
///
/// ```no_run
/// # fn run(connector: impl messenger_core::Messenger) {
/// use std::time::Duration;
/// use messenger_core::capabilities::Rate;
/// use messenger_core::layers::RateLimited;
/// let limited = RateLimited::builder(connector)
///     // a pace: one send a second in any chat
///     .per_chat(Some(Rate::per_second(1)))
///     // a quota: at most 20 in any minute in a group, bursts allowed
///     .per_group(Some(Rate::per_minute(20)))
///     // a quota of a system that shares the account: 1 000 an hour
///     .overall(Some(Rate::quota(1_000, Duration::from_secs(3_600))))
///     .build();
/// # let _ = limited; }
/// ```
pub struct RateLimitedBuilder<M> {
    inner: M,
    limits: RateLimits,
    max_pause: Duration,
}

impl<M: Messenger> RateLimitedBuilder<M> {
    /// The limit across all chats of the account.
    pub fn overall(mut self, rate: Option<Rate>) -> Self {
        self.limits.overall = rate;
        self
    }

    /// The limit within any one chat, groups included.
    pub fn per_chat(mut self, rate: Option<Rate>) -> Self {
        self.limits.per_chat = rate;
        self
    }

    /// The limit within one group chat, in addition to `per_chat`.
    pub fn per_group(mut self, rate: Option<Rate>) -> Self {
        self.limits.per_group = rate;
        self
    }

    /// All three limits at once.
    pub fn limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The longest a send waits for a pause the platform asked for
    /// ([`RateLimited::DEFAULT_MAX_PAUSE`] unless set); a send that would wait longer fails at
    /// once with [`ErrorKind::RateLimited`] and the time remaining. See the [module docs](self).
    pub fn max_pause(mut self, max_pause: Duration) -> Self {
        self.max_pause = max_pause;
        self
    }

    /// The layer.
    pub fn build(self) -> RateLimited<M> {
        RateLimited {
            inner: self.inner,
            limits: self.limits,
            max_pause: self.max_pause,
            overall_next: Mutex::new(None),
            overall_log: Mutex::new(QuotaLog::default()),
            overall_answered: Notify::new(),
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
            .field("max_pause", &self.max_pause)
            .finish()
    }
}

impl<M> RateLimited<M> {
    /// The default of [`RateLimitedBuilder::max_pause`]: 60 s.
    pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(60);
}

impl<M: Messenger> RateLimited<M> {
    /// Limits `inner` to its platform's documented rate limits.
    ///
    /// For advanced use (a layer alone, a stack of your own): [`Stack`](super::Stack) builds
    /// the layers in the one safe order.
    pub fn new(inner: M) -> Self {
        Self::builder(inner).build()
    }

    /// A builder starting from `inner`'s documented rate limits.
    pub fn builder(inner: M) -> RateLimitedBuilder<M> {
        let limits = inner.capabilities().rate_limits;
        RateLimitedBuilder {
            inner,
            limits,
            max_pause: Self::DEFAULT_MAX_PAUSE,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// The longest a send waits for a platform's pause.
    pub fn max_pause(&self) -> Duration {
        self.max_pause
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

    fn chat_rates(&self, chat: &ChatId) -> ChatRates {
        let group = if self.inner.is_group_chat(chat) {
            self.limits.per_group
        } else {
            None
        };
        [self.limits.per_chat, group]
    }

    /// Waits until `until`, unless that is more than `max_pause` away: then the send is
    /// refused with the time remaining.
    async fn wait_pause(&self, until: Instant, scope: RateScope) -> Result<()> {
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(());
        }
        if remaining > self.max_pause {
            debug!(
                platform = %self.inner.platform(),
                scope = %scope,
                remaining_ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
                "refusing a send: the platform's pause outlasts the cap"
            );
            return Err(Error::rate_limited(Some(remaining))
                .with_rate_scope(scope)
                .with_platform(self.inner.platform())
                .with_delivery(Delivery::NotSent));
        }
        debug!(
            platform = %self.inner.platform(),
            scope = %scope,
            wait_ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
            "waiting for the platform's retry-after"
        );
        sleep_until(until).await;
        Ok(())
    }

    /// Waits for a place in the account's quota: one of `count` in any window, sends in
    /// flight included.
    async fn overall_quota(&self, rate: Rate) -> QuotaPermit<'_> {
        let count = usize::try_from(rate.count.max(1)).unwrap_or(usize::MAX);
        let window = quota_window(rate);
        loop {
            // Registered before the log is read, so an answer in between is not missed.
            let answered = self.overall_answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let free_at = {
                let mut log = lock(&self.overall_log);
                let now = Instant::now();
                while log
                    .answered
                    .front()
                    .is_some_and(|at| later(*at, window) <= now)
                {
                    log.answered.pop_front();
                }
                if log.answered.len() + log.in_flight < count {
                    log.in_flight += 1;
                    return QuotaPermit {
                        log: &self.overall_log,
                        answered: &self.overall_answered,
                        sent: true,
                    };
                }
                log.answered.front().map(|at| later(*at, window))
            };
            match free_at {
                // The oldest answered send leaves the window then.
                Some(at) => sleep_until(at).await,
                // Every place is held by a send in flight: wait for an answer.
                None => answered.await,
            }
        }
    }

    /// Waits for the account's pause and for a place under the overall limit.
    async fn wait_account(&self) -> Result<Option<QuotaPermit<'_>>> {
        loop {
            let paused = *lock(&self.paused_until);
            if let Some(until) = paused.filter(|u| *u > Instant::now()) {
                self.wait_pause(until, RateScope::Account).await?;
                continue;
            }
            let permit = match self.limits.overall {
                None => return Ok(None),
                Some(rate) if rate.is_quota() => Some(self.overall_quota(rate).await),
                Some(rate) => {
                    let at = {
                        let mut next = lock(&self.overall_next);
                        let now = Instant::now();
                        let at = next.map_or(now, |n| n.max(now));
                        *next = Some(later(at, spacing(rate)));
                        at
                    };
                    sleep_until(at).await;
                    None
                }
            };
            // An account-wide retry-after may have arrived while this send waited for its place.
            let paused = *lock(&self.paused_until);
            if paused.is_none_or(|u| u <= Instant::now()) {
                return Ok(permit);
            }
            if let Some(permit) = permit {
                permit.unused();
            }
        }
    }

    fn pause_account(&self, retry_after: Duration) {
        let until = later(Instant::now(), retry_after);
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// Runs `op` (one request to `chat`) in the chat's slot: after the chat's pause and limits
    /// and the account's pause and limit, one at a time per chat, in call order.
    async fn limited<T, F, Fut>(&self, chat: &ChatId, op: F) -> Result<T>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let key = self.inner.canonical_chat(chat);
        let rates = self.chat_rates(chat);
        let slot = self.slot(&key);
        // Fair (FIFO) and held until the platform answered: one send per chat at a time, in
        // call order.
        let mut state = slot.state.lock().await;
        if let Some(until) = state.paused_until {
            self.wait_pause(until, RateScope::Chat).await?;
        }
        if let Some(at) = state.ready_at(&rates) {
            sleep_until(at).await;
        }
        let permit = self.wait_account().await?;
        state.started(Instant::now(), &rates);
        let result = op().await;
        drop(permit);
        state.answered(Instant::now(), &rates);
        if let Err(err) = &result
            && err.kind() == ErrorKind::RateLimited
            && let Some(retry_after) = err.retry_after()
        {
            let scope = err.rate_scope();
            debug!(
                platform = %self.inner.platform(),
                scope = %scope,
                retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                "platform asked to slow down; pausing"
            );
            match scope {
                RateScope::Account => self.pause_account(retry_after),
                // `Chat`, and any scope added later: the narrowest pause.
                _ => {
                    let until = later(Instant::now(), retry_after);
                    if state.paused_until.is_none_or(|p| p < until) {
                        state.paused_until = Some(until);
                    }
                }
            }
        }
        result
    }
}

impl<M: fmt::Debug> fmt::Debug for RateLimited<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("inner", &self.inner)
            .field("limits", &self.limits)
            .field("max_pause", &self.max_pause)
            .field("tracked_chats", &lock(&self.chats).map.len())
            .finish()
    }
}

impl<M: Messenger> Wrapper for RateLimited<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

#[async_trait]
impl<M: Messenger> Messenger for RateLimited<M> {
    // `send` is the trait's own: the planner over this layer's `send_part`, so every part of a
    // split message takes its slot.
    crate::forward_messenger!(except [send_part, send, send_template, edit_text]);

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.limited(chat, || self.inner.send_part(chat, part))
            .await
    }

    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        self.limited(chat, || self.inner.send_template(chat, template))
            .await
    }

    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        self.limited(chat, || self.inner.edit_text(chat, message, text))
            .await
    }
}
