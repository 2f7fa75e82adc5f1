//! VK community messages (API 5.199, a community access token) as a connector uses it
//! (vk.md), served under `{base}/vk`: the API at `{vk}/method/<name>`, the upload servers at
//! `{vk}/upload/...`, media at `{vk}/media/...` and `{vk}/doc/...`, the Bots Long Poll at
//! `{vk}/lp/<community>`, Callback API deliveries to the community's server, and the
//! customer's side (messages, reads, "Allow messages" / "Deny messages", blacklisting).
//!
//! Every API answer is VK's envelope with HTTP 200: `{"response": ...}` or
//! `{"error": {"error_code", "error_msg", "request_params"}}` ([`envelope`]). The token comes
//! as `Authorization: Bearer <token>` or the `access_token` parameter; parameters come from
//! the query string and a form-encoded body; `v` is required.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Emulator`] impl, the community state, the routes, auth and the method dispatch |
//! | `envelope.rs` | the answer and error shapes, parameters, fault answers |
//! | `accounts.rs` | communities from an account spec, patches, the control view, credentials, `groups.getById` |
//! | `customer.rs` | users and group chats, consent, the customer's side: messages, reads, allow / deny |
//! | `send.rs` | `messages.send` (with `random_id` de-duplication), `edit`, `delete`, `markAsRead` |
//! | `files.rs` | the upload servers, `photos.saveMessagesPhoto`, `docs.save`, attachments, downloads |
//! | `updates.rs` | the event history and the Bots Long Poll (`groups.getLongPollServer`, `a_check`) |
//! | `webhook.rs` | Callback API deliveries, the `confirmation` handshake, the `ok` answer |
//!
//! ## Deviations and UNCONFIRMED points
//!
//! - A repeated `messages.send` with the same `random_id` to the same peer is answered with the
//!   first message's id and stores nothing. That VK drops the repeat is documented
//!   ("unique identifier to avoid resending the message"); its exact answer to the repeat is
//!   UNCONFIRMED.
//! - `groups.getLongPollServer` gives the `ts` of the first event no long poll has confirmed
//!   yet (an `a_check` with a `ts` confirms the events up to it), where VK gives its newest:
//!   events a customer sent before a listener started are not lost in tests and the demo.
//! - A user who writes to the community may be answered from then on (no `message_allow` is
//!   produced for it: whether VK sends one is UNCONFIRMED); "Deny messages" stops sends with
//!   901 until they write or allow again.
//! - `message_read` is produced as "the user read the community's messages up to
//!   `read_message_id`" (the semantics are UNCONFIRMED in VK's text).
//! - The 24-hour reply window (error 950) is UNCONFIRMED and not emulated; group chats
//!   (peers from 2000000000 on) are customers whose id is the peer id.
//! - Voice notes must be OGG (`audio_message` codec UNCONFIRMED); `link_mp3` serves the same
//!   bytes as `link_ogg` (the sandbox has no transcoder).

mod accounts;
mod customer;
mod envelope;
mod files;
mod send;
mod updates;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State as AxState};
use axum::response::Response;
use axum::routing::{any, get, post};
use futures::future::BoxFuture;
use messenger_core::registry::Credentials;
use messenger_core::{Platform, Result};
use serde_json::Value;

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, InboundReceipt, NewCustomer, SandboxAccount,
    WebhookCheck,
};
use crate::clock::TokenBucket;
use crate::platforms::{Delivery, Emulator, Outcome};
use crate::server::{self, ConnHandle};
use crate::state::{Account, Customer, Shared, State};

use envelope::{Params, VkError, fault_response};

/// The VK emulator (see the [module docs](self)).
pub(crate) struct Vk;

/// The demo community's made-up token, printed by `messenger sandbox`.
const DEMO_TOKEN: &str = "vk1.a.sandboxDemoVkCommunityToken0000000000000000000001";

impl Emulator for Vk {
    fn platform(&self) -> Platform {
        Platform::Vk
    }

    fn demo(&self) -> (AccountSpec, NewCustomer) {
        (
            AccountSpec::vk()
                .id("229000001")
                .token(DEMO_TOKEN)
                .name("Sandbox Demo Community")
                .username("sandbox_demo_club")
                .webhook_secret("sandbox-demo-vk-secret")
                .verify_token("5a9d0c1e"),
            NewCustomer::named("Anna")
                .id("100000003")
                .allows_messages(true),
        )
    }

    fn routes(&self) -> Router<Arc<Shared>> {
        Router::new()
            .route("/method/{name}", any(method))
            .route("/upload/photo/{key}", post(files::upload_photo))
            .route("/upload/doc/{key}", post(files::upload_doc))
            .route("/media/{key}", get(files::download))
            .route("/doc/{name}", get(files::doc_link))
            .route("/lp/{account}", get(updates::a_check))
            .fallback(server::not_found)
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

    fn set_consent(
        &self,
        _shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        allowed: bool,
    ) -> Result<()> {
        customer::set_consent(state, account, customer, allowed)
    }

    fn next_delivery(&self, account: &Account) -> Option<Delivery> {
        webhook::next_delivery(account)
    }

    fn delivery_answer(&self, account: &Account, key: u64, body: &[u8]) -> Result<(), String> {
        webhook::delivery_answer(account, key, body)
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

/// Text limit in characters: `message` `maxLength` 9000 (vk.md §2.1; 914 above).
const TEXT_LIMIT: usize = 9000;
/// Attachments per message (`attachment` takes up to 10 objects).
const MAX_ATTACHMENTS: usize = 10;
/// A megabyte as the sheet's sources write it, read as 10^6 bytes (as messenger-core does).
const MB: u64 = 1_000_000;
/// Photos for messages: at most 50 MB (vk.md §2.2).
const PHOTO_LIMIT: u64 = 50 * MB;
/// Documents and voice notes: at most 200 MB (vk.md §2.2).
const DOC_LIMIT: u64 = 200 * MB;
/// Peers from here on are group chats (`2000000000 + chat id`).
const CHAT_PEER_BASE: i64 = 2_000_000_000;
/// The API version events carry.
const EVENT_VERSION: &str = "5.199";
/// The longest `wait` of a Bots Long Poll call VK accepts (vk.md §3.1).
const MAX_WAIT_SECS: u64 = 90;
/// `messages.delete` with `delete_for_all` and `messages.edit` work within 24 hours.
const EDIT_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Whether `peer` is a group chat.
fn is_chat(peer: i64) -> bool {
    peer >= CHAT_PEER_BASE
}

/// One message sent by `messages.send`, by `(peer, random_id)`.
#[derive(Clone, Copy)]
struct SentRecord {
    message_id: i64,
    cmid: i64,
}

/// The VK part of an account: a community.
struct Community {
    group_id: i64,
    screen_name: String,
    /// The Callback API secret key (every delivery's `secret`).
    secret: Option<String>,
    /// The string the Callback server answers the `confirmation` event with.
    confirmation: String,
    /// The community's message ids (one mailbox per community).
    next_message_id: i64,
    /// `(peer, random_id)` -> the message it made: VK drops a repeat.
    sent: HashMap<(i64, i64), SentRecord>,
    poll: updates::LongPoll,
    callback: webhook::Callback,
}

/// The community part of an account.
fn community(account: &Account) -> Option<&Community> {
    account.ext.get::<Community>()
}

/// The community part of an account.
fn community_mut(account: &mut Account) -> Option<&mut Community> {
    account.ext.get_mut::<Community>()
}

/// The bearer token of a request (`Authorization: Bearer <token>`), if it has one.
fn bearer_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// `{vk}/method/<name>`: authenticate, then the method through the account's fault queue.
async fn method(
    AxState(shared): AxState<Arc<Shared>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let bearer = bearer_of(req.headers());
    let params = match envelope::read_params(req, shared.config.max_request_bytes).await {
        Ok(params) => params,
        Err(response) => return response,
    };
    // The header, or the `access_token` parameter (vk.md §1).
    let token = bearer.or_else(|| params.non_empty("access_token").map(str::to_string));
    let Some(token) = token else {
        return VkError::auth_missing().into_response(&name, &params);
    };
    let account = shared
        .lock()
        .account_by_token(&token, Platform::Vk)
        .map(str::to_string);
    let Some(account) = account else {
        return VkError::auth_invalid().into_response(&name, &params);
    };
    let work = async {
        match handle(&shared, &account, &name, &params) {
            Ok(value) => envelope::ok(&value),
            Err(err) => err.into_response(&name, &params),
        }
    };
    server::with_faults(&shared, &account, &name, conn, fault_response, work).await
}

/// One API call of an authenticated community: the version, the rate limit, the method.
fn handle(
    shared: &Arc<Shared>,
    account: &str,
    name: &str,
    params: &Params,
) -> std::result::Result<Value, VkError> {
    match params.non_empty("v") {
        None => return Err(VkError::new(8, "Invalid request: v (version) is required")),
        Some(v) => {
            let major = v.split('.').next().and_then(|m| m.parse::<u32>().ok());
            if major.is_none_or(|m| m < 5) {
                return Err(VkError::new(
                    8,
                    "Invalid request: versions below 5.0 are no longer supported",
                ));
            }
        }
    }
    take_rate_token(shared, account)?;
    tracing::debug!(account = %account, method = %name, "sandbox vk: request");
    match name {
        "groups.getById" => accounts::get_by_id(shared, account, params),
        "groups.getLongPollServer" => updates::get_server(shared, account, params),
        "messages.send" => send::send(shared, account, params),
        "messages.edit" => send::edit(shared, account, params),
        "messages.delete" => send::delete(shared, account, params),
        "messages.markAsRead" => send::mark_as_read(shared, account, params),
        "messages.isMessagesFromGroupAllowed" => customer::is_allowed(shared, account, params),
        "photos.getMessagesUploadServer" => files::photo_server(shared, account, params),
        "photos.saveMessagesPhoto" => files::save_photo(shared, account, params),
        "docs.getMessagesUploadServer" => files::doc_server(shared, account, params),
        "docs.save" => files::save_doc(shared, account, params),
        _ => Err(VkError::new(3, "Unknown method passed")),
    }
}

/// 20 requests per second per community (vk.md §5): error 6 past the bucket.
fn take_rate_token(shared: &Shared, account: &str) -> std::result::Result<(), VkError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    let account = state
        .account_mut(account)
        .map_err(|_| VkError::auth_invalid())?;
    if let Some(bucket) = account.bucket.as_mut() {
        if bucket.check(now).is_err() {
            tracing::debug!(account = %account.id, "sandbox vk: too many requests per second");
            return Err(VkError::new(6, "Too many requests per second"));
        }
        bucket.take(now);
    }
    Ok(())
}

/// The per-community bucket of the configuration.
fn bucket(shared: &Shared) -> Option<TokenBucket> {
    shared
        .config
        .vk_per_community
        .map(|limit| TokenBucket::new(limit, shared.now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_peers_start_at_two_billion() {
        assert!(is_chat(2_000_000_001));
        assert!(!is_chat(100_000_001));
        assert!(!is_chat(-229_000_000));
    }
}
