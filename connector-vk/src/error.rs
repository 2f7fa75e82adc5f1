//! VK error codes mapped to [`ErrorKind`]s, once, with a test per code.
//!
//! VK answers errors inside a normal HTTP response (`{"error": {"error_code", "error_msg",
//! "request_params", ...}}`, usually with status 200), so the body decides; the HTTP status
//! ([`messenger_http::status_error`]) decides only where the body is not VK's envelope (a
//! proxy's page, an empty 502).
//!
//! | code | VK name ([S errors.json]) | kind | notes |
//! |---|---|---|---|
//! | 1 | `api_error_unknown` | `Transport`, retryable | `MaybeSent` for a send |
//! | 5 | `api_error_auth` | `Unauthorized` | token invalid or revoked |
//! | 6 | `api_error_too_many` | `RateLimited` (account) | 20 requests/s per community; no retry-after: the core's backoff |
//! | 7 | `api_error_permission` | `Unauthorized` | the token lacks a right |
//! | 9 | `api_error_flood` | `RateLimited` (chat) | too many similar messages; no retry-after |
//! | 10 | `api_error_server` | `Transport`, retryable | `MaybeSent` for a send (see below) |
//! | 14 | `api_error_captcha` | `Platform` code 14, not retryable | [`captcha`] gives the sid and image |
//! | 15 | `api_error_access` | `Unauthorized` | |
//! | 18 | `api_error_user_deleted` | `RecipientBlocked` | user deleted or banned |
//! | 22 | `api_error_upload` | `InvalidInput` | the parameter named |
//! | 27 | `api_error_group_auth` | `Unauthorized` | |
//! | 29 | `api_error_rate_limit` | `RateLimited` (account) | a per-method quota; no retry-after |
//! | 100 | `api_error_param` | `InvalidInput` | the parameter named |
//! | 104 | `api_error_not_found` | `NotFound` | |
//! | 113 | `api_error_param_user_id` | `InvalidInput` | |
//! | 203 | `api_error_access_group` | `Unauthorized` | |
//! | 900 | `messages_user_blocked` | `RecipientBlocked` | the user blacklisted the community |
//! | 901 | `messages_deny_send` | `OptedOut` | no consent: the user never allowed messages, or denied them |
//! | 902 | `messages_privacy` | `RecipientBlocked` | the user's privacy settings |
//! | 911 | `messages_keyboard_invalid` | `InvalidInput` | |
//! | 912 | `messages_chat_bot_feature` | `Platform` | bot features are off in the community settings |
//! | 913 | `messages_too_long_forwards` | `TooLarge` | |
//! | 914 | `messages_too_long_message` | `TooLarge` | |
//! | 917 | `messages_chat_user_no_access` | `RecipientBlocked` | |
//! | 932 | `messages_group_peer_access` | `RecipientBlocked` | |
//! | 943 | `messages_intent_cant_use` | `InvalidInput` | |
//! | 944 | `messages_intent_limit_overflow` | `Platform` | an intent's quota |
//! | 945 | `messages_chat_disabled` | `RecipientBlocked` | |
//! | 946 | `messages_chat_unsupported` | `Unsupported` | |
//! | 950 | `messages_peer_blocked_reason_by_time` | `OutsideReplyWindow` | "reply timed out" |
//! | 985 | `messages_group_for_notifications_only` | `Platform` | |
//! | 987, 988 | `messages_need_message_request`, `messages_pending_message_request` | `OptedOut` | the user has to accept a message request first |
//! | other | | `Platform` with the code | |
//!
//! **Codes 1 and 10 on a send** are `MaybeSent`: an internal error can come after the message
//! was stored. Because every send carries a `random_id` that VK de-duplicates, a keyed send is
//! safe to retry ([`crate::retry_policy`]); without a key it is reported as it is.
//!
//! Error messages are VK's English descriptions, [sanitised](messenger_http::sanitize); for
//! 100 and 22 only the parameter's name is kept (VK's text can quote a value), and
//! `request_params` values (which include the message text) are never read.

use std::fmt;

use messenger_core::error::RateScope;
use messenger_core::{Delivery, Error, ErrorKind, Platform, Result};
use messenger_http::{Answer, sanitize, status_error};
use serde::de::DeserializeOwned;

use crate::wire::{ApiError, Envelope, PeerError, UploadError};

const VK: Platform = Platform::Vk;

/// Error 14's captcha, attached to the error as its source: the operator opens
/// [`img`](Captcha::img), reads the code, and the call is repeated with `captcha_sid` and
/// `captcha_key` (which this connector does not do by itself).
///
/// ```
/// use connector_vk::error::{captcha, from_api_error};
/// use connector_vk::wire::ApiError;
/// let api = ApiError {
///     error_code: 14,
///     error_msg: "Captcha needed".into(),
///     captcha_sid: Some("548167405542".into()),
///     captcha_img: Some("https://api.vk.com/captcha.php?sid=548167405542".into()),
///     ..ApiError::default()
/// };
/// let err = from_api_error(&api, true);
/// assert_eq!(err.platform_code(), Some("14"));
/// let c = captcha(&err).unwrap();
/// assert_eq!(c.sid(), "548167405542");
/// assert!(c.img().unwrap().starts_with("https://api.vk.com/captcha.php"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captcha {
    sid: String,
    img: Option<String>,
}

impl Captcha {
    /// The captcha's id (`captcha_sid`).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The image to show the operator (`captcha_img`).
    pub fn img(&self) -> Option<&str> {
        self.img.as_deref()
    }
}

impl fmt::Display for Captcha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VK asks for a captcha (captcha_sid {})", self.sid)
    }
}

impl std::error::Error for Captcha {}

/// The captcha of an error 14, where `err` is one.
pub fn captcha(err: &Error) -> Option<&Captcha> {
    std::error::Error::source(err)?.downcast_ref::<Captcha>()
}

/// The first identifier after the last `": "` of a parameter error's message, where it names
/// a parameter of the call (or one this connector sends).
fn parameter_name(api: &ApiError) -> Option<String> {
    const SENT: &[&str] = &[
        "peer_id",
        "peer_ids",
        "random_id",
        "message",
        "attachment",
        "reply_to",
        "forward",
        "group_id",
        "message_id",
        "message_ids",
        "cmid",
        "cmids",
        "start_message_id",
        "up_to_cmid",
        "type",
        "photo",
        "server",
        "hash",
        "file",
        "title",
        "user_id",
    ];
    let (_, tail) = api.error_msg.rsplit_once(": ")?;
    let token: String = tail
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let known = SENT.contains(&token.as_str()) || api.param_keys().any(|k| k == token);
    (known && !token.is_empty()).then_some(token)
}

fn description(api: &ApiError) -> String {
    if api.error_msg.trim().is_empty() {
        format!("VK error {}", api.error_code)
    } else {
        sanitize(&api.error_msg)
    }
}

/// Maps VK's `error` object; `is_send` marks a call that may deliver a message
/// (`messages.send`), for [`Delivery::MaybeSent`].
pub fn from_api_error(api: &ApiError, is_send: bool) -> Error {
    let code = api.error_code;
    let base = |kind: ErrorKind| {
        Error::platform_error(code.to_string(), description(api))
            .with_platform(VK)
            .with_kind(kind)
    };
    let maybe_sent = if is_send {
        Delivery::MaybeSent
    } else {
        Delivery::NotSent
    };
    let err = match code {
        1 | 10 => base(ErrorKind::Transport).with_delivery(maybe_sent),
        5 | 7 | 15 | 27 | 203 => base(ErrorKind::Unauthorized),
        6 | 29 => base(ErrorKind::RateLimited)
            .with_retry_after(None)
            .with_rate_scope(RateScope::Account),
        9 => base(ErrorKind::RateLimited)
            .with_retry_after(None)
            .with_rate_scope(RateScope::Chat),
        14 => {
            let captcha = Captcha {
                sid: api.captcha_sid.clone().unwrap_or_default(),
                img: api.captcha_img.clone(),
            };
            Error::platform_error(
                "14",
                format!(
                    "VK asks for a captcha (captcha_sid {}); an operator must solve it",
                    captcha.sid
                ),
            )
            .with_platform(VK)
            .with_retryable(false)
            .with_source(captcha)
        }
        22 | 100 | 113 => {
            let message = match parameter_name(api) {
                Some(name) => format!("VK refused the parameter `{name}`"),
                None => "VK refused a parameter (missing or invalid)".to_owned(),
            };
            Error::platform_error(code.to_string(), message)
                .with_platform(VK)
                .with_kind(ErrorKind::InvalidInput)
        }
        104 => base(ErrorKind::NotFound),
        18 | 900 | 902 | 917 | 932 | 945 => base(ErrorKind::RecipientBlocked),
        901 | 987 | 988 => base(ErrorKind::OptedOut),
        911 | 943 => base(ErrorKind::InvalidInput),
        913 | 914 => base(ErrorKind::TooLarge),
        946 => base(ErrorKind::Unsupported),
        950 => base(ErrorKind::OutsideReplyWindow),
        _ => base(ErrorKind::Platform),
    };
    tracing::debug!(code, kind = %err.kind(), "vk api error");
    err
}

/// Maps the `error` of one recipient of `messages.send` with `peer_ids`.
pub fn from_peer_error(err: &PeerError, is_send: bool) -> Error {
    from_api_error(
        &ApiError {
            error_code: err.code,
            error_msg: err.description.clone().unwrap_or_default(),
            ..ApiError::default()
        },
        is_send,
    )
}

/// Maps an upload server's refusal (`{error, error_code?, error_descr?}`): `InvalidInput`,
/// with VK's code where given (its description can quote the file name, so it is not kept).
pub fn from_upload_error(err: &UploadError) -> Error {
    let code = err
        .error_code
        .map_or_else(|| "upload".to_owned(), |c| c.to_string());
    Error::platform_error(code, "the VK upload server refused the file")
        .with_platform(VK)
        .with_kind(ErrorKind::InvalidInput)
}

/// Decodes a method's answer: the `response` as `T`, VK's `error` mapped by
/// [`from_api_error`], the HTTP status where the body is not VK's envelope, and `Decode`
/// otherwise (`MaybeSent` for a send: VK may have acted).
pub fn decode_answer<T: DeserializeOwned>(answer: &Answer, is_send: bool) -> Result<T> {
    let envelope = serde_json::from_slice::<Envelope>(&answer.body)
        .ok()
        .filter(Envelope::is_envelope);
    let maybe = if is_send {
        Delivery::MaybeSent
    } else {
        Delivery::NotSent
    };
    match envelope {
        Some(Envelope {
            error: Some(api), ..
        }) => Err(from_api_error(&api, is_send)),
        Some(Envelope {
            response: Some(value),
            ..
        }) if answer.is_success() => serde_json::from_value(value).map_err(|e| {
            Error::from(e)
                .with_platform(VK)
                .with_delivery(maybe)
                .with_retryable(false)
        }),
        _ if !answer.is_success() => Err(status_error(VK, answer.status, &answer.headers, is_send)),
        _ => Err(Error::decode("VK answered without `response` or `error`")
            .with_platform(VK)
            .with_delivery(maybe)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_http::StatusCode;
    use serde_json::json;

    fn api(code: i64, msg: &str) -> ApiError {
        ApiError {
            error_code: code,
            error_msg: msg.into(),
            ..ApiError::default()
        }
    }

    fn kind(code: i64) -> ErrorKind {
        from_api_error(&api(code, "x"), false).kind()
    }

    fn answer(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: body.to_string().into(),
        }
    }

    #[test]
    fn code_1_unknown_is_retryable_transport_and_maybe_sent_for_a_send() {
        let e = from_api_error(&api(1, "Unknown error occurred"), true);
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::MaybeSent);
        assert_eq!(e.platform_code(), Some("1"));
        assert_eq!(
            from_api_error(&api(1, "x"), false).delivery(),
            Delivery::NotSent
        );
    }

    #[test]
    fn code_5_auth_is_unauthorized() {
        let e = from_api_error(
            &api(5, "User authorization failed: invalid access_token (4)."),
            false,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(!e.is_retryable());
        assert_eq!(e.platform(), Some(Platform::Vk));
    }

    #[test]
    fn code_6_too_many_rps_is_an_account_wide_rate_limit_without_retry_after() {
        let e = from_api_error(&api(6, "Too many requests per second"), true);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.rate_scope(), RateScope::Account);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::NotSent);
    }

    #[test]
    fn code_7_permission_is_unauthorized() {
        assert_eq!(kind(7), ErrorKind::Unauthorized);
    }

    #[test]
    fn code_9_flood_is_a_chat_rate_limit() {
        let e = from_api_error(&api(9, "Flood control"), true);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.rate_scope(), RateScope::Chat);
    }

    #[test]
    fn code_10_server_is_retryable_and_maybe_sent_for_a_send() {
        let e = from_api_error(&api(10, "Internal server error"), true);
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_retryable());
        assert_eq!(e.delivery(), Delivery::MaybeSent);
    }

    #[test]
    fn code_14_captcha_is_typed_and_exposes_sid_and_image() {
        let raw: ApiError = serde_json::from_value(json!({
            "error_code": 14, "error_msg": "Captcha needed",
            "captcha_sid": 548167405542_i64, "captcha_img": "https://api.vk.com/captcha.php?sid=548167405542&s=1",
            "request_params": [{"key": "message", "value": "Тайный текст"}]
        }))
        .unwrap();
        let e = from_api_error(&raw, true);
        assert_eq!(e.kind(), ErrorKind::Platform);
        assert_eq!(e.platform_code(), Some("14"));
        assert!(!e.is_retryable());
        let c = captcha(&e).expect("the captcha is attached");
        assert_eq!(c.sid(), "548167405542");
        assert_eq!(
            c.img(),
            Some("https://api.vk.com/captcha.php?sid=548167405542&s=1")
        );
        assert!(e.to_string().contains("548167405542"));
        assert!(!format!("{e:?}").contains("Тайный"));
        assert!(captcha(&from_api_error(&api(5, "x"), false)).is_none());
    }

    #[test]
    fn code_15_access_is_unauthorized() {
        assert_eq!(kind(15), ErrorKind::Unauthorized);
    }

    #[test]
    fn code_18_deleted_user_is_recipient_blocked() {
        assert_eq!(kind(18), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_22_upload_names_the_parameter() {
        let e = from_api_error(&api(22, "Upload error: photo is undefined"), false);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.message(), "VK refused the parameter `photo`");
    }

    #[test]
    fn code_27_group_auth_is_unauthorized() {
        assert_eq!(kind(27), ErrorKind::Unauthorized);
    }

    #[test]
    fn code_29_rate_limit_is_account_wide_without_retry_after() {
        let e = from_api_error(&api(29, "Rate limit reached"), false);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.rate_scope(), RateScope::Account);
        assert!(e.is_retryable());
    }

    #[test]
    fn code_100_names_the_parameter_and_never_quotes_a_value() {
        let mut raw = api(
            100,
            "One of the parameters specified was missing or invalid: peer_id param is incorrect",
        );
        raw.request_params = vec![crate::wire::RequestParam {
            key: "message".into(),
            value: json!("Привет, это личный текст"),
        }];
        let e = from_api_error(&raw, true);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.message(), "VK refused the parameter `peer_id`");
        assert!(!e.to_string().contains("Привет"));
        // An unknown word after the colon is not repeated.
        let e = from_api_error(
            &api(
                100,
                "One of the parameters specified was missing or invalid: Привет",
            ),
            true,
        );
        assert_eq!(e.message(), "VK refused a parameter (missing or invalid)");
        // A parameter of the call, named by request_params.
        let mut raw = api(100, "Invalid parameter: keyboard is malformed");
        raw.request_params = vec![crate::wire::RequestParam {
            key: "keyboard".into(),
            value: json!("{}"),
        }];
        assert_eq!(
            from_api_error(&raw, true).message(),
            "VK refused the parameter `keyboard`"
        );
    }

    #[test]
    fn code_104_is_not_found() {
        assert_eq!(kind(104), ErrorKind::NotFound);
    }

    #[test]
    fn code_113_user_id_is_invalid_input() {
        assert_eq!(kind(113), ErrorKind::InvalidInput);
    }

    #[test]
    fn code_203_group_access_is_unauthorized() {
        assert_eq!(kind(203), ErrorKind::Unauthorized);
    }

    #[test]
    fn code_900_blacklisted_is_recipient_blocked() {
        assert_eq!(kind(900), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_901_without_permission_is_opted_out() {
        let e = from_api_error(
            &api(901, "Can't send messages for users without permission"),
            true,
        );
        assert_eq!(e.kind(), ErrorKind::OptedOut);
        assert_eq!(e.delivery(), Delivery::NotSent);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "vk: opted_out: Can't send messages for users without permission (code 901)"
        );
    }

    #[test]
    fn code_902_privacy_is_recipient_blocked() {
        assert_eq!(kind(902), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_911_keyboard_is_invalid_input() {
        assert_eq!(kind(911), ErrorKind::InvalidInput);
    }

    #[test]
    fn code_912_bot_feature_is_platform() {
        assert_eq!(kind(912), ErrorKind::Platform);
    }

    #[test]
    fn code_913_too_many_forwards_is_too_large() {
        assert_eq!(kind(913), ErrorKind::TooLarge);
    }

    #[test]
    fn code_914_too_long_is_too_large() {
        assert_eq!(kind(914), ErrorKind::TooLarge);
    }

    #[test]
    fn code_917_no_access_to_chat_is_recipient_blocked() {
        assert_eq!(kind(917), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_932_peer_access_is_recipient_blocked() {
        assert_eq!(kind(932), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_943_intent_is_invalid_input() {
        assert_eq!(kind(943), ErrorKind::InvalidInput);
    }

    #[test]
    fn code_944_intent_quota_is_platform() {
        assert_eq!(kind(944), ErrorKind::Platform);
    }

    #[test]
    fn code_945_chat_disabled_is_recipient_blocked() {
        assert_eq!(kind(945), ErrorKind::RecipientBlocked);
    }

    #[test]
    fn code_946_chat_unsupported_is_unsupported() {
        assert_eq!(kind(946), ErrorKind::Unsupported);
    }

    #[test]
    fn code_950_reply_timed_out_is_outside_the_reply_window() {
        assert_eq!(kind(950), ErrorKind::OutsideReplyWindow);
    }

    #[test]
    fn code_985_notifications_only_is_platform() {
        assert_eq!(kind(985), ErrorKind::Platform);
    }

    #[test]
    fn codes_987_and_988_message_requests_are_opted_out() {
        assert_eq!(kind(987), ErrorKind::OptedOut);
        assert_eq!(kind(988), ErrorKind::OptedOut);
    }

    #[test]
    fn other_codes_are_platform_with_the_code() {
        let e = from_api_error(&api(3, "Unknown method passed"), false);
        assert_eq!(e.kind(), ErrorKind::Platform);
        assert_eq!(e.platform_code(), Some("3"));
        assert_eq!(
            from_api_error(&api(4242, ""), false).message(),
            "VK error 4242"
        );
    }

    #[test]
    fn descriptions_are_sanitised() {
        let e = from_api_error(&api(902, "Can't send to 79991234567\nnow"), true);
        assert_eq!(e.message(), "Can't send to <number> now");
    }

    #[test]
    fn a_peer_error_maps_like_an_api_error() {
        let e = from_peer_error(
            &PeerError {
                code: 901,
                description: Some("no permission".into()),
            },
            true,
        );
        assert_eq!(e.kind(), ErrorKind::OptedOut);
    }

    #[test]
    fn an_upload_refusal_is_invalid_input_without_the_description() {
        let e = from_upload_error(&UploadError {
            error: json!("ERR_UPLOAD_BAD_FILE"),
            error_code: Some(3),
            error_descr: Some("passport-scan.pdf is broken".into()),
        });
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.platform_code(), Some("3"));
        assert!(!e.to_string().contains("passport"));
        let e = from_upload_error(&UploadError::default());
        assert_eq!(e.platform_code(), Some("upload"));
    }

    #[test]
    fn answers_decode_by_body_first_then_status() {
        // HTTP 200 with an error: the error.
        let a = answer(
            200,
            json!({"error": {"error_code": 5, "error_msg": "auth"}}),
        );
        assert_eq!(
            decode_answer::<i64>(&a, false).unwrap_err().kind(),
            ErrorKind::Unauthorized
        );
        // A proxy's 502 page: the status.
        let mut a = answer(502, json!(null));
        a.body = "<html>bad gateway</html>".into();
        let e = decode_answer::<i64>(&a, true).unwrap_err();
        assert_eq!(
            (e.kind(), e.delivery()),
            (ErrorKind::Transport, Delivery::MaybeSent)
        );
        // A 429 without envelope: rate limited.
        let a = answer(429, json!({}));
        assert_eq!(
            decode_answer::<i64>(&a, false).unwrap_err().kind(),
            ErrorKind::RateLimited
        );
        // A success.
        assert_eq!(
            decode_answer::<i64>(&answer(200, json!({"response": 346})), true).unwrap(),
            346
        );
        // A 200 without either: Decode, MaybeSent for a send.
        let e = decode_answer::<i64>(&answer(200, json!({"ok": true})), true).unwrap_err();
        assert_eq!(
            (e.kind(), e.delivery()),
            (ErrorKind::Decode, Delivery::MaybeSent)
        );
        // A response of the wrong shape: Decode, never quoting the body.
        let e =
            decode_answer::<i64>(&answer(200, json!({"response": "Секрет"})), true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(!e.to_string().contains("Секрет"));
    }
}
