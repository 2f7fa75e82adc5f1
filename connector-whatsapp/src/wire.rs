//! Serde types of the WhatsApp Cloud API's JSON (Graph API), hand-written from Meta's OpenAPI
//! file (`business-messaging-api_v23.0.yaml`) and `shared/platforms/whatsapp.md`.
//!
//! Inbound types are tolerant: unknown fields are ignored, every field that Meta may omit is
//! an `Option` or defaults to empty, ids that Meta sometimes sends as numbers (group
//! participants' `wa_id`) are accepted as strings or numbers, and timestamps as strings
//! (`"1749416383"`, the usual form) or integers (`user_preferences`). Since 2026 a user may come
//! with a business-scoped user id (`user_id`, "BSUID") and without a phone number (`wa_id`,
//! `from`), so both are optional.
//!
//! `Debug` of types that hold message text, names or phone numbers is redacted.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Outbound: POST /{phone-number-id}/messages
// ---------------------------------------------------------------------------------------------

/// The body of `POST /{phone-number-id}/messages` for a message.
#[derive(Clone, Serialize)]
pub struct SendRequest {
    /// Always `"whatsapp"`.
    pub messaging_product: &'static str,
    /// `"individual"`, or `"group"` for a group id; the spec marks it required, several
    /// examples omit it; always sent.
    pub recipient_type: &'static str,
    /// The recipient's `wa_id` / phone number.
    pub to: String,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ReplyContext>,
    /// The typed payload: `type` and its object.
    #[serde(flatten)]
    pub payload: Payload,
}

impl fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest")
            .field("to", &messenger_core::model::fingerprint(&self.to))
            .field("type", &self.payload.type_name())
            .field("reply", &self.context.is_some())
            .finish()
    }
}

/// `context` of a reply.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyContext {
    /// The wamid of the quoted message.
    pub message_id: String,
}

/// The `type` of an outbound message and its object.
#[derive(Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Payload {
    /// `type: text`.
    Text {
        /// The text object.
        text: TextObject,
    },
    /// `type: image`.
    Image {
        /// The media object.
        image: MediaObject,
    },
    /// `type: document`.
    Document {
        /// The media object (with `filename`).
        document: MediaObject,
    },
    /// `type: audio` (a voice note is audio with `voice: true`).
    Audio {
        /// The media object (never a caption).
        audio: MediaObject,
    },
    /// `type: video`.
    Video {
        /// The media object.
        video: MediaObject,
    },
    /// `type: template`.
    Template {
        /// The template object.
        template: TemplateObject,
    },
}

impl Payload {
    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Payload::Text { .. } => "text",
            Payload::Image { .. } => "image",
            Payload::Document { .. } => "document",
            Payload::Audio { .. } => "audio",
            Payload::Video { .. } => "video",
            Payload::Template { .. } => "template",
        }
    }
}

/// `text: {body, preview_url}`.
#[derive(Clone, Serialize)]
pub struct TextObject {
    /// The text (at most 4096 characters).
    pub body: String,
    /// Whether WhatsApp renders a link preview.
    pub preview_url: bool,
}

/// `image` / `document` / `audio` / `video`: exactly one of `id` and `link`.
#[derive(Clone, Default, Serialize)]
pub struct MediaObject {
    /// An uploaded media id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A public http(s) URL WhatsApp fetches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Caption (image, video, document; at most 1024 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name shown for a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// `true` for a voice note (audio only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
}

/// `template: {name, language: {code}, components?}`.
#[derive(Clone, Serialize)]
pub struct TemplateObject {
    /// The approved template's name.
    pub name: String,
    /// Its language.
    pub language: TemplateLanguage,
    /// Header, body and button parameters, as Meta documents them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Value>,
}

/// `language: {code}`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateLanguage {
    /// A language and locale code (`en_US`, `ru`).
    pub code: String,
}

/// The answer to a send.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SendResponse {
    /// One entry per message sent (one).
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

/// `messages[]` of a send answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SentMessage {
    /// The wamid; status webhooks refer to it.
    #[serde(default)]
    pub id: Option<String>,
    /// `accepted`, `held_for_quality_assessment` or `paused`, where given.
    #[serde(default)]
    pub message_status: Option<String>,
}

/// The answer to an upload: `{"id": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadResponse {
    /// The new media id (valid 30 days).
    #[serde(deserialize_with = "flex_string")]
    pub id: String,
}

/// The answer to `GET /{media-id}`.
#[derive(Clone, Deserialize)]
pub struct MediaUrlResponse {
    /// The download URL (valid 5 minutes; needs the bearer token).
    pub url: String,
    /// The MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The size in bytes (Meta's example sends it as a string).
    #[serde(default, deserialize_with = "opt_flex_u64")]
    pub file_size: Option<u64>,
    /// The SHA-256 of the file (base64 or hex: Meta's examples differ).
    #[serde(default)]
    pub sha256: Option<String>,
}

impl fmt::Debug for MediaUrlResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is a bearer-protected, short-lived link: not printed.
        f.debug_struct("MediaUrlResponse")
            .field("mime_type", &self.mime_type)
            .field("file_size", &self.file_size)
            .finish_non_exhaustive()
    }
}

/// The answer to `GET /{phone-number-id}?fields=...`.
#[derive(Clone, Default, Deserialize)]
pub struct PhoneNumberResponse {
    /// The phone-number id.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub id: Option<String>,
    /// The business's number as displayed (never logged).
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The verified business name.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `NA`.
    #[serde(default)]
    pub quality_rating: Option<String>,
}

/// The Graph error envelope `{"error": {...}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphErrorBody {
    /// The error.
    #[serde(default)]
    pub error: Option<GraphError>,
}

/// A Graph API error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphError {
    /// The code to key on.
    #[serde(default, deserialize_with = "opt_flex_i64")]
    pub code: Option<i64>,
    /// Meta's description (`(#130429) Rate limit hit`).
    #[serde(default)]
    pub message: Option<String>,
    /// `OAuthException` and the like.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Whether Meta considers the error temporary.
    #[serde(default)]
    pub is_transient: Option<bool>,
    /// Meta's trace id (useful in support requests).
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Inbound: webhooks
// ---------------------------------------------------------------------------------------------

/// A webhook delivery: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPayload {
    /// `whatsapp_business_account`.
    #[serde(default)]
    pub object: Option<String>,
    /// One entry per WhatsApp Business Account.
    pub entry: Vec<Entry>,
}

/// `entry[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// The WABA id.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub id: Option<String>,
    /// The changes.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// `changes[]`: a `field` name and its `value`, decoded per field.
#[derive(Clone, Deserialize)]
pub struct Change {
    /// `messages`, `user_preferences`, `account_update`, `calls`...
    #[serde(default)]
    pub field: Option<String>,
    /// The value, decoded according to `field`.
    #[serde(default)]
    pub value: Value,
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// The `value` of a `messages` (or `user_preferences`) change.
///
/// `messages` and `statuses` stay raw here so that one undecodable item does not lose the
/// others of the delivery. `Debug` shows only how many of each there are (the raw items hold
/// message text and phone numbers).
#[derive(Clone, Default, Deserialize)]
pub struct ChangeValue {
    /// The business number the change is for.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The customers the messages come from.
    #[serde(default)]
    pub contacts: Vec<WaContact>,
    /// Inbound messages.
    #[serde(default)]
    pub messages: Vec<Value>,
    /// Statuses of outbound messages.
    #[serde(default)]
    pub statuses: Vec<Value>,
    /// Marketing-message preference changes.
    #[serde(default)]
    pub user_preferences: Vec<Value>,
    /// System-level errors.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for ChangeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeValue")
            .field("metadata", &self.metadata)
            .field("contacts", &self.contacts.len())
            .field("messages", &self.messages.len())
            .field("statuses", &self.statuses.len())
            .field("user_preferences", &self.user_preferences.len())
            .field("errors", &self.errors.len())
            .finish()
    }
}

/// `metadata`.
#[derive(Clone, Default, Deserialize)]
pub struct Metadata {
    /// The business number as displayed (never logged).
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The business phone-number id: route events by it.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub phone_number_id: Option<String>,
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// `contacts[]` of a change: who a message came from.
#[derive(Clone, Default, Deserialize)]
pub struct WaContact {
    /// The profile (display name).
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The WhatsApp id (phone number); may be omitted for username users since 2026.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub wa_id: Option<String>,
    /// The business-scoped user id (BSUID), since about April 2026.
    #[serde(default)]
    pub user_id: Option<String>,
}

impl fmt::Debug for WaContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaContact").finish_non_exhaustive()
    }
}

/// `profile`.
#[derive(Clone, Default, Deserialize)]
pub struct Profile {
    /// The customer's display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// An inbound message (`value.messages[]`), also the inner `message` of an `edit`.
#[derive(Clone, Default, Deserialize)]
pub struct InboundMessage {
    /// The sender's WhatsApp id (phone number); may be omitted for username users.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub from: Option<String>,
    /// The sender's business-scoped user id, where sent.
    #[serde(default)]
    pub from_user_id: Option<String>,
    /// The group the message was written in, for group messages.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The wamid.
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub timestamp: Option<i64>,
    /// `text`, `image`, `audio`, ... `unsupported`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Reply / forward context.
    #[serde(default)]
    pub context: Option<MessageContext>,
    /// `type: text`.
    #[serde(default)]
    pub text: Option<TextIn>,
    /// `type: image`.
    #[serde(default)]
    pub image: Option<MediaIn>,
    /// `type: audio` (`voice: true` for a voice note).
    #[serde(default)]
    pub audio: Option<MediaIn>,
    /// `type: video`.
    #[serde(default)]
    pub video: Option<MediaIn>,
    /// `type: document` (with `filename`).
    #[serde(default)]
    pub document: Option<MediaIn>,
    /// `type: sticker` (with `animated`).
    #[serde(default)]
    pub sticker: Option<MediaIn>,
    /// `type: location`.
    #[serde(default)]
    pub location: Option<LocationIn>,
    /// `type: contacts`.
    #[serde(default)]
    pub contacts: Option<Vec<SharedContact>>,
    /// `type: button` (a template's quick-reply button).
    #[serde(default)]
    pub button: Option<ButtonIn>,
    /// `type: interactive` (`button_reply`, `list_reply`, `nfm_reply`...).
    #[serde(default)]
    pub interactive: Option<InteractiveIn>,
    /// `type: system` (`user_changed_number`).
    #[serde(default)]
    pub system: Option<SystemIn>,
    /// `type: unsupported` (with the platform's own type name, where given).
    #[serde(default)]
    pub unsupported: Option<UnsupportedIn>,
    /// `type: edit`.
    #[serde(default)]
    pub edit: Option<Box<EditIn>>,
    /// Errors attached to the message (`131051` for unsupported types).
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMessage")
            .field("id", &self.id)
            .field("type", &self.kind)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// `context` of an inbound message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageContext {
    /// The quoted message's wamid.
    #[serde(default)]
    pub id: Option<String>,
    /// Forwarded.
    #[serde(default)]
    pub forwarded: Option<bool>,
    /// Forwarded many times.
    #[serde(default)]
    pub frequently_forwarded: Option<bool>,
}

/// `text: {body}`.
#[derive(Clone, Default, Deserialize)]
pub struct TextIn {
    /// The text.
    #[serde(default)]
    pub body: Option<String>,
}

/// Inbound media: `{id, mime_type, sha256, caption?, filename?, voice?, animated?}`.
#[derive(Clone, Default, Deserialize)]
pub struct MediaIn {
    /// The media id (valid 7 days).
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub id: Option<String>,
    /// The MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The SHA-256 of the file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Caption (image, video, document).
    #[serde(default)]
    pub caption: Option<String>,
    /// File name (document).
    #[serde(default)]
    pub filename: Option<String>,
    /// Recorded with WhatsApp's voice recorder (audio).
    #[serde(default)]
    pub voice: Option<bool>,
    /// Animated sticker.
    #[serde(default)]
    pub animated: Option<bool>,
}

/// `location`.
#[derive(Clone, Default, Deserialize)]
pub struct LocationIn {
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Place name.
    #[serde(default)]
    pub name: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
}

/// One entry of `contacts` in a `type: contacts` message.
#[derive(Clone, Default, Deserialize)]
pub struct SharedContact {
    /// The contact's name.
    #[serde(default)]
    pub name: Option<SharedName>,
    /// Phone numbers.
    #[serde(default)]
    pub phones: Vec<SharedPhone>,
}

/// `name` of a shared contact.
#[derive(Clone, Default, Deserialize)]
pub struct SharedName {
    /// The full name.
    #[serde(default)]
    pub formatted_name: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
}

/// `phones[]` of a shared contact.
#[derive(Clone, Default, Deserialize)]
pub struct SharedPhone {
    /// The number as written.
    #[serde(default)]
    pub phone: Option<String>,
    /// Its WhatsApp id, where it has one.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub wa_id: Option<String>,
}

/// `button: {payload, text}`.
#[derive(Clone, Default, Deserialize)]
pub struct ButtonIn {
    /// The button's payload.
    #[serde(default)]
    pub payload: Option<String>,
    /// The button's text, as the customer's bubble shows it.
    #[serde(default)]
    pub text: Option<String>,
}

/// `interactive: {type, button_reply | list_reply | nfm_reply | ...}`.
#[derive(Clone, Default, Deserialize)]
pub struct InteractiveIn {
    /// `button_reply`, `list_reply`, `nfm_reply`, `call_permission_reply`...
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A reply button tapped.
    #[serde(default)]
    pub button_reply: Option<ReplyIn>,
    /// A list row chosen.
    #[serde(default)]
    pub list_reply: Option<ReplyIn>,
}

/// `button_reply` / `list_reply`: `{id, title, description?}`.
#[derive(Clone, Default, Deserialize)]
pub struct ReplyIn {
    /// The id the business gave the option.
    #[serde(default)]
    pub id: Option<String>,
    /// Its title, as the customer's bubble shows it.
    #[serde(default)]
    pub title: Option<String>,
}

/// `system: {type, body, wa_id?}`.
#[derive(Clone, Default, Deserialize)]
pub struct SystemIn {
    /// `user_changed_number`...
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `unsupported: {type}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnsupportedIn {
    /// The platform's name of the unsupported type, where given.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `edit: {original_message_id, message}`.
#[derive(Clone, Default, Deserialize)]
pub struct EditIn {
    /// The wamid of the edited message.
    #[serde(default)]
    pub original_message_id: Option<String>,
    /// The new content (no `from`/`id`/`timestamp` of its own).
    #[serde(default)]
    pub message: Option<InboundMessage>,
}

/// A status of an outbound message (`value.statuses[]`).
#[derive(Clone, Default, Deserialize)]
pub struct StatusIn {
    /// The wamid of the outbound message.
    #[serde(default)]
    pub id: Option<String>,
    /// `sent`, `delivered`, `read`, `played`, `failed` (and `deleted`, `warning` in old examples).
    #[serde(default)]
    pub status: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub timestamp: Option<i64>,
    /// The recipient (`wa_id`, or a group id for groups).
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped user id, where sent.
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    /// `individual` or `group`.
    #[serde(default)]
    pub recipient_type: Option<String>,
    /// `call` for call statuses (which arrive in the `calls` field).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for StatusIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusIn")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// A marketing-message preference change (`value.user_preferences[]`).
#[derive(Clone, Default, Deserialize)]
pub struct UserPreference {
    /// The customer's WhatsApp id.
    #[serde(default, deserialize_with = "opt_flex_string")]
    pub wa_id: Option<String>,
    /// The customer's business-scoped user id, where sent.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `marketing_messages`.
    #[serde(default)]
    pub category: Option<String>,
    /// `stop` or `resume`.
    #[serde(default)]
    pub value: Option<String>,
    /// Unix seconds (an integer here).
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub timestamp: Option<i64>,
}

/// An error entry in a status, a message or a change: `{code, title, message, error_data}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireError {
    /// The code to key on.
    #[serde(default, deserialize_with = "opt_flex_i64")]
    pub code: Option<i64>,
    /// A short title (`Re-engagement message`).
    #[serde(default)]
    pub title: Option<String>,
    /// A description.
    #[serde(default)]
    pub message: Option<String>,
}

/// `Debug` that names the type only: these types hold message text, names or numbers.
macro_rules! redacted_debug {
    ($($t:ty),* $(,)?) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), " { <redacted> }"))
            }
        }
    )*};
}

redacted_debug!(
    Payload,
    TextObject,
    MediaObject,
    TemplateObject,
    PhoneNumberResponse,
    Profile,
    TextIn,
    MediaIn,
    LocationIn,
    SharedContact,
    SharedName,
    SharedPhone,
    ButtonIn,
    InteractiveIn,
    ReplyIn,
    SystemIn,
    EditIn,
    UserPreference,
);

// ---------------------------------------------------------------------------------------------
// Lenient scalar decoding
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl StrOrNum {
    fn into_string(self) -> String {
        match self {
            StrOrNum::Str(s) => s,
            StrOrNum::Int(n) => n.to_string(),
            StrOrNum::UInt(n) => n.to_string(),
            StrOrNum::Float(n) => n.to_string(),
        }
    }
}

fn flex_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(StrOrNum::deserialize(d)?.into_string())
}

fn opt_flex_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StrOrNum>::deserialize(d)?.map(StrOrNum::into_string))
}

fn opt_flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<StrOrNum>::deserialize(d)? {
        Some(StrOrNum::Int(n)) => Some(n),
        Some(StrOrNum::UInt(n)) => i64::try_from(n).ok(),
        Some(StrOrNum::Str(s)) => s.trim().parse().ok(),
        Some(StrOrNum::Float(_)) | None => None,
    })
}

fn opt_flex_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<StrOrNum>::deserialize(d)? {
        Some(StrOrNum::Int(n)) => u64::try_from(n).ok(),
        Some(StrOrNum::UInt(n)) => Some(n),
        Some(StrOrNum::Str(s)) => s.trim().parse().ok(),
        Some(StrOrNum::Float(_)) | None => None,
    })
}

fn opt_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_flex_i64(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_scalars() {
        let c: WaContact = serde_json::from_str(r#"{"wa_id": 16505551234}"#).unwrap();
        assert_eq!(c.wa_id.as_deref(), Some("16505551234"));
        let s: StatusIn =
            serde_json::from_str(r#"{"id":"w","status":"read","timestamp":"1603086399"}"#).unwrap();
        assert_eq!(s.timestamp, Some(1_603_086_399));
        let p: UserPreference = serde_json::from_str(r#"{"timestamp":1731705721}"#).unwrap();
        assert_eq!(p.timestamp, Some(1_731_705_721));
        let m: MediaUrlResponse =
            serde_json::from_str(r#"{"url":"u","file_size":"303833"}"#).unwrap();
        assert_eq!(m.file_size, Some(303_833));
    }

    #[test]
    fn change_value_debug_hides_raw_items() {
        let v: ChangeValue = serde_json::from_str(
            r#"{"metadata":{"phone_number_id":"1"},
                "messages":[{"from":"16505551234","type":"text","text":{"body":"secret words"}}],
                "statuses":[{"id":"w","status":"read","recipient_id":"16505557777"}]}"#,
        )
        .unwrap();
        let shown = format!("{v:?}");
        for hidden in ["secret", "16505551234", "16505557777"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(shown.contains("messages: 1"), "{shown}");
    }

    #[test]
    fn send_request_serialises_type_and_object() {
        let req = SendRequest {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: "1".into(),
            context: None,
            payload: Payload::Audio {
                audio: MediaObject {
                    id: Some("9".into()),
                    voice: Some(true),
                    ..MediaObject::default()
                },
            },
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"messaging_product":"whatsapp","recipient_type":"individual",
                "to":"1","type":"audio","audio":{"id":"9","voice":true}})
        );
    }
}
