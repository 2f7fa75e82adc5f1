//! WhatsApp (Graph API) errors -> the core [`Error`]: the one place error codes are mapped.
//!
//! The class is keyed on the Graph `error.code`, never on the HTTP status: Meta's own tables
//! give code 4 as HTTP 400 in one copy and 429 in another, and tell integrators to build on
//! `code` (and `error_data.details`), not on titles or the deprecated `error_subcode`. The same
//! table serves the immediate answer of a request ([`from_response`]) and a later `failed`
//! status webhook ([`status_error`]), so a code means the same thing on both paths.
//!
//! | code | meaning (from `shared/platforms/whatsapp.md` §7.2) | kind |
//! |---|---|---|
//! | 4 | app-level API call rate limit | `RateLimited` (retryable) |
//! | 80007 | WhatsApp Business Account rate limit | `RateLimited` (retryable) |
//! | 130429 | Cloud API throughput reached | `RateLimited` (retryable) |
//! | 131056 | business / consumer pair rate limit (about 1 message per 6 s to one user) | `RateLimited` (retryable) |
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
//! Without a Graph error body (a proxy's HTML page, an empty 502), the HTTP status decides:
//! 5xx is a retryable `Transport`, 429 `RateLimited`, 401 `Unauthorized`, 404 `NotFound`, other
//! statuses `Platform` with the status as code. An error body that says `is_transient: true`
//! is retryable whatever its class.
//!
//! Error texts are Meta's `message` (or a status's `title`), never `error_data.details`, which
//! can quote a URL or a number. Long runs of digits (phone-number-like) are masked anyway, and
//! network errors are stripped of their URL.

use std::time::Duration;

use messenger_core::{Delivery, Error, ErrorKind, Platform, StatusError};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

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

/// The core error for a WhatsApp error `code` with Meta's description `message`.
///
/// ```
/// use connector_whatsapp::error::error_for_code;
/// use messenger_core::{ErrorKind, Platform};
/// let err = error_for_code(131026, "Message undeliverable");
/// assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
/// assert_eq!(err.platform_code(), Some("131026"));
/// assert_eq!(err.platform(), Some(Platform::WhatsApp));
/// assert!(!err.is_retryable());
/// ```
pub fn error_for_code(code: i64, message: &str) -> Error {
    let (kind, retryable) = classify(code);
    let message = if message.trim().is_empty() {
        format!("WhatsApp error {code}")
    } else {
        sanitize(message)
    };
    Error::platform_error(code.to_string(), message)
        .with_kind(kind)
        .with_retryable(retryable)
        .with_platform(Platform::WhatsApp)
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

/// Maps a non-success Graph answer (HTTP status, headers and raw body) to the core error.
///
/// `delivery` says whether the request may have taken effect when the platform failed in a
/// way that does not tell (5xx without a Graph error): for a send that is
/// [`Delivery::MaybeSent`].
///
/// ```
/// use connector_whatsapp::error::from_response;
/// use messenger_core::{Delivery, ErrorKind};
/// use reqwest::{header::HeaderMap, StatusCode};
/// let body = br#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
///     "type":"OAuthException","code":131056,"fbtrace_id":"A"}}"#;
/// let err = from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, Delivery::MaybeSent);
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// assert_eq!(err.delivery(), Delivery::NotSent);
/// ```
pub fn from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    delivery: Delivery,
) -> Error {
    let retry_after = retry_after(headers);
    let graph = serde_json::from_slice::<GraphErrorBody>(body)
        .ok()
        .and_then(|b| b.error);
    let err = match graph {
        Some(g) if g.code.is_some() => {
            let code = g.code.unwrap_or_default();
            let err = error_for_code(code, g.message.as_deref().unwrap_or(""));
            let err = if g.is_transient == Some(true) {
                err.with_retryable(true)
            } else {
                err
            };
            // A Graph error with a code is the platform refusing the request: not sent, except
            // for the classes that say the platform itself failed.
            if err.kind() == ErrorKind::Transport {
                err.with_delivery(delivery)
            } else {
                err
            }
        }
        other => {
            let message = other
                .and_then(|g| g.message)
                .map(|m| sanitize(&m))
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            let base = Error::platform_error(status.as_u16().to_string(), message)
                .with_platform(Platform::WhatsApp);
            if status.is_server_error() {
                base.with_kind(ErrorKind::Transport).with_delivery(delivery)
            } else {
                match status {
                    StatusCode::TOO_MANY_REQUESTS => base.with_kind(ErrorKind::RateLimited),
                    StatusCode::UNAUTHORIZED => base.with_kind(ErrorKind::Unauthorized),
                    StatusCode::NOT_FOUND => base.with_kind(ErrorKind::NotFound),
                    _ => base,
                }
            }
        }
    };
    if err.kind() == ErrorKind::RateLimited {
        err.with_retry_after(retry_after)
    } else {
        err
    }
}

/// Maps a network failure: `NotSent` when no connection was made, `delivery` otherwise (a
/// timeout after the request was written may have reached WhatsApp). The URL is dropped.
pub(crate) fn from_reqwest(err: reqwest::Error, delivery: Delivery) -> Error {
    let delivery = if err.is_connect() || err.is_builder() {
        Delivery::NotSent
    } else {
        delivery
    };
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "failed reading the body"
    } else {
        "request failed"
    };
    Error::transport(format!("WhatsApp {what}"))
        .with_platform(Platform::WhatsApp)
        .with_delivery(delivery)
        .with_source(err.without_url())
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Masks runs of 7 or more digits (phone-number-like) and bounds the length of a platform
/// description before it goes into an error message.
pub(crate) fn sanitize(text: &str) -> String {
    const MAX: usize = 300;
    let mut out = String::with_capacity(text.len().min(MAX + 4));
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 7 {
            out.push_str("<number>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
        if out.chars().count() > MAX {
            out = out.chars().take(MAX).collect();
            out.push('…');
            return out;
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_masks_numbers_and_keeps_codes() {
        assert_eq!(
            sanitize("(#100) Invalid parameter for +16505551234"),
            "(#100) Invalid parameter for +<number>"
        );
        assert_eq!(sanitize("(#131056) pair"), "(#131056) pair");
        assert!(sanitize(&"x".repeat(1000)).chars().count() <= 301);
    }

    #[test]
    fn non_graph_bodies_fall_back_to_the_status() {
        let h = HeaderMap::new();
        let e = from_response(
            StatusCode::BAD_GATEWAY,
            &h,
            b"<html>bad</html>",
            Delivery::MaybeSent,
        );
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::MaybeSent);
        let e = from_response(StatusCode::UNAUTHORIZED, &h, b"", Delivery::MaybeSent);
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.delivery(), Delivery::NotSent);
    }

    #[test]
    fn transient_flag_makes_platform_errors_retryable() {
        let body = br#"{"error":{"message":"Something","code":131999,"is_transient":true}}"#;
        let e = from_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body,
            Delivery::NotSent,
        );
        assert_eq!(e.kind(), ErrorKind::Platform);
        assert!(e.is_retryable());
    }
}
