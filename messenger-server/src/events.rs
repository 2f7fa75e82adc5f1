//! `GET /api/events`: the employee's notifications as server-sent events.
//!
//! Authenticated by `Authorization: Bearer` (a `fetch` stream, an API client) or by a one-use
//! ticket in `?ticket=` (a browser's `EventSource`, which cannot set headers: see
//! [`crate::auth`]). The stream starts with `event: ready`; each notification is one event
//! named after its type (`new_message`, `status`, `maybe_sent`, `assigned`, `contact_changed`,
//! `subject_request`, `grants_changed`, `resync`) whose `data` is the notification's JSON (ids
//! only: the page reads content through the API, by right). A comment every 15 s keeps
//! proxies from closing it. It ends when the session expires or is revoked, the employee is
//! removed, or the server shuts down; a client reconnects and re-reads state (`ready` means:
//! re-read).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use messenger_inbox::{Notification, TokenKind};

use crate::auth::{bearer, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;

/// The SSE event name of a notification.
pub fn event_name(n: &Notification) -> &'static str {
    match n {
        Notification::NewMessage { .. } => "new_message",
        Notification::Status { .. } => "status",
        Notification::MaybeSent { .. } => "maybe_sent",
        Notification::Assigned { .. } => "assigned",
        Notification::ContactChanged { .. } => "contact_changed",
        Notification::SubjectRequest { .. } => "subject_request",
        Notification::GrantsChanged { .. } => "grants_changed",
        Notification::Resync => "resync",
        _ => "notification",
    }
}

/// Decrements the open-stream gauge when the stream is dropped.
struct StreamGauge(ServerState);

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0
            .metrics()
            .event_streams
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// The route.
pub(crate) async fn events(State(state): State<ServerState>, req: Request) -> Response {
    match open(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn open(state: ServerState, req: Request) -> ApiResult<Response> {
    let (parts, _) = req.into_parts();
    let inbox = state.inbox();
    let ticket = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "ticket")
            .map(|(_, v)| v.into_owned())
    });
    // (the employee, the session to watch: `None` for a ticket or an API key)
    let (employee, session) = match (bearer(&parts), ticket) {
        (Some(token), _) => {
            let hash = token_hash(token);
            let t = inbox
                .authenticate(&hash, &[TokenKind::Session, TokenKind::ApiKey])
                .await?
                .ok_or_else(|| {
                    ApiError::unauthenticated("the token is unknown, expired or revoked")
                })?;
            let watch = (t.kind == TokenKind::Session).then_some(hash);
            (t.employee, watch)
        }
        (None, Some(ticket)) => {
            let t = inbox
                .consume_ticket(&token_hash(&ticket))
                .await?
                .ok_or_else(|| {
                    ApiError::unauthenticated("the ticket is unknown, expired or used")
                })?;
            (t.employee, None)
        }
        (None, None) => {
            return Err(ApiError::unauthenticated(
                "send Authorization: Bearer <token>, or ?ticket= from POST /api/auth/ticket",
            ));
        }
    };
    let notifications = inbox.subscribe(employee).await?;
    state.metrics().event_streams.fetch_add(1, Ordering::SeqCst);
    let gauge = StreamGauge(state.clone());
    let shutdown = state.shutdown_signal();
    let check_every = Duration::from_secs(30);
    let ready = futures::stream::once(async move {
        Ok::<_, Infallible>(
            Event::default()
                .event("ready")
                .data(serde_json::json!({"employee": employee}).to_string()),
        )
    });
    let watch_state = state.clone();
    let body = futures::stream::unfold(
        (notifications, gauge, tokio::time::Instant::now()),
        move |(mut notifications, gauge, mut checked)| {
            let state = watch_state.clone();
            let session = session.clone();
            let mut shutdown = shutdown.clone();
            async move {
                loop {
                    if *shutdown.borrow() {
                        return None;
                    }
                    let recheck = tokio::time::sleep_until(checked + check_every);
                    tokio::select! {
                        n = notifications.next() => {
                            let n = n?;
                            let data = serde_json::to_string(&n).unwrap_or_else(|_| "{}".to_owned());
                            let event = Event::default().event(event_name(&n)).data(data);
                            return Some((Ok::<_, Infallible>(event), (notifications, gauge, checked)));
                        }
                        _ = shutdown.changed() => return None,
                        () = recheck => {
                            checked = tokio::time::Instant::now();
                            // A session signed out or expired ends its streams.
                            if let Some(hash) = &session {
                                match state.inbox().authenticate(hash, &[TokenKind::Session]).await {
                                    Ok(Some(_)) => {}
                                    Ok(None) => return None,
                                    Err(_) => {}
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    let stream = ready.chain(body);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(state.options().keep_alive))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(response)
}
