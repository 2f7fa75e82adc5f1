//! Behaviour that is the same on every platform, as wrappers that are `Messenger`s themselves.
//!
//! Each layer wraps any [`Messenger`] and is one, so layers stack and the result still fits in a
//! `Vec<Arc<dyn Messenger>>`:
//!
//! - [`RateLimited`]: spaces sends to stay within the platform's documented limits (overall, per
//!   chat, per group), keeps per-chat order, and honours the platform's retry-after.
//! - [`Retrying`]: retries retryable failures with exponential backoff and jitter; a send that
//!   may have gone out is retried only under an idempotency key or where the platform
//!   de-duplicates ([`RetryPolicy`]).
//! - [`Deduplicated`]: drops inbound events (webhook and long poll) already handed out
//!   ([`SeenEvents`], [`MemorySeenEvents`]).
//! - [`Gated`]: refuses to act while the module is inactive, the platform suspended or the
//!   contact opted out ([`gate`]).
//!
//! Layers hook [`Messenger::send_part`], not [`Messenger::send`]: the provided `send` plans the
//! message once, at the outermost layer, then sends each part through the whole stack.
//!
//! # Order
//!
//! Recommended, outermost first:
//! `Gated<Deduplicated<Retrying<RateLimited<Connector>>>>`.
//!
//! - The gate refuses before anything else: no retry, no wait, no request.
//! - De-duplication sits outside retries, so nothing it filters is fetched twice by them.
//! - Retrying is outside the rate limiter, so that every retry waits for its slot again and a
//!   platform's retry-after seen by the limiter holds back the retry too.
//!
//! ```no_run
//! # async fn run(connector: impl messenger_core::Messenger + 'static) -> messenger_core::Result<()> {
//! use std::sync::Arc;
//! use messenger_core::layers::{MessengerExt, RetryPolicy};
//! use messenger_core::{Messenger, OutgoingMessage};
//!
//! // Deduplicated<Retrying<RateLimited<_>>>
//! let account: Arc<dyn Messenger> = Arc::new(
//!     connector
//!         .rate_limited()
//!         .retrying(RetryPolicy::default().max_attempts(5))
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
