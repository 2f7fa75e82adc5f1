//! Graph's error shape `{"error":{"message","type","code","error_subcode","error_data",
//! "fbtrace_id"}}` with its HTTP statuses and headers, and its answers to injected faults.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::Fault;
use crate::server::json_response;
use crate::state::random_alnum;

/// A Graph API error answer.
#[derive(Debug)]
pub(super) struct GraphError {
    pub http: u16,
    code: i64,
    message: String,
    kind: &'static str,
    subcode: Option<i64>,
    details: Option<String>,
    transient: bool,
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub(super) fn new(http: u16, code: i64, message: impl Into<String>) -> Self {
        Self {
            http,
            code,
            message: message.into(),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: false,
            retry_after: None,
        }
    }

    pub(super) fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Code 100: an invalid or missing parameter.
    pub(super) fn param(message: &str) -> Self {
        Self::new(400, 100, format!("(#100) {message}"))
    }

    pub(super) fn invalid_token() -> Self {
        Self::new(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    pub(super) fn missing_token() -> Self {
        Self::new(
            401,
            104,
            "An access token is required to request this resource.",
        )
    }

    /// An object that does not exist or that this token may not use.
    pub(super) fn no_object(method: &Method, id: &str) -> Self {
        let mut e = Self::new(
            400,
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.as_str().to_ascii_lowercase()
            ),
        );
        e.kind = "GraphMethodException";
        e.subcode = Some(33);
        e
    }

    pub(super) fn unknown_path(edge: &str) -> Self {
        Self::new(400, 2500, format!("Unknown path components: /{edge}"))
    }

    /// 130429: the number's throughput (whatsapp.md §9).
    pub(super) fn throughput() -> Self {
        let mut e = Self::new(400, 130_429, "(#130429) Rate limit hit").details(
            "Message failed to send because there were too many messages sent from this phone number in a short period of time",
        );
        e.subcode = Some(2_494_055);
        e
    }

    /// 131056: the (business, consumer) pair rate (whatsapp.md §9).
    pub(super) fn pair_limit() -> Self {
        Self::new(400, 131_056, "(#131056) (Business Account, Consumer Account) pair rate limit hit").details(
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time",
        )
    }

    pub(super) fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": format!("A{}", random_alnum(22)),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        let mut response = json_response(
            StatusCode::from_u16(self.http).unwrap_or(StatusCode::BAD_REQUEST),
            &json!({ "error": error }),
        );
        if let Some(retry_after) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.http == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\""),
            );
        }
        response
    }
}

/// Graph's answer to a fault that stops a request before processing.
pub(super) fn fault_response(fault: &Fault) -> Response {
    match *fault {
        Fault::RateLimited { retry_after } => {
            let mut e = GraphError::throughput();
            e.http = 429;
            // `retry_after: 0`: a 429 without `Retry-After`.
            e.retry_after = Some(retry_after).filter(|secs| *secs > 0);
            e.into_response()
        }
        Fault::ServerError { status } => {
            let status = if (500..=599).contains(&status) {
                status
            } else {
                500
            };
            let mut e = if status == 503 {
                GraphError::new(status, 2, "Service temporarily unavailable")
            } else {
                GraphError::new(status, 1, "An unknown error occurred")
            };
            e.transient = true;
            e.into_response()
        }
        _ => GraphError::new(500, 1, "An unknown error occurred").into_response(),
    }
}

/// A Graph answer: 200 with the body, or the error.
pub(super) fn graph_result(result: Result<Value, GraphError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

/// A plain-text answer (the media host's 404s).
pub(super) fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}
