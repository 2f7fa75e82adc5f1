//! A webhook receiver on loopback: every request goes through
//! [`Messenger::handle_webhook`] (verify, then parse),
//! the platform gets the exact response the connector chose, and the events come out of a
//! channel. `messenger listen --platform whatsapp` and `messenger demo` use it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messenger_core::webhook::{WebhookRequest, WebhookResponse};
use messenger_core::{InboundEvent, Messenger, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The verified, parsed events, in the order they arrived.
    pub events: mpsc::UnboundedReceiver<Result<InboundEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// The URL to register as the webhook.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Ctx {
    messenger: Arc<dyn Messenger>,
    events: mpsc::UnboundedSender<Result<InboundEvent>>,
}

/// Starts a receiver for `messenger` on `addr` (use `127.0.0.1:0` for any free port).
pub async fn start(messenger: Arc<dyn Messenger>, addr: &str) -> std::io::Result<Receiver> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        messenger,
        events: tx,
    });
    let app = Router::new().fallback(handle).with_state(ctx);
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::warn!(error = %err, "webhook receiver stopped");
        }
    });
    Ok(Receiver {
        addr: local,
        events: rx,
        task,
    })
}

async fn handle(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = WebhookRequest {
        method: method.as_str().to_owned(),
        query,
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    let response = match ctx.messenger.handle_webhook(&request).await {
        Ok(outcome) => {
            for event in outcome.events {
                let _ = ctx.events.send(Ok(event));
            }
            outcome.response
        }
        Err(err) => {
            let response = WebhookResponse::for_error(&err);
            let _ = ctx.events.send(Err(err));
            response
        }
    };
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (status, response.body).into_response();
    if let Some(ct) = response.content_type {
        out.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
    }
    out
}
