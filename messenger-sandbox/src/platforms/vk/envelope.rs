//! VK's answer shapes (vk.md §1): `{"response": ...}`, and errors as
//! `{"error": {"error_code", "error_msg", "request_params": [{"key", "value"}]}}` inside an
//! HTTP 200, as VK answers them; method parameters from the query string and a form-encoded
//! body; and VK's answers to injected faults.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::Fault;
use crate::server::json_response;

/// A VK API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VkError {
    pub code: i64,
    pub msg: String,
}

impl VkError {
    pub(super) fn new(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// 100: a missing or invalid parameter, named after the colon as VK names it.
    pub(super) fn param(what: &str) -> Self {
        Self::new(
            100,
            format!("One of the parameters specified was missing or invalid: {what}"),
        )
    }

    /// 5: an unknown or revoked token.
    pub(super) fn auth_invalid() -> Self {
        Self::new(5, "User authorization failed: invalid access_token (4).")
    }

    /// 5: no token at all.
    pub(super) fn auth_missing() -> Self {
        Self::new(5, "User authorization failed: no access_token passed.")
    }

    /// 900: the user blacklisted the community.
    pub(super) fn blacklisted() -> Self {
        Self::new(900, "Can't send messages for users from blacklist")
    }

    /// 901: the user never wrote or allowed messages, or denied them.
    pub(super) fn no_permission() -> Self {
        Self::new(901, "Can't send messages for users without permission")
    }

    /// 917: a group chat the community is not in.
    pub(super) fn no_chat_access() -> Self {
        Self::new(917, "You don't have access to this chat")
    }

    /// The error object as it appears inside a `peer_ids` answer item
    /// (`base_message_error`: `{code, description}`).
    pub(super) fn item(&self) -> Value {
        json!({ "code": self.code, "description": self.msg })
    }

    /// The HTTP 200 answer with the error and the call's parameters (the token left out).
    pub(super) fn into_response(self, method: &str, params: &Params) -> Response {
        let mut request_params = vec![
            json!({ "key": "method", "value": method }),
            json!({ "key": "oauth", "value": "1" }),
        ];
        for (key, value) in &params.0 {
            if key != "access_token" {
                request_params.push(json!({ "key": key, "value": value }));
            }
        }
        json_response(
            StatusCode::OK,
            &json!({ "error": {
                "error_code": self.code,
                "error_msg": self.msg,
                "request_params": request_params,
            }}),
        )
    }
}

/// `{"response": value}`.
pub(super) fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, &json!({ "response": value }))
}

/// VK's answer to a fault that stops a request before processing: error 6 for a rate limit
/// (VK gives no retry-after, so the fault's is not sent), and the fault's 5xx status with
/// error 10 ("Internal server error") otherwise.
pub(super) fn fault_response(fault: &Fault) -> Response {
    match *fault {
        Fault::RateLimited { .. } => json_response(
            StatusCode::OK,
            &json!({ "error": { "error_code": 6, "error_msg": "Too many requests per second" } }),
        ),
        Fault::ServerError { status } => json_response(
            StatusCode::from_u16(status)
                .ok()
                .filter(StatusCode::is_server_error)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &json!({ "error": { "error_code": 10, "error_msg": "Internal server error" } }),
        ),
        _ => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": { "error_code": 10, "error_msg": "Internal server error" } }),
        ),
    }
}

/// A plain-text answer (the media and long-poll hosts' 4xx).
pub(super) fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The parameters of one call, in the order given (query string first, then the body).
#[derive(Default)]
pub(super) struct Params(pub Vec<(String, String)>);

impl Params {
    /// The last value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `name`, when it is not blank.
    pub(super) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// An integer parameter; a value that is not one is error 100 naming it.
    pub(super) fn int(&self, name: &str) -> Result<Option<i64>, VkError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| VkError::param(&format!("{name} not integer"))),
        }
    }

    /// A comma-separated list of integers.
    pub(super) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, VkError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(v) => v
                .split(',')
                .map(|p| p.trim().parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
                .map_err(|_| VkError::param(&format!("{name} is invalid"))),
        }
    }

    /// `1` / `true`.
    pub(super) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| matches!(v.trim(), "1" | "true"))
    }
}

/// The query string and a form-encoded body (at most `limit` bytes; above it: 413).
pub(super) async fn read_params(req: Request, limit: usize) -> Result<Params, Response> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        params
            .0
            .extend(url::form_urlencoded::parse(query.as_bytes()).into_owned());
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"))?;
    if !body.is_empty() && is_form {
        params
            .0
            .extend(url::form_urlencoded::parse(&body).into_owned());
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_take_the_last_value_and_parse_lists() {
        let p = Params(vec![
            ("a".into(), "1".into()),
            ("a".into(), "2".into()),
            ("ids".into(), "3, 4".into()),
            ("bad".into(), "x".into()),
        ]);
        assert_eq!(p.get("a"), Some("2"));
        assert_eq!(p.ints("ids").unwrap(), Some(vec![3, 4]));
        assert_eq!(p.int("bad").unwrap_err().code, 100);
        assert_eq!(p.int("missing").unwrap(), None);
    }
}
