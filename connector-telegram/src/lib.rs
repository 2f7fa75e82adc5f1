//! # connector-telegram
//!
//! The Telegram Bot API connector for [`messenger_core`]: a [`TelegramBot`] is one bot, and a
//! [`Messenger`].
//!
//! - [`TelegramConfig`]: token, base URL (a local Bot API server or a test server), webhook
//!   secret, long-poll settings, HTTP client and timeouts, capabilities.
//! - Sending: [`Messenger::send`] plans a message and sends each part with `sendMessage`,
//!   `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio` or `sendVideo` (uploads as multipart
//!   from bytes or a stream; URLs and `file_id`s as JSON). Text is plain: no `parse_mode`.
//! - Receiving: [`Messenger::updates`] (`getUpdates` long polling, see [`poll`] for the
//!   delivery guarantees) or [`Messenger::handle_webhook`]; [`parse`] for raw bodies.
//! - Media: [`Messenger::download`] streams a file (`getFile`, then the file URL).
//! - Errors: [`error`] maps Bot API errors to [`messenger_core::ErrorKind`]s.
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
//!         bot.send(&OutgoingMessage::text(m.chat_id.clone(), "Thanks!").reply_to(m.message_id))
//!             .await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use messenger_core::backoff::Backoff;
use messenger_core::capabilities::telegram::DOWNLOAD_MAX;
use messenger_core::plan::Part;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, ContentKind, Delivery, Error, ErrorKind,
    EventStream, MediaRef, MediaSource, MessageId, Messenger, OutgoingContent, Platform, Result,
    SentPart,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::debug;

pub mod convert;
pub mod error;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use webhook::{SECRET_HEADER, parse};
pub use wire::WebhookInfo;

/// The cloud Bot API server.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

/// A string that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The settings of one bot; [`build`](TelegramConfig::build) it into a [`TelegramBot`].
///
/// ```
/// use std::time::Duration;
/// use connector_telegram::TelegramConfig;
/// let config = TelegramConfig::new("123456:ABC-DEF1234ghIkl")
///     .base_url("http://127.0.0.1:8081")
///     .webhook_secret("my_secret-1")
///     .poll_timeout(Duration::from_secs(50))
///     .allowed_updates(["message", "edited_message", "my_chat_member"]);
/// assert!(!format!("{config:?}").contains("ABC-DEF"));
/// assert!(!format!("{config:?}").contains("my_secret"));
/// let bot = config.build().unwrap();
/// assert!(!format!("{bot:?}").contains("ABC-DEF"));
/// ```
#[derive(Clone)]
pub struct TelegramConfig {
    token: Secret,
    base_url: String,
    webhook_secret: Option<Secret>,
    poll_timeout: Duration,
    poll_limit: u8,
    allowed_updates: Option<Vec<String>>,
    initial_offset: Option<i64>,
    request_timeout: Duration,
    upload_timeout: Duration,
    connect_timeout: Duration,
    backoff: Backoff,
    download_limit: Option<u64>,
    capabilities: Capabilities,
    http_client: Option<reqwest::Client>,
}

impl TelegramConfig {
    /// Settings for the bot with this token (from @BotFather), with defaults: the cloud server,
    /// 30 s long polls of up to 100 updates, a 60 s timeout for API calls and 10 min for
    /// uploads, the 20 MB download limit, [`Capabilities::of`]`(Telegram)`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: Secret(token.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            webhook_secret: None,
            poll_timeout: Duration::from_secs(30),
            poll_limit: 100,
            allowed_updates: None,
            initial_offset: None,
            request_timeout: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            download_limit: Some(DOWNLOAD_MAX),
            capabilities: Capabilities::of(Platform::Telegram),
            http_client: None,
        }
    }

    /// The server, without `/bot<token>` (a local `telegram-bot-api` server, a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The secret Telegram sends in [`SECRET_HEADER`]; webhooks are refused without it.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(Secret(secret.into()));
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

    /// The timeout of an API call that uploads nothing (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The timeout of an upload (default 10 min).
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// The timeout of opening a connection (default 10 s; only for the built-in client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The backoff of the long-poll loop after network errors and 5xx answers.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The largest file [`Messenger::download`] fetches (default 20 MB, the cloud limit;
    /// `None` for a local server, which has none).
    pub fn download_limit(mut self, limit: Option<u64>) -> Self {
        self.download_limit = limit;
        self
    }

    /// Overrides the capabilities the planner uses (a local server accepts 2000 MB uploads).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Uses this HTTP client (it must use TLS for the cloud server, and its own timeouts, if
    /// any, must exceed the poll timeout). By default a rustls client is built.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
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
            .field("webhook_secret", &self.webhook_secret)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_limit", &self.poll_limit)
            .field("allowed_updates", &self.allowed_updates)
            .field("initial_offset", &self.initial_offset)
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("download_limit", &self.download_limit)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: TelegramConfig,
    client: reqwest::Client,
    base: String,
}

/// One Telegram bot: the Bot API client and the [`Messenger`] implementation.
///
/// Cheap to clone (the state is shared).
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
    Error::invalid_input(message).with_platform(Platform::Telegram)
}

/// The method and the file field of a media kind.
fn media_method(kind: ContentKind) -> Result<(&'static str, &'static str)> {
    Ok(match kind {
        ContentKind::Image => ("sendPhoto", "photo"),
        ContentKind::File => ("sendDocument", "document"),
        ContentKind::Voice => ("sendVoice", "voice"),
        ContentKind::Audio => ("sendAudio", "audio"),
        ContentKind::Video => ("sendVideo", "video"),
        other => {
            return Err(
                Error::unsupported(format!("cannot send {other} on Telegram"))
                    .with_platform(Platform::Telegram),
            );
        }
    })
}

impl TelegramBot {
    /// Builds a bot from its settings (see [`TelegramConfig::build`]).
    pub fn new(config: TelegramConfig) -> Result<Self> {
        let token = &config.token.0;
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
        let client = match &config.http_client {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .use_rustls_tls()
                .connect_timeout(config.connect_timeout)
                // Each read must outlast a long poll, during which the server sends nothing.
                .read_timeout(config.poll_timeout + Duration::from_secs(30))
                // A redirect would carry the token-bearing URL elsewhere; Telegram has none.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::transport("could not build the HTTP client")
                        .with_platform(Platform::Telegram)
                        .with_source(e.without_url())
                })?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                base,
            }),
        })
    }

    /// The settings this bot was built with.
    pub fn config(&self) -> &TelegramConfig {
        &self.inner.config
    }

    fn method_url(&self, method: &str) -> String {
        format!(
            "{}/bot{}/{}",
            self.inner.base, self.inner.config.token.0, method
        )
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let response = request.send().await.map_err(|e| {
            let err = error::from_reqwest(e);
            debug!(method, kind = %err.kind(), delivery = ?err.delivery(), "telegram request failed");
            err
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(error::from_reqwest)?;
        let result = error::decode_response::<T>(status, &body).map_err(|err| {
            // The platform accepted the request but its answer is unreadable: a send may
            // have gone out.
            if err.kind() == ErrorKind::Decode && (200..300).contains(&status) {
                err.with_delivery(Delivery::MaybeSent)
            } else {
                err
            }
        });
        match &result {
            Ok(_) => debug!(method, status, body_len = body.len(), "telegram call ok"),
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

    async fn call_json<P: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<T> {
        let request = self
            .inner
            .client
            .post(self.method_url(method))
            .timeout(timeout)
            .json(params);
        self.execute(method, request).await
    }

    /// Calls any Bot API method with JSON parameters (an escape hatch for methods the
    /// connector does not wrap: `sendChatAction`, `editMessageText`...).
    ///
    /// `method` must be a plain method name (letters and digits).
    pub async fn call_method<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<T> {
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid("a Bot API method name is letters and digits"));
        }
        self.call_json(method, params, self.inner.config.request_timeout)
            .await
    }

    /// `getMe`: the bot's own user.
    pub async fn get_me(&self) -> Result<wire::User> {
        self.call_json("getMe", &Map::new(), self.inner.config.request_timeout)
            .await
    }

    /// `getFile`: the download path of a file (valid for at least an hour).
    pub async fn get_file(&self, file_id: &str) -> Result<wire::File> {
        let params = serde_json::json!({ "file_id": file_id });
        self.call_json("getFile", &params, self.inner.config.request_timeout)
            .await
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
        let mut params = Map::new();
        params.insert("url".into(), Value::from(url));
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
            params.insert("secret_token".into(), Value::from(secret));
        }
        if let Some(types) = allowed_updates {
            params.insert("allowed_updates".into(), Value::from(types.to_vec()));
        }
        params.insert(
            "drop_pending_updates".into(),
            Value::from(drop_pending_updates),
        );
        self.call_json::<_, bool>("setWebhook", &params, self.inner.config.request_timeout)
            .await
            .map(drop)
    }

    /// `deleteWebhook`: switch back to long polling.
    pub async fn delete_webhook(&self, drop_pending_updates: bool) -> Result<()> {
        let params = serde_json::json!({ "drop_pending_updates": drop_pending_updates });
        self.call_json::<_, bool>("deleteWebhook", &params, self.inner.config.request_timeout)
            .await
            .map(drop)
    }

    /// `getWebhookInfo`: the webhook's state (an empty `url` means none is set).
    pub async fn webhook_info(&self) -> Result<WebhookInfo> {
        self.call_json(
            "getWebhookInfo",
            &Map::new(),
            self.inner.config.request_timeout,
        )
        .await
    }

    /// One `getUpdates` call; the raw `result` array.
    pub(crate) async fn get_updates_raw(&self, offset: Option<i64>) -> Result<Vec<Value>> {
        let config = &self.inner.config;
        let mut params = Map::new();
        if let Some(offset) = offset {
            params.insert("offset".into(), Value::from(offset));
        }
        params.insert("limit".into(), Value::from(config.poll_limit));
        params.insert("timeout".into(), Value::from(config.poll_timeout.as_secs()));
        if let Some(types) = &config.allowed_updates {
            params.insert("allowed_updates".into(), Value::from(types.clone()));
        }
        self.call_json(
            "getUpdates",
            &params,
            config.poll_timeout + Duration::from_secs(10),
        )
        .await
        .map_err(|e| {
            // A garbled answer (a proxy page) is worth another try; the offset is unchanged.
            if e.kind() == ErrorKind::Decode {
                e.with_retryable(true)
            } else {
                e
            }
        })
    }

    /// Long-polls from `offset` (`None`: every update Telegram still holds). See [`poll`].
    pub fn updates_from(&self, offset: Option<i64>) -> EventStream {
        poll::stream(self.clone(), offset)
    }

    async fn send_media(
        &self,
        chat: &ChatId,
        kind: ContentKind,
        source: &MediaSource,
        caption: Option<&str>,
        reply: Option<wire::ReplyParameters>,
    ) -> Result<wire::Message> {
        let (method, field) = media_method(kind)?;
        let chat_id = convert::chat_id_json(chat)?;
        let timeout = self.inner.config.request_timeout;
        let by_reference = match source {
            MediaSource::Url(url) => Some(url.as_str().to_owned()),
            MediaSource::Id(id) => Some(id.as_str().to_owned()),
            _ => None,
        };
        if let Some(reference) = by_reference {
            let mut params = Map::new();
            params.insert("chat_id".into(), chat_id);
            params.insert(field.into(), Value::from(reference));
            if let Some(caption) = caption {
                params.insert("caption".into(), Value::from(caption));
            }
            if let Some(reply) = reply {
                params.insert("reply_parameters".into(), serde_json::to_value(reply)?);
            }
            debug!(method, chat = %chat.fingerprint(), "sending media by reference");
            return self.call_json(method, &params, timeout).await;
        }

        let (body, length, mime, file_name) = match source {
            MediaSource::Bytes {
                data,
                mime_type,
                file_name,
            } => (
                reqwest::Body::from(data.clone()),
                data.len() as u64,
                mime_type,
                file_name,
            ),
            MediaSource::Stream {
                open,
                length,
                mime_type,
                file_name,
            } => (
                reqwest::Body::wrap_stream(open()),
                *length,
                mime_type,
                file_name,
            ),
            _ => {
                return Err(Error::unsupported("this media source is not supported")
                    .with_platform(Platform::Telegram));
            }
        };
        let chat_text = match &chat_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut form = reqwest::multipart::Form::new().text("chat_id", chat_text);
        if let Some(caption) = caption {
            form = form.text("caption", caption.to_owned());
        }
        if let Some(reply) = reply {
            form = form.text("reply_parameters", serde_json::to_string(&reply)?);
        }
        let part = reqwest::multipart::Part::stream_with_length(body, length)
            .file_name(file_name.clone())
            .mime_str(mime)
            .map_err(|_| invalid("the media's MIME type is malformed"))?;
        form = form.part(field, part);
        debug!(
            method,
            chat = %chat.fingerprint(),
            bytes = length,
            mime = %mime,
            "uploading media"
        );
        let request = self
            .inner
            .client
            .post(self.method_url(method))
            .timeout(self.inner.config.upload_timeout)
            .multipart(form);
        self.execute(method, request).await
    }
}

#[async_trait]
impl Messenger for TelegramBot {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.config.capabilities
    }

    /// `getMe`: the bot's id, first name and username.
    async fn connect(&self) -> Result<AccountInfo> {
        let me = self.get_me().await?;
        Ok(AccountInfo {
            platform: Platform::Telegram,
            id: me.id.into(),
            name: Some(me.first_name),
            username: me.username,
        })
    }

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let reply = part
            .reply_to
            .as_ref()
            .map(convert::message_id_i64)
            .transpose()?
            .map(|message_id| wire::ReplyParameters { message_id });
        let message: wire::Message = match &part.content {
            OutgoingContent::Text { text } => {
                let mut params = Map::new();
                params.insert("chat_id".into(), convert::chat_id_json(chat)?);
                params.insert("text".into(), Value::from(text.as_str()));
                if let Some(reply) = reply {
                    params.insert("reply_parameters".into(), serde_json::to_value(reply)?);
                }
                debug!(chat = %chat.fingerprint(), chars = text.chars().count(), "sending text");
                self.call_json("sendMessage", &params, self.inner.config.request_timeout)
                    .await?
            }
            content => {
                let source = content
                    .media_source()
                    .ok_or_else(|| invalid("media content without media"))?;
                self.send_media(chat, content.kind(), source, content.caption(), reply)
                    .await?
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

    /// Telegram group, supergroup and channel ids are negative (private chats are the user's
    /// positive id); a `@username` chat id names a public channel or supergroup.
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        match chat.as_i64() {
            Some(id) => id < 0,
            None => chat.as_str().starts_with('@'),
        }
    }

    /// `getFile`, then a streamed GET of `/file/bot<token>/<file_path>`. Files over the
    /// download limit (20 MB on the cloud server) are refused with `TooLarge` before any byte
    /// is read, by the size in `media`, in the `getFile` answer or, failing both, in the
    /// file answer's `Content-Length`.
    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        let limit = self.inner.config.download_limit;
        let too_large = |size: u64| {
            Error::too_large(format!(
                "the file has {size} bytes; bots can download at most {} bytes",
                limit.unwrap_or(u64::MAX)
            ))
            .with_platform(Platform::Telegram)
        };
        let over = |size: Option<u64>| matches!((size, limit), (Some(s), Some(l)) if s > l);
        if over(media.size) {
            return Err(too_large(media.size.unwrap_or_default()));
        }
        let file = self.get_file(media.id.as_str()).await?;
        if over(file.file_size) {
            return Err(too_large(file.file_size.unwrap_or_default()));
        }
        let path = file.file_path.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, "getFile returned no file_path")
                .with_platform(Platform::Telegram)
        })?;
        if path.starts_with('/') {
            return Err(Error::unsupported(
                "the local Bot API server returned a local file path; read it from its disk",
            )
            .with_platform(Platform::Telegram));
        }
        let url = format!(
            "{}/file/bot{}/{}",
            self.inner.base,
            self.inner.config.token.0,
            path.trim_start_matches('/')
        );
        let response = self
            .inner
            .client
            .get(url)
            .send()
            .await
            .map_err(error::from_reqwest)?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let err = match error::decode_response::<Value>(code, &body) {
                Err(err) if err.kind() != ErrorKind::Decode => err,
                _ => error::from_api_error(code, &wire::ApiError::default()),
            };
            // The file URL answers 404 when the path expired or never existed.
            let err = if code == 404 {
                err.with_kind(ErrorKind::NotFound)
            } else {
                err
            };
            return Err(err);
        }
        // Neither the inbound object nor getFile may carry a size; the answer's length still
        // comes before its bytes.
        if over(response.content_length()) {
            return Err(too_large(response.content_length().unwrap_or_default()));
        }
        debug!(
            media = %media.id.fingerprint(),
            size = ?file.file_size,
            "streaming a telegram file"
        );
        let stream = response
            .bytes_stream()
            .map_err(|e| std::io::Error::other(e.without_url()));
        Ok(Box::pin(stream))
    }

    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let secret = self
            .inner
            .config
            .webhook_secret
            .as_ref()
            .map(|s| s.0.as_str());
        webhook::handle(request, secret)
    }

    /// `getUpdates` long polling from the configured initial offset; see [`poll`].
    fn updates(&self) -> Result<EventStream> {
        Ok(self.updates_from(self.inner.config.initial_offset))
    }
}
