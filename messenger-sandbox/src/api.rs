//! The types of the control API: what a test or the CLI sends to the sandbox to play the
//! customer's side, and what it reads back. They are the JSON bodies of the `/control/...` routes
//! and the arguments and results of the [`Sandbox`](crate::Sandbox) and
//! [`Control`](crate::Control) methods.
//!
//! `Debug` of every type that holds a token, a secret or message content is redacted.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use messenger_core::Platform;
use serde::{Deserialize, Serialize};

/// A new account (a Telegram bot, a WhatsApp business phone number or a VK community) to create.
///
/// Everything left `None` is generated. For Telegram, `token` must look like
/// `<bot id>:<secret>`; the bot id becomes the account id. For WhatsApp, `phone_number_id` is the
/// account id and `token` is the access token that authorizes Graph requests. For VK, `id` is the
/// community (group) id and the account id, `token` the community access token, `username` the
/// community's screen name, `webhook_url` its Callback API server, `webhook_secret` the
/// Callback `secret` and `verify_token` the confirmation string. For MAX, `id` is the bot's
/// user id, `token` the bot token, `webhook_url` and `webhook_secret` a subscription. For
/// Avito, `id` is the account's `user_id`, `token` the app's client id, `app_secret` its client
/// secret, `webhook_secret` the token the registered webhook URLs carry (generated when `None`)
/// and `webhook_url` a subscription (the token added as the query parameter `token`).
///
/// ```
/// use messenger_sandbox::AccountSpec;
/// let spec = AccountSpec::whatsapp()
///     .app_secret("app-secret")
///     .webhook_url("http://127.0.0.1:9000/wa");
/// assert_eq!(spec.app_secret.as_deref(), Some("app-secret"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountSpec {
    /// `telegram`, `whatsapp` or `vk`.
    pub platform: Platform,
    /// The account id, where the platform lets it be chosen: VK the community id (digits).
    /// Telegram takes it from the token, WhatsApp from `phone_number_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Telegram: the bot token; WhatsApp: the access token; VK: the community access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Telegram: the bot's first name; WhatsApp: the verified business name; VK: the
    /// community's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Telegram: the bot's username (without `@`); VK: the community's screen name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// WhatsApp: the phone-number id (digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// WhatsApp: the display phone number (digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// WhatsApp: the app secret that signs webhook deliveries (`X-Hub-Signature-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// WhatsApp: the app's callback URL. Telegram: a webhook set as if by `setWebhook`. VK:
    /// the Callback API server (confirmed by the handshake before events go to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Telegram: the `secret_token` of the webhook given in `webhook_url`. VK: the Callback
    /// API secret key (every event's `secret`; generated when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// WhatsApp: the verify token used by the `hub.challenge` handshake
    /// (see [`Sandbox::verify_webhook`](crate::Sandbox::verify_webhook)). VK: the
    /// confirmation string the Callback server must answer the `confirmation` event with
    /// (generated when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
}

impl AccountSpec {
    /// A spec for a platform with everything generated.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            id: None,
            token: None,
            name: None,
            username: None,
            phone_number_id: None,
            display_phone_number: None,
            app_secret: None,
            webhook_url: None,
            webhook_secret: None,
            verify_token: None,
        }
    }

    /// A Telegram bot with a generated token.
    pub fn telegram() -> Self {
        Self::new(Platform::Telegram)
    }

    /// A WhatsApp business number with a generated id, token and app secret.
    pub fn whatsapp() -> Self {
        Self::new(Platform::WhatsApp)
    }

    /// A VK community with a generated id, token, Callback secret and confirmation string.
    pub fn vk() -> Self {
        Self::new(Platform::Vk)
    }

    /// Sets the account id (VK: the community id).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the token (Telegram bot token or WhatsApp access token).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the bot's first name or the verified business name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the Telegram bot username.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the WhatsApp phone-number id.
    pub fn phone_number_id(mut self, id: impl Into<String>) -> Self {
        self.phone_number_id = Some(id.into());
        self
    }

    /// Sets the WhatsApp display phone number.
    pub fn display_phone_number(mut self, number: impl Into<String>) -> Self {
        self.display_phone_number = Some(number.into());
        self
    }

    /// Sets the WhatsApp app secret.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// Sets the webhook URL (WhatsApp callback URL, or a Telegram webhook).
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Sets the Telegram webhook `secret_token` or the VK Callback secret.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Sets the WhatsApp webhook verify token or the VK confirmation string.
    pub fn verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(token.into());
        self
    }
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("platform", &self.platform)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("webhook_url", &self.webhook_url.is_some())
            .finish_non_exhaustive()
    }
}

/// An account as the sandbox holds it: its credentials, webhook and intake state.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxAccount {
    /// The account id used in control routes: the bot id (Telegram) or the phone-number id
    /// (WhatsApp).
    pub id: String,
    /// The platform.
    pub platform: Platform,
    /// Telegram: the bot token; WhatsApp: the access token.
    pub token: String,
    /// Bot first name or verified business name.
    pub name: String,
    /// Telegram: the bot username; VK: the community's screen name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// WhatsApp: the phone-number id (equal to `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// WhatsApp: the display phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// WhatsApp: the business account (WABA) id used as `entry[].id` in webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    /// WhatsApp: the app secret that signs webhook deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// WhatsApp: the verify token of the handshake; VK: the confirmation string the Callback
    /// server answers the `confirmation` event with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// The webhook URL, if one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Telegram: the webhook `secret_token`, if one is set; VK: the Callback `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// WhatsApp: status webhooks are delivered out of order (see [`AccountPatch`]).
    #[serde(default)]
    pub out_of_order_statuses: bool,
    /// Updates (Telegram) or webhook events (WhatsApp) not yet delivered or confirmed; VK:
    /// Callback events not yet delivered while a server is set, else Long Poll events no poll
    /// has confirmed.
    pub pending: usize,
    /// The last webhook delivery error, if the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_webhook_error: Option<String>,
}

impl fmt::Debug for SandboxAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxAccount")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("token", &"<redacted>")
            .field("webhook_url", &self.webhook_url.is_some())
            .field("out_of_order_statuses", &self.out_of_order_statuses)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// Changes to an account's settings. Fields left `None` are kept.
///
/// ```
/// use messenger_sandbox::AccountPatch;
/// let patch = AccountPatch { out_of_order_statuses: Some(true), ..AccountPatch::default() };
/// assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"out_of_order_statuses":true}"#);
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AccountPatch {
    /// The webhook URL; an empty string removes it. Telegram: as `setWebhook` (keeps the secret
    /// unless `webhook_secret` is given too). VK: a new Callback server, confirmed by the
    /// handshake before events go to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Telegram: the webhook `secret_token`; VK: the Callback `secret`. An empty string
    /// removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// WhatsApp: the app secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// WhatsApp: the verify token; VK: the confirmation string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// WhatsApp: deliver the statuses produced together (`sent` and `delivered` of one send)
    /// in reverse order, as Meta may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_order_statuses: Option<bool>,
}

impl fmt::Debug for AccountPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountPatch")
            .field("webhook_url", &self.webhook_url.is_some())
            .field("out_of_order_statuses", &self.out_of_order_statuses)
            .finish_non_exhaustive()
    }
}

/// A new customer of an account: a Telegram user who started the bot, or a WhatsApp user.
///
/// A new WhatsApp customer has not written yet, so the 24-hour window is closed until they send
/// a message.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NewCustomer {
    /// Telegram: the user id (decimal); WhatsApp: the `wa_id` (digits). Generated when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The display name (Telegram first name, WhatsApp profile name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Telegram: the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Telegram: the IETF language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// The customer has already allowed the account's messages (VK: pressed "Allow
    /// messages", so the community may write first). `None` is the platform's default (VK:
    /// not allowed until they write or allow). Platforms without such consent ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allows_messages: Option<bool>,
}

impl NewCustomer {
    /// A customer with a display name and a generated id.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Says whether the customer has already allowed the account's messages (VK).
    pub fn allows_messages(mut self, allows: bool) -> Self {
        self.allows_messages = Some(allows);
        self
    }
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field(
                "id",
                &self.id.as_deref().map(messenger_core::model::fingerprint),
            )
            .finish_non_exhaustive()
    }
}

/// A customer as the sandbox holds it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer id: the Telegram user id (= private chat id) or the WhatsApp `wa_id`.
    pub id: String,
    /// The account this customer talks to.
    pub account: String,
    /// The display name.
    pub name: String,
    /// Telegram: the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The customer blocked the bot or the business.
    pub blocked: bool,
    /// The customer's device is online: WhatsApp `delivered` statuses are produced only then.
    pub online: bool,
    /// WhatsApp: the end of the 24-hour customer service window, if one is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_open_until: Option<DateTime<Utc>>,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &messenger_core::model::fingerprint(&self.id))
            .field("account", &self.account)
            .field("blocked", &self.blocked)
            .field("online", &self.online)
            .field("window_open_until", &self.window_open_until)
            .finish_non_exhaustive()
    }
}

/// The kind of a stored message (the core's content kinds plus WhatsApp templates and
/// reactions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Text.
    Text,
    /// A picture (Telegram photo, WhatsApp image).
    Image,
    /// A file (Telegram / WhatsApp document).
    File,
    /// A voice note.
    Voice,
    /// An audio track.
    Audio,
    /// A video.
    Video,
    /// A sticker.
    Sticker,
    /// A WhatsApp template message.
    Template,
    /// A WhatsApp reaction.
    Reaction,
    /// Any other kind (location, contacts, interactive, ...), stored as sent.
    Other,
}

impl MessageKind {
    /// The snake-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::Voice => "voice",
            MessageKind::Audio => "audio",
            MessageKind::Video => "video",
            MessageKind::Sticker => "sticker",
            MessageKind::Template => "template",
            MessageKind::Reaction => "reaction",
            MessageKind::Other => "other",
        }
    }
}

/// Which way a stored message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageDirection {
    /// From the customer to the account.
    Inbound,
    /// From the account (the connector) to the customer.
    Outbound,
}

/// The state of a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Inbound, not yet marked read by the business.
    Received,
    /// Outbound, accepted and sent.
    Sent,
    /// Outbound, on the customer's device.
    Delivered,
    /// Read: outbound by the customer, inbound by the business (mark-as-read).
    Read,
    /// Outbound and failed (WhatsApp: see `error`).
    Failed,
}

/// A stored message, as the customer sees it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    /// The platform message id (Telegram `message_id`, WhatsApp wamid).
    pub id: String,
    /// Inbound or outbound.
    pub direction: MessageDirection,
    /// The kind.
    pub kind: MessageKind,
    /// The text (after Telegram entity parsing, i.e. what the customer sees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The caption of a media message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The media of a media message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaView>,
    /// The status.
    pub status: MessageStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorView>,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// WhatsApp: the template name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Telegram: the `parse_mode` the text was sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<String>,
    /// When it was stored (sandbox clock).
    pub timestamp: DateTime<Utc>,
}

impl fmt::Debug for MessageView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageView")
            .field("id", &messenger_core::model::fingerprint(&self.id))
            .field("direction", &self.direction)
            .field("kind", &self.kind)
            .field("text_len", &self.text.as_ref().map(|t| t.chars().count()))
            .field("media", &self.media)
            .field("status", &self.status)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The media of a stored message.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaView {
    /// Size in bytes, where the sandbox has the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// MIME type, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// File name, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Hex SHA-256 of the bytes, where the sandbox has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The URL the media was sent by (the sandbox never fetches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The platform reference: Telegram `file_id`, WhatsApp media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl fmt::Debug for MediaView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaView")
            .field("size", &self.size)
            .field("mime_type", &self.mime_type)
            .field("by_url", &self.url.is_some())
            .finish_non_exhaustive()
    }
}

/// A platform error code and title attached to a failed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    /// The platform code (e.g. WhatsApp `131047`).
    pub code: i64,
    /// The platform title.
    pub title: String,
}

/// Media a customer sends. Over HTTP the bytes travel as base64 in `data_base64`.
///
/// ```
/// use messenger_sandbox::{MediaUpload, MessageKind};
/// let m = MediaUpload::new(MessageKind::Image, &b"\x89PNG\r\n\x1a\n"[..]).mime_type("image/png");
/// let json = serde_json::to_value(&m).unwrap();
/// assert_eq!(json["data_base64"], "iVBORw0KGgo=");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaUpload {
    /// image, file, voice, audio, video or sticker.
    pub kind: MessageKind,
    /// The bytes.
    #[serde(rename = "data_base64", with = "base64_bytes")]
    pub data: Bytes,
    /// MIME type; sniffed from the bytes or the file name when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl MediaUpload {
    /// Media of a kind with the given bytes.
    pub fn new(kind: MessageKind, data: impl Into<Bytes>) -> Self {
        Self {
            kind,
            data: data.into(),
            mime_type: None,
            file_name: None,
        }
    }

    /// Sets the MIME type.
    pub fn mime_type(mut self, mime: impl Into<String>) -> Self {
        self.mime_type = Some(mime.into());
        self
    }

    /// Sets the file name.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }
}

impl fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaUpload")
            .field("kind", &self.kind)
            .field("size", &self.data.len())
            .field("mime_type", &self.mime_type)
            .finish_non_exhaustive()
    }
}

/// A message a customer sends to an account: text, or media with an optional caption.
///
/// ```
/// use messenger_sandbox::CustomerMessage;
/// let m = CustomerMessage::text("hello");
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"text":"hello"}"#);
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct CustomerMessage {
    /// The text of a text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The media of a media message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaUpload>,
    /// The caption of a media message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl CustomerMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// A media message.
    pub fn media(media: MediaUpload) -> Self {
        Self {
            media: Some(media),
            ..Self::default()
        }
    }

    /// Sets the caption.
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Makes it a reply.
    pub fn reply_to(mut self, id: impl Into<String>) -> Self {
        self.reply_to = Some(id.into());
        self
    }
}

impl fmt::Debug for CustomerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerMessage")
            .field("text_len", &self.text.as_ref().map(|t| t.chars().count()))
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

/// What kind of group chat a [`NewGroup`] is (Telegram's `chat.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A basic group (Telegram `group`).
    Group,
    /// A supergroup (Telegram `supergroup`, an id starting `-100`).
    #[default]
    Supergroup,
    /// A channel (Telegram `channel`, an id starting `-100`): its posts are `channel_post`
    /// updates signed by the channel, not by a member.
    Channel,
}

impl GroupKind {
    /// `group`, `supergroup` or `channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Group => "group",
            GroupKind::Supergroup => "supergroup",
            GroupKind::Channel => "channel",
        }
    }
}

/// A group chat to create in an account, with customers of the account as its members
/// (`POST /control/accounts/{account}/groups`). The bot is a member (an administrator of a
/// channel).
///
/// ```
/// use messenger_sandbox::{GroupKind, NewGroup};
/// let new = NewGroup::new(GroupKind::Supergroup).title("Support").member("100000001");
/// assert_eq!(
///     serde_json::to_value(&new).unwrap(),
///     serde_json::json!({"kind": "supergroup", "title": "Support", "members": ["100000001"]})
/// );
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NewGroup {
    /// The chat id (Telegram: negative; `-100…` for supergroups and channels). Generated when
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Group, supergroup or channel (default: supergroup).
    #[serde(default)]
    pub kind: GroupKind,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Customers of the account who are members (channel subscribers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

impl NewGroup {
    /// A group chat of this kind, with a generated id and no members yet.
    pub fn new(kind: GroupKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Sets the id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Adds a member (a customer id of the account).
    pub fn member(mut self, customer: impl Into<String>) -> Self {
        self.members.push(customer.into());
        self
    }
}

impl fmt::Debug for NewGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewGroup")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

/// A group chat of an account, as the sandbox holds it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The chat id (Telegram: negative), what a connector sends to.
    pub id: String,
    /// The account the group belongs to.
    pub account: String,
    /// Group, supergroup or channel.
    pub kind: GroupKind,
    /// The title.
    pub title: String,
    /// The customer ids of its members.
    pub members: Vec<String>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("kind", &self.kind)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

/// A message posted in a group chat: by a member (`from`), or by the channel itself in a
/// channel (`from` absent). `POST /control/accounts/{account}/groups/{group}/messages`.
///
/// ```
/// use messenger_sandbox::{CustomerMessage, GroupMessage};
/// let post = GroupMessage::from_member("100000001", CustomerMessage::text("hi all"));
/// assert_eq!(
///     serde_json::to_value(&post).unwrap(),
///     serde_json::json!({"from": "100000001", "message": {"text": "hi all"}})
/// );
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct GroupMessage {
    /// The member who writes (a customer id of the account); `None` for a channel's own post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// What they write.
    pub message: CustomerMessage,
}

impl GroupMessage {
    /// A member writes in the group.
    pub fn from_member(customer: impl Into<String>, message: CustomerMessage) -> Self {
        Self {
            from: Some(customer.into()),
            message,
        }
    }

    /// The channel posts (no member).
    pub fn channel_post(message: CustomerMessage) -> Self {
        Self {
            from: None,
            message,
        }
    }
}

impl fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMessage")
            .field(
                "from",
                &self.from.as_deref().map(messenger_core::model::fingerprint),
            )
            .field("message", &self.message)
            .finish()
    }
}

/// What the platform made of a customer's message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundReceipt {
    /// The platform message id (Telegram `message_id`, WhatsApp wamid, VK message id, or
    /// `c<conversation message id>` in a VK group chat).
    pub message_id: String,
    /// Telegram: the `update_id` of the update carrying it; VK: the Bots Long Poll position
    /// (`ts`) of its `message_new` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_id: Option<i64>,
    /// The media reference a connector downloads with (Telegram `file_id`, WhatsApp media id,
    /// VK attachment string such as `photo111_457239017_8f1e2d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
}

impl fmt::Debug for InboundReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A wamid encodes the customer's phone number.
        f.debug_struct("InboundReceipt")
            .field(
                "message_id",
                &messenger_core::model::fingerprint(&self.message_id),
            )
            .field("update_id", &self.update_id)
            .field("media_id", &self.media_id)
            .finish()
    }
}

/// Which messages a customer reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// Read up to and including this message id; every outbound message when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<String>,
}

/// How many messages a read marked as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOutcome {
    /// Messages newly marked read.
    pub read: usize,
}

/// Whether a customer is online (WhatsApp `delivered` waits for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPatch {
    /// Online or not.
    pub online: bool,
}

/// A fault the sandbox injects into an account's next requests.
///
/// JSON: `{"kind":"server_error","status":502}`, `{"kind":"rate_limited","retry_after":3}`,
/// `{"kind":"delay","millis":1500}`, `{"kind":"drop_connection"}`,
/// `{"kind":"drop_connection","before_processing":true}`, `{"kind":"truncated_body"}`,
/// `{"kind":"poll_failed","failed":2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with a 5xx in the platform's error shape; the request is not processed.
    ServerError {
        /// The HTTP status (500..=599).
        #[serde(default = "default_server_status")]
        status: u16,
    },
    /// Answer with the platform's rate-limit error; the request is not processed. Telegram: 429
    /// with `parameters.retry_after`; WhatsApp: HTTP 429, Graph error `130429` and a
    /// `Retry-After` header; MAX and Avito: 429 with `Retry-After`; VK: error 6, which never
    /// says how long to wait.
    RateLimited {
        /// Seconds to wait; `0` answers the rate-limit error without any retry-after (no
        /// `parameters.retry_after`, no `Retry-After` header), as a platform may.
        retry_after: u64,
    },
    /// Wait before processing the request normally.
    Delay {
        /// Milliseconds to wait.
        millis: u64,
    },
    /// Close the connection without any response. By default the request IS processed first
    /// (a message is stored and delivered), so the client cannot know: "maybe sent".
    DropConnection {
        /// Close before processing instead (nothing is stored).
        #[serde(default)]
        before_processing: bool,
    },
    /// Process the request, then send the status line, headers and half of the body and close
    /// the connection.
    TruncatedBody,
    /// The long-poll session goes stale: the next long poll is answered as the platform
    /// answers one (the request is not processed, no event is lost). Understood by emulators
    /// whose long polling has sessions: VK's Bots Long Poll answers `{"failed": 1, "ts"}`
    /// (history outdated: continue from `ts`), `{"failed": 2}` (the key expired: a new key
    /// from `groups.getLongPollServer`) or `{"failed": 3}` (key and `ts` lost: a new key and
    /// `ts`), and for 2 and 3 the key is revoked. Emulators without poll sessions (Telegram's
    /// `getUpdates`, WhatsApp) answer it as a 500. Queue it for the platform's long-poll
    /// operation (VK: `a_check`).
    PollFailed {
        /// VK's `failed` code: 1, 2 or 3.
        failed: u8,
    },
}

fn default_server_status() -> u16 {
    500
}

impl Fault {
    /// The snake-case name of the fault kind.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::ServerError { .. } => "server_error",
            Fault::RateLimited { .. } => "rate_limited",
            Fault::Delay { .. } => "delay",
            Fault::DropConnection { .. } => "drop_connection",
            Fault::TruncatedBody => "truncated_body",
            Fault::PollFailed { .. } => "poll_failed",
        }
    }
}

/// A fault injected into the next `count` requests of an account, optionally only into one
/// operation (Telegram: the method name, e.g. `sendMessage`, or `file` for downloads;
/// WhatsApp: `messages`, `media_upload`, `media_get`, `media_delete`, `media_download` or
/// `phone_number`; VK: the method name, e.g. `messages.send`, `photo_upload` and
/// `doc_upload` for the upload servers, `a_check` for the Bots Long Poll, `download` for
/// media). Operation names are matched case-insensitively.
///
/// ```
/// use messenger_sandbox::{Fault, FaultSpec};
/// let spec = FaultSpec::new(Fault::DropConnection { before_processing: false }).operation("sendMessage");
/// assert_eq!(spec.count, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// The fault.
    pub fault: Fault,
    /// How many matching requests get it.
    #[serde(default = "default_count")]
    pub count: u32,
    /// Only requests of this operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

fn default_count() -> u32 {
    1
}

impl FaultSpec {
    /// The fault for the next request.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            count: 1,
            operation: None,
        }
    }

    /// For the next `count` requests.
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Only for requests of this operation.
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
}

/// One platform API request an account received, as the sandbox logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The operation (Telegram method name as called, a WhatsApp operation name, a MAX
    /// method and path, an Avito operation id).
    pub operation: String,
    /// The HTTP status answered (0 when the connection was dropped).
    pub status: u16,
    /// The injected fault, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The platform's error code of a refused request, where its emulator names one (MAX
    /// `attachment.not.ready` while an upload is processed, Avito the HTTP status of its
    /// `{"error":{"code"}}`), so that a client can tell what it was refused for and retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When (sandbox clock).
    pub at: DateTime<Utc>,
}

/// One webhook delivery the sandbox made or tried.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// `update` (Telegram), `message` or `status` (WhatsApp).
    pub kind: String,
    /// Telegram `update_id`, or the wamid the event is about.
    pub reference: String,
    /// The HTTP status the receiver answered; `None` when the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error, when the request failed or the status was not 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When (sandbox clock).
    pub at: DateTime<Utc>,
}

impl fmt::Debug for DeliveryRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryRecord")
            .field("kind", &self.kind)
            .field(
                "reference",
                &messenger_core::model::fingerprint(&self.reference),
            )
            .field("status", &self.status)
            .field("error", &self.error)
            .field("at", &self.at)
            .finish()
    }
}

/// Moves the sandbox clock forward (reply windows, media URL expiry, rate-limit refills and
/// timestamps all follow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockAdvance {
    /// Seconds to add.
    pub seconds: u64,
}

/// The sandbox clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    /// The sandbox's now.
    pub now: DateTime<Utc>,
    /// How far it is ahead of the wall clock, in seconds.
    pub offset_seconds: i64,
}

/// The result of a webhook verification handshake: WhatsApp's `hub.challenge`, VK's
/// `confirmation` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCheck {
    /// The HTTP status the callback answered.
    pub status: u16,
    /// The body was exactly what the platform expects: the `hub.challenge` sent (WhatsApp),
    /// the account's confirmation string (VK).
    pub challenge_echoed: bool,
}

/// The base URLs of a running sandbox: the server root, the control API root, and one root per
/// emulated platform, each under its own prefix (`{base}/telegram`, `{base}/whatsapp`).
///
/// A platform's root replaces the platform's public API root in a connector's base URL:
/// Telegram requests go to `{telegram}/bot<token>/<method>` and downloads to
/// `{telegram}/file/bot<token>/<path>`; Graph requests go to
/// `{whatsapp}/{version}/{phone-number-id}/messages` and media downloads to the URLs the
/// media objects give (under `{whatsapp}/`).
///
/// JSON: `{"base": ..., "control": ..., "telegram": ..., "whatsapp": ...}`, one key per
/// emulated platform.
///
/// ```
/// use std::collections::BTreeMap;
/// use messenger_core::Platform;
/// use messenger_sandbox::SandboxUrls;
/// let urls = SandboxUrls {
///     base: "http://127.0.0.1:8081".into(),
///     control: "http://127.0.0.1:8081/control".into(),
///     platforms: BTreeMap::from([(Platform::Telegram, "http://127.0.0.1:8081/telegram".into())]),
/// };
/// assert_eq!(urls.telegram(), "http://127.0.0.1:8081/telegram");
/// assert_eq!(urls.platform(Platform::Vk), None);
/// let json = serde_json::to_value(&urls).unwrap();
/// assert_eq!(json["telegram"], "http://127.0.0.1:8081/telegram");
/// assert_eq!(serde_json::from_value::<SandboxUrls>(json).unwrap(), urls);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxUrls {
    /// The server root, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The control API root, e.g. `http://127.0.0.1:41234/control`.
    pub control: String,
    /// The root of each emulated platform's API, e.g. `http://127.0.0.1:41234/telegram`.
    #[serde(flatten)]
    pub platforms: BTreeMap<Platform, String>,
}

impl SandboxUrls {
    /// The root of a platform's API, if the sandbox emulates it.
    pub fn platform(&self, platform: Platform) -> Option<&str> {
        self.platforms.get(&platform).map(String::as_str)
    }

    /// The Telegram Bot API root (use in place of `https://api.telegram.org`), or `""` when
    /// Telegram is not emulated.
    pub fn telegram(&self) -> &str {
        self.platform(Platform::Telegram).unwrap_or_default()
    }

    /// The Graph API root (use in place of `https://graph.facebook.com`), or `""` when
    /// WhatsApp is not emulated.
    pub fn whatsapp(&self) -> &str {
        self.platform(Platform::WhatsApp).unwrap_or_default()
    }
}

pub(crate) mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.trim())
            .map(Bytes::from)
            .map_err(|e| serde::de::Error::custom(format!("data_base64 is not base64: {e}")))
    }
}
