//! The HTTP server: an accept loop over hyper (so that a fault can close a connection without
//! any response), the router that mounts the control API at `/control` and each emulator's
//! routes under its own prefix (`/telegram`, `/whatsapp`, ...), and the fault machinery every
//! platform request goes through.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::api::{Fault, RequestRecord};
use crate::clock::to_datetime;
use crate::control;
use crate::platforms::EMULATORS;
use crate::state::Shared;

/// Lets a handler close its own connection without answering (the "dropped connection"
/// fault). Inserted into every request's extensions by the accept loop.
#[derive(Clone, Debug)]
pub(crate) struct ConnHandle {
    kill: Arc<Notify>,
}

impl ConnHandle {
    fn kill(&self) {
        self.kill.notify_one();
    }
}

/// Accepts connections until `shutdown` turns true; then every connection is closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve_connection(stream, router.clone()));
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "sandbox: accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let handle = ConnHandle {
        kill: Arc::new(Notify::new()),
    };
    let kill = handle.kill.clone();
    let service = TagConn { router, handle };
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::select! {
        result = connection => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "sandbox: connection ended with an error");
            }
        }
        () = kill.notified() => {
            tracing::debug!("sandbox: connection dropped by an injected fault");
        }
    }
}

/// The router as a tower service that tags each request with its connection's handle.
#[derive(Clone)]
struct TagConn {
    router: Router,
    handle: ConnHandle,
}

impl Service<Request<hyper::body::Incoming>> for TagConn {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = axum::routing::future::RouteFuture<std::convert::Infallible>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        Service::<Request<Body>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(self.handle.clone());
        self.router.call(req)
    }
}

/// Every route of the sandbox: `/control/...` and `/{prefix}/...` of every emulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new().nest("/control", control::routes());
    for emulator in EMULATORS {
        router = router.nest(&format!("/{}", emulator.prefix()), emulator.routes());
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// The platform's error code of a refused request: an emulator puts it into its error
/// response's extensions, and [`with_faults`] logs it with the request
/// ([`RequestRecord::error`]).
#[derive(Clone, Debug)]
pub(crate) struct ErrorCode(pub String);

/// A plain `404 Not Found`.
pub(crate) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Runs one platform request of an account through the account's fault queue and logs it.
///
/// `ServerError`, `RateLimited` and `PollFailed` answer at once with `respond`, the platform's
/// answer to a fault that stops a request before processing (nothing is processed); `Delay`
/// waits and proceeds; `DropConnection` processes (unless `before_processing`) and closes the
/// connection with no response; `TruncatedBody` processes and sends half of the body.
pub(crate) async fn with_faults(
    shared: &Arc<Shared>,
    account: &str,
    operation: &str,
    conn: Option<ConnHandle>,
    respond: impl FnOnce(&Fault) -> Response,
    work: impl Future<Output = Response>,
) -> Response {
    let fault = shared.lock().take_fault(account, operation);
    if let Some(fault) = &fault {
        tracing::debug!(
            fault = fault.name(),
            operation,
            "sandbox: injecting a fault"
        );
    }
    let response = match fault {
        Some(
            f @ (Fault::ServerError { .. } | Fault::RateLimited { .. } | Fault::PollFailed { .. }),
        ) => respond(&f),
        Some(Fault::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            work.await
        }
        Some(Fault::DropConnection { before_processing }) => {
            if !before_processing {
                let _ = work.await;
            }
            log_request(shared, account, operation, 0, fault.as_ref(), None);
            return drop_connection(conn).await;
        }
        Some(Fault::TruncatedBody) => truncate(work.await).await,
        None => work.await,
    };
    let error = response
        .extensions()
        .get::<ErrorCode>()
        .map(|code| code.0.clone());
    log_request(
        shared,
        account,
        operation,
        response.status().as_u16(),
        fault.as_ref(),
        error,
    );
    response
}

fn log_request(
    shared: &Shared,
    account: &str,
    operation: &str,
    status: u16,
    fault: Option<&Fault>,
    error: Option<String>,
) {
    let at = to_datetime(shared.now_ms());
    if let Ok(account) = shared.lock().account_mut(account) {
        account.log_request(RequestRecord {
            operation: operation.to_string(),
            status,
            fault: fault.map(|f| f.name().to_string()),
            error,
            at,
        });
    }
}

async fn drop_connection(conn: Option<ConnHandle>) -> Response {
    match conn {
        Some(conn) => {
            conn.kill();
            // The connection task drops this future together with the connection.
            std::future::pending::<()>().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => {
            tracing::warn!("sandbox: no connection handle, answering 500 instead of dropping");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Sends the status line, the headers (with the full `Content-Length`) and half of the body,
/// then fails the body so that the connection is closed.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    if let Ok(len) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, len);
    }
    // The pause lets hyper flush the status line, the headers and the first half before the
    // error closes the connection.
    let cut = futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "body truncated by a sandbox fault",
        ))
    });
    let chunks = futures::stream::iter([Ok::<Bytes, io::Error>(half)]).chain(cut);
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// A JSON response with a status.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(crate::state::json_bytes(value)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
