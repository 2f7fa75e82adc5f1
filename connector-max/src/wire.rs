//! The MAX Bot API's JSON, both ways: what MAX sends (updates, messages, attachments, answers)
//! and what the connector sends (message bodies, attachment requests, subscriptions).
//!
//! Sources: the official OpenAPI schema (`max-messenger/api-schema`, also `shared/schemas/max`),
//! the Go client's stubs (`shared/fixtures/max`) and `shared/platforms/max.md`.
//!
//! Every inbound type tolerates unknown fields and missing optional ones: a field the schema
//! calls required but that the connector can do without is an `Option` (MAX has sent updates
//! without their `message`, see [`MessageUpdate::message`]). [`Update`] is discriminated by
//! `update_type`, with [`Update::Unknown`] for types this version does not know;
//! [`Attachment`] by `type`, decoded one by one so that one attachment of an unexpected shape
//! becomes [`Attachment::Unknown`] instead of failing its message.
//!
//! Types that can hold message text, names, phone numbers, file names or media URLs implement
//! `Debug` by hand and print none of them.

use std::fmt;

use messenger_core::redact::{Redacted, TextLen, redacted};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A `Debug` that shows only the type's name: the value can carry personal data.
macro_rules! opaque_debug {
    ($($ty:ident),* $(,)?) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), " { <redacted> }"))
            }
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Inbound: users, messages, attachments
// ---------------------------------------------------------------------------------------------

/// A MAX user or bot (`User` in the schema).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub user_id: i64,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Public handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether this is a bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_bot: Option<bool>,
    /// Last activity, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<i64>,
    /// The display name (deprecated by MAX in favour of first and last name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl User {
    /// The name to show: first and last name, else `name`, else the username.
    pub fn display_name(&self) -> Option<String> {
        let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !joined.is_empty() {
            return Some(joined);
        }
        self.name
            .clone()
            .or_else(|| self.username.clone())
            .filter(|s| !s.trim().is_empty())
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field(
                "user_id",
                &messenger_core::model::fingerprint(&self.user_id.to_string()),
            )
            .field("is_bot", &self.is_bot)
            .finish_non_exhaustive()
    }
}

/// The bot itself, as `GET /me` returns it (`BotInfo`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotInfo {
    /// The bot's user id.
    pub user_id: i64,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name (bots rarely have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Its handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Always `true` for a bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_bot: Option<bool>,
    /// Last activity, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<i64>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Larger avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_avatar_url: Option<String>,
    /// The deprecated display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl fmt::Debug for BotInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bot's identity is the business's, not a customer's: shown.
        f.debug_struct("BotInfo")
            .field("user_id", &self.user_id)
            .field("first_name", &self.first_name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Where a message went (`Recipient`): a chat (dialog, group chat, channel) and, in a dialog,
/// the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The chat: positive for a dialog, negative for a group chat or channel (MAX reports 0 in
    /// some callbacks from dialogs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// `dialog`, `chat` or `channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<String>,
    /// In a dialog, the user the message was addressed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}

/// The body of a message (`MessageBody`): its id, text and attachments.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// The message id (`mid.…`).
    pub mid: String,
    /// Sequence number in the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    /// Formatting of the text (kept as received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markup: Option<Vec<Value>>,
}

impl fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageBody")
            .field("mid", &messenger_core::model::fingerprint(&self.mid))
            .field("text", &self.text.as_deref().map(TextLen))
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// A forwarded or replied-to message (`LinkedMessage`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedMessage {
    /// `reply` or `forward`.
    #[serde(rename = "type")]
    pub link_type: String,
    /// Its author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<User>,
    /// Where a forwarded message was first posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageBody>,
}

/// A message (`Message`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The author (`None` for a channel post).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<User>,
    /// Where it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// When it was created, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The message it forwards or replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkedMessage>,
    /// Its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<MessageBody>,
    /// Its public URL (public channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

opaque_debug!(LinkedMessage);

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("timestamp", &self.timestamp)
            .field("link", &self.link.as_ref().map(|l| l.link_type.as_str()))
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// The payload of an inbound image (`PhotoAttachmentPayload`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhotoPayload {
    /// The image's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_id: Option<i64>,
    /// A token to send the same image again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Where to download it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The payload of inbound video, audio and files (`MediaAttachmentPayload`,
/// `FileAttachmentPayload`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaPayload {
    /// Where to download it (for video, `GET /videos/{token}` gives the file URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A token to send the same media again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The payload of a sticker.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StickerPayload {
    /// The sticker image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The sticker's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The payload of a shared contact.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactPayload {
    /// The contact as a vCard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcf_info: Option<String>,
    /// The contact's MAX user, where it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_info: Option<User>,
}

/// The payload of a link preview (`share`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SharePayload {
    /// The shared URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

opaque_debug!(
    PhotoPayload,
    MediaPayload,
    StickerPayload,
    ContactPayload,
    SharePayload
);

/// An inbound attachment, discriminated by `type`.
///
/// Decoded one by one: an attachment of a type this version does not know, or of a known type
/// in an unexpected shape, is [`Attachment::Unknown`] with its `type`, and the rest of the
/// message is still read.
///
/// ```
/// use connector_max::wire::Attachment;
/// let a: Attachment = serde_json::from_str(r#"{"type":"location","latitude":55.75,"longitude":37.62}"#).unwrap();
/// assert!(matches!(a, Attachment::Location { .. }));
/// let a: Attachment = serde_json::from_str(r#"{"type":"poll","question":"?"}"#).unwrap();
/// assert_eq!(a.kind(), "poll");
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Attachment {
    /// A picture.
    Image {
        /// Its payload.
        payload: PhotoPayload,
    },
    /// A video.
    Video {
        /// Its payload.
        payload: MediaPayload,
        /// Duration in seconds.
        duration: Option<u64>,
    },
    /// An audio recording or track.
    Audio {
        /// Its payload.
        payload: MediaPayload,
        /// MAX's transcription of the speech, where it made one.
        transcription: Option<String>,
    },
    /// A file.
    File {
        /// Its payload.
        payload: MediaPayload,
        /// The file name.
        filename: Option<String>,
        /// The size in bytes.
        size: Option<u64>,
    },
    /// A sticker.
    Sticker {
        /// Its payload.
        payload: StickerPayload,
    },
    /// A shared contact.
    Contact {
        /// Its payload.
        payload: ContactPayload,
    },
    /// A link preview.
    Share {
        /// Its payload.
        payload: SharePayload,
        /// The preview's title.
        title: Option<String>,
    },
    /// A point on a map (the coordinates are at the top level, not in a payload).
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
    },
    /// Buttons under a message (sent by bots; carries no content of its own).
    InlineKeyboard,
    /// A type this version does not know, or a known one in an unexpected shape.
    Unknown {
        /// The attachment's `type` (`unknown` where it had none).
        kind: String,
    },
}

impl Attachment {
    /// The attachment's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Attachment::Image { .. } => "image",
            Attachment::Video { .. } => "video",
            Attachment::Audio { .. } => "audio",
            Attachment::File { .. } => "file",
            Attachment::Sticker { .. } => "sticker",
            Attachment::Contact { .. } => "contact",
            Attachment::Share { .. } => "share",
            Attachment::Location { .. } => "location",
            Attachment::InlineKeyboard => "inline_keyboard",
            Attachment::Unknown { kind } => kind,
        }
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Attachment({})", self.kind())
    }
}

/// The wire form of the attachment types with a `payload`.
#[derive(Deserialize, Serialize)]
struct WithPayload<P> {
    #[serde(default)]
    payload: Option<P>,
}

#[derive(Deserialize, Serialize)]
struct VideoWire {
    #[serde(default)]
    payload: Option<MediaPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
}

#[derive(Deserialize, Serialize)]
struct AudioWire {
    #[serde(default)]
    payload: Option<MediaPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transcription: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct FileWire {
    #[serde(default)]
    payload: Option<MediaPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

#[derive(Deserialize, Serialize)]
struct ShareWire {
    #[serde(default)]
    payload: Option<SharePayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct LocationWire {
    latitude: f64,
    longitude: f64,
}

impl<'de> Deserialize<'de> for Attachment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        fn read<T: serde::de::DeserializeOwned>(value: Value) -> Option<T> {
            serde_json::from_value(value).ok()
        }
        let parsed = match kind.as_str() {
            "image" => read::<WithPayload<PhotoPayload>>(value).map(|w| Attachment::Image {
                payload: w.payload.unwrap_or_default(),
            }),
            "video" => read::<VideoWire>(value).map(|w| Attachment::Video {
                payload: w.payload.unwrap_or_default(),
                duration: w.duration,
            }),
            "audio" => read::<AudioWire>(value).map(|w| Attachment::Audio {
                payload: w.payload.unwrap_or_default(),
                transcription: w.transcription,
            }),
            "file" => read::<FileWire>(value).map(|w| Attachment::File {
                payload: w.payload.unwrap_or_default(),
                filename: w.filename,
                size: w.size,
            }),
            "sticker" => read::<WithPayload<StickerPayload>>(value).map(|w| Attachment::Sticker {
                payload: w.payload.unwrap_or_default(),
            }),
            "contact" => read::<WithPayload<ContactPayload>>(value).map(|w| Attachment::Contact {
                payload: w.payload.unwrap_or_default(),
            }),
            "share" => read::<ShareWire>(value).map(|w| Attachment::Share {
                payload: w.payload.unwrap_or_default(),
                title: w.title,
            }),
            "location" => read::<LocationWire>(value)
                .filter(|w| w.latitude.is_finite() && w.longitude.is_finite())
                .map(|w| Attachment::Location {
                    latitude: w.latitude,
                    longitude: w.longitude,
                }),
            "inline_keyboard" => Some(Attachment::InlineKeyboard),
            _ => None,
        };
        Ok(parsed.unwrap_or(Attachment::Unknown { kind }))
    }
}

impl Serialize for Attachment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn tagged<T: Serialize>(kind: &str, value: T) -> Value {
            let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("type".into(), Value::String(kind.to_owned()));
                return value;
            }
            serde_json::json!({ "type": kind })
        }
        let value = match self {
            Attachment::Image { payload } => tagged(
                "image",
                WithPayload {
                    payload: Some(payload),
                },
            ),
            Attachment::Video { payload, duration } => tagged(
                "video",
                VideoWire {
                    payload: Some(payload.clone()),
                    duration: *duration,
                },
            ),
            Attachment::Audio {
                payload,
                transcription,
            } => tagged(
                "audio",
                AudioWire {
                    payload: Some(payload.clone()),
                    transcription: transcription.clone(),
                },
            ),
            Attachment::File {
                payload,
                filename,
                size,
            } => tagged(
                "file",
                FileWire {
                    payload: Some(payload.clone()),
                    filename: filename.clone(),
                    size: *size,
                },
            ),
            Attachment::Sticker { payload } => tagged(
                "sticker",
                WithPayload {
                    payload: Some(payload),
                },
            ),
            Attachment::Contact { payload } => tagged(
                "contact",
                WithPayload {
                    payload: Some(payload),
                },
            ),
            Attachment::Share { payload, title } => tagged(
                "share",
                ShareWire {
                    payload: Some(payload.clone()),
                    title: title.clone(),
                },
            ),
            Attachment::Location {
                latitude,
                longitude,
            } => tagged(
                "location",
                LocationWire {
                    latitude: *latitude,
                    longitude: *longitude,
                },
            ),
            Attachment::InlineKeyboard => {
                serde_json::json!({"type": "inline_keyboard", "payload": {"buttons": []}})
            }
            Attachment::Unknown { kind } => serde_json::json!({ "type": kind }),
        };
        value.serialize(serializer)
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound: updates
// ---------------------------------------------------------------------------------------------

/// `message_created` and `message_edited`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageUpdate {
    /// When the update happened, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The message. **Absent** from the `message_created` of a native voice note sent to a bot
    /// (a MAX bug open since 2026-07: max-bot-api-client-ts#250, love-apples/maxapi#193, #229).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// The chat, where MAX names it next to a missing message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// The user's locale (dialogs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_locale: Option<String>,
}

/// `message_removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRemoved {
    /// When, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The removed message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Its chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Who removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}

/// A button press (`Callback`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// When, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The id to answer with `POST /answers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
    /// The button's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Who pressed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

opaque_debug!(Callback);

/// `message_callback`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageCallback {
    /// When, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<Callback>,
    /// The message with the button (`null` once deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// The user's locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_locale: Option<String>,
}

/// A chat named by id inside an update (`message_chat_created`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatRef {
    /// The chat's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
}

/// The updates about a chat and a user: `bot_started`, `bot_stopped`, `bot_added`,
/// `bot_removed`, `user_added`, `user_removed`, `dialog_muted`, `dialog_unmuted`,
/// `dialog_cleared`, `dialog_removed`, `chat_title_changed`, `message_chat_created`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatUpdate {
    /// When, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The chat (for `bot_started`/`bot_stopped`, the dialog with the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// The user concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The user id MAX repeats next to `user` in some updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Whether the chat is a channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_channel: Option<bool>,
    /// Deep-link payload of `bot_started`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// New title of `chat_title_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Until when a dialog is muted, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
    /// Who invited the user (`user_added`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_id: Option<i64>,
    /// Who removed the user (`user_removed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<i64>,
    /// The chat created by a chat button (`message_chat_created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatRef>,
    /// The user's locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_locale: Option<String>,
}

opaque_debug!(MessageUpdate, MessageCallback, ChatUpdate);

/// One update, discriminated by `update_type` (the body of a webhook delivery; an element of a
/// `GET /updates` answer).
///
/// ```
/// use connector_max::wire::Update;
/// let u: Update = serde_json::from_str(
///     r#"{"update_type":"bot_stopped","timestamp":1775025604499,"chat_id":182182182,
///         "user":{"user_id":123456789,"first_name":"John","is_bot":false}}"#).unwrap();
/// assert_eq!(u.kind(), "bot_stopped");
/// let u: Update = serde_json::from_str(r#"{"update_type":"comment_created","timestamp":1}"#).unwrap();
/// assert!(matches!(u, Update::Unknown));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "update_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Update {
    /// A new message (or, today, a native voice note without its message).
    MessageCreated(MessageUpdate),
    /// An edited message.
    MessageEdited(MessageUpdate),
    /// A removed message.
    MessageRemoved(MessageRemoved),
    /// A button press.
    MessageCallback(MessageCallback),
    /// A user started the bot (or followed its deep link).
    BotStarted(ChatUpdate),
    /// A user stopped the bot.
    BotStopped(ChatUpdate),
    /// The bot was added to a chat.
    BotAdded(ChatUpdate),
    /// The bot was removed from a chat.
    BotRemoved(ChatUpdate),
    /// A user joined a chat.
    UserAdded(ChatUpdate),
    /// A user left or was removed.
    UserRemoved(ChatUpdate),
    /// A user muted the dialog.
    DialogMuted(ChatUpdate),
    /// A user unmuted the dialog.
    DialogUnmuted(ChatUpdate),
    /// A user cleared the dialog's history.
    DialogCleared(ChatUpdate),
    /// A user deleted the dialog (comes with `bot_stopped`).
    DialogRemoved(ChatUpdate),
    /// A chat's title changed.
    ChatTitleChanged(ChatUpdate),
    /// A chat button created a chat.
    MessageChatCreated(ChatUpdate),
    /// A type this version does not know (comments, admin permissions, future ones).
    #[serde(other)]
    Unknown,
}

impl Update {
    /// The `update_type` (`unknown` for [`Update::Unknown`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Update::MessageCreated(_) => "message_created",
            Update::MessageEdited(_) => "message_edited",
            Update::MessageRemoved(_) => "message_removed",
            Update::MessageCallback(_) => "message_callback",
            Update::BotStarted(_) => "bot_started",
            Update::BotStopped(_) => "bot_stopped",
            Update::BotAdded(_) => "bot_added",
            Update::BotRemoved(_) => "bot_removed",
            Update::UserAdded(_) => "user_added",
            Update::UserRemoved(_) => "user_removed",
            Update::DialogMuted(_) => "dialog_muted",
            Update::DialogUnmuted(_) => "dialog_unmuted",
            Update::DialogCleared(_) => "dialog_cleared",
            Update::DialogRemoved(_) => "dialog_removed",
            Update::ChatTitleChanged(_) => "chat_title_changed",
            Update::MessageChatCreated(_) => "message_chat_created",
            Update::Unknown => "unknown",
        }
    }
}

impl fmt::Debug for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Update({})", self.kind())
    }
}

/// A `GET /updates` answer (`UpdateList`), as a sandbox writes it; the connector reads the
/// updates of an answer one by one (see [`crate::poll`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateList {
    /// The updates.
    #[serde(default)]
    pub updates: Vec<Update>,
    /// The marker of the next call (`null` or `0`: keep the previous one).
    #[serde(default)]
    pub marker: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Inbound, as intake decodes it: borrowed from the body
// ---------------------------------------------------------------------------------------------

/// The inbound types every intake path decodes ([`crate::parse`], the webhook, long polling):
/// the fields of [`Update`] and what it carries, decoded straight from the
/// body's bytes, strings borrowed from it ([`Str`](inbound::Str)), unknown fields skipped unbuilt.
///
/// An [`inbound::Update`] holds the fields of every known update type at once, so that it is read in
/// one pass whatever the place of `update_type` in the object (MAX does not put it first);
/// which of them an update type reads is [`inbound::UpdateKind::fields`]. Attachments are read one by
/// one from their raw text ([`Attachment`]), so that one of an unexpected shape is
/// [`Attachment::Unknown`] and the rest of the message is still read.
///
/// ```
/// use connector_max::wire::inbound::{Update, UpdateKind};
/// let update: Update<'_> = serde_json::from_str(
///     r#"{"timestamp":1775025604499,"chat_id":182182182,
///        "user":{"user_id":123456789,"first_name":"John"},"update_type":"bot_stopped"}"#,
/// ).unwrap();
/// assert_eq!(update.kind(), Some(UpdateKind::BotStopped));
/// ```
pub mod inbound {
    use std::borrow::Cow;
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub use super::ChatRef;

    /// The JSON string of the intake types (one type for every connector, in the core).
    pub use messenger_core::json::Str;

    /// A MAX user or bot ([`super::User`], borrowed).
    #[derive(Clone, PartialEq, Eq, Deserialize)]
    pub struct User<'a> {
        /// The user's id.
        pub user_id: i64,
        /// First name.
        #[serde(borrow, default)]
        pub first_name: Option<Str<'a>>,
        /// Last name.
        #[serde(borrow, default)]
        pub last_name: Option<Str<'a>>,
        /// Public handle.
        #[serde(borrow, default)]
        pub username: Option<Str<'a>>,
        /// Whether this is a bot.
        #[serde(default)]
        pub is_bot: Option<bool>,
        /// Last activity, Unix milliseconds.
        #[serde(default)]
        pub last_activity_time: Option<i64>,
        /// The display name (deprecated by MAX in favour of first and last name).
        #[serde(borrow, default)]
        pub name: Option<Str<'a>>,
    }

    impl User<'_> {
        /// The name to show: first and last name, else `name`, else the username (as
        /// [`super::User::display_name`]).
        pub fn display_name(&self) -> Option<String> {
            let first = self
                .first_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let last = self
                .last_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            match (first, last) {
                (Some(first), Some(last)) => return Some(format!("{first} {last}")),
                (Some(one), None) | (None, Some(one)) => return Some(one.to_owned()),
                (None, None) => {}
            }
            self.name
                .as_deref()
                .or(self.username.as_deref())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        }
    }

    impl fmt::Debug for User<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("User")
                .field(
                    "user_id",
                    &messenger_core::model::fingerprint(&self.user_id.to_string()),
                )
                .field("is_bot", &self.is_bot)
                .finish_non_exhaustive()
        }
    }

    /// Where a message went ([`super::Recipient`], borrowed).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
    pub struct Recipient<'a> {
        /// The chat.
        #[serde(default)]
        pub chat_id: Option<i64>,
        /// `dialog`, `chat` or `channel`.
        #[serde(borrow, default)]
        pub chat_type: Option<Str<'a>>,
        /// In a dialog, the user the message was addressed to.
        #[serde(default)]
        pub user_id: Option<i64>,
    }

    /// The body of a message ([`super::MessageBody`], borrowed).
    #[derive(Debug, Clone, Deserialize)]
    pub struct MessageBody<'a> {
        /// The message id (`mid.…`).
        #[serde(borrow)]
        pub mid: Str<'a>,
        /// Sequence number in the chat.
        #[serde(default)]
        pub seq: Option<i64>,
        /// The text.
        #[serde(borrow, default)]
        pub text: Option<Str<'a>>,
        /// The attachments.
        #[serde(borrow, default)]
        pub attachments: Option<Vec<Attachment<'a>>>,
        /// Formatting of the text: checked to be a list, not kept.
        #[serde(default)]
        pub markup: Option<Vec<IgnoredAny>>,
    }

    /// A forwarded or replied-to message ([`super::LinkedMessage`], borrowed).
    #[derive(Debug, Clone, Deserialize)]
    pub struct LinkedMessage<'a> {
        /// `reply` or `forward`.
        #[serde(rename = "type", borrow)]
        pub link_type: Str<'a>,
        /// Its author.
        #[serde(borrow, default)]
        pub sender: Option<User<'a>>,
        /// Where a forwarded message was first posted.
        #[serde(default)]
        pub chat_id: Option<i64>,
        /// Its body.
        #[serde(borrow, default)]
        pub message: Option<MessageBody<'a>>,
    }

    /// A message ([`super::Message`], borrowed).
    #[derive(Debug, Clone, Deserialize)]
    pub struct Message<'a> {
        /// The author (`None` for a channel post).
        #[serde(borrow, default)]
        pub sender: Option<User<'a>>,
        /// Where it went.
        #[serde(borrow, default)]
        pub recipient: Option<Recipient<'a>>,
        /// When it was created, Unix milliseconds.
        #[serde(default)]
        pub timestamp: Option<i64>,
        /// The message it forwards or replies to.
        #[serde(borrow, default)]
        pub link: Option<LinkedMessage<'a>>,
        /// Its body.
        #[serde(borrow, default)]
        pub body: Option<MessageBody<'a>>,
        /// Its public URL (public channels).
        #[serde(borrow, default)]
        pub url: Option<Str<'a>>,
    }

    /// A button press ([`super::Callback`], borrowed).
    #[derive(Debug, Clone, Deserialize)]
    pub struct Callback<'a> {
        /// When, Unix milliseconds.
        #[serde(default)]
        pub timestamp: Option<i64>,
        /// The id to answer with `POST /answers`.
        #[serde(borrow, default)]
        pub callback_id: Option<Str<'a>>,
        /// The button's payload.
        #[serde(borrow, default)]
        pub payload: Option<Str<'a>>,
        /// Who pressed it.
        #[serde(borrow, default)]
        pub user: Option<User<'a>>,
    }

    /// The payload of an attachment: the fields of every kind's payload that the conversion
    /// reads (`photo_id`, `token`, `url`, `code`, `vcf_info`, `max_info`), each kind checking
    /// its own.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Payload<'a> {
        /// Where to download it.
        pub url: Option<Str<'a>>,
        /// A token to send the same media again.
        pub token: Option<Str<'a>>,
        /// A shared contact as a vCard.
        pub vcf_info: Option<Str<'a>>,
        /// A shared contact's MAX user.
        pub max_info: Option<User<'a>>,
    }

    #[derive(Deserialize)]
    struct PhotoPayload<'a> {
        #[serde(default)]
        #[allow(dead_code)]
        photo_id: Option<i64>,
        #[serde(borrow, default)]
        token: Option<Str<'a>>,
        #[serde(borrow, default)]
        url: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    struct MediaPayload<'a> {
        #[serde(borrow, default)]
        url: Option<Str<'a>>,
        #[serde(borrow, default)]
        token: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    struct StickerPayload<'a> {
        #[serde(borrow, default)]
        url: Option<Str<'a>>,
        #[serde(borrow, default)]
        #[allow(dead_code)]
        code: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    struct ContactPayload<'a> {
        #[serde(borrow, default)]
        vcf_info: Option<Str<'a>>,
        #[serde(borrow, default)]
        max_info: Option<User<'a>>,
    }

    #[derive(Deserialize)]
    struct WithPayload<P> {
        #[serde(default = "Option::default")]
        payload: Option<P>,
    }

    #[derive(Deserialize)]
    struct VideoWire<'a> {
        #[serde(borrow, default)]
        payload: Option<MediaPayload<'a>>,
        #[serde(default)]
        duration: Option<u64>,
    }

    #[derive(Deserialize)]
    struct AudioWire<'a> {
        #[serde(borrow, default)]
        payload: Option<MediaPayload<'a>>,
        #[serde(borrow, default)]
        #[allow(dead_code)]
        transcription: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    struct FileWire<'a> {
        #[serde(borrow, default)]
        payload: Option<MediaPayload<'a>>,
        #[serde(borrow, default)]
        filename: Option<Str<'a>>,
        #[serde(default)]
        size: Option<u64>,
    }

    #[derive(Deserialize)]
    struct ShareWire<'a> {
        #[serde(borrow, default)]
        payload: Option<MediaPayload<'a>>,
        #[serde(borrow, default)]
        #[allow(dead_code)]
        title: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    struct LocationWire {
        latitude: f64,
        longitude: f64,
    }

    /// An inbound attachment ([`super::Attachment`], borrowed), discriminated by `type`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub enum Attachment<'a> {
        /// A picture.
        Image(Payload<'a>),
        /// A video.
        Video(Payload<'a>, Option<u64>),
        /// An audio recording or track.
        Audio(Payload<'a>),
        /// A file, with its name and size.
        File(Payload<'a>, Option<Str<'a>>, Option<u64>),
        /// A sticker.
        Sticker(Payload<'a>),
        /// A shared contact.
        Contact(Payload<'a>),
        /// A link preview.
        Share(Payload<'a>),
        /// A point on a map.
        Location {
            /// Latitude in degrees.
            latitude: f64,
            /// Longitude in degrees.
            longitude: f64,
        },
        /// Buttons under a message.
        InlineKeyboard,
        /// A type this version does not know, or a known one in an unexpected shape.
        Unknown(Str<'a>),
    }

    /// The `type` of an attachment's raw text, read leniently (the last one where it is
    /// repeated, as a JSON object read whole keeps it; `None` where it is not a string).
    fn type_of(raw: &RawValue) -> Option<Str<'_>> {
        struct TypeOf;
        impl<'de> Visitor<'de> for TypeOf {
            type Value = Option<Str<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attachment")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut kind = None;
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    if key.as_str() == "type" {
                        kind = map.next_value::<Lenient<Str<'de>>>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(kind)
            }
        }
        let mut de = serde_json::Deserializer::from_str(raw.get());
        de::Deserializer::deserialize_map(&mut de, TypeOf)
            .ok()
            .flatten()
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Attachment<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = <&'de RawValue>::deserialize(d)?;
            let kind = type_of(raw).unwrap_or(Str(Cow::Borrowed("unknown")));
            fn read<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
                serde_json::from_str(raw.get()).ok()
            }
            let media = |p: Option<MediaPayload<'a>>| {
                let p = p.unwrap_or(MediaPayload {
                    url: None,
                    token: None,
                });
                Payload {
                    url: p.url,
                    token: p.token,
                    ..Payload::default()
                }
            };
            let parsed = match kind.as_str() {
                "image" => read::<WithPayload<PhotoPayload<'a>>>(raw).map(|w| {
                    let p = w.payload;
                    Attachment::Image(Payload {
                        url: p.as_ref().and_then(|p| p.url.clone()),
                        token: p.and_then(|p| p.token),
                        ..Payload::default()
                    })
                }),
                "video" => read::<VideoWire<'a>>(raw)
                    .map(|w| Attachment::Video(media(w.payload), w.duration)),
                "audio" => read::<AudioWire<'a>>(raw).map(|w| Attachment::Audio(media(w.payload))),
                "file" => read::<FileWire<'a>>(raw)
                    .map(|w| Attachment::File(media(w.payload), w.filename, w.size)),
                "sticker" => read::<WithPayload<StickerPayload<'a>>>(raw).map(|w| {
                    Attachment::Sticker(Payload {
                        url: w.payload.and_then(|p| p.url),
                        ..Payload::default()
                    })
                }),
                "contact" => read::<WithPayload<ContactPayload<'a>>>(raw).map(|w| {
                    let p = w.payload;
                    Attachment::Contact(Payload {
                        vcf_info: p.as_ref().and_then(|p| p.vcf_info.clone()),
                        max_info: p.and_then(|p| p.max_info),
                        ..Payload::default()
                    })
                }),
                "share" => read::<ShareWire<'a>>(raw).map(|w| Attachment::Share(media(w.payload))),
                "location" => read::<LocationWire>(raw)
                    .filter(|w| w.latitude.is_finite() && w.longitude.is_finite())
                    .map(|w| Attachment::Location {
                        latitude: w.latitude,
                        longitude: w.longitude,
                    }),
                "inline_keyboard" => Some(Attachment::InlineKeyboard),
                _ => None,
            };
            Ok(parsed.unwrap_or(Attachment::Unknown(kind)))
        }
    }

    impl Attachment<'_> {
        /// The attachment's `type`.
        pub fn kind(&self) -> &str {
            match self {
                Attachment::Image(_) => "image",
                Attachment::Video(..) => "video",
                Attachment::Audio(_) => "audio",
                Attachment::File(..) => "file",
                Attachment::Sticker(_) => "sticker",
                Attachment::Contact(_) => "contact",
                Attachment::Share(_) => "share",
                Attachment::Location { .. } => "location",
                Attachment::InlineKeyboard => "inline_keyboard",
                Attachment::Unknown(kind) => kind,
            }
        }
    }

    /// A value of `T` where it has that shape, `None` (never an error) otherwise.
    struct Lenient<T>(Option<T>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            // Only strings and integers are read this way: a string is taken as it is,
            // anything else skipped.
            struct V<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = Lenient<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Lenient(
                        T::deserialize(de::value::BorrowedStrDeserializer::<E>::new(v)).ok(),
                    ))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Lenient(
                        T::deserialize(de::value::StringDeserializer::<E>::new(v.to_owned())).ok(),
                    ))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(Lenient(
                        T::deserialize(de::value::I64Deserializer::<E>::new(v)).ok(),
                    ))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    Ok(Lenient(
                        T::deserialize(de::value::U64Deserializer::<E>::new(v)).ok(),
                    ))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                    Ok(Lenient(None))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                    Ok(Lenient(None))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(Lenient(None))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Self::Value, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Lenient(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Lenient(None))
                }
            }
            d.deserialize_any(V(std::marker::PhantomData))
        }
    }

    /// The update types this version reads ([`super::Update`]'s variants).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum UpdateKind {
        /// `message_created`.
        MessageCreated,
        /// `message_edited`.
        MessageEdited,
        /// `message_removed`.
        MessageRemoved,
        /// `message_callback`.
        MessageCallback,
        /// `bot_started`.
        BotStarted,
        /// `bot_stopped`.
        BotStopped,
        /// `bot_added`.
        BotAdded,
        /// `bot_removed`.
        BotRemoved,
        /// `user_added`.
        UserAdded,
        /// `user_removed`.
        UserRemoved,
        /// `dialog_muted`.
        DialogMuted,
        /// `dialog_unmuted`.
        DialogUnmuted,
        /// `dialog_cleared`.
        DialogCleared,
        /// `dialog_removed`.
        DialogRemoved,
        /// `chat_title_changed`.
        ChatTitleChanged,
        /// `message_chat_created`.
        MessageChatCreated,
    }

    /// The fields of [`Update`], in the order of its bit masks.
    const FIELDS: &[&str] = &[
        "update_type",
        "timestamp",
        "message",
        "chat_id",
        "user_locale",
        "message_id",
        "user_id",
        "callback",
        "user",
        "is_channel",
        "payload",
        "title",
        "muted_until",
        "inviter_id",
        "admin_id",
        "chat",
    ];

    fn field(name: &[u8]) -> Option<u32> {
        Some(match name {
            b"update_type" => 0,
            b"timestamp" => 1,
            b"message" => 2,
            b"chat_id" => 3,
            b"user_locale" => 4,
            b"message_id" => 5,
            b"user_id" => 6,
            b"callback" => 7,
            b"user" => 8,
            b"is_channel" => 9,
            b"payload" => 10,
            b"title" => 11,
            b"muted_until" => 12,
            b"inviter_id" => 13,
            b"admin_id" => 14,
            b"chat" => 15,
            _ => return None,
        })
    }

    /// `MessageUpdate`'s fields: timestamp, message, chat_id, user_locale.
    const MESSAGE_UPDATE: u32 = 0b1_1110;
    /// `MessageRemoved`'s: timestamp, message_id, chat_id, user_id.
    const MESSAGE_REMOVED: u32 = 0b110_1010;
    /// `MessageCallback`'s: timestamp, callback, message, user_locale.
    const MESSAGE_CALLBACK: u32 = 0b1001_0110;
    /// `ChatUpdate`'s: timestamp, chat_id, user, user_id, is_channel, payload, title,
    /// muted_until, inviter_id, admin_id, chat, user_locale.
    const CHAT_UPDATE: u32 = 0b1111_1111_0101_1010;

    impl UpdateKind {
        /// The kind of an `update_type`, `None` for one this version does not know.
        pub fn of(name: &str) -> Option<Self> {
            use UpdateKind::*;
            Some(match name {
                "message_created" => MessageCreated,
                "message_edited" => MessageEdited,
                "message_removed" => MessageRemoved,
                "message_callback" => MessageCallback,
                "bot_started" => BotStarted,
                "bot_stopped" => BotStopped,
                "bot_added" => BotAdded,
                "bot_removed" => BotRemoved,
                "user_added" => UserAdded,
                "user_removed" => UserRemoved,
                "dialog_muted" => DialogMuted,
                "dialog_unmuted" => DialogUnmuted,
                "dialog_cleared" => DialogCleared,
                "dialog_removed" => DialogRemoved,
                "chat_title_changed" => ChatTitleChanged,
                "message_chat_created" => MessageChatCreated,
                _ => return None,
            })
        }

        /// The `update_type`.
        pub fn name(self) -> &'static str {
            use UpdateKind::*;
            match self {
                MessageCreated => "message_created",
                MessageEdited => "message_edited",
                MessageRemoved => "message_removed",
                MessageCallback => "message_callback",
                BotStarted => "bot_started",
                BotStopped => "bot_stopped",
                BotAdded => "bot_added",
                BotRemoved => "bot_removed",
                UserAdded => "user_added",
                UserRemoved => "user_removed",
                DialogMuted => "dialog_muted",
                DialogUnmuted => "dialog_unmuted",
                DialogCleared => "dialog_cleared",
                DialogRemoved => "dialog_removed",
                ChatTitleChanged => "chat_title_changed",
                MessageChatCreated => "message_chat_created",
            }
        }

        /// The fields of [`Update`] that this type has ([`super::Update`]'s variant struct):
        /// a bit per field of `FIELDS`, `update_type` not included.
        pub fn fields(self) -> u32 {
            use UpdateKind::*;
            match self {
                MessageCreated | MessageEdited => MESSAGE_UPDATE,
                MessageRemoved => MESSAGE_REMOVED,
                MessageCallback => MESSAGE_CALLBACK,
                _ => CHAT_UPDATE,
            }
        }
    }

    /// One update: the fields of every known update type (see the [module docs](self)).
    #[derive(Debug, Clone, Default)]
    pub struct Update<'a> {
        /// `update_type` (absent where the update was read as one known type).
        pub update_type: Option<Str<'a>>,
        /// When the update happened, Unix milliseconds.
        pub timestamp: Option<i64>,
        /// The message (`message_created`, `message_edited`, `message_callback`).
        pub message: Option<Message<'a>>,
        /// The chat.
        pub chat_id: Option<i64>,
        /// The user's locale.
        pub user_locale: Option<Str<'a>>,
        /// The removed message's id (`message_removed`).
        pub message_id: Option<Str<'a>>,
        /// The user concerned, by id.
        pub user_id: Option<i64>,
        /// The button press (`message_callback`).
        pub callback: Option<Callback<'a>>,
        /// The user concerned.
        pub user: Option<User<'a>>,
        /// Whether the chat is a channel.
        pub is_channel: Option<bool>,
        /// Deep-link payload of `bot_started`.
        pub payload: Option<Str<'a>>,
        /// New title of `chat_title_changed`.
        pub title: Option<Str<'a>>,
        /// Until when a dialog is muted, Unix milliseconds.
        pub muted_until: Option<i64>,
        /// Who invited the user (`user_added`).
        pub inviter_id: Option<i64>,
        /// Who removed the user (`user_removed`).
        pub admin_id: Option<i64>,
        /// The chat created by a chat button (`message_chat_created`).
        pub chat: Option<ChatRef>,
    }

    impl Update<'_> {
        /// The known type of the update, `None` for an unknown or absent one.
        pub fn kind(&self) -> Option<UpdateKind> {
            self.update_type.as_deref().and_then(UpdateKind::of)
        }

        /// The chat the update names: `chat_id`, else `message.recipient.chat_id`, else
        /// `chat.chat_id`.
        pub fn named_chat(&self) -> Option<i64> {
            self.chat_id
                .or_else(|| {
                    self.message
                        .as_ref()
                        .and_then(|m| m.recipient.as_ref())
                        .and_then(|r| r.chat_id)
                })
                .or_else(|| self.chat.as_ref().and_then(|c| c.chat_id))
        }
    }

    /// Reads an [`Update`]: the fields in `fields` (a bit per field of `FIELDS`) are read
    /// and checked, a repeated one refused; every other key is skipped. With `answer` set,
    /// an `updates` key stops the reading (an error) and says so: the body is a `/updates`
    /// answer.
    pub(crate) struct UpdateSeed<'c> {
        pub(crate) fields: u32,
        pub(crate) answer: Option<&'c std::cell::Cell<bool>>,
    }

    /// Every field of [`Update`], `update_type` included.
    pub(crate) const ALL: u32 = 0xFFFF;

    /// The error that stops reading an update at an `updates` key.
    const AN_ANSWER: &str = "a /updates answer, not an update";

    struct KeyBytes<'a>(Cow<'a, [u8]>);

    impl<'de> Deserialize<'de> for KeyBytes<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = KeyBytes<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_bytes<E: de::Error>(
                    self,
                    v: &'de [u8],
                ) -> Result<Self::Value, E> {
                    Ok(KeyBytes(Cow::Borrowed(v)))
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                    Ok(KeyBytes(Cow::Owned(v.to_vec())))
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(KeyBytes(Cow::Borrowed(v.as_bytes())))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(KeyBytes(Cow::Owned(v.as_bytes().to_vec())))
                }
            }
            d.deserialize_bytes(V)
        }
    }

    impl<'de> Visitor<'de> for UpdateSeed<'_> {
        type Value = Update<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an update")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Update<'de>, A::Error> {
            let mut seen = 0u32;
            let mut u = Update::default();
            while let Some(key) = map.next_key::<KeyBytes<'de>>()? {
                if let Some(answer) = self.answer
                    && &*key.0 == b"updates"
                {
                    answer.set(true);
                    return Err(de::Error::custom(AN_ANSWER));
                }
                let Some(index) = field(&key.0).filter(|i| self.fields & (1 << i) != 0) else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                if seen & (1 << index) != 0 {
                    return Err(de::Error::duplicate_field(FIELDS[index as usize]));
                }
                seen |= 1 << index;
                match index {
                    0 => u.update_type = map.next_value()?,
                    1 => u.timestamp = map.next_value()?,
                    2 => u.message = map.next_value()?,
                    3 => u.chat_id = map.next_value()?,
                    4 => u.user_locale = map.next_value()?,
                    5 => u.message_id = map.next_value()?,
                    6 => u.user_id = map.next_value()?,
                    7 => u.callback = map.next_value()?,
                    8 => u.user = map.next_value()?,
                    9 => u.is_channel = map.next_value()?,
                    10 => u.payload = map.next_value()?,
                    11 => u.title = map.next_value()?,
                    12 => u.muted_until = map.next_value()?,
                    13 => u.inviter_id = map.next_value()?,
                    14 => u.admin_id = map.next_value()?,
                    _ => u.chat = map.next_value()?,
                }
            }
            Ok(u)
        }
    }

    impl<'de> DeserializeSeed<'de> for UpdateSeed<'_> {
        type Value = Update<'de>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Update<'de>, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Update<'a> {
        /// Every field of every known type, `update_type` included.
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(UpdateSeed {
                fields: ALL,
                answer: None,
            })
        }
    }

    /// What a body says of itself, read leniently as a JSON object read whole would say it
    /// (the last of a repeated key): its `update_type` (where it is a string), how many
    /// times it gives one, and the chat it names (`chat_id`, `message.recipient.chat_id`,
    /// `chat.chat_id`, where an integer). `None` for a body that is not a JSON object.
    #[derive(Debug, Default)]
    pub struct Peek<'a> {
        /// The `update_type`, where it is a string.
        pub update_type: Option<Str<'a>>,
        /// How many `update_type` keys the object has.
        pub update_types: usize,
        /// The chat it names.
        pub chat: Option<i64>,
    }

    impl<'a> Peek<'a> {
        /// Reads `body` (`None`: not JSON, or not an object).
        pub fn of(body: &'a [u8]) -> Option<Self> {
            #[derive(Default)]
            struct Fields {
                chat_id: Option<i64>,
                message: Option<i64>,
                chat: Option<i64>,
            }
            /// `{key: {..}}` down `path`, the integer at its end.
            struct Nested(&'static [&'static str]);
            impl<'de> DeserializeSeed<'de> for Nested {
                type Value = Option<i64>;
                fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
                    d.deserialize_any(self)
                }
            }
            impl<'de> Visitor<'de> for Nested {
                type Value = Option<i64>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
                    Ok(self.0.is_empty().then_some(v))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
                    Ok(self.0.is_empty().then(|| i64::try_from(v).ok()).flatten())
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<i64>, E> {
                    Ok(None)
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<i64>, E> {
                    Ok(None)
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<i64>, E> {
                    Ok(None)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
                    Ok(None)
                }
                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Option<i64>, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(None)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<i64>, A::Error> {
                    let mut found = None;
                    while let Some(key) = map.next_key::<Str<'de>>()? {
                        match self.0.split_first() {
                            Some((first, rest)) if key.as_str() == *first => {
                                found = map.next_value_seed(Nested(rest))?;
                            }
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(found)
                }
            }
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = (Peek<'de>, Fields);
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut peek = Peek::default();
                    let mut fields = Fields::default();
                    while let Some(key) = map.next_key::<Str<'de>>()? {
                        match key.as_str() {
                            "update_type" => {
                                peek.update_types += 1;
                                peek.update_type = map.next_value::<Lenient<Str<'de>>>()?.0;
                            }
                            "chat_id" => fields.chat_id = map.next_value_seed(Nested(&[]))?,
                            "message" => {
                                fields.message =
                                    map.next_value_seed(Nested(&["recipient", "chat_id"]))?;
                            }
                            "chat" => fields.chat = map.next_value_seed(Nested(&["chat_id"]))?,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok((peek, fields))
                }
            }
            let mut de = serde_json::Deserializer::from_slice(body);
            let (mut peek, fields) = de::Deserializer::deserialize_map(&mut de, V).ok()?;
            de.end().ok()?;
            peek.chat = fields.chat_id.or(fields.message).or(fields.chat);
            Some(peek)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound: message bodies and attachments
// ---------------------------------------------------------------------------------------------

/// How MAX formats a message's text (`TextFormat`). The connector sends none unless configured:
/// text is transported as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    /// MAX-flavoured Markdown.
    Markdown,
    /// A subset of HTML.
    Html,
}

/// The link of a reply (`NewMessageLink`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessageLink {
    /// `reply` (or `forward`).
    #[serde(rename = "type")]
    pub link_type: String,
    /// The message replied to.
    pub mid: String,
}

impl NewMessageLink {
    /// A reply to `mid`.
    pub fn reply(mid: impl Into<String>) -> Self {
        Self {
            link_type: "reply".into(),
            mid: mid.into(),
        }
    }
}

/// An uploaded file's token (`UploadedInfo`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedInfo {
    /// The token from the upload.
    pub token: String,
}

/// The payload of an outbound image (`PhotoAttachmentRequestPayload`): one of an external URL,
/// a token, or the `photos` object an upload returned.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhotoRequestPayload {
    /// An external https URL MAX fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A token of an image MAX already has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The `photos` object of an image upload, passed on as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<Value>,
}

opaque_debug!(UploadedInfo, PhotoRequestPayload);

/// An outbound attachment (`AttachmentRequest`): `{"type": ..., "payload": ...}`.
///
/// ```
/// use connector_max::wire::{AttachmentRequest, UploadedInfo};
/// let a = AttachmentRequest::File(UploadedInfo { token: "tok".into() });
/// assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!({"type": "file", "payload": {"token": "tok"}}));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachmentRequest {
    /// A picture.
    Image(PhotoRequestPayload),
    /// A video.
    Video(UploadedInfo),
    /// An audio track (MAX has no voice-note type on send).
    Audio(UploadedInfo),
    /// A file.
    File(UploadedInfo),
}

impl AttachmentRequest {
    /// The attachment's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            AttachmentRequest::Image(_) => "image",
            AttachmentRequest::Video(_) => "video",
            AttachmentRequest::Audio(_) => "audio",
            AttachmentRequest::File(_) => "file",
        }
    }
}

impl fmt::Debug for AttachmentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttachmentRequest({})", self.kind())
    }
}

/// The body of `POST /messages` (`NewMessageBody`). Absent fields are left out.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewMessageBody {
    /// The text (at most 4000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentRequest>>,
    /// A reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<NewMessageLink>,
    /// `false` for a silent message (refused in channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
    /// How the text is formatted; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

impl fmt::Debug for NewMessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessageBody")
            .field("text", &self.text.as_deref().map(TextLen))
            .field("attachments", &self.attachments)
            .field("reply", &self.link.is_some())
            .field("notify", &self.notify)
            .field("format", &self.format)
            .finish()
    }
}

/// The body of `PUT /messages` for a text edit: the new text, and `attachments: null`, which
/// keeps the message's attachments (`[]` would remove them).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessageBody {
    /// The new text.
    pub text: String,
    /// Always `null`: the attachments stay.
    pub attachments: Option<Vec<AttachmentRequest>>,
    /// How the text is formatted; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

impl fmt::Debug for EditMessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditMessageBody")
            .field("text", &TextLen(&self.text))
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// The answer of `POST /messages` (`SendMessageResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessageResult {
    /// The created message.
    #[serde(default)]
    pub message: Option<Message>,
}

/// The answer of action endpoints (`SimpleQueryResult`): check `success`, some refusals come
/// with HTTP 200.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleQueryResult {
    /// Whether MAX did it.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl fmt::Debug for SimpleQueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleQueryResult")
            .field("success", &self.success)
            .field("message", &redacted(&self.message))
            .finish()
    }
}

/// The answer of `POST /uploads` (`UploadEndpoint`): where to upload, and for video and audio
/// the token to attach.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEndpoint {
    /// The upload URL (another host; it takes one file).
    pub url: String,
    /// The token of video and audio uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl fmt::Debug for UploadEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is signed: only its host is shown.
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        f.debug_struct("UploadEndpoint")
            .field("host", &host)
            .field("token", &redacted(&self.token))
            .finish()
    }
}

/// The JSON answer of the upload host: `{"token"}` for a file, `{"photos": {...}}` for an
/// image. Video and audio answer `<retval>1</retval>`, which is not read.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UploadResult {
    /// A file's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// An image's tokens by size key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<Value>,
}

opaque_debug!(UploadResult);

/// Direct URLs of a video (`VideoUrls`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VideoUrls {
    /// 1080p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_1080: Option<String>,
    /// 720p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_720: Option<String>,
    /// 480p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_480: Option<String>,
    /// 360p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_360: Option<String>,
    /// 240p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_240: Option<String>,
    /// 144p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4_144: Option<String>,
    /// A live-streaming URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hls: Option<String>,
}

impl VideoUrls {
    /// The best MP4 available, largest first.
    pub fn best_mp4(&self) -> Option<&str> {
        [
            &self.mp4_1080,
            &self.mp4_720,
            &self.mp4_480,
            &self.mp4_360,
            &self.mp4_240,
            &self.mp4_144,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|u| !u.is_empty())
    }
}

/// The answer of `GET /videos/{token}` (`VideoAttachmentDetails`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VideoAttachmentDetails {
    /// The video's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The file URLs (`null` while the video is unavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<VideoUrls>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
}

opaque_debug!(VideoUrls, VideoAttachmentDetails);

/// MAX's error body: `{"code": "<key>", "message": "<text>"}` (`Error`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiError {
    /// The error key (`verify.token`, `attachment.not.ready`, `chat.denied`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// MAX's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A further description some answers carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("message", &self.message.as_deref().map(TextLen))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/// The body of `POST /subscriptions` (`SubscriptionRequestBody`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRequest {
    /// The webhook URL (HTTPS on port 443).
    pub url: String,
    /// The update types to deliver; absent for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_types: Option<Vec<String>>,
    /// The secret MAX sends in `X-Max-Bot-Api-Secret` (5–256 of `A-Z a-z 0-9 _ -`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl fmt::Debug for SubscriptionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionRequest")
            .field("update_types", &self.update_types)
            .field("secret", &self.secret.as_ref().map(|_| Redacted))
            .finish_non_exhaustive()
    }
}

/// A webhook subscription (`Subscription`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The webhook URL.
    pub url: String,
    /// When it was created, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// The update types delivered (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_types: Option<Vec<String>>,
    /// The data model version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The answer of `GET /subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetSubscriptionsResult {
    /// The subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_known_attachment_of_an_odd_shape_is_unknown_not_an_error() {
        let body: MessageBody = serde_json::from_value(json!({
            "mid": "mid.1",
            "attachments": [
                {"type": "location", "latitude": "north", "longitude": 1},
                {"type": "image", "payload": {"url": "https://i.example/1"}},
                {"no_type": true}
            ]
        }))
        .unwrap();
        let kinds: Vec<&str> = body
            .attachments
            .as_ref()
            .unwrap()
            .iter()
            .map(|a| a.kind())
            .collect();
        assert_eq!(kinds, ["location", "image", "unknown"]);
        assert!(matches!(
            body.attachments.unwrap()[0],
            Attachment::Unknown { .. }
        ));
    }

    #[test]
    fn attachments_round_trip() {
        let original = json!({"type": "file", "payload": {"url": "https://f.example/1", "token": "t"},
                              "filename": "a.pdf", "size": 5});
        let a: Attachment = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), original);
        let loc = json!({"type": "location", "latitude": 1.5, "longitude": 2.5});
        let a: Attachment = serde_json::from_value(loc.clone()).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), loc);
    }

    #[test]
    fn updates_round_trip_with_their_tag() {
        let u = Update::BotStarted(ChatUpdate {
            timestamp: Some(1),
            chat_id: Some(5),
            user: None,
            user_id: None,
            is_channel: None,
            payload: Some("deep".into()),
            title: None,
            muted_until: None,
            inviter_id: None,
            admin_id: None,
            chat: None,
            user_locale: None,
        });
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(
            v,
            json!({"update_type": "bot_started", "timestamp": 1, "chat_id": 5, "payload": "deep"})
        );
        assert_eq!(serde_json::from_value::<Update>(v).unwrap(), u);
    }

    #[test]
    fn debug_shows_no_content() {
        let body: MessageBody = serde_json::from_value(json!({
            "mid": "mid.1", "text": "Секретный текст",
            "attachments": [{"type": "file", "payload": {"url": "https://f.example/secret.pdf"}, "filename": "passport.pdf"}]
        }))
        .unwrap();
        let user = User {
            user_id: 1,
            first_name: Some("Ivan".into()),
            last_name: Some("Petrov".into()),
            username: None,
            is_bot: Some(false),
            last_activity_time: None,
            name: None,
        };
        let debug = format!("{body:?} {user:?}");
        for secret in ["Секретный", "passport", "secret.pdf", "Ivan", "Petrov"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert_eq!(user.display_name().as_deref(), Some("Ivan Petrov"));
    }

    #[test]
    fn best_video_url_is_the_largest() {
        let urls = VideoUrls {
            mp4_480: Some("https://v/480".into()),
            mp4_144: Some("https://v/144".into()),
            ..VideoUrls::default()
        };
        assert_eq!(urls.best_mp4(), Some("https://v/480"));
        assert_eq!(VideoUrls::default().best_mp4(), None);
    }
}
