//! The long-poll driver every polling connector uses (Telegram `getUpdates`, MAX `/updates`,
//! VK Bots Long Poll): a [`PollSource`] says how to make one call to its platform; [`drive`]
//! turns it into an [`EventStream`] that survives network errors, honours retry-after within a
//! cap, reports the account's health, and never loses or repeats an update across a reconnect.
//!
//! # Cursors and delivery semantics
//!
//! A source's [`fetch`](PollSource::fetch) takes the cursor of the last confirmed batch
//! (Telegram's `offset`, MAX's `marker`, VK's `ts`) and returns a [`PollBatch`]: the events and
//! the cursor that confirms them. The driver is lazy: it calls `fetch` again (which confirms
//! the previous batch to the platform) only inside the consumer's `next()`, once every event of
//! the previous batch was taken, and it hands the new cursor to
//! [`commit`](PollSource::commit) (to persist it) just before. So:
//!
//! - within one stream, every update is yielded exactly once, across any number of network
//!   errors, 5xx answers and rate limits (a failed call is retried with the same cursor);
//! - across streams or processes, delivery is at least once: at most the batch in the
//!   consumer's hands when it stopped comes again. [`Deduplicated`](crate::layers::Deduplicated)
//!   absorbs it.
//!
//! A batch without a cursor ([`PollBatch::next`] `None`) keeps the previous one: a platform
//! answer without a marker never rewinds the stream (the MAX Go client duplicated updates
//! there).
//!
//! # Failures
//!
//! Errors that say [`is_retryable`](crate::Error::is_retryable) (transport, 5xx, rate limits,
//! a garbled answer the source marked retryable) are retried after
//! [`Backoff::delay_for`], never longer than [`PollOptions::max_wait`]: a platform that asks
//! for an hour's pause is asked again after the cap, rather than silencing intake for an hour.
//! The stream reports the account's health on every change (`unavailable` or `rate_limited`
//! when calls start failing, `connected` when they work again). Any other error is yielded once
//! as `Err`, and the stream ends.
//!
//! ```
//! use async_trait::async_trait;
//! use futures::StreamExt;
//! use messenger_core::poll::{drive, PollBatch, PollOptions, PollSource};
//! use messenger_core::{InboundEvent, OtherEvent, Platform, Result};
//!
//! /// A platform that returns one update per call, numbered by its cursor.
//! struct Counter;
//!
//! #[async_trait]
//! impl PollSource for Counter {
//!     type Cursor = u64;
//!     async fn fetch(&mut self, cursor: Option<&u64>) -> Result<PollBatch<u64>> {
//!         let n = cursor.copied().unwrap_or(0);
//!         let event = InboundEvent::Other(OtherEvent::new(Platform::Telegram, format!("update-{n}")));
//!         Ok(PollBatch { events: vec![event], next: Some(n + 1) })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let stream = drive(Counter, Some(5), PollOptions::new(Platform::Telegram));
//! let kinds: Vec<String> = stream
//!     .take(2)
//!     .map(|e| match e.unwrap() { InboundEvent::Other(o) => o.kind, _ => unreachable!() })
//!     .collect()
//!     .await;
//! assert_eq!(kinds, ["update-5", "update-6"]);
//! # });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::error::{ErrorKind, Result};
use crate::messenger::EventStream;
use crate::model::{AccountEvent, AccountHealth, InboundEvent, Platform};

/// One platform's long-poll call; see the [module docs](self).
#[async_trait]
pub trait PollSource: Send + 'static {
    /// The position in the platform's update queue (an offset, a marker, a `ts`).
    type Cursor: Clone + Send + Sync + fmt::Debug + 'static;

    /// One call to the platform, from `cursor` (`None`: wherever the platform starts).
    ///
    /// Transient failures are returned as retryable errors; the driver retries them with the
    /// same cursor. A source with state of its own (VK's server key) refreshes it here.
    async fn fetch(&mut self, cursor: Option<&Self::Cursor>) -> Result<PollBatch<Self::Cursor>>;

    /// Called with the new cursor once the consumer took every event of the batch it
    /// confirms, before the next [`fetch`](Self::fetch): the place to persist it. An error
    /// ends the stream. Does nothing by default.
    async fn commit(&mut self, cursor: &Self::Cursor) -> Result<()> {
        let _ = cursor;
        Ok(())
    }
}

/// What one long-poll call returned.
#[derive(Debug, Clone)]
pub struct PollBatch<C> {
    /// The events, in the platform's order.
    pub events: Vec<InboundEvent>,
    /// The cursor that confirms them; `None` keeps the previous one.
    pub next: Option<C>,
}

impl<C> PollBatch<C> {
    /// A batch with no events that keeps the cursor.
    pub fn empty() -> Self {
        Self {
            events: Vec::new(),
            next: None,
        }
    }
}

/// How [`drive`] retries and paces a [`PollSource`].
///
/// ```
/// use std::time::Duration;
/// use messenger_core::poll::PollOptions;
/// use messenger_core::Platform;
/// let options = PollOptions::new(Platform::Max)
///     .max_wait(Duration::from_secs(30))
///     .min_interval(Some(Duration::from_millis(34)));
/// assert_eq!(options.max_wait, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PollOptions {
    /// The platform, for health events and logs.
    pub platform: Platform,
    /// The backoff after failed calls.
    pub backoff: Backoff,
    /// The longest the driver waits before calling again, whatever the platform asked
    /// (default 60 s).
    pub max_wait: Duration,
    /// The shortest time between the starts of two calls (a platform's documented request
    /// rate); `None` (the default) calls again at once.
    pub min_interval: Option<Duration>,
}

impl PollOptions {
    /// The defaults: [`Backoff::default`], a 60 s cap on any wait, no pacing.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            backoff: Backoff::default(),
            max_wait: Duration::from_secs(60),
            min_interval: None,
        }
    }

    /// Sets the backoff after failed calls.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the cap on any wait between two calls.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets the shortest time between the starts of two calls.
    pub fn min_interval(mut self, min_interval: Option<Duration>) -> Self {
        self.min_interval = min_interval;
        self
    }
}

struct Driver<S: PollSource> {
    source: S,
    cursor: Option<S::Cursor>,
    /// A cursor the consumer has taken every event of, not yet handed to `commit`.
    uncommitted: bool,
    options: PollOptions,
    pending: VecDeque<InboundEvent>,
    health: AccountHealth,
    failures: u32,
    wait: Option<Duration>,
    last_call: Option<Instant>,
    done: bool,
}

fn health_event(platform: Platform, health: AccountHealth) -> InboundEvent {
    InboundEvent::Account(AccountEvent {
        platform,
        health,
        timestamp: Utc::now(),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Long-polls `source` from `cursor` as a stream of events; see the [module docs](self).
pub fn drive<S: PollSource>(
    source: S,
    cursor: Option<S::Cursor>,
    options: PollOptions,
) -> EventStream {
    let driver = Driver {
        source,
        cursor,
        uncommitted: false,
        options,
        pending: VecDeque::new(),
        health: AccountHealth::Connected,
        failures: 0,
        wait: None,
        last_call: None,
        done: false,
    };
    Box::pin(futures::stream::unfold(driver, next))
}

async fn next<S: PollSource>(mut d: Driver<S>) -> Option<(Result<InboundEvent>, Driver<S>)> {
    let platform = d.options.platform;
    loop {
        if let Some(event) = d.pending.pop_front() {
            return Some((Ok(event), d));
        }
        if d.done {
            return None;
        }
        // The consumer took the whole batch: its cursor may be persisted now.
        if d.uncommitted {
            if let Some(cursor) = d.cursor.clone()
                && let Err(err) = d.source.commit(&cursor).await
            {
                warn!(platform = %platform, kind = %err.kind(), "could not persist the poll cursor; polling stopped");
                d.done = true;
                return Some((Err(err), d));
            }
            d.uncommitted = false;
        }
        if let Some(delay) = d.wait.take() {
            tokio::time::sleep(delay).await;
        }
        if let (Some(interval), Some(last)) = (d.options.min_interval, d.last_call) {
            tokio::time::sleep_until(last + interval).await;
        }
        d.last_call = Some(Instant::now());
        match d.source.fetch(d.cursor.as_ref()).await {
            Ok(batch) => {
                d.failures = 0;
                if d.health != AccountHealth::Connected {
                    info!(platform = %platform, "polling recovered");
                    d.health = AccountHealth::Connected;
                    d.pending
                        .push_back(health_event(platform, AccountHealth::Connected));
                }
                debug!(
                    platform = %platform,
                    events = batch.events.len(),
                    next = ?batch.next,
                    "poll batch"
                );
                if let Some(next) = batch.next {
                    d.cursor = Some(next);
                    d.uncommitted = true;
                }
                d.pending.extend(batch.events);
            }
            Err(err) if err.is_retryable() => {
                let health = if err.kind() == ErrorKind::RateLimited {
                    AccountHealth::RateLimited
                } else {
                    AccountHealth::Unavailable
                };
                let asked = d.options.backoff.delay_for(d.failures, err.retry_after());
                let delay = asked.min(d.options.max_wait);
                d.failures = d.failures.saturating_add(1);
                warn!(
                    platform = %platform,
                    kind = %err.kind(),
                    error = %err,
                    failures = d.failures,
                    delay_ms = millis(delay),
                    asked_ms = millis(asked),
                    "poll call failed; retrying"
                );
                if health != d.health {
                    d.health = health;
                    d.pending.push_back(health_event(platform, health));
                }
                d.wait = Some(delay);
            }
            Err(err) => {
                warn!(platform = %platform, kind = %err.kind(), error = %err, "polling stopped");
                d.done = true;
                return Some((Err(err), d));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;

    use super::*;
    use crate::error::Error;
    use crate::model::OtherEvent;

    /// Answers from a script; records the cursors it was called with and the commits.
    struct Script {
        answers: VecDeque<Result<PollBatch<u64>>>,
        calls: Arc<Mutex<Vec<Option<u64>>>>,
        commits: Arc<Mutex<Vec<u64>>>,
    }

    #[async_trait]
    impl PollSource for Script {
        type Cursor = u64;
        async fn fetch(&mut self, cursor: Option<&u64>) -> Result<PollBatch<u64>> {
            self.calls.lock().unwrap().push(cursor.copied());
            self.answers
                .pop_front()
                .unwrap_or_else(|| Err(Error::invalid_input("script exhausted")))
        }
        async fn commit(&mut self, cursor: &u64) -> Result<()> {
            self.commits.lock().unwrap().push(*cursor);
            Ok(())
        }
    }

    fn ev(n: u64) -> InboundEvent {
        InboundEvent::Other(OtherEvent::new(Platform::Max, n.to_string()))
    }

    fn batch(events: &[u64], next: Option<u64>) -> Result<PollBatch<u64>> {
        Ok(PollBatch {
            events: events.iter().copied().map(ev).collect(),
            next,
        })
    }

    /// The cursors each call was made with.
    type Calls = Arc<Mutex<Vec<Option<u64>>>>;
    /// The cursors confirmed.
    type Commits = Arc<Mutex<Vec<u64>>>;

    fn script(answers: Vec<Result<PollBatch<u64>>>) -> (Script, Calls, Commits) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let commits = Arc::new(Mutex::new(Vec::new()));
        (
            Script {
                answers: answers.into(),
                calls: calls.clone(),
                commits: commits.clone(),
            },
            calls,
            commits,
        )
    }

    fn kind(e: &InboundEvent) -> String {
        match e {
            InboundEvent::Other(o) => o.kind.clone(),
            InboundEvent::Account(a) => format!("{:?}", a.health),
            _ => "?".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_cursor_keeps_the_previous_one_and_errors_retry_with_it() {
        let (source, calls, commits) = script(vec![
            batch(&[1, 2], Some(3)),
            batch(&[], None),
            Err(Error::transport("reset")),
            batch(&[3], Some(4)),
        ]);
        let options = PollOptions::new(Platform::Max).backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(10),
        ));
        let mut stream = drive(source, Some(1), options);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(kind(&stream.next().await.unwrap().unwrap()));
        }
        assert_eq!(seen, ["1", "2", "Unavailable", "Connected", "3"]);
        assert_eq!(*calls.lock().unwrap(), [Some(1), Some(3), Some(3), Some(3)]);
        // The last stream item ends the script: the error is fatal.
        assert!(stream.next().await.unwrap().is_err());
        assert!(stream.next().await.is_none());
        assert_eq!(*commits.lock().unwrap(), [3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_call_waits_for_the_consumer() {
        let (source, calls, commits) = script(vec![batch(&[1, 2], Some(3)), batch(&[3], Some(4))]);
        let mut stream = drive(source, None, PollOptions::new(Platform::Vk));
        stream.next().await.unwrap().unwrap();
        // One event of the batch is still in the stream: nothing confirmed, nothing persisted.
        assert_eq!(calls.lock().unwrap().len(), 1);
        assert!(commits.lock().unwrap().is_empty());
        stream.next().await.unwrap().unwrap();
        assert_eq!(calls.lock().unwrap().len(), 1);
        stream.next().await.unwrap().unwrap();
        assert_eq!(*calls.lock().unwrap(), [None, Some(3)]);
        assert_eq!(*commits.lock().unwrap(), [3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_retry_after_is_capped() {
        let (source, _calls, _) = script(vec![
            Err(Error::rate_limited(Some(Duration::from_secs(3600)))),
            batch(&[7], Some(8)),
        ]);
        let options = PollOptions::new(Platform::Telegram).max_wait(Duration::from_secs(5));
        let mut stream = drive(source, None, options);
        let started = Instant::now();
        assert_eq!(kind(&stream.next().await.unwrap().unwrap()), "RateLimited");
        assert_eq!(kind(&stream.next().await.unwrap().unwrap()), "Connected");
        assert_eq!(kind(&stream.next().await.unwrap().unwrap()), "7");
        // Paused time: the wait is exactly the cap, not the hour asked for.
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_paced_at_the_minimum_interval() {
        let (source, _calls, _) = script(vec![
            batch(&[1], Some(2)),
            batch(&[2], Some(3)),
            batch(&[3], Some(4)),
        ]);
        let options =
            PollOptions::new(Platform::Max).min_interval(Some(Duration::from_millis(100)));
        let mut stream = drive(source, None, options);
        let started = Instant::now();
        for _ in 0..3 {
            stream.next().await.unwrap().unwrap();
        }
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_ends_the_stream() {
        let (source, calls, _) =
            script(vec![Err(Error::new(ErrorKind::Unauthorized, "bad token"))]);
        let mut stream = drive(source, None, PollOptions::new(Platform::Telegram));
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(stream.next().await.is_none());
        assert_eq!(calls.lock().unwrap().len(), 1);
    }
}
