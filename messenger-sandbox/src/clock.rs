//! The sandbox clock (wall clock plus an offset the control API can advance) and the token
//! buckets and sliding windows that emulate the platforms' rate limits on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The sandbox's notion of now: the wall clock plus an offset moved by
/// [`Sandbox::advance_clock`](crate::Sandbox::advance_clock).
#[derive(Debug)]
pub(crate) struct Clock {
    start_wall_ms: i64,
    start: Instant,
    offset_ms: AtomicI64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            start_wall_ms: Utc::now().timestamp_millis(),
            start: Instant::now(),
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Milliseconds since the Unix epoch, sandbox time.
    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX / 2);
        self.start_wall_ms + elapsed + self.offset_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub(crate) fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// Milliseconds since the epoch as a UTC date-time.
pub(crate) fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// How a [`RateLimit`] counts requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// A token bucket: `burst` requests at once, then their allowances come back one every
    /// `per`, at a steady pace (a platform's "N per second" with some tolerance for bursts).
    #[default]
    Bucket,
    /// A sliding window: at most `burst` requests in any window of `per`; each request's
    /// allowance comes back `per` after it (a platform's "no more than N per minute").
    Window,
}

/// A documented rate limit, emulated on the sandbox clock as a token bucket or as a sliding
/// window ([`LimitKind`]).
///
/// ```
/// use std::time::Duration;
/// use messenger_sandbox::{LimitKind, RateLimit};
/// // Telegram's 1 message per second per chat, tolerating a burst of 5.
/// let limit = RateLimit::new(5, Duration::from_secs(1));
/// assert_eq!((limit.burst, limit.kind), (5, LimitKind::Bucket));
/// // Telegram's 20 messages per minute per group.
/// let group = RateLimit::quota(20, Duration::from_secs(60));
/// assert_eq!((group.burst, group.kind), (20, LimitKind::Window));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed at once (the bucket's capacity, or the window's count), at least 1.
    pub burst: u32,
    /// A bucket: the time one request's allowance takes to come back. A window: its length.
    #[serde(with = "duration_ms")]
    pub per: Duration,
    /// How requests are counted (`bucket` when absent).
    #[serde(default)]
    pub kind: LimitKind,
}

impl RateLimit {
    /// A token bucket: `burst` at once, then one every `per`.
    pub fn new(burst: u32, per: Duration) -> Self {
        Self {
            burst,
            per,
            kind: LimitKind::Bucket,
        }
    }

    /// A sliding window: at most `count` requests in any window of `window`.
    pub fn quota(count: u32, window: Duration) -> Self {
        Self {
            burst: count,
            per: window,
            kind: LimitKind::Window,
        }
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// A rate limit's state on the sandbox clock: a token bucket or a sliding-window log.
#[derive(Debug, Clone)]
pub(crate) enum Limiter {
    Bucket {
        capacity: f64,
        tokens: f64,
        per_ms: f64,
        last_ms: i64,
    },
    Window {
        count: usize,
        window_ms: i64,
        /// When each request still in the window was taken, oldest first.
        taken: VecDeque<i64>,
    },
}

/// The name the emulators know the limiter by.
pub(crate) type TokenBucket = Limiter;

impl Limiter {
    pub(crate) fn new(limit: RateLimit, now_ms: i64) -> Self {
        match limit.kind {
            LimitKind::Bucket => {
                let capacity = f64::from(limit.burst.max(1));
                Self::Bucket {
                    capacity,
                    tokens: capacity,
                    per_ms: (limit.per.as_secs_f64() * 1000.0).max(0.001),
                    last_ms: now_ms,
                }
            }
            LimitKind::Window => Self::Window {
                count: usize::try_from(limit.burst.max(1)).unwrap_or(usize::MAX),
                window_ms: i64::try_from(limit.per.as_millis()).unwrap_or(i64::MAX / 4),
                taken: VecDeque::new(),
            },
        }
    }

    /// Brings the state to `now_ms`: refills a bucket, forgets what left a window.
    fn refresh(&mut self, now_ms: i64) {
        match self {
            Self::Bucket {
                capacity,
                tokens,
                per_ms,
                last_ms,
            } => {
                if now_ms > *last_ms {
                    #[allow(clippy::cast_precision_loss)]
                    let gained = (now_ms - *last_ms) as f64 / *per_ms;
                    *tokens = (*tokens + gained).min(*capacity);
                    *last_ms = now_ms;
                }
            }
            Self::Window {
                window_ms, taken, ..
            } => {
                while taken
                    .front()
                    .is_some_and(|at| at.saturating_add(*window_ms) <= now_ms)
                {
                    taken.pop_front();
                }
            }
        }
    }

    /// Whether a request may pass now, without taking its allowance; else how long until it
    /// may (at least 1 ms).
    pub(crate) fn check(&mut self, now_ms: i64) -> Result<(), Duration> {
        self.refresh(now_ms);
        match self {
            Self::Bucket { tokens, per_ms, .. } => {
                if *tokens >= 1.0 {
                    Ok(())
                } else {
                    let wait_ms = ((1.0 - *tokens) * *per_ms).ceil();
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Err(Duration::from_millis(wait_ms.max(1.0) as u64))
                }
            }
            Self::Window {
                count,
                window_ms,
                taken,
            } => {
                if taken.len() < *count {
                    return Ok(());
                }
                // The request that brings the window down to `count - 1` when it leaves.
                let oldest = taken[taken.len() - *count];
                let wait_ms = oldest.saturating_add(*window_ms) - now_ms;
                Err(Duration::from_millis(
                    u64::try_from(wait_ms.max(1)).unwrap_or(1),
                ))
            }
        }
    }

    /// Takes a request's allowance (call after a successful [`check`](Self::check)).
    pub(crate) fn take(&mut self, now_ms: i64) {
        self.refresh(now_ms);
        match self {
            Self::Bucket { tokens, .. } => *tokens -= 1.0,
            Self::Window { taken, .. } => taken.push_back(now_ms),
        }
    }
}

/// Whole seconds to wait, at least 1 (Telegram's `retry_after`).
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let mut b = TokenBucket::new(RateLimit::new(2, Duration::from_secs(1)), 0);
        for _ in 0..2 {
            assert!(b.check(0).is_ok());
            b.take(0);
        }
        let wait = b.check(0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(b.check(1000).is_ok());
    }

    #[test]
    fn a_window_allows_its_count_at_once_then_waits_for_the_oldest_to_leave() {
        let mut w = Limiter::new(RateLimit::quota(3, Duration::from_secs(60)), 0);
        for at in [0, 10_000, 20_000] {
            assert!(w.check(at).is_ok());
            w.take(at);
        }
        assert_eq!(w.check(30_000).unwrap_err(), Duration::from_secs(30));
        assert_eq!(w.check(59_999).unwrap_err(), Duration::from_millis(1));
        // The first left at 60 s: one more, and then the second must leave.
        assert!(w.check(60_000).is_ok());
        w.take(60_000);
        assert_eq!(w.check(60_000).unwrap_err(), Duration::from_secs(10));
    }

    #[test]
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
