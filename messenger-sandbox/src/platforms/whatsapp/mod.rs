//! The WhatsApp Cloud API (Graph) as a connector uses it (whatsapp.md), served under
//! `{base}/whatsapp`: the phone number object, `/messages` (text, media by id or link,
//! template, reaction, mark-as-read), media upload, media URL retrieval and download with
//! bearer auth, Graph-style errors, and signed webhook deliveries of inbound messages and of
//! `sent` / `delivered` / `read` / `failed` statuses.
//!
//! Sends are validated synchronously where Graph does (parameters, auth, rate limits) and
//! fail asynchronously where Meta does: a free-form message outside the 24-hour window is
//! accepted (200 + wamid) and then fails with a `failed` status carrying error 131047.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Emulator`] impl, the number state, the routes, bearer authentication |
//! | `envelope.rs` | Graph error shapes, fault answers |
//! | `accounts.rs` | numbers from an account spec, patches, the control view, credentials, the phone-number object |
//! | `customer.rs` | customers and the customer's side: messages, reads, online, the 24-hour window |
//! | `send.rs` | `/messages`: sends, their fate (window, blocks, media fit), mark-as-read |
//! | `files.rs` | media ids, uploads, media URLs and downloads |
//! | `webhook.rs` | the event queue, webhook bodies, signed deliveries, the `hub.challenge` handshake |

mod accounts;
mod customer;
mod envelope;
mod files;
mod send;
mod webhook;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State as AxState};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use axum::routing::{any, get};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use messenger_core::registry::Credentials;
use messenger_core::{Platform, Result};

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, InboundReceipt, NewCustomer, SandboxAccount,
    WebhookCheck,
};
use crate::platforms::{Delivery, Emulator, Outcome};
use crate::server::{self, ConnHandle};
use crate::state::{Account, Customer, Shared, State};

use envelope::{GraphError, fault_response, graph_result};

/// The WhatsApp emulator (see the [module docs](self)).
pub(crate) struct WhatsApp;

impl Emulator for WhatsApp {
    fn platform(&self) -> Platform {
        Platform::WhatsApp
    }

    fn demo(&self) -> (AccountSpec, NewCustomer) {
        (
            AccountSpec::new(Platform::WhatsApp)
                .phone_number_id("100000000000001")
                .display_phone_number("15550100001")
                .token("EAAsandboxDemoWhatsAppAccessToken0001")
                .app_secret("sandbox-demo-app-secret")
                .name("Sandbox Demo Business"),
            NewCustomer::named("Maria").id("15550001111"),
        )
    }

    fn routes(&self) -> Router<Arc<Shared>> {
        Router::new()
            .route("/whatsapp_business/attachments/", get(files::download))
            .route("/{version}/{id}", any(object))
            .route("/{version}/{id}/{edge}", any(edge))
            .fallback(server::not_found)
    }

    fn new_account(
        &self,
        shared: &Shared,
        _state: &mut State,
        spec: &AccountSpec,
    ) -> Result<Account> {
        accounts::new_account(shared, spec)
    }

    fn patch_account(&self, account: &mut Account, patch: &AccountPatch) -> Result<()> {
        accounts::patch_account(account, patch)
    }

    fn describe(&self, account: &Account, view: &mut SandboxAccount) {
        accounts::describe(account, view);
    }

    fn credentials(&self, account: &Account, root: &str) -> Credentials {
        accounts::credentials(account, root)
    }

    fn new_customer(
        &self,
        shared: &Shared,
        state: &mut State,
        new: &NewCustomer,
    ) -> Result<Customer> {
        customer::new_customer(shared, state, new)
    }

    fn window_open_until(&self, shared: &Shared, customer: &Customer) -> Option<DateTime<Utc>> {
        customer::window_open_until(shared, customer)
    }

    fn customer_sends(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        message: &CustomerMessage,
    ) -> Result<InboundReceipt> {
        customer::customer_sends(shared, state, account, customer, message)
    }

    fn customer_reads(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<usize> {
        customer::customer_reads(shared, state, account, customer, up_to)
    }

    fn set_online(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        online: bool,
    ) -> Result<()> {
        customer::customer_online(shared, state, account, customer, online)
    }

    fn next_delivery(&self, account: &Account) -> Option<Delivery> {
        webhook::next_delivery(account)
    }

    fn delivery_done(&self, account: &mut Account, key: u64, outcome: &Outcome<'_>) {
        webhook::delivery_done(account, key, outcome);
    }

    fn verify_webhook<'a>(
        &'a self,
        shared: &'a Shared,
        account: &'a str,
    ) -> BoxFuture<'a, Result<WebhookCheck>> {
        Box::pin(webhook::verify_webhook(shared, account))
    }
}

/// Text body limit in characters (whatsapp.md §2.2).
const TEXT_LIMIT: usize = 4096;
/// Caption limit in characters (whatsapp.md §2.2).
const CAPTION_LIMIT: usize = 1024;
const MB: u64 = 1024 * 1024;

/// The WhatsApp part of an account.
struct NumberState {
    pub display_phone_number: String,
    pub waba_id: String,
    pub app_secret: String,
    pub verify_token: Option<String>,
    pub webhook_url: Option<String>,
    pub out_of_order: bool,
    pub events: VecDeque<webhook::WaEvent>,
    pub next_event: u64,
}

/// The number part of an account.
fn number(account: &Account) -> Option<&NumberState> {
    account.ext.get::<NumberState>()
}

/// The number part of an account.
fn number_mut(account: &mut Account) -> Option<&mut NumberState> {
    account.ext.get_mut::<NumberState>()
}

/// Whether a path segment is a Graph version (`v25.0`).
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("0");
    !major.is_empty()
        && major.chars().all(|c| c.is_ascii_digit())
        && !minor.is_empty()
        && minor.chars().all(|c| c.is_ascii_digit())
}

/// The digits of a phone number written with `+`, spaces, dashes or parentheses.
fn digits_only(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

// ---------------------------------------------------------------------------------------------
// The Graph API
// ---------------------------------------------------------------------------------------------

/// The account the bearer token belongs to.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, GraphError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(GraphError::missing_token)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(GraphError::invalid_token)?;
    shared
        .lock()
        .account_by_token(token, Platform::WhatsApp)
        .map(str::to_string)
        .ok_or_else(GraphError::invalid_token)
}

/// `GET` / `DELETE /{version}/{object-id}`: the phone number or a media object.
async fn object(
    AxState(shared): AxState<Arc<Shared>>,
    Path((version, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !is_version(&version) {
        return server::not_found().await;
    }
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let method = req.method().clone();
    let is_media = files::is_media(&shared.lock(), &id);
    let operation = match (is_media, &method) {
        (true, &Method::DELETE) => "media_delete",
        (true, _) => "media_get",
        (false, _) => "phone_number",
    };
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let work = async {
        let result = match (operation, &method) {
            ("phone_number", &Method::GET) => {
                accounts::phone_number(&shared, &account, &id, &query)
            }
            ("media_get", &Method::GET) => files::media_info(&shared, &account, &id, &query),
            ("media_delete", _) => files::media_delete(&shared, &account, &id, &query),
            _ => Err(GraphError::no_object(&method, &id)),
        };
        graph_result(result)
    };
    server::with_faults(&shared, &account, operation, conn, fault_response, work).await
}

/// `POST /{version}/{phone-number-id}/{messages|media}`.
async fn edge(
    AxState(shared): AxState<Arc<Shared>>,
    Path((version, id, edge)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    if !is_version(&version) {
        return server::not_found().await;
    }
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let method = req.method().clone();
    let operation = match edge.as_str() {
        "messages" => "messages",
        "media" => "media_upload",
        _ => "unknown",
    };
    let work = async {
        if method != Method::POST || id != account {
            return GraphError::no_object(&method, &id).into_response();
        }
        let result = match operation {
            "messages" => {
                match axum::body::to_bytes(req.into_body(), shared.config.max_request_bytes).await {
                    Ok(body) => send::send(&shared, &account, &body),
                    Err(_) => Err(GraphError::new(413, 100, "(#100) Request body too large")),
                }
            }
            "media_upload" => files::upload(&shared, &account, req).await,
            _ => Err(GraphError::unknown_path(&edge)),
        };
        graph_result(result)
    };
    server::with_faults(&shared, &account, operation, conn, fault_response, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(is_version("v25.0"));
        assert!(is_version("v19"));
        assert!(!is_version("version"));
        assert!(!is_version("v25."));
        assert!(!is_version("bot123:abc"));
    }

    #[test]
    fn phone_numbers_normalise() {
        assert_eq!(
            digits_only("+1 (650) 555-1234").as_deref(),
            Some("16505551234")
        );
        assert_eq!(digits_only("abc"), None);
    }
}
