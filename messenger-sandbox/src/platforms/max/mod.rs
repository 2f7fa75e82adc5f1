//! The MAX Bot API as a connector uses it (max.md), served under `{base}/max`: `GET /me`,
//! `POST` / `PUT` / `DELETE /messages`, the two-step uploads (`POST /uploads` and the upload
//! host at `{max}/upload/<id>`), media downloads at `{max}/files/<key>` and
//! `GET /videos/{token}`, `GET /updates` long polling with markers, webhook subscriptions
//! (`POST` / `GET` / `DELETE /subscriptions`) delivered with `X-Max-Bot-Api-Secret`, the per-bot
//! rate limit, and the customer's side (messages, `bot_stopped` / `bot_started`).
//!
//! Every API request carries `Authorization: <token>` (the raw token, no `Bearer`; a token in
//! the query is not accepted). Success answers are plain JSON; errors a non-2xx status with
//! `{"code", "message"}` ([`envelope`]). Times are milliseconds since the epoch.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Emulator`] impl, the bot state, the routes, authentication and the rate limit |
//! | `envelope.rs` | answer and error shapes, fault answers, query parameters |
//! | `accounts.rs` | bots from an account spec, patches, the control view, credentials, `GET /me` |
//! | `customer.rs` | customers, their dialogs and the customer's side: messages, blocks, reads |
//! | `send.rs` | `POST` / `PUT` / `DELETE /messages`: recipients, texts, replies, attachments |
//! | `files.rs` | uploads, the processing delay, attachments of stored media, downloads, `GET /videos` |
//! | `updates.rs` | the update queue and `GET /updates` with markers |
//! | `webhook.rs` | `POST` / `GET` / `DELETE /subscriptions` and the deliveries |
//!
//! Operations for [`FaultSpec::operation`](crate::FaultSpec) are the method and path of the
//! endpoint (`POST /messages`, `GET /updates`, `POST /uploads`, `GET /videos`, ...), `upload`
//! for the upload host and `download` for media downloads.
//!
//! ## Deviations and UNCONFIRMED points
//!
//! - Every customer has a dialog with the bot from the moment it is created (they "started the
//!   bot"; no `bot_started` is queued for that, as on Telegram). Its chat id is positive and
//!   differs from the user id; `?user_id=` sends to that dialog. A user id that is not a
//!   customer is `404 not.found` (whether a bot may write first is UNCONFIRMED).
//! - Uploads are ready [`SandboxConfig::max_processing_delay`](crate::SandboxConfig) after their
//!   bytes arrive (sandbox clock); before that (and for a video or audio token whose bytes never
//!   came) a send answers `400 attachment.not.ready`.
//! - Forbidden file extensions are the sandbox's list ([`files`]); MAX's is not published.
//! - The 429 body and `Retry-After` header, the 405 body of `GET /updates` while subscribed,
//!   the `proto.payload` code of malformed parameters, `404 chat.not.found` for an unknown
//!   chat, and `200 {"success": false}` for an edit or delete of the customer's message are
//!   UNCONFIRMED.
//! - `format` (`markdown`, `html`) is accepted and recorded; the text is stored as written,
//!   without `markup`.
//! - One subscription per bot: a `POST /subscriptions` replaces it. The 8-hour automatic
//!   unsubscription is not emulated.
//! - A native voice note from the customer produces MAX's current `message_created` without a
//!   `message` (max.md §5.6): the bot never learns its content.
//! - The video ownership error MAX answered to every video send in June 2026 is not emulated.
//! - Endpoints the connector does not use (`GET /messages` history, `/chats/...`, `/answers`,
//!   resumable uploads) are not served; group chats and channels do not exist.

mod accounts;
mod customer;
mod envelope;
mod files;
mod send;
mod updates;
mod webhook;

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State as AxState};
use axum::http::{Method, header};
use axum::response::Response;
use axum::routing::any;
use messenger_core::registry::Credentials;
use messenger_core::{Platform, Result};
use serde_json::Value;

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, InboundReceipt, NewCustomer, SandboxAccount,
};
use crate::clock::ceil_secs;
use crate::platforms::{Delivery, Emulator, Outcome};
use crate::server::{self, ConnHandle};
use crate::state::{Account, Customer, Shared, State};

use envelope::{MaxError, answer, fault_response};

/// The MAX emulator (see the [module docs](self)).
pub(crate) struct Max;

/// The demo bot's made-up token, printed by `messenger sandbox`.
const DEMO_TOKEN: &str = "sandboxDemoMaxBotToken000000000000000000000001";

impl Emulator for Max {
    fn platform(&self) -> Platform {
        Platform::Max
    }

    fn demo(&self) -> (AccountSpec, NewCustomer) {
        (
            AccountSpec::new(Platform::Max)
                .id("500000001")
                .token(DEMO_TOKEN)
                .name("Sandbox Demo MAX Bot")
                .username("sandbox_demo_max_bot"),
            NewCustomer {
                id: Some("400000001".into()),
                name: Some("Anna".into()),
                language_code: Some("ru".into()),
                ..NewCustomer::default()
            },
        )
    }

    fn routes(&self) -> Router<Arc<Shared>> {
        Router::new()
            .route("/me", any(me))
            .route("/messages", any(messages))
            .route("/updates", any(get_updates))
            .route("/uploads", any(uploads))
            .route("/subscriptions", any(subscriptions))
            .route("/videos/{token}", any(videos))
            .route("/upload/{slot}", any(files::upload_host))
            .route("/files/{key}", any(files::download))
            .fallback(|| async { MaxError::not_found("Path not found").into_response() })
    }

    fn new_account(
        &self,
        shared: &Shared,
        state: &mut State,
        spec: &AccountSpec,
    ) -> Result<Account> {
        accounts::new_account(shared, state, spec)
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
        _shared: &Shared,
        state: &mut State,
        new: &NewCustomer,
    ) -> Result<Customer> {
        customer::new_customer(state, new)
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
        _shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<usize> {
        customer::customer_reads(state, account, customer, up_to)
    }

    fn set_blocked(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        blocked: bool,
    ) -> Result<()> {
        customer::customer_blocks(shared, state, account, customer, blocked)
    }

    fn next_delivery(&self, account: &Account) -> Option<Delivery> {
        webhook::next_delivery(account)
    }

    fn delivery_done(&self, account: &mut Account, key: u64, outcome: &Outcome<'_>) {
        webhook::delivery_done(account, key, outcome);
    }
}

/// Text limit in characters (`NewMessageBody.text` maxLength; max.md §3.1, §6).
const TEXT_LIMIT: usize = 4000;

/// The MAX part of an account.
struct BotState {
    /// The bot's user id (the account id).
    user_id: i64,
    username: String,
    /// Updates not yet confirmed by a marker or delivered to the webhook, in order.
    updates: VecDeque<updates::Update>,
    /// The marker of the next update queued.
    next_marker: i64,
    /// The webhook subscription, if any (long polling answers 405 while it exists).
    subscription: Option<webhook::Subscription>,
    /// The `seq` of the next message in the bot's dialogs.
    next_seq: i64,
}

/// The bot part of an account.
fn bot(account: &Account) -> Option<&BotState> {
    account.ext.get::<BotState>()
}

/// The bot part of an account.
fn bot_mut(account: &mut Account) -> Option<&mut BotState> {
    account.ext.get_mut::<BotState>()
}

// ---------------------------------------------------------------------------------------------
// The Bot API
// ---------------------------------------------------------------------------------------------

/// The account whose token is the `Authorization` header (the raw token, no `Bearer`).
fn authenticate(shared: &Shared, req: &Request) -> Result<String, MaxError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(MaxError::verify_token)?;
    shared
        .lock()
        .account_by_token(token, Platform::Max)
        .map(str::to_string)
        .ok_or_else(MaxError::verify_token)
}

/// Takes a request from the bot's bucket (about 30 requests per second; max.md §6), or 429.
fn rate_limit(shared: &Shared, account_id: &str) -> Result<(), MaxError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| MaxError::verify_token())?;
    if let Some(bucket) = account.bucket.as_mut() {
        if let Err(wait) = bucket.check(now) {
            tracing::debug!(account = %account_id, "sandbox max: rate limited");
            return Err(MaxError::too_many(ceil_secs(wait)));
        }
        bucket.take(now);
    }
    Ok(())
}

/// The endpoints of the API.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Me,
    Messages,
    Updates,
    Uploads,
    Subscriptions,
    Videos,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Me => "/me",
            Endpoint::Messages => "/messages",
            Endpoint::Updates => "/updates",
            Endpoint::Uploads => "/uploads",
            Endpoint::Subscriptions => "/subscriptions",
            Endpoint::Videos => "/videos",
        }
    }
}

/// One API request: authentication, then the fault queue, the rate limit and the endpoint.
async fn call(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    video: Option<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, &req) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let method = req.method().clone();
    let operation = format!("{method} {}", endpoint.path());
    let work = async {
        if let Err(err) = rate_limit(&shared, &account) {
            return err.into_response();
        }
        tracing::debug!(account = %account, operation = %operation, "sandbox max: request");
        let result: Result<Value, MaxError> = match (endpoint, &method) {
            (Endpoint::Me, &Method::GET) => accounts::get_me(&shared, &account),
            (Endpoint::Messages, &Method::POST) => send::send(&shared, &account, req).await,
            (Endpoint::Messages, &Method::PUT) => send::edit(&shared, &account, req).await,
            (Endpoint::Messages, &Method::DELETE) => send::delete(&shared, &account, &req),
            (Endpoint::Updates, &Method::GET) => {
                let query = envelope::query(req.uri());
                updates::get_updates(&shared, &account, &query).await
            }
            (Endpoint::Uploads, &Method::POST) => files::get_upload_url(&shared, &account, &req),
            (Endpoint::Subscriptions, &Method::POST) => {
                webhook::subscribe(&shared, &account, req).await
            }
            (Endpoint::Subscriptions, &Method::GET) => webhook::list(&shared, &account),
            (Endpoint::Subscriptions, &Method::DELETE) => {
                webhook::unsubscribe(&shared, &account, &req)
            }
            (Endpoint::Videos, &Method::GET) => {
                files::video_details(&shared, &account, video.as_deref().unwrap_or_default())
            }
            _ => Err(MaxError::method_not_allowed()),
        };
        answer(result)
    };
    server::with_faults(&shared, &account, &operation, conn, fault_response, work).await
}

async fn me(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    call(shared, Endpoint::Me, None, req).await
}

async fn messages(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    call(shared, Endpoint::Messages, None, req).await
}

async fn get_updates(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    call(shared, Endpoint::Updates, None, req).await
}

async fn uploads(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    call(shared, Endpoint::Uploads, None, req).await
}

async fn subscriptions(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    call(shared, Endpoint::Subscriptions, None, req).await
}

async fn videos(
    AxState(shared): AxState<Arc<Shared>>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    call(shared, Endpoint::Videos, Some(token), req).await
}
