//! Telegram errors -> the core [`Error`]: the one place Bot API error codes and descriptions are
//! mapped.
//!
//! The body is always parsed; the class is keyed on the body's `error_code`, with the HTTP
//! status as the fallback (they are usually equal, and the docs call `error_code` "subject to
//! change"). Descriptions are Telegram's own text (`Bad Request: chat not found`), never message
//! content, made safe by [`messenger_http::sanitize`].
//!
//! | code | description | kind |
//! |---|---|---|
//! | 429 | `Too Many Requests: retry after N` | `RateLimited` with `parameters.retry_after`, [`RateScope::Chat`] |
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
//! An answer that is not the Bot API's envelope (a proxy's page) is mapped by its HTTP status
//! alone through [`messenger_http::status_error`] where the status says enough (5xx, 429, 413,
//! 401, and 404, which on the Bot API means a bad token), and is `Decode` otherwise. Network
//! failures, `Retry-After` and body caps are [`messenger_http`]'s.

use std::time::Duration;

use messenger_core::{Delivery, Error, ErrorKind, Platform, RateScope};
use messenger_http::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::wire::{ApiError, ApiResponse};

const TG: Platform = Platform::Telegram;

/// Maps a Telegram `ok: false` answer to the core error.
///
/// `http_status` is the fallback when the body carries no `error_code`; `0` means the body
/// came without an HTTP status (a body given to [`crate::parse`]).
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
///
/// // Nothing to go by but the status: the message says so.
/// let err = from_api_error(400, &ApiError::default());
/// assert_eq!(err.to_string(), "telegram: invalid_input: HTTP 400; Telegram gave no description (code 400)");
/// ```
pub fn from_api_error(http_status: u16, api: &ApiError) -> Error {
    let http = (http_status != 0).then_some(http_status);
    let Some(code) = api.error_code.or(http.map(i64::from)) else {
        return Error::new(
            ErrorKind::Platform,
            "Telegram answered `ok: false` without an error code or a description",
        )
        .with_platform(TG);
    };
    let description = match (&api.description, http) {
        (Some(d), _) => messenger_http::sanitize(d),
        (None, Some(status)) => format!("HTTP {status}; Telegram gave no description"),
        (None, None) => "Telegram gave no description".to_owned(),
    };
    let lower = description.to_ascii_lowercase();
    let params = api.parameters.unwrap_or_default();

    let base = Error::platform_error(code.to_string(), description.clone()).with_platform(TG);
    match code {
        429 => Error::rate_limited(params.retry_after.map(Duration::from_secs))
            .with_platform(TG)
            .with_code("429")
            // Telegram's flood control is reported per chat (1 msg/s in a private chat, 20/min
            // in a group: telegram.md §7).
            .with_rate_scope(RateScope::Chat),
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
                .with_platform(TG)
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
/// A body that is not the envelope is mapped by its status (see the [module docs](self)); an
/// unreadable success is `Decode` and [`Delivery::MaybeSent`] (the call may have been done).
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
/// assert_eq!(err.message(), "the answer is not a Bot API answer: malformed JSON at line 1 column 2");
/// ```
pub fn decode_response<T: DeserializeOwned>(http_status: u16, body: &[u8]) -> Result<T, Error> {
    let status = StatusCode::from_u16(http_status).unwrap_or(StatusCode::OK);
    decode_answer(status, &HeaderMap::new(), body, true)
}

/// [`decode_response`] with the answer's headers (`Retry-After`) and whether the call changes
/// something the customer sees (for [`Delivery`]).
pub(crate) fn decode_answer<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    changes: bool,
) -> Result<T, Error> {
    match serde_json::from_slice::<ApiResponse<T>>(body) {
        Ok(ApiResponse::Ok(result)) => Ok(result),
        Ok(ApiResponse::Err(api)) => {
            let err = from_api_error(status.as_u16(), &api);
            // Telegram puts the wait in `parameters`; a proxy's Retry-After is the fallback.
            Err(
                if err.kind() == ErrorKind::RateLimited && err.retry_after().is_none() {
                    err.with_retry_after(messenger_http::retry_after(headers))
                } else {
                    err
                },
            )
        }
        Err(json_err) => {
            // Not an envelope: a proxy page, a truncated body, or a result of the wrong shape.
            let code = status.as_u16();
            if status.is_server_error() || matches!(code, 401 | 404 | 413 | 429) {
                let err = messenger_http::status_error(TG, status, headers, changes);
                // On the Bot API an unknown path is an unknown token.
                return Err(if code == 404 {
                    err.with_kind(ErrorKind::Unauthorized)
                } else {
                    err
                });
            }
            let err = json_error("the answer is not a Bot API answer", &json_err, body)
                .with_code(code.to_string());
            Err(if status.is_success() && changes {
                err.with_delivery(Delivery::MaybeSent)
            } else {
                err
            })
        }
    }
}

/// A `Decode` error that says what failed and where, never quoting the body: serde_json's own
/// message can quote a value ("invalid type: string \"...\""), which may be message content.
///
/// `what` says what was being read ("the body is not a Telegram update"). The position is
/// given only where serde_json knows it.
pub(crate) fn json_error(what: &str, err: &serde_json::Error, body: &[u8]) -> Error {
    use serde_json::error::Category;
    let detail = match err.classify() {
        Category::Io => "an I/O error".to_owned(),
        Category::Syntax => "malformed JSON".to_owned(),
        Category::Eof if body.iter().all(u8::is_ascii_whitespace) => {
            return Error::decode(format!("{what}: the body is empty")).with_platform(TG);
        }
        Category::Eof => "the JSON ends early".to_owned(),
        Category::Data => data_detail(err),
    };
    let message = if err.line() > 0 {
        format!(
            "{what}: {detail} at line {} column {}",
            err.line(),
            err.column()
        )
    } else {
        format!("{what}: {detail}")
    };
    Error::decode(message).with_platform(TG)
}

/// What a data error says, from the parts of serde_json's message that come from the types
/// (field names, the expected type), never from the body.
fn data_detail(err: &serde_json::Error) -> String {
    let text = err.to_string();
    // serde_json appends " at line L column C".
    let text = match text.rfind(" at line ") {
        Some(cut) => &text[..cut],
        None => text.as_str(),
    };
    for prefix in ["missing field `", "duplicate field `"] {
        if let Some(rest) = text.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            return format!("{prefix}{}`", &rest[..end]);
        }
    }
    match text.rfind(", expected ") {
        Some(at) => format!(
            "a value of the wrong type (expected {})",
            &text[at + ", expected ".len()..]
        ),
        None => "a value of an unexpected shape".to_owned(),
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
        assert_eq!(err.rate_scope(), RateScope::Chat);
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
    fn an_empty_refusal_says_what_is_known() {
        // With an HTTP status: the status, and that Telegram said nothing more.
        let err = from_api_error(400, &ApiError::default());
        let text = err.to_string();
        assert!(
            text.contains("HTTP 400") && text.contains("no description"),
            "{text}"
        );
        assert!(
            !text.contains("HTTP 0") && !text.contains("code 0"),
            "{text}"
        );
        // A code but no description and no status.
        let err = from_api_error(
            0,
            &ApiError {
                error_code: Some(403),
                ..ApiError::default()
            },
        );
        assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
        assert_eq!(
            err.to_string(),
            "telegram: recipient_blocked: Telegram gave no description (code 403)"
        );
        // Nothing at all.
        let err = from_api_error(0, &ApiError::default());
        assert_eq!(err.kind(), ErrorKind::Platform);
        assert_eq!(err.platform_code(), None);
        assert_eq!(
            err.to_string(),
            "telegram: platform: Telegram answered `ok: false` without an error code or a description"
        );
    }

    #[test]
    fn a_429_without_parameters_takes_the_retry_after_header() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "9".parse().unwrap());
        let err = decode_answer::<bool>(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests"}"#,
            true,
        )
        .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));
        assert_eq!(err.rate_scope(), RateScope::Chat);
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
        assert_eq!(
            decode_response::<bool>(404, b"<html>404</html>")
                .unwrap_err()
                .kind(),
            ErrorKind::Unauthorized
        );
        // A result of the wrong shape is a decode error, and does not quote the body.
        let err =
            decode_response::<i64>(200, br#"{"ok":true,"result":"secret text"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.message().contains("expected i64"), "{err}");
    }

    #[test]
    fn decode_messages_say_what_failed_and_where() {
        let read = |body: &[u8]| {
            let e = serde_json::from_slice::<crate::wire::Update>(body).unwrap_err();
            json_error("the body is not a Telegram update", &e, body)
                .message()
                .to_owned()
        };
        assert_eq!(
            read(b""),
            "the body is not a Telegram update: the body is empty"
        );
        assert_eq!(
            read(b"{\"update_id\":"),
            "the body is not a Telegram update: the JSON ends early at line 1 column 13"
        );
        assert_eq!(
            read(b"{\"message\":{}}"),
            "the body is not a Telegram update: missing field `message_id` at line 1 column 13"
        );
        assert_eq!(
            read(br#"{"update_id":1,"update_id":2}"#),
            "the body is not a Telegram update: duplicate field `update_id` at line 1 column 26"
        );
        let m = read(br#"{"update_id":"secret"}"#);
        assert_eq!(
            m,
            "the body is not a Telegram update: a value of the wrong type (expected i64) at line 1 column 21"
        );
        // serde_json's positions of a decode from a `Value` are 0: never shown.
        let value = serde_json::json!({"update_id": "x"});
        let e = serde_json::from_value::<crate::wire::Update>(value).unwrap_err();
        let m = json_error("the body is not a Telegram update", &e, b"")
            .message()
            .to_owned();
        assert!(!m.contains("line 0"), "{m}");
    }
}
