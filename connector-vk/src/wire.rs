//! The VK API's JSON (and form) shapes, both ways, as serde types.
//!
//! Inbound types are tolerant: unknown fields are ignored, optional fields may be missing or
//! `null`, numbers that VK sometimes writes as strings (`ts`, `captcha_sid`) are accepted
//! either way, and an attachment whose body does not decode keeps its type name
//! ([`Attachment::Other`]) instead of failing the whole message. Outbound request parameters
//! are form-encoded structs ([`SendParams`] and friends); the API version `v` is added by the
//! connector to every call.
//!
//! Sources: `VKCOM/vk-api-schema` 5.199 (`messages/`, `groups/`, `photos/`, `docs/`,
//! `callback/`, `base/`), vksdk (`api/upload.go`, `longpoll-bot/longpoll.go`) and
//! `shared/platforms/vk.md`.
//!
//! Every type that can hold message text, a caption, a file name, a secret or a key implements
//! `Debug` by hand and shows only lengths, counts or fingerprints.

use std::fmt;

use messenger_core::model::fingerprint;
use messenger_core::redact::{Redacted, TextLen, redacted};
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Lenient field helpers
// ---------------------------------------------------------------------------------------------

/// A field that may be missing or `null`: both read as the type's default.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `0`/`1`, `true`/`false` or `null` (false); any other value is `false`, never an error.
fn bool_int<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            Ok(v != 0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            Ok(i64::try_from(v).is_ok_and(|v| v != 0))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            Ok(v == "1" || v == "true")
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(false)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

fn int_bool<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*value))
}

/// A string or a number, as a string (`ts` is a string in `getLongPollServer` and may be a
/// number in a `failed: 1` answer); any other value is `None`.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
            // As serde_json writes a number it read.
            Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

fn required_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_or_number(d)?.ok_or_else(|| serde::de::Error::custom("expected a string or a number"))
}

// ---------------------------------------------------------------------------------------------
// The envelope and errors
// ---------------------------------------------------------------------------------------------

/// The API envelope: `{"response": ...}` or `{"error": {...}}`. `response` is kept as JSON and
/// decoded into the method's type afterwards, so that a proxy's page, an error and a response
/// of the wrong shape are told apart.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Envelope {
    /// The method's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// The error, when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Envelope {
    /// Whether the body was an envelope at all (it has `response` or `error`).
    pub fn is_envelope(&self) -> bool {
        self.response.is_some() || self.error.is_some()
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("response", &self.response.as_ref().map(|_| Redacted))
            .field("error", &self.error)
            .finish()
    }
}

/// `base_error` ([S base/objects.json]) plus the captcha fields of error 14.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ApiError {
    /// The error code ([S errors.json]).
    #[serde(default, deserialize_with = "or_default")]
    pub error_code: i64,
    /// A finer code, for some errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// The English description.
    #[serde(default, deserialize_with = "or_default")]
    pub error_msg: String,
    /// A localised description, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_text: Option<String>,
    /// The parameters of the failed call. Their values can be message text: only the keys are
    /// ever used in errors and `Debug`.
    #[serde(default, deserialize_with = "or_default")]
    pub request_params: Vec<RequestParam>,
    /// Error 14: the captcha's id.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub captcha_sid: Option<String>,
    /// Error 14: the captcha image's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_img: Option<String>,
}

impl ApiError {
    /// The keys of [`request_params`](Self::request_params) (never their values).
    pub fn param_keys(&self) -> impl Iterator<Item = &str> {
        self.request_params.iter().map(|p| p.key.as_str())
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.param_keys().collect();
        f.debug_struct("ApiError")
            .field("error_code", &self.error_code)
            .field("error_subcode", &self.error_subcode)
            .field("error_msg", &TextLen(&self.error_msg))
            .field("request_params", &keys)
            .field("captcha_sid", &self.captcha_sid.is_some())
            .finish_non_exhaustive()
    }
}

/// One `{key, value}` of `request_params` ([S base/objects.json `base_request_param`]).
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RequestParam {
    /// The parameter's name.
    #[serde(default, deserialize_with = "or_default")]
    pub key: String,
    /// Its value (a string; kept as JSON because it can be anything). Never shown.
    #[serde(default)]
    pub value: Value,
}

impl fmt::Debug for RequestParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParam")
            .field("key", &self.key)
            .field("value", &Redacted)
            .finish()
    }
}

/// The answer of an upload server when it refuses a file: `{error, error_code?, error_descr?}`
/// (vksdk `UploadError`), not the API envelope.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct UploadError {
    /// The error (a string, sometimes a code).
    #[serde(default)]
    pub error: Value,
    /// A numeric code, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// A description, where given (it can quote the file name: never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_descr: Option<String>,
}

impl fmt::Debug for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadError")
            .field("error_code", &self.error_code)
            .field("error_descr", &redacted(&self.error_descr))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and attachments
// ---------------------------------------------------------------------------------------------

/// `messages_message` ([S messages/objects.json]), as Callback and Long Poll deliver it.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Message {
    /// The message id (`0` for a community's messages in a group chat: see
    /// [`conversation_message_id`](Self::conversation_message_id)).
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Unix time.
    #[serde(default, deserialize_with = "or_default")]
    pub date: i64,
    /// The conversation: a user id, `2000000000 + chat id`, or `-community id`.
    #[serde(default, deserialize_with = "or_default")]
    pub peer_id: i64,
    /// The author.
    #[serde(default, deserialize_with = "or_default")]
    pub from_id: i64,
    /// The text (may be empty).
    #[serde(default, deserialize_with = "or_default")]
    pub text: String,
    /// Whether the community sent it (`out: 1`).
    #[serde(default, deserialize_with = "bool_int", serialize_with = "int_bool")]
    pub out: bool,
    /// The message's number within its conversation.
    #[serde(default, deserialize_with = "or_default")]
    pub conversation_message_id: i64,
    /// The attachments.
    #[serde(default, deserialize_with = "or_default")]
    pub attachments: Vec<Attachment>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_message: Option<Box<Message>>,
    /// Forwarded messages (not modelled).
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub fwd_messages: Vec<Value>,
    /// A location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// A service action in a group chat (`chat_invite_user`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The sender's `random_id` (outgoing messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_id: Option<i64>,
    /// The admin who sent an outgoing message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_author_id: Option<i64>,
    /// Unix time of the last edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<i64>,
    /// A bot keyboard payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("peer_id", &fingerprint(&self.peer_id.to_string()))
            .field("out", &self.out)
            .field("text", &TextLen(&self.text))
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// `messages_message_action`: only its type is used.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Action {
    /// `chat_invite_user`, `chat_title_update`...
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    pub kind: String,
}

/// `{"type": T, T: {...}}` ([S messages/objects.json `messages_message_attachment`]).
#[derive(Clone)]
#[non_exhaustive]
pub enum Attachment {
    /// `photo`.
    Photo(Photo),
    /// `doc`.
    Doc(Doc),
    /// `audio_message` (a voice note).
    AudioMessage(AudioMessage),
    /// `audio` (a music track).
    Audio(Audio),
    /// `video`.
    Video(Video),
    /// `sticker`.
    Sticker(Sticker),
    /// Any other type, or a known type whose body did not decode; the type name is kept.
    Other {
        /// The attachment's type.
        kind: String,
        /// Its body, as received.
        body: Value,
    },
}

impl Attachment {
    /// The VK type name.
    pub fn kind(&self) -> &str {
        match self {
            Attachment::Photo(_) => "photo",
            Attachment::Doc(_) => "doc",
            Attachment::AudioMessage(_) => "audio_message",
            Attachment::Audio(_) => "audio",
            Attachment::Video(_) => "video",
            Attachment::Sticker(_) => "sticker",
            Attachment::Other { kind, .. } => kind,
        }
    }

    /// Reads one attachment, keeping the type name of anything that does not decode.
    pub fn from_value(value: Value) -> Self {
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let body = value.get(&kind).cloned().unwrap_or(Value::Null);
        fn typed<T: DeserializeOwned>(body: &Value) -> Option<T> {
            if body.is_object() {
                serde_json::from_value(body.clone()).ok()
            } else {
                None
            }
        }
        let known = match kind.as_str() {
            "photo" => typed(&body).map(Attachment::Photo),
            "doc" => typed(&body).map(Attachment::Doc),
            "audio_message" => typed(&body).map(Attachment::AudioMessage),
            "audio" => typed(&body).map(Attachment::Audio),
            "video" => typed(&body).map(Attachment::Video),
            "sticker" => typed(&body).map(Attachment::Sticker),
            _ => None,
        };
        known.unwrap_or(Attachment::Other { kind, body })
    }
}

impl<'de> Deserialize<'de> for Attachment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Attachment::from_value(Value::deserialize(d)?))
    }
}

impl Serialize for Attachment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", self.kind())?;
        match self {
            Attachment::Photo(a) => map.serialize_entry("photo", a)?,
            Attachment::Doc(a) => map.serialize_entry("doc", a)?,
            Attachment::AudioMessage(a) => map.serialize_entry("audio_message", a)?,
            Attachment::Audio(a) => map.serialize_entry("audio", a)?,
            Attachment::Video(a) => map.serialize_entry("video", a)?,
            Attachment::Sticker(a) => map.serialize_entry("sticker", a)?,
            Attachment::Other { kind, body } => map.serialize_entry(kind, body)?,
        }
        map.end()
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the type: bodies carry titles, file names and signed URLs.
        write!(f, "Attachment({})", self.kind())
    }
}

/// `photos_photo` ([S photos/objects.json]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Photo {
    /// The photo id.
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Its owner (a user, or `-community`).
    #[serde(default, deserialize_with = "or_default")]
    pub owner_id: i64,
    /// The key that grants access to a private object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// The sizes, each with its URL.
    #[serde(default, deserialize_with = "or_default")]
    pub sizes: Vec<PhotoSize>,
    /// The album.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_id: Option<i64>,
    /// Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("id", &self.id)
            .field("owner_id", &self.owner_id)
            .field("sizes", &self.sizes.len())
            .finish_non_exhaustive()
    }
}

impl Photo {
    /// The URL of the largest size: the largest area, then the latest letter of VK's size
    /// scale (`s m x o p q r y z w`) where sizes carry no dimensions.
    pub fn largest_url(&self) -> Option<&str> {
        const SCALE: &str = "smxopqryzw";
        self.sizes
            .iter()
            .filter_map(|s| s.url().map(|url| (s, url)))
            .max_by_key(|(s, _)| {
                let area = s.width.saturating_mul(s.height);
                let rank = s
                    .kind
                    .chars()
                    .next()
                    .and_then(|c| SCALE.find(c))
                    .unwrap_or(0);
                (area, rank)
            })
            .map(|(_, url)| url)
    }
}

/// `photos_photo_sizes`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PhotoSize {
    /// The size letter (`s`, `m`, `x`, `y`, `z`, `w`...).
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    pub kind: String,
    /// The image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The image URL under its older name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Width in px.
    #[serde(default, deserialize_with = "or_default")]
    pub width: u64,
    /// Height in px.
    #[serde(default, deserialize_with = "or_default")]
    pub height: u64,
}

impl PhotoSize {
    /// `url`, or `src` where only that is given.
    pub fn url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .or(self.src.as_deref())
            .filter(|u| !u.is_empty())
    }
}

/// `docs_doc` ([S docs/objects.json]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Doc {
    /// The document id.
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Its owner.
    #[serde(default, deserialize_with = "or_default")]
    pub owner_id: i64,
    /// Its title (usually the file name).
    #[serde(default, deserialize_with = "or_default")]
    pub title: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The file extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    /// The download URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// The document type (1 text, 2 archive, 3 gif, 4 image, 5 audio, 6 video, 7 e-book, 8
    /// unknown).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<i64>,
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doc")
            .field("id", &self.id)
            .field("owner_id", &self.owner_id)
            .field("title", &Redacted)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// `messages_audio_message` ([S messages/objects.json]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct AudioMessage {
    /// The id (a document id).
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Its owner.
    #[serde(default, deserialize_with = "or_default")]
    pub owner_id: i64,
    /// Length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// The OGG/Opus file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_ogg: Option<String>,
    /// The MP3 file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_mp3: Option<String>,
    /// The access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

impl fmt::Debug for AudioMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioMessage")
            .field("id", &self.id)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// `audio_audio`: a music track.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Audio {
    /// The id.
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Its owner.
    #[serde(default, deserialize_with = "or_default")]
    pub owner_id: i64,
    /// The MP3 URL, where VK gives one (often empty for third-party clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// The access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

impl fmt::Debug for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audio")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `video_video`: only the reference is used (VK gives no file URL for videos).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Video {
    /// The id.
    #[serde(default, deserialize_with = "or_default")]
    pub id: i64,
    /// Its owner.
    #[serde(default, deserialize_with = "or_default")]
    pub owner_id: i64,
    /// Length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// The access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

impl fmt::Debug for Video {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Video")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `base_sticker_new` ([S base/objects.json]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Sticker {
    /// The sticker id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker_id: Option<i64>,
    /// Its pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    /// Its images.
    #[serde(default, deserialize_with = "or_default")]
    pub images: Vec<Image>,
}

impl Sticker {
    /// The URL of the largest image.
    pub fn largest_url(&self) -> Option<&str> {
        self.images
            .iter()
            .filter(|i| !i.url.is_empty())
            .max_by_key(|i| i.width.saturating_mul(i.height))
            .map(|i| i.url.as_str())
    }
}

/// `base_image`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Image {
    /// The URL.
    #[serde(default, deserialize_with = "or_default")]
    pub url: String,
    /// Width in px.
    #[serde(default, deserialize_with = "or_default")]
    pub width: u64,
    /// Height in px.
    #[serde(default, deserialize_with = "or_default")]
    pub height: u64,
}

/// `base_geo` ([S base/objects.json]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Geo {
    /// The point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    /// The place, where named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
}

impl fmt::Debug for Geo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Geo { <redacted> }")
    }
}

/// `base_geo_coordinates`: `{latitude, longitude}`, or the older `"lat long"` string.
#[derive(Clone, Copy, Default, PartialEq, Serialize)]
pub struct Coordinates {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

impl fmt::Debug for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A customer's location is personal data.
        f.write_str("Coordinates { <redacted> }")
    }
}

impl<'de> Deserialize<'de> for Coordinates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Coordinates;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("expected coordinates")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Coordinates, A::Error> {
                // As a value read whole: the last of a repeated key, numbers of any kind.
                let (mut latitude, mut longitude) = (None, None);
                while let Some(key) = map.next_key::<inbound::Str<'de>>()? {
                    let slot = match key.as_str() {
                        "latitude" => &mut latitude,
                        "longitude" => &mut longitude,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value::<LenientF64>()?.0;
                }
                match (latitude, longitude) {
                    (Some(latitude), Some(longitude)) => Ok(Coordinates {
                        latitude,
                        longitude,
                    }),
                    _ => Err(de::Error::custom("expected coordinates")),
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Coordinates, E> {
                let mut parts = s.split_whitespace().map(str::parse::<f64>);
                match (parts.next(), parts.next()) {
                    (Some(Ok(latitude)), Some(Ok(longitude))) => Ok(Coordinates {
                        latitude,
                        longitude,
                    }),
                    _ => Err(de::Error::custom("expected coordinates")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A number as `f64` (a JSON number of any kind, as a value read whole gives it), `None` for
/// any other value.
struct LenientF64(Option<f64>);

impl<'de> Deserialize<'de> for LenientF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientF64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientF64, E> {
                Ok(LenientF64(Some(v)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientF64, E> {
                Ok(LenientF64(Some(v as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientF64, E> {
                Ok(LenientF64(Some(v as f64)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientF64, E> {
                Ok(LenientF64(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<LenientF64, E> {
                Ok(LenientF64(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientF64, E> {
                Ok(LenientF64(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientF64, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientF64(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientF64, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientF64(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `base_place`: only the names are used.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Place {
    /// The place's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl fmt::Debug for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Place { <redacted> }")
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound, as intake decodes it: borrowed from the body
// ---------------------------------------------------------------------------------------------

/// The inbound types every intake path decodes ([`crate::parse`], the Callback API, Bots Long
/// Poll): events, messages and attachments as [`Event`],
/// [`Message`] and [`Attachment`] describe them, decoded
/// from the body's bytes without a `serde_json::Value`, strings borrowed from the body
/// ([`Str`](inbound::Str)), unknown fields skipped unbuilt.
///
/// An event's `object` and each attachment are kept as raw JSON text ([`RawValue`](serde_json::value::RawValue), borrowed)
/// until their type is known, then decoded from it: so one of an unexpected shape becomes a
/// `malformed_event` or [`Attachment::Other`] and nothing else of the body is lost.
///
/// ```
/// use connector_vk::wire::inbound::Event;
/// let event: Event<'_> = serde_json::from_str(
///     r#"{"type":"message_deny","group_id":1,"object":{"user_id":111}}"#,
/// ).unwrap();
/// assert_eq!(event.kind.as_str(), "message_deny");
/// assert_eq!(event.object.unwrap().get(), r#"{"user_id":111}"#);
/// ```
pub mod inbound {
    use std::borrow::Cow;
    use std::fmt;

    use messenger_core::model::fingerprint;
    use messenger_core::redact::{Redacted, TextLen};
    use serde::Deserialize;
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    use super::{bool_int, or_default};

    /// The JSON string of the intake types (one type for every connector, in the core).
    pub use messenger_core::json::Str;

    /// An integer that may be `null` (`0`), kept apart from a missing one (`None`, the field's
    /// default).
    fn present_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Some(Option::<i64>::deserialize(d)?.unwrap_or_default()))
    }

    /// A message as an object only (an array is not read by position).
    pub struct ObjectMessage<'a>(pub Message<'a>);

    impl<'de: 'a, 'a> Deserialize<'de> for ObjectMessage<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ObjectMessage<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a message")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    Message::deserialize(de::value::MapAccessDeserializer::new(map))
                        .map(ObjectMessage)
                }
            }
            d.deserialize_map(V)
        }
    }

    impl fmt::Debug for ObjectMessage<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt(f)
        }
    }

    /// `message_new` as VK sends it since 5.103, read in one pass: the message an object, as
    /// [`MessageNew`] reads it otherwise.
    #[derive(Debug, Deserialize)]
    pub struct Wrapped<'a> {
        /// The message.
        #[serde(borrow)]
        pub message: ObjectMessage<'a>,
        /// What the user's client supports (not used).
        #[serde(default)]
        pub client_info: Option<IgnoredAny>,
    }

    /// What a JSON value says of itself, read leniently as a value read whole would say it
    /// (the last of a repeated key): whether it is an object, and what [`Peek::of`] looks
    /// for in it.
    #[derive(Debug, Default, Clone)]
    pub struct Peek<'a> {
        /// Whether the value is a JSON object.
        pub is_object: bool,
        /// Whether it has a `message` key, and whether that is an object.
        pub message: Option<bool>,
        /// Whether the message (`message` where it is an object, else the value itself) has
        /// a `peer_id` key.
        pub has_peer_id: bool,
        /// `peer_id`, `user_id` and `from_id` at the top, each where it is an integer (`None`
        /// where absent; `Some(None)` where present but not an integer).
        pub ids: [Option<Option<i64>>; 3],
        /// The value of the key looked for (see [`Peek::of`]), raw.
        pub field: Option<&'a RawValue>,
        /// `type`, where it is a string.
        pub kind: Option<Str<'a>>,
    }

    /// The key names of [`Peek::ids`].
    const IDS: [&str; 3] = ["peer_id", "user_id", "from_id"];

    impl<'a> Peek<'a> {
        /// Reads `raw` leniently, keeping the raw value of the key `field` (an attachment's
        /// body is under its type's name); never an error.
        pub fn of(raw: &'a RawValue, field: Option<&str>) -> Self {
            struct Top<'f>(Option<&'f str>);
            impl<'de> Visitor<'de> for Top<'_> {
                type Value = Peek<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peek<'de>, A::Error> {
                    let mut peek = Peek {
                        is_object: true,
                        ..Peek::default()
                    };
                    let mut own_peer_id = false;
                    let mut message_peer_id = false;
                    while let Some(key) = map.next_key::<Str<'de>>()? {
                        if let Some(i) = IDS.iter().position(|k| *k == key.as_str()) {
                            let raw = map.next_value::<&'de RawValue>()?;
                            peek.ids[i] = Some(serde_json::from_str::<i64>(raw.get()).ok());
                            if i == 0 {
                                own_peer_id = true;
                            }
                            continue;
                        }
                        if Some(key.as_str()) == self.0 {
                            peek.field = Some(map.next_value::<&'de RawValue>()?);
                            continue;
                        }
                        match key.as_str() {
                            "message" => {
                                let raw = map.next_value::<&'de RawValue>()?;
                                let inner = Peek::of(raw, None);
                                peek.message = Some(inner.is_object);
                                message_peer_id = inner.is_object && inner.ids[0].is_some();
                            }
                            "type" => {
                                let raw = map.next_value::<&'de RawValue>()?;
                                peek.kind = serde_json::from_str::<Str<'de>>(raw.get()).ok();
                            }
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    peek.has_peer_id = if peek.message == Some(true) {
                        message_peer_id
                    } else {
                        own_peer_id
                    };
                    Ok(peek)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Peek<'de>, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Peek::default())
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
                fn visit_unit<E: de::Error>(self) -> Result<Peek<'de>, E> {
                    Ok(Peek::default())
                }
            }
            let mut de = serde_json::Deserializer::from_str(raw.get());
            de::Deserializer::deserialize_any(&mut de, Top(field)).unwrap_or_default()
        }

        /// The first of `keys` (names of [`Peek::ids`]) present with an integer, where it is
        /// not `0` (a value read whole: `keys.find_map(as_i64)`).
        pub fn chat(&self, keys: &[&str]) -> Option<i64> {
            keys.iter()
                .find_map(|k| {
                    let i = IDS.iter().position(|n| n == k)?;
                    self.ids[i].flatten()
                })
                .filter(|id| *id != 0)
        }
    }

    /// `messages_message` ([S messages/objects.json]), as Callback and Long Poll deliver it.
    #[derive(Clone, Default, Deserialize)]
    pub struct Message<'a> {
        /// The message id (`0` for a community's messages in a group chat: see
        /// [`conversation_message_id`](Self::conversation_message_id)).
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Unix time.
        #[serde(default, deserialize_with = "or_default")]
        pub date: i64,
        /// The conversation: a user id, `2000000000 + chat id`, or `-community id`.
        ///
        /// `None` where the message has no `peer_id` key (`null` reads as `Some(0)`).
        #[serde(default, deserialize_with = "present_or_zero")]
        pub peer_id: Option<i64>,
        /// The author.
        #[serde(default, deserialize_with = "or_default")]
        pub from_id: i64,
        /// The text (may be empty).
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub text: Str<'a>,
        /// Whether the community sent it (`out: 1`).
        #[serde(default, deserialize_with = "bool_int")]
        pub out: bool,
        /// The message's number within its conversation.
        #[serde(default, deserialize_with = "or_default")]
        pub conversation_message_id: i64,
        /// The attachments.
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub attachments: Vec<Attachment<'a>>,
        /// The message this one replies to.
        #[serde(borrow, default)]
        pub reply_message: Option<Box<Message<'a>>>,
        /// Forwarded messages (not modelled).
        #[serde(default, deserialize_with = "or_default")]
        pub fwd_messages: Vec<IgnoredAny>,
        /// A location.
        #[serde(borrow, default)]
        pub geo: Option<Geo<'a>>,
        /// A service action in a group chat (`chat_invite_user`...).
        #[serde(borrow, default)]
        pub action: Option<Action<'a>>,
        /// The sender's `random_id` (outgoing messages).
        #[serde(default)]
        pub random_id: Option<i64>,
        /// The admin who sent an outgoing message.
        #[serde(default)]
        pub admin_author_id: Option<i64>,
        /// Unix time of the last edit.
        #[serde(default)]
        pub update_time: Option<i64>,
        /// A bot keyboard payload.
        #[serde(borrow, default)]
        pub payload: Option<Str<'a>>,
    }

    impl Message<'_> {
        /// The conversation (`0` where the message names none).
        pub fn peer(&self) -> i64 {
            self.peer_id.unwrap_or_default()
        }
    }

    impl fmt::Debug for Message<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Message")
                .field("id", &self.id)
                .field("peer_id", &fingerprint(&self.peer().to_string()))
                .field("out", &self.out)
                .field("text", &TextLen(&self.text))
                .field("attachments", &self.attachments)
                .finish_non_exhaustive()
        }
    }

    /// `messages_message_action`: only its type is used.
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct Action<'a> {
        /// `chat_invite_user`, `chat_title_update`...
        #[serde(borrow, rename = "type", default, deserialize_with = "or_default")]
        pub kind: Str<'a>,
    }

    /// `{"type": T, T: {...}}` ([S messages/objects.json `messages_message_attachment`]).
    #[derive(Clone)]
    #[non_exhaustive]
    pub enum Attachment<'a> {
        /// `photo`.
        Photo(Photo<'a>),
        /// `doc`.
        Doc(Doc<'a>),
        /// `audio_message` (a voice note).
        AudioMessage(AudioMessage<'a>),
        /// `audio` (a music track).
        Audio(Audio<'a>),
        /// `video`.
        Video(Video<'a>),
        /// `sticker`.
        Sticker(Sticker<'a>),
        /// Any other type, or a known type whose body did not decode; the type name is kept.
        Other {
            /// The attachment's type.
            kind: Str<'a>,
        },
    }

    impl<'a> Attachment<'a> {
        /// The VK type name.
        pub fn kind(&self) -> &str {
            match self {
                Attachment::Photo(_) => "photo",
                Attachment::Doc(_) => "doc",
                Attachment::AudioMessage(_) => "audio_message",
                Attachment::Audio(_) => "audio",
                Attachment::Video(_) => "video",
                Attachment::Sticker(_) => "sticker",
                Attachment::Other { kind } => kind,
            }
        }

        /// Reads one attachment from its raw text, keeping the type name of anything that
        /// does not decode (the body under the type's name, an object, decoded as that type).
        pub fn from_raw(raw: &'a RawValue) -> Self {
            let first = Peek::of(raw, None);
            let kind = first.kind.unwrap_or(Str(Cow::Borrowed("unknown")));
            let body = Peek::of(raw, Some(kind.as_str())).field;
            fn typed<'a, T: Deserialize<'a>>(body: Option<&'a RawValue>) -> Option<T> {
                let body = body?;
                if !body.get().starts_with('{') {
                    return None;
                }
                serde_json::from_str(body.get()).ok()
            }
            let known = match kind.as_str() {
                "photo" => typed(body).map(Attachment::Photo),
                "doc" => typed(body).map(Attachment::Doc),
                "audio_message" => typed(body).map(Attachment::AudioMessage),
                "audio" => typed(body).map(Attachment::Audio),
                "video" => typed(body).map(Attachment::Video),
                "sticker" => typed(body).map(Attachment::Sticker),
                _ => None,
            };
            known.unwrap_or(Attachment::Other { kind })
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Attachment<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(Attachment::from_raw(<&'de RawValue>::deserialize(d)?))
        }
    }

    impl fmt::Debug for Attachment<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Only the type: bodies carry titles, file names and signed URLs.
            write!(f, "Attachment({})", self.kind())
        }
    }

    /// `photos_photo` ([S photos/objects.json]).
    #[derive(Clone, Default, Deserialize)]
    pub struct Photo<'a> {
        /// The photo id.
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Its owner (a user, or `-community`).
        #[serde(default, deserialize_with = "or_default")]
        pub owner_id: i64,
        /// The key that grants access to a private object.
        #[serde(borrow, default)]
        pub access_key: Option<Str<'a>>,
        /// The sizes, each with its URL.
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub sizes: Vec<PhotoSize<'a>>,
        /// The album.
        #[serde(default)]
        pub album_id: Option<i64>,
        /// Unix time.
        #[serde(default)]
        pub date: Option<i64>,
    }

    impl fmt::Debug for Photo<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Photo")
                .field("id", &self.id)
                .field("owner_id", &self.owner_id)
                .field("sizes", &self.sizes.len())
                .finish_non_exhaustive()
        }
    }

    impl Photo<'_> {
        /// The URL of the largest size: the largest area, then the latest letter of VK's size
        /// scale (`s m x o p q r y z w`) where sizes carry no dimensions.
        pub fn largest_url(&self) -> Option<&str> {
            const SCALE: &str = "smxopqryzw";
            self.sizes
                .iter()
                .filter_map(|s| s.url().map(|url| (s, url)))
                .max_by_key(|(s, _)| {
                    let area = s.width.saturating_mul(s.height);
                    let rank = s
                        .kind
                        .chars()
                        .next()
                        .and_then(|c| SCALE.find(c))
                        .unwrap_or(0);
                    (area, rank)
                })
                .map(|(_, url)| url)
        }
    }

    /// `photos_photo_sizes`.
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct PhotoSize<'a> {
        /// The size letter (`s`, `m`, `x`, `y`, `z`, `w`...).
        #[serde(borrow, rename = "type", default, deserialize_with = "or_default")]
        pub kind: Str<'a>,
        /// The image URL.
        #[serde(borrow, default)]
        pub url: Option<Str<'a>>,
        /// The image URL under its older name.
        #[serde(borrow, default)]
        pub src: Option<Str<'a>>,
        /// Width in px.
        #[serde(default, deserialize_with = "or_default")]
        pub width: u64,
        /// Height in px.
        #[serde(default, deserialize_with = "or_default")]
        pub height: u64,
    }

    impl PhotoSize<'_> {
        /// `url`, or `src` where only that is given.
        pub fn url(&self) -> Option<&str> {
            self.url
                .as_deref()
                .or(self.src.as_deref())
                .filter(|u| !u.is_empty())
        }
    }

    /// `docs_doc` ([S docs/objects.json]).
    #[derive(Clone, Default, Deserialize)]
    pub struct Doc<'a> {
        /// The document id.
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Its owner.
        #[serde(default, deserialize_with = "or_default")]
        pub owner_id: i64,
        /// Its title (usually the file name).
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub title: Str<'a>,
        /// Size in bytes.
        #[serde(default)]
        pub size: Option<u64>,
        /// The file extension.
        #[serde(borrow, default)]
        pub ext: Option<Str<'a>>,
        /// The download URL.
        #[serde(borrow, default)]
        pub url: Option<Str<'a>>,
        /// The access key.
        #[serde(borrow, default)]
        pub access_key: Option<Str<'a>>,
        /// The document type (1 text, 2 archive, 3 gif, 4 image, 5 audio, 6 video, 7 e-book, 8
        /// unknown).
        #[serde(rename = "type", default)]
        pub kind: Option<i64>,
    }

    impl fmt::Debug for Doc<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Doc")
                .field("id", &self.id)
                .field("owner_id", &self.owner_id)
                .field("title", &Redacted)
                .field("size", &self.size)
                .finish_non_exhaustive()
        }
    }

    /// `messages_audio_message` ([S messages/objects.json]).
    #[derive(Clone, Default, Deserialize)]
    pub struct AudioMessage<'a> {
        /// The id (a document id).
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Its owner.
        #[serde(default, deserialize_with = "or_default")]
        pub owner_id: i64,
        /// Length in seconds.
        #[serde(default)]
        pub duration: Option<u64>,
        /// The OGG/Opus file.
        #[serde(borrow, default)]
        pub link_ogg: Option<Str<'a>>,
        /// The MP3 file.
        #[serde(borrow, default)]
        pub link_mp3: Option<Str<'a>>,
        /// The access key.
        #[serde(borrow, default)]
        pub access_key: Option<Str<'a>>,
    }

    impl fmt::Debug for AudioMessage<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("AudioMessage")
                .field("id", &self.id)
                .field("duration", &self.duration)
                .finish_non_exhaustive()
        }
    }

    /// `audio_audio`: a music track.
    #[derive(Clone, Default, Deserialize)]
    pub struct Audio<'a> {
        /// The id.
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Its owner.
        #[serde(default, deserialize_with = "or_default")]
        pub owner_id: i64,
        /// The MP3 URL, where VK gives one (often empty for third-party clients).
        #[serde(borrow, default)]
        pub url: Option<Str<'a>>,
        /// Length in seconds.
        #[serde(default)]
        pub duration: Option<u64>,
        /// The access key.
        #[serde(borrow, default)]
        pub access_key: Option<Str<'a>>,
    }

    impl fmt::Debug for Audio<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Audio")
                .field("id", &self.id)
                .finish_non_exhaustive()
        }
    }

    /// `video_video`: only the reference is used (VK gives no file URL for videos).
    #[derive(Clone, Default, Deserialize)]
    pub struct Video<'a> {
        /// The id.
        #[serde(default, deserialize_with = "or_default")]
        pub id: i64,
        /// Its owner.
        #[serde(default, deserialize_with = "or_default")]
        pub owner_id: i64,
        /// Length in seconds.
        #[serde(default)]
        pub duration: Option<u64>,
        /// The access key.
        #[serde(borrow, default)]
        pub access_key: Option<Str<'a>>,
    }

    impl fmt::Debug for Video<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Video")
                .field("id", &self.id)
                .finish_non_exhaustive()
        }
    }

    /// `base_sticker_new` ([S base/objects.json]).
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct Sticker<'a> {
        /// The sticker id.
        #[serde(default)]
        pub sticker_id: Option<i64>,
        /// Its pack.
        #[serde(default)]
        pub product_id: Option<i64>,
        /// Its images.
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub images: Vec<Image<'a>>,
    }

    impl Sticker<'_> {
        /// The URL of the largest image.
        pub fn largest_url(&self) -> Option<&str> {
            self.images
                .iter()
                .filter(|i| !i.url.is_empty())
                .max_by_key(|i| i.width.saturating_mul(i.height))
                .map(|i| i.url.as_str())
        }
    }

    /// `base_image`.
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct Image<'a> {
        /// The URL.
        #[serde(borrow, default, deserialize_with = "or_default")]
        pub url: Str<'a>,
        /// Width in px.
        #[serde(default, deserialize_with = "or_default")]
        pub width: u64,
        /// Height in px.
        #[serde(default, deserialize_with = "or_default")]
        pub height: u64,
    }

    /// `base_geo` ([S base/objects.json]).
    #[derive(Clone, Default, Deserialize)]
    pub struct Geo<'a> {
        /// The point.
        #[serde(default)]
        pub coordinates: Option<Coordinates>,
        /// The place, where named.
        #[serde(borrow, default)]
        pub place: Option<Place<'a>>,
    }

    impl fmt::Debug for Geo<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Geo { <redacted> }")
        }
    }

    /// `base_place`: only the names are used.
    #[derive(Clone, Default, Deserialize)]
    pub struct Place<'a> {
        /// The place's title.
        #[serde(borrow, default)]
        pub title: Option<Str<'a>>,
        /// Its address.
        #[serde(borrow, default)]
        pub address: Option<Str<'a>>,
    }

    impl fmt::Debug for Place<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Place { <redacted> }")
        }
    }

    /// `message_new` ([S callback/objects.json `callback_message_object`]): since 5.103 the
    /// message is wrapped with the client's abilities.
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct MessageNew<'a> {
        /// The message.
        #[serde(borrow)]
        pub message: Message<'a>,
        /// What the user's client supports (not used).
        #[serde(default)]
        pub client_info: Option<IgnoredAny>,
    }

    /// `message_allow` ([S callback/objects.json `callback_message_allow`]).
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct MessageAllow<'a> {
        /// The user who allowed messages.
        pub user_id: i64,
        /// The `key` passed to `messages.allowMessagesFromGroup`.
        #[serde(borrow, default)]
        pub key: Option<Str<'a>>,
    }

    /// `message_deny` ([S callback/objects.json `callback_message_deny`]).
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct MessageDeny {
        /// The user who denied messages.
        pub user_id: i64,
    }

    /// `message_read` ([S callback/objects.json `callback_message_read`]).
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct MessageRead {
        /// Who read (most likely the user; UNCONFIRMED).
        #[serde(default, deserialize_with = "or_default")]
        pub from_id: i64,
        /// The conversation.
        pub peer_id: i64,
        /// The last message read.
        #[serde(default, deserialize_with = "or_default")]
        pub read_message_id: i64,
        /// Its number in the conversation.
        #[serde(default, deserialize_with = "or_default")]
        pub conversation_message_id: i64,
    }

    /// One event ([`super::Event`], borrowed): its `object` kept raw until its type is known.
    #[derive(Clone, Default, Deserialize)]
    pub struct Event<'a> {
        /// `message_new`, `message_read`...
        #[serde(rename = "type", borrow, default, deserialize_with = "or_default")]
        pub kind: Str<'a>,
        /// The community.
        #[serde(default)]
        pub group_id: Option<i64>,
        /// "Unique event id. If it passed twice or more — you should ignore it."
        #[serde(borrow, default)]
        pub event_id: Option<Str<'a>>,
        /// The API version of `object`.
        #[serde(borrow, default)]
        pub v: Option<Str<'a>>,
        /// The event's object, raw (`None`: absent or `null`).
        #[serde(borrow, default)]
        pub object: Option<&'a RawValue>,
        /// The Callback secret (absent from Long Poll).
        #[serde(borrow, default)]
        pub secret: Option<Str<'a>>,
    }

    impl fmt::Debug for Event<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Event")
                .field("kind", &self.kind.as_str())
                .field("group_id", &self.group_id)
                .field("event_id", &self.event_id)
                .field("object", &Redacted)
                .field("secret", &self.secret.as_ref().map(|_| Redacted))
                .finish()
        }
    }

    /// A Bots Long Poll answer ([`super::LongPollAnswer`], borrowed): its events raw, each
    /// read on its own.
    #[derive(Debug, Clone, Default, Deserialize)]
    pub struct LongPollAnswer<'a> {
        /// The `ts` to ask from next (a string; a number in some `failed: 1` answers).
        #[serde(default, deserialize_with = "super::string_or_number")]
        pub ts: Option<String>,
        /// The events.
        #[serde(borrow, default)]
        pub updates: Option<Vec<&'a RawValue>>,
        /// `1`, `2` or `3` where the poll failed.
        #[serde(default)]
        pub failed: Option<i64>,
    }

    pub use super::Coordinates;
}

// ---------------------------------------------------------------------------------------------
// Callback API and Bots Long Poll events
// ---------------------------------------------------------------------------------------------

/// The three fields of a Callback body that verification reads, before anything else is
/// interpreted ([S callback/objects.json `callback_base`]). Unknown fields are skipped
/// without being built; a repeated key is an error (so it cannot smuggle a second secret).
#[derive(Clone, Default, Deserialize)]
pub struct CallbackHead {
    /// The event type.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The secret key, present when one is configured for the server.
    #[serde(default)]
    pub secret: Option<String>,
    /// The community.
    #[serde(default)]
    pub group_id: Option<i64>,
}

impl fmt::Debug for CallbackHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackHead")
            .field("kind", &self.kind)
            .field("secret", &redacted(&self.secret))
            .field("group_id", &self.group_id)
            .finish()
    }
}

/// One event, as the Callback API posts it and as Long Poll lists it in `updates`
/// ([S callback/objects.json `callback_base`]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Event {
    /// `message_new`, `message_read`...
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    pub kind: String,
    /// The community.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    /// "Unique event id. If it passed twice or more — you should ignore it."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The API version of `object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
    /// The event's object.
    #[serde(default)]
    pub object: Value,
    /// The Callback secret (absent from Long Poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind)
            .field("group_id", &self.group_id)
            .field("event_id", &self.event_id)
            .field("object", &Redacted)
            .field("secret", &redacted(&self.secret))
            .finish()
    }
}

/// `message_new` ([S callback/objects.json `callback_message_object`]): since 5.103 the
/// message is wrapped with the client's abilities.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MessageNew {
    /// The message.
    pub message: Message,
    /// What the user's client supports (not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<Value>,
}

/// `message_allow` ([S callback/objects.json `callback_message_allow`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MessageAllow {
    /// The user who allowed messages.
    pub user_id: i64,
    /// The `key` passed to `messages.allowMessagesFromGroup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `message_deny` ([S callback/objects.json `callback_message_deny`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MessageDeny {
    /// The user who denied messages.
    pub user_id: i64,
}

/// `message_read` ([S callback/objects.json `callback_message_read`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MessageRead {
    /// Who read (most likely the user; UNCONFIRMED).
    #[serde(default, deserialize_with = "or_default")]
    pub from_id: i64,
    /// The conversation.
    pub peer_id: i64,
    /// The last message read.
    #[serde(default, deserialize_with = "or_default")]
    pub read_message_id: i64,
    /// Its number in the conversation.
    #[serde(default, deserialize_with = "or_default")]
    pub conversation_message_id: i64,
}

/// A Bots Long Poll answer: events and the next `ts`, or `failed`.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct LongPollAnswer {
    /// The `ts` to ask from next (a string; a number in some `failed: 1` answers).
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub ts: Option<String>,
    /// The events, kept as JSON so that one malformed event does not hide the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<Value>>,
    /// `1`: take the new `ts`; `2`: the key expired; `3`: the key and `ts` are lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i64>,
}

impl fmt::Debug for LongPollAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongPollAnswer")
            .field("ts", &self.ts)
            .field("updates", &self.updates.as_ref().map(Vec::len))
            .field("failed", &self.failed)
            .finish()
    }
}

/// `groups_long_poll_server` ([S groups/objects.json]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct LongPollServer {
    /// The session key (a credential: never shown).
    pub key: String,
    /// The server URL.
    pub server: String,
    /// The current position.
    #[serde(deserialize_with = "required_string_or_number")]
    pub ts: String,
}

impl fmt::Debug for LongPollServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongPollServer")
            .field("key", &Redacted)
            .field("server", &Redacted)
            .field("ts", &self.ts)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Method answers
// ---------------------------------------------------------------------------------------------

/// `groups_group` (the fields used).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Group {
    /// The community id.
    pub id: i64,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its short address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_name: Option<String>,
}

/// `groups.getById`: `{groups: [...], profiles: [...]}` since 5.139, a bare array before.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum GroupsById {
    /// The current shape.
    Object {
        /// The communities.
        groups: Vec<Group>,
    },
    /// The older shape.
    List(Vec<Group>),
}

impl GroupsById {
    /// The communities, whichever the shape.
    pub fn into_groups(self) -> Vec<Group> {
        match self {
            GroupsById::Object { groups } | GroupsById::List(groups) => groups,
        }
    }
}

/// `messages.send`: the message id for `peer_id`, one item per recipient for `peer_ids`
/// ([S messages/responses.json]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SendResponse {
    /// `{"response": 346}`.
    Id(i64),
    /// `{"response": [{"peer_id", "message_id", "conversation_message_id", "error"?}]}`.
    Peers(Vec<SendPeerResult>),
}

/// One recipient's result of `messages.send` with `peer_ids`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SendPeerResult {
    /// The recipient.
    #[serde(default, deserialize_with = "or_default")]
    pub peer_id: i64,
    /// The message id (`0` in a group chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// The number in the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_message_id: Option<i64>,
    /// Why this recipient failed ([S base/objects.json `base_message_error`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PeerError>,
}

/// `base_message_error`.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct PeerError {
    /// The error code.
    #[serde(default, deserialize_with = "or_default")]
    pub code: i64,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl fmt::Debug for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerError")
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

/// `photos.getMessagesUploadServer` ([S photos/objects.json `photos_photo_upload`]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct PhotoUploadServer {
    /// Where to POST the photo.
    pub upload_url: String,
    /// The album (`-64` for messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_id: Option<i64>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// The community.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
}

impl fmt::Debug for PhotoUploadServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhotoUploadServer")
            .field("upload_url", &Redacted)
            .field("album_id", &self.album_id)
            .finish_non_exhaustive()
    }
}

/// `docs.getMessagesUploadServer` ([S base/objects.json `base_upload_server`]).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct UploadServer {
    /// Where to POST the file.
    pub upload_url: String,
}

impl fmt::Debug for UploadServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadServer { upload_url: <redacted> }")
    }
}

/// The photo upload server's answer (vksdk `PhotosMessageUploadResponse`).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct PhotoUploaded {
    /// The server.
    #[serde(default, deserialize_with = "or_default")]
    pub server: i64,
    /// An opaque string (`"[]"` when the server did not take the file).
    #[serde(default, deserialize_with = "or_default")]
    pub photo: String,
    /// Its hash.
    #[serde(default, deserialize_with = "or_default")]
    pub hash: String,
}

impl fmt::Debug for PhotoUploaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhotoUploaded")
            .field("server", &self.server)
            .field("photo_len", &self.photo.len())
            .finish_non_exhaustive()
    }
}

/// The document upload server's answer: `{"file": "<opaque>"}`.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct DocUploaded {
    /// An opaque string for `docs.save`.
    #[serde(default, deserialize_with = "or_default")]
    pub file: String,
}

impl fmt::Debug for DocUploaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocUploaded")
            .field("file_len", &self.file.len())
            .finish()
    }
}

/// `docs.save` ([S docs/responses.json `docs_save_response`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocSaved {
    /// `doc`, `audio_message` or `graffiti`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The document, for `doc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<Doc>,
    /// The voice note, for `audio_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_message: Option<AudioMessage>,
}

// ---------------------------------------------------------------------------------------------
// Outbound parameters (form-encoded; the connector adds `v`)
// ---------------------------------------------------------------------------------------------

/// `messages.send` ([S messages/methods.json]).
#[derive(Clone, Default, Serialize)]
pub struct SendParams {
    /// The recipient (a user or `-community`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<i64>,
    /// The recipient, for a group chat (`2000000000 + id`): the answer then carries the
    /// conversation message id, which is the only id a community has there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ids: Option<String>,
    /// VK drops a second message with the same `random_id` to the same recipient.
    pub random_id: i32,
    /// The text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `<type><owner>_<id>[_<key>]`, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    /// The message replied to (by its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    /// A reply by conversation message id, as JSON (`{"peer_id", "conversation_message_ids",
    /// "is_reply": true}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<String>,
}

impl fmt::Debug for SendParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendParams")
            .field(
                "peer",
                &fingerprint(
                    &self
                        .peer_id
                        .map(|p| p.to_string())
                        .or_else(|| self.peer_ids.clone())
                        .unwrap_or_default(),
                ),
            )
            .field("random_id", &self.random_id)
            .field("message", &self.message.as_deref().map(TextLen))
            .field("attachment", &self.attachment.is_some())
            .field("reply_to", &self.reply_to)
            .finish_non_exhaustive()
    }
}

/// `messages.markAsRead`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MarkAsReadParams {
    /// The conversation.
    pub peer_id: i64,
    /// The message from which on everything is read (by id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_message_id: Option<i64>,
    /// The same by conversation message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_cmid: Option<i64>,
    /// `1`: the whole conversation.
    pub mark_conversation_as_read: u8,
    /// The community.
    pub group_id: u64,
}

/// `messages.edit`.
#[derive(Clone, Default, Serialize)]
pub struct EditParams {
    /// The conversation.
    pub peer_id: i64,
    /// The message (by id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// The message (by conversation message id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmid: Option<i64>,
    /// The new text.
    pub message: String,
}

impl fmt::Debug for EditParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditParams")
            .field("message_id", &self.message_id)
            .field("cmid", &self.cmid)
            .field("message", &TextLen(&self.message))
            .finish_non_exhaustive()
    }
}

/// `messages.delete`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeleteParams {
    /// The conversation.
    pub peer_id: i64,
    /// The messages (by id), comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<String>,
    /// The messages (by conversation message id), comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmids: Option<String>,
    /// `1`: for everyone, not only the community.
    pub delete_for_all: u8,
}

/// `groups.getLongPollServer`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LongPollServerParams {
    /// The community.
    pub group_id: u64,
}

/// `groups.getById`: no parameters, so that VK answers with the token's own community.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GetByIdParams {}

/// `photos.getMessagesUploadServer`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhotoUploadServerParams {
    /// The recipient.
    pub peer_id: i64,
}

/// `docs.getMessagesUploadServer`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DocUploadServerParams {
    /// `doc` or `audio_message`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The recipient.
    pub peer_id: i64,
}

/// `photos.saveMessagesPhoto`.
#[derive(Clone, Default, Serialize)]
pub struct SaveMessagesPhotoParams {
    /// From the upload server's answer.
    pub photo: String,
    /// From the upload server's answer.
    pub server: i64,
    /// From the upload server's answer.
    pub hash: String,
}

impl fmt::Debug for SaveMessagesPhotoParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveMessagesPhotoParams")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// `docs.save`.
#[derive(Clone, Default, Serialize)]
pub struct DocsSaveParams {
    /// From the upload server's answer.
    pub file: String,
}

impl fmt::Debug for DocsSaveParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DocsSaveParams { .. }")
    }
}

/// Any method's parameters followed by the API version `v`.
#[derive(Serialize)]
pub struct Versioned<'a, T: Serialize> {
    /// The method's parameters.
    #[serde(flatten)]
    pub params: &'a T,
    /// The API version.
    pub v: &'a str,
}

impl<T: Serialize> fmt::Debug for Versioned<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("v", &self.v)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_tolerates_nulls_unknown_fields_and_bool_out() {
        let m: Message = serde_json::from_value(json!({
            "id": 5, "date": null, "peer_id": 7, "from_id": 7, "text": null, "out": true,
            "attachments": null, "brand_new_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!((m.id, m.date, m.peer_id), (5, 0, 7));
        assert!(m.out && m.text.is_empty() && m.attachments.is_empty());
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["out"], 1);
    }

    #[test]
    fn an_undecodable_attachment_keeps_its_type() {
        let a: Attachment =
            serde_json::from_value(json!({"type": "photo", "photo": "not an object"})).unwrap();
        assert_eq!(a.kind(), "photo");
        assert!(matches!(a, Attachment::Other { .. }));
        let a: Attachment = serde_json::from_value(json!({"type": "poll", "poll": {}})).unwrap();
        assert_eq!(a.kind(), "poll");
        let a: Attachment = serde_json::from_value(json!({"no": "type"})).unwrap();
        assert_eq!(a.kind(), "unknown");
    }

    #[test]
    fn attachments_round_trip() {
        let raw = json!({"type": "doc", "doc": {"id": 1, "owner_id": 2, "title": "t", "size": 3}});
        let a: Attachment = serde_json::from_value(raw).unwrap();
        let back = serde_json::to_value(&a).unwrap();
        assert_eq!(back["type"], "doc");
        assert_eq!(back["doc"]["size"], 3);
    }

    #[test]
    fn the_largest_photo_size_wins_by_area_then_letter() {
        let p: Photo = serde_json::from_value(json!({"id": 1, "owner_id": 1, "sizes": [
            {"type": "s", "url": "https://a/s", "width": 75, "height": 56},
            {"type": "x", "url": "https://a/x", "width": 604, "height": 453},
            {"type": "m", "url": "https://a/m", "width": 130, "height": 97}
        ]}))
        .unwrap();
        assert_eq!(p.largest_url(), Some("https://a/x"));
        let p: Photo = serde_json::from_value(json!({"id": 1, "owner_id": 1, "sizes": [
            {"type": "z", "src": "https://a/z", "width": 0, "height": 0},
            {"type": "m", "url": "https://a/m", "width": 0, "height": 0}
        ]}))
        .unwrap();
        assert_eq!(p.largest_url(), Some("https://a/z"));
        assert_eq!(Photo::default().largest_url(), None);
    }

    #[test]
    fn coordinates_come_as_an_object_or_a_string() {
        let c: Coordinates =
            serde_json::from_value(json!({"latitude": 59.9, "longitude": 30.3})).unwrap();
        assert_eq!((c.latitude, c.longitude), (59.9, 30.3));
        let c: Coordinates = serde_json::from_value(json!("59.9 30.3")).unwrap();
        assert_eq!((c.latitude, c.longitude), (59.9, 30.3));
        assert!(serde_json::from_value::<Coordinates>(json!("north")).is_err());
    }

    #[test]
    fn ts_is_a_string_or_a_number() {
        let a: LongPollAnswer = serde_json::from_value(json!({"failed": 1, "ts": 8})).unwrap();
        assert_eq!(a.ts.as_deref(), Some("8"));
        let s: LongPollServer =
            serde_json::from_value(json!({"key": "k", "server": "s", "ts": "4"})).unwrap();
        assert_eq!(s.ts, "4");
        assert!(!format!("{s:?}").contains("\"k\""));
    }

    #[test]
    fn groups_by_id_has_two_shapes() {
        let new: GroupsById =
            serde_json::from_value(json!({"groups": [{"id": 1, "name": "A"}], "profiles": []}))
                .unwrap();
        assert_eq!(new.into_groups()[0].id, 1);
        let old: GroupsById = serde_json::from_value(json!([{"id": 2}])).unwrap();
        assert_eq!(old.into_groups()[0].id, 2);
    }

    #[test]
    fn send_response_is_an_id_or_a_list() {
        let one: SendResponse = serde_json::from_value(json!(346)).unwrap();
        assert!(matches!(one, SendResponse::Id(346)));
        let many: SendResponse = serde_json::from_value(
            json!([{"peer_id": 2000000001, "message_id": 0, "conversation_message_id": 13}]),
        )
        .unwrap();
        assert!(
            matches!(many, SendResponse::Peers(ref p) if p[0].conversation_message_id == Some(13))
        );
    }

    #[test]
    fn a_callback_head_with_a_repeated_secret_is_refused() {
        assert!(
            serde_json::from_str::<CallbackHead>(r#"{"type":"x","secret":"a","secret":"b"}"#)
                .is_err()
        );
        let head: CallbackHead = serde_json::from_str(
            r#"{"type":"x","secret":"a","group_id":1,"object":{"big":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(head.kind.as_deref(), Some("x"));
        assert!(!format!("{head:?}").contains("\"a\""));
    }

    #[test]
    fn debug_hides_content_and_params() {
        let err: ApiError = serde_json::from_value(json!({
            "error_code": 100, "error_msg": "One of the parameters specified was missing or invalid",
            "request_params": [{"key": "message", "value": "Секретный текст"}]
        }))
        .unwrap();
        let debug = format!("{err:?}");
        assert!(
            debug.contains("message") && !debug.contains("Секрет"),
            "{debug}"
        );
        let params = SendParams {
            peer_id: Some(1),
            random_id: 5,
            message: Some("Секретный текст".into()),
            ..SendParams::default()
        };
        assert!(!format!("{params:?}").contains("Секрет"));
    }
}
