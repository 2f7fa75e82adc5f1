//! Serde types of the Telegram Bot API JSON, both ways (field names from Bot API 10.1,
//! `api.json`).
//!
//! - **Inbound**: [`Update`] and what it carries ([`Message`], [`ChatMemberUpdated`],
//!   [`OtherPayload`]...), and the answers of the methods the connector calls ([`User`],
//!   [`File`], [`WebhookInfo`]), inside the [`ApiResponse`] envelope.
//! - **Outbound**: one type per method the connector calls, each a [`Request`] that names its
//!   method and the type of its result: [`GetMe`], [`GetFile`], [`SendMessage`],
//!   [`SendMedia`], [`EditMessageText`], [`DeleteMessage`], [`GetUpdates`], [`SetWebhook`],
//!   [`DeleteWebhook`], [`GetWebhookInfo`].
//!
//! Only the fields the connector reads are typed. Every inbound type tolerates unknown fields
//! (new API versions add them all the time) and missing optional ones; a field the connector
//! does not need is simply not declared. Types that hold message content or personal data
//! implement `Debug` by hand and print only ids, lengths and sizes.
//!
//! ```
//! use connector_telegram::wire::{ChatTarget, ReplyParameters, Request, SendMessage};
//! let request = SendMessage {
//!     chat_id: ChatTarget::Id(123456789),
//!     text: "Hi there",
//!     reply_parameters: Some(ReplyParameters { message_id: 42 }),
//! };
//! assert_eq!(request.method(), "sendMessage");
//! assert_eq!(
//!     serde_json::to_string(&request).unwrap(),
//!     r#"{"chat_id":123456789,"text":"Hi there","reply_parameters":{"message_id":42}}"#
//! );
//! assert!(!format!("{request:?}").contains("Hi there"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use messenger_core::model::fingerprint;
use messenger_core::redact::{TextLen, redacted};
use messenger_core::{ContentKind, MediaSource};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

// ---------------------------------------------------------------------------------------------
// The envelope
// ---------------------------------------------------------------------------------------------

/// The envelope of every Bot API answer, keyed on `ok`.
///
/// `{"ok": true, "result": ...}` is [`ApiResponse::Ok`]; `{"ok": false, "error_code": ...,
/// "description": ..., "parameters": ...}` is [`ApiResponse::Err`].
///
/// ```
/// use connector_telegram::wire::ApiResponse;
/// let ok: ApiResponse<bool> = serde_json::from_str(r#"{"ok":true,"result":true}"#).unwrap();
/// assert!(matches!(ok, ApiResponse::Ok(true)));
/// let err: ApiResponse<bool> = serde_json::from_str(
///     r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",
///         "parameters":{"retry_after":5}}"#,
/// ).unwrap();
/// let ApiResponse::Err(err) = err else { panic!() };
/// assert_eq!(err.parameters.unwrap().retry_after, Some(5));
/// ```
#[derive(Debug, Clone)]
pub enum ApiResponse<T> {
    /// `ok: true` with the method's result.
    Ok(T),
    /// `ok: false` with the error.
    Err(ApiError),
}

/// The error part of an `ok: false` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// The error code (usually equal to the HTTP status); "subject to change" per the docs.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// The human-readable description (`Forbidden: bot was blocked by the user`).
    #[serde(default)]
    pub description: Option<String>,
    /// Extra information: flood-control wait, supergroup migration.
    #[serde(default)]
    pub parameters: Option<ResponseParameters>,
}

/// `ResponseParameters`: why a request failed and how to recover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct ResponseParameters {
    /// The group was upgraded to a supergroup with this id.
    #[serde(default)]
    pub migrate_to_chat_id: Option<i64>,
    /// Seconds to wait before the next request (flood control).
    #[serde(default)]
    pub retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct RawEnvelope<T> {
    ok: bool,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ApiResponse<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawEnvelope::<T>::deserialize(deserializer)?;
        if raw.ok {
            raw.result
                .map(ApiResponse::Ok)
                .ok_or_else(|| serde::de::Error::missing_field("result"))
        } else {
            Ok(ApiResponse::Err(ApiError {
                error_code: raw.error_code,
                description: raw.description,
                parameters: raw.parameters,
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

/// A Telegram user or bot (`User`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// The id (fits in 52 bits).
    pub id: i64,
    /// Whether this is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// `@username` without the `@`.
    #[serde(default)]
    pub username: Option<String>,
}

impl User {
    /// `first_name last_name`, or just the first name.
    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) if !last.is_empty() => format!("{} {}", self.first_name, last),
            _ => self.first_name.clone(),
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &fingerprint(&self.id.to_string()))
            .field("is_bot", &self.is_bot)
            .finish_non_exhaustive()
    }
}

/// A chat (`Chat`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Chat {
    /// The id: negative for groups, supergroups and channels.
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Title of a group or channel.
    #[serde(default)]
    pub title: Option<String>,
    /// Public username.
    #[serde(default)]
    pub username: Option<String>,
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("id", &fingerprint(&self.id.to_string()))
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One size of a photo (`PhotoSize`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhotoSize {
    /// The per-bot file id (used to download or resend).
    pub file_id: String,
    /// Width in pixels.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels.
    #[serde(default)]
    pub height: u32,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// Any file-like media object (`Document`, `Animation`, `Audio`, `Video`, `VideoNote`,
/// `Voice`, `Sticker`): the fields the connector needs are common to all of them.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct FileObject {
    /// The per-bot file id.
    pub file_id: String,
    /// The original file name, where kept.
    #[serde(default)]
    pub file_name: Option<String>,
    /// The MIME type, where given.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// The emoji of a sticker.
    #[serde(default)]
    pub emoji: Option<String>,
}

impl fmt::Debug for FileObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileObject")
            .field(
                "mime_type",
                &self
                    .mime_type
                    .as_deref()
                    .map(messenger_core::redact::mime_essence),
            )
            .field("file_size", &self.file_size)
            .finish_non_exhaustive()
    }
}

/// A point on the map (`Location`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Location {
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
}

/// A venue (`Venue`): a location with a title and an address.
#[derive(Clone, PartialEq, Deserialize)]
pub struct Venue {
    /// The point.
    pub location: Location,
    /// The venue's name.
    #[serde(default)]
    pub title: Option<String>,
    /// The address.
    #[serde(default)]
    pub address: Option<String>,
}

impl fmt::Debug for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Venue").finish_non_exhaustive()
    }
}

/// A shared contact (`Contact`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Contact {
    /// The phone number.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The contact's Telegram user id, where known.
    #[serde(default)]
    pub user_id: Option<i64>,
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("phone_number", &redacted(&self.phone_number))
            .finish_non_exhaustive()
    }
}

/// The message a message replies to; only its id is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ReplyTo {
    /// The replied-to message's id.
    pub message_id: i64,
}

/// A message (`Message`): the fields the connector maps, and the names of all others.
#[derive(Clone, Deserialize)]
pub struct Message {
    /// Unique within the chat; can be 0 for a scheduled message.
    pub message_id: i64,
    /// The sender; absent in channels.
    #[serde(rename = "from", default)]
    pub from_user: Option<User>,
    /// The chat the message was sent on behalf of (channels, anonymous admins).
    #[serde(default)]
    pub sender_chat: Option<Chat>,
    /// Unix seconds.
    #[serde(default)]
    pub date: i64,
    /// The chat.
    pub chat: Chat,
    /// The message this one answers.
    #[serde(default)]
    pub reply_to_message: Option<ReplyTo>,
    /// When it was last edited (Unix seconds).
    #[serde(default)]
    pub edit_date: Option<i64>,
    /// The text of a text message.
    #[serde(default)]
    pub text: Option<String>,
    /// The caption of a media message.
    #[serde(default)]
    pub caption: Option<String>,
    /// A photo, in several sizes (order not documented).
    #[serde(default)]
    pub photo: Option<Vec<PhotoSize>>,
    /// A general file (also set, for compatibility, on animations).
    #[serde(default)]
    pub document: Option<FileObject>,
    /// A GIF or silent MP4 animation.
    #[serde(default)]
    pub animation: Option<FileObject>,
    /// A music track.
    #[serde(default)]
    pub audio: Option<FileObject>,
    /// A video.
    #[serde(default)]
    pub video: Option<FileObject>,
    /// A round video message.
    #[serde(default)]
    pub video_note: Option<FileObject>,
    /// A voice note.
    #[serde(default)]
    pub voice: Option<FileObject>,
    /// A sticker.
    #[serde(default)]
    pub sticker: Option<FileObject>,
    /// A shared location (also set, for compatibility, on venues).
    #[serde(default)]
    pub location: Option<Location>,
    /// A venue.
    #[serde(default)]
    pub venue: Option<Venue>,
    /// A shared contact.
    #[serde(default)]
    pub contact: Option<Contact>,
    /// The group was upgraded to the supergroup with this id (a service message in the old
    /// group).
    #[serde(default)]
    pub migrate_to_chat_id: Option<i64>,
    /// The supergroup was upgraded from the group with this id (a service message in the new
    /// supergroup).
    #[serde(default)]
    pub migrate_from_chat_id: Option<i64>,
    /// The names of every other field present (values are not kept).
    #[serde(flatten)]
    pub other_fields: BTreeMap<String, IgnoredAny>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("message_id", &self.message_id)
            .field("chat", &self.chat)
            .field("date", &self.date)
            .field("text", &self.text.as_deref().map(TextLen))
            .field("caption", &self.caption.as_deref().map(TextLen))
            .field(
                "other_fields",
                &self.other_fields.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A chat member's status (`ChatMember`): only `status` and the user are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatMember {
    /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
    #[serde(default)]
    pub status: String,
    /// The member.
    #[serde(default)]
    pub user: Option<User>,
}

/// A change of a member's status in a chat (`ChatMemberUpdated`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatMemberUpdated {
    /// The chat.
    pub chat: Chat,
    /// Who changed it.
    #[serde(rename = "from", default)]
    pub from_user: Option<User>,
    /// When (Unix seconds).
    #[serde(default)]
    pub date: i64,
    /// The status before.
    #[serde(default)]
    pub old_chat_member: Option<ChatMember>,
    /// The status after.
    #[serde(default)]
    pub new_chat_member: Option<ChatMember>,
}

/// The visitor methods of a lenient reader for every shape it does not expect: the value is
/// skipped (read to its end, never built) and yields `None`.
macro_rules! none_otherwise {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

/// An integer in the range of `i64`, or `None` for any other value.
struct LenientI64;

impl<'de> Visitor<'de> for LenientI64 {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
        Ok(i64::try_from(v).ok())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<i64>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    none_otherwise!();
}

impl<'de> DeserializeSeed<'de> for LenientI64 {
    type Value = Option<i64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads the fields of an object leniently: each named field by its own lenient reader, every
/// other field skipped; the value is `None` where the object names one of them twice (as a
/// typed decode would refuse it) or is not an object.
struct LenientFields<const N: usize> {
    names: [&'static str; N],
    read: fn(usize) -> Lenient,
}

/// A lenient reader of one field.
#[derive(Clone, Copy)]
enum Lenient {
    /// An integer.
    Int,
    /// `{"id": <int>}`.
    Id,
    /// `{"chat": {"id": <int>}}`.
    ChatId,
}

impl<'de> DeserializeSeed<'de> for Lenient {
    type Value = Option<i64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        match self {
            Lenient::Int => d.deserialize_any(LenientI64),
            Lenient::Id => d.deserialize_any(LenientFields {
                names: ["id"],
                read: |_| Lenient::Int,
            }),
            Lenient::ChatId => d.deserialize_any(LenientFields {
                names: ["chat"],
                read: |_| Lenient::Id,
            }),
        }
    }
}

impl<'de, const N: usize> Visitor<'de> for LenientFields<N> {
    /// The first field found, in the order of `names`.
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<i64>, A::Error> {
        let mut found: [Option<Option<i64>>; N] = [None; N];
        let mut repeated = false;
        while let Some(key) = map.next_key::<inbound::Str<'de>>()? {
            match self.names.iter().position(|n| *n == key.as_str()) {
                Some(i) => {
                    let value = map.next_value_seed((self.read)(i))?;
                    repeated |= found[i].is_some();
                    found[i] = Some(value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if repeated {
            return Ok(None);
        }
        Ok(found.into_iter().flatten().flatten().next())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<i64>, E> {
        Ok(None)
    }

    none_otherwise!();
}

/// The payload of an update the core does not model (`callback_query`, `chat_member`,
/// `message_reaction`, `poll`...), read only for the conversation it concerns.
///
/// The chat is, in this order: `chat.id` (chat member changes, join requests, reactions,
/// boosts, business and guest messages), `message.chat.id` (a callback query's message,
/// accessible or not), `user_chat_id` (a business connection's private chat). Payloads without
/// any (inline queries, polls, payments) concern no chat. Reading is lenient: a payload of
/// another shape has no chat, never an error, so an update type the connector does not model
/// cannot make an update unreadable.
///
/// ```
/// use connector_telegram::wire::OtherPayload;
/// let p: OtherPayload = serde_json::from_str(
///     r#"{"id":"4","from":{"id":1},"message":{"message_id":7,"date":0,"chat":{"id":-100}}}"#,
/// ).unwrap();
/// assert_eq!(p.chat_id, Some(-100));
/// let p: OtherPayload = serde_json::from_str(r#"{"id":"4","query":"pizza"}"#).unwrap();
/// assert_eq!(p.chat_id, None);
/// let p: OtherPayload = serde_json::from_str(r#"[1, "not an object"]"#).unwrap();
/// assert_eq!(p.chat_id, None);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct OtherPayload {
    /// The conversation the update concerns, where it names one.
    pub chat_id: Option<i64>,
}

impl<'de> Deserialize<'de> for OtherPayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `chat.id`, else `message.chat.id`, else `user_chat_id`.
        let chat_id = deserializer.deserialize_any(LenientFields {
            names: ["chat", "message", "user_chat_id"],
            read: |i| [Lenient::Id, Lenient::ChatId, Lenient::Int][i],
        })?;
        Ok(Self { chat_id })
    }
}

impl fmt::Debug for OtherPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherPayload")
            .field(
                "chat_id",
                &self.chat_id.map(|id| fingerprint(&id.to_string())),
            )
            .finish()
    }
}

/// An incoming update (`Update`). At most one payload field is present; the messages and
/// member changes the core models are typed, every other payload is an [`OtherPayload`] kept
/// under its field name.
#[derive(Clone, Deserialize)]
pub struct Update {
    /// Increases sequentially; the long-poll offset is the highest seen + 1.
    pub update_id: i64,
    /// A new message.
    #[serde(default)]
    pub message: Option<Message>,
    /// An edited message.
    #[serde(default)]
    pub edited_message: Option<Message>,
    /// A new channel post.
    #[serde(default)]
    pub channel_post: Option<Message>,
    /// An edited channel post.
    #[serde(default)]
    pub edited_channel_post: Option<Message>,
    /// The bot's own membership changed (blocked/unblocked in a private chat).
    #[serde(default)]
    pub my_chat_member: Option<ChatMemberUpdated>,
    /// Every other payload, by field name (`callback_query`, `chat_member`, `poll`...).
    #[serde(flatten)]
    pub other_fields: BTreeMap<String, OtherPayload>,
}

impl fmt::Debug for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Update")
            .field("update_id", &self.update_id)
            .field("message", &self.message)
            .field("edited_message", &self.edited_message)
            .field("channel_post", &self.channel_post)
            .field("edited_channel_post", &self.edited_channel_post)
            .field("my_chat_member", &self.my_chat_member)
            .field("other_fields", &self.other_fields)
            .finish()
    }
}

/// The answer of `getFile` (`File`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct File {
    /// The per-bot file id.
    pub file_id: String,
    /// Size in bytes, where known.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// The path to download from (`/file/bot<token>/<file_path>`), valid for at least an hour.
    #[serde(default)]
    pub file_path: Option<String>,
}

/// The answer of `getWebhookInfo` (`WebhookInfo`).
#[derive(Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct WebhookInfo {
    /// The webhook URL; empty when none is set (it can carry a secret path: not in `Debug`).
    #[serde(default)]
    pub url: String,
    /// Whether a self-signed certificate was uploaded.
    #[serde(default)]
    pub has_custom_certificate: bool,
    /// Updates waiting to be delivered.
    #[serde(default)]
    pub pending_update_count: u64,
    /// The IP address Telegram resolved the host to.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// When the last delivery failed (Unix seconds).
    #[serde(default)]
    pub last_error_date: Option<i64>,
    /// Why the last delivery failed.
    #[serde(default)]
    pub last_error_message: Option<String>,
    /// The maximum number of simultaneous connections.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// The update types the webhook receives.
    #[serde(default)]
    pub allowed_updates: Option<Vec<String>>,
}

impl fmt::Debug for WebhookInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        f.debug_struct("WebhookInfo")
            .field("url_host", &host)
            .field("has_custom_certificate", &self.has_custom_certificate)
            .field("pending_update_count", &self.pending_update_count)
            .field("last_error_date", &self.last_error_date)
            .field("last_error_message", &self.last_error_message)
            .field("max_connections", &self.max_connections)
            .field("allowed_updates", &self.allowed_updates)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound, as intake decodes it: borrowed from the body
// ---------------------------------------------------------------------------------------------

/// The inbound types every intake path decodes ([`crate::parse`], the webhook, long polling):
/// the fields of [`Update`] and [`Message`] the connector maps,
/// decoded straight from the body's bytes in one pass.
///
/// - Strings are [`Str`](inbound::Str): borrowed from the body, copied only where JSON escapes them; the
///   conversion copies only what an [`InboundEvent`](messenger_core::InboundEvent) keeps.
/// - Unknown fields are skipped without being built ([`IgnoredAny`]). The names of a
///   message's other fields are classified as they are read ([`OtherFields`](inbound::OtherFields)), and an update's
///   other payload keeps only its name and the chat it names ([`OtherPayload`]).
/// - The same JSON is accepted and refused as by the owned types of this module: the declared
///   fields and their types are the same, a repeated declared field is an error
///   (`duplicate field `text``), a repeated other field is not.
///
/// ```
/// use connector_telegram::wire::inbound::{Payload, Update};
/// let update: Update<'_> = serde_json::from_str(
///     r#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
///        "chat":{"id":42,"type":"private"},"text":"hi","entities":[]}}"#,
/// ).unwrap();
/// let Some(Payload::Message(message)) = update.payload else { panic!() };
/// assert_eq!(message.text.as_deref(), Some("hi"));
/// assert!(message.text.unwrap().is_borrowed());
/// ```
pub mod inbound {
    use std::borrow::Cow;
    use std::cell::Cell;
    use std::fmt;

    use messenger_core::model::fingerprint;
    use messenger_core::redact::redacted;
    use serde::Deserialize;
    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };

    pub use super::{Location, OtherPayload, ReplyTo};
    use crate::convert::{FieldClass, classify_field};

    /// The JSON string of the intake types (one type for every connector, in the core).
    pub use messenger_core::json::Str;

    /// A user or bot ([`super::User`], borrowed).
    #[derive(Clone, PartialEq, Eq, Deserialize)]
    pub struct User<'a> {
        /// The id.
        pub id: i64,
        /// Whether this is a bot.
        #[serde(default)]
        pub is_bot: bool,
        /// First name.
        #[serde(borrow, default)]
        pub first_name: Str<'a>,
        /// Last name.
        #[serde(borrow, default)]
        pub last_name: Option<Str<'a>>,
        /// `@username` without the `@`.
        #[serde(borrow, default)]
        pub username: Option<Str<'a>>,
    }

    impl User<'_> {
        /// `first_name last_name`, or just the first name.
        pub fn full_name(&self) -> String {
            match &self.last_name {
                Some(last) if !last.is_empty() => format!("{} {}", &*self.first_name, &**last),
                _ => self.first_name.as_str().to_owned(),
            }
        }
    }

    impl fmt::Debug for User<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("User")
                .field("id", &fingerprint(&self.id.to_string()))
                .field("is_bot", &self.is_bot)
                .finish_non_exhaustive()
        }
    }

    /// A chat ([`super::Chat`], borrowed).
    #[derive(Clone, PartialEq, Eq, Deserialize)]
    pub struct Chat<'a> {
        /// The id: negative for groups, supergroups and channels.
        pub id: i64,
        /// `private`, `group`, `supergroup` or `channel`.
        #[serde(rename = "type", borrow, default)]
        pub kind: Str<'a>,
        /// Title of a group or channel.
        #[serde(borrow, default)]
        pub title: Option<Str<'a>>,
        /// Public username.
        #[serde(borrow, default)]
        pub username: Option<Str<'a>>,
    }

    impl fmt::Debug for Chat<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Chat")
                .field("id", &fingerprint(&self.id.to_string()))
                .field("kind", &self.kind.as_str())
                .finish_non_exhaustive()
        }
    }

    /// One size of a photo ([`super::PhotoSize`], borrowed).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct PhotoSize<'a> {
        /// The per-bot file id.
        #[serde(borrow)]
        pub file_id: Str<'a>,
        /// Width in pixels.
        #[serde(default)]
        pub width: u32,
        /// Height in pixels.
        #[serde(default)]
        pub height: u32,
        /// Size in bytes.
        #[serde(default)]
        pub file_size: Option<u64>,
    }

    /// Any file-like media object ([`super::FileObject`], borrowed).
    #[derive(Clone, PartialEq, Eq, Deserialize)]
    pub struct FileObject<'a> {
        /// The per-bot file id.
        #[serde(borrow)]
        pub file_id: Str<'a>,
        /// The original file name, where kept.
        #[serde(borrow, default)]
        pub file_name: Option<Str<'a>>,
        /// The MIME type, where given.
        #[serde(borrow, default)]
        pub mime_type: Option<Str<'a>>,
        /// Size in bytes.
        #[serde(default)]
        pub file_size: Option<u64>,
        /// The emoji of a sticker.
        #[serde(borrow, default)]
        pub emoji: Option<Str<'a>>,
    }

    impl fmt::Debug for FileObject<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("FileObject")
                .field(
                    "mime_type",
                    &self
                        .mime_type
                        .as_deref()
                        .map(messenger_core::redact::mime_essence),
                )
                .field("file_size", &self.file_size)
                .finish_non_exhaustive()
        }
    }

    /// A venue ([`super::Venue`], borrowed).
    #[derive(Clone, PartialEq, Deserialize)]
    pub struct Venue<'a> {
        /// The point.
        pub location: Location,
        /// The venue's name.
        #[serde(borrow, default)]
        pub title: Option<Str<'a>>,
        /// The address.
        #[serde(borrow, default)]
        pub address: Option<Str<'a>>,
    }

    impl fmt::Debug for Venue<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Venue").finish_non_exhaustive()
        }
    }

    /// A shared contact ([`super::Contact`], borrowed).
    #[derive(Clone, PartialEq, Eq, Deserialize)]
    pub struct Contact<'a> {
        /// The phone number.
        #[serde(borrow, default)]
        pub phone_number: Option<Str<'a>>,
        /// First name.
        #[serde(borrow, default)]
        pub first_name: Option<Str<'a>>,
        /// Last name.
        #[serde(borrow, default)]
        pub last_name: Option<Str<'a>>,
        /// The contact's Telegram user id, where known.
        #[serde(default)]
        pub user_id: Option<i64>,
    }

    impl fmt::Debug for Contact<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Contact")
                .field("phone_number", &redacted(&self.phone_number))
                .finish_non_exhaustive()
        }
    }

    /// A chat member's status ([`super::ChatMember`], borrowed).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct ChatMember<'a> {
        /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
        #[serde(borrow, default)]
        pub status: Str<'a>,
        /// The member.
        #[serde(borrow, default)]
        pub user: Option<User<'a>>,
    }

    /// A change of a member's status in a chat ([`super::ChatMemberUpdated`], borrowed).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct ChatMemberUpdated<'a> {
        /// The chat.
        #[serde(borrow)]
        pub chat: Chat<'a>,
        /// Who changed it.
        #[serde(rename = "from", borrow, default)]
        pub from_user: Option<User<'a>>,
        /// When (Unix seconds).
        #[serde(default)]
        pub date: i64,
        /// The status before.
        #[serde(borrow, default)]
        pub old_chat_member: Option<ChatMember<'a>>,
        /// The status after.
        #[serde(borrow, default)]
        pub new_chat_member: Option<ChatMember<'a>>,
    }

    /// What the names of a message's other fields say, classified as they are read (see
    /// [`crate::convert`]): no name is copied but that of a payload this version does not know.
    #[derive(Clone, Default, PartialEq, Eq)]
    pub struct OtherFields<'a> {
        /// The first of [`UNSUPPORTED_CONTENT`](crate::convert::UNSUPPORTED_CONTENT) present
        /// (in the list's order).
        pub unsupported: Option<&'static str>,
        unsupported_rank: usize,
        /// The first (in byte order) of the [`SERVICE_FIELDS`](crate::convert::SERVICE_FIELDS)
        /// present.
        pub service: Option<&'static str>,
        /// The first (in byte order) of the other fields that are neither metadata nor known
        /// content: a payload this version does not know.
        pub unknown: Option<Str<'a>>,
    }

    impl<'a> OtherFields<'a> {
        fn note(&mut self, class: FieldClass, name: impl FnOnce() -> Str<'a>) {
            match class {
                FieldClass::Unsupported(rank, kind) => {
                    if self.unsupported.is_none() || rank < self.unsupported_rank {
                        self.unsupported = Some(kind);
                        self.unsupported_rank = rank;
                    }
                }
                FieldClass::Service(kind) => {
                    if self.service.is_none_or(|s| kind < s) {
                        self.service = Some(kind);
                    }
                }
                FieldClass::Metadata => {}
                FieldClass::Unknown => {
                    let name = name();
                    if self.unknown.as_ref().is_none_or(|u| name < *u) {
                        self.unknown = Some(name);
                    }
                }
            }
        }
    }

    impl fmt::Debug for OtherFields<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("OtherFields")
                .field("unsupported", &self.unsupported)
                .field("service", &self.service)
                .field("unknown", &self.unknown.as_deref())
                .finish()
        }
    }

    /// The file-like media fields of a message, in the order the conversion takes them (an
    /// animation, which Telegram also sends as a `document` for old clients, is a video).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum MediaField {
        /// `animation`.
        Animation,
        /// `video`.
        Video,
        /// `video_note`.
        VideoNote,
        /// `voice`.
        Voice,
        /// `audio`.
        Audio,
        /// `document`.
        Document,
        /// `sticker`.
        Sticker,
    }

    /// A message ([`super::Message`], borrowed): the fields the connector maps, and what the
    /// names of all others say.
    ///
    /// Every declared field of [`super::Message`] is read and checked as there; of `photo`
    /// only the largest size is kept ([`largest_photo`](crate::convert::largest_photo)), and
    /// of the file-like fields only the first in [`MediaField`] order.
    #[derive(Clone)]
    pub struct Message<'a> {
        /// Unique within the chat; can be 0 for a scheduled message.
        pub message_id: i64,
        /// The sender; absent in channels.
        pub from_user: Option<User<'a>>,
        /// The chat the message was sent on behalf of (channels, anonymous admins).
        pub sender_chat: Option<Chat<'a>>,
        /// Unix seconds.
        pub date: i64,
        /// The chat.
        pub chat: Chat<'a>,
        /// The message this one answers.
        pub reply_to_message: Option<ReplyTo>,
        /// When it was last edited (Unix seconds).
        pub edit_date: Option<i64>,
        /// The text of a text message.
        pub text: Option<Str<'a>>,
        /// The caption of a media message.
        pub caption: Option<Str<'a>>,
        /// The largest size of a photo (the most pixels; the later one on a tie).
        pub photo: Option<PhotoSize<'a>>,
        /// The file-like media of the message, with its field.
        pub media: Option<(MediaField, FileObject<'a>)>,
        /// A shared location (also set, for compatibility, on venues).
        pub location: Option<Location>,
        /// A venue.
        pub venue: Option<Box<Venue<'a>>>,
        /// A shared contact.
        pub contact: Option<Box<Contact<'a>>>,
        /// The group was upgraded to the supergroup with this id.
        pub migrate_to_chat_id: Option<i64>,
        /// The supergroup was upgraded from the group with this id.
        pub migrate_from_chat_id: Option<i64>,
        /// What the names of every other field present say (values are not kept).
        pub other_fields: OtherFields<'a>,
    }

    impl fmt::Debug for Message<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Message")
                .field("message_id", &self.message_id)
                .field("chat", &self.chat)
                .field("date", &self.date)
                .field("text", &self.text)
                .field("caption", &self.caption)
                .field("media", &self.media.as_ref().map(|(field, _)| field))
                .field("other_fields", &self.other_fields)
                .finish_non_exhaustive()
        }
    }

    /// A map key: one of the declared fields (by index), or another field's class.
    enum Key<'de> {
        Field(usize),
        Other(FieldClass, Option<Str<'de>>),
    }

    /// A map key read as bytes (JSON escapes undone; UTF-8 checked only where the name is
    /// kept), looked up in the declared fields, every other name classified with
    /// [`classify_field`] and kept only where it is unknown.
    struct KeySeed(fn(&[u8]) -> Option<usize>);

    impl KeySeed {
        fn key<'de, E: de::Error>(
            &self,
            v: &[u8],
            name: impl FnOnce() -> Result<Str<'de>, E>,
        ) -> Result<Key<'de>, E> {
            Ok(match (self.0)(v) {
                Some(i) => Key::Field(i),
                None => match classify_field(v) {
                    FieldClass::Unknown => Key::Other(FieldClass::Unknown, Some(name()?)),
                    class => Key::Other(class, None),
                },
            })
        }
    }

    /// A key's bytes as text.
    fn utf8<E: de::Error>(v: &[u8]) -> Result<&str, E> {
        std::str::from_utf8(v).map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &"a string"))
    }

    impl<'de> Visitor<'de> for KeySeed {
        type Value = Key<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field identifier")
        }

        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
            self.key(v, || Ok(Str(Cow::Borrowed(utf8(v)?))))
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key<'de>, E> {
            self.key(v, || Ok(Str(Cow::Owned(utf8(v)?.to_owned()))))
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
            self.visit_borrowed_bytes(v.as_bytes())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
            self.visit_bytes(v.as_bytes())
        }
    }

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Key<'de>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
            d.deserialize_bytes(self)
        }
    }

    /// The declared fields seen so far, to refuse a second one (`duplicate field`) before its
    /// value is read, as a derived decoder does.
    struct Seen(u32);

    impl Seen {
        fn first<E: de::Error>(&mut self, index: usize, names: &[&'static str]) -> Result<(), E> {
            let bit = 1 << index;
            if self.0 & bit != 0 {
                return Err(E::duplicate_field(names[index]));
            }
            self.0 |= bit;
            Ok(())
        }
    }

    /// The declared fields of a message, in the order of [`message_field`].
    const MESSAGE_FIELDS: &[&str] = &[
        "message_id",
        "from",
        "sender_chat",
        "date",
        "chat",
        "reply_to_message",
        "edit_date",
        "text",
        "caption",
        "photo",
        "document",
        "animation",
        "audio",
        "video",
        "video_note",
        "voice",
        "sticker",
        "location",
        "venue",
        "contact",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
    ];

    fn message_field(name: &[u8]) -> Option<usize> {
        Some(match name {
            b"message_id" => 0,
            b"from" => 1,
            b"sender_chat" => 2,
            b"date" => 3,
            b"chat" => 4,
            b"reply_to_message" => 5,
            b"edit_date" => 6,
            b"text" => 7,
            b"caption" => 8,
            b"photo" => 9,
            b"document" => 10,
            b"animation" => 11,
            b"audio" => 12,
            b"video" => 13,
            b"video_note" => 14,
            b"voice" => 15,
            b"sticker" => 16,
            b"location" => 17,
            b"venue" => 18,
            b"contact" => 19,
            b"migrate_to_chat_id" => 20,
            b"migrate_from_chat_id" => 21,
            _ => return None,
        })
    }

    /// The largest of the sizes of a photo, read without keeping the others.
    struct LargestPhoto<'a>(Option<PhotoSize<'a>>);

    impl<'de: 'a, 'a> Deserialize<'de> for LargestPhoto<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Sizes;
            impl<'de> Visitor<'de> for Sizes {
                type Value = LargestPhoto<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a sequence")
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<LargestPhoto<'de>, A::Error> {
                    let key =
                        |p: &PhotoSize<'_>| (u64::from(p.width) * u64::from(p.height), p.file_size);
                    let mut largest: Option<PhotoSize<'de>> = None;
                    while let Some(size) = seq.next_element::<PhotoSize<'de>>()? {
                        // The later one on a tie, as `Iterator::max_by_key`.
                        if largest.as_ref().is_none_or(|l| key(&size) >= key(l)) {
                            largest = Some(size);
                        }
                    }
                    Ok(LargestPhoto(largest))
                }
            }
            d.deserialize_seq(Sizes)
        }
    }

    struct MessageVisitor;

    impl<'de> Visitor<'de> for MessageVisitor {
        type Value = Message<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("struct Message")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message<'de>, A::Error> {
            let mut seen = Seen(0);
            let mut message_id = None;
            let mut from_user = None;
            let mut sender_chat = None;
            let mut date = 0;
            let mut chat = None;
            let mut reply_to_message = None;
            let mut edit_date = None;
            let mut text = None;
            let mut caption = None;
            let mut photo = None;
            let mut media: Option<(MediaField, FileObject<'de>)> = None;
            let mut location = None;
            let mut venue = None;
            let mut contact = None;
            let mut migrate_to_chat_id = None;
            let mut migrate_from_chat_id = None;
            let mut other_fields = OtherFields::default();
            while let Some(key) = map.next_key_seed(KeySeed(message_field))? {
                let index = match key {
                    Key::Field(index) => index,
                    Key::Other(class, name) => {
                        map.next_value::<IgnoredAny>()?;
                        other_fields.note(class, || name.unwrap_or_default());
                        continue;
                    }
                };
                seen.first(index, MESSAGE_FIELDS)?;
                let field = match index {
                    0 => {
                        message_id = Some(map.next_value()?);
                        continue;
                    }
                    1 => {
                        from_user = map.next_value()?;
                        continue;
                    }
                    2 => {
                        sender_chat = map.next_value()?;
                        continue;
                    }
                    3 => {
                        date = map.next_value()?;
                        continue;
                    }
                    4 => {
                        chat = Some(map.next_value()?);
                        continue;
                    }
                    5 => {
                        reply_to_message = map.next_value()?;
                        continue;
                    }
                    6 => {
                        edit_date = map.next_value()?;
                        continue;
                    }
                    7 => {
                        text = map.next_value()?;
                        continue;
                    }
                    8 => {
                        caption = map.next_value()?;
                        continue;
                    }
                    9 => {
                        photo = map
                            .next_value::<Option<LargestPhoto<'de>>>()?
                            .and_then(|p| p.0);
                        continue;
                    }
                    10 => MediaField::Document,
                    11 => MediaField::Animation,
                    12 => MediaField::Audio,
                    13 => MediaField::Video,
                    14 => MediaField::VideoNote,
                    15 => MediaField::Voice,
                    16 => MediaField::Sticker,
                    17 => {
                        location = map.next_value()?;
                        continue;
                    }
                    18 => {
                        venue = map.next_value::<Option<Venue<'de>>>()?.map(Box::new);
                        continue;
                    }
                    19 => {
                        contact = map.next_value::<Option<Contact<'de>>>()?.map(Box::new);
                        continue;
                    }
                    20 => {
                        migrate_to_chat_id = map.next_value()?;
                        continue;
                    }
                    _ => {
                        migrate_from_chat_id = map.next_value()?;
                        continue;
                    }
                };
                if let Some(file) = map.next_value::<Option<FileObject<'de>>>()?
                    && media.as_ref().is_none_or(|(kept, _)| field < *kept)
                {
                    media = Some((field, file));
                }
            }
            Ok(Message {
                message_id: message_id.ok_or_else(|| de::Error::missing_field("message_id"))?,
                from_user,
                sender_chat,
                date,
                chat: chat.ok_or_else(|| de::Error::missing_field("chat"))?,
                reply_to_message,
                edit_date,
                text,
                caption,
                photo,
                media,
                location,
                venue,
                contact,
                migrate_to_chat_id,
                migrate_from_chat_id,
                other_fields,
            })
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Message<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(MessageVisitor)
        }
    }

    /// The payload of an update that the core models, and which of its fields it came in.
    #[derive(Debug, Clone)]
    pub enum Payload<'a> {
        /// `message`: a new message.
        Message(Box<Message<'a>>),
        /// `channel_post`: a new channel post.
        ChannelPost(Box<Message<'a>>),
        /// `edited_message`.
        EditedMessage(Box<Message<'a>>),
        /// `edited_channel_post`.
        EditedChannelPost(Box<Message<'a>>),
        /// `my_chat_member`: the bot's own membership changed (blocked/unblocked in a private
        /// chat).
        MyChatMember(Box<ChatMemberUpdated<'a>>),
    }

    impl Payload<'_> {
        /// Which payload the conversion takes when an update carries several (in this order).
        fn rank(&self) -> u8 {
            match self {
                Payload::Message(_) => 0,
                Payload::ChannelPost(_) => 1,
                Payload::EditedMessage(_) => 2,
                Payload::EditedChannelPost(_) => 3,
                Payload::MyChatMember(_) => 4,
            }
        }
    }

    /// An incoming update ([`super::Update`], borrowed). At most one payload field is present
    /// in practice; of the ones the core models the first of [`Payload`]'s order is kept, and
    /// every other payload keeps its field name and the chat it names.
    #[derive(Clone)]
    pub struct Update<'a> {
        /// Increases sequentially; the long-poll offset is the highest seen + 1.
        pub update_id: i64,
        /// The message or member change, where the update carries one.
        pub payload: Option<Payload<'a>>,
        /// The first (in byte order) of the other payloads (`callback_query`, `chat_member`,
        /// `poll`...), by field name; of a repeated one, the last.
        pub other: Option<(Str<'a>, OtherPayload)>,
    }

    impl fmt::Debug for Update<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Update")
                .field("update_id", &self.update_id)
                .field("payload", &self.payload)
                .field("other", &self.other.as_ref().map(|(k, p)| (k.as_str(), p)))
                .finish()
        }
    }

    /// The declared fields of an update, in the order of [`update_field`].
    const UPDATE_FIELDS: &[&str] = &[
        "update_id",
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "my_chat_member",
    ];

    fn update_field(name: &[u8]) -> Option<usize> {
        Some(match name {
            b"update_id" => 0,
            b"message" => 1,
            b"edited_message" => 2,
            b"channel_post" => 3,
            b"edited_channel_post" => 4,
            b"my_chat_member" => 5,
            _ => return None,
        })
    }

    /// A key of an update: a declared field, or the name of another payload.
    struct UpdateKey;

    impl<'de> Visitor<'de> for UpdateKey {
        type Value = Result<usize, Str<'de>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field identifier")
        }

        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            Ok(match update_field(v) {
                Some(index) => Ok(index),
                None => Err(Str(Cow::Borrowed(utf8(v)?))),
            })
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(match update_field(v) {
                Some(index) => Ok(index),
                None => Err(Str(Cow::Owned(utf8(v)?.to_owned()))),
            })
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            self.visit_borrowed_bytes(v.as_bytes())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.visit_bytes(v.as_bytes())
        }
    }

    impl<'de> DeserializeSeed<'de> for UpdateKey {
        type Value = Result<usize, Str<'de>>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_bytes(self)
        }
    }

    /// The error that stops reading an update at an `ok` key (see [`UpdateSeed`]).
    const AN_ANSWER: &str = "a Bot API answer, not an update";

    /// Reads an [`Update`]; with `answer` set, stops at the first `ok` key that is not `null`
    /// (an error), and says so in `answer`: the body is a Bot API answer, which
    /// [`crate::parse`] reads otherwise.
    pub(crate) struct UpdateSeed<'c> {
        pub(crate) answer: Option<&'c Cell<bool>>,
    }

    impl<'de> Visitor<'de> for UpdateSeed<'_> {
        type Value = Update<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("struct Update")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Update<'de>, A::Error> {
            let mut seen = Seen(0);
            let mut update_id = None;
            let mut payload: Option<Payload<'de>> = None;
            let mut other: Option<(Str<'de>, OtherPayload)> = None;
            while let Some(key) = map.next_key_seed(UpdateKey)? {
                let index = match key {
                    Ok(index) => index,
                    Err(key) => {
                        let value = match self.answer {
                            Some(answer) if key.as_str() == "ok" => {
                                if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                                    answer.set(true);
                                    return Err(de::Error::custom(AN_ANSWER));
                                }
                                // `"ok": null` does not make an answer: an other field.
                                OtherPayload::default()
                            }
                            _ => map.next_value()?,
                        };
                        if other.as_ref().is_none_or(|(k, _)| key <= *k) {
                            other = Some((key, value));
                        }
                        continue;
                    }
                };
                seen.first(index, UPDATE_FIELDS)?;
                let read = match index {
                    0 => {
                        update_id = Some(map.next_value()?);
                        continue;
                    }
                    1 => map
                        .next_value::<Option<Box<Message<'de>>>>()?
                        .map(Payload::Message),
                    2 => map
                        .next_value::<Option<Box<Message<'de>>>>()?
                        .map(Payload::EditedMessage),
                    3 => map
                        .next_value::<Option<Box<Message<'de>>>>()?
                        .map(Payload::ChannelPost),
                    4 => map
                        .next_value::<Option<Box<Message<'de>>>>()?
                        .map(Payload::EditedChannelPost),
                    _ => map
                        .next_value::<Option<Box<ChatMemberUpdated<'de>>>>()?
                        .map(Payload::MyChatMember),
                };
                if let Some(read) = read
                    && payload.as_ref().is_none_or(|p| read.rank() < p.rank())
                {
                    payload = Some(read);
                }
            }
            Ok(Update {
                update_id: update_id.ok_or_else(|| de::Error::missing_field("update_id"))?,
                payload,
                other,
            })
        }
    }

    impl<'de> DeserializeSeed<'de> for UpdateSeed<'_> {
        type Value = Update<'de>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Update<'de>, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Update<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(UpdateSeed { answer: None })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// One Bot API method call: its parameters (serialised as the JSON body), its name, and the
/// type of its `result`.
pub trait Request: Serialize {
    /// The type of `result` in an `ok: true` answer.
    type Response: DeserializeOwned;

    /// Whether the call changes something the customer sees (a send, an edit, a deletion):
    /// when its answer cannot be read, it may have been done.
    const CHANGES: bool = false;

    /// The method name (`sendMessage`).
    fn method(&self) -> &'static str;
}

/// `chat_id` as the Bot API takes it: an integer, or a public `@username`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ChatTarget {
    /// A numeric chat id (negative for groups, supergroups and channels).
    Id(i64),
    /// `@channelusername` of a public channel or supergroup.
    Username(String),
}

impl fmt::Display for ChatTarget {
    /// The form a multipart text field carries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatTarget::Id(id) => write!(f, "{id}"),
            ChatTarget::Username(name) => f.write_str(name),
        }
    }
}

/// `reply_parameters` of a send method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplyParameters {
    /// The message to reply to.
    pub message_id: i64,
}

/// `getMe`: the bot's own [`User`]. No parameters (an empty JSON object).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GetMe {}

impl Request for GetMe {
    type Response = User;
    fn method(&self) -> &'static str {
        "getMe"
    }
}

/// `getFile`: the download path of a file.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GetFile<'a> {
    /// The per-bot file id.
    pub file_id: &'a str,
}

impl Request for GetFile<'_> {
    type Response = File;
    fn method(&self) -> &'static str {
        "getFile"
    }
}

/// `sendMessage` with plain text (no `parse_mode`: the text is sent as written).
#[derive(Clone, Serialize)]
pub struct SendMessage<'a> {
    /// The chat.
    pub chat_id: ChatTarget,
    /// 1-4096 characters.
    pub text: &'a str,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_parameters: Option<ReplyParameters>,
}

impl Request for SendMessage<'_> {
    type Response = Message;
    const CHANGES: bool = true;
    fn method(&self) -> &'static str {
        "sendMessage"
    }
}

impl fmt::Debug for SendMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendMessage")
            .field("chat_id", &self.chat_id)
            .field("text", &TextLen(self.text))
            .field("reply_parameters", &self.reply_parameters)
            .finish()
    }
}

/// The kind of a media send: its method and the name of its file parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `sendPhoto`, `photo`.
    Photo,
    /// `sendDocument`, `document`.
    Document,
    /// `sendVoice`, `voice`.
    Voice,
    /// `sendAudio`, `audio`.
    Audio,
    /// `sendVideo`, `video`.
    Video,
}

impl MediaKind {
    /// The kind that sends a core content kind; `None` for kinds Telegram bots do not send
    /// through this connector (text, stickers, locations...).
    ///
    /// ```
    /// use connector_telegram::wire::MediaKind;
    /// use messenger_core::ContentKind;
    /// let kind = MediaKind::of(ContentKind::Image).unwrap();
    /// assert_eq!((kind.method(), kind.field()), ("sendPhoto", "photo"));
    /// assert_eq!(MediaKind::of(ContentKind::Sticker), None);
    /// ```
    pub fn of(kind: ContentKind) -> Option<Self> {
        Some(match kind {
            ContentKind::Image => Self::Photo,
            ContentKind::File => Self::Document,
            ContentKind::Voice => Self::Voice,
            ContentKind::Audio => Self::Audio,
            ContentKind::Video => Self::Video,
            _ => return None,
        })
    }

    /// The Bot API method.
    pub fn method(self) -> &'static str {
        match self {
            Self::Photo => "sendPhoto",
            Self::Document => "sendDocument",
            Self::Voice => "sendVoice",
            Self::Audio => "sendAudio",
            Self::Video => "sendVideo",
        }
    }

    /// The name of the file parameter (and of the multipart part of an upload).
    pub fn field(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Document => "document",
            Self::Voice => "voice",
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// The file of a media send.
#[derive(Clone, Copy)]
pub enum InputFile<'a> {
    /// A `file_id` already on Telegram, or an HTTP URL Telegram fetches: a string parameter
    /// of a JSON body.
    Reference(&'a str),
    /// Bytes or a stream, uploaded as the multipart part named after the
    /// [`field`](MediaKind::field) (see [`crate::media`]).
    Upload(&'a MediaSource),
}

impl fmt::Debug for InputFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A URL can carry a signed token; a file id is per bot and harmless, but both are
            // shown only by length.
            InputFile::Reference(r) => f.debug_tuple("Reference").field(&TextLen(r)).finish(),
            InputFile::Upload(source) => f.debug_tuple("Upload").field(source).finish(),
        }
    }
}

/// `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio` or `sendVideo`.
///
/// Serialises (as a JSON body) only with an [`InputFile::Reference`]; an upload is sent as
/// `multipart/form-data` by [`crate::media`], with the same fields in the same order:
/// `chat_id`, `caption`, `reply_parameters`, then the file.
///
/// ```
/// use connector_telegram::wire::{ChatTarget, InputFile, MediaKind, Request, SendMedia};
/// let request = SendMedia {
///     kind: MediaKind::Voice,
///     chat_id: ChatTarget::Username("@news".into()),
///     file: InputFile::Reference("AwACAgIAAxkBAAIE"),
///     caption: None,
///     reply_parameters: None,
/// };
/// assert_eq!(request.method(), "sendVoice");
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"chat_id":"@news","voice":"AwACAgIAAxkBAAIE"}"#
/// );
/// ```
#[derive(Clone)]
pub struct SendMedia<'a> {
    /// Which method and file parameter.
    pub kind: MediaKind,
    /// The chat.
    pub chat_id: ChatTarget,
    /// The file.
    pub file: InputFile<'a>,
    /// 0-1024 characters.
    pub caption: Option<&'a str>,
    /// The message this one replies to.
    pub reply_parameters: Option<ReplyParameters>,
}

impl Serialize for SendMedia<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let InputFile::Reference(reference) = self.file else {
            return Err(serde::ser::Error::custom(
                "an upload is sent as multipart/form-data, not JSON",
            ));
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("chat_id", &self.chat_id)?;
        map.serialize_entry(self.kind.field(), reference)?;
        if let Some(caption) = self.caption {
            map.serialize_entry("caption", caption)?;
        }
        if let Some(reply) = &self.reply_parameters {
            map.serialize_entry("reply_parameters", reply)?;
        }
        map.end()
    }
}

impl Request for SendMedia<'_> {
    type Response = Message;
    const CHANGES: bool = true;
    fn method(&self) -> &'static str {
        self.kind.method()
    }
}

impl fmt::Debug for SendMedia<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendMedia")
            .field("kind", &self.kind)
            .field("chat_id", &self.chat_id)
            .field("file", &self.file)
            .field("caption", &self.caption.map(TextLen))
            .field("reply_parameters", &self.reply_parameters)
            .finish()
    }
}

/// `editMessageText` of a message in a chat (plain text, no `parse_mode`).
///
/// ```
/// use connector_telegram::wire::{ChatTarget, EditMessageText};
/// let request = EditMessageText { chat_id: ChatTarget::Id(5), message_id: 45, text: "Fixed" };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"chat_id":5,"message_id":45,"text":"Fixed"}"#
/// );
/// ```
#[derive(Clone, Serialize)]
pub struct EditMessageText<'a> {
    /// The chat.
    pub chat_id: ChatTarget,
    /// The message to edit.
    pub message_id: i64,
    /// The new text, 1-4096 characters.
    pub text: &'a str,
}

impl Request for EditMessageText<'_> {
    /// The edited `Message` (or `true` for inline messages); not read.
    type Response = IgnoredAny;
    const CHANGES: bool = true;
    fn method(&self) -> &'static str {
        "editMessageText"
    }
}

impl fmt::Debug for EditMessageText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditMessageText")
            .field("chat_id", &self.chat_id)
            .field("message_id", &self.message_id)
            .field("text", &TextLen(self.text))
            .finish()
    }
}

/// `deleteMessage`.
///
/// ```
/// use connector_telegram::wire::{ChatTarget, DeleteMessage};
/// let request = DeleteMessage { chat_id: ChatTarget::Id(-100123), message_id: 7 };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"chat_id":-100123,"message_id":7}"#
/// );
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct DeleteMessage {
    /// The chat.
    pub chat_id: ChatTarget,
    /// The message to delete.
    pub message_id: i64,
}

impl Request for DeleteMessage {
    type Response = bool;
    const CHANGES: bool = true;
    fn method(&self) -> &'static str {
        "deleteMessage"
    }
}

/// `getUpdates`: one long poll.
///
/// The `result` is read as raw updates ([`RawValue`]), each then decoded on its own by
/// [`crate::webhook::parse_update`]: one undecodable update does not hide the others, and its
/// id still confirms it.
#[derive(Debug, Clone, Serialize)]
pub struct GetUpdates<'a> {
    /// The first update to return: the highest id seen + 1 (confirms everything below).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// 1-100.
    pub limit: u8,
    /// The long-poll wait in seconds (0: short polling).
    pub timeout: u64,
    /// The update types to receive; absent keeps the previous setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<&'a [String]>,
}

impl Request for GetUpdates<'_> {
    type Response = Vec<Box<RawValue>>;
    fn method(&self) -> &'static str {
        "getUpdates"
    }
}

/// `setWebhook`.
#[derive(Clone, Serialize)]
pub struct SetWebhook<'a> {
    /// The HTTPS URL Telegram POSTs updates to.
    pub url: &'a str,
    /// Sent back in [`crate::SECRET_HEADER`] with every delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<&'a str>,
    /// The update types to receive; absent keeps the previous setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<&'a [&'a str]>,
    /// Whether to drop the updates waiting on the server.
    pub drop_pending_updates: bool,
}

impl Request for SetWebhook<'_> {
    type Response = bool;
    fn method(&self) -> &'static str {
        "setWebhook"
    }
}

impl fmt::Debug for SetWebhook<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL can carry a secret path; the secret token is a secret.
        f.debug_struct("SetWebhook")
            .field("secret_token", &redacted(&self.secret_token))
            .field("allowed_updates", &self.allowed_updates)
            .field("drop_pending_updates", &self.drop_pending_updates)
            .finish_non_exhaustive()
    }
}

/// `deleteWebhook`: back to long polling.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DeleteWebhook {
    /// Whether to drop the updates waiting on the server.
    pub drop_pending_updates: bool,
}

impl Request for DeleteWebhook {
    type Response = bool;
    fn method(&self) -> &'static str {
        "deleteWebhook"
    }
}

/// `getWebhookInfo`. No parameters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GetWebhookInfo {}

impl Request for GetWebhookInfo {
    type Response = WebhookInfo;
    fn method(&self) -> &'static str {
        "getWebhookInfo"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_without_result_is_an_error() {
        assert!(serde_json::from_str::<ApiResponse<bool>>(r#"{"ok":true}"#).is_err());
    }

    #[test]
    fn unknown_fields_and_nulls_are_tolerated() {
        let m: Message = serde_json::from_str(
            r#"{"message_id":1,"date":2,"chat":{"id":3,"type":"private","x":1},
                "document":{"file_id":"f","thumb":null,"new_field":[1,2]},
                "brand_new_field":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(m.document.unwrap().file_id, "f");
        assert!(m.other_fields.contains_key("brand_new_field"));
    }

    #[test]
    fn debug_hides_text() {
        let m: Message = serde_json::from_str(
            r#"{"message_id":1,"date":2,"chat":{"id":3,"type":"private"},"text":"secret words",
                "from":{"id":5,"first_name":"Ivan"}}"#,
        )
        .unwrap();
        let dbg = format!("{m:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(!dbg.contains("Ivan"), "{dbg}");
    }

    #[test]
    fn duplicate_fields_of_a_typed_object_are_refused() {
        // serde_json keeps the last of duplicate keys in a `Value`; the typed decode refuses
        // them, and every path decodes the same way (see `webhook::parse_update`).
        let err = serde_json::from_str::<Message>(
            r#"{"message_id":1,"date":2,"chat":{"id":3},"text":"a","text":"b"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate field `text`"), "{err}");
    }

    #[test]
    fn other_payloads_find_their_chat_leniently() {
        let read = |json: &str| serde_json::from_str::<OtherPayload>(json).unwrap().chat_id;
        assert_eq!(
            read(r#"{"chat":{"id":-5,"type":"group"},"user_chat_id":9}"#),
            Some(-5)
        );
        assert_eq!(read(r#"{"message":{"chat":{"id":-6}}}"#), Some(-6));
        assert_eq!(read(r#"{"message":null}"#), None);
        assert_eq!(read(r#"{"user_chat_id":12345}"#), Some(12345));
        // Shapes the connector does not expect are not errors.
        assert_eq!(read(r#"{"chat":"x","message":7,"user_chat_id":"y"}"#), None);
        assert_eq!(read(r#"{"chat":{"id":"not a number"}}"#), None);
        assert_eq!(read("null"), None);
        assert_eq!(read("42"), None);
    }

    #[test]
    fn an_upload_does_not_serialise_as_json() {
        let source = MediaSource::bytes(&b"x"[..], "image/png", "a.png");
        let request = SendMedia {
            kind: MediaKind::Photo,
            chat_id: ChatTarget::Id(1),
            file: InputFile::Upload(&source),
            caption: Some("secret caption"),
            reply_parameters: None,
        };
        assert!(serde_json::to_string(&request).is_err());
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("a.png"),
            "{shown}"
        );
    }
}
