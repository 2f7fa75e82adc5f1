//! Avito Messenger as a connector uses it (avito.md), served under `{base}/avito`: OAuth
//! (`POST /token` with the client-credentials, authorization-code and refresh-token grants, and
//! the consent page `GET /oauth`), `GET /core/v1/accounts/self`, the chats (`GET
//! /messenger/v2/accounts/{user_id}/chats[/{chat_id}]`), their messages (`GET
//! /messenger/v3/accounts/{user_id}/chats/{chat_id}/messages/`), sending text and images
//! (`uploadImages`, `messages/image`), deleting within the hour, marking a chat read,
//! `getVoiceFiles` with links that expire, webhook v3 subscriptions delivered to the registered
//! URL, and the customer's side (messages of every kind, reads).
//!
//! Every API request carries `Authorization: Bearer <access token>`, a token this sandbox's
//! `/token` issued: it lives 24 hours of the **sandbox clock** ([`TOKEN_LIFETIME`]), so a test
//! advances the clock past it; then calls answer 403 (avito.md §1) and the connector refreshes.
//! No token or an unknown one is 401. Success answers are plain JSON; errors a non-2xx status
//! with `{"error": {"code", "message", "fields"?}}` ([`envelope`]). Times are unix seconds.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Emulator`] impl, the account's state, the routes, authentication |
//! | `envelope.rs` | answer and error shapes, fault answers, query parameters |
//! | `oauth.rs` | `/token` (three grants, refresh rotation), the consent page, access tokens |
//! | `accounts.rs` | accounts from a spec (client id and secret, webhook token), patches, the control view, credentials, `accounts/self` |
//! | `chats.rs` | chats (`u2i-…` ids, `unread_only`), messages with `is_read` and `read`, `chatRead` |
//! | `send.rs` | text and image messages, deletes |
//! | `files.rs` | `uploadImages`, image downloads, `getVoiceFiles` and voice downloads |
//! | `customer.rs` | customers (one chat each) and the customer's side: messages, reads |
//! | `webhook.rs` | webhook v3 subscriptions and the deliveries |
//!
//! Operations for [`FaultSpec::operation`](crate::FaultSpec) are the operation ids of the
//! official catalog (avito.md §2): `getChatsV2`, `getChatByIdV2`, `getMessagesV3`,
//! `postSendMessage`, `uploadImages`, `postSendImageMessage`, `deleteMessage`, `chatRead`,
//! `getVoiceFiles`, `postWebhookV3`, `postWebhookUnsubscribe`, `getSubscriptions`, and
//! `getUserInfoSelf` for `accounts/self`, `token` for the token endpoint, `oauth` for the consent
//! page, `download` for image and voice files.
//!
//! ## The model
//!
//! An account is a business's Avito profile (its id is the Avito `user_id`), reached by one app
//! (its client id is the account's `token`, its client secret the `app_secret`). A customer
//! is **one chat** (a buyer asking about one listing): the customer id is the chat id
//! (`u2i-` and 22 characters; `u2u-…` for a profile chat), as a VK customer id is the peer id.
//! The buyer's Avito user id (`author_id` of their messages) and the listing are derived from
//! the chat id.
//!
//! ## Deviations and UNCONFIRMED points
//!
//! - The consent page has no browser to show: it redirects at once, as if the user had
//!   allowed access, to `redirect_uri` (or, without one, to the sandbox's own callback page
//!   `{avito}/oauth/callback`, which answers the `code` and `state` as JSON). The authorizing
//!   user is the account that owns the client id, or the one named by `login=<user_id>` (a
//!   third-party app); `decision=deny` declines (`error=access_denied`). Codes live 10 minutes
//!   and are used once; refresh tokens live a year and rotate on every refresh (the old one is
//!   refused from then on); an access token stays valid until it expires.
//! - Scopes are enforced: `messenger:read` to read, `messenger:write` to send, upload, delete
//!   and mark read, `user:read` for `accounts/self` (a client-credentials token has them all).
//! - Refusals of the token endpoint use the OAuth 2 shape (`invalid_client` 401,
//!   `invalid_grant` and the others 400): Avito's is UNCONFIRMED.
//! - The customer's image with a caption arrives as two messages (an image, then a text):
//!   Avito's image messages carry no text. Files and videos from the customer arrive with an
//!   empty `content` (they cannot be fetched), audio and stickers cannot be sent by a
//!   customer. A voice note is served as it was uploaded (Avito's are Opus in MP4).
//! - The account's own messages are pushed to the webhook too (whether Avito does is
//!   UNCONFIRMED; the connector must not take them for the customer's).
//! - Subscribing probes the URL (`POST {}`, 2 s) and refuses one that does not answer 2xx;
//!   the sandbox has no network, so only loopback URLs can be subscribed. A subscription made
//!   through the control API (`webhook_url`) is not probed, and carries the account's webhook
//!   token: the sandbox adds it as the query parameter `token` unless the URL has one, as the
//!   connector's `Avito::webhook_url` does.
//! - Deliveries carry `x-avito-messenger-signature`, whose algorithm Avito does not document;
//!   the sandbox's is its own (hex SHA-256 of the client secret followed by the body).
//! - `read` of a customer's message is when the account read it (`chatRead`); the spec defines
//!   it only for the account's own messages. A customer who blocked the chat makes sends fail
//!   with 400 (UNCONFIRMED). Deleting after the hour, or another's message, is 400
//!   (UNCONFIRMED). An image over 24 MB is 413; an expired voice link 404 (both UNCONFIRMED).
//! - No rate limit is emulated (Avito documents none for the messenger); a fault gives a 429
//!   with `Retry-After` and `X-RateLimit-*` headers. Blacklisting and `getChatByIdV2`'s
//!   `last_message` of a deleted message follow the rest.

mod accounts;
mod chats;
mod customer;
mod envelope;
mod files;
mod oauth;
mod send;
mod webhook;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State as AxState};
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};
use messenger_core::registry::Credentials;
use messenger_core::{Platform, Result};
use serde_json::Value;

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, InboundReceipt, NewCustomer, SandboxAccount,
};
use crate::platforms::{Delivery, Emulator, Outcome};
use crate::server::{self, ConnHandle};
use crate::state::{Account, Customer, Shared, State};

use envelope::{AvitoError, answer, fault_response};

/// The Avito emulator (see the [module docs](self)).
pub(crate) struct Avito;

/// How long an access token lives: 24 hours of the sandbox clock (avito.md §1).
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a `getVoiceFiles` link lives: an hour of the sandbox clock (avito.md §2).
pub(crate) const VOICE_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// How long after sending a message may be deleted (avito.md §2, deleteMessage).
pub(crate) const DELETE_WINDOW: Duration = Duration::from_secs(3600);

/// Text limit in characters (avito.md §2, postSendMessage).
const TEXT_LIMIT: usize = 1000;

/// The demo account's made-up client id, secret and webhook token, printed by
/// `messenger sandbox`.
const DEMO_CLIENT_ID: &str = "sandboxDemoAvitoClient01";
const DEMO_CLIENT_SECRET: &str = "sandboxDemoAvitoClientSecret0000000001";
const DEMO_WEBHOOK_TOKEN: &str = "sandboxDemoAvitoWebhookToken01";

impl Emulator for Avito {
    fn platform(&self) -> Platform {
        Platform::Avito
    }

    fn demo(&self) -> (AccountSpec, NewCustomer) {
        (
            AccountSpec::new(Platform::Avito)
                .id("94235311")
                .token(DEMO_CLIENT_ID)
                .app_secret(DEMO_CLIENT_SECRET)
                .webhook_secret(DEMO_WEBHOOK_TOKEN)
                .name("Sandbox Demo Shop"),
            NewCustomer {
                id: Some("u2i-Sandbox0Demo0Chat00001".into()),
                name: Some("Marina".into()),
                ..NewCustomer::default()
            },
        )
    }

    fn routes(&self) -> Router<Arc<Shared>> {
        Router::new()
            .route("/token", post(oauth::token))
            .route("/oauth", get(oauth::consent))
            .route("/oauth/callback", get(oauth::callback))
            .route("/core/v1/accounts/self", get(accounts::get_self))
            .route("/messenger/v2/accounts/{user}/chats", get(chats::list))
            .route(
                "/messenger/v2/accounts/{user}/chats/{chat}",
                get(chats::one),
            )
            .route(
                "/messenger/v3/accounts/{user}/chats/{chat}/messages/",
                get(chats::messages),
            )
            .route(
                "/messenger/v3/accounts/{user}/chats/{chat}/messages",
                get(chats::messages),
            )
            .route(
                "/messenger/v1/accounts/{user}/chats/{chat}/messages",
                post(send::text),
            )
            .route(
                "/messenger/v1/accounts/{user}/chats/{chat}/messages/image",
                post(send::image),
            )
            .route(
                "/messenger/v1/accounts/{user}/chats/{chat}/messages/{message}",
                post(send::delete),
            )
            .route(
                "/messenger/v1/accounts/{user}/chats/{chat}/read",
                post(chats::read),
            )
            .route(
                "/messenger/v1/accounts/{user}/uploadImages",
                post(files::upload_images),
            )
            .route(
                "/messenger/v1/accounts/{user}/getVoiceFiles",
                get(files::voice_files),
            )
            .route("/messenger/v3/webhook", post(webhook::subscribe))
            .route(
                "/messenger/v1/webhook/unsubscribe",
                post(webhook::unsubscribe),
            )
            .route("/messenger/v1/subscriptions", post(webhook::subscriptions))
            .route("/images/{key}", get(files::download_image))
            .route("/voice/{key}", get(files::download_voice))
            .fallback(|| async { AvitoError::not_found("Not found").into_response() })
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
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<usize> {
        customer::customer_reads(shared, state, account, customer, up_to)
    }

    fn next_delivery(&self, account: &Account) -> Option<Delivery> {
        webhook::next_delivery(account)
    }

    fn delivery_done(&self, account: &mut Account, key: u64, outcome: &Outcome<'_>) {
        webhook::delivery_done(account, key, outcome);
    }
}

/// The Avito part of an account.
pub(super) struct Shop {
    /// The account's Avito user id (the account id).
    user_id: i64,
    /// The app's client secret (the client id is the account's `token`).
    client_secret: String,
    /// The token the registered webhook URLs carry (what the connector checks).
    webhook_token: Option<String>,
    /// The subscribed webhook URLs, in order.
    subscriptions: Vec<String>,
    /// Deliveries waiting for the worker, in order.
    outbox: VecDeque<webhook::Queued>,
    next_key: u64,
}

/// The Avito part of an account.
fn shop(account: &Account) -> Option<&Shop> {
    account.ext.get::<Shop>()
}

/// The Avito part of an account.
fn shop_mut(account: &mut Account) -> Option<&mut Shop> {
    account.ext.get_mut::<Shop>()
}

/// What every Avito account of the sandbox shares: tokens, codes, images and voice notes.
#[derive(Default)]
pub(super) struct Store {
    access: HashMap<String, oauth::Access>,
    refresh: HashMap<String, oauth::Refresh>,
    codes: HashMap<String, oauth::Code>,
    images: HashMap<String, files::Image>,
    downloads: HashMap<String, files::Download>,
    voices: HashMap<String, files::Voice>,
    voice_links: HashMap<String, files::VoiceLink>,
}

fn store(state: &mut State) -> &mut Store {
    state.stores.get_or_default::<Store>()
}

/// The sandbox's Avito root (`{base}/avito`).
fn root(shared: &Shared) -> String {
    shared
        .urls
        .platform(Platform::Avito)
        .unwrap_or_default()
        .to_string()
}

/// Seconds since the epoch, sandbox time.
fn now_secs(shared: &Shared) -> i64 {
    shared.now_ms().div_euclid(1000)
}

/// A random lower-case hex string of `len` digits (message ids are 32).
fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Authentication and the shape of every API call
// ---------------------------------------------------------------------------------------------

/// The scope a call needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Read,
    Write,
    User,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "messenger:read",
            Scope::Write => "messenger:write",
            Scope::User => "user:read",
        }
    }
}

/// The account a valid access token belongs to.
pub(super) struct Caller {
    pub account: String,
    pub user_id: i64,
}

/// The account whose access token is the `Authorization: Bearer` header: 401 without one or
/// with one this sandbox never issued, 403 for an expired one or one without `scope` (with the
/// account, so that the refusal is logged with its requests).
fn authenticate(
    shared: &Shared,
    req: &Request,
    scope: Scope,
) -> Result<Caller, (Option<String>, AvitoError)> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or((None, AvitoError::unauthorized()))?;
    let now = shared.now_ms();
    let mut state = shared.lock();
    let access = store(&mut state)
        .access
        .get(token)
        .cloned()
        .ok_or((None, AvitoError::unauthorized()))?;
    if now >= access.expires_ms {
        tracing::debug!(account = %access.account, "sandbox avito: expired access token");
        return Err((
            Some(access.account),
            AvitoError::forbidden("Access token expired"),
        ));
    }
    if let Some(scopes) = &access.scopes
        && !scopes.iter().any(|s| s == scope.as_str())
    {
        return Err((
            Some(access.account),
            AvitoError::forbidden(format!(
                "Insufficient scope: {} is required",
                scope.as_str()
            )),
        ));
    }
    let user_id = state
        .account(&access.account)
        .ok()
        .and_then(shop)
        .map(|s| s.user_id)
        .ok_or((None, AvitoError::unauthorized()))?;
    Ok(Caller {
        account: access.account,
        user_id,
    })
}

/// The `{user_id}` of a path must be the token's own account.
fn own_path(caller: &Caller, user: &str) -> Result<(), AvitoError> {
    if user.trim().parse::<i64>().ok() == Some(caller.user_id) {
        Ok(())
    } else {
        Err(AvitoError::forbidden("Forbidden"))
    }
}

/// One API call: authentication, then the account's fault queue, then `work`.
async fn api<F, Fut>(
    shared: Arc<Shared>,
    req: Request,
    operation: &'static str,
    scope: Scope,
    work: F,
) -> Response
where
    F: FnOnce(Arc<Shared>, Caller, Request) -> Fut,
    Fut: Future<Output = Result<Value, AvitoError>>,
{
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let caller = match authenticate(&shared, &req, scope) {
        Ok(caller) => caller,
        Err((None, err)) => return err.into_response(),
        Err((Some(account), err)) => {
            // Logged with the account's requests (and under its faults) like any other.
            let refused = async move { err.into_response() };
            return server::with_faults(
                &shared,
                &account,
                operation,
                conn,
                fault_response,
                refused,
            )
            .await;
        }
    };
    let account = caller.account.clone();
    tracing::debug!(account = %account, operation, "sandbox avito: request");
    let run = {
        let shared = shared.clone();
        async move { answer(work(shared, caller, req).await) }
    };
    server::with_faults(&shared, &account, operation, conn, fault_response, run).await
}

/// Reads a request body of at most `limit` bytes.
async fn read_body(req: Request, limit: usize) -> Result<bytes::Bytes, AvitoError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| AvitoError::new(413, "Request body too large"))
}

/// `/messenger/...{user}/chats/{chat}...` path parameters.
type ChatPath = Path<(String, String)>;

/// The axum state.
type St = AxState<Arc<Shared>>;
