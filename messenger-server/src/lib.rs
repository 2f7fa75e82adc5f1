//! # messenger-server
//!
//! The messenger module as a service, on [`messenger_inbox`]: an axum [`Router`] a CRM can
//! mount in its own service ([`router`]), and a runner with workers, pollers and graceful
//! shutdown ([`Server`], behind `messenger serve`).
//!
//! - **Intake**: `POST|GET /webhooks/{platform}/{account}` for every connected account,
//!   verified by the account's connector before anything is stored, then
//!   [`Inbox::ingest`](messenger_inbox::Inbox::ingest); the platform gets exactly the response
//!   the connector chose ([`webhooks`]). Accounts that long-poll are polled by exactly one node
//!   at a time, under a lease in the database ([`poll`]).
//! - **The operator API** under `/api` (JSON, described by the OpenAPI 3 document at
//!   `/api/openapi.json`): sign-in with argon2-hashed passwords, sessions and API keys as
//!   bearer tokens ([`auth`]); conversations by grant with unread counts, history pages, sends
//!   through the outbox with the client's idempotency key, the planner's dry run, last-seen
//!   marks, media by right; server-sent events ([`events`]); accounts (connect, connection
//!   flows such as Avito's OAuth, activate, deactivate), employees, grants, API keys, the
//!   personal-data operations and subject requests; the service operator's suspensions. Every
//!   route asks the inbox for rights; none decides them itself.
//! - `/healthz`, `/readyz`, `/metrics` (Prometheus text).
//! - The web inbox's static files, embedded from `web/` ([`assets`]).
//!
//! Errors are `{"error":{"kind":"...","message":"..."}}` ([`ApiError`]): 401 without valid
//! credentials, 403 without the right (no data), 413 over a body limit, 400 `malformed_json` /
//! `invalid_body`, 404 `no_route` for unknown paths, 405 for a method a route does not take.
//!
//! ```no_run
//! # async fn run(inbox: messenger_inbox::Inbox) {
//! use messenger_server::{Connectors, Options, ServerState};
//! let state = ServerState::new(inbox, Connectors::new([]), Options::default());
//! let app = axum::Router::new().nest("/messenger", messenger_server::router(state));
//! # let _ = app;
//! # }
//! ```
//! (Mounted under a prefix, the OpenAPI paths and webhook URLs gain that prefix; run the
//! inbox's outbox workers yourself, or use [`Server`].)

#![warn(missing_docs)]

mod api;
pub mod assets;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod metrics;
pub mod poll;
mod server;
pub mod state;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, on};

pub use api::system::OPENAPI;
pub use config::ServerConfig;
pub use error::ApiError;
pub use server::{Server, ServerBuilder};
pub use state::{
    Connectors, DirSecretSink, MemorySecretSink, Options, SecretSink, ServerProvider, ServerState,
};

/// The router's routes as they are registered, so that the table and the router cannot
/// drift apart.
struct Table {
    router: Router<ServerState>,
    routes: Vec<(&'static str, &'static str)>,
}

impl Table {
    fn new() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn filter(method: &str) -> MethodFilter {
        match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            other => unreachable!("no route takes {other}"),
        }
    }

    fn on<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ServerState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(Self::filter(method), handler));
        self.routes.push((method, path));
        self
    }

    fn on_limited<H, T>(
        mut self,
        method: &'static str,
        path: &'static str,
        limit: usize,
        handler: H,
    ) -> Self
    where
        H: Handler<T, ServerState>,
        T: 'static,
    {
        self.router = self.router.route(
            path,
            on(Self::filter(method), handler).layer(DefaultBodyLimit::max(limit)),
        );
        self.routes.push((method, path));
        self
    }
}

fn table(options: &Options) -> Table {
    use api::{accounts, auth as a, conversations as c, employees as e, operator as o};
    use api::{personal as p, system as s};
    let send_limit = options.media_bytes / 3 * 4 + 64 * 1024;
    Table::new()
        // system
        .on("GET", "/healthz", s::healthz)
        .on("GET", "/readyz", s::readyz)
        .on("GET", "/metrics", s::metrics)
        .on("GET", "/api/openapi.json", s::openapi)
        .on("GET", "/", assets::index)
        // intake
        .on_limited(
            "GET",
            "/webhooks/{platform}/{account}",
            options.webhook_body_bytes,
            webhooks::webhook,
        )
        .on_limited(
            "POST",
            "/webhooks/{platform}/{account}",
            options.webhook_body_bytes,
            webhooks::webhook,
        )
        // sign-in
        .on("POST", "/api/auth/sign-in", a::sign_in)
        .on("POST", "/api/auth/sign-out", a::sign_out)
        .on("POST", "/api/auth/ticket", a::ticket)
        .on("PUT", "/api/auth/password", a::change_password)
        .on("GET", "/api/me", a::me)
        .on("GET", "/api/agreement", a::agreement)
        .on("GET", "/api/events", events::events)
        // conversations
        .on("GET", "/api/conversations", c::list)
        .on("POST", "/api/conversations", c::start)
        .on("GET", "/api/conversations/{conversation}", c::get_one)
        .on(
            "GET",
            "/api/conversations/{conversation}/messages",
            c::history,
        )
        .on_limited(
            "POST",
            "/api/conversations/{conversation}/messages",
            send_limit,
            c::send,
        )
        .on_limited(
            "POST",
            "/api/conversations/{conversation}/plan",
            send_limit,
            c::plan_draft,
        )
        .on(
            "POST",
            "/api/conversations/{conversation}/read",
            c::mark_read,
        )
        .on(
            "POST",
            "/api/conversations/{conversation}/assign",
            c::assign,
        )
        .on("GET", "/api/messages/{message}/media", c::media)
        .on("GET", "/api/search", c::search)
        .on("GET", "/api/outbox", c::outbox_list)
        .on("GET", "/api/outbox/{outbox}", c::outbox_get)
        .on("POST", "/api/outbox/{outbox}/resend", c::outbox_resend)
        .on("POST", "/api/outbox/{outbox}/dismiss", c::outbox_dismiss)
        // accounts
        .on("GET", "/api/accounts", accounts::list)
        .on("POST", "/api/accounts", accounts::add)
        .on("GET", "/api/accounts/{account}", accounts::get_one)
        .on("PATCH", "/api/accounts/{account}", accounts::rename)
        .on("POST", "/api/accounts/{account}/delete", accounts::delete)
        .on(
            "POST",
            "/api/accounts/{account}/activate",
            accounts::activate,
        )
        .on(
            "POST",
            "/api/accounts/{account}/deactivate",
            accounts::deactivate,
        )
        .on(
            "POST",
            "/api/accounts/{account}/connection",
            accounts::connection_start,
        )
        .on(
            "POST",
            "/api/accounts/{account}/connection/input",
            accounts::connection_input,
        )
        .on(
            "PUT",
            "/api/accounts/{account}/secrets/{key}",
            accounts::set_secret,
        )
        // employees
        .on("GET", "/api/employees", e::list)
        .on("POST", "/api/employees", e::add)
        .on("DELETE", "/api/employees/{employee}", e::remove)
        .on(
            "PUT",
            "/api/employees/{employee}/grants/{account}",
            e::grant,
        )
        .on("PUT", "/api/employees/{employee}/login", e::set_login)
        .on("GET", "/api/api-keys", e::api_keys)
        .on("POST", "/api/api-keys", e::create_api_key)
        .on("DELETE", "/api/api-keys/{key}", e::revoke_api_key)
        // personal data
        .on("GET", "/api/customers/{customer}", p::customer)
        .on("GET", "/api/customers/{customer}/export", p::export)
        .on("POST", "/api/customers/{customer}/block", p::block)
        .on("POST", "/api/customers/{customer}/unblock", p::unblock)
        .on("POST", "/api/customers/{customer}/anonymise", p::anonymise)
        .on(
            "POST",
            "/api/customers/{customer}/delete-history",
            p::delete_history,
        )
        .on("POST", "/api/customers/{customer}/destroy", p::destroy)
        .on("POST", "/api/workspace/purge", p::purge_workspace)
        .on("GET", "/api/destruction-acts", p::destruction_acts)
        .on("GET", "/api/processing-log", p::processing_log)
        .on("GET", "/api/audit-log", p::audit_log)
        .on("GET", "/api/acceptance-head", p::acceptance_head)
        .on("GET", "/api/subject-requests", p::subject_requests)
        .on(
            "POST",
            "/api/subject-requests/{request}/close",
            p::close_subject_request,
        )
        // the service operator
        .on(
            "POST",
            "/api/operator/platforms/{platform}/suspend",
            o::suspend_platform,
        )
        .on(
            "POST",
            "/api/operator/platforms/{platform}/resume",
            o::resume_platform,
        )
        .on(
            "POST",
            "/api/operator/accounts/{account}/suspend",
            o::suspend_account,
        )
        .on(
            "POST",
            "/api/operator/accounts/{account}/resume",
            o::resume_account,
        )
        .on("POST", "/api/operator/editions", o::publish_edition)
        .on(
            "POST",
            "/api/operator/workspaces/{workspace}/subject-requests",
            o::subject_request,
        )
}

/// Every route of [`router`] as `(method, path)`, in the OpenAPI document's path syntax (the
/// OpenAPI test checks the two are the same set).
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    table(&Options::default()).routes
}

/// The server's router: intake, the operator API, events, health, metrics and the web
/// inbox's files, over `state`. Mount it in a CRM's service, or run it with [`Server`].
pub fn router(state: ServerState) -> Router {
    let options = state.options().clone();
    table(&options)
        .router
        .fallback(assets::fallback)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(options.api_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Counts and logs every request by its route template (never its query, body or headers),
/// and adds the headers every answer carries.
async fn track(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    let status = response.status();
    let route_label = route.as_deref().unwrap_or("unmatched");
    state.metrics().count(
        "http_requests_total",
        &[
            ("route", route_label),
            ("method", method.as_str()),
            ("status", status.as_str()),
        ],
    );
    if (status.is_client_error() || status.is_server_error())
        && let Some(kind) = response.extensions().get::<ErrorKindTag>()
    {
        state
            .metrics()
            .count("api_errors_total", &[("kind", kind.0)]);
    }
    tracing::debug!(
        method = %method,
        route = route_label,
        status = status.as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The kind of an [`ApiError`] answer, for the error counter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorKindTag(pub(crate) &'static str);
