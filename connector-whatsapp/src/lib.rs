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
//!   messages allowed outside the 24-hour window, go through [`WhatsApp::send_template`].
//! - **The 24-hour window**: [`Messenger::handle_webhook`] records each customer's last
//!   inbound message in a [`ReplyWindowStore`] ([`MemoryReplyWindowStore`] by default;
//!   configure a shared one with [`WhatsAppConfig::window_store`]); [`Messenger::reply_window`]
//!   reads it, so a free-form send to a customer who has not written in 24 hours fails with
//!   [`ErrorKind::OutsideReplyWindow`](messenger_core::ErrorKind::OutsideReplyWindow) before any
//!   request. [`parse`] records nothing.
//! - **Webhooks**: the GET handshake, `X-Hub-Signature-256` verification over the raw body, then
//!   every entry, change, message, status and preference change; see [`webhook`] and [`convert`].
//! - **Media download**: [`Messenger::download`] resolves the media id to its short-lived URL and
//!   streams it with the bearer token, fetching a fresh URL once if the first has expired.
//! - **Errors**: every WhatsApp error code is mapped once, in [`error`].
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
//! use connector_whatsapp::{WhatsApp, WhatsAppConfig};
//! use messenger_core::{Messenger, OutgoingMessage};
//! use messenger_core::webhook::WebhookRequest;
//!
//! # async fn run(raw_body: bytes::Bytes, signature: String) -> messenger_core::Result<()> {
//! let wa = WhatsApp::new(
//!     WhatsAppConfig::new("EAAG...", "106540352242922")
//!         .app_secret("app-secret")
//!         .verify_token("my-verify-token"),
//! )?;
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
//! wa.send_template(&"16505551234".into(), "hello_world", "en_US", serde_json::Value::Null).await?;
//! # let _ = me; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use messenger_core::plan::{Part, ReplyWindow};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore, window_state};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, InboundEvent, MediaRef,
    MessageId, Messenger, Platform, Result, SentPart, UserId,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub mod convert;
pub mod error;
pub mod media;
pub mod webhook;
pub mod wire;

pub use webhook::parse;

const WA: Platform = Platform::WhatsApp;

/// The Graph API version used unless configured: the version Meta's current WhatsApp pages
/// use in their examples (`shared/platforms/whatsapp.md` §1 recommends `v25.0`; versions live
/// about two years).
pub const DEFAULT_API_VERSION: &str = "v25.0";

/// The Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/";

/// The length of the customer service window when the capabilities do not say otherwise.
pub const DEFAULT_REPLY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest inbound file [`Messenger::download`] fetches unless configured: 100 MB, the
/// largest media WhatsApp carries (documents).
pub const DEFAULT_MAX_DOWNLOAD: u64 = 100 * 1024 * 1024;

/// How one WhatsApp business phone number is reached.
///
/// ```
/// use connector_whatsapp::WhatsAppConfig;
/// let config = WhatsAppConfig::new("EAAG-secret-token", "106540352242922")
///     .app_secret("app-secret")
///     .verify_token("verify-me")
///     .api_version("v26.0");
/// assert_eq!(config.api_version_str(), "v26.0");
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("EAAG-secret-token") && !debug.contains("app-secret"));
/// ```
#[derive(Clone)]
pub struct WhatsAppConfig {
    access_token: String,
    phone_number_id: String,
    app_secret: Option<String>,
    verify_token: Option<String>,
    api_version: String,
    base_url: String,
    user_agent: String,
    preview_url: bool,
    max_download: u64,
    capabilities: Capabilities,
    window_store: Arc<dyn ReplyWindowStore>,
    http: Option<reqwest::Client>,
}

impl WhatsAppConfig {
    /// A configuration with a system-user access token and the business phone-number id.
    pub fn new(access_token: impl Into<String>, phone_number_id: impl Into<String>) -> Self {
        Self {
            access_token: access_token.into(),
            phone_number_id: phone_number_id.into(),
            app_secret: None,
            verify_token: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            user_agent: concat!("messenger-connectors/", env!("CARGO_PKG_VERSION")).to_owned(),
            preview_url: false,
            max_download: DEFAULT_MAX_DOWNLOAD,
            capabilities: Capabilities::of(Platform::WhatsApp),
            window_store: Arc::new(MemoryReplyWindowStore::default()),
            http: None,
        }
    }

    /// The Meta app secret that signs webhook deliveries (`X-Hub-Signature-256`). Without it
    /// every POST delivery is rejected.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// The verify token entered in the App Dashboard, answered in the GET handshake. Without it
    /// every handshake is rejected.
    pub fn verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(token.into());
        self
    }

    /// The Graph API version (`vNN.0`), [`DEFAULT_API_VERSION`] unless set.
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The Graph API base URL, [`DEFAULT_BASE_URL`] unless set (tests point it at a local
    /// server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The `User-Agent` sent with every request (media downloads were reported to fail
    /// without one).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Whether text messages ask WhatsApp for a link preview (`preview_url`); `false` unless
    /// set.
    pub fn preview_url(mut self, preview: bool) -> Self {
        self.preview_url = preview;
        self
    }

    /// The largest inbound file [`Messenger::download`] fetches ([`DEFAULT_MAX_DOWNLOAD`]
    /// unless set); larger ones fail with `TooLarge` before their bytes are requested.
    pub fn max_download(mut self, bytes: u64) -> Self {
        self.max_download = bytes;
        self
    }

    /// Replaces the capabilities the planner works from (the built-in WhatsApp values unless
    /// set).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Where customers' last inbound times are kept ([`MemoryReplyWindowStore`] unless set);
    /// share one store between processes serving the same number.
    pub fn window_store(mut self, store: Arc<dyn ReplyWindowStore>) -> Self {
        self.window_store = store;
        self
    }

    /// Uses this HTTP client (proxies, timeouts) instead of the default one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The business phone-number id.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// The Graph API version in use.
    pub fn api_version_str(&self) -> &str {
        &self.api_version
    }

    /// The reply-window store in use.
    pub fn window_store_ref(&self) -> &Arc<dyn ReplyWindowStore> {
        &self.window_store
    }
}

impl fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<none>" };
        f.debug_struct("WhatsAppConfig")
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &set(&self.app_secret))
            .field("verify_token", &set(&self.verify_token))
            .field("api_version", &self.api_version)
            .field("base_url", &self.base_url)
            .field("preview_url", &self.preview_url)
            .field("max_download", &self.max_download)
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
                &self.display_phone_number.as_ref().map(|_| "<redacted>"),
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
    http: reqwest::Client,
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
    /// an API version not of the form `vNN.N`, or a base URL that is not http(s).
    ///
    /// ```
    /// use connector_whatsapp::{WhatsApp, WhatsAppConfig};
    /// assert!(WhatsApp::new(WhatsAppConfig::new("token", "106540352242922")).is_ok());
    /// assert!(WhatsApp::new(WhatsAppConfig::new("token", "../me")).is_err());
    /// assert!(WhatsApp::new(WhatsAppConfig::new("", "1")).is_err());
    /// ```
    pub fn new(config: WhatsAppConfig) -> Result<Self> {
        if config.access_token.trim().is_empty() {
            return Err(invalid("the WhatsApp access token is empty"));
        }
        if !is_graph_id(&config.phone_number_id) {
            return Err(invalid("the phone-number id must be numeric"));
        }
        let version_ok = config
            .api_version
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
        let http = match &config.http {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| {
                    Error::transport("could not build the HTTP client")
                        .with_platform(WA)
                        .with_source(e)
                })?,
        };
        Ok(Self { config, http, base })
    }

    /// The configuration.
    pub fn config(&self) -> &WhatsAppConfig {
        &self.config
    }

    /// `{base}/{version}/{segments...}`, each segment percent-encoded.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(&self.config.api_version);
            path.extend(segments);
        }
        url
    }

    /// A request with the bearer token and the user agent.
    pub(crate) fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(&self.config.access_token)
            .header(reqwest::header::USER_AGENT, &self.config.user_agent)
    }

    /// Sends a request; a non-success answer is mapped by [`error::from_response`].
    pub(crate) async fn execute(
        &self,
        request: reqwest::RequestBuilder,
        delivery: Delivery,
    ) -> Result<Bytes> {
        let response = request
            .send()
            .await
            .map_err(|e| error::from_reqwest(e, delivery))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| error::from_reqwest(e, delivery))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(error::from_response(status, &headers, &body, delivery))
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
        self.execute(
            self.request(reqwest::Method::POST, url).json(body),
            delivery,
        )
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
            .execute(self.request(reqwest::Method::GET, url), Delivery::NotSent)
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

    /// Sends an approved template message: the one kind WhatsApp allows outside the 24-hour
    /// window, so it is sent whatever [`Messenger::reply_window`] says.
    ///
    /// `components` is Meta's array of header / body / button components
    /// (`[{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]`), passed through;
    /// `Value::Null` for a template without parameters. See [`convert::template_body`] for the
    /// exact body. Like `send_part`, it is not gated: wrap checks (opt-outs) around it yourself.
    pub async fn send_template(
        &self,
        to: &ChatId,
        name: &str,
        language: &str,
        components: Value,
    ) -> Result<SentPart> {
        let request = convert::template_request(to, name, language, &components)?;
        self.send_request(&request).await
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

    /// Whether `chat` is a WhatsApp group id (see [`convert::is_group_id`]).
    /// WhatsApp reports senders without the `+` that `to` accepts: `+16505551234` and
    /// `16505551234` are one customer.
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        window_key(chat)
    }

    fn is_group_chat(&self, chat: &ChatId) -> bool {
        convert::is_group_id(chat)
    }

    /// `Open` if the customer wrote within the window (24 h, from the capabilities) according
    /// to the configured store, `Closed` otherwise (also when they never wrote). A phone
    /// number is the same customer with or without its leading `+`.
    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        let window = self
            .config
            .capabilities
            .reply_window
            .unwrap_or(DEFAULT_REPLY_WINDOW);
        let last = self
            .config
            .window_store
            .last_inbound(WA, &window_key(chat))
            .await?;
        Ok(window_state(last, Utc::now(), window))
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

    /// The GET handshake or a POST delivery (see [`webhook`]); only changes for this phone
    /// number (and account-wide ones) become events. Every inbound message (not an edit)
    /// records the customer's last inbound time in the window store, at the message's
    /// timestamp; [`parse`] records nothing. A store failure fails the delivery, so that
    /// WhatsApp sends it again.
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let outcome = webhook::handle(
            request,
            self.config.verify_token.as_deref(),
            self.config.app_secret.as_deref(),
            &self.config.phone_number_id,
        )?;
        self.record_inbound(&outcome.events).await?;
        Ok(outcome)
    }
}
