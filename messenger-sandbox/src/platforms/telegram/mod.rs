//! The Telegram Bot API as a connector uses it (telegram.md), served under
//! `{base}/telegram`: `getMe`, the `send*` methods with JSON, form and multipart bodies,
//! `getFile` and file downloads, `getUpdates` long polling, webhooks with
//! `X-Telegram-Bot-Api-Secret-Token`, the customer's side (messages, blocks), and group chats
//! (groups, supergroups and channels with customers as members; [`groups`]).
//!
//! Errors use Telegram's envelope `{"ok":false,"error_code":N,"description":"..."}` with the
//! HTTP status equal to `error_code` ([`envelope`]).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Emulator`] impl, the bot state, the routes and the method dispatch |
//! | `envelope.rs` | answer and error shapes, fault answers |
//! | `params.rs` | method parameters from the query, JSON, form or multipart body |
//! | `accounts.rs` | bots from an account spec, patches, the control view, credentials |
//! | `customer.rs` | customers and the customer's side: messages, blocks, reads |
//! | `groups.rs` | groups, supergroups and channels: members, their posts, the group limits |
//! | `send.rs` | `getMe`, `sendMessage`, `sendChatAction`, the media sends, flood control |
//! | `files.rs` | stored files, `file_id` objects, `getFile` and downloads |
//! | `updates.rs` | the update queue and `getUpdates` |
//! | `webhook.rs` | `setWebhook`, `deleteWebhook`, `getWebhookInfo` and webhook deliveries |
//! | `markup.rs` | `parse_mode` parsing |

mod accounts;
mod customer;
mod envelope;
mod files;
mod groups;
mod markup;
mod params;
mod send;
mod updates;
mod webhook;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get};
use chrono::{DateTime, Utc};
use messenger_core::registry::Credentials;
use messenger_core::{Platform, Result};
use serde_json::Value;

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, Group, GroupMessage, InboundReceipt, MessageView,
    NewCustomer, NewGroup, SandboxAccount,
};
use crate::platforms::{Delivery, Emulator, Outcome};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{Account, Customer, Shared, State};

use envelope::{TgError, fault_response, not_found, unauthorized};

/// The Telegram emulator (see the [module docs](self)).
pub(crate) struct Telegram;

/// The demo bot token `messenger sandbox` seeds.
const DEMO_TOKEN: &str = "7000000001:AAsandboxDemoTelegramToken000000001";

impl Emulator for Telegram {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn demo(&self) -> (AccountSpec, NewCustomer) {
        (
            AccountSpec::new(Platform::Telegram)
                .token(DEMO_TOKEN)
                .name("Sandbox Demo Bot")
                .username("sandbox_demo_bot"),
            NewCustomer {
                id: Some("100000001".into()),
                name: Some("Ivan".into()),
                username: Some("ivan".into()),
                language_code: Some("ru".into()),
                ..NewCustomer::default()
            },
        )
    }

    fn routes(&self) -> Router<Arc<Shared>> {
        Router::new()
            .route("/file/{bot}/{*path}", get(files::download))
            .route("/{bot}/{method}", any(method))
            .fallback(|| async { not_found() })
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
        shared: &Shared,
        state: &mut State,
        new: &NewCustomer,
    ) -> Result<Customer> {
        customer::new_customer(shared, state, new)
    }

    fn window_open_until(&self, _shared: &Shared, _customer: &Customer) -> Option<DateTime<Utc>> {
        // A bot may write to a user who started it at any time.
        None
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

    fn create_group(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        new: &NewGroup,
    ) -> Result<Group> {
        groups::create_group(shared, state, account, new)
    }

    fn groups(&self, state: &State, account: &str) -> Result<Vec<Group>> {
        groups::groups(state, account)
    }

    fn group_sends(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        group: &str,
        message: &GroupMessage,
    ) -> Result<InboundReceipt> {
        groups::group_sends(shared, state, account, group, message)
    }

    fn group_messages(
        &self,
        state: &State,
        account: &str,
        group: &str,
    ) -> Result<Vec<MessageView>> {
        groups::group_messages(state, account, group)
    }

    fn next_delivery(&self, account: &Account) -> Option<Delivery> {
        webhook::next_delivery(account)
    }

    fn delivery_done(&self, account: &mut Account, key: u64, outcome: &Outcome<'_>) {
        webhook::delivery_done(account, key, outcome);
    }
}

/// Caption limit in UTF-16 code units (telegram.md §3, §6).
const CAPTION_LIMIT: usize = 1024;
/// Text limit in UTF-16 code units (telegram.md §3, §6).
const TEXT_LIMIT: usize = 4096;
/// Multipart upload limits (telegram.md §5).
const PHOTO_UPLOAD_LIMIT: u64 = 10 * 1024 * 1024;
const FILE_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// getFile download limit (telegram.md §3 getFile).
const DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;
/// Pending updates are kept 24 h (telegram.md §3 getUpdates).
const UPDATE_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Update types not delivered unless asked for (telegram.md §3 getUpdates `allowed_updates`).
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

const METHODS: &[&str] = &[
    "getme",
    "sendmessage",
    "sendphoto",
    "senddocument",
    "sendvoice",
    "sendaudio",
    "sendvideo",
    "sendchataction",
    "getfile",
    "getupdates",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
];

/// The Telegram part of an account.
struct BotState {
    pub bot_id: i64,
    pub username: String,
    pub updates: VecDeque<Update>,
    pub next_update_id: i64,
    pub webhook: Option<Webhook>,
    pub allowed_updates: Option<Vec<String>>,
    pub poll_generation: u64,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
    /// Group chats (negative ids), by id.
    pub groups: BTreeMap<i64, groups::TgGroup>,
}

/// A pending update.
struct Update {
    pub id: i64,
    pub body: Value,
    pub created_ms: i64,
}

/// A webhook set by `setWebhook`.
struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub max_connections: u32,
    pub ip_address: Option<String>,
}

/// The bot part of an account.
fn bot(account: &Account) -> Option<&BotState> {
    account.ext.get::<BotState>()
}

/// The bot part of an account.
fn bot_mut(account: &mut Account) -> Option<&mut BotState> {
    account.ext.get_mut::<BotState>()
}

/// UTF-16 code units, the unit of Telegram's text and caption limits.
fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

// ---------------------------------------------------------------------------------------------
// The Bot API
// ---------------------------------------------------------------------------------------------

/// `/bot<token>/<method>`.
async fn method(
    AxState(shared): AxState<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    let Some(token) = bot.strip_prefix("bot") else {
        return not_found();
    };
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = shared
        .lock()
        .account_by_token(token, Platform::Telegram)
        .map(str::to_string);
    let Some(account) = account else {
        return unauthorized().into_response();
    };
    let work = async {
        match handle(&shared, &account, &method, req).await {
            Ok(body) => json_response(StatusCode::OK, &body),
            Err(err) => err.into_response(),
        }
    };
    server::with_faults(&shared, &account, &method, conn, fault_response, work).await
}

async fn handle(
    shared: &Arc<Shared>,
    account: &str,
    method: &str,
    req: Request,
) -> Result<Value, TgError> {
    let lower = method.to_ascii_lowercase();
    if !METHODS.contains(&lower.as_str()) {
        return Err(TgError::new(404, "Not Found"));
    }
    let params = params::read_params(req, shared.config.max_request_bytes, &shared.media).await?;
    tracing::debug!(method = %lower, "sandbox telegram: request");
    match lower.as_str() {
        "getme" => send::get_me(shared, account),
        "sendmessage" => send::send_message(shared, account, &params),
        "sendphoto" => send::send_media(shared, account, &params, send::MediaMethod::Photo),
        "senddocument" => send::send_media(shared, account, &params, send::MediaMethod::Document),
        "sendvoice" => send::send_media(shared, account, &params, send::MediaMethod::Voice),
        "sendaudio" => send::send_media(shared, account, &params, send::MediaMethod::Audio),
        "sendvideo" => send::send_media(shared, account, &params, send::MediaMethod::Video),
        "sendchataction" => send::send_chat_action(shared, account, &params),
        "getfile" => files::get_file(shared, account, &params),
        "getupdates" => updates::get_updates(shared, account, &params).await,
        "setwebhook" => webhook::set_webhook(shared, account, &params),
        "deletewebhook" => webhook::delete_webhook(shared, account, &params),
        "getwebhookinfo" => webhook::webhook_info(shared, account),
        _ => Err(TgError::new(404, "Not Found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_counts_surrogate_pairs() {
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("я"), 1);
    }
}
