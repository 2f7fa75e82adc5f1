//! WhatsApp (Graph API) errors -> the core [`Error`]: the one place error codes are mapped.
//!
//! The class is keyed on the Graph `error.code`, never on the HTTP status: Meta's own tables
//! give code 4 as HTTP 400 in one copy and 429 in another, and tell integrators to build on
//! `code` (and `error_data.details`), not on titles or the deprecated `error_subcode`. The same
//! table serves the immediate answer of a request ([`from_answer`]) and a later `failed`
//! status webhook ([`status_error`]), so a code means the same thing on both paths.
//!
//! | code | meaning (from `shared/platforms/whatsapp.md` §7.2) | kind |
//! |---|---|---|
//! | 4 | app-level API call rate limit | `RateLimited` (retryable), scope `account` |
//! | 80007 | WhatsApp Business Account rate limit | `RateLimited` (retryable), scope `account` |
//! | 130429 | Cloud API throughput reached (80 msg/s per number by default) | `RateLimited` (retryable), scope `account` |
//! | 131056 | business / consumer pair rate limit (about 1 message per 6 s to one user) | `RateLimited` (retryable), scope `chat` |
//! | 131047 | re-engagement message: more than 24 h since the customer last wrote | `OutsideReplyWindow` |
//! | 131026 | message undeliverable (not a WhatsApp user, terms not accepted, outdated app...) | `RecipientBlocked` |
//! | 0, 190 | auth exception / access token expired or invalid | `Unauthorized` |
//! | 3, 10, 200-299 | capability or permission missing (the app or the token lacks it) | `Unauthorized` |
//! | 100 | invalid or unsupported parameter | `InvalidInput` |
//! | 131051 | unsupported message type | `Unsupported` |
//! | 131052 | media download error: the customer's media could not be fetched | `NotFound` |
//! | 131053 | media upload error: the media in the message could not be processed (type, codec, size) | `InvalidInput` |
//! | 131014 | the platform could not fetch a media `link` (e.g. 404 from the host) | `InvalidInput` |
//! | 132000 | template parameter count mismatch | `InvalidInput` |
//! | 132001 | template does not exist (in that language) | `NotFound` |
//! | 1, 2, 131000 | unknown / temporary service error | `Transport` (retryable) |
//! | 131057 | account in maintenance mode (about a minute during a throughput upgrade) | `Transport` (retryable) |
//! | anything else (131048, 131049, 368, 130472...) | | `Platform` with the code |
//!
//! `131026` is "undeliverable", which covers more than a block (the number is not on WhatsApp,
//! the user has not accepted the new terms, runs an old app, or hit the per-user marketing
//! limit). It is mapped to `RecipientBlocked` because the caller's action is the same: this
//! recipient cannot be reached now, and trying again as-is does not help.
//!
//! The rate scope ([`RateScope`]) tells the rate-limit layer how far a pause reaches: the
//! three quotas of the number, the app or the business account pause every chat of the
//! account; the pair limit pauses only the one customer.
//!
//! Without a Graph error body with a code (a proxy's HTML page, an empty 502), the HTTP status
//! decides, as [`messenger_http::status_error`] maps it (5xx a retryable `Transport`, 429
//! `RateLimited` with `Retry-After`, 401/403 `Unauthorized`, 404 `NotFound`, 413 `TooLarge`,
//! others `Platform` with the status as code). An error body that says `is_transient: true`
//! is retryable whatever its class.
//!
//! Error texts are Meta's `message` (or a status's `title`), never `error_data.details`, which
//! can quote a URL or a number, and go through [`messenger_http::sanitize`] (phone-number-like
//! digit runs masked, one bounded line). Network errors, `Retry-After` and the body cap are
//! `messenger-http`'s.

use messenger_core::{Delivery, Error, ErrorKind, Platform, RateScope, StatusError};
use messenger_http::{Answer, sanitize};

use crate::wire::{GraphErrorBody, WireError};

/// The kind of a Graph / WhatsApp error code, and whether retrying can help.
///
/// ```
/// use connector_whatsapp::error::classify;
/// use messenger_core::ErrorKind;
/// assert_eq!(classify(131047), (ErrorKind::OutsideReplyWindow, false));
/// assert_eq!(classify(130429), (ErrorKind::RateLimited, true));
/// assert_eq!(classify(131000), (ErrorKind::Transport, true));
/// assert_eq!(classify(999_999), (ErrorKind::Platform, false));
/// ```
pub fn classify(code: i64) -> (ErrorKind, bool) {
    match code {
        4 | 80007 | 130429 | 131056 => (ErrorKind::RateLimited, true),
        131047 => (ErrorKind::OutsideReplyWindow, false),
        131026 => (ErrorKind::RecipientBlocked, false),
        0 | 190 | 3 | 10 | 200..=299 => (ErrorKind::Unauthorized, false),
        100 | 131053 | 131014 | 132000 => (ErrorKind::InvalidInput, false),
        131051 => (ErrorKind::Unsupported, false),
        131052 | 132001 => (ErrorKind::NotFound, false),
        1 | 2 | 131000 | 131057 => (ErrorKind::Transport, true),
        _ => (ErrorKind::Platform, false),
    }
}

/// How far a rate limit of `code` reaches: the whole account (the app's, the business
/// account's or the number's quota: 4, 80007, 130429) or one chat (the pair limit 131056).
///
/// ```
/// use connector_whatsapp::error::rate_scope;
/// use messenger_core::RateScope;
/// assert_eq!(rate_scope(130429), RateScope::Account);
/// assert_eq!(rate_scope(131056), RateScope::Chat);
/// ```
pub fn rate_scope(code: i64) -> RateScope {
    match code {
        4 | 80007 | 130429 => RateScope::Account,
        _ => RateScope::Chat,
    }
}

/// The core error for a WhatsApp error `code` with Meta's description `message`.
///
/// ```
/// use connector_whatsapp::error::error_for_code;
/// use messenger_core::{ErrorKind, Platform, RateScope};
/// let err = error_for_code(131026, "Message undeliverable");
/// assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
/// assert_eq!(err.platform_code(), Some("131026"));
/// assert_eq!(err.platform(), Some(Platform::WhatsApp));
/// assert!(!err.is_retryable());
/// assert_eq!(error_for_code(80007, "").rate_scope(), RateScope::Account);
/// ```
pub fn error_for_code(code: i64, message: &str) -> Error {
    let (kind, retryable) = classify(code);
    let message = if message.trim().is_empty() {
        format!("WhatsApp error {code}")
    } else {
        sanitize(message)
    };
    let err = Error::platform_error(code.to_string(), message)
        .with_kind(kind)
        .with_retryable(retryable)
        .with_platform(Platform::WhatsApp);
    if kind == ErrorKind::RateLimited {
        err.with_rate_scope(rate_scope(code))
    } else {
        err
    }
}

/// The error of a `failed` status webhook, classified with the same table as an immediate
/// answer (a `131047` here is [`ErrorKind::OutsideReplyWindow`]).
///
/// The first entry of `errors[]` decides; with none, the kind is `Platform` without a code.
///
/// ```
/// use connector_whatsapp::error::status_error;
/// use connector_whatsapp::wire::WireError;
/// use messenger_core::ErrorKind;
/// let e: WireError = serde_json::from_str(
///     r#"{"code":131047,"title":"Re-engagement message"}"#).unwrap();
/// let status = status_error(&[e]);
/// assert_eq!(status.kind, ErrorKind::OutsideReplyWindow);
/// assert_eq!(status.code.as_deref(), Some("131047"));
/// ```
pub fn status_error(errors: &[WireError]) -> StatusError {
    match errors.first() {
        Some(e) => {
            let description = e.title.as_deref().or(e.message.as_deref()).map(sanitize);
            match e.code {
                Some(code) => StatusError {
                    kind: classify(code).0,
                    code: Some(code.to_string()),
                    message: description,
                },
                None => StatusError {
                    kind: ErrorKind::Platform,
                    code: None,
                    message: description,
                },
            }
        }
        None => StatusError {
            kind: ErrorKind::Platform,
            code: None,
            message: Some("failed without an error description".to_owned()),
        },
    }
}

/// Maps a non-success Graph answer (status, headers and body, as `messenger-http` read it)
/// to the core error.
///
/// `delivery` says whether the request may have taken effect when the platform failed in a
/// way that does not tell (5xx without a Graph error, a Graph `Transport` class): for a send
/// that is [`Delivery::MaybeSent`]. A Graph error of any other class is the platform refusing
/// the request: [`Delivery::NotSent`].
///
/// ```
/// use bytes::Bytes;
/// use connector_whatsapp::error::from_answer;
/// use messenger_core::{Delivery, ErrorKind, RateScope};
/// use messenger_http::{Answer, StatusCode};
/// let answer = Answer {
///     status: StatusCode::BAD_REQUEST,
///     headers: Default::default(),
///     body: Bytes::from_static(br#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
///         "type":"OAuthException","code":131056,"fbtrace_id":"A"}}"#),
/// };
/// let err = from_answer(&answer, Delivery::MaybeSent);
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// assert_eq!(err.rate_scope(), RateScope::Chat);
/// assert_eq!(err.delivery(), Delivery::NotSent);
/// ```
pub fn from_answer(answer: &Answer, delivery: Delivery) -> Error {
    let graph = serde_json::from_slice::<GraphErrorBody>(&answer.body)
        .ok()
        .and_then(|b| b.error)
        .and_then(|g| Some((g.code?, g.message, g.is_transient)));
    let Some((code, message, transient)) = graph else {
        return messenger_http::status_error(
            Platform::WhatsApp,
            answer.status,
            &answer.headers,
            delivery == Delivery::MaybeSent,
        );
    };
    let err = error_for_code(code, message.as_deref().unwrap_or(""));
    let err = if transient == Some(true) {
        err.with_retryable(true)
    } else {
        err
    };
    match err.kind() {
        // The platform itself failed: the request may have taken effect.
        ErrorKind::Transport => err.with_delivery(delivery),
        ErrorKind::RateLimited => err.with_retry_after(answer.retry_after()),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use messenger_http::StatusCode;

    fn answer(status: u16, body: &'static [u8]) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn non_graph_bodies_fall_back_to_the_status() {
        let e = from_answer(&answer(502, b"<html>bad</html>"), Delivery::MaybeSent);
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::MaybeSent);
        let e = from_answer(&answer(502, b""), Delivery::NotSent);
        assert_eq!(e.delivery(), Delivery::NotSent);
        let e = from_answer(&answer(401, b""), Delivery::MaybeSent);
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.delivery(), Delivery::NotSent);
        // A Graph envelope without a code is not a Graph error to classify.
        let e = from_answer(
            &answer(404, br#"{"error":{"message":"gone"}}"#),
            Delivery::NotSent,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn transient_flag_makes_platform_errors_retryable() {
        let body = br#"{"error":{"message":"Something","code":131999,"is_transient":true}}"#;
        let e = from_answer(&answer(400, body), Delivery::NotSent);
        assert_eq!(e.kind(), ErrorKind::Platform);
        assert!(e.is_retryable());
    }

    #[test]
    fn rate_limits_carry_their_scope() {
        for (code, scope) in [
            (4, RateScope::Account),
            (80007, RateScope::Account),
            (130429, RateScope::Account),
            (131056, RateScope::Chat),
        ] {
            assert_eq!(error_for_code(code, "x").rate_scope(), scope, "{code}");
        }
    }
}
