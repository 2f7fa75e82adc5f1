//! The one error type of the SDK, with a [`kind()`](Error::kind) callers branch on.
//!
//! An [`Error`] also says whether a failed send certainly did not go out ([`Delivery::NotSent`])
//! or may have ([`Delivery::MaybeSent`]), and whether trying again can help
//! ([`Error::is_retryable`]). Messages of errors never contain message content or tokens:
//! connectors build them from platform error descriptions and strip URLs from transport errors.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{MessageId, Platform};

/// A `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The class of an error: what a caller branches on.
///
/// ```
/// use messenger_core::{Error, ErrorKind};
/// let err = Error::rate_limited(Some(std::time::Duration::from_secs(3)));
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// assert!(err.is_retryable());
/// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The platform cannot do this (and the policy forbids degrading).
    Unsupported,
    /// The request is malformed (empty text, bad chat id, bad parameters).
    InvalidInput,
    /// Media or text exceeds a platform limit.
    TooLarge,
    /// Flood control; see [`Error::retry_after`].
    RateLimited,
    /// The credentials were refused.
    Unauthorized,
    /// The recipient blocked the account or cannot receive messages.
    RecipientBlocked,
    /// The recipient opted out of messages from this account.
    OptedOut,
    /// The platform's reply window is closed (WhatsApp: 24 h after the customer's last message).
    OutsideReplyWindow,
    /// The messenger module is not active for this account (agreement not accepted, deactivated).
    ModuleInactive,
    /// The operator suspended this platform.
    PlatformSuspended,
    /// The chat, message or media does not exist (or is not visible to the account).
    NotFound,
    /// Another client holds the update stream (Telegram 409: two pollers, or a webhook is set).
    Conflict,
    /// Any other error the platform reported; see [`Error::platform_code`].
    Platform,
    /// The network failed or the platform answered 5xx.
    Transport,
    /// The platform's answer (or a webhook body) could not be decoded.
    Decode,
    /// A webhook request failed verification.
    WebhookRejected,
    /// A state store refused or failed (an in-memory store at its capacity, a database that is
    /// unreachable): the state change was **not** recorded. Answered 500 to a webhook, so the
    /// platform delivers again.
    Storage,
}

impl ErrorKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RecipientBlocked => "recipient_blocked",
            ErrorKind::OptedOut => "opted_out",
            ErrorKind::OutsideReplyWindow => "outside_reply_window",
            ErrorKind::ModuleInactive => "module_inactive",
            ErrorKind::PlatformSuspended => "platform_suspended",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Platform => "platform",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
            ErrorKind::WebhookRejected => "webhook_rejected",
            ErrorKind::Storage => "storage",
        }
    }

    /// Whether an error of this kind is worth retrying by default.
    pub fn is_retryable_by_default(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Transport)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a failed send reached the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Certainly not sent: refused before a request, or refused by the platform.
    #[default]
    NotSent,
    /// May have been sent: the connection failed after the request went out.
    MaybeSent,
}

/// What a platform's rate limit applies to: how far a retry-after reaches.
///
/// Connectors mark each rate-limit answer ([`Error::with_rate_scope`]); an unmarked one is
/// [`RateScope::Chat`]. [`RateLimited`](crate::layers::RateLimited) pauses only the chat the
/// answer came from, or every chat of the account for [`RateScope::Account`].
///
/// ```
/// use std::time::Duration;
/// use messenger_core::error::RateScope;
/// use messenger_core::Error;
/// // WhatsApp 130429: the phone number's throughput is exhausted, whatever the recipient.
/// let err = Error::rate_limited(Some(Duration::from_secs(2))).with_rate_scope(RateScope::Account);
/// assert_eq!(err.rate_scope(), RateScope::Account);
/// // Telegram 429 in one chat: that chat only (the default).
/// assert_eq!(Error::rate_limited(None).rate_scope(), RateScope::Chat);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RateScope {
    /// The conversation the request went to (Telegram's per-chat flood control, WhatsApp
    /// 131056 "pair rate limit").
    #[default]
    Chat,
    /// Every conversation of the account (WhatsApp 130429, an account-wide quota).
    Account,
}

impl RateScope {
    /// The snake_case name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RateScope::Chat => "chat",
            RateScope::Account => "account",
        }
    }
}

impl fmt::Display for RateScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The SDK's error.
///
/// Build one with a constructor for its kind and the `with_*` methods:
///
/// ```
/// use messenger_core::{Delivery, Error, ErrorKind, Platform};
/// let err = Error::platform_error("400", "Bad Request: message is too long")
///     .with_platform(Platform::Telegram)
///     .with_kind(ErrorKind::TooLarge);
/// assert_eq!(err.kind(), ErrorKind::TooLarge);
/// assert_eq!(err.platform_code(), Some("400"));
/// assert_eq!(err.delivery(), Delivery::NotSent);
/// assert_eq!(err.to_string(), "telegram: too_large: Bad Request: message is too long (code 400)");
/// ```
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    platform: Option<Platform>,
    code: Option<String>,
    retry_after: Option<Duration>,
    rate_scope: RateScope,
    delivery: Delivery,
    retryable: bool,
    sent: Vec<MessageId>,
    #[source]
    source: Option<Source>,
}

impl Error {
    /// An error of the given kind with a human-readable message (never message content).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            platform: None,
            code: None,
            retry_after: None,
            rate_scope: RateScope::Chat,
            delivery: Delivery::NotSent,
            retryable: kind.is_retryable_by_default(),
            sent: Vec::new(),
            source: None,
        }
    }

    /// [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    /// [`ErrorKind::TooLarge`].
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message)
    }
    /// [`ErrorKind::RateLimited`], with the platform's retry-after where it gave one.
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        let mut e = Self::new(
            ErrorKind::RateLimited,
            match retry_after {
                Some(d) => format!("rate limited; retry after {}s", d.as_secs_f64()),
                None => "rate limited".to_owned(),
            },
        );
        e.retry_after = retry_after;
        e
    }
    /// [`ErrorKind::Transport`]; retryable.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }
    /// [`ErrorKind::Decode`].
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }
    /// [`ErrorKind::Platform`] with the platform's code and description.
    pub fn platform_error(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::Platform, message);
        e.code = Some(code.into());
        e
    }
    /// [`ErrorKind::WebhookRejected`].
    pub fn webhook_rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::WebhookRejected, message)
    }

    /// Changes the kind (keeping the message, code and source); resets retryability to the
    /// new kind's default.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self.retryable = kind.is_retryable_by_default();
        self
    }
    /// Names the platform the error came from.
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }
    /// Sets the platform's own error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    /// Sets how long the platform asked to wait.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }
    /// Sets what a rate limit applies to (the default is [`RateScope::Chat`]).
    pub fn with_rate_scope(mut self, scope: RateScope) -> Self {
        self.rate_scope = scope;
        self
    }
    /// Sets whether the failed send may have gone out.
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }
    /// Overrides whether trying again can help.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
    /// Records the parts of a multi-part send that went out before this error.
    pub fn with_sent(mut self, sent: Vec<MessageId>) -> Self {
        self.sent = sent;
        self
    }
    /// Attaches the underlying error (it must not carry content or tokens in its message).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The human-readable description.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The platform the error came from, where known.
    pub fn platform(&self) -> Option<Platform> {
        self.platform
    }
    /// The platform's own error code, as text.
    pub fn platform_code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    /// How long the platform asked to wait before the next request.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
    /// What the rate limit of a [`ErrorKind::RateLimited`] error applies to:
    /// [`RateScope::Chat`] unless the connector marked it otherwise.
    pub fn rate_scope(&self) -> RateScope {
        self.rate_scope
    }
    /// Whether the failed send may have gone out.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }
    /// Whether trying again can help (rate limits, transport failures, 5xx).
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
    /// Ids of the parts of a multi-part send that went out before this error.
    pub fn sent(&self) -> &[MessageId] {
        &self.sent
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.platform {
            write!(f, "{p}: ")?;
        }
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("platform", &self.platform)
            .field("code", &self.code)
            .field("retry_after", &self.retry_after)
            .field("rate_scope", &self.rate_scope)
            .field("delivery", &self.delivery)
            .field("retryable", &self.retryable)
            .field("sent", &self.sent.len())
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's own message can quote a value from the body ("invalid type: string
        // \"...\""), which may be message content: only the class and the position are kept.
        let class = match e.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "unexpected JSON shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        Error::decode(format!(
            "{class} at line {} column {}",
            e.line(),
            e.column()
        ))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::transport(format!("I/O error: {}", e.kind())).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_defaults_follow_kind() {
        assert!(Error::transport("x").is_retryable());
        assert!(Error::rate_limited(None).is_retryable());
        assert!(!Error::invalid_input("x").is_retryable());
        assert!(
            !Error::transport("x")
                .with_kind(ErrorKind::Unauthorized)
                .is_retryable()
        );
        assert!(
            Error::platform_error("500", "x")
                .with_retryable(true)
                .is_retryable()
        );
    }

    #[test]
    fn json_errors_do_not_quote_the_body() {
        let err: serde_json::Error =
            serde_json::from_str::<u64>("\"secret customer text\"").unwrap_err();
        let err = Error::from(err);
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(!format!("{err:?}").contains("secret"));
    }

    #[test]
    fn kind_serialises_snake_case() {
        assert_eq!(
            serde_json::to_string(&ErrorKind::OutsideReplyWindow).unwrap(),
            "\"outside_reply_window\""
        );
        for k in [
            ErrorKind::RecipientBlocked,
            ErrorKind::WebhookRejected,
            ErrorKind::Storage,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
