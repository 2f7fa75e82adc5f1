//! Exponential backoff with jitter: the one backoff every retry loop and poll loop uses.

use std::time::Duration;

/// Exponential backoff with full jitter, capped.
///
/// Delay for attempt `n` (0-based) is a random value in `[base * 2^n / 2, base * 2^n]`, at most
/// `max`. A platform's retry-after, where given, always wins over the computed delay
/// ([`Backoff::delay_for`]).
///
/// ```
/// use std::time::Duration;
/// use messenger_core::backoff::Backoff;
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// for attempt in 0..10 {
///     let d = b.delay(attempt);
///     assert!(d <= Duration::from_secs(5));
///     assert!(d >= Duration::from_millis(50).min(Duration::from_secs(5)));
/// }
/// // The platform's word wins:
/// assert_eq!(b.delay_for(3, Some(Duration::from_secs(7))), Duration::from_secs(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 500 ms doubling up to 30 s.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// A backoff starting at `base`, capped at `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The delay before retry number `attempt` (0-based), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(20));
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half);
        let jitter = spread.mul_f64(fastrand::f64());
        (half + jitter).min(self.max)
    }

    /// The delay before retry `attempt`, or the platform's `retry_after` where it gave one.
    pub fn delay_for(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.delay(attempt))
    }
}
