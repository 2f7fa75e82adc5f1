//! # connector-vk
//!
//! VK community messages behind the [`Messenger`] trait of [`messenger_core`]: one [`Vk`]
//! value is one community (a group access token and the group id).
//!
//! - **Connect**: [`Messenger::connect`] calls `groups.getById` with the token alone, so VK
//!   answers with the token's own community, and checks that it is the configured one.
//! - **Send**: [`Messenger::send`] plans the message against VK's capabilities (text up to
//!   9 000 characters, split above that) and sends each part with `messages.send`
//!   (form-encoded, `Authorization: Bearer`, API version `v`): text, photos
//!   (`photos.getMessagesUploadServer` → multipart `photo` → `photos.saveMessagesPhoto`),
//!   documents and voice notes (`docs.getMessagesUploadServer` `type=doc|audio_message` →
//!   multipart `file` → `docs.save`), media VK already holds (attachment strings), replies.
//!   Media by URL is sent as a link by the planner: VK cannot fetch URLs.
//! - **Idempotent sends**: every `messages.send` carries a `random_id`; VK drops a second
//!   message with the same `random_id` to the same recipient. It is derived from the part's
//!   idempotency key ([`convert::random_id_for_key`]), so a keyed send that may have gone out
//!   is safe to resend: wrap the connector in
//!   [`Retrying`](messenger_core::layers::Retrying) with [`retry_policy`].
//! - **Edit, delete, mark as read**: `messages.edit`, `messages.delete` (`delete_for_all=1`),
//!   `messages.markAsRead`.
//! - **Intake**: the Callback API ([`Messenger::handle_webhook`], see [`webhook`]) and the
//!   Bots Long Poll ([`Messenger::updates`], see [`poll`]), through one parser, [`parse`]. See
//!   [`convert`] for what each VK event becomes.
//! - **Media download**: [`Messenger::download`] streams a photo (its largest size), a
//!   document or a voice note (OGG) within the download limit.
//! - **Errors**: VK's codes are mapped once, in [`error`].
//!
//! The token is sent only in the `Authorization` header of API calls (never in a URL, a form,
//! an upload or a download, and never logged); `Debug` of every value here hides it, the
//! callback secret, the confirmation string and all message content.
//!
//! ```no_run
//! # async fn run() -> messenger_core::Result<()> {
//! use connector_vk::{retry_policy, VkConfig};
//! use futures::StreamExt;
//! use messenger_core::layers::{RateLimited, Retrying};
//! use messenger_core::{InboundEvent, Messenger, OutgoingMessage};
//!
//! let vk = VkConfig::new("vk1.a.community-token", 229_000_000).build()?;
//! let me = vk.connect().await?; // groups.getById: the community's id, name, screen name
//! tracing::info!(community = ?me.name, "connected");
//!
//! // In a CRM: `messenger_core::layers::Stack::new(vk, ..).retry_policy(retry_policy())`.
//! let account = Retrying::new(RateLimited::new(vk.clone()), retry_policy());
//! let mut updates = vk.updates()?;
//! while let Some(event) = updates.next().await {
//!     if let InboundEvent::Message(m) = event? {
//!         let reply = OutgoingMessage::text(m.chat_id.clone(), "Спасибо, мы уже отвечаем")
//!             .reply_to(m.message_id.clone())
//!             // The same key on every attempt: VK keeps one message.
//!             .idempotency_key(format!("reply-{}", m.message_id));
//!         account.send(&reply).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use messenger_core::capabilities::vk::DOC_MAX;
use messenger_core::layers::RetryPolicy;
use messenger_core::plan::{Part, ReplyWindow};
use messenger_core::redact::Secret;
use messenger_core::registry::{BASE_URL, ConnectorEntry, Credentials, EnvVar};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, ChatId, Delivery, Error, ErrorKind, EventStream,
    MediaRef, MessageId, Messenger, Platform, Result, SentPart, UserId,
};
use messenger_http::{HttpClient, HttpSettings};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub mod convert;
pub mod error;
pub mod media;
pub mod poll;
pub mod webhook;
pub mod wire;

pub use webhook::parse;

use convert::{MessageRef, message_ref, peer_id};

const VK: Platform = Platform::Vk;

/// The API version used unless configured ([S schema.json] `"version": "5.199"`).
pub const DEFAULT_API_VERSION: &str = "5.199";

/// The API host. `https://api.vk.ru`, vksdk's default since September 2025, works too.
pub const DEFAULT_BASE_URL: &str = "https://api.vk.com";

/// How long one Bots Long Poll call waits for events unless configured: 25 s, VK's
/// recommendation (proxies cut connections at 30 s).
pub const DEFAULT_POLL_WAIT: Duration = Duration::from_secs(25);

/// The longest Bots Long Poll wait VK accepts (90 s).
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(90);

/// The largest inbound file [`Messenger::download`] fetches unless configured: 200 MB, VK's
/// document limit.
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = DOC_MAX;

/// The time allowed for one upload or download unless configured (10 min).
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest Callback body accepted unless configured: 1 MiB. A VK event is a few KB (a
/// message holds at most 9 000 characters and references its attachments); anything larger
/// is answered 413 before it is read.
pub const DEFAULT_MAX_WEBHOOK_BODY: usize = 1 << 20;

/// The retry policy for a VK connector: [`RetryPolicy::default`] with
/// [`platform_deduplicates`](RetryPolicy::platform_deduplicates), because VK drops a repeated
/// `messages.send` with the same `random_id`, which this connector derives from the part's
/// idempotency key. A send without a key gets a fresh `random_id` per attempt and is still
/// not resent when it may have gone out.
///
/// ```
/// let policy = connector_vk::retry_policy();
/// assert!(policy.platform_deduplicates);
/// ```
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy::default().platform_deduplicates(true)
}

/// How one VK community is reached; [`build`](VkConfig::build) it into a [`Vk`].
///
/// ```
/// use std::time::Duration;
/// use connector_vk::VkConfig;
/// let config = VkConfig::new("vk1.a.secret-token", 229_000_000)
///     .base_url("https://api.vk.ru")
///     .secret("callback-secret")
///     .confirmation("693d0ba9")
///     .poll_wait(Duration::from_secs(25))
///     .download_limit(50_000_000);
/// assert_eq!(config.group_id(), 229_000_000);
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("secret-token") && !debug.contains("callback-secret") && !debug.contains("693d0ba9"));
/// let vk = config.build().unwrap();
/// assert!(!format!("{vk:?}").contains("secret-token"));
/// ```
#[derive(Clone)]
pub struct VkConfig {
    token: Secret<String>,
    group_id: u64,
    api_version: String,
    base_url: String,
    http: HttpSettings,
    download_limit: Option<u64>,
    download_hosts: Vec<String>,
    transfer_timeout: Duration,
    max_webhook_body: usize,
    secret: Option<Secret<String>>,
    confirmation: Option<Secret<String>>,
    poll_wait: Duration,
    capabilities: Capabilities,
}

impl VkConfig {
    /// A community access token (with the `messages` right, and `photos` and `docs` for
    /// uploads) and the community's id, with the defaults: API 5.199 on
    /// [`DEFAULT_BASE_URL`], 25 s long polls, a 200 MB download limit, a 1 MiB Callback body.
    pub fn new(token: impl Into<String>, group_id: u64) -> Self {
        Self {
            token: Secret::new(token.into()),
            group_id,
            api_version: DEFAULT_API_VERSION.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: HttpSettings::default(),
            download_limit: Some(DEFAULT_DOWNLOAD_LIMIT),
            download_hosts: Vec::new(),
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
            max_webhook_body: DEFAULT_MAX_WEBHOOK_BODY,
            secret: None,
            confirmation: None,
            poll_wait: DEFAULT_POLL_WAIT,
            capabilities: Capabilities::of(VK),
        }
    }

    /// The API version (`5.199` unless set).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The API base URL, without `/method` ([`DEFAULT_BASE_URL`] unless set; a sandbox or a
    /// test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The HTTP client settings (timeouts, body cap, proxy client).
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// The largest inbound file [`Messenger::download`] fetches ([`DEFAULT_DOWNLOAD_LIMIT`]
    /// unless set; `None` for no limit). Enforced as the bytes arrive.
    pub fn download_limit(mut self, limit: impl Into<Option<u64>>) -> Self {
        self.download_limit = limit.into();
        self
    }

    /// Allows downloads from this host and its subdomains besides VK's own
    /// ([`media::VK_MEDIA_HOSTS`]) and the API host.
    pub fn download_host(mut self, host: impl Into<String>) -> Self {
        self.download_hosts.push(host.into());
        self
    }

    /// The time allowed for one upload or download ([`DEFAULT_TRANSFER_TIMEOUT`] unless set).
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// The largest Callback body accepted ([`DEFAULT_MAX_WEBHOOK_BODY`] unless set); a larger
    /// one is answered 413 before it is read.
    pub fn max_webhook_body(mut self, bytes: usize) -> Self {
        self.max_webhook_body = bytes;
        self
    }

    /// The Callback API secret key (`secret_key` of the server). Without it every Callback
    /// event is refused.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret::new(secret.into()));
        self
    }

    /// The confirmation string VK expects in answer to the `confirmation` event
    /// (`groups.getCallbackConfirmationCode`). Without it the handshake is refused.
    pub fn confirmation(mut self, confirmation: impl Into<String>) -> Self {
        self.confirmation = Some(Secret::new(confirmation.into()));
        self
    }

    /// How long one Bots Long Poll call waits for events (`wait`; [`DEFAULT_POLL_WAIT`] unless
    /// set, at most [`MAX_POLL_WAIT`]; 0 returns at once, for tests).
    pub fn poll_wait(mut self, wait: Duration) -> Self {
        self.poll_wait = wait;
        self
    }

    /// Replaces the capabilities the planner works from (VK's unless set).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The community id.
    pub fn group_id(&self) -> u64 {
        self.group_id
    }

    /// The API version in use.
    pub fn api_version_str(&self) -> &str {
        &self.api_version
    }

    /// The Bots Long Poll wait in use.
    pub fn poll_wait_len(&self) -> Duration {
        self.poll_wait
    }

    /// Builds the connector; see [`Vk::new`].
    pub fn build(self) -> Result<Vk> {
        Vk::new(self)
    }
}

impl fmt::Debug for VkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VkConfig")
            .field("token", &self.token)
            .field("group_id", &self.group_id)
            .field("api_version", &self.api_version)
            .field("base_url", &self.base_url)
            .field("http", &self.http)
            .field("download_limit", &self.download_limit)
            .field("max_webhook_body", &self.max_webhook_body)
            .field("secret", &self.secret)
            .field("confirmation", &self.confirmation)
            .field("poll_wait", &self.poll_wait)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: VkConfig,
    http: HttpClient,
    base: Url,
}

/// One VK community: a [`Messenger`]. Cheap to clone (the clones share one HTTP client).
///
/// `Debug` shows no token, secret or content.
#[derive(Clone)]
pub struct Vk {
    inner: Arc<Inner>,
}

impl fmt::Debug for Vk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vk")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(VK)
}

impl Vk {
    /// A connector for `config`; checks the configuration (no request is made).
    ///
    /// Fails with `InvalidInput` for an empty token (or one that cannot be a header value), a
    /// group id of 0, an API version not of the form `5.199`, a base URL that is not http(s),
    /// or a long-poll wait over 90 s.
    ///
    /// ```
    /// use connector_vk::{Vk, VkConfig};
    /// assert!(Vk::new(VkConfig::new("token", 1)).is_ok());
    /// assert!(Vk::new(VkConfig::new("", 1)).is_err());
    /// assert!(Vk::new(VkConfig::new("token", 0)).is_err());
    /// assert!(Vk::new(VkConfig::new("token", 1).base_url("ftp://x")).is_err());
    /// ```
    pub fn new(config: VkConfig) -> Result<Self> {
        let token = config.token.expose_str();
        if token.trim().is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(invalid(
                "the VK token is empty or has spaces or control characters",
            ));
        }
        if config.group_id == 0 {
            return Err(invalid("the VK group id must be a positive community id"));
        }
        let version_ok = config
            .api_version
            .split_once('.')
            .is_some_and(|(a, b)| is_digits(a) && is_digits(b));
        if !version_ok {
            return Err(invalid("the VK API version must look like 5.199"));
        }
        if config.poll_wait > MAX_POLL_WAIT {
            return Err(invalid("the VK long-poll wait is at most 90 s"));
        }
        let base = Url::parse(&config.base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| invalid("the VK base URL must be an http(s) URL"))?;
        let http = HttpClient::new(VK, &config.http)?;
        Ok(Self {
            inner: Arc::new(Inner { config, http, base }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VkConfig {
        &self.inner.config
    }

    /// The community id.
    pub fn group_id(&self) -> u64 {
        self.inner.config.group_id
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub(crate) fn base(&self) -> &Url {
        &self.inner.base
    }

    /// `{base}/method/{method}`.
    fn method_url(&self, method: &str) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("method").push(method);
        }
        url
    }

    /// Calls an API method: a form-encoded `POST` of `params` and `v`, with the token as a
    /// bearer header. `is_send` marks a call that may deliver a message.
    pub(crate) async fn call<P, T>(
        &self,
        method: &'static str,
        params: &P,
        is_send: bool,
    ) -> Result<T>
    where
        P: Serialize + Sync,
        T: DeserializeOwned,
    {
        let form = wire::Versioned {
            params,
            v: &self.inner.config.api_version,
        };
        let request = self
            .inner
            .http
            .post(self.method_url(method))
            .bearer_auth(self.inner.config.token.expose_str())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let answer = self.inner.http.execute(request).await?;
        let result = error::decode_answer(&answer, is_send);
        match &result {
            Ok(_) => tracing::debug!(method, "vk call ok"),
            Err(err) => tracing::warn!(
                method,
                kind = %err.kind(),
                code = err.platform_code().unwrap_or(""),
                "vk call failed"
            ),
        }
        result
    }

    /// The Bots Long Poll stream starting at `ts` (`None`: wherever VK's server is now), for a
    /// consumer that persists the position itself. [`Messenger::updates`] is
    /// `updates_from(None)`.
    pub fn updates_from(&self, ts: Option<String>) -> EventStream {
        poll::stream(self.clone(), ts)
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[async_trait]
impl Messenger for Vk {
    fn platform(&self) -> Platform {
        VK
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.config.capabilities
    }

    /// `groups.getById` with the token alone: VK answers with the token's own community,
    /// which must be the configured one (`Unauthorized` otherwise).
    async fn connect(&self) -> Result<AccountInfo> {
        let groups: wire::GroupsById = self
            .call("groups.getById", &wire::GetByIdParams {}, false)
            .await?;
        let group = groups.into_groups().into_iter().next().ok_or_else(|| {
            Error::decode("groups.getById returned no community").with_platform(VK)
        })?;
        if group.id.unsigned_abs() != self.inner.config.group_id {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                "the token belongs to another community than the configured group id",
            )
            .with_platform(VK));
        }
        tracing::info!(group_id = group.id.unsigned_abs(), "vk community connected");
        Ok(AccountInfo {
            platform: VK,
            id: UserId::from(group.id.unsigned_abs()),
            name: group.name,
            username: group.screen_name,
        })
    }

    /// Uploads the part's media where it is bytes or a stream, then `messages.send` with a
    /// `random_id` derived from the part's idempotency key (fresh when it has none).
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        let peer = peer_id(chat)?;
        let random_id = convert::random_id(peer, part);
        let by_reference = match part.content.media_source() {
            Some(source) => convert::attachment_by_reference(source)?,
            None => None,
        };
        let needs_upload = by_reference.is_none() && part.content.media_source().is_some();
        // Check everything but the attachment before an upload spends bandwidth.
        convert::send_params(
            peer,
            part,
            needs_upload.then(String::new).or(by_reference.clone()),
            random_id,
        )?;
        let attachment = if needs_upload {
            Some(
                self.upload(peer, &part.content)
                    .await
                    .map_err(|e| e.with_delivery(Delivery::NotSent))?,
            )
        } else {
            by_reference
        };
        let params = convert::send_params(peer, part, attachment, random_id)?;
        let response: wire::SendResponse = self.call("messages.send", &params, true).await?;
        let message_id = match response {
            wire::SendResponse::Id(id) => MessageId::from(id),
            wire::SendResponse::Peers(peers) => {
                let first = peers.into_iter().next().ok_or_else(|| {
                    Error::decode("messages.send answered an empty list")
                        .with_platform(VK)
                        .with_delivery(Delivery::MaybeSent)
                })?;
                if let Some(err) = &first.error {
                    return Err(error::from_peer_error(err, false));
                }
                convert::message_id(
                    first.message_id.unwrap_or_default(),
                    first.conversation_message_id.unwrap_or_default(),
                )
            }
        };
        tracing::debug!(
            peer = %chat.fingerprint(),
            kind = %part.content.kind(),
            message_id = %message_id.fingerprint(),
            "vk message sent"
        );
        Ok(SentPart {
            message_id,
            timestamp: Utc::now(),
        })
    }

    /// `messages.edit` of a message the community sent (by id, or `cmid` for `c<n>`).
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        let peer = peer_id(chat)?;
        if text.trim().is_empty() {
            return Err(invalid("the new text is empty"));
        }
        let len = text.chars().count();
        if len > messenger_core::capabilities::vk::TEXT_MAX {
            return Err(Error::too_large(format!(
                "the text has {len} characters; VK takes at most {}",
                messenger_core::capabilities::vk::TEXT_MAX
            ))
            .with_platform(VK));
        }
        let (message_id, cmid) = match message_ref(message)? {
            MessageRef::Id(id) => (Some(id), None),
            MessageRef::Cmid(cmid) => (None, Some(cmid)),
        };
        let params = wire::EditParams {
            peer_id: peer,
            message_id,
            cmid,
            message: text.to_owned(),
        };
        let _: Value = self.call("messages.edit", &params, false).await?;
        Ok(())
    }

    /// `messages.delete` with `delete_for_all=1` (by `message_ids`, or `cmids` for `c<n>`).
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let peer = peer_id(chat)?;
        let (message_ids, cmids) = match message_ref(message)? {
            MessageRef::Id(id) => (Some(id.to_string()), None),
            MessageRef::Cmid(cmid) => (None, Some(cmid.to_string())),
        };
        let params = wire::DeleteParams {
            peer_id: peer,
            message_ids,
            cmids,
            delete_for_all: 1,
        };
        let answer: Value = self.call("messages.delete", &params, false).await?;
        // With `cmids` VK answers one item per message, which may carry its own error.
        if let Some(items) = answer.as_array() {
            for item in items {
                if let Some(err) = item
                    .get("error")
                    .and_then(|e| serde_json::from_value::<wire::PeerError>(e.clone()).ok())
                {
                    return Err(error::from_peer_error(&err, false));
                }
            }
        }
        Ok(())
    }

    /// Whether `chat` is a group chat (`peer_id ≥ 2000000000`).
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        peer_id(chat).is_ok_and(convert::is_chat_peer)
    }

    /// The peer id in decimal (`" 0111"` is `111`); anything else as it is.
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        peer_id(chat).map_or_else(|_| chat.clone(), ChatId::from)
    }

    /// Always [`ReplyWindow::NotApplicable`]: VK's window (24 h, third-party and UNCONFIRMED)
    /// is enforced by VK itself, which refuses with 950 (`OutsideReplyWindow`), and a
    /// community can write only to users who allowed it (901, `OptedOut`).
    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        let _ = chat;
        Ok(ReplyWindow::NotApplicable)
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.download_media(media).await
    }

    /// `messages.markAsRead` with `peer_id`, `start_message_id` (or `up_to_cmid` for `c<n>`),
    /// `mark_conversation_as_read=1` and `group_id`.
    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let peer = peer_id(chat)?;
        let (start_message_id, up_to_cmid) = match message_ref(message)? {
            MessageRef::Id(id) => (Some(id), None),
            MessageRef::Cmid(cmid) => (None, Some(cmid)),
        };
        let params = wire::MarkAsReadParams {
            peer_id: peer,
            start_message_id,
            up_to_cmid,
            mark_conversation_as_read: 1,
            group_id: self.inner.config.group_id,
        };
        let _: Value = self.call("messages.markAsRead", &params, false).await?;
        Ok(())
    }

    /// The Callback API: the size cap, then the `confirmation` handshake or the `secret` and
    /// `group_id` checks, then [`parse`]; see [`webhook`].
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        webhook::handle(request, &self.inner.config)
    }

    /// The Bots Long Poll on the core's driver; see [`poll`].
    fn updates(&self) -> Result<EventStream> {
        Ok(self.updates_from(None))
    }
}

/// Builds a [`Vk`] from registry credentials: `token`, `group_id` (digits; a leading `-` of
/// an owner id is accepted), and optionally [`BASE_URL`], `secret`, `confirmation`.
///
/// ```
/// use messenger_core::registry::Credentials;
/// let c = Credentials::new().with("token", "vk1.a.x").with("group_id", "-229000000");
/// assert_eq!(connector_vk::from_credentials(&c).unwrap().group_id(), 229_000_000);
/// assert!(connector_vk::from_credentials(&Credentials::new().with("token", "x")).is_err());
/// ```
pub fn from_credentials(credentials: &Credentials) -> Result<Vk> {
    let token = credentials
        .require("token")
        .map_err(|e| e.with_platform(VK))?;
    let group = credentials
        .require("group_id")
        .map_err(|e| e.with_platform(VK))?;
    let group_id = group
        .trim()
        .trim_start_matches('-')
        .parse::<u64>()
        .map_err(|_| invalid("the VK group id must be a number"))?;
    let mut config = VkConfig::new(token, group_id);
    if let Some(url) = credentials.get(BASE_URL) {
        config = config.base_url(url);
    }
    if let Some(secret) = credentials.get("secret") {
        config = config.secret(secret);
    }
    if let Some(confirmation) = credentials.get("confirmation") {
        config = config.confirmation(confirmation);
    }
    config.build()
}

fn build_entry(
    credentials: &Credentials,
    _stores: &messenger_core::registry::AccountStores,
) -> Result<Arc<dyn Messenger>> {
    Ok(Arc::new(from_credentials(credentials)?))
}

/// The VK connector's registry entry: environment `VK_TOKEN`, `VK_GROUP_ID` (required),
/// `VK_API_URL`, `VK_CALLBACK_SECRET`, `VK_CONFIRMATION` (optional); parser [`parse`].
///
/// ```
/// use messenger_core::Platform;
/// let env = |name: &str| match name {
///     "VK_TOKEN" => Some("vk1.a.token".to_owned()),
///     "VK_GROUP_ID" => Some("229000000".to_owned()),
///     _ => None,
/// };
/// let credentials = connector_vk::ENTRY.credentials_from_env(env).unwrap();
/// let account = (connector_vk::ENTRY.build)(&credentials, &messenger_core::registry::AccountStores::new()).unwrap();
/// assert_eq!(account.platform(), Platform::Vk);
/// ```
pub const ENTRY: ConnectorEntry = ConnectorEntry {
    platform: Platform::Vk,
    env: &[
        EnvVar::required(
            "VK_TOKEN",
            "token",
            "the community access token (rights: messages, photos, docs)",
        ),
        EnvVar::required("VK_GROUP_ID", "group_id", "the community's numeric id"),
        EnvVar::optional(
            "VK_API_URL",
            BASE_URL,
            "the API base URL (default https://api.vk.com; https://api.vk.ru works too)",
        ),
        EnvVar::optional(
            "VK_CALLBACK_SECRET",
            "secret",
            "the Callback API secret key; without it Callback events are refused",
        ),
        EnvVar::optional(
            "VK_CONFIRMATION",
            "confirmation",
            "the string that answers the Callback API confirmation event",
        ),
    ],
    build: build_entry,
    parse,
    flow: None,
};
