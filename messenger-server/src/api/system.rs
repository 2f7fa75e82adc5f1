//! Health, readiness, metrics and the OpenAPI document.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::ServerState;

/// The OpenAPI 3 document of every route (hand-written, embedded).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 while the database answers, the outbox workers and the poll manager this
/// node started are running, and it is not shutting down; 503 otherwise, with the reasons.
pub(crate) async fn readyz(State(state): State<ServerState>) -> Response {
    let health = &state.inner.health;
    let mut problems = Vec::new();
    if health.shutting_down.load(Ordering::SeqCst) {
        problems.push("shutting down".to_owned());
    }
    let expected = health.workers_expected.load(Ordering::SeqCst);
    let alive = health.workers_alive.load(Ordering::SeqCst);
    if alive < expected {
        problems.push(format!("{alive} of {expected} outbox workers running"));
    }
    if health.pollers_expected.load(Ordering::SeqCst)
        && !health.pollers_alive.load(Ordering::SeqCst)
    {
        problems.push("the poll manager is not running".to_owned());
    }
    let database =
        match tokio::time::timeout(std::time::Duration::from_secs(3), state.inbox().ping()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(_)) => {
                problems.push("the database does not answer".to_owned());
                "failed"
            }
            Err(_) => {
                problems.push("the database did not answer within 3 s".to_owned());
                "timeout"
            }
        };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if problems.is_empty() { "ready" } else { "not_ready" },
            "database": database,
            "workers": {"expected": expected, "alive": alive},
            "problems": problems,
        })),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<ServerState>) -> Response {
    let body = crate::metrics::render(&state).await;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /api/openapi.json`.
pub(crate) async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
