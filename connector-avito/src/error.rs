//! Avito's errors mapped to [`ErrorKind`]s, once, with a test per code.
//!
//! The messenger paths declare only their 200 answers (\[O\]); the section's error schemas
//! (\[O2\] `authError`, `badRequestError`, `forbiddenError`, `notFoundError`, `purchasingError`,
//! `serviceError`, `serviceUnavailableError`, `validatingError`) all have the shape
//! `{"error": {"code", "message", "fields"?}}` with `code` repeating the HTTP status. So every
//! non-2xx answer is an error, the status decides the kind, and the envelope (read leniently,
//! where the body is one) adds Avito's description:
//!
//! | status | kind | notes |
//! |---|---|---|
//! | 400, 422 | `InvalidInput` | the `fields` a validation error names (their keys only: a value can quote the text) |
//! | 401 | `Unauthorized` | the token was refused: the [`TokenCache`](messenger_core::TokenCache) refreshes once and tries again |
//! | 402 | `Unauthorized`, code 402 | `purchasingError`: the Messenger API needs a paid tier; no refresh (it cannot help) |
//! | 403 | `Unauthorized` | an expired token answers 403 ([A auth.md]), so it is refreshed once too; a fresh token refused says what the account must change ([`ACCOUNT_ADVICE`]) |
//! | 404 | `NotFound` | |
//! | 413 | `TooLarge` | |
//! | 429 | `RateLimited`, account-wide | [`rate_limit_delay`] from `Retry-After` or `X-RateLimit-*` |
//! | 5xx | `Transport`, retryable | `MaybeSent` for a send |
//! | other | `Platform` with the status as its code | |
//!
//! The token endpoint ([`token_refusal`]) answers in a shape that is UNCONFIRMED (probably the
//! standard OAuth 2 `{"error": "invalid_grant"}`): both that and Avito's envelope are read.
//!
//! Avito's descriptions are [sanitised](messenger_http::sanitize) (digit runs masked, one line,
//! bounded); values of `fields` are never read.

use std::time::Duration;

use messenger_core::error::RateScope;
use messenger_core::{Delivery, Error, ErrorKind, Platform, Result};
use messenger_http::{Answer, StatusCode, sanitize};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::wire::{ApiError, ErrorEnvelope, OAuthError};

const AVITO: Platform = Platform::Avito;

/// What an account must change when Avito refuses a fresh token or answers 402: the Messenger
/// API works only for the company's main account on a paid tier (\[O\] info.description,
/// [A messenger.md]).
pub const ACCOUNT_ADVICE: &str = "the Messenger API works only for the company's main Avito account (an employee's token is refused on the company's items) on a paid tier (Goods and Jobs: «Максимальный»; Services: «Расширенный» or «Максимальный»), with the messenger:read and messenger:write scopes";

/// The length of Avito's rate-limit window: `X-RateLimit-Limit` counts requests per minute
/// (\[O2\] components.headers).
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long to wait after a 429: `Retry-After` where given; else a whole window when
/// `X-RateLimit-Remaining` is 0; else one request's share of the window
/// (`60 s / X-RateLimit-Limit`); else nothing (the core's backoff decides).
///
/// ```
/// use std::time::Duration;
/// use reqwest::header::{HeaderMap, HeaderValue};
/// use connector_avito::error::rate_limit_delay;
/// let mut h = HeaderMap::new();
/// assert_eq!(rate_limit_delay(&h), None);
/// h.insert("x-ratelimit-limit", HeaderValue::from_static("30"));
/// assert_eq!(rate_limit_delay(&h), Some(Duration::from_secs(2)));
/// h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
/// assert_eq!(rate_limit_delay(&h), Some(Duration::from_secs(60)));
/// h.insert("retry-after", HeaderValue::from_static("7"));
/// assert_eq!(rate_limit_delay(&h), Some(Duration::from_secs(7)));
/// ```
pub fn rate_limit_delay(headers: &HeaderMap) -> Option<Duration> {
    if let Some(delay) = messenger_http::retry_after(headers) {
        return Some(delay);
    }
    let remaining = header_u64(headers, "x-ratelimit-remaining");
    let limit = header_u64(headers, "x-ratelimit-limit");
    match (remaining, limit) {
        (Some(0), _) => Some(RATE_WINDOW),
        (_, Some(limit)) if limit > 0 => {
            let share = RATE_WINDOW.as_millis() / u128::from(limit);
            Some(Duration::from_millis(
                u64::try_from(share).unwrap_or(0).max(1),
            ))
        }
        _ => None,
    }
}

fn description(status: StatusCode, api: Option<&ApiError>) -> String {
    let avito = api
        .and_then(|a| a.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(sanitize);
    match avito {
        Some(m) => format!("Avito answered HTTP {}: {m}", status.as_u16()),
        None => format!("Avito answered HTTP {}", status.as_u16()),
    }
}

/// The names of the fields a validation error lists (never their values).
fn field_names(api: Option<&ApiError>) -> Option<String> {
    let fields = api?.fields.as_ref()?;
    let names: Vec<String> = fields
        .keys()
        .take(10)
        .map(|k| {
            k.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
                .take(64)
                .collect()
        })
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Maps an API answer that is not a success: its status, headers and (where it is one) Avito's
/// error envelope. `is_send` marks a call that may deliver a message, for
/// [`Delivery::MaybeSent`] on 5xx.
///
/// ```
/// use messenger_core::ErrorKind;
/// use messenger_http::StatusCode;
/// use connector_avito::error::from_status;
/// use reqwest::header::HeaderMap;
/// let err = from_status(StatusCode::PAYMENT_REQUIRED, &HeaderMap::new(), None, false);
/// assert_eq!(err.kind(), ErrorKind::Unauthorized);
/// assert_eq!(err.platform_code(), Some("402"));
/// assert!(err.to_string().contains("paid tier"));
/// ```
pub fn from_status(
    status: StatusCode,
    headers: &HeaderMap,
    api: Option<&ApiError>,
    is_send: bool,
) -> Error {
    let code = status.as_u16();
    let text = description(status, api);
    let base = |kind: ErrorKind, message: String| {
        Error::platform_error(code.to_string(), message)
            .with_platform(AVITO)
            .with_kind(kind)
    };
    if status.is_server_error() {
        let delivery = if is_send {
            Delivery::MaybeSent
        } else {
            Delivery::NotSent
        };
        return base(ErrorKind::Transport, text).with_delivery(delivery);
    }
    match code {
        400 | 422 => match field_names(api) {
            Some(fields) => base(
                ErrorKind::InvalidInput,
                format!("{text} (fields: {fields})"),
            ),
            None => base(ErrorKind::InvalidInput, text),
        },
        401 => base(
            ErrorKind::Unauthorized,
            format!(
                "{text}: the access token was refused (it is refreshed once automatically; if a fresh one is refused too, check the client id and secret)"
            ),
        ),
        402 => base(
            ErrorKind::Unauthorized,
            format!("{text}: payment required: {ACCOUNT_ADVICE}"),
        ),
        403 => base(
            ErrorKind::Unauthorized,
            format!(
                "{text}: the token was refused (an expired token is refreshed once automatically; if a fresh one is refused too, {ACCOUNT_ADVICE})"
            ),
        ),
        404 => base(ErrorKind::NotFound, text),
        413 => base(ErrorKind::TooLarge, text),
        429 => base(ErrorKind::RateLimited, text)
            .with_retry_after(rate_limit_delay(headers))
            .with_rate_scope(RateScope::Account)
            .with_retryable(true),
        _ => base(ErrorKind::Platform, text),
    }
}

/// Whether `err` is Avito refusing the access token (401 or 403), so that a refresh may help;
/// the [`TokenCache`](messenger_core::TokenCache)'s refusal check. A 402 is not: no token
/// makes a free tier paid.
///
/// ```
/// use messenger_core::ErrorKind;
/// use messenger_http::StatusCode;
/// use connector_avito::error::{from_status, is_token_refusal};
/// use reqwest::header::HeaderMap;
/// let h = HeaderMap::new();
/// assert!(is_token_refusal(&from_status(StatusCode::FORBIDDEN, &h, None, false)));
/// assert!(!is_token_refusal(&from_status(StatusCode::PAYMENT_REQUIRED, &h, None, false)));
/// ```
pub fn is_token_refusal(err: &Error) -> bool {
    err.kind() == ErrorKind::Unauthorized
        && err.platform() == Some(AVITO)
        && matches!(err.platform_code(), Some("401" | "403"))
}

/// Maps a failed answer of the API: the envelope where the body is one, the status always.
pub fn from_answer(answer: &Answer, is_send: bool) -> Error {
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&answer.body).ok();
    let api = envelope.and_then(|e| e.error);
    from_status(answer.status, &answer.headers, api.as_ref(), is_send)
}

/// Decodes a success as `T` (an empty body reads as `{}`), or maps the failure.
pub fn decode_answer<T: DeserializeOwned>(answer: &Answer, is_send: bool) -> Result<T> {
    if !answer.is_success() {
        return Err(from_answer(answer, is_send));
    }
    let body: &[u8] = if answer.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &answer.body
    };
    serde_json::from_slice(body).map_err(|e| {
        let err = Error::from(e).with_platform(AVITO);
        if is_send {
            err.with_delivery(Delivery::MaybeSent)
        } else {
            err
        }
    })
}

/// Maps a failed answer of `POST /token`.
///
/// | answer | kind | message |
/// |---|---|---|
/// | `invalid_client` | `Unauthorized` | the client id or secret is wrong |
/// | `invalid_grant` | `Unauthorized` | the code or refresh token is used, expired, revoked or rotated away: connect again |
/// | `unauthorized_client`, `access_denied` | `Unauthorized` | the app may not use this grant |
/// | `invalid_request`, `unsupported_grant_type`, `invalid_scope` | `InvalidInput` | |
/// | 5xx, 429 | as for the API | |
/// | other 4xx | `Unauthorized` | the token endpoint refused the credentials |
///
/// ```
/// use messenger_core::ErrorKind;
/// use messenger_http::StatusCode;
/// use connector_avito::error::token_refusal;
/// use reqwest::header::HeaderMap;
/// let err = token_refusal(StatusCode::BAD_REQUEST, &HeaderMap::new(), br#"{"error":"invalid_grant"}"#);
/// assert_eq!(err.kind(), ErrorKind::Unauthorized);
/// assert!(err.to_string().contains("connect the account again"));
/// ```
pub fn token_refusal(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let envelope: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
        return from_status(
            status,
            headers,
            envelope.and_then(|e| e.error).as_ref(),
            false,
        );
    }
    let oauth = serde_json::from_slice::<OAuthError>(body)
        .ok()
        .and_then(|e| e.error)
        .map(|e| {
            e.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect::<String>()
        });
    let code = oauth.clone().unwrap_or_else(|| status.as_u16().to_string());
    let (kind, what) = match oauth.as_deref() {
        Some("invalid_client") => (
            ErrorKind::Unauthorized,
            "the client id or client secret was refused: check AVITO_CLIENT_ID and AVITO_CLIENT_SECRET (the values of «Для разработчиков» in the Avito account)",
        ),
        Some("invalid_grant") => (
            ErrorKind::Unauthorized,
            "the authorization code or refresh token was refused (used, expired, revoked, or rotated away by a later refresh): connect the account again through the authorization flow",
        ),
        Some("unauthorized_client" | "access_denied") => (
            ErrorKind::Unauthorized,
            "this app may not use this grant: check the app's registration with Avito",
        ),
        Some("invalid_request" | "unsupported_grant_type" | "invalid_scope") => (
            ErrorKind::InvalidInput,
            "the token request was malformed or asked for scopes the app does not have",
        ),
        _ => (
            ErrorKind::Unauthorized,
            "the token endpoint refused the credentials: check the client id and secret, or connect the account again",
        ),
    };
    Error::platform_error(
        code,
        format!(
            "Avito token endpoint answered HTTP {}: {what}",
            status.as_u16()
        ),
    )
    .with_platform(AVITO)
    .with_kind(kind)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use reqwest::header::HeaderValue;

    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn mapped(status: u16, body: &str) -> Error {
        from_answer(&answer(status, body), false)
    }

    #[test]
    fn code_400_names_fields_not_values() {
        let err = mapped(
            400,
            r#"{"error":{"code":400,"message":"Validation error","fields":{"message.text":"Секрет 89991234567 too long"}}}"#,
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.platform_code(), Some("400"));
        let text = err.to_string();
        assert!(
            text.contains("Validation error") && text.contains("message.text"),
            "{text}"
        );
        assert!(!text.contains("Секрет") && !text.contains("8999"), "{text}");
    }

    #[test]
    fn code_422_is_invalid_input() {
        assert_eq!(mapped(422, "{}").kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn code_401_is_a_token_refusal() {
        let err = mapped(401, r#"{"error":{"code":401,"message":"Unauthorized"}}"#);
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(is_token_refusal(&err));
        assert!(!err.is_retryable());
    }

    #[test]
    fn code_402_says_what_the_account_must_change_and_is_no_token_refusal() {
        let err = mapped(
            402,
            r#"{"error":{"code":402,"message":"Payment required"}}"#,
        );
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(!is_token_refusal(&err));
        let text = err.to_string();
        assert!(
            text.contains("Максимальный") && text.contains("main Avito account"),
            "{text}"
        );
    }

    #[test]
    fn code_403_is_a_token_refusal_with_advice() {
        let err = mapped(403, r#"{"error":{"code":403,"message":"Forbidden"}}"#);
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(is_token_refusal(&err));
        assert!(err.to_string().contains("employee"), "{err}");
    }

    #[test]
    fn code_404_is_not_found() {
        assert_eq!(
            mapped(404, r#"{"error":{"code":404,"message":"Not found"}}"#).kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn code_413_is_too_large() {
        assert_eq!(mapped(413, "").kind(), ErrorKind::TooLarge);
    }

    #[test]
    fn code_429_reads_the_rate_limit_headers() {
        let mut a = answer(
            429,
            r#"{"error":{"code":429,"message":"Too many requests"}}"#,
        );
        a.headers
            .insert("x-ratelimit-limit", HeaderValue::from_static("60"));
        a.headers
            .insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let err = from_answer(&a, true);
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(err.rate_scope(), RateScope::Account);
        assert_eq!(err.delivery(), Delivery::NotSent);
        // Without headers: no retry-after, the backoff decides.
        assert_eq!(mapped(429, "").retry_after(), None);
    }

    #[test]
    fn code_5xx_is_transport_and_maybe_sent_for_sends() {
        let a = answer(
            500,
            r#"{"error":{"code":500,"message":"Error while processing request. Please, contact support"}}"#,
        );
        let err = from_answer(&a, true);
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert!(err.is_retryable());
        assert_eq!(err.delivery(), Delivery::MaybeSent);
        assert_eq!(
            from_answer(&answer(503, "<html>"), false).delivery(),
            Delivery::NotSent
        );
    }

    #[test]
    fn other_codes_are_platform_errors() {
        let err = mapped(409, "not json");
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert_eq!(err.platform_code(), Some("409"));
    }

    #[test]
    fn a_success_decodes_and_an_empty_one_reads_as_an_object() {
        let v: serde_json::Value = decode_answer(&answer(200, ""), false).unwrap();
        assert_eq!(v, serde_json::json!({}));
        let err = decode_answer::<crate::wire::Sent>(&answer(200, "[oops"), true).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.delivery(), Delivery::MaybeSent);
    }

    #[test]
    fn token_endpoint_refusals() {
        let h = HeaderMap::new();
        let bad = StatusCode::BAD_REQUEST;
        let client = token_refusal(
            bad,
            &h,
            br#"{"error":"invalid_client","error_description":"x"}"#,
        );
        assert_eq!(client.kind(), ErrorKind::Unauthorized);
        assert_eq!(client.platform_code(), Some("invalid_client"));
        assert!(client.to_string().contains("AVITO_CLIENT_SECRET"));
        let grant = token_refusal(bad, &h, br#"{"error":"invalid_grant"}"#);
        assert!(grant.to_string().contains("authorization flow"), "{grant}");
        assert_eq!(
            token_refusal(bad, &h, br#"{"error":"unsupported_grant_type"}"#).kind(),
            ErrorKind::InvalidInput
        );
        // Avito's own envelope, or nothing readable: still a refusal.
        let envelope = token_refusal(
            StatusCode::FORBIDDEN,
            &h,
            br#"{"error":{"code":403,"message":"Forbidden"}}"#,
        );
        assert_eq!(envelope.kind(), ErrorKind::Unauthorized);
        assert_eq!(envelope.platform_code(), Some("403"));
        assert_eq!(
            token_refusal(StatusCode::BAD_GATEWAY, &h, b"").kind(),
            ErrorKind::Transport
        );
    }
}
