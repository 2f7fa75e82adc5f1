//! [`Retrying`]: retries of retryable failures with exponential backoff and jitter.
//!
//! What is retried: [`send_part`](Messenger::send_part) (so every part of a
//! [`send`](Messenger::send)), [`send_template`](Messenger::send_template),
//! [`edit_text`](Messenger::edit_text), [`delete_message`](Messenger::delete_message),
//! [`connect`](Messenger::connect) and [`download`](Messenger::download), and only on errors
//! that say [`is_retryable`](crate::Error::is_retryable) (rate limits, transport failures, 5xx).
//! Every other method is forwarded untouched.
//! The delay is [`Backoff::delay_for`]: the platform's retry-after where it gave one, the
//! jittered exponential backoff otherwise.
//!
//! A send that failed with [`Delivery::MaybeSent`] (the connection broke after the request went
//! out, or the platform answered 5xx) is retried only when a retry cannot produce a second
//! message: the connector forwards the part's idempotency key ([`Part::idempotency_key`]) to a
//! platform that drops repeats of it ([`RetryPolicy::platform_deduplicates`], e.g. VK's
//! `random_id`). A key alone is not enough: Telegram and WhatsApp accept no key and deliver a
//! resent message twice. Otherwise the error is returned as it is, `MaybeSent`, for the caller
//! to reconcile. A template carries no key, so a template that may have gone out is never
//! resent; an edit or a deletion is idempotent (doing it twice leaves the same result), so it
//! is retried whatever its delivery.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use tracing::{debug, warn};

use super::Wrapper;
use crate::backoff::Backoff;
use crate::error::{Delivery, Error, Result};
use crate::messenger::{Messenger, SentPart};
use crate::model::{AccountInfo, ByteStream, ChatId, MediaRef, MessageId, Template};
use crate::plan::Part;

/// How [`Retrying`] retries.
///
/// Defaults: 4 attempts in all, [`Backoff::default`] (500 ms doubling up to 30 s), the platform
/// is not assumed to de-duplicate, and a retry-after longer than 60 s is not waited out (the
/// error is returned instead, so that a send does not hang for an hour of flood control).
///
/// ```
/// use std::time::Duration;
/// use messenger_core::backoff::Backoff;
/// use messenger_core::layers::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .max_attempts(6)
///     .backoff(Backoff::new(Duration::from_millis(200), Duration::from_secs(10)))
///     .platform_deduplicates(true); // e.g. VK, where `random_id` makes a resend harmless
/// assert_eq!(policy.max_attempts, 6);
/// assert!(policy.platform_deduplicates);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (`1` disables retries; `0` counts as `1`).
    pub max_attempts: u32,
    /// The delays between attempts.
    pub backoff: Backoff,
    /// Whether the connector forwards [`Part::idempotency_key`] to a platform that drops a
    /// repeated send under the same key (VK's `random_id`), so that a keyed send that may have
    /// gone out can be retried. The connector knows; set it for such platforms only.
    pub platform_deduplicates: bool,
    /// The longest delay worth waiting out (mostly a platform's retry-after); a longer one ends
    /// the retries and returns the error.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff::default(),
            platform_deduplicates: false,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of attempts in all, the first included.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the backoff between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Declares that the platform de-duplicates repeated sends.
    pub fn platform_deduplicates(mut self, yes: bool) -> Self {
        self.platform_deduplicates = yes;
        self
    }

    /// Sets the longest delay worth waiting out.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The delay before retry number `retry` (0-based) after `err`, or `None` to give up.
    fn next_delay(&self, retry: u32, err: &Error, resend_is_safe: bool) -> Option<Duration> {
        if !err.is_retryable() || retry.saturating_add(1) >= self.max_attempts.max(1) {
            return None;
        }
        if err.delivery() == Delivery::MaybeSent && !resend_is_safe {
            debug!(
                kind = %err.kind(),
                "not retrying a send that may have gone out (the platform cannot drop a repeat)"
            );
            return None;
        }
        let delay = self.backoff.delay_for(retry, err.retry_after());
        if delay > self.max_wait {
            debug!(
                kind = %err.kind(),
                delay_ms = delay.as_millis() as u64,
                "not waiting out a delay over the policy's maximum"
            );
            return None;
        }
        Some(delay)
    }
}

/// A [`Messenger`] that retries retryable failures under a [`RetryPolicy`].
///
/// Put it outside [`RateLimited`](super::RateLimited), so that every retry is rate limited too
/// ([`Stack`](super::Stack) does).
/// Each retry is logged (`tracing`, level `warn`) with the error kind, the attempt and the
/// delay, nothing else.
///
/// ```no_run
/// # async fn run(connector: impl messenger_core::Messenger) -> messenger_core::Result<()> {
/// use messenger_core::layers::{RateLimited, RetryPolicy, Retrying};
/// use messenger_core::{Messenger, OutgoingMessage};
/// let m = Retrying::new(RateLimited::new(connector), RetryPolicy::default());
/// // Where the platform drops repeats of a key (see `RetryPolicy::platform_deduplicates`),
/// // a key makes a send that may have gone out safe to retry:
/// let msg = OutgoingMessage::text("42", "Your order has shipped").idempotency_key("order-17");
/// m.send(&msg).await?;
/// # Ok(()) }
/// ```
pub struct Retrying<M> {
    inner: M,
    policy: RetryPolicy,
}

impl<M: Messenger> Retrying<M> {
    /// Retries `inner`'s failures under `policy`.
    ///
    /// For advanced use (a layer alone, a stack of your own): [`Stack`](super::Stack) builds
    /// the layers in the one safe order.
    pub fn new(inner: M, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wrapped messenger.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Unwraps the messenger.
    pub fn into_inner(self) -> M {
        self.inner
    }

    async fn run<T, F, Fut>(&self, op: &'static str, resend_is_safe: bool, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let mut retry = 0u32;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(err) => {
                    let Some(delay) = self.policy.next_delay(retry, &err, resend_is_safe) else {
                        return Err(err);
                    };
                    retry += 1;
                    warn!(
                        op,
                        kind = %err.kind(),
                        attempt = retry + 1,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for Retrying<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retrying")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<M: Messenger> Wrapper for Retrying<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

#[async_trait]
impl<M: Messenger> Messenger for Retrying<M> {
    // `send` is the trait's own: the planner over this layer's `send_part`, so every part is
    // retried on its own.
    crate::forward_messenger!(except [
        connect, send_part, send, send_template, edit_text, delete_message, download
    ]);

    async fn connect(&self) -> Result<AccountInfo> {
        self.run("connect", true, || self.inner.connect()).await
    }

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        // Resending is safe only where the platform itself drops the repeat, by the key.
        let dedups = self.policy.platform_deduplicates || self.inner.capabilities().keyed_sends;
        let safe = dedups && part.idempotency_key.is_some();
        self.run("send_part", safe, || self.inner.send_part(chat, part))
            .await
    }

    /// Retried like a part, but a template carries no idempotency key: one that may have gone
    /// out ([`Delivery::MaybeSent`]) is never resent.
    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        self.run("send_template", false, || {
            self.inner.send_template(chat, template)
        })
        .await
    }

    /// Editing to the same text twice leaves one edit: always safe to retry.
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        self.run("edit_text", true, || {
            self.inner.edit_text(chat, message, text)
        })
        .await
    }

    /// Deleting twice deletes once: always safe to retry.
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.run("delete_message", true, || {
            self.inner.delete_message(chat, message)
        })
        .await
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.run("download", true, || self.inner.download(media))
            .await
    }
}
