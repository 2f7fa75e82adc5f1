//! # connector-whatsapp
//!
//! The WhatsApp Business Cloud API (Meta Graph API) behind the [`Messenger`] trait of
//! [`messenger_core`]: one [`WhatsApp`] value is one business phone number.
//!
//! - **Connect**: [`Messenger::connect`] checks the access token with
//!   `GET /{phone-number-id}` and returns the number's identity (id and verified name; the
//!   phone number itself is available from [`WhatsApp::phone_number`] and never logged).
//! - **Send**: [`Messenger::send`] plans the message against WhatsApp's capabilities and sends
//!   each part with [`Messenger::send_part`]: text (`preview_url: false` unless configured),
//!   image, document (with file name), audio, voice note (`type: audio` with `voice: true`) and
//!   video, from bytes or a stream (uploaded first through `POST /{phone-number-id}/media`), a
//!   public link, or a media id; replies go as `context.message_id`. Templates, the only
//!   messages allowed outside the 24-hour window, go through [`Messenger::send_template`].
//! - **The 24-hour window**: [`Messenger::handle_webhook`] records each customer's last
//!   inbound message in a [`ReplyWindowStore`] ([`MemoryReplyWindowStore`] by default;
//!   configure a shared one with [`WhatsAppConfig::window_store`]); [`Messenger::reply_window`]
//!   reads it. Where the store knows the window is closed (the customer's last message is older
//!   than 24 hours, or the store has watched for 24 hours and saw none), a free-form send fails
//!   with [`ErrorKind::OutsideReplyWindow`](messenger_core::ErrorKind::OutsideReplyWindow)
//!   before any request. Where it cannot know (a customer it never saw, in a store that has
//!   watched for less than 24 hours: a new process) the window is
//!   [`Unknown`](ReplyWindow::Unknown), the send goes, and WhatsApp decides: it accepts the
//!   request and, outside the window, reports a `failed` status with code `131047` later.
//!   [`parse`] records nothing.
//! - **Webhooks**: the size check, the GET handshake, `X-Hub-Signature-256` verification over
//!   the raw body, then every entry, change, message, status and preference change; see
//!   [`webhook`] and [`convert`]. No long polling: see [`poll`].
//! - **Media download**: [`Messenger::download`] resolves the media id to its short-lived URL and
//!   streams it with the bearer token, fetching a fresh URL once if the first has expired.
//! - **Errors**: every WhatsApp error code is mapped once, in [`error`]; every request goes
//!   through [`messenger_http`].
//! - **Registry**: [`ENTRY`] builds a number from `WHATSAPP_*` environment variables (or any
//!   [`Credentials`]) and names [`parse`] as the one parser.
//!
//! ## Statuses
//!
//! `sent`, `delivered`, `read` (and `played`, read as `read`) and `failed` arrive as
//! [`InboundEvent::Status`] from webhooks. WhatsApp does not promise their order (a `read` may
//! come before its `delivered`, or without it), so feed them to a
//! [`messenger_core::status::StatusTracker`], which applies them monotonically; a `failed` with
//! code `131047` carries [`ErrorKind::OutsideReplyWindow`](messenger_core::ErrorKind::OutsideReplyWindow).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use messenger_core::status::StatusTracker;
//! use messenger_core::{DeliveryStatus, InboundEvent, MessageId, Platform};
//!
//! // One delivery with `read` before `delivered` (WhatsApp does not promise the order).
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{
//!   "field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"statuses":[
//!     {"id":"wamid.OUT","status":"read","timestamp":"1603086399","recipient_id":"16505551234"},
//!     {"id":"wamid.OUT","status":"delivered","timestamp":"1603086313","recipient_id":"16505551234"}
//!   ]}}]}]}"#;
//! let tracker = StatusTracker::default();
//! for event in connector_whatsapp::parse(body).unwrap() {
//!     if let InboundEvent::Status(status) = event {
//!         tracker.apply(&status).await.unwrap();
//!     }
//! }
//! let current = tracker
//!     .get(Platform::WhatsApp, &"16505551234".into(), &MessageId::new("wamid.OUT"))
//!     .await
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(current.status, DeliveryStatus::Read);
//! # });
//! ```
//!
//! ## Example
//!
//! ```no_run
//! use connector_whatsapp::WhatsAppConfig;
//! use messenger_core::{Messenger, OutgoingMessage, Template};
//! use messenger_core::webhook::WebhookRequest;
//!
//! # async fn run(raw_body: bytes::Bytes, signature: String) -> messenger_core::Result<()> {
//! let wa = WhatsAppConfig::new("EAAG...", "106540352242922")
//!     .app_secret("app-secret")
//!     .verify_token("my-verify-token")
//!     .build()?;
//! let me = wa.connect().await?;
//!
//! // A webhook delivery: verify, parse, record the customers' reply windows.
//! let request = WebhookRequest::post(raw_body).header("X-Hub-Signature-256", signature);
//! let outcome = wa.handle_webhook(&request).await?;
//! for event in &outcome.events {
//!     if let messenger_core::InboundEvent::Message(m) = event {
//!         // Inside the 24-hour window: free-form replies are allowed.
//!         wa.send(&OutgoingMessage::text(m.chat_id.clone(), "Thanks, we are on it").reply_to(m.message_id.clone()))
//!             .await?;
//!     }
//! }
//!
//! // Outside the window: only a template.
//! wa.send_template(&"16505551234".into(), &Template::new("hello_world", "en_US")).await?;
//! # let _ = me; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use messenger_core::plan::{Part, ReplyWindow};
use messenger_core::redact::Secret;
use messenger_core::registry::{self, ConnectorEntry, Credentials, EnvVar};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, InboundEvent, MediaRef,
    MessageId, Messenger, Platform, Result, SentPart, Template, UserId,
};
use messenger_http::{HttpClient, HttpSettings, Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

pub mod convert;
pub mod error;
pub mod media;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use webhook::{DEFAULT_MAX_WEBHOOK_BODY, parse};

const WA: Platform = Platform::WhatsApp;

/// The Graph API version used unless configured: the version Meta's current WhatsApp pages
/// use in their examples (`shared/platforms/whatsapp.md` §1 recommends `v25.0`; versions live
/// about two years).
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// The Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/";

/// The length of the customer service window when the capabilities do not say otherwise.
pub const DEFAULT_REPLY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest inbound file [`Messenger::download`] fetches unless configured: 100 MB, the
/// largest media WhatsApp carries (documents; `shared/platforms/whatsapp.md` §4.3).
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = 100 * 1024 * 1024;

/// The connector's entry in the tools' registry (the CLI, the demo, the server).
///
/// | variable | credential | |
/// |---|---|---|
/// | `WHATSAPP_TOKEN` | `token` | required: a system-user access token |
/// | `WHATSAPP_PHONE_NUMBER_ID` | `phone_number_id` | required: the business phone-number id |
/// | `WHATSAPP_APP_SECRET` | `app_secret` | optional: verifies webhook signatures |
/// | `WHATSAPP_VERIFY_TOKEN` | `verify_token` | optional: answers the webhook handshake |
/// | `WHATSAPP_API_URL` | `base_url` | optional: another Graph host (a sandbox, a proxy) |
///
/// `build` is [`WhatsAppConfig::from_credentials`] then [`WhatsAppConfig::build`]; `parse`
/// is [`parse`].
///
/// ```
/// use messenger_core::Platform;
/// let env = |name: &str| match name {
///     "WHATSAPP_TOKEN" => Some("EAAG-secret".to_owned()),
///     "WHATSAPP_PHONE_NUMBER_ID" => Some("106540352242922".to_owned()),
///     _ => None,
/// };
/// let entry = connector_whatsapp::ENTRY;
/// assert_eq!(entry.platform, Platform::WhatsApp);
/// let account = (entry.build)(&entry.credentials_from_env(env).unwrap(), &messenger_core::registry::AccountStores::new()).unwrap();
/// assert_eq!(account.platform(), Platform::WhatsApp);
/// assert!(entry.credentials_from_env(|_| None).is_err());
/// ```
pub const ENTRY: ConnectorEntry = ConnectorEntry {
    platform: Platform::WhatsApp,
    env: &[
        EnvVar::required(
            "WHATSAPP_TOKEN",
            "token",
            "a system-user access token of the Meta app",
        ),
        EnvVar::required(
            "WHATSAPP_PHONE_NUMBER_ID",
            "phone_number_id",
            "the business phone-number id (not the phone number)",
        ),
        EnvVar::optional(
            "WHATSAPP_APP_SECRET",
            "app_secret",
            "the Meta app secret that signs webhook deliveries",
        ),
        EnvVar::optional(
            "WHATSAPP_VERIFY_TOKEN",
            "verify_token",
            "the verify token of the webhook handshake",
        ),
        EnvVar::optional(
            "WHATSAPP_API_URL",
            registry::BASE_URL,
            "the Graph API base URL (default https://graph.facebook.com/)",
        ),
    ],
    build: build_entry,
    parse,
    flow: None,
};

fn build_entry(
    credentials: &Credentials,
    stores: &messenger_core::registry::AccountStores,
) -> Result<Arc<dyn Messenger>> {
    let mut config = WhatsAppConfig::from_credentials(credentials)?;
    // A shared store makes every process agree on a customer's window (the server's nodes).
    if let Some(windows) = &stores.reply_windows {
        config = config.window_store(windows.clone());
    }
    Ok(Arc::new(config.build()?))
}

/// How one WhatsApp business phone number is reached; [`build`](WhatsAppConfig::build) it into
/// a [`WhatsApp`].
///
/// ```
/// use connector_whatsapp::WhatsAppConfig;
/// let config = WhatsAppConfig::new("EAAG-secret-token", "106540352242922")
///     .app_secret("app-secret")
///     .verify_token("verify-me")
///     .graph_version("v26.0");
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("EAAG-secret-token") && !debug.contains("app-secret"));
/// let wa = config.build().unwrap();
/// assert_eq!(wa.graph_version(), "v26.0");
/// ```
#[derive(Clone)]
pub struct WhatsAppConfig {
    token: Secret<String>,
    phone_number_id: String,
    app_secret: Option<Secret<String>>,
    verify_token: Option<Secret<String>>,
    graph_version: String,
    base_url: String,
    preview_url: bool,
    download_limit: Option<u64>,
    max_webhook_body: usize,
    capabilities: Capabilities,
    window_store: Arc<dyn ReplyWindowStore>,
    http: HttpSettings,
}

impl WhatsAppConfig {
    /// A configuration with a system-user access token and the business phone-number id, and
    /// defaults: Graph [`DEFAULT_GRAPH_VERSION`] at [`DEFAULT_BASE_URL`], no link previews, a
    /// [`DEFAULT_DOWNLOAD_LIMIT`] download limit, a [`DEFAULT_MAX_WEBHOOK_BODY`] webhook body
    /// limit, [`Capabilities::of`]`(WhatsApp)`, an in-memory reply-window store and
    /// [`HttpSettings::default`].
    pub fn new(token: impl Into<String>, phone_number_id: impl Into<String>) -> Self {
        Self {
            token: Secret::new(token.into()),
            phone_number_id: phone_number_id.into(),
            app_secret: None,
            verify_token: None,
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            preview_url: false,
            download_limit: Some(DEFAULT_DOWNLOAD_LIMIT),
            max_webhook_body: DEFAULT_MAX_WEBHOOK_BODY,
            capabilities: Capabilities::of(Platform::WhatsApp),
            window_store: Arc::new(MemoryReplyWindowStore::default()),
            http: HttpSettings::default(),
        }
    }

    /// A configuration from named credentials (see [`ENTRY`]): `token` and `phone_number_id`
    /// are required (`InvalidInput` naming the missing one); `app_secret`, `verify_token` and
    /// `base_url` are set where present.
    ///
    /// ```
    /// use connector_whatsapp::WhatsAppConfig;
    /// use messenger_core::registry::Credentials;
    /// let credentials = Credentials::new()
    ///     .with("token", "EAAG-secret")
    ///     .with("phone_number_id", "106540352242922")
    ///     .with("base_url", "http://127.0.0.1:8080/whatsapp");
    /// let wa = WhatsAppConfig::from_credentials(&credentials).unwrap().build().unwrap();
    /// assert_eq!(wa.config().phone_number_id(), "106540352242922");
    /// assert!(WhatsAppConfig::from_credentials(&Credentials::new().with("token", "t")).is_err());
    /// ```
    pub fn from_credentials(credentials: &Credentials) -> Result<Self> {
        let required = |key: &str| credentials.require(key).map_err(|e| e.with_platform(WA));
        let mut config = Self::new(required("token")?, required("phone_number_id")?);
        if let Some(secret) = credentials.get("app_secret") {
            config = config.app_secret(secret);
        }
        if let Some(token) = credentials.get("verify_token") {
            config = config.verify_token(token);
        }
        if let Some(url) = credentials.get(registry::BASE_URL) {
            config = config.base_url(url);
        }
        Ok(config)
    }

    /// The Meta app secret that signs webhook deliveries (`X-Hub-Signature-256`). Without it
    /// every POST delivery is rejected.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(Secret::new(secret.into()));
        self
    }

    /// The verify token entered in the App Dashboard, answered in the GET handshake. Without it
    /// every handshake is rejected.
    pub fn verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(Secret::new(token.into()));
        self
    }

    /// The Graph API version (`vNN.0`), [`DEFAULT_GRAPH_VERSION`] unless set.
    pub fn graph_version(mut self, version: impl Into<String>) -> Self {
        self.graph_version = version.into();
        self
    }

    /// The Graph API base URL, [`DEFAULT_BASE_URL`] unless set (a sandbox, a proxy, a test
    /// server). It may carry a path prefix: endpoints are appended to it
    /// (`http://127.0.0.1:8080/whatsapp` serves `/whatsapp/v25.0/{phone-number-id}/messages`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The HTTP client settings (timeouts, `User-Agent`, root certificates, a client of your
    /// own, the answer body cap); [`HttpSettings::default`] unless set.
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// Whether text messages ask WhatsApp for a link preview (`preview_url`); `false` unless
    /// set.
    pub fn preview_url(mut self, preview: bool) -> Self {
        self.preview_url = preview;
        self
    }

    /// The largest inbound file [`Messenger::download`] fetches ([`DEFAULT_DOWNLOAD_LIMIT`]
    /// unless set; `None` for no limit). Larger ones fail with `TooLarge` before their bytes
    /// are requested where the size is known, else as soon as the bytes pass the limit.
    pub fn download_limit(mut self, limit: Option<u64>) -> Self {
        self.download_limit = limit;
        self
    }

    /// The largest webhook body [`Messenger::handle_webhook`] reads
    /// ([`DEFAULT_MAX_WEBHOOK_BODY`] unless set); a larger one is refused with `TooLarge`
    /// (answered 413) before it is verified or parsed.
    pub fn max_webhook_body(mut self, bytes: usize) -> Self {
        self.max_webhook_body = bytes;
        self
    }

    /// Replaces the capabilities the planner works from (the built-in WhatsApp values unless
    /// set).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Where customers' last inbound times are kept ([`MemoryReplyWindowStore`] unless set,
    /// watching from when this configuration was made); share one store between processes
    /// serving the same number. A store that has watched the number's inbound messages for a
    /// whole window ([`ReplyWindowStore::watching_since`]) knows which windows are closed; a
    /// newer one leaves customers it never saw to WhatsApp.
    pub fn window_store(mut self, store: Arc<dyn ReplyWindowStore>) -> Self {
        self.window_store = store;
        self
    }

    /// Checks the configuration and builds the connector; see [`WhatsApp::new`].
    pub fn build(self) -> Result<WhatsApp> {
        WhatsApp::new(self)
    }

    /// The business phone-number id.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// The reply-window store in use.
    pub fn window_store_ref(&self) -> &Arc<dyn ReplyWindowStore> {
        &self.window_store
    }
}

impl fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppConfig")
            .field("token", &self.token)
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &self.app_secret)
            .field("verify_token", &self.verify_token)
            .field("graph_version", &self.graph_version)
            .field("base_url", &self.base_url)
            .field("preview_url", &self.preview_url)
            .field("download_limit", &self.download_limit)
            .field("max_webhook_body", &self.max_webhook_body)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The business phone number, as `GET /{phone-number-id}` reports it.
///
/// `Debug` hides the phone number.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumberInfo {
    /// The phone-number id.
    pub id: String,
    /// The number as WhatsApp displays it.
    pub display_phone_number: Option<String>,
    /// The verified business name.
    pub verified_name: Option<String>,
    /// The quality rating (`GREEN`, `YELLOW`, `RED`, `NA`).
    pub quality_rating: Option<String>,
}

impl fmt::Debug for PhoneNumberInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumberInfo")
            .field("id", &self.id)
            .field(
                "display_phone_number",
                &messenger_core::redact::redacted(&self.display_phone_number),
            )
            .field("verified_name", &self.verified_name)
            .field("quality_rating", &self.quality_rating)
            .finish()
    }
}

/// One WhatsApp business phone number on the Cloud API: a [`Messenger`].
///
/// `Debug` shows no token or secret.
#[derive(Clone)]
pub struct WhatsApp {
    config: WhatsAppConfig,
    http: HttpClient,
    base: Url,
}

impl fmt::Debug for WhatsApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsApp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(WA)
}

/// The key of a customer's reply window: WhatsApp takes `to` with or without the leading `+`
/// and reports senders (`from`, `wa_id`) without it, so `+16505551234` and `16505551234` are
/// one customer.
fn window_key(chat: &ChatId) -> ChatId {
    match chat.as_str().strip_prefix('+') {
        Some(digits) if is_graph_id(digits) => ChatId::new(digits),
        _ => chat.clone(),
    }
}

fn is_graph_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

impl WhatsApp {
    /// A connector for `config`; checks the configuration (no request is made).
    ///
    /// Fails with `InvalidInput` for an empty token, a phone-number id that is not numeric,
    /// a Graph version not of the form `vNN.N`, or a base URL that is not http(s); with
    /// `Transport` when the HTTP client cannot be built.
    ///
    /// ```
    /// use connector_whatsapp::{WhatsApp, WhatsAppConfig};
    /// assert!(WhatsApp::new(WhatsAppConfig::new("token", "106540352242922")).is_ok());
    /// assert!(WhatsApp::new(WhatsAppConfig::new("token", "../me")).is_err());
    /// assert!(WhatsApp::new(WhatsAppConfig::new("", "1")).is_err());
    /// ```
    pub fn new(config: WhatsAppConfig) -> Result<Self> {
        if config.token.expose_str().trim().is_empty() {
            return Err(invalid("the WhatsApp access token is empty"));
        }
        if !is_graph_id(&config.phone_number_id) {
            return Err(invalid("the phone-number id must be numeric"));
        }
        let version_ok = config
            .graph_version
            .strip_prefix('v')
            .and_then(|v| v.split_once('.'))
            .is_some_and(|(a, b)| is_graph_id(a) && is_graph_id(b));
        if !version_ok {
            return Err(invalid("the Graph API version must look like v25.0"));
        }
        let base = Url::parse(&config.base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| invalid("the base URL must be an http(s) URL"))?;
        let http = HttpClient::new(WA, &config.http)?;
        Ok(Self { config, http, base })
    }

    /// The configuration.
    pub fn config(&self) -> &WhatsAppConfig {
        &self.config
    }

    /// The Graph API version in use.
    pub fn graph_version(&self) -> &str {
        &self.config.graph_version
    }

    /// `{base}/{version}/{segments...}`, each segment percent-encoded and appended to the base
    /// URL's own path (a sandbox serves WhatsApp under a prefix).
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(&self.config.graph_version);
            path.extend(segments);
        }
        url
    }

    /// A request with the bearer token (and the client's timeout and `User-Agent`).
    pub(crate) fn authed(&self, method: Method, url: Url) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.config.token.expose_str())
    }

    /// Sends a request and returns the body of a success; a non-success answer is mapped by
    /// [`error::from_answer`]. A request that is not a send (`delivery` is `NotSent`) fails
    /// `NotSent` whatever happened to it.
    pub(crate) async fn call(&self, request: RequestBuilder, delivery: Delivery) -> Result<Bytes> {
        let not_sent = |e: Error| match delivery {
            Delivery::NotSent => e.with_delivery(Delivery::NotSent),
            Delivery::MaybeSent => e,
        };
        let answer = self.http.execute(request).await.map_err(not_sent)?;
        if answer.is_success() {
            Ok(answer.body)
        } else {
            Err(error::from_answer(&answer, delivery))
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], delivery: Delivery) -> Result<T> {
        serde_json::from_slice(body)
            .map_err(|e| Error::from(e).with_platform(WA).with_delivery(delivery))
    }

    /// POSTs a JSON body to `/{phone-number-id}/messages`.
    async fn post_messages<B: serde::Serialize + ?Sized>(
        &self,
        body: &B,
        delivery: Delivery,
    ) -> Result<Bytes> {
        let url = self.endpoint(&[&self.config.phone_number_id, "messages"]);
        self.call(self.authed(Method::POST, url).json(body), delivery)
            .await
    }

    /// Sends a message request and returns the new message's wamid.
    async fn send_request(&self, request: &wire::SendRequest) -> Result<SentPart> {
        let body = self.post_messages(request, Delivery::MaybeSent).await?;
        let response: wire::SendResponse = Self::decode(&body, Delivery::MaybeSent)?;
        let sent = response.messages.into_iter().next();
        let id = sent
            .as_ref()
            .and_then(|m| m.id.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                Error::decode("WhatsApp accepted the message without a message id")
                    .with_platform(WA)
                    .with_delivery(Delivery::MaybeSent)
            })?;
        let message_id = MessageId::new(id);
        tracing::debug!(
            to = %messenger_core::model::fingerprint(&request.to),
            kind = request.payload.type_name(),
            message_id = %message_id.fingerprint(),
            message_status = sent.as_ref().and_then(|m| m.message_status.as_deref()).unwrap_or("accepted"),
            "whatsapp message accepted"
        );
        Ok(SentPart {
            message_id,
            timestamp: Utc::now(),
        })
    }

    /// Reads the business phone number's identity: `GET /{phone-number-id}` with
    /// `display_phone_number`, `verified_name` and `quality_rating`.
    pub async fn phone_number(&self) -> Result<PhoneNumberInfo> {
        let mut url = self.endpoint(&[&self.config.phone_number_id]);
        url.query_pairs_mut().append_pair(
            "fields",
            "id,display_phone_number,verified_name,quality_rating",
        );
        let body = self
            .call(self.authed(Method::GET, url), Delivery::NotSent)
            .await?;
        let info: wire::PhoneNumberResponse = Self::decode(&body, Delivery::NotSent)?;
        Ok(PhoneNumberInfo {
            id: info
                .id
                .unwrap_or_else(|| self.config.phone_number_id.clone()),
            display_phone_number: info.display_phone_number,
            verified_name: info.verified_name,
            quality_rating: info.quality_rating,
        })
    }

    /// Marks an inbound message as read and shows a typing indicator to the customer (it
    /// disappears when you reply, or after 25 seconds). Only use it when a reply follows.
    pub async fn mark_read_with_typing(&self, message: &MessageId) -> Result<()> {
        self.post_messages(&convert::mark_read_body(message, true), Delivery::NotSent)
            .await
            .map(drop)
    }

    async fn record_inbound(&self, events: &[InboundEvent]) -> Result<()> {
        let now = Utc::now();
        for event in events {
            if let InboundEvent::Message(m) = event {
                if m.edited {
                    continue;
                }
                // A timestamp from the future would hold the window open too long.
                let at = m.timestamp.min(now);
                self.config
                    .window_store
                    .record_inbound(WA, &window_key(&m.chat_id), at)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Messenger for WhatsApp {
    fn platform(&self) -> Platform {
        WA
    }

    fn capabilities(&self) -> &Capabilities {
        &self.config.capabilities
    }

    /// Checks the token with `GET /{phone-number-id}` and returns the number's id and verified
    /// name (the phone number itself is not part of [`AccountInfo`]; see
    /// [`WhatsApp::phone_number`]).
    async fn connect(&self) -> Result<AccountInfo> {
        let info = self.phone_number().await?;
        tracing::info!(
            quality_rating = info.quality_rating.as_deref().unwrap_or("unknown"),
            "whatsapp phone number connected"
        );
        Ok(AccountInfo {
            platform: WA,
            id: UserId::new(info.id),
            name: info.verified_name,
            username: None,
        })
    }

    /// Sends one planned part: uploads bytes and streams first, then POSTs the message.
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        // Validate before an upload spends bandwidth.
        convert::check_part(chat, part)?;
        let uploaded = match part.content.media_source() {
            Some(source) if source.is_upload() => Some(self.upload(source).await?),
            _ => None,
        };
        let request =
            convert::send_request(chat, part, uploaded.as_ref(), self.config.preview_url)?;
        self.send_request(&request).await
    }

    /// Sends an approved template message: the one kind WhatsApp allows outside the 24-hour
    /// window, so it is sent whatever [`Messenger::reply_window`] says.
    ///
    /// `template.components` is Meta's array of header / body / button components
    /// (`[{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]`), passed through;
    /// `Value::Null` for a template without parameters. See [`convert::template_body`] for the
    /// exact body. Like `send_part`, the bare connector checks nothing else: stack the layers
    /// (the gate refuses templates to opted-out customers).
    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        let request = convert::template_request(chat, template)?;
        self.send_request(&request).await
    }

    /// WhatsApp reports senders without the `+` that `to` accepts: `+16505551234` and
    /// `16505551234` are one customer.
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        window_key(chat)
    }

    /// Whether `chat` is a WhatsApp group id (see [`convert::is_group_id`]).
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        convert::is_group_id(chat)
    }

    /// The state of the customer's window (24 h, from the capabilities) according to the
    /// configured store ([`ReplyWindowStore::window_state`]): `Open` if they wrote within it,
    /// `Closed` if their last message is older or the store has watched for a whole window and
    /// saw none, `Unknown` (WhatsApp decides) if the store has not watched that long. A phone
    /// number is the same customer with or without its leading `+`.
    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        let window = self
            .config
            .capabilities
            .reply_window
            .unwrap_or(DEFAULT_REPLY_WINDOW);
        self.config
            .window_store
            .window_state(WA, &window_key(chat), window)
            .await
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.download_media(media).await
    }

    /// `POST /{phone-number-id}/messages` with `{"messaging_product": "whatsapp", "status":
    /// "read", "message_id": ...}`.
    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let _ = chat;
        self.post_messages(&convert::mark_read_body(message, false), Delivery::NotSent)
            .await
            .map(drop)
    }

    /// The size check, then the GET handshake or a POST delivery (see [`webhook`]); only
    /// changes for this phone number (and account-wide ones) become events. Every inbound
    /// message (not an edit) records the customer's last inbound time in the window store, at
    /// the message's timestamp or now, whichever is earlier; [`parse`] records nothing. A store
    /// failure fails the delivery, so that WhatsApp sends it again.
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let outcome = webhook::handle(
            request,
            &webhook::Intake {
                verify_token: self.config.verify_token.as_ref().map(Secret::expose_str),
                app_secret: self.config.app_secret.as_ref().map(Secret::expose_str),
                phone_number_id: &self.config.phone_number_id,
                max_body: self.config.max_webhook_body,
            },
        )?;
        self.record_inbound(&outcome.events).await?;
        Ok(outcome)
    }
}
