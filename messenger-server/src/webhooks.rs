//! Webhook intake: `POST|GET /webhooks/{platform}/{account}` for every connected account.
//!
//! In order: the body's size (413 over the limit, unread); the account (404 when it does not
//! exist or is of another platform); the account's connector verifies the delivery through the
//! layer stack's `handle_webhook` (signature, secret header, URL token: fail closed) before
//! anything is stored; then `Inbox::ingest` stores the events idempotently. The platform gets
//! exactly the response the connector chose (a challenge, a confirmation string, `ok`), or the
//! connector's error mapping (401 for a failed verification) — and 500 when storing failed, so
//! that it delivers again. Nothing of the body, its headers or the query is logged.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{ErrorKind, Platform};
use messenger_inbox::{AccountKey, InboxErrorKind};

use crate::error::ApiError;
use crate::state::ServerState;

fn respond(response: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (status, response.body).into_response();
    if let Some(ct) = response.content_type {
        out.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
    }
    out
}

/// The webhook route (both methods).
pub(crate) async fn webhook(
    State(state): State<ServerState>,
    Path((raw_platform, raw_account)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let metrics = state.metrics();
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            metrics.count(
                "webhook_requests_total",
                &[
                    ("platform", raw_platform.as_str()),
                    ("outcome", "too_large"),
                ],
            );
            tracing::warn!(status = status.as_u16(), "webhook body refused unread");
            return if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(state.options().webhook_body_bytes).into_response()
            } else {
                ApiError::invalid("the body could not be read").into_response()
            };
        }
    };
    let Ok(platform) = raw_platform.parse::<Platform>() else {
        return ApiError::not_found("no such platform").into_response();
    };
    let label = platform.as_str();
    let unknown = || {
        metrics.count(
            "webhook_requests_total",
            &[("platform", label), ("outcome", "unknown_account")],
        );
        ApiError::not_found("no such account").into_response()
    };
    let Ok(key) = raw_account.parse::<AccountKey>() else {
        return unknown();
    };
    let account = match state.inbox().account_unchecked(key).await {
        Ok(a) if a.platform == platform => a,
        Ok(_) => return unknown(),
        Err(e) if e.kind() == InboxErrorKind::NotFound => return unknown(),
        Err(e) => {
            tracing::warn!(kind = %e.kind(), "webhook: the account could not be read");
            return respond(WebhookResponse {
                status: 500,
                content_type: None,
                body: Bytes::new(),
            });
        }
    };
    let request = WebhookRequest {
        method: method.as_str().to_owned(),
        query,
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    let messenger = match state.messenger(&account).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(account = key.0, kind = %e.kind(), "webhook: the account's connector could not be built");
            metrics.count(
                "webhook_requests_total",
                &[("platform", label), ("outcome", "failed")],
            );
            return respond(WebhookResponse::for_error(&messenger_core::Error::new(
                ErrorKind::Unauthorized,
                "the account cannot be built",
            )));
        }
    };
    let outcome = match messenger.handle_webhook(&request).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let outcome = if e.kind() == ErrorKind::WebhookRejected {
                metrics.count(
                    "webhook_verification_failures_total",
                    &[("platform", label)],
                );
                "rejected"
            } else {
                "refused"
            };
            metrics.count(
                "webhook_requests_total",
                &[("platform", label), ("outcome", outcome)],
            );
            tracing::info!(account = key.0, platform = label, kind = %e.kind(), "webhook delivery not taken");
            return respond(WebhookResponse::for_error(&e));
        }
    };
    if !outcome.events.is_empty() {
        match state.inbox().ingest(key, &outcome.events).await {
            Ok(report) => {
                metrics.add(
                    "intake_events_total",
                    &[("platform", label), ("source", "webhook")],
                    outcome.events.len() as u64,
                );
                metrics.add(
                    "intake_messages_total",
                    &[("platform", label), ("source", "webhook")],
                    report.messages,
                );
                metrics.add(
                    "intake_duplicates_total",
                    &[("platform", label), ("source", "webhook")],
                    report.duplicates,
                );
                tracing::debug!(
                    account = key.0,
                    events = outcome.events.len(),
                    messages = report.messages,
                    "webhook delivery stored"
                );
            }
            Err(e) => {
                metrics.count(
                    "intake_failures_total",
                    &[
                        ("platform", label),
                        ("source", "webhook"),
                        ("kind", e.kind().as_str()),
                    ],
                );
                metrics.count(
                    "webhook_requests_total",
                    &[("platform", label), ("outcome", "failed")],
                );
                tracing::warn!(account = key.0, kind = %e.kind(), "webhook delivery could not be stored");
                // Refused by the rules (the module went inactive meanwhile): the platform is told
                // so; a storage failure is a 500, so that it delivers again.
                let core = messenger_core::Error::from(e);
                return respond(WebhookResponse::for_error(&core));
            }
        }
    }
    metrics.count(
        "webhook_requests_total",
        &[("platform", label), ("outcome", "accepted")],
    );
    respond(outcome.response)
}
