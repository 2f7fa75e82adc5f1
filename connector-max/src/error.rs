//! MAX errors -> the core [`Error`]: the one place MAX error codes are mapped.
//!
//! MAX answers an error with a non-2xx status and `{"code": "<key>", "message": "<text>"}`
//! (`shared/platforms/max.md` §2). The status decides first where it alone says enough (429,
//! 5xx); otherwise the `code` does, with the status as the fallback:
//!
//! | answer | kind |
//! |---|---|
//! | HTTP 429 (any body; the body format is UNCONFIRMED) | `RateLimited` with `Retry-After`, [`RateScope::Account`]: the documented 30 rps is per bot, not per chat |
//! | HTTP 5xx | `Transport`, retryable; [`Delivery::NotSent`] for reads, [`Delivery::MaybeSent`] for sends |
//! | HTTP 405 from `GET /updates` | `Conflict`: long polling is unavailable while a webhook subscription exists (the status is the schema's `NotAllowed` of `/updates`; the body is UNCONFIRMED) |
//! | `verify.token` | `Unauthorized` |
//! | `chat.denied` | `RecipientBlocked` (the user stopped the bot, or the bot has no access) |
//! | `attachment.not.ready` | `Platform`, retryable: the connector retries the send itself ([`crate::MaxConfig::not_ready_retries`]) and, when its budget is spent, fails with [`not_ready_exhausted`] |
//! | a code or message with `movie.not.owner` (MAX sends `proto.payload` with `Key: errors.process.attachment.movie.not.owner`) | `Platform`, with a message that says MAX refused the bot's own video |
//! | a code or message about a forbidden file extension (`File extension is forbidden`) | `InvalidInput` |
//! | `not.found` (and any `*.not.found`) | `NotFound` |
//! | any other code | `Platform` with the code (401 → `Unauthorized`, 404 → `NotFound`, 413 → `TooLarge` where the code is unknown) |
//! | no MAX error body (a proxy's page) | [`messenger_http::status_error`] |
//! | `200` with `{"success": false}` | `Platform`, code `success_false` |
//!
//! Descriptions are MAX's own text made safe by [`messenger_http::sanitize`] (one line,
//! bounded, phone-number-like digit runs masked); MAX's `chat.denied` texts quote chat ids, so
//! the masking matters. Network failures, `Retry-After` and body caps are
//! [`messenger_http`]'s.

use std::time::Duration;

use messenger_core::{Delivery, Error, ErrorKind, Platform, RateScope};
use messenger_http::{Answer, StatusCode, sanitize};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::wire::{ApiError, SimpleQueryResult};

const MAX: Platform = Platform::Max;

/// The code of a send refused while MAX still processes an uploaded file.
pub const NOT_READY: &str = "attachment.not.ready";

/// The code of a `{"success": false}` answer.
pub const SUCCESS_FALSE: &str = "success_false";

/// What kind of call an answer belongs to: it decides [`Delivery`] and the meaning of 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A call that changes nothing the customer sees (`/me`, uploads, subscriptions, edits of
    /// nothing): a failure is [`Delivery::NotSent`].
    Read,
    /// `POST /messages`: a 5xx or an unreadable success may mean the message went out.
    Send,
    /// `GET /updates`: 405 is a webhook subscription in the way.
    Poll,
}

impl Call {
    fn delivery(self) -> Delivery {
        match self {
            Call::Send => Delivery::MaybeSent,
            Call::Read | Call::Poll => Delivery::NotSent,
        }
    }
}

/// The core error of a MAX error answer.
///
/// `api` is the decoded body (`None` when it was not MAX's error JSON). See the
/// [module docs](self) for the table.
///
/// ```
/// use connector_max::error::{from_api_error, Call};
/// use connector_max::wire::ApiError;
/// use messenger_core::ErrorKind;
/// use messenger_http::StatusCode;
/// let api = ApiError { code: Some("chat.denied".into()), message: Some("Key: error.dialog.suspended".into()), error: None };
/// let err = from_api_error(StatusCode::FORBIDDEN, &Default::default(), Some(&api), Call::Send);
/// assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
/// assert_eq!(err.platform_code(), Some("chat.denied"));
/// ```
pub fn from_api_error(
    status: StatusCode,
    headers: &HeaderMap,
    api: Option<&ApiError>,
    call: Call,
) -> Error {
    let code = api
        .and_then(|a| a.code.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let raw = api
        .and_then(|a| a.message.as_deref().filter(|m| !m.trim().is_empty()))
        .or_else(|| api.and_then(|a| a.error.as_deref()))
        .unwrap_or("");
    let description = if raw.trim().is_empty() {
        match code {
            Some(code) => format!("MAX answered HTTP {} ({code})", status.as_u16()),
            None => format!("MAX answered HTTP {}", status.as_u16()),
        }
    } else {
        sanitize(raw)
    };
    let status_code = status.as_u16().to_string();
    let base = |kind: ErrorKind| {
        Error::platform_error(code.unwrap_or(&status_code), description.clone())
            .with_kind(kind)
            .with_platform(MAX)
    };

    if status == StatusCode::TOO_MANY_REQUESTS {
        return Error::rate_limited(messenger_http::retry_after(headers))
            .with_platform(MAX)
            .with_code(code.unwrap_or("429"))
            // About 30 requests per second per bot (max.md §6): every chat of the account.
            .with_rate_scope(RateScope::Account);
    }
    if status.is_server_error() {
        return base(ErrorKind::Transport).with_delivery(call.delivery());
    }
    if call == Call::Poll && status == StatusCode::METHOD_NOT_ALLOWED {
        return Error::new(
            ErrorKind::Conflict,
            format!(
                "long polling is unavailable while a webhook subscription exists; remove it \
                 (DELETE /subscriptions) or receive by webhook ({description})"
            ),
        )
        .with_platform(MAX)
        .with_code(code.unwrap_or("405"));
    }
    let Some(code) = code else {
        return messenger_http::status_error(MAX, status, headers, call == Call::Send);
    };
    let lower_code = code.to_ascii_lowercase();
    let lower = raw.to_lowercase();
    match lower_code.as_str() {
        "verify.token" => base(ErrorKind::Unauthorized),
        "chat.denied" => base(ErrorKind::RecipientBlocked),
        NOT_READY => base(ErrorKind::Platform).with_retryable(true),
        _ if lower_code.contains("movie.not.owner") || lower.contains("movie.not.owner") => {
            Error::platform_error(
                code,
                format!(
                    "MAX refused to send the video: it says the bot does not own the uploaded \
                     video (errors.process.attachment.movie.not.owner; MAX's backend answered \
                     this to every video send in June 2026, and sending the file as a document \
                     worked around it): {description}"
                ),
            )
            .with_platform(MAX)
        }
        _ if lower_code.contains("extension")
            || (lower.contains("extension") && lower.contains("forbidden")) =>
        {
            base(ErrorKind::InvalidInput)
        }
        "not.found" => base(ErrorKind::NotFound),
        c if c.ends_with(".not.found") => base(ErrorKind::NotFound),
        _ => match status.as_u16() {
            401 => base(ErrorKind::Unauthorized),
            404 => base(ErrorKind::NotFound),
            413 => base(ErrorKind::TooLarge),
            _ => base(ErrorKind::Platform),
        },
    }
}

/// The core error of a non-success [`Answer`]: its body is read as MAX's error JSON where it is
/// one.
pub fn from_answer(answer: &Answer, call: Call) -> Error {
    let api = serde_json::from_slice::<ApiError>(&answer.body)
        .ok()
        .filter(|a| a.code.is_some());
    from_api_error(answer.status, &answer.headers, api.as_ref(), call)
}

/// Decodes a success body; an unreadable one is `Decode` (and [`Delivery::MaybeSent`] for a
/// send: MAX did act).
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &str, call: Call) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        let inner = Error::from(e);
        Error::decode(format!("{what}: {}", inner.message()))
            .with_platform(MAX)
            .with_delivery(call.delivery())
    })
}

/// Checks a `SimpleQueryResult`: `success: false` is an error with MAX's reason.
///
/// ```
/// use connector_max::error::check_success;
/// use connector_max::wire::SimpleQueryResult;
/// assert!(check_success(SimpleQueryResult { success: true, message: None }).is_ok());
/// let err = check_success(SimpleQueryResult { success: false, message: Some("message not found".into()) }).unwrap_err();
/// assert_eq!(err.platform_code(), Some("success_false"));
/// ```
pub fn check_success(result: SimpleQueryResult) -> Result<(), Error> {
    if result.success {
        return Ok(());
    }
    let description = result
        .message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map(sanitize)
        .unwrap_or_else(|| "MAX answered `success: false` without a reason".to_owned());
    Err(Error::platform_error(SUCCESS_FALSE, description).with_platform(MAX))
}

/// Whether `err` is MAX's `attachment.not.ready` (the only error the connector retries itself).
pub fn is_not_ready(err: &Error) -> bool {
    err.platform() == Some(MAX) && err.platform_code() == Some(NOT_READY)
}

/// The error of a send still refused with `attachment.not.ready` after `attempts` tries over
/// `waited`: `Platform` with code `attachment.not.ready`, not sent, retryable (MAX keeps the
/// upload; a later send can succeed).
///
/// ```
/// use std::time::Duration;
/// use connector_max::error::not_ready_exhausted;
/// let err = not_ready_exhausted(5, Duration::from_secs(15));
/// assert_eq!(err.platform_code(), Some("attachment.not.ready"));
/// assert!(err.is_retryable());
/// assert!(err.message().contains("5 attempts"));
/// ```
pub fn not_ready_exhausted(attempts: u32, waited: Duration) -> Error {
    Error::platform_error(
        NOT_READY,
        format!(
            "MAX was still processing the uploaded attachment after {attempts} attempts over \
             {:.1} s; nothing was sent, send again later",
            waited.as_secs_f64()
        ),
    )
    .with_platform(MAX)
    .with_delivery(Delivery::NotSent)
    .with_retryable(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn api(code: &str, message: &str) -> ApiError {
        ApiError {
            code: Some(code.into()),
            message: Some(message.into()),
            error: None,
        }
    }

    fn map(status: u16, code: &str, message: &str, call: Call) -> Error {
        from_api_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            Some(&api(code, message)),
            call,
        )
    }

    #[test]
    fn verify_token_is_unauthorized() {
        let err = map(401, "verify.token", "Invalid access_token", Call::Read);
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert_eq!(err.platform_code(), Some("verify.token"));
        assert_eq!(err.platform(), Some(Platform::Max));
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "max: unauthorized: Invalid access_token (code verify.token)"
        );
    }

    #[test]
    fn chat_denied_is_recipient_blocked_and_masks_ids() {
        let err = map(
            403,
            "chat.denied",
            "Key: error.dialog.suspended, args: [98423496,].",
            Call::Send,
        );
        assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
        assert_eq!(err.delivery(), Delivery::NotSent);
        assert!(!err.message().contains("98423496"), "{err}");
    }

    #[test]
    fn status_429_is_an_account_wide_rate_limit() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        for body in [None, Some(api("too.many.requests", "slow down"))] {
            let err = from_api_error(
                StatusCode::TOO_MANY_REQUESTS,
                &headers,
                body.as_ref(),
                Call::Send,
            );
            assert_eq!(err.kind(), ErrorKind::RateLimited);
            assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
            assert_eq!(err.rate_scope(), RateScope::Account);
            assert!(err.is_retryable());
        }
    }

    #[test]
    fn server_errors_are_retryable_and_maybe_sent_only_for_sends() {
        let send = map(500, "internal", "oops", Call::Send);
        assert_eq!(send.kind(), ErrorKind::Transport);
        assert_eq!(send.delivery(), Delivery::MaybeSent);
        assert!(send.is_retryable());
        let read = map(503, "unavailable", "later", Call::Read);
        assert_eq!(read.kind(), ErrorKind::Transport);
        assert_eq!(read.delivery(), Delivery::NotSent);
        assert!(read.is_retryable());
        // Without a MAX body too.
        let bare = from_api_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), None, Call::Send);
        assert_eq!(
            (bare.kind(), bare.delivery()),
            (ErrorKind::Transport, Delivery::MaybeSent)
        );
    }

    #[test]
    fn attachment_not_ready_is_a_retryable_platform_error() {
        let err = map(
            400,
            "attachment.not.ready",
            "Key: errors.process.attachment.file.not.processed",
            Call::Send,
        );
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert!(err.is_retryable());
        assert!(is_not_ready(&err));
        // The fixture's empty message still says what happened.
        let err = map(400, "attachment.not.ready", "", Call::Send);
        assert_eq!(
            err.message(),
            "MAX answered HTTP 400 (attachment.not.ready)"
        );
        assert!(!is_not_ready(&map(400, "chat.denied", "", Call::Send)));
    }

    #[test]
    fn a_forbidden_extension_is_invalid_input() {
        let err = map(
            400,
            "proto.payload",
            "File extension is forbidden",
            Call::Read,
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = map(400, "file.extension.forbidden", "", Call::Read);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn the_video_ownership_error_says_so() {
        let err = map(
            400,
            "proto.payload",
            "Key: errors.process.attachment.movie.not.owner",
            Call::Send,
        );
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert_eq!(err.platform_code(), Some("proto.payload"));
        assert!(
            err.message().contains("does not own the uploaded video"),
            "{err}"
        );
        assert!(!err.is_retryable());
        let err = map(
            400,
            "errors.process.attachment.movie.not.owner",
            "",
            Call::Send,
        );
        assert!(err.message().contains("does not own"), "{err}");
    }

    #[test]
    fn not_found_is_not_found() {
        assert_eq!(
            map(404, "not.found", "Message not found", Call::Read).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            map(400, "chat.not.found", "", Call::Read).kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn other_codes_are_platform_errors_with_the_code() {
        let err = map(
            400,
            "proto.payload",
            "text: size must be <= 4000",
            Call::Send,
        );
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert_eq!(err.platform_code(), Some("proto.payload"));
        assert_eq!(
            err.to_string(),
            "max: platform: text: size must be <= 4000 (code proto.payload)"
        );
        assert_eq!(
            map(401, "whatever", "", Call::Read).kind(),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            map(413, "whatever", "", Call::Read).kind(),
            ErrorKind::TooLarge
        );
    }

    #[test]
    fn a_405_while_polling_is_a_conflict() {
        let err = map(405, "method.not.allowed", "webhook is set", Call::Poll);
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(!err.is_retryable());
        assert!(err.message().contains("webhook subscription"), "{err}");
        let bare = from_api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &HeaderMap::new(),
            None,
            Call::Poll,
        );
        assert_eq!(bare.kind(), ErrorKind::Conflict);
        // Elsewhere 405 is just a refusal.
        assert_eq!(
            map(405, "method.not.allowed", "", Call::Read).kind(),
            ErrorKind::Platform
        );
    }

    #[test]
    fn without_a_max_body_the_status_decides() {
        for (status, kind) in [
            (401, ErrorKind::Unauthorized),
            (404, ErrorKind::NotFound),
            (413, ErrorKind::TooLarge),
            (418, ErrorKind::Platform),
        ] {
            let err = from_api_error(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                None,
                Call::Read,
            );
            assert_eq!(err.kind(), kind, "{status}");
        }
    }

    #[test]
    fn success_false_is_an_error() {
        let err = check_success(SimpleQueryResult {
            success: false,
            message: None,
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert!(err.message().contains("without a reason"));
    }
}
