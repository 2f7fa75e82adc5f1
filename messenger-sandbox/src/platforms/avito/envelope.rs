//! Avito's answer shapes: plain JSON on success; on failure a non-2xx status with
//! `{"error": {"code": <the status>, "message", "fields"?}}` (avito.md §4, \[O2\] error
//! schemas); the token endpoint's refusals in the OAuth 2 shape `{"error", "error_description"}`
//! (UNCONFIRMED for Avito, the standard's); and the answers to injected faults.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::Fault;
use crate::server::{ErrorCode, json_response};

/// An API error answer.
#[derive(Debug)]
pub(super) struct AvitoError {
    status: u16,
    message: String,
    /// The fields a validation error names.
    fields: Option<Value>,
    retry_after: Option<u64>,
}

impl AvitoError {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            fields: None,
            retry_after: None,
        }
    }

    /// 400 `Validation error` naming a field.
    pub(super) fn validation(field: &str, why: &str) -> Self {
        Self {
            fields: Some(json!({ field: why })),
            ..Self::new(400, "Validation error")
        }
    }

    /// 400 with a message.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 401: no token, or one the platform never issued.
    pub(super) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    /// 403: an expired token (avito.md §1: "after expiry, calls return 403"), a token without
    /// the scope, or another account's path.
    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// 404.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 429 with `Retry-After` and the `X-RateLimit-*` headers (the numbers are UNCONFIRMED).
    pub(super) fn too_many(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, "Too many requests")
        }
    }

    pub(super) fn into_response(self) -> Response {
        let mut error = json!({ "code": self.status, "message": self.message });
        if let Some(fields) = self.fields {
            error["fields"] = fields;
        }
        let mut response = json_response(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            &json!({ "error": error }),
        );
        if let Some(secs) = self.retry_after {
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("60"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        }
        response
            .extensions_mut()
            .insert(ErrorCode(self.status.to_string()));
        response
    }
}

/// A success answer, or the error's.
pub(super) fn answer(result: Result<Value, AvitoError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

/// `{"ok": true}`.
pub(super) fn ok() -> Value {
    json!({ "ok": true })
}

/// A refusal of the token endpoint or the consent page, in the OAuth 2 shape.
pub(super) fn oauth_error(status: u16, error: &'static str, description: &str) -> Response {
    let mut response = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &json!({ "error": error, "error_description": description }),
    );
    response
        .extensions_mut()
        .insert(ErrorCode(error.to_string()));
    response
}

/// Avito's answer to a fault that stops a request before it is processed.
pub(super) fn fault_response(fault: &Fault) -> Response {
    match *fault {
        // `retry_after: 0`: a 429 without `Retry-After`.
        Fault::RateLimited { retry_after: 0 } => {
            AvitoError::new(429, "Too many requests").into_response()
        }
        Fault::RateLimited { retry_after } => AvitoError::too_many(retry_after).into_response(),
        Fault::ServerError { status } => AvitoError::new(
            if (500..=599).contains(&status) {
                status
            } else {
                500
            },
            "Error while processing request. Please, contact support",
        )
        .into_response(),
        _ => AvitoError::new(
            500,
            "Error while processing request. Please, contact support",
        )
        .into_response(),
    }
}

/// The query parameters of a request; a repeated name (`voice_ids=a&voice_ids=b`) keeps every
/// value, in order.
pub(super) fn query(uri: &axum::http::Uri) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(q) = uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            out.entry(k.into_owned()).or_default().push(v.into_owned());
        }
    }
    out
}

/// The first value of a query parameter, trimmed, where it is not empty.
pub(super) fn first<'a>(query: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    query
        .get(name)?
        .first()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// An integer query parameter within `range`, or its default.
pub(super) fn int_param(
    query: &HashMap<String, Vec<String>>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, AvitoError> {
    let value = match first(query, name) {
        None => default,
        Some(v) => v
            .parse()
            .map_err(|_| AvitoError::validation(name, "expected an integer"))?,
    };
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(AvitoError::validation(
            name,
            &format!("must be within {}..{}", range.start(), range.end()),
        ))
    }
}

/// A boolean query parameter (`true`/`false`/`1`/`0`), `false` when absent.
pub(super) fn bool_param(
    query: &HashMap<String, Vec<String>>,
    name: &str,
) -> Result<bool, AvitoError> {
    match first(query, name) {
        None => Ok(false),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(AvitoError::validation(name, "expected true or false")),
    }
}

/// Every value of a list parameter, whether repeated (`a=1&a=2`), written with brackets
/// (`a[]=1`) or comma-joined (`a=1,2`).
pub(super) fn list_param(query: &HashMap<String, Vec<String>>, name: &str) -> Vec<String> {
    let bracketed = format!("{name}[]");
    query
        .get(name)
        .into_iter()
        .chain(query.get(&bracketed))
        .flatten()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}
