//! The API's one error shape: `{"error":{"kind":"...","message":"..."}}` with the HTTP status
//! its kind implies. Messages never carry message content, tokens or passwords.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messenger_inbox::{InboxError, InboxErrorKind};
use serde_json::json;

/// An error answered by the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable kind (`unauthenticated`, `forbidden`, `malformed_json`...).
    pub kind: &'static str,
    /// What went wrong, for people (never content).
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `status`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 401: no valid credentials.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 400: the request is not what the route takes.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 404 for a thing that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 404 for a path no route serves.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no_route",
            "no route serves this path",
        )
    }

    /// 405 for a method the route does not take.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the route does not take this method",
        )
    }

    /// 413: the body is over the route's limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over this route's limit of {limit} bytes"),
        )
    }

    /// 429: too many attempts.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; try again in {retry_after} s"),
        )
    }

    /// 500 without details.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<InboxError> for ApiError {
    fn from(e: InboxError) -> Self {
        let status = match e.kind() {
            InboxErrorKind::Forbidden => StatusCode::FORBIDDEN,
            InboxErrorKind::NotFound => StatusCode::NOT_FOUND,
            InboxErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            InboxErrorKind::Conflict => StatusCode::CONFLICT,
            InboxErrorKind::Blocked
            | InboxErrorKind::Anonymised
            | InboxErrorKind::OptedOut
            | InboxErrorKind::ModuleInactive
            | InboxErrorKind::PlatformSuspended
            | InboxErrorKind::AccountSuspended => StatusCode::CONFLICT,
            InboxErrorKind::UnsolicitedLimit => StatusCode::TOO_MANY_REQUESTS,
            InboxErrorKind::Messenger => StatusCode::BAD_GATEWAY,
            InboxErrorKind::Storage => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(kind = %e.kind(), "request failed");
        }
        // A refusal by right says nothing about the target.
        let message = if e.kind() == InboxErrorKind::Forbidden {
            "the acting employee may not do this".to_owned()
        } else {
            e.message().to_owned()
        };
        Self::new(status, e.kind().as_str(), message)
    }
}

impl From<messenger_core::Error> for ApiError {
    fn from(e: messenger_core::Error) -> Self {
        ApiError::from(InboxError::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"kind": self.kind, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::ErrorKindTag(self.kind));
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;
