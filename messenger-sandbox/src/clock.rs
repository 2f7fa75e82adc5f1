//! The sandbox clock (wall clock plus an offset the control API can advance) and the token
//! buckets that emulate the platforms' rate limits on it.

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

/// A documented rate limit, emulated as a token bucket: `burst` requests at once, then one
/// more every `per`.
///
/// ```
/// use std::time::Duration;
/// use messenger_sandbox::RateLimit;
/// // Telegram's 1 message per second per chat, tolerating a burst of 5.
/// let limit = RateLimit::new(5, Duration::from_secs(1));
/// assert_eq!(limit.burst, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed at once (the bucket's capacity), at least 1.
    pub burst: u32,
    /// The time one request's allowance takes to come back.
    #[serde(with = "duration_ms")]
    pub per: Duration,
}

impl RateLimit {
    /// `burst` at once, then one every `per`.
    pub fn new(burst: u32, per: Duration) -> Self {
        Self { burst, per }
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

/// A token bucket on the sandbox clock.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last_ms: i64,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit, now_ms: i64) -> Self {
        let capacity = f64::from(limit.burst.max(1));
        Self {
            capacity,
            tokens: capacity,
            per_ms: (limit.per.as_secs_f64() * 1000.0).max(0.001),
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: i64) {
        if now_ms > self.last_ms {
            #[allow(clippy::cast_precision_loss)]
            let gained = (now_ms - self.last_ms) as f64 / self.per_ms;
            self.tokens = (self.tokens + gained).min(self.capacity);
            self.last_ms = now_ms;
        }
    }

    /// Whether a request may pass now, without taking a token.
    pub(crate) fn check(&mut self, now_ms: i64) -> Result<(), Duration> {
        self.refill(now_ms);
        if self.tokens >= 1.0 {
            Ok(())
        } else {
            let wait_ms = ((1.0 - self.tokens) * self.per_ms).ceil();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err(Duration::from_millis(wait_ms.max(1.0) as u64))
        }
    }

    /// Takes a token (call after a successful [`check`](Self::check)).
    pub(crate) fn take(&mut self, now_ms: i64) {
        self.refill(now_ms);
        self.tokens -= 1.0;
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
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
