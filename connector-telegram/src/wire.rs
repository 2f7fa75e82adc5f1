//! Serde types of the Telegram Bot API JSON (field names from Bot API 10.1, `api.json`).
//!
//! Only the fields the connector reads are typed. Every type tolerates unknown fields (new API
//! versions add them all the time) and missing optional ones; a field the connector does not
//! need is simply not declared. Types that hold message content or personal data implement
//! `Debug` by hand and print only ids and sizes.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};

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

impl<'de, T: DeserializeOwned> Deserialize<'de> for ApiResponse<T> {
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

/// Prints the length of a text, never the text.
pub(crate) struct Len<'a>(pub(crate) &'a Option<String>);

impl fmt::Debug for Len<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "<{} chars>", s.chars().count()),
            None => f.write_str("None"),
        }
    }
}

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
            .field(
                "id",
                &messenger_core::model::fingerprint(&self.id.to_string()),
            )
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
            .field(
                "id",
                &messenger_core::model::fingerprint(&self.id.to_string()),
            )
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
            .field("mime_type", &self.mime_type)
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
        f.debug_struct("Contact").finish_non_exhaustive()
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
            .field("text", &Len(&self.text))
            .field("caption", &Len(&self.caption))
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

/// An incoming update (`Update`). At most one payload field is present; payloads the connector
/// does not model are kept by name only.
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
    /// The names of every other field present.
    #[serde(flatten)]
    pub other_fields: BTreeMap<String, IgnoredAny>,
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
            .field(
                "other_fields",
                &self.other_fields.keys().collect::<Vec<_>>(),
            )
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

/// `reply_parameters` of a send method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplyParameters {
    /// The message to reply to.
    pub message_id: i64,
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
}
