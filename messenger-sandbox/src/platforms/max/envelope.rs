//! MAX's answer shapes: plain JSON on success, and on failure a non-2xx status with
//! `{"code": "<key>", "message": "<text>"}` (max.md §2), including its answers to injected
//! faults and to the per-bot rate limit (429 with `Retry-After`).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::Fault;
use crate::server::{ErrorCode, json_response};

/// A MAX error answer.
#[derive(Debug)]
pub(super) struct MaxError {
    status: u16,
    code: &'static str,
    pub(super) message: String,
    retry_after: Option<u64>,
}

impl MaxError {
    pub(super) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `proto.payload`: a parameter or a body MAX cannot take.
    pub(super) fn payload(message: impl Into<String>) -> Self {
        Self::new(400, "proto.payload", message)
    }

    /// 401 `verify.token`: a missing or unknown token (max.md §2).
    pub(super) fn verify_token() -> Self {
        Self::new(401, "verify.token", "Invalid access_token")
    }

    /// 404 `not.found`.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not.found", message)
    }

    /// 405 `method.not.allowed`.
    pub(super) fn method_not_allowed() -> Self {
        Self::new(405, "method.not.allowed", "Method not allowed")
    }

    /// 403 `chat.denied` of a dialog whose user stopped the bot (max.md §2, §7).
    pub(super) fn dialog_suspended(chat_id: i64) -> Self {
        Self::new(
            403,
            "chat.denied",
            format!("Key: error.dialog.suspended, args: [{chat_id},]."),
        )
    }

    /// 400 `attachment.not.ready`: MAX still processes the upload (max.md §4 step 4).
    pub(super) fn not_ready() -> Self {
        Self::new(
            400,
            "attachment.not.ready",
            "Key: errors.process.attachment.file.not.processed",
        )
    }

    /// 429 with `Retry-After` (the body is UNCONFIRMED: MAX's `{code, message}` shape).
    pub(super) fn too_many(retry_after: u64) -> Self {
        Self {
            status: 429,
            code: "too.many.requests",
            message: "Too many requests".to_string(),
            retry_after: Some(retry_after),
        }
    }

    pub(super) fn into_response(self) -> Response {
        let mut response = json_response(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            &json!({ "code": self.code, "message": self.message }),
        );
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
            .extensions_mut()
            .insert(ErrorCode(self.code.to_string()));
        response
    }
}

/// A success answer, or the error's.
pub(super) fn answer(result: Result<Value, MaxError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

/// `{"success": true}` (`SimpleQueryResult`).
pub(super) fn success() -> Value {
    json!({ "success": true })
}

/// A `SimpleQueryResult` that says no, with HTTP 200 (max.md §2).
pub(super) fn refusal(message: &str) -> Value {
    json!({ "success": false, "message": message })
}

/// MAX's answer to a fault that stops a request before it is processed.
pub(super) fn fault_response(fault: &Fault) -> Response {
    match *fault {
        // `retry_after: 0`: a 429 without `Retry-After`.
        Fault::RateLimited { retry_after: 0 } => {
            MaxError::new(429, "too.many.requests", "Too many requests").into_response()
        }
        Fault::RateLimited { retry_after } => MaxError::too_many(retry_after).into_response(),
        Fault::ServerError { status } => {
            let status = if (500..=599).contains(&status) {
                status
            } else {
                500
            };
            MaxError::new(status, "internal.error", "Internal server error").into_response()
        }
        _ => MaxError::new(500, "internal.error", "Internal server error").into_response(),
    }
}

/// A body that is not JSON, with its content type (the XML `<retval>` of video and audio
/// uploads).
pub(super) fn raw(content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The query parameters of a request.
pub(super) fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// An integer query parameter (absent or empty: `None`).
pub(super) fn int_param(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, MaxError> {
    match query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| MaxError::payload(format!("Invalid {name}: expected an integer"))),
    }
}
