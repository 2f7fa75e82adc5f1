//! # messenger-sandbox
//!
//! A local, stateful emulator of the **Telegram Bot API**, the **WhatsApp Cloud API**, the
//! **MAX Bot API**, **VK community messages** and **Avito Messenger**, on loopback, in the
//! platforms' own wire formats and error shapes, with a control API to play the customer's side and to inject faults. Connectors
//! point their API base URL at it; tests and the `messenger sandbox` / `messenger demo`
//! commands drive the customers.
//!
//! ```
//! use messenger_sandbox::{AccountSpec, CustomerMessage, NewCustomer, Sandbox};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> messenger_core::Result<()> {
//! let sandbox = Sandbox::start("127.0.0.1:0").await?;
//! let bot = sandbox.create_account(&AccountSpec::telegram())?;
//! let ivan = sandbox.create_customer(&bot.id, &NewCustomer::named("Ivan"))?;
//! sandbox.customer_sends(&bot.id, &ivan.id, &CustomerMessage::text("hello"))?;
//!
//! // A connector polls `{telegram}/bot<token>/getUpdates` and answers with sendMessage.
//! let url = format!("{}/bot{}/getUpdates", sandbox.urls().telegram(), bot.token);
//! let updates: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
//! assert_eq!(updates["result"][0]["message"]["text"], "hello");
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## What is emulated
//!
//! One server (`Sandbox::start("127.0.0.1:0")`) serves every emulated platform, each under its
//! own prefix (`{base}/telegram`, `{base}/whatsapp`, `{base}/max`, `{base}/vk`,
//! `{base}/avito`), and the control API at
//! `{base}/control`;
//! [`SandboxUrls`] gives the roots, and a connector takes its platform's root as its base URL
//! ([`Sandbox::credentials`] gives it with the rest of what a connector needs). Each platform
//! is one emulator (a folder under `src/platforms/`, implementing the internal `Emulator`
//! trait: its routes, accounts, customers and webhook deliveries) over a shared model of
//! accounts, tokens, customers, messages and media, registered on one line of
//! `platforms::EMULATORS`. A platform without an emulator is refused with `Unsupported`
//! ("no emulator for max"); its paths are not served.
//!
//! Uploaded media is kept on disk, not in memory: every upload is streamed into a file of the
//! sandbox's own temporary folder ([`Sandbox::media_dir`], removed on shutdown or drop) as it
//! arrives, and downloads are streamed back from that file, so a 100 MB upload costs the
//! sandbox a few chunks of memory, not 100 MB.
//!
//! **Telegram** (`{telegram}/bot<token>/<method>`, JSON, form or multipart bodies, GET or POST,
//! method names case-insensitive): `getMe`, `sendMessage`, `sendPhoto`, `sendDocument`,
//! `sendVoice`, `sendAudio`, `sendVideo` (upload, `file_id` reuse of the bot's own files, or an
//! HTTP URL which is recorded, never fetched), `sendChatAction`, `getFile` and
//! `GET {telegram}/file/bot<token>/<file_path>`, `getUpdates` (offset confirmation, negative
//! offsets, `limit`, long-poll `timeout`, `allowed_updates`, 409 while a webhook is set or when
//! a second poller starts), `setWebhook` (with `secret_token`), `deleteWebhook`,
//! `getWebhookInfo`. Enforced, in Telegram's envelope: 401 `Unauthorized`, 404 for unknown
//! methods, 400 `chat not found`, 403 `bot was blocked by the user`, text 1-4096 and captions
//! 0-1024 UTF-16 units after `parse_mode` parsing (and `can't parse entities` for malformed
//! HTML / MarkdownV2), 10 MB photos / 50 MB files (413 above), photo type and dimensions,
//! `file_id` ownership and type, 20 MB downloads, and flood control: 429 with
//! `parameters.retry_after` past a per-chat token bucket (default a burst of 5, then 1/s), a
//! per-group sliding window in groups, supergroups and channels (default at most 20 in any
//! minute) and a per-bot bucket (30/s), on the sandbox clock. Group chats (negative ids) are
//! made with [`Sandbox::create_group`], customers as members; the bot sends to them as to any
//! chat. Customer messages, members' group messages (`chat.type` `group` or `supergroup`),
//! channel posts (`channel_post`) and blocks (`my_chat_member`) become updates; webhook
//! deliveries carry `X-Telegram-Bot-Api-Secret-Token`.
//!
//! **WhatsApp** (`{whatsapp}/{version}/...`, `Authorization: Bearer <token>`):
//! `GET /{version}/{phone-number-id}`, `POST .../messages` (text, image / document / audio /
//! video / sticker by id or link, template, reaction, `status: read`), `POST .../media`
//! (multipart), `GET` / `DELETE /{version}/{media-id}`, and the media URL download
//! (`{whatsapp}/whatsapp_business/attachments/?mid=...`) with the bearer token (URLs expire
//! after [`SandboxConfig::media_url_ttl`]: 404; a wrong token: 401).
//! Errors are Graph-shaped `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`:
//! 190/104 for tokens, 100 for parameters (text 4096 and caption 1024 characters, media types
//! and sizes), 100/33 for objects the token may not use, 130429 for throughput (80/s) and
//! 131056 for the pair rate (a burst of 45, then one per 6 s). A free-form send outside the
//! 24-hour window is accepted (200 + wamid) and then fails with a `failed` status carrying
//! 131047; a send to an unknown or blocking number fails with 131026. Statuses go out as
//! WhatsApp does: `sent`, then `delivered` (when the customer is online) and `read` (when the
//! customer reads), reversed when `out_of_order_statuses` is set. Webhooks are signed with
//! `X-Hub-Signature-256` over the raw body with the app secret.
//!
//! **VK** (`{vk}/method/<name>`, API 5.199, form or query parameters, the community token as
//! `Authorization: Bearer` or `access_token`, `v` required; VK's envelope `{"response"}` /
//! `{"error":{"error_code","error_msg","request_params"}}` inside HTTP 200): `groups.getById`
//! (without parameters: the token's community), `messages.send` (`peer_id` or `peer_ids`,
//! `random_id` required, text up to 9000 characters, attachments by string, `reply_to`, replies
//! by `forward`), `messages.edit`, `messages.delete`, `messages.markAsRead`,
//! `messages.isMessagesFromGroupAllowed`, `photos.getMessagesUploadServer` → `{vk}/upload/photo/..`
//! (multipart `photo`) → `photos.saveMessagesPhoto`, `docs.getMessagesUploadServer`
//! (`type=doc|audio_message|graffiti`) → `{vk}/upload/doc/..` (multipart `file`) → `docs.save`,
//! downloads of customers' media under `{vk}/media/..` and `{vk}/doc/..`, and the Bots Long
//! Poll (`groups.getLongPollServer` → `{vk}/lp/<community>?act=a_check&key&ts&wait`, with
//! `failed: 1|2|3` on demand through [`Fault::PollFailed`]). Enforced: error 5 for tokens, 3
//! for unknown methods, 100 for parameters, 914 for text over 9000 characters, 901 for a user
//! who never wrote or allowed messages or who denied them, 900 for one who blacklisted the
//! community, 917 for a group chat the community is not in, 6 past 20 requests per second per
//! community ([`SandboxConfig::vk_per_community`]), photo types, sizes (50 MB) and sides,
//! document sizes (200 MB) and types (no MP3, no executables, OGG voice notes). A repeated
//! `messages.send` with the same `random_id` to the same peer answers the first message's id
//! and stores nothing. Customer messages, reads, "Allow / Deny messages" and the community's
//! own sends become `message_new`, `message_read`, `message_allow` / `message_deny` and
//! `message_reply` events, for Long Poll and for the Callback server (`webhook_url`), which
//! is confirmed first by the `confirmation` handshake, gets every event with the `secret`, and
//! must answer `ok`. The module docs of `src/platforms/vk/` list what is UNCONFIRMED.
//!
//! **MAX** (`{max}/...`, the bot token as `Authorization` without `Bearer`): `GET /me`,
//! `POST` / `PUT` / `DELETE /messages` (to a dialog's `chat_id` or a `user_id`; text up to
//! 4000 characters, replies, attachments by token), the two-step uploads (`POST /uploads` and
//! the upload host), each upload processed for [`SandboxConfig::max_processing_delay`] before a
//! message may attach it (`400 attachment.not.ready` until then), downloads, `GET /updates`
//! long polling with markers, webhook subscriptions with `X-Max-Bot-Api-Secret`, the per-bot
//! rate limit ([`SandboxConfig::max_per_bot`]), and the customer's stop and restart
//! (`bot_stopped` / `bot_started`). The module docs of `src/platforms/max/` list what is
//! UNCONFIRMED.
//!
//! **Avito** (`{avito}/...`, `Authorization: Bearer <access token>`): OAuth (`POST /token`
//! with the client-credentials, authorization-code and refresh-token grants; access tokens
//! expire after 24 hours of the sandbox clock, then calls answer 403; refresh tokens rotate on
//! every refresh; the consent page `GET /oauth` redirects at once with `code` and `state`),
//! `GET /core/v1/accounts/self`, chats with `u2i-...` ids (`unread_only`), getMessagesV3 with
//! `is_read` and the `read` time advancing when the customer reads, text sends (1000
//! characters), `uploadImages` (multipart `uploadfile[]`, 24 MB, image types) and
//! `messages/image`, deletes within the hour, `chatRead`, `getVoiceFiles` with links that
//! expire after an hour of the sandbox clock, and webhook v3 subscriptions delivered to the
//! registered URL (which carries the connector's token). A customer is one chat: its id is
//! the chat id. The module docs of `src/platforms/avito/` list what is UNCONFIRMED.
//!
//! Webhooks are delivered in order per account, to loopback URLs only (the sandbox has no
//! network), retried with backoff ([`SandboxConfig::webhook_retry_delay`]) and logged
//! ([`Sandbox::deliveries`]).
//!
//! ## Faults
//!
//! [`Sandbox::inject_fault`] queues a [`Fault`] for the next `count` requests of an account
//! (optionally of one operation): a 5xx, a rate limit with a retry-after, a delay, a dropped
//! connection (closed without any response, by default *after* the request was processed, so
//! the client sees a "maybe sent" failure while the message is stored and delivered), a
//! truncated body (headers and half of the body, then the connection closes), or a stale
//! long-poll session ([`Fault::PollFailed`], VK's `failed: 1|2|3`, understood by emulators whose
//! long polling has sessions and answered as a 500 by the others).
//!
//! ## Control API
//!
//! JSON over HTTP under `{control}` (`http://127.0.0.1:<port>/control`); every route has a
//! [`Sandbox`] method (in-process) and a [`Control`] method (over HTTP). Errors are
//! `{"error":{"kind":"not_found"|"invalid_input"|"conflict"|...,"message":"..."}}` with 404,
//! 400 or 409.
//!
//! Every state-changing request (`POST`, `PATCH`, `DELETE`), with or without a body, must say
//! `Content-Type: application/json`; anything else is refused with 415 in the same error shape
//! before it changes anything. A web page can send a form or a `text/plain` body cross-site
//! without asking, but not JSON, so no page a developer visits can drive the sandbox. The
//! [`Control`] client always sends the header.
//!
//! | Route | Body | Answer | Method |
//! |---|---|---|---|
//! | `GET /control` | | [`SandboxUrls`] (`{"base","control","telegram","whatsapp","vk"}`) | [`Sandbox::urls`] |
//! | `POST /control/accounts` | [`AccountSpec`] | 201 [`SandboxAccount`] | [`Sandbox::create_account`] |
//! | `GET /control/accounts` | | `[SandboxAccount]` | [`Sandbox::accounts`] |
//! | `GET /control/accounts/{account}` | | [`SandboxAccount`] | [`Sandbox::account`] |
//! | `PATCH /control/accounts/{account}` | [`AccountPatch`] | [`SandboxAccount`] | [`Sandbox::update_account`] |
//! | `GET /control/accounts/{account}/credentials` | | `{"token": ..., "base_url": ..., ...}` | [`Sandbox::credentials`] |
//! | `POST /control/accounts/{account}/verify-webhook` | | [`WebhookCheck`] | [`Sandbox::verify_webhook`] |
//! | `POST /control/accounts/{account}/customers` | [`NewCustomer`] | 201 [`Customer`] | [`Sandbox::create_customer`] |
//! | `GET /control/accounts/{account}/customers` | | `[Customer]` | [`Sandbox::customers`] |
//! | `GET /control/accounts/{account}/customers/{customer}` | | [`Customer`] | [`Sandbox::customer`] |
//! | `PATCH /control/accounts/{account}/customers/{customer}` | [`CustomerPatch`] | [`Customer`] | [`Sandbox::set_online`] |
//! | `POST /control/accounts/{account}/customers/{customer}/messages` | [`CustomerMessage`] | 201 [`InboundReceipt`] | [`Sandbox::customer_sends`] |
//! | `GET /control/accounts/{account}/customers/{customer}/messages[?direction=outbound\|inbound]` | | `[MessageView]` | [`Sandbox::messages`], [`Sandbox::received`] |
//! | `POST /control/accounts/{account}/customers/{customer}/read` | [`ReadRequest`] | [`ReadOutcome`] | [`Sandbox::customer_reads`] |
//! | `POST /control/accounts/{account}/customers/{customer}/block` | | [`Customer`] | [`Sandbox::block`] |
//! | `POST /control/accounts/{account}/customers/{customer}/unblock` | | [`Customer`] | [`Sandbox::unblock`] |
//! | `POST /control/accounts/{account}/customers/{customer}/allow` | | [`Customer`] | [`Sandbox::allow_messages`] |
//! | `POST /control/accounts/{account}/customers/{customer}/deny` | | [`Customer`] | [`Sandbox::deny_messages`] |
//! | `POST /control/accounts/{account}/groups` | [`NewGroup`] | 201 [`Group`] | [`Sandbox::create_group`] |
//! | `GET /control/accounts/{account}/groups` | | `[Group]` | [`Sandbox::groups`] |
//! | `GET /control/accounts/{account}/groups/{group}` | | [`Group`] | [`Sandbox::group`] |
//! | `POST /control/accounts/{account}/groups/{group}/messages` | [`GroupMessage`] | 201 [`InboundReceipt`] | [`Sandbox::group_sends`] |
//! | `GET /control/accounts/{account}/groups/{group}/messages` | | `[MessageView]` | [`Sandbox::group_messages`] |
//! | `POST /control/accounts/{account}/faults` | [`FaultSpec`] | `[FaultSpec]` queued | [`Sandbox::inject_fault`] |
//! | `GET /control/accounts/{account}/faults` | | `[FaultSpec]` | [`Sandbox::faults`] |
//! | `DELETE /control/accounts/{account}/faults` | | 204 | [`Sandbox::clear_faults`] |
//! | `GET /control/accounts/{account}/requests` | | `[RequestRecord]` | [`Sandbox::requests`] |
//! | `GET /control/accounts/{account}/deliveries` | | `[DeliveryRecord]` | [`Sandbox::deliveries`] |
//! | `GET /control/clock` | | [`ClockState`] | [`Sandbox::clock`] |
//! | `POST /control/clock/advance` | [`ClockAdvance`] | [`ClockState`] | [`Sandbox::advance_clock`] |
//!
//! `{account}` is the bot id (Telegram, the digits before `:` in the token; MAX), the
//! phone-number id (WhatsApp), the community id (VK) or the Avito `user_id`; `{customer}` is
//! the Telegram user id (= private chat id), the WhatsApp `wa_id`, the MAX user id, the VK user
//! id (= `peer_id`; from 2000000000 on, a group chat) or the Avito chat id (`u2i-...`); `{group}` is a group chat id (Telegram: negative). The sandbox clock drives reply windows, media URL expiry, rate-limit refills and
//! timestamps, so a test can cross 24 hours without waiting.
//!
//! The sandbox never logs message text, captions, file names, phone numbers or tokens: tracing
//! events carry account ids, fingerprints, kinds and sizes only.

#![warn(missing_docs)]

mod api;
mod client;
mod clock;
mod config;
mod control;
mod media;
mod platforms;
mod server;
mod state;
mod webhook;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use messenger_core::registry::Credentials;
use messenger_core::{Error, Platform, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use api::{
    AccountPatch, AccountSpec, ClockAdvance, ClockState, Customer, CustomerMessage, CustomerPatch,
    DeliveryRecord, ErrorView, Fault, FaultSpec, Group, GroupKind, GroupMessage, InboundReceipt,
    MediaUpload, MediaView, MessageDirection, MessageKind, MessageStatus, MessageView, NewCustomer,
    NewGroup, ReadOutcome, ReadRequest, RequestRecord, SandboxAccount, SandboxUrls, WebhookCheck,
};
pub use client::Control;
pub use clock::{LimitKind, RateLimit};
pub use config::SandboxConfig;

use state::Shared;

/// A running sandbox. Dropping it stops the server and removes its media folder
/// ([`media_dir`](Self::media_dir)); [`shutdown`](Self::shutdown) also waits
/// for the accept loop to end.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("urls", &self.shared.urls)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts a sandbox with the default [`SandboxConfig`] on a loopback address such as
    /// `127.0.0.1:0` (port 0 picks a free port).
    pub async fn start(addr: &str) -> Result<Self> {
        Self::start_with(addr, SandboxConfig::default()).await
    }

    /// Starts a sandbox with a configuration. Refuses any address that is not loopback.
    pub async fn start_with(addr: &str, config: SandboxConfig) -> Result<Self> {
        let candidates: Vec<SocketAddr> = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| {
                Error::invalid_input("the sandbox address does not resolve").with_source(e)
            })?
            .collect();
        if candidates.is_empty() || candidates.iter().any(|a| !a.ip().is_loopback()) {
            return Err(Error::invalid_input(
                "the sandbox listens on loopback addresses only (e.g. 127.0.0.1:0)",
            ));
        }
        let listener = TcpListener::bind(candidates[0])
            .await
            .map_err(|e| Error::transport("the sandbox cannot bind its address").with_source(e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::transport("the sandbox has no local address").with_source(e))?;
        let base = format!("http://{addr}");
        let urls = SandboxUrls {
            control: format!("{base}/control"),
            platforms: platforms::EMULATORS
                .iter()
                .map(|e| (e.platform(), format!("{base}/{}", e.prefix())))
                .collect(),
            base,
        };
        let shared = Shared::new(config, urls)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let router = server::router(shared.clone());
        let server = tokio::spawn(server::serve(listener, router, shutdown_rx));
        tracing::info!(%addr, "sandbox: listening");
        Ok(Self {
            shared,
            addr,
            shutdown,
            server: Some(server),
        })
    }

    /// The base URLs (server root, control root, and each platform's root under its prefix).
    pub fn urls(&self) -> &SandboxUrls {
        &self.shared.urls
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration in force.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// A typed HTTP client of this sandbox's control API.
    pub fn control(&self) -> Result<Control> {
        Control::new(self.shared.urls.control.clone())
    }

    /// The folder uploaded media is kept in (a fresh one under the system's temporary folder,
    /// one file per upload). It is removed, with every file in it, on
    /// [`shutdown`](Self::shutdown) or when the sandbox is dropped.
    pub fn media_dir(&self) -> &std::path::Path {
        self.shared.media.path()
    }

    /// Stops the server, closes every connection, ends the webhook workers and removes the
    /// media folder.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.shared.abort_tasks();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.shared.media.remove();
    }

    /// Creates an account (a Telegram or MAX bot, a WhatsApp number, a VK community, an Avito
    /// profile) and starts its webhook worker.
    /// A platform the sandbox does not emulate is `Unsupported` ("no emulator for max").
    pub fn create_account(&self, spec: &AccountSpec) -> Result<SandboxAccount> {
        self.shared.create_account(spec)
    }

    /// Every account.
    pub fn accounts(&self) -> Vec<SandboxAccount> {
        self.shared.list_accounts()
    }

    /// One account.
    pub fn account(&self, account: &str) -> Result<SandboxAccount> {
        self.shared.get_account(account)
    }

    /// Changes an account's webhook, secrets or status ordering.
    pub fn update_account(&self, account: &str, patch: &AccountPatch) -> Result<SandboxAccount> {
        self.shared.patch_account(account, patch)
    }

    /// The credentials a connector needs for an account, with the keys of
    /// [`messenger_core::registry`]: Telegram `token`, `base_url` (the sandbox's Telegram
    /// root) and `webhook_secret` if one is set; WhatsApp `token`, `phone_number_id`,
    /// `app_secret`, `verify_token` if one is set, and `base_url` (the sandbox's Graph root);
    /// VK `token`, `group_id`, `base_url` (`{base}/vk`), `secret` if one is set, and
    /// `confirmation`; MAX `token`, `base_url` (`{base}/max`) and `webhook_secret` if one is
    /// set; Avito `client_id`, `client_secret`, `base_url` (`{base}/avito`; the token
    /// endpoint is `{base_url}/token`, the consent page `{base_url}/oauth`) and
    /// `webhook_token` (the token the registered webhook URL carries).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> messenger_core::Result<()> {
    /// use messenger_core::registry::BASE_URL;
    /// use messenger_sandbox::{AccountSpec, Sandbox};
    /// let sandbox = Sandbox::start("127.0.0.1:0").await?;
    /// let bot = sandbox.create_account(&AccountSpec::telegram())?;
    /// let credentials = sandbox.credentials(&bot.id)?;
    /// assert_eq!(credentials.get("token"), Some(bot.token.as_str()));
    /// assert_eq!(credentials.get(BASE_URL), Some(sandbox.urls().telegram()));
    /// # Ok(()) }
    /// ```
    pub fn credentials(&self, account: &str) -> Result<Credentials> {
        self.shared.credentials(account)
    }

    /// The platform's webhook verification handshake against the account's callback URL.
    /// WhatsApp: the `hub.challenge` handshake (`GET <callback>?hub.mode=subscribe&...`), as
    /// Meta does when the callback is configured. VK: the `confirmation` event, which the
    /// server must answer with the confirmation string; a server that does is confirmed
    /// (the sandbox also sends it by itself whenever a Callback server is set). A platform
    /// without one: `Unsupported`.
    pub async fn verify_webhook(&self, account: &str) -> Result<WebhookCheck> {
        self.shared.verify_webhook(account).await
    }

    /// Adds a customer to an account (a Telegram user who started the bot; a WhatsApp user
    /// whose window is closed until they write).
    pub fn create_customer(&self, account: &str, new: &NewCustomer) -> Result<Customer> {
        self.shared.create_customer(account, new)
    }

    /// An account's customers, in creation order.
    pub fn customers(&self, account: &str) -> Result<Vec<Customer>> {
        self.shared.list_customers(account)
    }

    /// One customer.
    pub fn customer(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.get_customer(account, customer)
    }

    /// Takes a customer's device online (WhatsApp: pending `delivered` statuses go out) or
    /// offline.
    pub fn set_online(&self, account: &str, customer: &str, online: bool) -> Result<Customer> {
        self.shared.set_online(account, customer, online)
    }

    /// The customer sends text or media to the account: Telegram queues an update, WhatsApp
    /// opens the window and queues a signed webhook.
    pub fn customer_sends(
        &self,
        account: &str,
        customer: &str,
        message: &CustomerMessage,
    ) -> Result<InboundReceipt> {
        self.shared.customer_sends(account, customer, message)
    }

    /// The whole conversation with a customer, in order.
    pub fn messages(&self, account: &str, customer: &str) -> Result<Vec<MessageView>> {
        self.shared.list_messages(account, customer, None)
    }

    /// What a customer received (outbound messages), in order, with kind, text or caption,
    /// media size and MIME type, and status.
    pub fn received(&self, account: &str, customer: &str) -> Result<Vec<MessageView>> {
        self.shared
            .list_messages(account, customer, Some(MessageDirection::Outbound))
    }

    /// The customer reads every outbound message up to and including `up_to` (all when
    /// `None`). WhatsApp sends `read` statuses; VK one `message_read` naming the last message
    /// read; Telegram reports nothing to a bot.
    pub fn customer_reads(
        &self,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<ReadOutcome> {
        self.shared.customer_reads(account, customer, up_to)
    }

    /// The customer blocks the bot (Telegram: a `my_chat_member` update, then 403 on sends;
    /// WhatsApp: sends fail with 131026; VK: the user blacklists the community, sends fail with
    /// 900 and nothing is reported).
    pub fn block(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_blocked(account, customer, true)
    }

    /// The customer unblocks the bot.
    pub fn unblock(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_blocked(account, customer, false)
    }

    /// The customer allows the account's messages (VK: "Allow messages", a `message_allow`
    /// event; the community may write to them). A platform without such consent:
    /// `Unsupported`.
    pub fn allow_messages(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_consent(account, customer, true)
    }

    /// The customer denies the account's messages (VK: a `message_deny` event; sends fail
    /// with 901 until they write or allow again). A platform without such consent:
    /// `Unsupported`.
    pub fn deny_messages(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_consent(account, customer, false)
    }

    /// Creates a group chat of an account with customers of it as members (Telegram: a group,
    /// a supergroup or a channel, with a negative id). A platform whose emulator has no group
    /// chats: `Unsupported`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> messenger_core::Result<()> {
    /// use messenger_sandbox::{AccountSpec, GroupKind, NewCustomer, NewGroup, Sandbox};
    /// let sandbox = Sandbox::start("127.0.0.1:0").await?;
    /// let bot = sandbox.create_account(&AccountSpec::telegram())?;
    /// let ivan = sandbox.create_customer(&bot.id, &NewCustomer::named("Ivan"))?;
    /// let group = sandbox.create_group(
    ///     &bot.id,
    ///     &NewGroup::new(GroupKind::Supergroup).title("Support").member(&ivan.id),
    /// )?;
    /// assert!(group.id.starts_with("-100"));
    /// assert_eq!(group.members, [ivan.id]);
    /// # sandbox.shutdown().await; Ok(()) }
    /// ```
    pub fn create_group(&self, account: &str, new: &NewGroup) -> Result<Group> {
        self.shared.create_group(account, new)
    }

    /// An account's group chats, in creation order.
    pub fn groups(&self, account: &str) -> Result<Vec<Group>> {
        self.shared.list_groups(account)
    }

    /// One group chat.
    pub fn group(&self, account: &str, group: &str) -> Result<Group> {
        self.shared.get_group(account, group)
    }

    /// A member writes in a group chat (`from`), or a channel posts (no `from`): Telegram
    /// queues a `message` update whose `chat.type` is `group` or `supergroup`, or a
    /// `channel_post`.
    pub fn group_sends(
        &self,
        account: &str,
        group: &str,
        message: &GroupMessage,
    ) -> Result<InboundReceipt> {
        self.shared.group_sends(account, group, message)
    }

    /// Everything posted in a group chat, the account's own messages included, in order.
    pub fn group_messages(&self, account: &str, group: &str) -> Result<Vec<MessageView>> {
        self.shared.list_group_messages(account, group)
    }

    /// Queues a fault for the next matching requests of an account; returns the queue.
    pub fn inject_fault(&self, account: &str, spec: &FaultSpec) -> Result<Vec<FaultSpec>> {
        self.shared.inject_fault(account, spec)
    }

    /// The faults still queued for an account.
    pub fn faults(&self, account: &str) -> Result<Vec<FaultSpec>> {
        self.shared.list_faults(account)
    }

    /// Removes every queued fault of an account.
    pub fn clear_faults(&self, account: &str) -> Result<()> {
        self.shared.clear_faults(account)
    }

    /// The platform API requests an account received (the last 1000).
    pub fn requests(&self, account: &str) -> Result<Vec<RequestRecord>> {
        self.shared.list_requests(account)
    }

    /// The webhook deliveries of an account (the last 1000), including failed attempts.
    pub fn deliveries(&self, account: &str) -> Result<Vec<DeliveryRecord>> {
        self.shared.list_deliveries(account)
    }

    /// The sandbox clock.
    pub fn clock(&self) -> ClockState {
        self.shared.clock_state()
    }

    /// Moves the sandbox clock forward.
    pub fn advance_clock(&self, by: Duration) -> ClockState {
        self.shared.advance_clock(by)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.shared.abort_tasks();
        self.shared.media.remove();
    }
}

/// One account [`run`] seeded, with its first customer.
#[derive(Clone, Debug)]
pub struct DemoAccount {
    /// The platform.
    pub platform: Platform,
    /// The account (its credentials: [`Sandbox::credentials`]).
    pub account: SandboxAccount,
    /// A customer who has started a conversation with it (on WhatsApp, their reply window
    /// opens when they write).
    pub customer: Customer,
}

/// What [`run`] seeded: one account on every emulated platform, each with one customer.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The base URLs.
    pub urls: SandboxUrls,
    /// One account per emulated platform, in the order of [`SandboxUrls`].
    pub accounts: Vec<DemoAccount>,
}

impl Demo {
    /// The demo account of `platform`, if the sandbox emulates it.
    pub fn account(&self, platform: Platform) -> Option<&DemoAccount> {
        self.accounts.iter().find(|a| a.platform == platform)
    }
}

/// The entry of `messenger sandbox [--port N]`: starts a sandbox on `addr` (loopback) and
/// seeds one demo account and customer on every emulated platform, with fixed credentials.
/// Prints nothing; the caller shows [`Demo`] and keeps the [`Sandbox`] alive until it wants to
/// stop.
///
/// ```
/// use messenger_core::Platform;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> messenger_core::Result<()> {
/// let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await?;
/// let bot = demo.account(Platform::Telegram).unwrap();
/// let credentials = sandbox.credentials(&bot.account.id)?;
/// assert_eq!(credentials.get("token"), Some(bot.account.token.as_str()));
/// assert_eq!(demo.accounts.len(), sandbox.urls().platforms.len());
/// sandbox.shutdown().await;
/// # Ok(()) }
/// ```
pub async fn run(addr: &str) -> Result<(Sandbox, Demo)> {
    let sandbox = Sandbox::start(addr).await?;
    let mut accounts = Vec::new();
    for platform in platforms::platforms() {
        let (spec, new_customer) = platforms::emulator(platform)?.demo();
        let account = sandbox.create_account(&spec)?;
        let customer = sandbox.create_customer(&account.id, &new_customer)?;
        accounts.push(DemoAccount {
            platform,
            account,
            customer,
        });
    }
    let demo = Demo {
        urls: sandbox.urls().clone(),
        accounts,
    };
    Ok((sandbox, demo))
}
