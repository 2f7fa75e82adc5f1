//! # messenger-sandbox
//!
//! A local, stateful emulator of the **Telegram Bot API** and the **WhatsApp Cloud API**, on
//! loopback, in the platforms' own wire formats and error shapes, with a control API to play the
//! customer's side and to inject faults. Connectors point their API base URL at it; tests and
//! the `messenger sandbox` / `messenger demo` commands drive the customers.
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
//! let url = format!("{}/bot{}/getUpdates", sandbox.urls().telegram, bot.token);
//! let updates: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
//! assert_eq!(updates["result"][0]["message"]["text"], "hello");
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## What is emulated
//!
//! One server (`Sandbox::start("127.0.0.1:0")`) serves both platforms and the control API;
//! [`SandboxUrls`] gives the roots. Each platform is one module over a shared model of
//! accounts, tokens, customers, messages and media.
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
//! `parameters.retry_after` past a per-chat token bucket (default a burst of 5, then 1/s) and a
//! per-bot one (30/s). Customer messages and blocks (`my_chat_member`) become updates; webhook
//! deliveries carry `X-Telegram-Bot-Api-Secret-Token`.
//!
//! **WhatsApp** (`{whatsapp}/{version}/...`, `Authorization: Bearer <token>`):
//! `GET /{version}/{phone-number-id}`, `POST .../messages` (text, image / document / audio /
//! video / sticker by id or link, template, reaction, `status: read`), `POST .../media`
//! (multipart), `GET` / `DELETE /{version}/{media-id}`, and the media URL download with the
//! bearer token (URLs expire after [`SandboxConfig::media_url_ttl`]: 404; a wrong token: 401).
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
//! Webhooks are delivered in order per account, to loopback URLs only (the sandbox has no
//! network), retried with backoff ([`SandboxConfig::webhook_retry_delay`]) and logged
//! ([`Sandbox::deliveries`]).
//!
//! ## Faults
//!
//! [`Sandbox::inject_fault`] queues a [`Fault`] for the next `count` requests of an account
//! (optionally of one operation): a 5xx, a rate limit with a retry-after, a delay, a dropped
//! connection (closed without any response, by default *after* the request was processed, so
//! the client sees a "maybe sent" failure while the message is stored and delivered), or a
//! truncated body (headers and half of the body, then the connection closes).
//!
//! ## Control API
//!
//! JSON over HTTP under `{control}` (`http://127.0.0.1:<port>/control`); every route has a
//! [`Sandbox`] method (in-process) and a [`Control`] method (over HTTP). Errors are
//! `{"error":{"kind":"not_found"|"invalid_input"|"conflict"|...,"message":"..."}}` with 404,
//! 400 or 409.
//!
//! | Route | Body | Answer | Method |
//! |---|---|---|---|
//! | `GET /control` | | [`SandboxUrls`] | [`Sandbox::urls`] |
//! | `POST /control/accounts` | [`AccountSpec`] | 201 [`SandboxAccount`] | [`Sandbox::create_account`] |
//! | `GET /control/accounts` | | `[SandboxAccount]` | [`Sandbox::accounts`] |
//! | `GET /control/accounts/{account}` | | [`SandboxAccount`] | [`Sandbox::account`] |
//! | `PATCH /control/accounts/{account}` | [`AccountPatch`] | [`SandboxAccount`] | [`Sandbox::update_account`] |
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
//! | `POST /control/accounts/{account}/faults` | [`FaultSpec`] | `[FaultSpec]` queued | [`Sandbox::inject_fault`] |
//! | `GET /control/accounts/{account}/faults` | | `[FaultSpec]` | [`Sandbox::faults`] |
//! | `DELETE /control/accounts/{account}/faults` | | 204 | [`Sandbox::clear_faults`] |
//! | `GET /control/accounts/{account}/requests` | | `[RequestRecord]` | [`Sandbox::requests`] |
//! | `GET /control/accounts/{account}/deliveries` | | `[DeliveryRecord]` | [`Sandbox::deliveries`] |
//! | `GET /control/clock` | | [`ClockState`] | [`Sandbox::clock`] |
//! | `POST /control/clock/advance` | [`ClockAdvance`] | [`ClockState`] | [`Sandbox::advance_clock`] |
//!
//! `{account}` is the bot id (Telegram, the digits before `:` in the token) or the phone-number
//! id (WhatsApp); `{customer}` is the Telegram user id (= private chat id) or the WhatsApp
//! `wa_id`. The sandbox clock drives reply windows, media URL expiry, rate-limit refills and
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

use messenger_core::{Error, Platform, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use api::{
    AccountPatch, AccountSpec, ClockAdvance, ClockState, Customer, CustomerMessage, CustomerPatch,
    DeliveryRecord, ErrorView, Fault, FaultSpec, InboundReceipt, MediaUpload, MediaView,
    MessageDirection, MessageKind, MessageStatus, MessageView, NewCustomer, ReadOutcome,
    ReadRequest, RequestRecord, SandboxAccount, SandboxUrls, WebhookCheck,
};
pub use client::Control;
pub use clock::RateLimit;
pub use config::SandboxConfig;

use state::Shared;

/// A running sandbox. Dropping it stops the server; [`shutdown`](Self::shutdown) also waits
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
            telegram: base.clone(),
            whatsapp: base.clone(),
            control: format!("{base}/control"),
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

    /// The base URLs (Telegram root, Graph root, control root).
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

    /// Stops the server, closes every connection and ends the webhook workers.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.shared.abort_tasks();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Creates an account (a Telegram bot or a WhatsApp number) and starts its webhook worker.
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

    /// WhatsApp: sends the `hub.challenge` handshake (`GET <callback>?hub.mode=subscribe&...`)
    /// to the account's webhook URL, as Meta does when the callback is configured.
    pub async fn verify_webhook(&self, account: &str) -> Result<WebhookCheck> {
        platforms::whatsapp::verify_webhook(&self.shared, account).await
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
    /// `None`). WhatsApp sends `read` statuses; Telegram reports nothing to a bot.
    pub fn customer_reads(
        &self,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<ReadOutcome> {
        self.shared.customer_reads(account, customer, up_to)
    }

    /// The customer blocks the bot (Telegram: a `my_chat_member` update, then 403 on sends;
    /// WhatsApp: sends fail with 131026).
    pub fn block(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_blocked(account, customer, true)
    }

    /// The customer unblocks the bot.
    pub fn unblock(&self, account: &str, customer: &str) -> Result<Customer> {
        self.shared.set_blocked(account, customer, false)
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
    }
}

/// The demo Telegram bot token seeded by [`run`].
pub const DEMO_TELEGRAM_TOKEN: &str = "7000000001:AAsandboxDemoTelegramToken000000001";
/// The demo WhatsApp phone-number id seeded by [`run`].
pub const DEMO_WHATSAPP_PHONE_NUMBER_ID: &str = "100000000000001";
/// The demo WhatsApp access token seeded by [`run`].
pub const DEMO_WHATSAPP_TOKEN: &str = "EAAsandboxDemoWhatsAppAccessToken0001";
/// The demo WhatsApp app secret seeded by [`run`].
pub const DEMO_WHATSAPP_APP_SECRET: &str = "sandbox-demo-app-secret";

/// What [`run`] seeded: one Telegram bot and one WhatsApp number, each with one customer.
#[derive(Clone)]
pub struct Demo {
    /// The base URLs.
    pub urls: SandboxUrls,
    /// The Telegram bot (token: [`DEMO_TELEGRAM_TOKEN`]).
    pub telegram: SandboxAccount,
    /// A customer who started the bot.
    pub telegram_customer: Customer,
    /// The WhatsApp number (id, token and app secret: the `DEMO_WHATSAPP_*` constants).
    pub whatsapp: SandboxAccount,
    /// A WhatsApp customer (their window opens when they write).
    pub whatsapp_customer: Customer,
}

impl fmt::Debug for Demo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demo")
            .field("urls", &self.urls)
            .field("telegram", &self.telegram)
            .field("whatsapp", &self.whatsapp)
            .finish_non_exhaustive()
    }
}

/// The entry of `messenger sandbox [--port N]`: starts a sandbox on `addr` (loopback) and
/// seeds the demo accounts. Prints nothing; the caller shows [`Demo`] and keeps the
/// [`Sandbox`] alive until it wants to stop.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> messenger_core::Result<()> {
/// let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await?;
/// assert_eq!(demo.telegram.token, messenger_sandbox::DEMO_TELEGRAM_TOKEN);
/// assert_eq!(demo.whatsapp.id, messenger_sandbox::DEMO_WHATSAPP_PHONE_NUMBER_ID);
/// sandbox.shutdown().await;
/// # Ok(()) }
/// ```
pub async fn run(addr: &str) -> Result<(Sandbox, Demo)> {
    let sandbox = Sandbox::start(addr).await?;
    let telegram = sandbox.create_account(
        &AccountSpec::new(Platform::Telegram)
            .token(DEMO_TELEGRAM_TOKEN)
            .name("Sandbox Demo Bot")
            .username("sandbox_demo_bot"),
    )?;
    let telegram_customer = sandbox.create_customer(
        &telegram.id,
        &NewCustomer {
            id: Some("100000001".into()),
            name: Some("Ivan".into()),
            username: Some("ivan".into()),
            language_code: Some("ru".into()),
        },
    )?;
    let whatsapp = sandbox.create_account(
        &AccountSpec::new(Platform::WhatsApp)
            .phone_number_id(DEMO_WHATSAPP_PHONE_NUMBER_ID)
            .display_phone_number("15550100001")
            .token(DEMO_WHATSAPP_TOKEN)
            .app_secret(DEMO_WHATSAPP_APP_SECRET)
            .name("Sandbox Demo Business"),
    )?;
    let whatsapp_customer =
        sandbox.create_customer(&whatsapp.id, &NewCustomer::named("Maria").id("15550001111"))?;
    let demo = Demo {
        urls: sandbox.urls().clone(),
        telegram,
        telegram_customer,
        whatsapp,
        whatsapp_customer,
    };
    Ok((sandbox, demo))
}
