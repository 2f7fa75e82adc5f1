//! # connector-telegram
//!
//! The Telegram Bot API connector for [`messenger_core`]: a [`TelegramBot`] is one bot, and a
//! [`Messenger`].
//!
//! - [`TelegramConfig`]: token, base URL (a local Bot API server or a test server), HTTP
//!   settings ([`HttpSettings`]), webhook secret and body limit, long-poll settings, download
//!   limit, capabilities.
//! - Sending: [`Messenger::send`] plans a message and sends each part with `sendMessage`,
//!   `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio` or `sendVideo` (uploads as multipart
//!   from bytes or a stream, see [`media`]; URLs and `file_id`s as JSON). Text is plain: no
//!   `parse_mode`. [`Messenger::edit_text`] and [`Messenger::delete_message`] are
//!   `editMessageText` and `deleteMessage`. Every request is a typed [`wire::Request`].
//! - Receiving: [`Messenger::updates`] (`getUpdates` long polling on the core's driver, see
//!   [`poll`] for the delivery guarantees) or [`Messenger::handle_webhook`] (see [`webhook`]);
//!   [`parse`] for raw bodies. All three decode an update with the same function.
//! - Media: [`Messenger::download`] streams a file (`getFile`, then the file URL), bounded by
//!   the download limit as the bytes arrive.
//! - Errors: [`error`] maps Bot API errors to [`messenger_core::ErrorKind`]s; transport,
//!   `Retry-After`, body caps and sanitising are [`messenger_http`]'s.
//! - Tools: [`ENTRY`] is this connector's line in the registry of the CLI and the demo.
//!
//! The bot token is part of every request URL. It never appears in `Debug` output, in errors
//! (URLs are stripped from transport errors) or in logs; neither does message content.
//!
//! ```no_run
//! # async fn run() -> messenger_core::Result<()> {
//! use connector_telegram::TelegramConfig;
//! use futures::StreamExt;
//! use messenger_core::{InboundEvent, Messenger, OutgoingMessage};
//!
//! let bot = TelegramConfig::new("123456:ABC-DEF")
//!     .poll_timeout(std::time::Duration::from_secs(30))
//!     .build()?;
//! let me = bot.connect().await?; // getMe: id, first name, @username
//! tracing::info!(bot = ?me.username, "connected");
//!
//! let mut updates = bot.updates()?;
//! while let Some(event) = updates.next().await {
//!     if let InboundEvent::Message(m) = event? {
//!         let report = bot
//!             .send(&OutgoingMessage::text(m.chat_id.clone(), "Thanks!").reply_to(m.message_id))
//!             .await?;
//!         // Fix a typo later: Telegram can edit and delete what the bot sent.
//!         if let Some(id) = report.first_message_id() {
//!             bot.edit_text(&m.chat_id, id, "Thanks! We are on it.").await?;
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::backoff::Backoff;
use messenger_core::capabilities::telegram::DOWNLOAD_MAX;
use messenger_core::plan::Part;
use messenger_core::redact::Secret;
use messenger_core::registry::{BASE_URL, ConnectorEntry, Credentials, EnvVar};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, ErrorKind, EventStream,
    MediaRef, MessageId, Messenger, OutgoingContent, Platform, Result, SentPart,
};
use messenger_http::{HttpClient, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tracing::debug;

pub mod convert;
pub mod error;
pub mod media;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use messenger_http::HttpSettings;
pub use webhook::{SECRET_HEADER, parse, parse_update};
pub use wire::WebhookInfo;

use wire::{
    DeleteMessage, DeleteWebhook, EditMessageText, GetFile, GetMe, GetUpdates, GetWebhookInfo,
    InputFile, Request, SetWebhook,
};

const TG: Platform = Platform::Telegram;

/// The cloud Bot API server.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

/// The largest webhook body [`Messenger::handle_webhook`] reads unless configured: 1 MiB.
///
/// Telegram sends one `Update` per delivery; the largest message text is 4096 characters
/// (telegram.md §6), so even an update with a long text, its entities and a quoted reply is
/// tens of kilobytes. A larger body is not Telegram's and is refused with `TooLarge` (HTTP
/// `413`) before it is verified or parsed.
pub const DEFAULT_MAX_WEBHOOK_BODY: usize = 1 << 20;

/// The largest file [`Messenger::download`] fetches unless configured: 20 MB, the limit of
/// `getFile` on the cloud server (telegram.md §3 getFile).
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = DOWNLOAD_MAX;

/// The credential key of the webhook secret in [`ENTRY`]'s [`Credentials`].
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// The credential key of the bot token in [`ENTRY`]'s [`Credentials`].
pub const TOKEN: &str = "token";

/// This connector's entry in the tools' registry: the platform, the environment variables
/// (`TELEGRAM_TOKEN`, required; `TELEGRAM_API_URL` and `TELEGRAM_WEBHOOK_SECRET`, optional),
/// how to build a bot from credentials, and [`parse`].
///
/// ```
/// use connector_telegram::ENTRY;
/// use messenger_core::Platform;
/// assert_eq!(ENTRY.platform, Platform::Telegram);
/// let env = |name: &str| match name {
///     "TELEGRAM_TOKEN" => Some("123456:ABC-DEF".to_owned()),
///     "TELEGRAM_API_URL" => Some("http://127.0.0.1:8081".to_owned()),
///     _ => None,
/// };
/// let credentials = ENTRY.credentials_from_env(env).unwrap();
/// let bot = (ENTRY.build)(&credentials, &messenger_core::registry::AccountStores::new()).unwrap();
/// assert_eq!(bot.platform(), Platform::Telegram);
/// assert!(!format!("{credentials:?}").contains("ABC-DEF"));
/// assert!((ENTRY.parse)(br#"{"update_id":1,"poll":{"id":"1"}}"#).is_ok());
/// ```
pub const ENTRY: ConnectorEntry = ConnectorEntry {
    platform: Platform::Telegram,
    env: &[
        EnvVar::required("TELEGRAM_TOKEN", TOKEN, "the bot token from @BotFather"),
        EnvVar::optional(
            "TELEGRAM_API_URL",
            BASE_URL,
            "a local Bot API server or a sandbox, instead of https://api.telegram.org",
        ),
        EnvVar::optional(
            "TELEGRAM_WEBHOOK_SECRET",
            WEBHOOK_SECRET,
            "the secret_token given to setWebhook; webhooks are refused without it",
        ),
    ],
    build: build_entry,
    parse,
    flow: None,
};

fn build_entry(
    credentials: &Credentials,
    _stores: &messenger_core::registry::AccountStores,
) -> Result<Arc<dyn Messenger>> {
    Ok(Arc::new(
        TelegramConfig::from_credentials(credentials)?.build()?,
    ))
}

/// The settings of one bot; [`build`](TelegramConfig::build) it into a [`TelegramBot`].
///
/// ```
/// use std::time::Duration;
/// use connector_telegram::{HttpSettings, TelegramConfig};
/// let config = TelegramConfig::new("123456:ABC-DEF1234ghIkl")
///     .base_url("http://127.0.0.1:8081")
///     .http(HttpSettings::default().request_timeout(Duration::from_secs(20)))
///     .webhook_secret("my_secret-1")
///     .max_webhook_body(256 * 1024)
///     .download_limit(None) // a local Bot API server has no download limit
///     .poll_timeout(Duration::from_secs(50))
///     .allowed_updates(["message", "edited_message", "my_chat_member"]);
/// assert!(!format!("{config:?}").contains("ABC-DEF"));
/// assert!(!format!("{config:?}").contains("my_secret"));
/// let bot = config.build().unwrap();
/// assert!(!format!("{bot:?}").contains("ABC-DEF"));
/// ```
#[derive(Clone)]
pub struct TelegramConfig {
    token: Secret<String>,
    base_url: String,
    http: HttpSettings,
    webhook_secret: Option<Secret<String>>,
    max_webhook_body: usize,
    poll_timeout: Duration,
    poll_limit: u8,
    allowed_updates: Option<Vec<String>>,
    initial_offset: Option<i64>,
    poll_max_wait: Duration,
    upload_timeout: Duration,
    backoff: Backoff,
    download_limit: Option<u64>,
    capabilities: Capabilities,
}

impl TelegramConfig {
    /// Settings for the bot with this token (from @BotFather), with defaults: the cloud server,
    /// [`HttpSettings::default`] (60 s for an API call), 30 s long polls of up to 100 updates,
    /// 10 min for a file transfer, the 20 MB download limit, a 1 MiB webhook body limit,
    /// [`Capabilities::of`]`(Telegram)`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: Secret::new(token.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: HttpSettings::default(),
            webhook_secret: None,
            max_webhook_body: DEFAULT_MAX_WEBHOOK_BODY,
            poll_timeout: Duration::from_secs(30),
            poll_limit: 100,
            allowed_updates: None,
            initial_offset: None,
            poll_max_wait: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(600),
            backoff: Backoff::default(),
            download_limit: Some(DEFAULT_DOWNLOAD_LIMIT),
            capabilities: Capabilities::of(Platform::Telegram),
        }
    }

    /// Settings from registry credentials: [`TOKEN`] (required), [`BASE_URL`] and
    /// [`WEBHOOK_SECRET`] (optional); the rest are the defaults of [`new`](Self::new).
    pub fn from_credentials(credentials: &Credentials) -> Result<Self> {
        let mut config = Self::new(
            credentials
                .require(TOKEN)
                .map_err(|e| e.with_platform(TG))?,
        );
        if let Some(url) = credentials.get(BASE_URL) {
            config = config.base_url(url);
        }
        if let Some(secret) = credentials.get(WEBHOOK_SECRET) {
            config = config.webhook_secret(secret);
        }
        Ok(config)
    }

    /// The server, without `/bot<token>` (a local `telegram-bot-api` server, a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The HTTP client settings: connect and call timeouts, the answer body cap, extra root
    /// certificates, or a client of your own. A read timeout, if set, must exceed the poll
    /// timeout (a long poll is silent until updates come).
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// The secret Telegram sends in [`SECRET_HEADER`]; webhooks are refused without it.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(Secret::new(secret.into()));
        self
    }

    /// The largest webhook body accepted (default [`DEFAULT_MAX_WEBHOOK_BODY`]); a larger one
    /// is refused with `TooLarge` (HTTP `413`) before anything else is done with it.
    pub fn max_webhook_body(mut self, bytes: usize) -> Self {
        self.max_webhook_body = bytes;
        self
    }

    /// How long one `getUpdates` call waits for updates (default 30 s; 0 is short polling,
    /// meant for tests). The HTTP timeout of the call is this plus 10 s.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// At most this many updates per `getUpdates` call (1-100, default 100).
    pub fn poll_limit(mut self, limit: u8) -> Self {
        self.poll_limit = limit;
        self
    }

    /// The update types to receive (`message`, `my_chat_member`...). Unset keeps Telegram's
    /// previous setting; an empty list means every type but `chat_member` and reactions.
    pub fn allowed_updates<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_updates = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// The first `offset` of [`Messenger::updates`] (default: none, every unconfirmed update).
    pub fn initial_offset(mut self, offset: i64) -> Self {
        self.initial_offset = Some(offset);
        self
    }

    /// The longest long polling waits before calling again, whatever Telegram asked (a
    /// `retry_after` of an hour is asked again after this; default 60 s).
    pub fn poll_max_wait(mut self, wait: Duration) -> Self {
        self.poll_max_wait = wait;
        self
    }

    /// The timeout of a file transfer: an upload, or a download's whole stream (default
    /// 10 min). Other calls take the [`HttpSettings`] request timeout.
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// The backoff of the long-poll loop after network errors and 5xx answers.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The largest file [`Messenger::download`] fetches (default [`DEFAULT_DOWNLOAD_LIMIT`],
    /// the cloud limit; `None` for a local server, which has none).
    pub fn download_limit(mut self, limit: Option<u64>) -> Self {
        self.download_limit = limit;
        self
    }

    /// Overrides the capabilities the planner uses (a local server accepts 2000 MB uploads).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Builds the bot. Fails with `InvalidInput` on an empty or malformed token, a base URL
    /// that is not http(s), or a poll limit outside 1-100.
    pub fn build(self) -> Result<TelegramBot> {
        TelegramBot::new(self)
    }
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &self.token)
            .field("base_url", &self.base_url)
            .field("http", &self.http)
            .field("webhook_secret", &self.webhook_secret)
            .field("max_webhook_body", &self.max_webhook_body)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_limit", &self.poll_limit)
            .field("allowed_updates", &self.allowed_updates)
            .field("initial_offset", &self.initial_offset)
            .field("poll_max_wait", &self.poll_max_wait)
            .field("upload_timeout", &self.upload_timeout)
            .field("download_limit", &self.download_limit)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: TelegramConfig,
    http: HttpClient,
    base: String,
}

/// One Telegram bot: the Bot API client and the [`Messenger`] implementation.
///
/// Cheap to clone (the state is shared).
///
/// ```
/// use connector_telegram::{TelegramBot, TelegramConfig};
/// use messenger_core::Messenger;
/// let bot = TelegramBot::new(TelegramConfig::new("123456:ABC-DEF")).unwrap();
/// assert!(bot.is_group_chat(&"-1001234567890".into()));
/// assert!(bot.capabilities().actions.edit && bot.capabilities().actions.delete);
/// ```
#[derive(Clone)]
pub struct TelegramBot {
    inner: Arc<Inner>,
}

impl fmt::Debug for TelegramBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramBot")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn invalid(message: &str) -> Error {
    Error::invalid_input(message).with_platform(TG)
}

impl TelegramBot {
    /// Builds a bot from its settings (see [`TelegramConfig::build`]). No request is made.
    pub fn new(config: TelegramConfig) -> Result<Self> {
        let token = config.token.expose_str();
        if token.is_empty()
            || token
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/?#%".contains(c))
        {
            return Err(invalid("the bot token is empty or malformed"));
        }
        let base = config.base_url.trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(invalid("the base URL must be an http(s) URL")),
        }
        if !(1..=100).contains(&config.poll_limit) {
            return Err(invalid("the poll limit must be 1-100"));
        }
        let http = HttpClient::new(TG, &config.http)?;
        Ok(Self {
            inner: Arc::new(Inner { config, http, base }),
        })
    }

    /// The settings this bot was built with.
    pub fn config(&self) -> &TelegramConfig {
        &self.inner.config
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub(crate) fn method_url(&self, method: &str) -> String {
        format!(
            "{}/bot{}/{}",
            self.inner.base,
            self.inner.config.token.expose_str(),
            method
        )
    }

    pub(crate) fn file_url(&self, path: &str) -> String {
        format!(
            "{}/file/bot{}/{}",
            self.inner.base,
            self.inner.config.token.expose_str(),
            path.trim_start_matches('/')
        )
    }

    /// Sends a request and decodes the Bot API answer. `changes`: whether the call changes
    /// something the customer sees (an unreadable success is then `MaybeSent`).
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        method: &str,
        request: RequestBuilder,
        changes: bool,
    ) -> Result<T> {
        let answer = self.inner.http.execute(request).await.inspect_err(|err| {
            debug!(method, kind = %err.kind(), delivery = ?err.delivery(), "telegram request failed");
        })?;
        let status = answer.status.as_u16();
        let result =
            error::decode_answer::<T>(answer.status, &answer.headers, &answer.body, changes);
        match &result {
            Ok(_) => debug!(
                method,
                status,
                body_len = answer.body.len(),
                "telegram call ok"
            ),
            Err(err) => debug!(
                method,
                status,
                kind = %err.kind(),
                code = err.platform_code().unwrap_or(""),
                "telegram call refused"
            ),
        }
        result
    }

    async fn post_json<P: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
        timeout: Option<Duration>,
        changes: bool,
    ) -> Result<T> {
        let mut request = self.inner.http.post(self.method_url(method)).json(params);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        self.execute(method, request, changes).await
    }

    /// Calls the method of a typed request with its JSON parameters.
    ///
    /// ```no_run
    /// # async fn run(bot: connector_telegram::TelegramBot) -> messenger_core::Result<()> {
    /// use connector_telegram::wire::{ChatTarget, DeleteMessage};
    /// let deleted = bot.call(&DeleteMessage { chat_id: ChatTarget::Id(5), message_id: 45 }).await?;
    /// assert!(deleted);
    /// # Ok(()) }
    /// ```
    pub async fn call<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.post_json(request.method(), request, None, R::CHANGES)
            .await
    }

    /// Calls any Bot API method with JSON parameters (an escape hatch for methods the
    /// connector does not wrap: `sendChatAction`, `setMyCommands`...).
    ///
    /// `method` must be a plain method name (letters and digits).
    ///
    /// ```no_run
    /// # async fn run(bot: connector_telegram::TelegramBot) -> messenger_core::Result<()> {
    /// let params = serde_json::json!({"chat_id": 123456789, "action": "typing"});
    /// let _: bool = bot.call_method("sendChatAction", &params).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_method<P: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<T> {
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid("a Bot API method name is letters and digits"));
        }
        // Unknown methods may send: an unreadable success may have been done.
        self.post_json(method, params, None, true).await
    }

    /// `getMe`: the bot's own user.
    pub async fn get_me(&self) -> Result<wire::User> {
        self.call(&GetMe {}).await
    }

    /// `getFile`: the download path of a file (valid for at least an hour).
    pub async fn get_file(&self, file_id: &str) -> Result<wire::File> {
        self.call(&GetFile { file_id }).await
    }

    /// `setWebhook`: Telegram will POST updates to `url` (HTTPS; ports 443, 80, 88, 8443) with
    /// `secret_token` in [`SECRET_HEADER`] (it must equal this bot's
    /// [`webhook_secret`](TelegramConfig::webhook_secret) for
    /// [`handle_webhook`](Messenger::handle_webhook) to accept them).
    ///
    /// `secret_token` is 1-256 characters of `A-Z a-z 0-9 _ -`; `allowed_updates` `None` keeps
    /// the previous setting.
    pub async fn set_webhook(
        &self,
        url: &str,
        secret_token: Option<&str>,
        allowed_updates: Option<&[&str]>,
        drop_pending_updates: bool,
    ) -> Result<()> {
        if let Some(secret) = secret_token {
            let valid = (1..=256).contains(&secret.len())
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(invalid(
                    "a webhook secret is 1-256 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
        }
        self.call(&SetWebhook {
            url,
            secret_token,
            allowed_updates,
            drop_pending_updates,
        })
        .await
        .map(drop)
    }

    /// `deleteWebhook`: switch back to long polling.
    pub async fn delete_webhook(&self, drop_pending_updates: bool) -> Result<()> {
        self.call(&DeleteWebhook {
            drop_pending_updates,
        })
        .await
        .map(drop)
    }

    /// `getWebhookInfo`: the webhook's state (an empty `url` means none is set).
    pub async fn webhook_info(&self) -> Result<WebhookInfo> {
        self.call(&GetWebhookInfo {}).await
    }

    /// One `getUpdates` call from `offset`; the raw `result` array.
    pub(crate) async fn get_updates(&self, offset: Option<i64>) -> Result<Vec<Box<RawValue>>> {
        let config = &self.inner.config;
        let request = GetUpdates {
            offset,
            limit: config.poll_limit,
            timeout: config.poll_timeout.as_secs(),
            allowed_updates: config.allowed_updates.as_deref(),
        };
        self.post_json(
            request.method(),
            &request,
            Some(config.poll_timeout + Duration::from_secs(10)),
            false,
        )
        .await
    }

    /// Long-polls from `offset` (`None`: every update Telegram still holds). See [`poll`].
    pub fn updates_from(&self, offset: Option<i64>) -> EventStream {
        poll::stream(self.clone(), offset)
    }

    /// Checks a text against the capabilities before an edit: Telegram refuses an empty one
    /// and one over 4096 UTF-16 code units.
    fn check_text(&self, text: &str) -> Result<()> {
        let limit = self.inner.config.capabilities.text;
        if text.is_empty() {
            return Err(invalid("a Telegram message text cannot be empty"));
        }
        let len = limit.unit.len(text);
        if len > limit.max_len {
            return Err(Error::too_large(format!(
                "the text is {len} long; Telegram takes at most {}",
                limit.max_len
            ))
            .with_platform(TG));
        }
        Ok(())
    }
}

#[async_trait]
impl Messenger for TelegramBot {
    fn platform(&self) -> Platform {
        TG
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.config.capabilities
    }

    /// `getMe`: the bot's id, first name and username.
    async fn connect(&self) -> Result<AccountInfo> {
        let me = self.get_me().await?;
        Ok(AccountInfo {
            platform: TG,
            id: me.id.into(),
            name: Some(me.first_name),
            username: me.username,
        })
    }

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let message: wire::Message = match &part.content {
            OutgoingContent::Text { text } => {
                let request = convert::send_message(chat, text, part.reply_to.as_ref())?;
                debug!(chat = %chat.fingerprint(), chars = text.chars().count(), "sending text");
                self.call(&request).await?
            }
            content => {
                let source = content
                    .media_source()
                    .ok_or_else(|| invalid("media content without media"))?;
                let request = convert::send_media(
                    chat,
                    content.kind(),
                    source,
                    content.caption(),
                    part.reply_to.as_ref(),
                )?;
                match request.file {
                    InputFile::Reference(_) => {
                        debug!(method = request.method(), chat = %chat.fingerprint(), "sending media by reference");
                        self.call(&request).await?
                    }
                    InputFile::Upload(_) => self.upload(&request).await?,
                }
            }
        };
        // The message went out: an unreadable date in Telegram's answer must not read as a
        // refusal (a retry would send it twice).
        let timestamp =
            convert::timestamp(message.date).map_err(|e| e.with_delivery(Delivery::MaybeSent))?;
        Ok(SentPart {
            message_id: MessageId::from(message.message_id),
            timestamp,
        })
    }

    /// `editMessageText` with plain text. An empty text or one over the limit fails before any
    /// request. Telegram's "message is not modified" (the text is already this one, as after a
    /// retried edit) is success.
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        let request = EditMessageText {
            chat_id: convert::chat_target(chat)?,
            message_id: convert::message_id(message)?,
            text,
        };
        self.check_text(text)?;
        debug!(chat = %chat.fingerprint(), chars = text.chars().count(), "editing a message");
        match self.call(&request).await {
            Ok(_) => Ok(()),
            Err(err)
                if err.kind() == ErrorKind::InvalidInput
                    && err.message().contains("message is not modified") =>
            {
                debug!(chat = %chat.fingerprint(), "the message already had this text");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// `deleteMessage` (Telegram deletes only messages under 48 hours old, and in groups only
    /// where the bot may; a refusal is `InvalidInput`, an unknown message `NotFound`).
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let request = DeleteMessage {
            chat_id: convert::chat_target(chat)?,
            message_id: convert::message_id(message)?,
        };
        debug!(chat = %chat.fingerprint(), "deleting a message");
        self.call(&request).await.map(drop)
    }

    /// Telegram group, supergroup and channel ids are negative (private chats are the user's
    /// positive id); a `@username` chat id names a public channel or supergroup.
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        match chat.as_i64() {
            Some(id) => id < 0,
            None => chat.as_str().starts_with('@'),
        }
    }

    /// `getFile`, then a streamed GET of `/file/bot<token>/<file_path>`, bounded by the
    /// download limit (see [`media`]).
    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.download_file(media).await
    }

    /// Checks the body size, verifies the secret header, then parses (see [`webhook`]).
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let config = &self.inner.config;
        webhook::handle(
            request,
            config.webhook_secret.as_ref(),
            config.max_webhook_body,
        )
    }

    /// `getUpdates` long polling from the configured initial offset; see [`poll`].
    fn updates(&self) -> Result<EventStream> {
        Ok(self.updates_from(self.inner.config.initial_offset))
    }
}
