//! Behaviour that is the same on every platform, as wrappers that are `Messenger`s themselves.
//!
//! Each layer wraps any [`Messenger`] and is one, so layers stack and the result still fits in a
//! `Vec<Arc<dyn Messenger>>`:
//!
//! - [`RateLimited`]: spaces sends to stay within the platform's documented limits (overall, per
//!   chat, per group), keeps per-chat order, and honours the platform's retry-after.
//! - [`Retrying`]: retries retryable failures with exponential backoff and jitter; a send that
//!   may have gone out is retried only where the platform drops repeats of its idempotency key
//!   ([`RetryPolicy::platform_deduplicates`]).
//! - [`Deduplicated`]: drops inbound events (webhook and long poll) already handed out
//!   ([`SeenEvents`], [`MemorySeenEvents`]).
//! - [`Gated`]: refuses to act while the module is inactive, the platform suspended or the
//!   contact opted out ([`gate`]).
//!
//! [`RateLimited`] and [`Retrying`] hook [`Messenger::send_part`]: the provided `send` plans the
//! message once, then sends each part through them. [`Gated`] overrides `send` (it adds the
//! first-contact notice before planning) and [`Deduplicated`] passes `send` through untouched, so
//! the notice is added wherever the gate sits below the dedup layer. A layer of your own that
//! wraps the gate must pass `send` through the same way.
//!
//! # Order
//!
//! Recommended, outermost first:
//! `Deduplicated<Gated<Retrying<RateLimited<Connector>>>>`.
//!
//! - De-duplication is outermost on intake, so an event is marked seen only after every inner
//!   layer handled it: a delivery the gate failed (and the platform sends again) is not dropped
//!   as a repeat the second time.
//! - The gate refuses a send before anything else below it: no retry, no wait, no request.
//! - Retrying is outside the rate limiter, so that every retry waits for its slot again and a
//!   platform's retry-after seen by the limiter holds back the retry too.
//!
//! ```no_run
//! # async fn run(connector: impl messenger_core::Messenger + 'static) -> messenger_core::Result<()> {
//! use std::sync::Arc;
//! use messenger_core::consent::Consent;
//! use messenger_core::layers::{MessengerExt, RetryPolicy};
//! use messenger_core::{AccountId, Messenger, OutgoingMessage};
//!
//! let consent = Arc::new(Consent::builder().build());
//! // Deduplicated<Gated<Retrying<RateLimited<_>>>>
//! let account: Arc<dyn Messenger> = Arc::new(
//!     connector
//!         .rate_limited()
//!         .retrying(RetryPolicy::default().max_attempts(5))
//!         .gated(AccountId::new("shop-17"), consent)
//!         .deduplicated(),
//! );
//! account
//!     .send(&OutgoingMessage::text("123456789", "Your order has shipped").idempotency_key("order-17"))
//!     .await?;
//! # Ok(()) }
//! ```

pub mod dedup;
pub mod gate;
pub mod rate_limit;
pub mod retry;

pub use dedup::{Deduplicated, MemorySeenEvents, SeenEvents};
pub use gate::Gated;
pub use rate_limit::{RateLimited, RateLimitedBuilder};
pub use retry::{RetryPolicy, Retrying};

use crate::messenger::Messenger;

/// Wraps any [`Messenger`] in a layer, method-chain style.
///
/// `connector.rate_limited().retrying(policy).deduplicated()` is
/// `Deduplicated::new(Retrying::new(RateLimited::new(connector), policy))`.
///
/// ```no_run
/// # fn run(connector: impl messenger_core::Messenger) {
/// use messenger_core::layers::{MessengerExt, RetryPolicy};
/// let m = connector.rate_limited().retrying(RetryPolicy::default());
/// # let _ = m; }
/// ```
pub trait MessengerExt: Messenger + Sized {
    /// Wraps in [`RateLimited`] with the platform's documented limits.
    fn rate_limited(self) -> RateLimited<Self> {
        RateLimited::new(self)
    }

    /// Wraps in [`Retrying`] under `policy`.
    fn retrying(self, policy: RetryPolicy) -> Retrying<Self> {
        Retrying::new(self, policy)
    }

    /// Wraps in [`Deduplicated`] with an in-memory store of the default capacity.
    fn deduplicated(self) -> Deduplicated<Self> {
        Deduplicated::new(self)
    }

    /// Wraps in [`Gated`]: nothing leaves while the module is inactive for `account`, the
    /// platform is suspended, or the contact opted out.
    fn gated(
        self,
        account: crate::model::AccountId,
        consent: std::sync::Arc<crate::consent::Consent>,
    ) -> Gated<Self> {
        Gated::new(self, account, consent)
    }
}

impl<M: Messenger> MessengerExt for M {}
