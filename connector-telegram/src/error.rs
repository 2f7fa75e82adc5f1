//! Telegram errors -> the core [`Error`]: the one place Bot API error codes are mapped.
//!
//! The body is always parsed; the class is keyed on the body's `error_code`, with the HTTP
//! status as the fallback (they are usually equal, and the docs call `error_code` "subject to
//! change"). Descriptions are Telegram's own text (`Bad Request: chat not found`), never message
//! content; transport errors are stripped of their URL, which carries the bot token.
//!
//! | code | description | kind |
//! |---|---|---|
//! | 429 | `Too Many Requests: retry after N` | `RateLimited` with `parameters.retry_after` |
//! | 403 | `bot was blocked by the user`, `user is deactivated`, `bot was kicked...`, `bot can't initiate conversation...` | `RecipientBlocked` |
//! | 400 | `message is too long`, `text is too long`, `caption is too long`, `file is too big` | `TooLarge` |
//! | 400 | `chat not found`, `user not found`, `message to be replied not found` | `NotFound` |
//! | 400 | `wrong file identifier`, `wrong file_id or the file is temporarily unavailable`, `wrong remote file identifier`, `invalid file_id` | `NotFound` (see below) |
//! | 400 | with `parameters.migrate_to_chat_id` | `Platform`, the new chat id in the message |
//! | 400 | anything else (`can't parse entities`, `message text is empty`...) | `InvalidInput` |
//! | 401 | `Unauthorized` | `Unauthorized` |
//! | 404 | `Not Found` (the `/bot<token>/` path is unknown: a bad token) | `Unauthorized` |
//! | 409 | `Conflict: terminated by other getUpdates request` / `webhook is active` | `Conflict` |
//! | 413 | `Request Entity Too Large` | `TooLarge` |
//! | 5xx | | `Transport`, retryable, `MaybeSent` |
//! | other | | `Platform` with the code |
//!
//! A wrong `file_id` is mapped to `NotFound`: file ids are per bot, so an id from another bot, a
//! mistyped one and an expired one all mean "this bot cannot see that media"; the caller's fix
//! is to upload the bytes again, not to change other parameters. It is not retryable.
//!
//! Network errors are `Transport`: [`Delivery::NotSent`] when no connection could be made
//! (`is_connect`), [`Delivery::MaybeSent`] otherwise (a timeout or a failure after the request
//! was written may have reached Telegram). A body that is not JSON is `Decode`, except where the
//! HTTP status alone says what happened (5xx, 429, 413, 401: proxies answer those in HTML).

use std::time::Duration;

use messenger_core::{Delivery, Error, ErrorKind, Platform};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::wire::{ApiError, ApiResponse};

/// Maps a Telegram `ok: false` answer to the core error.
///
/// `http_status` is the fallback when the body carries no `error_code`.
///
/// ```
/// use connector_telegram::error::from_api_error;
/// use connector_telegram::wire::ApiError;
/// use messenger_core::ErrorKind;
/// let err = from_api_error(403, &ApiError {
///     error_code: Some(403),
///     description: Some("Forbidden: bot was blocked by the user".into()),
///     parameters: None,
/// });
/// assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
/// assert_eq!(err.platform_code(), Some("403"));
/// ```
pub fn from_api_error(http_status: u16, api: &ApiError) -> Error {
    let code = api.error_code.unwrap_or(i64::from(http_status));
    let description = api
        .description
        .as_deref()
        .map(sanitize)
        .unwrap_or_else(|| format!("HTTP {http_status}"));
    let lower = description.to_ascii_lowercase();
    let params = api.parameters.unwrap_or_default();

    let base = Error::platform_error(code.to_string(), description.clone())
        .with_platform(Platform::Telegram);
    match code {
        429 => Error::rate_limited(params.retry_after.map(Duration::from_secs))
            .with_platform(Platform::Telegram)
            .with_code("429"),
        401 | 404 => base.with_kind(ErrorKind::Unauthorized),
        403 => base.with_kind(ErrorKind::RecipientBlocked),
        409 => base.with_kind(ErrorKind::Conflict),
        413 => base.with_kind(ErrorKind::TooLarge),
        400 => {
            if let Some(new_id) = params.migrate_to_chat_id {
                Error::platform_error(
                    "400",
                    format!("{description}; the group is now the supergroup {new_id}"),
                )
                .with_platform(Platform::Telegram)
            } else if lower.contains("too long") || lower.contains("too big") {
                base.with_kind(ErrorKind::TooLarge)
            } else if lower.contains("not found")
                || lower.contains("wrong file")
                || lower.contains("wrong remote file")
                || lower.contains("invalid file_id")
                || lower.contains("invalid file id")
            {
                base.with_kind(ErrorKind::NotFound)
            } else {
                base.with_kind(ErrorKind::InvalidInput)
            }
        }
        500..=599 => base
            .with_kind(ErrorKind::Transport)
            .with_delivery(Delivery::MaybeSent),
        _ => base,
    }
}

/// Decodes a Bot API answer: the result on `ok: true`, the mapped error otherwise.
///
/// ```
/// use connector_telegram::error::decode_response;
/// use messenger_core::ErrorKind;
/// let n: i64 = decode_response(200, br#"{"ok":true,"result":5}"#).unwrap();
/// assert_eq!(n, 5);
/// let err = decode_response::<i64>(502, b"<html>Bad Gateway</html>").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Transport);
/// let err = decode_response::<i64>(200, b"not json").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Decode);
/// ```
pub fn decode_response<T: DeserializeOwned>(http_status: u16, body: &[u8]) -> Result<T, Error> {
    match serde_json::from_slice::<ApiResponse<T>>(body) {
        Ok(ApiResponse::Ok(result)) => Ok(result),
        Ok(ApiResponse::Err(api)) => Err(from_api_error(http_status, &api)),
        Err(json_err) => {
            // Not an envelope: a proxy page, a truncated body, or a result of the wrong shape.
            let status = StatusCode::from_u16(http_status).unwrap_or(StatusCode::OK);
            if status.is_server_error() || matches!(http_status, 401 | 404 | 413 | 429) {
                return Err(from_api_error(http_status, &ApiError::default()));
            }
            Err(Error::from(json_err)
                .with_platform(Platform::Telegram)
                .with_code(http_status.to_string()))
        }
    }
}

/// Maps a reqwest error to `Transport`, without the URL (it carries the token).
pub fn from_reqwest(err: reqwest::Error) -> Error {
    let err = err.without_url();
    let (what, delivery) = if err.is_connect() {
        ("could not connect to the Bot API", Delivery::NotSent)
    } else if err.is_timeout() {
        ("the Bot API did not answer in time", Delivery::MaybeSent)
    } else if err.is_builder() {
        return Error::invalid_input("the request could not be built")
            .with_platform(Platform::Telegram)
            .with_source(err);
    } else if err.is_body() || err.is_decode() {
        (
            "the connection failed while reading the answer",
            Delivery::MaybeSent,
        )
    } else {
        (
            "the connection failed during the request",
            Delivery::MaybeSent,
        )
    };
    let message = match std::error::Error::source(&err) {
        Some(source) => format!("{what}: {}", sanitize(&source.to_string())),
        None => what.to_owned(),
    };
    Error::transport(message)
        .with_platform(Platform::Telegram)
        .with_delivery(delivery)
        .with_source(err)
}

/// Keeps a platform description short and on one line.
fn sanitize(text: &str) -> String {
    const MAX: usize = 300;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ResponseParameters;

    fn api(code: i64, description: &str) -> ApiError {
        ApiError {
            error_code: Some(code),
            description: Some(description.to_owned()),
            parameters: None,
        }
    }

    #[test]
    fn flood_control_carries_retry_after() {
        let mut e = api(429, "Too Many Requests: retry after 14");
        e.parameters = Some(ResponseParameters {
            retry_after: Some(14),
            migrate_to_chat_id: None,
        });
        let err = from_api_error(429, &e);
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(14)));
        assert!(err.is_retryable());
    }

    #[test]
    fn every_forbidden_is_recipient_blocked() {
        for d in [
            "Forbidden: bot was blocked by the user",
            "Forbidden: user is deactivated",
            "Forbidden: bot was kicked from the group chat",
            "Forbidden: bot can't initiate conversation with a user",
        ] {
            let err = from_api_error(403, &api(403, d));
            assert_eq!(err.kind(), ErrorKind::RecipientBlocked, "{d}");
            assert!(!err.is_retryable());
            assert_eq!(err.delivery(), Delivery::NotSent);
        }
    }

    #[test]
    fn too_long_is_too_large() {
        for d in [
            "Bad Request: message is too long",
            "Bad Request: text is too long",
            "Bad Request: message caption is too long",
            "Bad Request: file is too big",
        ] {
            assert_eq!(
                from_api_error(400, &api(400, d)).kind(),
                ErrorKind::TooLarge,
                "{d}"
            );
        }
    }

    #[test]
    fn missing_things_are_not_found() {
        for d in [
            "Bad Request: chat not found",
            "Bad Request: wrong file identifier/HTTP URL specified",
            "Bad Request: wrong file_id or the file is temporarily unavailable",
            "Bad Request: message to be replied not found",
        ] {
            assert_eq!(
                from_api_error(400, &api(400, d)).kind(),
                ErrorKind::NotFound,
                "{d}"
            );
        }
    }

    #[test]
    fn migration_names_the_new_chat() {
        let mut e = api(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
        );
        e.parameters = Some(ResponseParameters {
            migrate_to_chat_id: Some(-1001234567890),
            retry_after: None,
        });
        let err = from_api_error(400, &e);
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert!(err.message().contains("-1001234567890"), "{err}");
    }

    #[test]
    fn other_bad_requests_are_invalid_input() {
        let err = from_api_error(400, &api(400, "Bad Request: can't parse entities"));
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn status_codes() {
        assert_eq!(
            from_api_error(401, &api(401, "Unauthorized")).kind(),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            from_api_error(404, &api(404, "Not Found")).kind(),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            from_api_error(
                409,
                &api(409, "Conflict: terminated by other getUpdates request")
            )
            .kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            from_api_error(413, &api(413, "Request Entity Too Large")).kind(),
            ErrorKind::TooLarge
        );
        let e = from_api_error(502, &api(502, "Bad Gateway"));
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::MaybeSent);
        let e = from_api_error(420, &api(420, "Flood"));
        assert_eq!(e.kind(), ErrorKind::Platform);
        assert_eq!(e.platform_code(), Some("420"));
    }

    #[test]
    fn error_code_wins_over_status() {
        let err = from_api_error(200, &api(403, "Forbidden: bot was blocked by the user"));
        assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
        let err = from_api_error(
            403,
            &ApiError {
                error_code: None,
                description: None,
                parameters: None,
            },
        );
        assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn non_json_bodies() {
        assert_eq!(
            decode_response::<bool>(200, b"<html>").unwrap_err().kind(),
            ErrorKind::Decode
        );
        assert_eq!(
            decode_response::<bool>(400, b"<html>").unwrap_err().kind(),
            ErrorKind::Decode
        );
        assert_eq!(
            decode_response::<bool>(503, b"").unwrap_err().kind(),
            ErrorKind::Transport
        );
        assert_eq!(
            decode_response::<bool>(413, b"<html>413</html>")
                .unwrap_err()
                .kind(),
            ErrorKind::TooLarge
        );
        // A result of the wrong shape is a decode error, and does not quote the body.
        let err =
            decode_response::<i64>(200, br#"{"ok":true,"result":"secret text"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.to_string().contains("secret"));
    }
}
