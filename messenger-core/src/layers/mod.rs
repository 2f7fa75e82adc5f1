//! Behaviour that is the same on every platform, as wrappers that are `Messenger`s themselves.
//!
//! Each layer wraps any [`Messenger`] and is one, so the result still fits in a
//! `Vec<Arc<dyn Messenger>>`:
//!
//! - [`RateLimited`]: keeps sends within the platform's documented limits (overall, per chat, per
//!   group), each as the platform counts it (a pace, or a quota over a window), keeps per-chat
//!   order, and honours the platform's retry-after for the chat (or the account) it concerns, up
//!   to a cap ([`rate_limit`]).
//! - [`Retrying`]: retries retryable failures with exponential backoff and jitter; a send that
//!   may have gone out is retried only where the platform drops repeats of its idempotency key
//!   ([`RetryPolicy::platform_deduplicates`]).
//! - [`Gated`]: refuses to act while the module is inactive, the platform suspended or the
//!   contact opted out, and adds the first-contact opt-out notice ([`gate`]).
//! - [`Deduplicated`]: drops inbound events (webhook and long poll) already handed out
//!   ([`SeenEvents`], [`MemorySeenEvents`]).
//!
//! Every layer forwards each [`Messenger`] method it does not change to the messenger it wraps,
//! through one mechanism ([`Wrapper`] and [`forward_messenger!`](crate::forward_messenger)), and
//! lists only what it overrides; `messenger-core/tests/forwarding.rs` checks every method through
//! every layer.
//!
//! # Stack the layers with [`Stack`]
//!
//! [`Stack`] builds the one safe order, outermost first:
//! `Deduplicated<Gated<Retrying<RateLimited<Connector>>>>` ([`Stacked`]).
//!
//! - De-duplication is outermost on intake, so an event is marked seen only after every inner
//!   layer handled it: a delivery the gate failed (and the platform sends again) is not dropped
//!   as a repeat the second time. It hands `send` to the gate whole.
//! - The gate sees the whole message before it is planned, so the first-contact notice is added
//!   (and split with the text), and it refuses a send before anything below it: no retry, no
//!   wait, no request. A rate limiter or a retry layer outside the gate would plan the message
//!   itself and send the parts past the gate's `send`, losing the notice.
//! - Retrying is outside the rate limiter, so that every retry waits for its slot again and a
//!   platform's retry-after seen by the limiter holds back the retry too.
//!
//! ```no_run
//! # async fn run(connector: impl messenger_core::Messenger + 'static) -> messenger_core::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use messenger_core::consent::Consent;
//! use messenger_core::layers::{RetryPolicy, Stack};
//! use messenger_core::{AccountId, Messenger, OutgoingMessage};
//!
//! let consent = Arc::new(Consent::builder().build());
//! let account: Arc<dyn Messenger> = Arc::new(
//!     Stack::new(connector, AccountId::new("shop-17"), consent)
//!         .retry_policy(RetryPolicy::default().max_attempts(5))
//!         .max_pause(Duration::from_secs(30))
//!         .build(),
//! );
//! account
//!     .send(&OutgoingMessage::text("123456789", "Your order has shipped").idempotency_key("order-17"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The layers' own constructors ([`RateLimited::new`], [`Retrying::new`], [`Gated::new`],
//! [`Deduplicated::new`]) stay for advanced use (a layer of your own in the stack, a layer
//! alone in a test). Whoever stacks them by hand keeps the order above; a layer of your own
//! that wraps the gate must pass `send` through to it (as [`forward_messenger!`](crate::forward_messenger)
//! does unless told otherwise).

pub mod dedup;
pub mod forward;
pub mod gate;
pub mod rate_limit;
pub mod retry;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use dedup::{Deduplicated, MemorySeenEvents, SeenEvents};
pub use forward::Wrapper;
pub use gate::Gated;
pub use rate_limit::{RateLimited, RateLimitedBuilder};
pub use retry::{RetryPolicy, Retrying};

use crate::capabilities::{Rate, RateLimits};
use crate::consent::Consent;
use crate::messenger::Messenger;
use crate::model::AccountId;

/// The layers in the one safe order, as [`Stack::build`] returns them.
pub type Stacked<C> = Deduplicated<Gated<Retrying<RateLimited<C>>>>;

/// Builds the layers around a connector in the one safe order:
/// `Deduplicated<Gated<Retrying<RateLimited<C>>>>` (see the [module docs](self) for why).
///
/// Defaults: the platform's documented rate limits, [`RateLimited::DEFAULT_MAX_PAUSE`],
/// [`RetryPolicy::default`], a [`MemorySeenEvents`] of the default capacity, and seen-event keys
/// scoped by the account id (so one store can serve several accounts).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use messenger_core::capabilities::Rate;
/// use messenger_core::consent::Consent;
/// use messenger_core::layers::{MemorySeenEvents, RetryPolicy, Stack};
/// use messenger_core::plan::Part;
/// use messenger_core::{
///     AccountId, AccountInfo, ByteStream, Capabilities, ChatId, ErrorKind, MediaRef, Messenger,
///     OutgoingMessage, Platform, Result, SentPart,
/// };
///
/// # #[derive(Debug)] struct Connector(Capabilities);
/// # #[async_trait]
/// # impl Messenger for Connector {
/// #     fn platform(&self) -> Platform { Platform::Telegram }
/// #     fn capabilities(&self) -> &Capabilities { &self.0 }
/// #     async fn connect(&self) -> Result<AccountInfo> { unimplemented!() }
/// #     async fn send_part(&self, _: &ChatId, _: &Part) -> Result<SentPart> { unimplemented!() }
/// #     async fn download(&self, _: &MediaRef) -> Result<ByteStream> { unimplemented!() }
/// # }
/// let connector = Connector(Capabilities::of(Platform::Telegram));
/// let consent = Arc::new(Consent::builder().build());
/// let bot = Stack::new(connector, AccountId::new("shop-17"), consent)
///     .retry_policy(RetryPolicy::default().max_attempts(3))
///     .per_chat(Some(Rate::per_second(1)))
///     .max_pause(Duration::from_secs(30))
///     .seen_events(Arc::new(MemorySeenEvents::new(10_000)))
///     .build();
/// // The gate is in the stack: the module was never activated, nothing leaves.
/// let err = bot.send(&OutgoingMessage::text("42", "Hello")).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ModuleInactive);
/// # });
/// ```
#[must_use]
pub struct Stack<C> {
    connector: C,
    account: AccountId,
    consent: Arc<Consent>,
    retry: RetryPolicy,
    limits: Option<RateLimits>,
    overall: Option<Option<Rate>>,
    per_chat: Option<Option<Rate>>,
    per_group: Option<Option<Rate>>,
    max_pause: Duration,
    seen: Option<Arc<dyn SeenEvents>>,
    scope: Option<String>,
}

impl<C: Messenger + 'static> Stack<C> {
    /// Starts a stack around `connector`, the connected account `account`, under the rules of
    /// `consent` (shared by every account of the CRM).
    pub fn new(connector: C, account: impl Into<AccountId>, consent: Arc<Consent>) -> Self {
        Self {
            connector,
            account: account.into(),
            consent,
            retry: RetryPolicy::default(),
            limits: None,
            overall: None,
            per_chat: None,
            per_group: None,
            max_pause: RateLimited::<C>::DEFAULT_MAX_PAUSE,
            seen: None,
            scope: None,
        }
    }

    /// How [`Retrying`] retries (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// All three rate limits at once, instead of the platform's documented ones.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The limit across all chats of the account (`None` switches it off).
    pub fn overall(mut self, rate: Option<Rate>) -> Self {
        self.overall = Some(rate);
        self
    }

    /// The limit within any one chat, groups included (`None` switches it off).
    pub fn per_chat(mut self, rate: Option<Rate>) -> Self {
        self.per_chat = Some(rate);
        self
    }

    /// The limit within one group chat, in addition to the per-chat one (`None`: only the
    /// per-chat limit applies in groups).
    pub fn per_group(mut self, rate: Option<Rate>) -> Self {
        self.per_group = Some(rate);
        self
    }

    /// The longest a send waits for a pause the platform asked for; see
    /// [`RateLimitedBuilder::max_pause`].
    pub fn max_pause(mut self, max_pause: Duration) -> Self {
        self.max_pause = max_pause;
        self
    }

    /// Where seen inbound events are remembered (default: a [`MemorySeenEvents`] of its own).
    pub fn seen_events(mut self, store: Arc<dyn SeenEvents>) -> Self {
        self.seen = Some(store);
        self
    }

    /// The prefix of seen-event keys (default: the account id).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The stack: `Deduplicated<Gated<Retrying<RateLimited<C>>>>`.
    pub fn build(self) -> Stacked<C> {
        let mut limited = RateLimited::builder(self.connector).max_pause(self.max_pause);
        if let Some(limits) = self.limits {
            limited = limited.limits(limits);
        }
        if let Some(rate) = self.overall {
            limited = limited.overall(rate);
        }
        if let Some(rate) = self.per_chat {
            limited = limited.per_chat(rate);
        }
        if let Some(rate) = self.per_group {
            limited = limited.per_group(rate);
        }
        let retrying = Retrying::new(limited.build(), self.retry);
        let scope = self
            .scope
            .unwrap_or_else(|| self.account.as_str().to_owned());
        let gated = Gated::new(retrying, self.account, self.consent);
        let seen = self
            .seen
            .unwrap_or_else(|| Arc::new(MemorySeenEvents::default()));
        Deduplicated::with_store(gated, seen).scope(scope)
    }
}

impl<C> fmt::Debug for Stack<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("connector", &std::any::type_name::<C>())
            .field("account", &self.account)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
            .field("max_pause", &self.max_pause)
            .finish_non_exhaustive()
    }
}
