//! # connector-avito
//!
//! Avito Messenger behind the [`Messenger`] trait of [`messenger_core`]: one [`Avito`] value is
//! one Avito account (a business's profile), reached with an app's client id and secret.
//!
//! - **Connect** ([`auth`]): the business's own account uses the client-credentials grant, and
//!   [`Messenger::connect`] is all it takes; a third-party app walks the authorization-code flow
//!   ([`Avito::connection_flow`]: `OpenUrl` → `EnterCode` → `Done`, the `state` checked) and
//!   keeps the refresh token in a [`TokenStore`]. Tokens live in the core's
//!   [`TokenCache`]: refreshed before their 24 h expiry and once when
//!   Avito answers 401/403, one refresh for any number of concurrent callers, every rotation of
//!   the refresh token saved before the new access token is used. `connect` resolves the
//!   account's `user_id` (`GET /core/v1/accounts/self`), which every messenger path needs.
//! - **Send**: [`Messenger::send`] plans the message against Avito's capabilities (text up to
//!   1 000 characters, split above that; images; nothing else) and sends each part: text with
//!   `POST …/messages`, images with `uploadImages` (multipart `uploadfile[]`, the answer's key is
//!   the image id) then `POST …/messages/image`. Files, voice notes and videos cannot be sent:
//!   the planner refuses them with `Unsupported`, or sends a link where they were given by URL.
//!   A reply's quote is not sent (Avito cannot quote).
//! - **Delete, mark as read**: `deleteMessage` (within an hour of sending), `chatRead` (the
//!   whole chat).
//! - **Intake**: webhook v3 ([`Messenger::handle_webhook`], see [`webhook`]), authenticated by
//!   a token in the registered URL, or polling ([`Messenger::updates`], see [`poll`]); both
//!   through one conversion ([`convert`]). Subscriptions: [`Avito::subscribe_webhook`],
//!   [`Avito::unsubscribe_webhook`], [`Avito::webhook_subscriptions`].
//! - **Read status**: Avito pushes no read receipts; [`Avito::read_statuses`] polls the chats
//!   where the account's messages are unread and reports each `read` once ([`poll`]).
//! - **Media download**: images by URL, voice notes through getVoiceFiles at download time
//!   ([`media`]).
//! - **Errors**: mapped once, in [`error`].
//!
//! The access token goes only into the `Authorization` header of API calls; the client secret,
//! codes and refresh tokens only into the token endpoint's form. `Debug` of every value here
//! hides them, the webhook token and all message content.
//!
//! ```no_run
//! # async fn run() -> messenger_core::Result<()> {
//! use connector_avito::AvitoConfig;
//! use futures::StreamExt;
//! use messenger_core::{InboundEvent, Messenger, OutgoingMessage};
//!
//! // The business's own account: client credentials.
//! let avito = AvitoConfig::new("client-id", "client-secret").build()?;
//! let me = avito.connect().await?; // the account's user_id and name
//! tracing::info!(account = %me.id, "connected");
//!
//! let mut updates = avito.updates()?; // or webhooks: avito.handle_webhook(&request)
//! while let Some(event) = updates.next().await {
//!     if let InboundEvent::Message(m) = event? {
//!         avito.send(&OutgoingMessage::text(m.chat_id.clone(), "Да, в наличии")).await?;
//!         avito.mark_read(&m.chat_id, &m.message_id).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use messenger_core::connection::{AuthorizationCodeFlow, ConnectionFlow, DirectConnection};
use messenger_core::oauth::{MemoryTokenStore, OAuthTokens, TokenCache, TokenStore};
use messenger_core::plan::Part;
use messenger_core::redact::Secret;
use messenger_core::registry::{BASE_URL, ConnectorEntry, Credentials, EnvVar};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::{
    AccountId, AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, ErrorKind,
    EventStream, MediaRef, MediaSource, MessageId, Messenger, OutgoingContent, Platform, Result,
    SentPart, UserId,
};
use messenger_http::{HttpClient, HttpSettings, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

pub mod auth;
pub mod convert;
pub mod error;
pub mod media;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use webhook::parse;

const AVITO: Platform = Platform::Avito;

/// The API host (\[O\] servers).
pub const DEFAULT_BASE_URL: &str = "https://api.avito.ru";

/// The page where a user authorizes a third-party app ([O Авторизация] authorizationUrl).
pub const DEFAULT_OAUTH_URL: &str = "https://avito.ru/oauth";

/// The scopes asked for by the authorization-code flow unless configured: the messenger's
/// two, and `user:read`, which `GET /core/v1/accounts/self` requires of an authorization-code
/// token ([O Информация о пользователе] security).
pub const DEFAULT_SCOPE: &str = "messenger:read,messenger:write,user:read";

/// An access token's lifetime when the token endpoint does not say (`expires_in`): 24 h
/// ([A auth.md]).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The largest webhook body accepted unless configured: 256 KiB. A delivery is one message of
/// at most 1 000 characters and a few URLs; anything larger is answered 413 unread.
pub const DEFAULT_MAX_WEBHOOK_BODY: usize = 256 * 1024;

/// The largest inbound file [`Messenger::download`] fetches unless configured: 50 MB.
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = 50_000_000;

/// The time allowed for one upload or download unless configured (10 min).
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// How often [`Messenger::updates`] polls unless configured: every 10 s (Avito documents no
/// numeric limit; each poll costs one getChatsV2 call per 100 unread chats and one getMessagesV3
/// call per unread chat).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How often [`Avito::read_statuses`] polls unless configured: every 30 s (one getMessagesV3
/// call per chat with unread outgoing messages).
pub const DEFAULT_READ_INTERVAL: Duration = Duration::from_secs(30);

/// How the account's tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// `client_credentials`: the business's own account, with its own client id and secret.
    ClientCredentials,
    /// `authorization_code` then `refresh_token`: a third-party app acting for an account that
    /// authorized it ([`Avito::connection_flow`]).
    AuthorizationCode,
}

/// How one Avito account is reached; [`build`](AvitoConfig::build) it into an [`Avito`].
///
/// ```
/// use std::time::Duration;
/// use connector_avito::{AvitoConfig, Grant};
/// let config = AvitoConfig::new("app-id", "app-secret-value")
///     .base_url("http://127.0.0.1:8080/avito")
///     .webhook_token("unguessable-Zq3")
///     .poll_interval(Duration::from_secs(30));
/// assert_eq!(config.grant(), Grant::ClientCredentials);
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("app-secret-value") && !debug.contains("unguessable"));
/// // A refresh token kept from an earlier connection makes it a third-party app's account.
/// let app = AvitoConfig::new("app-id", "app-secret-value").refresh_token("r-1");
/// assert_eq!(app.grant(), Grant::AuthorizationCode);
/// ```
#[derive(Clone)]
pub struct AvitoConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret<String>,
    pub(crate) grant: Grant,
    pub(crate) refresh_token: Option<Secret<String>>,
    pub(crate) scope: String,
    pub(crate) base_url: String,
    pub(crate) token_url: Option<String>,
    pub(crate) oauth_url: Option<String>,
    pub(crate) http: HttpSettings,
    pub(crate) account_key: Option<AccountId>,
    pub(crate) token_store: Arc<dyn TokenStore>,
    pub(crate) refresh_margin: Duration,
    pub(crate) user_id: Option<i64>,
    pub(crate) webhook_token: Option<Secret<String>>,
    pub(crate) max_webhook_body: usize,
    pub(crate) download_limit: Option<u64>,
    pub(crate) download_hosts: Vec<String>,
    pub(crate) transfer_timeout: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) poll_chat_types: String,
    pub(crate) poll_messages: u32,
    pub(crate) read_interval: Duration,
    pub(crate) read_page: u32,
    pub(crate) read_tracking: usize,
    pub(crate) read_tracking_ttl: Duration,
    pub(crate) capabilities: Capabilities,
}

impl AvitoConfig {
    /// An app's client id and secret, for the business's own account (client credentials), with
    /// the defaults: [`DEFAULT_BASE_URL`], tokens in a [`MemoryTokenStore`] refreshed 5 minutes
    /// before expiry, no webhook token (every delivery refused until one is set), polling every
    /// 10 s, read statuses every 30 s.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret.into()),
            grant: Grant::ClientCredentials,
            refresh_token: None,
            scope: DEFAULT_SCOPE.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            token_url: None,
            oauth_url: None,
            http: HttpSettings::default(),
            account_key: None,
            token_store: Arc::new(MemoryTokenStore::new()),
            refresh_margin: messenger_core::oauth::DEFAULT_REFRESH_MARGIN,
            user_id: None,
            webhook_token: None,
            max_webhook_body: DEFAULT_MAX_WEBHOOK_BODY,
            download_limit: Some(DEFAULT_DOWNLOAD_LIMIT),
            download_hosts: Vec::new(),
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            poll_chat_types: "u2i,u2u".to_owned(),
            poll_messages: 50,
            read_interval: DEFAULT_READ_INTERVAL,
            read_page: 100,
            read_tracking: poll::DEFAULT_READ_TRACKING,
            read_tracking_ttl: poll::DEFAULT_READ_TRACKING_TTL,
            capabilities: Capabilities::of(AVITO),
        }
    }

    /// A third-party app's account: tokens come from the authorization-code flow
    /// ([`Avito::connection_flow`]) or the [token store](Self::token_store), and are refreshed
    /// with the refresh token.
    pub fn authorization_code(mut self) -> Self {
        self.grant = Grant::AuthorizationCode;
        self
    }

    /// A refresh token kept from an earlier connection (implies
    /// [`authorization_code`](Self::authorization_code)). Used only while the token store has
    /// nothing for the account: after a refresh the store holds the rotated one.
    pub fn refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.grant = Grant::AuthorizationCode;
        self.refresh_token = Some(Secret::new(refresh_token.into()));
        self
    }

    /// The scopes the authorization-code flow asks for ([`DEFAULT_SCOPE`] unless set).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The API base URL ([`DEFAULT_BASE_URL`] unless set; a sandbox's `{base}/avito`, a test
    /// server). The token endpoint is `{base_url}/token` unless [`token_url`](Self::token_url)
    /// is set, and the consent page `{base_url}/oauth` unless [`oauth_url`](Self::oauth_url)
    /// is set or the base URL is Avito's own.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The token endpoint (`{base_url}/token` unless set).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The consent page of the authorization-code flow ([`DEFAULT_OAUTH_URL`] with Avito's
    /// base URL, `{base_url}/oauth` with another, unless set).
    pub fn oauth_url(mut self, url: impl Into<String>) -> Self {
        self.oauth_url = Some(url.into());
        self
    }

    /// The HTTP client settings (timeouts, body cap, proxy client).
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// The key of the account's tokens in the [token store](Self::token_store) (`avito:` and
    /// the client id unless set). A third-party app that connects several accounts with one
    /// client id **must** give each its own key.
    pub fn account_key(mut self, key: impl Into<AccountId>) -> Self {
        self.account_key = Some(key.into());
        self
    }

    /// Where the tokens outlive the process (a [`MemoryTokenStore`] unless set: a restart then
    /// loses a third-party app's connection).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = store;
        self
    }

    /// How long before expiry the access token is refreshed (5 min unless set).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The account's Avito user id, when known (a CRM that stored it): saves the
    /// `accounts/self` call before the first request. [`Messenger::connect`] still checks it.
    pub fn user_id(mut self, user_id: i64) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// The unguessable token the registered webhook URL carries ([`Avito::webhook_url`]);
    /// without it every delivery is refused.
    pub fn webhook_token(mut self, token: impl Into<String>) -> Self {
        self.webhook_token = Some(Secret::new(token.into()));
        self
    }

    /// The largest webhook body accepted ([`DEFAULT_MAX_WEBHOOK_BODY`] unless set).
    pub fn max_webhook_body(mut self, bytes: usize) -> Self {
        self.max_webhook_body = bytes;
        self
    }

    /// The largest inbound file [`Messenger::download`] fetches ([`DEFAULT_DOWNLOAD_LIMIT`]
    /// unless set; `None` for no limit). Enforced as the bytes arrive.
    pub fn download_limit(mut self, limit: impl Into<Option<u64>>) -> Self {
        self.download_limit = limit.into();
        self
    }

    /// Allows image downloads from this host and its subdomains besides Avito's
    /// ([`media::AVITO_MEDIA_HOSTS`]) and the API host.
    pub fn download_host(mut self, host: impl Into<String>) -> Self {
        self.download_hosts.push(host.into());
        self
    }

    /// The time allowed for one upload or download ([`DEFAULT_TRANSFER_TIMEOUT`] unless set).
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// The shortest time between two polls of [`Messenger::updates`]
    /// ([`DEFAULT_POLL_INTERVAL`] unless set).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The `chat_types` polled (`u2i,u2u` unless set: listing chats and profile chats).
    pub fn poll_chat_types(mut self, types: impl Into<String>) -> Self {
        self.poll_chat_types = types.into();
        self
    }

    /// How many of an unread chat's latest messages a poll reads (50 unless set; 1..=100).
    pub fn poll_messages(mut self, count: u32) -> Self {
        self.poll_messages = count;
        self
    }

    /// The shortest time between two polls of [`Avito::read_statuses`]
    /// ([`DEFAULT_READ_INTERVAL`] unless set).
    pub fn read_interval(mut self, interval: Duration) -> Self {
        self.read_interval = interval;
        self
    }

    /// How many of a chat's latest messages a read-status poll reads (100 unless set; 1..=100).
    pub fn read_page(mut self, count: u32) -> Self {
        self.read_page = count;
        self
    }

    /// How many sent messages awaiting their `read` are tracked at most, and for how long
    /// ([`poll::DEFAULT_READ_TRACKING`], [`poll::DEFAULT_READ_TRACKING_TTL`] unless set).
    pub fn read_tracking(mut self, messages: usize, ttl: Duration) -> Self {
        self.read_tracking = messages;
        self.read_tracking_ttl = ttl;
        self
    }

    /// Replaces the capabilities the planner works from (Avito's unless set).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// How tokens are obtained.
    pub fn grant(&self) -> Grant {
        self.grant
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Builds the connector; see [`Avito::new`].
    pub fn build(self) -> Result<Avito> {
        Avito::new(self)
    }
}

impl fmt::Debug for AvitoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvitoConfig")
            .field(
                "client_id",
                &messenger_core::model::fingerprint(&self.client_id),
            )
            .field("client_secret", &self.client_secret)
            .field("grant", &self.grant)
            .field(
                "refresh_token",
                &messenger_core::redact::redacted(&self.refresh_token),
            )
            .field("scope", &self.scope)
            .field("base_url", &self.base_url)
            .field("account_key", &self.account_key)
            .field("user_id", &self.user_id)
            .field(
                "webhook_token",
                &messenger_core::redact::redacted(&self.webhook_token),
            )
            .field("max_webhook_body", &self.max_webhook_body)
            .field("download_limit", &self.download_limit)
            .field("poll_interval", &self.poll_interval)
            .field("read_interval", &self.read_interval)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: AvitoConfig,
    pub(crate) http: HttpClient,
    pub(crate) base: Url,
    pub(crate) token_url: Url,
    pub(crate) oauth_url: Url,
    pub(crate) tokens: TokenCache,
    pub(crate) user_id: tokio::sync::OnceCell<i64>,
    pub(crate) reads: poll::ReadTracker,
}

/// One Avito account: a [`Messenger`]. Cheap to clone (the clones share one HTTP client, one
/// token cache and one read tracker).
///
/// `Debug` shows no token, secret or content.
#[derive(Clone)]
pub struct Avito {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Avito {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Avito")
            .field("config", &self.inner.config)
            .field("user_id", &self.inner.user_id.get())
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(AVITO)
}

fn http_url(raw: &str, what: &str) -> Result<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
        .ok_or_else(|| invalid(format!("the Avito {what} must be an http(s) URL")))
}

/// `base` with `segments` appended as path segments (each escaped).
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for segment in segments {
            path.push(segment);
        }
    }
    url
}

/// A chat id as a path segment: not empty, no control characters.
pub(crate) fn chat_segment(chat: &ChatId) -> Result<&str> {
    let id = chat.as_str().trim();
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(invalid("the Avito chat id is empty or malformed"));
    }
    Ok(id)
}

impl Avito {
    /// A connector for `config`; checks the configuration (no request is made).
    ///
    /// Fails with `InvalidInput` for an empty client id or secret, a base, token or consent URL
    /// that is not http(s), or polling limits outside 1..=100.
    ///
    /// ```
    /// use connector_avito::{Avito, AvitoConfig};
    /// assert!(Avito::new(AvitoConfig::new("id", "secret")).is_ok());
    /// assert!(Avito::new(AvitoConfig::new("", "secret")).is_err());
    /// assert!(Avito::new(AvitoConfig::new("id", " ")).is_err());
    /// assert!(Avito::new(AvitoConfig::new("id", "secret").base_url("ftp://x")).is_err());
    /// assert!(Avito::new(AvitoConfig::new("id", "secret").poll_messages(0)).is_err());
    /// ```
    pub fn new(config: AvitoConfig) -> Result<Self> {
        let printable = |s: &str| !s.trim().is_empty() && !s.chars().any(char::is_control);
        if !printable(&config.client_id) {
            return Err(invalid("the Avito client id is empty or malformed"));
        }
        if !printable(config.client_secret.expose_str()) {
            return Err(invalid("the Avito client secret is empty or malformed"));
        }
        for (count, what) in [
            (config.poll_messages, "poll message count"),
            (config.read_page, "read-status page"),
        ] {
            if !(1..=100).contains(&count) {
                return Err(invalid(format!("the Avito {what} must be within 1..=100")));
            }
        }
        let base = http_url(&config.base_url, "base URL")?;
        let token_url = match &config.token_url {
            Some(raw) => http_url(raw, "token URL")?,
            None => join(&base, &["token"]),
        };
        let oauth_url = match &config.oauth_url {
            Some(raw) => http_url(raw, "consent page URL")?,
            None if base.host_str() == Some("api.avito.ru") => http_url(DEFAULT_OAUTH_URL, "")?,
            None => join(&base, &["oauth"]),
        };
        let http = HttpClient::new(AVITO, &config.http)?;
        let account = config
            .account_key
            .clone()
            .unwrap_or_else(|| AccountId::from(format!("avito:{}", config.client_id)));
        let refresher = auth::AvitoTokens::new(&config, http.clone(), token_url.clone());
        let mut tokens = TokenCache::new(
            AVITO,
            account,
            Arc::new(refresher),
            config.token_store.clone(),
        )
        .refresh_margin(config.refresh_margin)
        .refusal_check(error::is_token_refusal);
        if let Some(refresh) = &config.refresh_token {
            tokens = tokens.seed(OAuthTokens::refresh_only(refresh.expose_str()));
        }
        let user_id = tokio::sync::OnceCell::new();
        if let Some(id) = config.user_id {
            let _ = user_id.set(id);
        }
        let reads = poll::ReadTracker::new(config.read_tracking, config.read_tracking_ttl);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                base,
                token_url,
                oauth_url,
                tokens,
                user_id,
                reads,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AvitoConfig {
        &self.inner.config
    }

    /// The account's token cache (for a CRM that installs tokens it obtained itself, or
    /// forgets them on disconnect).
    pub fn tokens(&self) -> &TokenCache {
        &self.inner.tokens
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub(crate) fn base(&self) -> &Url {
        &self.inner.base
    }

    /// `{base}/{segments...}`.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        join(&self.inner.base, segments)
    }

    /// `{base}/messenger/{version}/accounts/{user_id}/{segments...}`.
    pub(crate) fn account_url(&self, version: &str, user_id: i64, segments: &[&str]) -> Url {
        let user = user_id.to_string();
        let mut all = vec!["messenger", version, "accounts", user.as_str()];
        all.extend_from_slice(segments);
        self.api_url(&all)
    }

    /// Calls the API with a valid access token (refreshed once on a 401/403 by the token
    /// cache): `build` makes the request anew for each attempt; the answer is decoded as `T` or
    /// mapped by [`error`]. `is_send` marks a call that may deliver a message.
    pub(crate) async fn call<T, B>(&self, op: &'static str, is_send: bool, build: B) -> Result<T>
    where
        T: DeserializeOwned + Send,
        B: Fn() -> Result<RequestBuilder> + Send + Sync,
    {
        let http = &self.inner.http;
        let build = &build;
        let result = self
            .inner
            .tokens
            .call(move |token| async move {
                let request = build()?
                    .bearer_auth(token.expose_str())
                    .header(reqwest::header::ACCEPT, "application/json");
                let answer = http.execute(request).await?;
                error::decode_answer::<T>(&answer, is_send)
            })
            .await;
        match &result {
            Ok(_) => tracing::debug!(op, "avito call ok"),
            Err(err) => tracing::warn!(
                op,
                kind = %err.kind(),
                code = err.platform_code().unwrap_or(""),
                "avito call failed"
            ),
        }
        result
    }

    /// `GET /core/v1/accounts/self`: the identity of the token's account.
    async fn account_self(&self) -> Result<wire::AccountSelf> {
        let url = self.api_url(&["core", "v1", "accounts", "self"]);
        self.call("accounts.self", false, || Ok(self.http().get(url.clone())))
            .await
    }

    /// The account's Avito user id: configured, or resolved once through
    /// `GET /core/v1/accounts/self`.
    pub async fn user_id(&self) -> Result<i64> {
        self.inner
            .user_id
            .get_or_try_init(|| async {
                self.account_self().await?.id.ok_or_else(|| {
                    Error::decode("accounts/self answered without an id").with_platform(AVITO)
                })
            })
            .await
            .copied()
    }

    /// The flow that connects the account: for client credentials, [`Messenger::connect`]
    /// ([`ConnectionStep::Done`](messenger_core::ConnectionStep::Done) at once); for a
    /// third-party app, the authorization-code flow: `OpenUrl` (Avito's consent page with a
    /// fresh `state`) → `EnterCode` (the redirect URL the browser reached, or the bare code) →
    /// `Done`, the `state` checked in constant time. The exchanged tokens go to the token store
    /// before anything uses them.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use connector_avito::AvitoConfig;
    /// use messenger_core::ConnectionStep;
    /// let app = AvitoConfig::new("app-id", "app-secret").authorization_code().build().unwrap();
    /// let flow = app.connection_flow();
    /// let ConnectionStep::OpenUrl { url, state } = flow.start().await.unwrap() else { unreachable!() };
    /// assert!(url.as_str().starts_with("https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=app-id"));
    /// assert!(url.query_pairs().any(|(k, v)| k == "state" && v == state));
    /// # });
    /// ```
    pub fn connection_flow(&self) -> Arc<dyn ConnectionFlow> {
        match self.inner.config.grant {
            Grant::ClientCredentials => Arc::new(DirectConnection::new(Arc::new(self.clone()))),
            Grant::AuthorizationCode => Arc::new(AuthorizationCodeFlow::new(Arc::new(
                auth::Authorization::new(self.clone()),
            ))),
        }
    }

    /// `endpoint` with the webhook token added as the query parameter
    /// [`webhook::TOKEN_PARAM`]: the URL to register with [`subscribe_webhook`](Self::subscribe_webhook).
    /// The result carries a secret: do not log it.
    ///
    /// ```
    /// use connector_avito::AvitoConfig;
    /// let avito = AvitoConfig::new("id", "secret").webhook_token("Zq3").build().unwrap();
    /// let url = avito.webhook_url(&"https://crm.example/webhooks/avito/shop-1".parse().unwrap()).unwrap();
    /// assert_eq!(url.as_str(), "https://crm.example/webhooks/avito/shop-1?token=Zq3");
    /// ```
    pub fn webhook_url(&self, endpoint: &Url) -> Result<Url> {
        let token = self.webhook_token()?;
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .append_pair(webhook::TOKEN_PARAM, token);
        Ok(url)
    }

    fn webhook_token(&self) -> Result<&str> {
        self.inner
            .config
            .webhook_token
            .as_ref()
            .map(|t| t.expose_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                invalid("configure a webhook token first: Avito signs nothing, so the registered URL must carry an unguessable token")
            })
    }

    /// Registers `url` for webhook v3 deliveries (`POST /messenger/v3/webhook {"url"}`).
    ///
    /// The URL must carry the configured webhook token (as the query parameter
    /// [`webhook::TOKEN_PARAM`], as [`webhook_url`](Self::webhook_url) makes it, or as a path
    /// segment that the CRM's server passes on in [`webhook::TOKEN_HEADER`]); otherwise it is
    /// refused before any request, since every delivery to it would be refused. The endpoint
    /// must answer 200 within 2 s when Avito tries it.
    pub async fn subscribe_webhook(&self, url: &Url) -> Result<()> {
        let token = self.webhook_token()?;
        let carries = url
            .query_pairs()
            .any(|(k, v)| k == webhook::TOKEN_PARAM && v == token)
            || url
                .path_segments()
                .is_some_and(|mut segments| segments.any(|s| s == token));
        if !carries {
            return Err(invalid(
                "the webhook URL does not carry the webhook token; build it with Avito::webhook_url",
            ));
        }
        self.post_webhook("webhook.subscribe", &["messenger", "v3", "webhook"], url)
            .await
    }

    /// Removes a registration (`POST /messenger/v1/webhook/unsubscribe {"url"}`).
    pub async fn unsubscribe_webhook(&self, url: &Url) -> Result<()> {
        self.post_webhook(
            "webhook.unsubscribe",
            &["messenger", "v1", "webhook", "unsubscribe"],
            url,
        )
        .await
    }

    async fn post_webhook(&self, op: &'static str, path: &[&str], url: &Url) -> Result<()> {
        let endpoint = self.api_url(path);
        let body = serde_json::to_vec(&wire::WebhookUrl { url: url.as_str() })?;
        let answer: wire::OkAnswer = self
            .call(op, false, || {
                Ok(self
                    .http()
                    .post(endpoint.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await?;
        if answer.ok == Some(false) {
            return Err(
                Error::platform_error("ok=false", "Avito did not change the subscription")
                    .with_platform(AVITO),
            );
        }
        Ok(())
    }

    /// The registered webhooks (`POST /messenger/v1/subscriptions`).
    pub async fn webhook_subscriptions(&self) -> Result<Vec<WebhookSubscription>> {
        let endpoint = self.api_url(&["messenger", "v1", "subscriptions"]);
        let answer: wire::Subscriptions = self
            .call("webhook.subscriptions", false, || {
                Ok(self.http().post(endpoint.clone()))
            })
            .await?;
        Ok(answer
            .subscriptions
            .into_iter()
            .filter_map(|s| {
                Some(WebhookSubscription {
                    url: Secret::new(Url::parse(s.url.as_deref()?).ok()?),
                    version: s.version,
                })
            })
            .collect())
    }

    /// The read-status stream: `status: read` events of the account's messages, by polling
    /// getMessagesV3 of the chats where messages it sent are unread; see [`poll`].
    pub fn read_statuses(&self) -> EventStream {
        poll::read_statuses(self.clone())
    }

    /// [`Messenger::updates`] and [`read_statuses`](Self::read_statuses) as one stream.
    pub fn updates_and_read_statuses(&self) -> EventStream {
        Box::pin(futures::stream::select(
            poll::messages(self.clone()),
            poll::read_statuses(self.clone()),
        ))
    }

    /// Tracks the account's message `message` in `chat` for [`read_statuses`](Self::read_statuses)
    /// (sends through this connector are tracked by themselves; a CRM re-tracks its unread
    /// messages after a restart).
    pub fn track_read(&self, chat: &ChatId, message: &MessageId) {
        self.inner.reads.track(chat.as_str(), message.as_str());
    }

    async fn send_text(&self, user_id: i64, chat: &str, text: &str) -> Result<wire::Sent> {
        let url = self.account_url("v1", user_id, &["chats", chat, "messages"]);
        let body = serde_json::to_vec(&wire::SendText {
            message: wire::TextBody { text },
            kind: "text",
        })?;
        self.call("messages.send", true, || {
            Ok(self
                .http()
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()))
        })
        .await
    }

    async fn send_image(&self, user_id: i64, chat: &str, image_id: &str) -> Result<wire::Sent> {
        let url = self.account_url("v1", user_id, &["chats", chat, "messages", "image"]);
        let body = serde_json::to_vec(&wire::SendImage { image_id })?;
        self.call("messages.image", true, || {
            Ok(self
                .http()
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()))
        })
        .await
    }
}

/// A registered webhook. `Debug` hides its URL (it carries the webhook token).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// The endpoint Avito posts to.
    pub url: Secret<Url>,
    /// The webhook version (`3`).
    pub version: Option<String>,
}

impl fmt::Debug for WebhookSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSubscription")
            .field("host", &self.url.expose().host_str())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Messenger for Avito {
    fn platform(&self) -> Platform {
        AVITO
    }

    /// Avito pushes no read receipts: [`read_statuses`](Avito::read_statuses) polls them.
    fn status_updates(&self) -> Result<EventStream> {
        Ok(self.read_statuses())
    }

    /// [`track_read`](Avito::track_read).
    fn track_status(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.track_read(chat, message);
        Ok(())
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.config.capabilities
    }

    /// Obtains a token (client credentials, or the stored or seeded refresh token) and reads
    /// the account's identity with `GET /core/v1/accounts/self`; a configured user id that is
    /// not the token's account is `Unauthorized`.
    async fn connect(&self) -> Result<AccountInfo> {
        let me = self.account_self().await?;
        let id = me.id.ok_or_else(|| {
            Error::decode("accounts/self answered without an id").with_platform(AVITO)
        })?;
        if let Some(known) = self.inner.user_id.get()
            && *known != id
        {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                "the token belongs to another Avito account than the configured user id",
            )
            .with_platform(AVITO));
        }
        let _ = self.inner.user_id.set(id);
        tracing::info!(user_id = id, "avito account connected");
        Ok(AccountInfo {
            platform: AVITO,
            id: UserId::from(id),
            name: me.name,
            username: None,
        })
    }

    /// Text with `POST …/chats/{chat}/messages`; an image uploaded with `uploadImages` (bytes
    /// or a stream) or given by an earlier upload's id, then `POST …/messages/image`.
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let chat_id = chat_segment(chat)?;
        if part.reply_to.is_some() {
            tracing::debug!("avito cannot quote a message; sent without the quote");
        }
        let user_id = self.user_id().await?;
        let sent = match &part.content {
            OutgoingContent::Text { text } => {
                if text.trim().is_empty() {
                    return Err(invalid("the text is empty"));
                }
                self.send_text(user_id, chat_id, text).await?
            }
            OutgoingContent::Image { media, .. } => {
                let image_id = match media {
                    MediaSource::Id(id) => id.as_str().to_owned(),
                    MediaSource::Url(_) => {
                        return Err(Error::unsupported(
                            "Avito cannot send an image by URL (the planner sends it as a link)",
                        )
                        .with_platform(AVITO));
                    }
                    upload => self
                        .upload_image(user_id, upload)
                        .await
                        .map_err(|e| e.with_delivery(Delivery::NotSent))?,
                };
                self.send_image(user_id, chat_id, &image_id).await?
            }
            other => {
                return Err(Error::unsupported(format!(
                    "Avito cannot send a {}: only text and images",
                    other.kind()
                ))
                .with_platform(AVITO));
            }
        };
        let id = sent.id.filter(|id| !id.is_empty()).ok_or_else(|| {
            Error::decode("Avito accepted the message but answered no id")
                .with_platform(AVITO)
                .with_delivery(Delivery::MaybeSent)
        })?;
        self.inner.reads.track(chat_id, &id);
        let message_id = MessageId::from(id);
        tracing::debug!(
            chat = %chat.fingerprint(),
            kind = %part.content.kind(),
            message_id = %message_id.fingerprint(),
            "avito message sent"
        );
        Ok(SentPart {
            message_id,
            timestamp: sent
                .created
                .and_then(convert::unix)
                .unwrap_or_else(Utc::now),
        })
    }

    /// `POST …/chats/{chat}/messages/{message}`: only within an hour of sending; the message
    /// stays in the history with type `deleted`.
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let chat_id = chat_segment(chat)?;
        let message_id = message.as_str().trim();
        if message_id.is_empty() || message_id.chars().any(char::is_control) {
            return Err(invalid("the Avito message id is empty or malformed"));
        }
        let user_id = self.user_id().await?;
        let url = self.account_url("v1", user_id, &["chats", chat_id, "messages", message_id]);
        let _: serde_json::Value = self
            .call("messages.delete", false, || {
                Ok(self.http().post(url.clone()))
            })
            .await?;
        self.inner.reads.forget(chat_id, message_id);
        Ok(())
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.download_media(media).await
    }

    /// `POST …/chats/{chat}/read`: marks the whole chat read (Avito has no per-message mark).
    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let _ = message;
        let chat_id = chat_segment(chat)?;
        let user_id = self.user_id().await?;
        let url = self.account_url("v1", user_id, &["chats", chat_id, "read"]);
        let _: wire::OkAnswer = self
            .call("chats.read", false, || Ok(self.http().post(url.clone())))
            .await?;
        Ok(())
    }

    /// Webhook v3: the size cap, the URL token (constant time) before the body is read, then
    /// [`parse`]; see [`webhook`].
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        webhook::handle(request, &self.inner.config)
    }

    /// Polling (Avito has no long poll): unread chats, then their messages, each yielded once;
    /// see [`poll`]. Read statuses are a separate stream ([`Avito::read_statuses`]).
    fn updates(&self) -> Result<EventStream> {
        Ok(poll::messages(self.clone()))
    }
}

/// Builds an [`Avito`] from registry credentials: `client_id`, `client_secret`, and optionally
/// [`BASE_URL`], `oauth_url`, `webhook_token`, `refresh_token` (a third-party app's account).
///
/// ```
/// use connector_avito::Grant;
/// use messenger_core::registry::Credentials;
/// let c = Credentials::new().with("client_id", "id").with("client_secret", "s");
/// assert_eq!(connector_avito::from_credentials(&c).unwrap().config().grant(), Grant::ClientCredentials);
/// let app = c.clone().with("refresh_token", "r");
/// assert_eq!(connector_avito::from_credentials(&app).unwrap().config().grant(), Grant::AuthorizationCode);
/// assert!(connector_avito::from_credentials(&Credentials::new().with("client_id", "id")).is_err());
/// ```
pub fn from_credentials(credentials: &Credentials) -> Result<Avito> {
    let require = |key: &str| credentials.require(key).map_err(|e| e.with_platform(AVITO));
    let mut config = AvitoConfig::new(require("client_id")?, require("client_secret")?);
    if let Some(url) = credentials.get(BASE_URL) {
        config = config.base_url(url);
    }
    if let Some(url) = credentials.get("oauth_url") {
        config = config.oauth_url(url);
    }
    if let Some(token) = credentials.get("webhook_token") {
        config = config.webhook_token(token);
    }
    if let Some(refresh) = credentials.get("refresh_token") {
        config = config.refresh_token(refresh);
    }
    config.build()
}

fn build_entry(
    credentials: &Credentials,
    stores: &messenger_core::registry::AccountStores,
) -> Result<Arc<dyn Messenger>> {
    Ok(Arc::new(with_stores(
        from_credentials(credentials)?,
        stores,
    )?))
}

/// The connector with the shared token store of `stores` (a rotated refresh token is saved
/// there before it is used, so a restart keeps the connection).
fn with_stores(avito: Avito, stores: &messenger_core::registry::AccountStores) -> Result<Avito> {
    let mut config = avito.config().clone();
    if let Some(tokens) = &stores.tokens {
        config = config.token_store(tokens.clone());
    }
    if let Some(account) = &stores.account {
        config = config.account_key(account.clone());
    }
    config.build()
}

/// The Avito connector's registry entry: environment `AVITO_CLIENT_ID`, `AVITO_CLIENT_SECRET`
/// (required), `AVITO_API_URL`, `AVITO_OAUTH_URL`, `AVITO_WEBHOOK_TOKEN`,
/// `AVITO_REFRESH_TOKEN` (optional); parser [`parse`].
///
/// ```
/// use messenger_core::Platform;
/// let env = |name: &str| match name {
///     "AVITO_CLIENT_ID" => Some("id".to_owned()),
///     "AVITO_CLIENT_SECRET" => Some("secret".to_owned()),
///     _ => None,
/// };
/// let credentials = connector_avito::ENTRY.credentials_from_env(env).unwrap();
/// let account = (connector_avito::ENTRY.build)(&credentials, &messenger_core::registry::AccountStores::new()).unwrap();
/// assert_eq!(account.platform(), Platform::Avito);
/// ```
pub const ENTRY: ConnectorEntry = ConnectorEntry {
    platform: Platform::Avito,
    env: &[
        EnvVar::required(
            "AVITO_CLIENT_ID",
            "client_id",
            "the app's client id («Для разработчиков» in the Avito account, or the registered app)",
        ),
        EnvVar::required(
            "AVITO_CLIENT_SECRET",
            "client_secret",
            "the app's client secret",
        ),
        EnvVar::optional(
            "AVITO_API_URL",
            BASE_URL,
            "the API base URL (default https://api.avito.ru; a sandbox's {base}/avito); the token endpoint is {base}/token",
        ),
        EnvVar::optional(
            "AVITO_OAUTH_URL",
            "oauth_url",
            "the consent page of the authorization-code flow (default https://avito.ru/oauth, or {AVITO_API_URL}/oauth)",
        ),
        EnvVar::optional(
            "AVITO_WEBHOOK_TOKEN",
            "webhook_token",
            "the unguessable token the registered webhook URL carries; without it webhook deliveries are refused",
        ),
        EnvVar::optional(
            "AVITO_REFRESH_TOKEN",
            "refresh_token",
            "a third-party app's refresh token (authorization-code grant); without it the client-credentials grant is used",
        ),
    ],
    build: build_entry,
    parse,
    flow: Some(flow_entry),
};

/// The authorization-code flow of a third-party app, for `messenger connect` and the server:
/// the consent page, then the code (or the pasted redirect URL).
fn flow_entry(
    credentials: &Credentials,
    stores: &messenger_core::registry::AccountStores,
) -> Result<Arc<dyn ConnectionFlow>> {
    let avito = with_stores(from_credentials(credentials)?, stores)?;
    Ok(avito
        .config()
        .clone()
        .authorization_code()
        .build()?
        .connection_flow())
}
