//! Telegram's answer shapes: `{"ok":true,"result":...}` and the error envelope
//! `{"ok":false,"error_code":N,"description":"..."}` with the HTTP status equal to `error_code`
//! (and `parameters.retry_after` on 429), and its answers to injected faults.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::Fault;
use crate::server::json_response;

/// A Telegram error answer.
#[derive(Debug)]
pub(super) struct TgError {
    code: u16,
    pub(super) description: String,
    retry_after: Option<u64>,
}

impl TgError {
    pub(super) fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub(super) fn bad(what: &str) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    pub(super) fn too_many(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub(super) fn into_response(self) -> Response {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        json_response(
            StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST),
            &body,
        )
    }
}

pub(super) fn ok(result: Value) -> Value {
    json!({ "ok": true, "result": result })
}

pub(super) fn ok_described(result: Value, description: &str) -> Value {
    json!({ "ok": true, "result": result, "description": description })
}

/// `404 Not Found` in Telegram's envelope (unknown method).
pub(super) fn not_found() -> Response {
    TgError::new(404, "Not Found").into_response()
}

pub(super) fn fault_response(fault: &Fault) -> Response {
    match *fault {
        // `retry_after: 0`: a 429 without `parameters.retry_after`.
        Fault::RateLimited { retry_after: 0 } => {
            TgError::new(429, "Too Many Requests").into_response()
        }
        Fault::RateLimited { retry_after } => TgError::too_many(retry_after).into_response(),
        Fault::ServerError { status } => {
            let status = if (500..=599).contains(&status) {
                status
            } else {
                500
            };
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Internal Server Error");
            TgError::new(status, reason).into_response()
        }
        _ => TgError::new(500, "Internal Server Error").into_response(),
    }
}

/// `413 Request Entity Too Large`, as Telegram answers an oversized upload.
pub(super) fn too_large() -> TgError {
    TgError::new(413, "Request Entity Too Large")
}

/// `401 Unauthorized`: an unknown token.
pub(super) fn unauthorized() -> TgError {
    TgError::new(401, "Unauthorized")
}
