//! # connector-max
//!
//! The MAX Bot API (VK's messenger, host `platform-api2.max.ru`) behind the [`Messenger`]
//! trait of [`messenger_core`]: one [`Max`] value is one bot.
//!
//! - **Connect**: [`MaxConfig`] takes the bot token, sent as `Authorization: <token>` (the raw
//!   token, no `Bearer`; never in a URL, a log or `Debug` output), an optional base URL and an
//!   optional extra root certificate (PEM) trusted next to the standard roots, since the host
//!   may present a certificate of the Russian national CA. [`Messenger::connect`] is
//!   `GET /me`.
//! - **Send**: [`Messenger::send`] plans a message against MAX's capabilities and sends each
//!   part with `POST /messages?chat_id=` (or `?user_id=`; see [`convert`] for chat ids): text
//!   up to 4000 characters with no formatting unless configured ([`MaxConfig::format`]),
//!   replies as `link: {type: "reply"}`, images, files, audio and video uploaded in MAX's two
//!   steps, streamed ([`media`]). A send refused with `attachment.not.ready` (MAX still
//!   processes the upload) is retried inside the connector with a bounded backoff
//!   ([`MaxConfig::not_ready_retries`]). MAX has no voice notes on send: the planner sends
//!   them as audio and reports the downgrade. [`Messenger::edit_text`] is `PUT /messages`,
//!   [`Messenger::delete_message`] `DELETE /messages`.
//! - **Receive**: [`Messenger::handle_webhook`] (`X-Max-Bot-Api-Secret`, see [`webhook`];
//!   subscribe with [`Max::subscribe`]) or [`Messenger::updates`] (`GET /updates` long polling
//!   on the core's driver with the marker persisted, see [`poll`]). Both decode with [`parse`],
//!   the one parser; see [`convert`] for what each update becomes.
//! - **Download**: [`Messenger::download`] streams inbound media within the download limit.
//! - **Errors**: MAX's `{code, message}` are mapped once, in [`error`]; the transport is
//!   [`messenger_http`]'s.
//! - **Tools**: [`ENTRY`] is this connector's line in the registry of the CLI and the demo.
//!
//! ```no_run
//! # async fn run() -> messenger_core::Result<()> {
//! use connector_max::MaxConfig;
//! use futures::StreamExt;
//! use messenger_core::{InboundEvent, Messenger, OutgoingMessage};
//!
//! let max = MaxConfig::new("f9LHodD0cOJ...")
//!     .root_certificate_pem(std::fs::read("russian_trusted_root_ca.pem")?)
//!     .build()?;
//! let me = max.connect().await?; // GET /me
//! tracing::info!(bot = ?me.username, "connected");
//!
//! let mut updates = max.updates()?;
//! while let Some(event) = updates.next().await {
//!     if let InboundEvent::Message(m) = event? {
//!         max.send(&OutgoingMessage::text(m.chat_id.clone(), "Спасибо! Мы ответим в течение часа.")
//!             .reply_to(m.message_id))
//!             .await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use messenger_core::backoff::Backoff;
use messenger_core::plan::Part;
use messenger_core::redact::Secret;
use messenger_core::registry::{BASE_URL, ConnectorEntry, Credentials, EnvVar};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, ErrorKind, EventStream,
    MediaRef, MessageId, Messenger, OutgoingContent, Platform, Result, SentPart, UserId,
};
use messenger_http::{HttpClient, Method, RequestBuilder};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tracing::debug;
use url::Url;

pub mod convert;
pub mod error;
pub mod media;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use messenger_http::HttpSettings;
pub use poll::{MarkerStore, MemoryMarkerStore};
pub use webhook::{DEFAULT_MAX_WEBHOOK_BODY, SECRET_HEADER, parse, parse_update};
pub use wire::TextFormat;

use crate::error::Call;
use crate::wire::{
    BotInfo, EditMessageBody, GetSubscriptionsResult, NewMessageBody, SendMessageResult,
    SimpleQueryResult, Subscription, SubscriptionRequest,
};

const MAX: Platform = Platform::Max;

/// The API host: `platform-api2` (the old `platform-api` host is no longer allowed since July
/// 2026; `shared/platforms/max.md` §1).
pub const DEFAULT_BASE_URL: &str = "https://platform-api2.max.ru";

/// The largest inbound file [`Messenger::download`] fetches unless configured: 256 MB, the
/// largest upload MAX takes for any media kind but plain files (audio; `max.md` §4). Files go
/// up to 4 GB: raise the limit where the CRM stores such files.
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = 256_000_000;

/// How many times a send refused with `attachment.not.ready` is retried unless configured.
/// With [`DEFAULT_NOT_READY_BACKOFF`] that is about a minute and a half of waiting: users of
/// the Go and PHP clients report needing many attempts for large videos.
pub const DEFAULT_NOT_READY_RETRIES: u32 = 12;

/// The backoff between `attachment.not.ready` retries unless configured: from 1 s, doubling,
/// at most 8 s (`max.md` §7: "1, 2, 4, 8 s, capped").
pub const DEFAULT_NOT_READY_BACKOFF: Backoff =
    Backoff::new(Duration::from_secs(1), Duration::from_secs(8));

/// The credential key of the bot token in [`ENTRY`]'s [`Credentials`].
pub const TOKEN: &str = "token";
/// The credential key of the webhook secret.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
/// The credential key of the extra root certificate: the PEM itself, or the path of a PEM file.
pub const ROOT_CA_PEM: &str = "root_ca_pem";

/// This connector's entry in the tools' registry.
///
/// | variable | credential | |
/// |---|---|---|
/// | `MAX_TOKEN` | `token` | required: the bot token |
/// | `MAX_API_URL` | `base_url` | optional: another API host (a sandbox, a proxy) |
/// | `MAX_WEBHOOK_SECRET` | `webhook_secret` | optional: verifies webhook deliveries |
/// | `MAX_ROOT_CA_PEM` | `root_ca_pem` | optional: an extra root certificate, as PEM text or the path of a PEM file |
///
/// `build` is [`MaxConfig::from_credentials`] then [`MaxConfig::build`]; `parse` is [`parse`].
///
/// ```
/// use messenger_core::Platform;
/// let env = |name: &str| match name {
///     "MAX_TOKEN" => Some("max-secret-token".to_owned()),
///     "MAX_API_URL" => Some("http://127.0.0.1:8080/max".to_owned()),
///     _ => None,
/// };
/// let entry = connector_max::ENTRY;
/// assert_eq!(entry.platform, Platform::Max);
/// let credentials = entry.credentials_from_env(env).unwrap();
/// assert!(!format!("{credentials:?}").contains("max-secret-token"));
/// let bot = (entry.build)(&credentials, &messenger_core::registry::AccountStores::new()).unwrap();
/// assert_eq!(bot.platform(), Platform::Max);
/// assert!(entry.credentials_from_env(|_| None).is_err());
/// assert!((entry.parse)(br#"{"update_type":"dialog_cleared","timestamp":1,"chat_id":5}"#).is_ok());
/// ```
pub const ENTRY: ConnectorEntry = ConnectorEntry {
    platform: Platform::Max,
    env: &[
        EnvVar::required(
            "MAX_TOKEN",
            TOKEN,
            "the bot token from the MAX business platform",
        ),
        EnvVar::optional(
            "MAX_API_URL",
            BASE_URL,
            "a sandbox or a proxy, instead of https://platform-api2.max.ru",
        ),
        EnvVar::optional(
            "MAX_WEBHOOK_SECRET",
            WEBHOOK_SECRET,
            "the secret given to POST /subscriptions; webhooks are refused without it",
        ),
        EnvVar::optional(
            "MAX_ROOT_CA_PEM",
            ROOT_CA_PEM,
            "an extra root certificate (the Russian Trusted Root CA), as PEM text or a file path",
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
    Ok(Arc::new(MaxConfig::from_credentials(credentials)?.build()?))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(MAX)
}

/// The settings of one MAX bot; [`build`](MaxConfig::build) it into a [`Max`].
///
/// ```
/// use std::time::Duration;
/// use connector_max::{HttpSettings, MaxConfig, TextFormat};
/// use messenger_core::backoff::Backoff;
/// let config = MaxConfig::new("max-secret-token")
///     .base_url("http://127.0.0.1:8080/max")
///     .http(HttpSettings::default().request_timeout(Duration::from_secs(20)))
///     .webhook_secret("Webhook_Value-1")
///     .max_webhook_body(256 * 1024)
///     .download_limit(Some(50_000_000))
///     .poll_timeout(Duration::from_secs(30))
///     .poll_limit(100)
///     .poll_types(["message_created", "bot_started", "bot_stopped"])
///     .initial_marker(25493970)
///     .not_ready_retries(20)
///     .not_ready_backoff(Backoff::new(Duration::from_secs(2), Duration::from_secs(10)))
///     .format(TextFormat::Markdown);
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("max-secret-token") && !debug.contains("Webhook_Value"));
/// let max = config.build().unwrap();
/// assert!(!format!("{max:?}").contains("max-secret-token"));
/// ```
#[derive(Clone)]
pub struct MaxConfig {
    token: Secret<String>,
    base_url: String,
    http: HttpSettings,
    root_certificates: Vec<Vec<u8>>,
    webhook_secret: Option<Secret<String>>,
    max_webhook_body: usize,
    download_limit: Option<u64>,
    upload_timeout: Duration,
    poll_timeout: Duration,
    poll_limit: u32,
    poll_types: Option<Vec<String>>,
    poll_interval: Duration,
    poll_max_wait: Duration,
    backoff: Backoff,
    initial_marker: Option<i64>,
    marker_store: Option<Arc<dyn MarkerStore>>,
    not_ready_retries: u32,
    not_ready_backoff: Backoff,
    format: Option<TextFormat>,
    notify: Option<bool>,
    capabilities: Capabilities,
}

impl MaxConfig {
    /// Settings for the bot with this token, with defaults: [`DEFAULT_BASE_URL`],
    /// [`HttpSettings::default`], no extra root certificate, no webhook secret (webhooks are
    /// refused), a [`DEFAULT_MAX_WEBHOOK_BODY`] webhook body limit, the
    /// [`DEFAULT_DOWNLOAD_LIMIT`], 10 min for a file transfer, 30 s long polls of up to 100
    /// updates at most every 500 ms, [`DEFAULT_NOT_READY_RETRIES`] retries of
    /// `attachment.not.ready` with [`DEFAULT_NOT_READY_BACKOFF`], plain text, and
    /// [`Capabilities::of`]`(Max)`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: Secret::new(token.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: HttpSettings::default(),
            root_certificates: Vec::new(),
            webhook_secret: None,
            max_webhook_body: DEFAULT_MAX_WEBHOOK_BODY,
            download_limit: Some(DEFAULT_DOWNLOAD_LIMIT),
            upload_timeout: Duration::from_secs(600),
            poll_timeout: Duration::from_secs(30),
            poll_limit: 100,
            poll_types: None,
            poll_interval: Duration::from_millis(500),
            poll_max_wait: Duration::from_secs(60),
            backoff: Backoff::default(),
            initial_marker: None,
            marker_store: None,
            not_ready_retries: DEFAULT_NOT_READY_RETRIES,
            not_ready_backoff: DEFAULT_NOT_READY_BACKOFF,
            format: None,
            notify: None,
            capabilities: Capabilities::of(Platform::Max),
        }
    }

    /// Settings from registry credentials: [`TOKEN`] (required), [`BASE_URL`],
    /// [`WEBHOOK_SECRET`] and [`ROOT_CA_PEM`] (PEM text, or the path of a PEM file) where set.
    ///
    /// ```
    /// use connector_max::MaxConfig;
    /// use messenger_core::registry::Credentials;
    /// let c = Credentials::new().with("token", "t").with("base_url", "http://127.0.0.1:9/max");
    /// assert!(MaxConfig::from_credentials(&c).unwrap().build().is_ok());
    /// assert!(MaxConfig::from_credentials(&Credentials::new()).is_err());
    /// ```
    pub fn from_credentials(credentials: &Credentials) -> Result<Self> {
        let mut config = Self::new(
            credentials
                .require(TOKEN)
                .map_err(|e| e.with_platform(MAX))?,
        );
        if let Some(url) = credentials.get(BASE_URL) {
            config = config.base_url(url);
        }
        if let Some(secret) = credentials.get(WEBHOOK_SECRET) {
            config = config.webhook_secret(secret);
        }
        if let Some(pem) = credentials.get(ROOT_CA_PEM) {
            let bytes = if pem.contains("-----BEGIN") {
                pem.as_bytes().to_vec()
            } else {
                std::fs::read(pem).map_err(|e| {
                    invalid(format!(
                        "the root certificate file could not be read ({})",
                        e.kind()
                    ))
                })?
            };
            config = config.root_certificate_pem(bytes);
        }
        Ok(config)
    }

    /// The API's base URL, [`DEFAULT_BASE_URL`] unless set (a sandbox, a proxy). It may carry a
    /// path prefix: endpoints are appended to it (`http://127.0.0.1:8080/max` serves
    /// `/max/messages`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The HTTP client settings (timeouts, `User-Agent`, root certificates, a client of your
    /// own, the answer body cap). A read timeout, if set, must exceed the poll timeout.
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// Trusts this PEM root certificate next to the standard roots (MAX's host may present a
    /// certificate of the Russian national CA, "Russian Trusted Root CA", published at
    /// <https://www.gosuslugi.ru/crt>). Kept apart from [`http`](Self::http), so the order of
    /// the two calls does not matter. A PEM without a certificate, or one that cannot be
    /// read, fails [`build`](Self::build) with `InvalidInput`.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The secret MAX sends in [`SECRET_HEADER`] (5–256 characters of `A-Z a-z 0-9 _ -`);
    /// webhooks are refused without it. [`Max::subscribe`] registers it.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(Secret::new(secret.into()));
        self
    }

    /// The largest webhook body accepted (default [`DEFAULT_MAX_WEBHOOK_BODY`]); a larger one is
    /// refused with `TooLarge` (HTTP 413) before anything else is done with it.
    pub fn max_webhook_body(mut self, bytes: usize) -> Self {
        self.max_webhook_body = bytes;
        self
    }

    /// The largest inbound file [`Messenger::download`] fetches (default
    /// [`DEFAULT_DOWNLOAD_LIMIT`]; `None` for no limit). Larger ones fail with `TooLarge`
    /// before their bytes are requested where the size is known, else as soon as the bytes
    /// pass the limit.
    pub fn download_limit(mut self, limit: Option<u64>) -> Self {
        self.download_limit = limit;
        self
    }

    /// The timeout of a file transfer: the upload of step 2, or a download's whole stream
    /// (default 10 min). Other calls take the [`HttpSettings`] request timeout.
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// How long one `GET /updates` waits for updates (0–90 s, default 30 s; MAX announced 30 s
    /// as the long-poll maximum from May 2026). The HTTP timeout of the call is this plus 10 s.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// At most this many updates per `GET /updates` (1–1000, default 100).
    pub fn poll_limit(mut self, limit: u32) -> Self {
        self.poll_limit = limit;
        self
    }

    /// The update types to receive by long polling (`types=`); all unless set.
    pub fn poll_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.poll_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// The shortest time between the starts of two `GET /updates` calls (default 500 ms; see
    /// [`poll`]).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The longest long polling waits before calling again, whatever MAX asked (default 60 s).
    pub fn poll_max_wait(mut self, wait: Duration) -> Self {
        self.poll_max_wait = wait;
        self
    }

    /// The backoff of the long-poll loop after network errors, 5xx and 429 answers.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The marker of the first `GET /updates` of [`Messenger::updates`] (it wins over the
    /// [`marker_store`](Self::marker_store)'s).
    pub fn initial_marker(mut self, marker: i64) -> Self {
        self.initial_marker = Some(marker);
        self
    }

    /// Where long polling loads its first marker and saves every marker it confirms (see
    /// [`poll`]). A [`MemoryMarkerStore`] lets the caller observe it.
    pub fn marker_store(mut self, store: Arc<dyn MarkerStore>) -> Self {
        self.marker_store = Some(store);
        self
    }

    /// How many times a send refused with `attachment.not.ready` is sent again (default
    /// [`DEFAULT_NOT_READY_RETRIES`]; 0 fails at once). Only that error is retried; when the
    /// retries are spent the send fails with [`error::not_ready_exhausted`].
    pub fn not_ready_retries(mut self, retries: u32) -> Self {
        self.not_ready_retries = retries;
        self
    }

    /// The wait before each `attachment.not.ready` retry (default
    /// [`DEFAULT_NOT_READY_BACKOFF`]).
    pub fn not_ready_backoff(mut self, backoff: Backoff) -> Self {
        self.not_ready_backoff = backoff;
        self
    }

    /// Formats text as MAX Markdown or HTML. Unset (the default), no `format` is sent and the
    /// text arrives as written.
    pub fn format(mut self, format: TextFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Sends `notify` with every message (`false`: silent; MAX refuses it in channels). Unset
    /// (the default), the field is left out and MAX notifies.
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = Some(notify);
        self
    }

    /// Overrides the capabilities the planner uses.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The base URL in force.
    pub fn base_url_str(&self) -> &str {
        &self.base_url
    }

    /// The download limit in force.
    pub fn download_limit_value(&self) -> Option<u64> {
        self.download_limit
    }

    /// Builds the bot; see [`Max::new`].
    pub fn build(self) -> Result<Max> {
        Max::new(self)
    }
}

impl fmt::Debug for MaxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConfig")
            .field("token", &self.token)
            .field("base_url", &self.base_url)
            .field("http", &self.http)
            .field("root_certificates", &self.root_certificates.len())
            .field("webhook_secret", &self.webhook_secret)
            .field("max_webhook_body", &self.max_webhook_body)
            .field("download_limit", &self.download_limit)
            .field("upload_timeout", &self.upload_timeout)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_limit", &self.poll_limit)
            .field("poll_types", &self.poll_types)
            .field("poll_interval", &self.poll_interval)
            .field("initial_marker", &self.initial_marker)
            .field("marker_store", &self.marker_store.is_some())
            .field("not_ready_retries", &self.not_ready_retries)
            .field("format", &self.format)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

/// Checks that a PEM holds at least one certificate that can be read.
fn check_pem(pem: &[u8]) -> Result<()> {
    match reqwest::Certificate::from_pem_bundle(pem) {
        Ok(certs) if !certs.is_empty() => Ok(()),
        Ok(_) => Err(invalid(
            "the root certificate PEM holds no certificate (no BEGIN CERTIFICATE block)",
        )),
        Err(_) => Err(invalid(
            "the root certificate PEM cannot be read (malformed base64 in a CERTIFICATE block)",
        )),
    }
}

struct Inner {
    config: MaxConfig,
    http: HttpClient,
    base: Url,
    auth: HeaderValue,
}

/// One MAX bot: the Bot API client and the [`Messenger`] implementation. Cheap to clone (the
/// state is shared).
///
/// ```
/// use connector_max::{Max, MaxConfig};
/// use messenger_core::Messenger;
/// let max = Max::new(MaxConfig::new("max-token")).unwrap();
/// assert!(max.is_group_chat(&"-70801090403050".into()));
/// assert!(!max.is_group_chat(&"182182182".into()));
/// assert!(max.capabilities().actions.edit);
/// ```
#[derive(Clone)]
pub struct Max {
    inner: Arc<Inner>,
}

impl fmt::Debug for Max {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Max")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Max {
    /// Builds a bot from its settings. No request is made.
    ///
    /// Fails with `InvalidInput` for an empty token or one that cannot go in a header, a base
    /// URL that is not http(s), a poll limit outside 1–1000, a poll timeout over 90 s, or a
    /// root certificate PEM that holds no readable certificate; with `Transport` when the HTTP
    /// client cannot be built otherwise.
    ///
    /// ```
    /// use connector_max::{Max, MaxConfig};
    /// use messenger_core::ErrorKind;
    /// assert!(Max::new(MaxConfig::new("")).is_err());
    /// assert!(Max::new(MaxConfig::new("t").base_url("ftp://x")).is_err());
    /// let err = Max::new(MaxConfig::new("t").root_certificate_pem("not a certificate")).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn new(config: MaxConfig) -> Result<Self> {
        let token = config.token.expose_str();
        if token.trim().is_empty() || token.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(invalid("the MAX bot token is empty or malformed"));
        }
        let mut auth = HeaderValue::from_str(token)
            .map_err(|_| invalid("the MAX bot token is empty or malformed"))?;
        auth.set_sensitive(true);
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .filter(|u| !u.cannot_be_a_base())
            .ok_or_else(|| invalid("the base URL must be an http(s) URL"))?;
        if !(1..=1000).contains(&config.poll_limit) {
            return Err(invalid("the poll limit must be 1-1000"));
        }
        if config.poll_timeout > Duration::from_secs(90) {
            return Err(invalid("the poll timeout must be at most 90 s"));
        }
        let mut settings = config.http.clone();
        for pem in &config.root_certificates {
            check_pem(pem)?;
            settings = settings.add_root_certificate_pem(pem.clone());
        }
        let http = HttpClient::new(MAX, &settings).map_err(|e| {
            // Every certificate was read: one the TLS stack still refuses is the caller's input.
            if config.root_certificates.is_empty() || e.kind() != ErrorKind::Transport {
                e
            } else {
                invalid("a root certificate is not a valid X.509 certificate").with_source(e)
            }
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                base,
                auth,
            }),
        })
    }

    /// The settings this bot was built with.
    pub fn config(&self) -> &MaxConfig {
        &self.inner.config
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// `{base}/{segments…}`, each segment percent-encoded, after the base URL's own path.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Whether `url` is on the API's own host (the only one the token goes to).
    pub(crate) fn is_api_origin(&self, url: &Url) -> bool {
        let base = &self.inner.base;
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
    }

    /// Adds the `Authorization: <token>` header (marked sensitive, so the HTTP stack does not
    /// log it).
    pub(crate) fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request.header(AUTHORIZATION, self.inner.auth.clone())
    }

    /// A request to the API with the token.
    pub(crate) fn authorized(&self, method: Method, url: Url) -> RequestBuilder {
        self.authorize(self.inner.http.request(method, url))
    }

    /// Sends a request and returns the body of a success; a non-success answer is mapped by
    /// [`error::from_answer`]. `what` names the endpoint in logs (never its query).
    pub(crate) async fn call(
        &self,
        call: Call,
        request: RequestBuilder,
        what: &'static str,
    ) -> Result<Bytes> {
        let answer = self.inner.http.execute(request).await.map_err(|e| {
            debug!(endpoint = what, kind = %e.kind(), delivery = ?e.delivery(), "max request failed");
            match call {
                Call::Send => e,
                Call::Read | Call::Poll => e.with_delivery(Delivery::NotSent),
            }
        })?;
        let status = answer.status.as_u16();
        if answer.is_success() {
            debug!(
                endpoint = what,
                status,
                body_len = answer.body.len(),
                "max call ok"
            );
            Ok(answer.body)
        } else {
            let err = error::from_answer(&answer, call);
            debug!(
                endpoint = what,
                status,
                kind = %err.kind(),
                code = err.platform_code().unwrap_or(""),
                "max call refused"
            );
            Err(err)
        }
    }

    /// `GET /me`: the bot's own identity.
    pub async fn me(&self) -> Result<BotInfo> {
        let body = self
            .call(
                Call::Read,
                self.authorized(Method::GET, self.endpoint(&["me"])),
                "GET /me",
            )
            .await?;
        error::decode(&body, "the GET /me answer", Call::Read)
    }

    /// `POST /messages` with `body` to `chat`, retrying `attachment.not.ready` within the
    /// configured budget, and returns the sent message's id and time.
    ///
    /// ```no_run
    /// # async fn run(max: connector_max::Max) -> messenger_core::Result<()> {
    /// use connector_max::wire::NewMessageBody;
    /// let body = NewMessageBody { text: Some("Заказ №17 готов".into()), ..Default::default() };
    /// let sent = max.send_message(&"user:123456789".into(), &body).await?;
    /// # let _ = sent; Ok(()) }
    /// ```
    pub async fn send_message(&self, chat: &ChatId, body: &NewMessageBody) -> Result<SentPart> {
        let (key, value) = convert::target(chat)?.query();
        let mut url = self.endpoint(&["messages"]);
        url.query_pairs_mut().append_pair(key, &value);
        let config = &self.inner.config;
        let started = Instant::now();
        let mut retries = 0u32;
        loop {
            let request = self.authorized(Method::POST, url.clone()).json(body);
            match self.call(Call::Send, request, "POST /messages").await {
                Ok(answer) => return sent_part(&answer, chat),
                Err(err) if error::is_not_ready(&err) => {
                    if retries >= config.not_ready_retries {
                        tracing::warn!(
                            chat = %chat.fingerprint(),
                            attempts = retries + 1,
                            "max attachment still not ready; giving up"
                        );
                        return Err(error::not_ready_exhausted(retries + 1, started.elapsed()));
                    }
                    let delay = config.not_ready_backoff.delay(retries);
                    retries += 1;
                    debug!(
                        chat = %chat.fingerprint(),
                        retry = retries,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "max attachment not ready; sending again"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Checks a text against the capabilities before an edit: MAX refuses an empty one and one
    /// over 4000 characters.
    fn check_text(&self, text: &str) -> Result<()> {
        let limit = self.inner.config.capabilities.text;
        if text.trim().is_empty() {
            return Err(invalid("a MAX message text cannot be empty"));
        }
        let len = limit.unit.len(text);
        if len > limit.max_len {
            return Err(Error::too_large(format!(
                "the text is {len} long; MAX takes at most {}",
                limit.max_len
            ))
            .with_platform(MAX));
        }
        Ok(())
    }

    /// `POST /subscriptions`: MAX will POST updates to `url` (HTTPS on port 443) with the
    /// configured [`webhook_secret`](MaxConfig::webhook_secret) in [`SECRET_HEADER`].
    /// `update_types` `None` subscribes to every type. Long polling is unavailable while a
    /// subscription exists.
    ///
    /// Fails with `InvalidInput` before any request when no webhook secret is configured (the
    /// handler would refuse every delivery), when it is not 5–256 characters of
    /// `A-Z a-z 0-9 _ -`, or when `url` is not an http(s) URL.
    pub async fn subscribe(&self, url: &str, update_types: Option<&[&str]>) -> Result<()> {
        let secret = self
            .inner
            .config
            .webhook_secret
            .as_ref()
            .ok_or_else(|| invalid("configure a webhook secret before subscribing"))?;
        let valid = (5..=256).contains(&secret.expose_str().len())
            && secret
                .expose_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(invalid(
                "a MAX webhook secret is 5-256 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| invalid("the webhook URL must be an http(s) URL"))?;
        let body = SubscriptionRequest {
            url: url.to_owned(),
            update_types: update_types.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
            secret: Some(secret.expose_str().to_owned()),
        };
        let request = self
            .authorized(Method::POST, self.endpoint(&["subscriptions"]))
            .json(&body);
        let answer = self
            .call(Call::Read, request, "POST /subscriptions")
            .await?;
        error::check_success(error::decode::<SimpleQueryResult>(
            &answer,
            "the POST /subscriptions answer",
            Call::Read,
        )?)
    }

    /// `GET /subscriptions`: the webhook subscriptions (empty while long polling).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>> {
        let request = self.authorized(Method::GET, self.endpoint(&["subscriptions"]));
        let answer = self.call(Call::Read, request, "GET /subscriptions").await?;
        let result: GetSubscriptionsResult =
            error::decode(&answer, "the GET /subscriptions answer", Call::Read)?;
        Ok(result.subscriptions)
    }

    /// `DELETE /subscriptions?url=`: stops webhook deliveries to `url` (long polling becomes
    /// available again).
    pub async fn unsubscribe(&self, url: &str) -> Result<()> {
        let mut endpoint = self.endpoint(&["subscriptions"]);
        endpoint.query_pairs_mut().append_pair("url", url);
        let request = self.authorized(Method::DELETE, endpoint);
        let answer = self
            .call(Call::Read, request, "DELETE /subscriptions")
            .await?;
        error::check_success(error::decode::<SimpleQueryResult>(
            &answer,
            "the DELETE /subscriptions answer",
            Call::Read,
        )?)
    }

    /// One `GET /updates` call from `marker`; the raw answer.
    pub(crate) async fn get_updates(&self, marker: Option<i64>) -> Result<Bytes> {
        let config = &self.inner.config;
        let mut url = self.endpoint(&["updates"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &config.poll_limit.to_string());
            query.append_pair("timeout", &config.poll_timeout.as_secs().to_string());
            if let Some(marker) = marker {
                query.append_pair("marker", &marker.to_string());
            }
            if let Some(types) = &config.poll_types {
                query.append_pair("types", &types.join(","));
            }
        }
        let request = self
            .authorized(Method::GET, url)
            .timeout(config.poll_timeout + Duration::from_secs(10));
        self.call(Call::Poll, request, "GET /updates").await
    }

    /// Long-polls from `marker` (`None`: the [`marker_store`](MaxConfig::marker_store)'s, else
    /// wherever MAX starts). See [`poll`].
    pub fn updates_from(&self, marker: Option<i64>) -> EventStream {
        poll::stream(self.clone(), marker)
    }
}

/// The id and time of a sent message from `POST /messages`'s answer. The message went out: an
/// unreadable answer is `Decode` with [`Delivery::MaybeSent`].
fn sent_part(answer: &[u8], chat: &ChatId) -> Result<SentPart> {
    let result: SendMessageResult = error::decode(answer, "the POST /messages answer", Call::Send)?;
    let message = result.message.as_ref();
    let mid = message
        .and_then(|m| m.body.as_ref())
        .map(|b| b.mid.clone())
        .filter(|mid| !mid.is_empty())
        .ok_or_else(|| {
            Error::decode("MAX accepted the message without a message id")
                .with_platform(MAX)
                .with_delivery(Delivery::MaybeSent)
        })?;
    let timestamp = match message.and_then(|m| m.timestamp) {
        Some(ms) => convert::timestamp(ms).map_err(|e| e.with_delivery(Delivery::MaybeSent))?,
        None => Utc::now(),
    };
    let message_id = MessageId::new(mid);
    debug!(chat = %chat.fingerprint(), message_id = %message_id.fingerprint(), "max message sent");
    Ok(SentPart {
        message_id,
        timestamp,
    })
}

#[async_trait]
impl Messenger for Max {
    fn platform(&self) -> Platform {
        MAX
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.config.capabilities
    }

    /// `GET /me`: the bot's user id, name and username.
    async fn connect(&self) -> Result<AccountInfo> {
        let me = self.me().await?;
        Ok(AccountInfo {
            platform: MAX,
            id: UserId::from(me.user_id),
            name: me.first_name.clone().or(me.name.clone()),
            username: me.username,
        })
    }

    /// Sends one planned part: media are attached by reference or uploaded first (see
    /// [`media`]), then `POST /messages` with the text or caption, the attachment, a reply
    /// link and the configured `format`/`notify`.
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        // Checked before an upload spends bandwidth.
        convert::target(chat)?;
        let config = &self.inner.config;
        let (text, attachment) = match &part.content {
            OutgoingContent::Text { text } => (Some(text.as_str()), None),
            content => {
                let source = content
                    .media_source()
                    .ok_or_else(|| invalid("media content without media"))?;
                let attachment = self.attachment(content.kind(), source).await?;
                (content.caption(), Some(attachment))
            }
        };
        let body = convert::message_body(
            text,
            attachment,
            part.reply_to.as_ref(),
            config.format,
            config.notify,
        )?;
        debug!(
            chat = %chat.fingerprint(),
            kind = %part.content.kind(),
            chars = text.map_or(0, |t| t.chars().count()),
            "sending a max message"
        );
        self.send_message(chat, &body).await
    }

    /// `PUT /messages?message_id=` with the new text and `attachments: null` (the attachments
    /// stay). MAX names a message by its id alone: `chat` is not sent. An empty text or one
    /// over 4000 characters fails before any request; `success: false` is an error.
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        let mid = convert::message_id(message)?;
        self.check_text(text)?;
        let mut url = self.endpoint(&["messages"]);
        url.query_pairs_mut().append_pair("message_id", &mid);
        let body = EditMessageBody {
            text: text.to_owned(),
            attachments: None,
            format: self.inner.config.format,
        };
        debug!(chat = %chat.fingerprint(), chars = text.chars().count(), "editing a max message");
        let answer = self
            .call(
                Call::Send,
                self.authorized(Method::PUT, url).json(&body),
                "PUT /messages",
            )
            .await?;
        error::check_success(error::decode(
            &answer,
            "the PUT /messages answer",
            Call::Send,
        )?)
    }

    /// `DELETE /messages?message_id=` (`chat` is not sent: MAX names a message by its id).
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let mid = convert::message_id(message)?;
        let mut url = self.endpoint(&["messages"]);
        url.query_pairs_mut().append_pair("message_id", &mid);
        debug!(chat = %chat.fingerprint(), "deleting a max message");
        let answer = self
            .call(
                Call::Send,
                self.authorized(Method::DELETE, url),
                "DELETE /messages",
            )
            .await?;
        error::check_success(error::decode(
            &answer,
            "the DELETE /messages answer",
            Call::Send,
        )?)
    }

    /// Group chats and channels have negative chat ids; dialogs and users positive ones.
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        matches!(convert::target(chat), Ok(convert::Target::Chat(id)) if id < 0)
    }

    /// Streams inbound media within the download limit (see [`media`]).
    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.download_media(media).await
    }

    /// Checks the body size, verifies `X-Max-Bot-Api-Secret`, then parses (see [`webhook`]).
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let config = &self.inner.config;
        webhook::handle(
            request,
            config.webhook_secret.as_ref(),
            config.max_webhook_body,
        )
    }

    /// `GET /updates` long polling from the configured initial marker (else the marker
    /// store's); see [`poll`].
    fn updates(&self) -> Result<EventStream> {
        Ok(self.updates_from(self.inner.config.initial_marker))
    }
}
