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
//! A delivery is decoded in layers, so that its size bounds its cost: the envelope keeps each
//! change's `value` as raw JSON text ([`RawValue`]), a change's items stay raw until each is
//! decoded on its own, and routing reads only `metadata.phone_number_id`
//! ([`DeliveryNumbers`], which skips everything else without building it). A `serde_json::Value`
//! tree of the whole delivery is never built.
//!
//! `Debug` of types that hold message text, names or phone numbers is redacted.

use std::borrow::Cow;
use std::fmt;

use messenger_core::InboundEvent;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::convert;
use serde_json::Value;
use serde_json::value::RawValue;

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
pub struct WebhookPayload<'a> {
    /// `whatsapp_business_account`.
    #[serde(borrow, default)]
    pub object: Option<Str<'a>>,
    /// One entry per WhatsApp Business Account.
    #[serde(borrow)]
    pub entry: Vec<Entry<'a>>,
}

/// `entry[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry<'a> {
    /// The WABA id.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub id: Option<Str<'a>>,
    /// The changes.
    #[serde(borrow, default)]
    pub changes: Vec<Change<'a>>,
}

/// `changes[]`: a `field` name and its `value`, decoded per field.
#[derive(Clone, Deserialize)]
pub struct Change<'a> {
    /// `messages`, `user_preferences`, `account_update`, `calls`...
    #[serde(borrow, default)]
    pub field: Option<Str<'a>>,
    /// The value as raw JSON text, decoded according to `field` (absent or `null`: `None`).
    #[serde(borrow, default)]
    pub value: Option<&'a RawValue>,
}

impl fmt::Debug for Change<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// The `value` of a `messages` (or `user_preferences`) change.
///
/// `messages`, `statuses` and `user_preferences` stay raw JSON text here, each decoded on its
/// own later, so that one undecodable item does not lose the others of the delivery. `Debug`
/// shows only how many of each there are (the raw items hold message text and phone numbers).
#[derive(Clone, Default, Deserialize)]
pub struct ChangeValue<'a> {
    /// The business number the change is for.
    #[serde(borrow, default)]
    pub metadata: Option<Metadata<'a>>,
    /// The customers the messages come from.
    #[serde(borrow, default)]
    pub contacts: Vec<WaContact<'a>>,
    /// Inbound messages ([`InboundMessage`] each).
    #[serde(borrow, default)]
    pub messages: Vec<&'a RawValue>,
    /// Statuses of outbound messages ([`StatusIn`] each).
    #[serde(borrow, default)]
    pub statuses: Vec<&'a RawValue>,
    /// Marketing-message preference changes ([`UserPreference`] each).
    #[serde(borrow, default)]
    pub user_preferences: Vec<&'a RawValue>,
    /// System-level errors.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for ChangeValue<'_> {
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
pub struct Metadata<'a> {
    /// The business number as displayed (never logged).
    #[serde(borrow, default)]
    pub display_phone_number: Option<Str<'a>>,
    /// The business phone-number id: route events by it.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub phone_number_id: Option<Str<'a>>,
}

impl fmt::Debug for Metadata<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// `contacts[]` of a change: who a message came from.
#[derive(Clone, Default, Deserialize)]
pub struct WaContact<'a> {
    /// The profile (display name).
    #[serde(borrow, default)]
    pub profile: Option<Profile<'a>>,
    /// The WhatsApp id (phone number); may be omitted for username users since 2026.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub wa_id: Option<Str<'a>>,
    /// The business-scoped user id (BSUID), since about April 2026.
    #[serde(borrow, default)]
    pub user_id: Option<Str<'a>>,
}

impl fmt::Debug for WaContact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaContact").finish_non_exhaustive()
    }
}

/// `profile`.
#[derive(Clone, Default, Deserialize)]
pub struct Profile<'a> {
    /// The customer's display name.
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
}

/// An inbound message (`value.messages[]`), also the inner `message` of an `edit`.
#[derive(Clone, Default, Deserialize)]
pub struct InboundMessage<'a> {
    /// The sender's WhatsApp id (phone number); may be omitted for username users.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub from: Option<Str<'a>>,
    /// The sender's business-scoped user id, where sent.
    #[serde(borrow, default)]
    pub from_user_id: Option<Str<'a>>,
    /// The group the message was written in, for group messages.
    #[serde(borrow, default)]
    pub group_id: Option<Str<'a>>,
    /// The wamid.
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub timestamp: Option<i64>,
    /// `text`, `image`, `audio`, ... `unsupported`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    /// Reply / forward context.
    #[serde(borrow, default)]
    pub context: Option<MessageContext<'a>>,
    /// `type: text`.
    #[serde(borrow, default)]
    pub text: Option<TextIn<'a>>,
    /// `type: image`.
    #[serde(borrow, default)]
    pub image: Option<MediaIn<'a>>,
    /// `type: audio` (`voice: true` for a voice note).
    #[serde(borrow, default)]
    pub audio: Option<MediaIn<'a>>,
    /// `type: video`.
    #[serde(borrow, default)]
    pub video: Option<MediaIn<'a>>,
    /// `type: document` (with `filename`).
    #[serde(borrow, default)]
    pub document: Option<MediaIn<'a>>,
    /// `type: sticker` (with `animated`).
    #[serde(borrow, default)]
    pub sticker: Option<MediaIn<'a>>,
    /// `type: location`.
    #[serde(borrow, default)]
    pub location: Option<LocationIn<'a>>,
    /// `type: contacts`.
    #[serde(borrow, default)]
    pub contacts: Option<Vec<SharedContact<'a>>>,
    /// `type: button` (a template's quick-reply button).
    #[serde(borrow, default)]
    pub button: Option<ButtonIn<'a>>,
    /// `type: interactive` (`button_reply`, `list_reply`, `nfm_reply`...).
    #[serde(borrow, default)]
    pub interactive: Option<InteractiveIn<'a>>,
    /// `type: system` (`user_changed_number`).
    #[serde(borrow, default)]
    pub system: Option<SystemIn<'a>>,
    /// `type: unsupported` (with the platform's own type name, where given).
    #[serde(borrow, default)]
    pub unsupported: Option<UnsupportedIn<'a>>,
    /// `type: edit`.
    #[serde(borrow, default)]
    pub edit: Option<Box<EditIn<'a>>>,
    /// Errors attached to the message (`131051` for unsupported types).
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for InboundMessage<'_> {
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
pub struct MessageContext<'a> {
    /// The quoted message's wamid.
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    /// Forwarded.
    #[serde(default)]
    pub forwarded: Option<bool>,
    /// Forwarded many times.
    #[serde(default)]
    pub frequently_forwarded: Option<bool>,
}

/// `text: {body}`.
#[derive(Clone, Default, Deserialize)]
pub struct TextIn<'a> {
    /// The text.
    #[serde(borrow, default)]
    pub body: Option<Str<'a>>,
}

/// Inbound media: `{id, mime_type, sha256, caption?, filename?, voice?, animated?}`.
#[derive(Clone, Default, Deserialize)]
pub struct MediaIn<'a> {
    /// The media id (valid 7 days).
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub id: Option<Str<'a>>,
    /// The MIME type.
    #[serde(borrow, default)]
    pub mime_type: Option<Str<'a>>,
    /// The SHA-256 of the file.
    #[serde(borrow, default)]
    pub sha256: Option<Str<'a>>,
    /// Caption (image, video, document).
    #[serde(borrow, default)]
    pub caption: Option<Str<'a>>,
    /// File name (document).
    #[serde(borrow, default)]
    pub filename: Option<Str<'a>>,
    /// Recorded with WhatsApp's voice recorder (audio).
    #[serde(default)]
    pub voice: Option<bool>,
    /// Animated sticker.
    #[serde(default)]
    pub animated: Option<bool>,
}

/// `location`.
#[derive(Clone, Default, Deserialize)]
pub struct LocationIn<'a> {
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Place name.
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
    /// Address.
    #[serde(borrow, default)]
    pub address: Option<Str<'a>>,
}

/// One entry of `contacts` in a `type: contacts` message.
#[derive(Clone, Default, Deserialize)]
pub struct SharedContact<'a> {
    /// The contact's name.
    #[serde(borrow, default)]
    pub name: Option<SharedName<'a>>,
    /// Phone numbers.
    #[serde(borrow, default)]
    pub phones: Vec<SharedPhone<'a>>,
}

/// `name` of a shared contact.
#[derive(Clone, Default, Deserialize)]
pub struct SharedName<'a> {
    /// The full name.
    #[serde(borrow, default)]
    pub formatted_name: Option<Str<'a>>,
    /// First name.
    #[serde(borrow, default)]
    pub first_name: Option<Str<'a>>,
    /// Last name.
    #[serde(borrow, default)]
    pub last_name: Option<Str<'a>>,
}

/// `phones[]` of a shared contact.
#[derive(Clone, Default, Deserialize)]
pub struct SharedPhone<'a> {
    /// The number as written.
    #[serde(borrow, default)]
    pub phone: Option<Str<'a>>,
    /// Its WhatsApp id, where it has one.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub wa_id: Option<Str<'a>>,
}

/// `button: {payload, text}`.
#[derive(Clone, Default, Deserialize)]
pub struct ButtonIn<'a> {
    /// The button's payload.
    #[serde(borrow, default)]
    pub payload: Option<Str<'a>>,
    /// The button's text, as the customer's bubble shows it.
    #[serde(borrow, default)]
    pub text: Option<Str<'a>>,
}

/// `interactive: {type, button_reply | list_reply | nfm_reply | ...}`.
#[derive(Clone, Default, Deserialize)]
pub struct InteractiveIn<'a> {
    /// `button_reply`, `list_reply`, `nfm_reply`, `call_permission_reply`...
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    /// A reply button tapped.
    #[serde(borrow, default)]
    pub button_reply: Option<ReplyIn<'a>>,
    /// A list row chosen.
    #[serde(borrow, default)]
    pub list_reply: Option<ReplyIn<'a>>,
}

/// `button_reply` / `list_reply`: `{id, title, description?}`.
#[derive(Clone, Default, Deserialize)]
pub struct ReplyIn<'a> {
    /// The id the business gave the option.
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    /// Its title, as the customer's bubble shows it.
    #[serde(borrow, default)]
    pub title: Option<Str<'a>>,
}

/// `system: {type, body, wa_id?, user_id?, ...}`: a change of the customer's number or
/// identity. `body` (a sentence quoting both numbers) is not kept.
#[derive(Clone, Default, Deserialize)]
pub struct SystemIn<'a> {
    /// `user_changed_number`, `user_changed_user_id`, `user_identity_changed`...
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    /// The customer's new WhatsApp id (phone number), for a number change.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub wa_id: Option<Str<'a>>,
    /// The same, as older payloads name it (`customer_changed_number`).
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub new_wa_id: Option<Str<'a>>,
    /// The customer's new business-scoped user id (BSUID).
    #[serde(borrow, default)]
    pub user_id: Option<Str<'a>>,
    /// The customer's previous business-scoped user id, where given.
    #[serde(borrow, default)]
    pub previous_user_id: Option<Str<'a>>,
}

/// `unsupported: {type}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnsupportedIn<'a> {
    /// The platform's name of the unsupported type, where given.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
}

/// `edit: {original_message_id, message}`.
#[derive(Clone, Default, Deserialize)]
pub struct EditIn<'a> {
    /// The wamid of the edited message.
    #[serde(borrow, default)]
    pub original_message_id: Option<Str<'a>>,
    /// The new content (no `from`/`id`/`timestamp` of its own).
    #[serde(borrow, default)]
    pub message: Option<InboundMessage<'a>>,
}

/// A status of an outbound message (`value.statuses[]`).
#[derive(Clone, Default, Deserialize)]
pub struct StatusIn<'a> {
    /// The wamid of the outbound message.
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    /// `sent`, `delivered`, `read`, `played`, `failed` (and `deleted`, `warning` in old examples).
    #[serde(borrow, default)]
    pub status: Option<Str<'a>>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub timestamp: Option<i64>,
    /// The recipient (`wa_id`, or a group id for groups).
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub recipient_id: Option<Str<'a>>,
    /// The recipient's business-scoped user id, where sent.
    #[serde(borrow, default)]
    pub recipient_user_id: Option<Str<'a>>,
    /// `individual` or `group`.
    #[serde(borrow, default)]
    pub recipient_type: Option<Str<'a>>,
    /// `call` for call statuses (which arrive in the `calls` field).
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

impl fmt::Debug for StatusIn<'_> {
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
pub struct UserPreference<'a> {
    /// The customer's WhatsApp id.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub wa_id: Option<Str<'a>>,
    /// The customer's business-scoped user id, where sent.
    #[serde(borrow, default)]
    pub user_id: Option<Str<'a>>,
    /// `marketing_messages`.
    #[serde(borrow, default)]
    pub category: Option<Str<'a>>,
    /// `stop` or `resume`.
    #[serde(borrow, default)]
    pub value: Option<Str<'a>>,
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

// ---------------------------------------------------------------------------------------------
// One pass: a delivery of messages, statuses and preferences, read straight into its items
// ---------------------------------------------------------------------------------------------

/// A delivery read in one pass, its items decoded where they stand (see [`crate::webhook`]):
/// every change of every entry, in order.
///
/// Only deliveries whose changes are all `messages` or `user_preferences` changes (or changes
/// without a `value`), whose envelope is made of objects, and whose every item decodes, are
/// read this way; anything else fails here (an error, never a different reading) and is read
/// again layer by layer ([`WebhookPayload`], raw items), which handles every shape: so the
/// events of a delivery never depend on which way it was read.
#[derive(Debug, Default)]
pub struct Delivery<'a> {
    /// The changes of every entry, in order.
    pub changes: Vec<DeliveryChange<'a>>,
}

/// A change of a [`Delivery`].
#[derive(Debug)]
pub struct DeliveryChange<'a> {
    /// `messages` or `user_preferences`, or another field whose change has no `value`.
    pub field: Option<Str<'a>>,
    /// Its value (`None`: absent or `null`).
    pub value: Option<ChangeItems<'a>>,
}

/// The `value` of a `messages` (or `user_preferences`) change, its items converted as they
/// are read (each item's event is built as soon as it is decoded, so a delivery costs no more
/// memory than its events).
#[derive(Default)]
pub struct ChangeItems<'a> {
    /// The business number the change is for.
    pub metadata: Option<Metadata<'a>>,
    /// The events of the change, in the order of the layered reading: messages, statuses,
    /// preferences, errors.
    pub events: Vec<InboundEvent>,
}

impl fmt::Debug for ChangeItems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeItems")
            .field("metadata", &self.metadata)
            .field("events", &self.events.len())
            .finish()
    }
}

/// The error of a delivery that the one pass does not read (read again layer by layer).
const NOT_IN_ONE_PASS: &str = "not a delivery of messages, statuses and preferences";

/// Refuses a second value of a field, as a derived decoder does.
fn first<E: de::Error>(seen: &mut u8, bit: u8) -> Result<(), E> {
    if *seen & bit != 0 {
        return Err(E::custom(NOT_IN_ONE_PASS));
    }
    *seen |= bit;
    Ok(())
}

/// A map key as bytes (escapes undone, UTF-8 not checked: only compared with ASCII names).
struct KeyBytes<'a>(Cow<'a, [u8]>);

impl<'de> Deserialize<'de> for KeyBytes<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyBytes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
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

/// Implements `Deserialize` for a one-pass type through a visitor that takes objects only
/// (`deserialize_map`: an array is not read by position).
macro_rules! objects_only {
    ($t:ident, $v:ident) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $t<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map($v)
            }
        }
    };
}

struct DeliveryVisitor;

impl<'de> Visitor<'de> for DeliveryVisitor {
    type Value = Delivery<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook delivery")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Delivery<'de>, A::Error> {
        let mut seen = 0u8;
        let mut delivery = Delivery::default();
        while let Some(key) = map.next_key::<KeyBytes<'de>>()? {
            match &*key.0 {
                b"object" => {
                    first(&mut seen, 1)?;
                    map.next_value::<Option<Str<'de>>>()?;
                }
                b"entry" => {
                    first(&mut seen, 2)?;
                    for entry in map.next_value::<Vec<DeliveryEntry<'de>>>()? {
                        delivery.changes.extend(entry.0);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen & 2 == 0 {
            return Err(de::Error::custom(NOT_IN_ONE_PASS));
        }
        Ok(delivery)
    }
}
objects_only!(Delivery, DeliveryVisitor);

/// `entry[]` of a [`Delivery`]: its changes.
struct DeliveryEntry<'a>(Vec<DeliveryChange<'a>>);

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = DeliveryEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeliveryEntry<'de>, A::Error> {
        let mut seen = 0u8;
        let mut changes = Vec::new();
        while let Some(key) = map.next_key::<KeyBytes<'de>>()? {
            match &*key.0 {
                b"id" => {
                    first(&mut seen, 1)?;
                    map.next_value::<OptFlex<'de>>()?;
                }
                b"changes" => {
                    first(&mut seen, 2)?;
                    changes = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(DeliveryEntry(changes))
    }
}
objects_only!(DeliveryEntry, EntryVisitor);

/// An optional id given as a string or a number (see [`opt_flex`]).
struct OptFlex<'a>(#[allow(dead_code)] Option<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for OptFlex<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_flex(d).map(OptFlex)
    }
}

struct ChangeVisitor;

impl<'de> Visitor<'de> for ChangeVisitor {
    type Value = DeliveryChange<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeliveryChange<'de>, A::Error> {
        let mut seen = 0u8;
        let mut field: Option<Str<'de>> = None;
        let mut value = None;
        while let Some(key) = map.next_key::<KeyBytes<'de>>()? {
            match &*key.0 {
                b"field" => {
                    first(&mut seen, 1)?;
                    field = map.next_value()?;
                }
                b"value" => {
                    first(&mut seen, 2)?;
                    value = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let items = matches!(field.as_deref(), Some("messages" | "user_preferences"));
        if value.is_some() && !items {
            // Another field's value is read leniently, layer by layer.
            return Err(de::Error::custom(NOT_IN_ONE_PASS));
        }
        Ok(DeliveryChange { field, value })
    }
}
objects_only!(DeliveryChange, ChangeVisitor);

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = ChangeItems<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeItems<'de>, A::Error> {
        let mut seen = 0u8;
        let mut metadata = None;
        let mut contacts: Vec<WaContact<'de>> = Vec::new();
        // One list per kind of item, joined in the layered reading's order at the end.
        let mut lists: [Vec<InboundEvent>; 4] = Default::default();
        while let Some(key) = map.next_key::<KeyBytes<'de>>()? {
            match &*key.0 {
                b"metadata" => {
                    first(&mut seen, 1)?;
                    metadata = map.next_value::<Option<MetadataMap<'de>>>()?.map(|m| m.0);
                }
                b"contacts" => {
                    first(&mut seen, 2)?;
                    if !lists[0].is_empty() {
                        // Messages already converted without their senders' contacts.
                        return Err(de::Error::custom(NOT_IN_ONE_PASS));
                    }
                    contacts = map.next_value()?;
                }
                b"messages" => {
                    first(&mut seen, 4)?;
                    lists[0] = map.next_value_seed(Items {
                        kind: ItemKind::Message(&contacts),
                    })?;
                }
                b"statuses" => {
                    first(&mut seen, 8)?;
                    lists[1] = map.next_value_seed(Items {
                        kind: ItemKind::Status,
                    })?;
                }
                b"user_preferences" => {
                    first(&mut seen, 16)?;
                    lists[2] = map.next_value_seed(Items {
                        kind: ItemKind::Preference,
                    })?;
                }
                b"errors" => {
                    first(&mut seen, 32)?;
                    lists[3] = map
                        .next_value::<Vec<WireError>>()?
                        .iter()
                        .map(convert::error_event)
                        .collect();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut events = Vec::new();
        for list in lists {
            convert::append(&mut events, list);
        }
        Ok(ChangeItems { metadata, events })
    }
}
objects_only!(ChangeItems, ItemsVisitor);

/// Which items a list of a change value holds.
enum ItemKind<'c, 'a> {
    /// `messages`, with the contacts read before them.
    Message(&'c [WaContact<'a>]),
    /// `statuses`.
    Status,
    /// `user_preferences`.
    Preference,
}

/// A list of items, each decoded and converted as it is read.
struct Items<'c, 'a> {
    kind: ItemKind<'c, 'a>,
}

impl<'de> de::DeserializeSeed<'de> for Items<'_, 'de> {
    type Value = Vec<InboundEvent>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<InboundEvent>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, 'de> {
    type Value = Vec<InboundEvent>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<InboundEvent>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut index = 0;
        loop {
            let event = match self.kind {
                ItemKind::Message(contacts) => seq
                    .next_element::<InboundMessage<'de>>()?
                    .map(|m| convert::message_event(m, contacts, index)),
                ItemKind::Status => seq
                    .next_element::<StatusIn<'de>>()?
                    .map(|s| convert::status_event(s, index)),
                ItemKind::Preference => seq
                    .next_element::<UserPreference<'de>>()?
                    .map(|p| convert::preference_event(p, index)),
            };
            match event {
                Some(event) => events.push(event),
                None => return Ok(events),
            }
            index += 1;
        }
    }
}

/// `metadata`, an object only: routing reads it leniently from objects alone.
struct MetadataMap<'a>(Metadata<'a>);

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = MetadataMap<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MetadataMap<'de>, A::Error> {
        Metadata::deserialize(de::value::MapAccessDeserializer::new(map)).map(MetadataMap)
    }
}
objects_only!(MetadataMap, MetadataVisitor);

// ---------------------------------------------------------------------------------------------
// Peeks: the few fields routing and `other` events need, everything else skipped unbuilt
// ---------------------------------------------------------------------------------------------

/// A delivery as routing sees it: only `entry[].changes[].value.metadata.phone_number_id`.
///
/// Every other field, and every `value` that is not an object, is skipped with
/// [`IgnoredAny`]: decoding a delivery this way allocates only the ids, however many
/// messages it carries. The envelope must still be one (`entry` an array of objects whose
/// `changes` are arrays of objects), as for [`WebhookPayload`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeliveryNumbers {
    /// One entry per WhatsApp Business Account.
    pub entry: Vec<EntryNumbers>,
}

/// `entry[]` of a [`DeliveryNumbers`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntryNumbers {
    /// The changes.
    #[serde(default)]
    pub changes: Vec<ChangeNumber>,
}

/// `changes[]` of a [`DeliveryNumbers`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChangeNumber {
    /// The phone-number id of the change's `value`.
    #[serde(default)]
    pub value: ValueNumber,
}

/// The `metadata.phone_number_id` of a change `value`, where it has one (a string or a
/// number); any other shape is `None`, never an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueNumber(pub Option<String>);

impl ValueNumber {
    /// Reads the phone-number id of one raw change `value` (an undecodable one has none).
    pub fn of(value: &RawValue) -> Option<String> {
        serde_json::from_str::<ValueNumber>(value.get())
            .ok()
            .and_then(|v| v.0)
    }
}

/// Whether a map key is the one looked for.
struct KeyIs(bool);

struct KeyVisitor(&'static str);

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeyIs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<KeyIs, E> {
        Ok(KeyIs(key == self.0))
    }
}

fn next_key_is<'de, A: MapAccess<'de>>(
    map: &mut A,
    wanted: &'static str,
) -> Result<Option<bool>, A::Error> {
    struct Seed(&'static str);
    impl<'de> serde::de::DeserializeSeed<'de> for Seed {
        type Value = KeyIs;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyIs, D::Error> {
            d.deserialize_str(KeyVisitor(self.0))
        }
    }
    Ok(map.next_key_seed(Seed(wanted))?.map(|k| k.0))
}

/// Skips any JSON value; keeps the one field `wanted` of an object, decoded by `T` (a
/// lenient reader: it never fails on a shape it does not expect).
struct FieldOf<T> {
    wanted: &'static str,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for FieldOf<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut found = T::default();
        while let Some(is_wanted) = next_key_is(&mut map, self.wanted)? {
            if is_wanted {
                // Duplicate keys: the last one wins, as in a JSON object read whole.
                found = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

fn field_of<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
    wanted: &'static str,
) -> Result<T, D::Error> {
    d.deserialize_any(FieldOf {
        wanted,
        _t: std::marker::PhantomData,
    })
}

/// `metadata` as routing reads it.
#[derive(Default)]
struct MetadataNumber(Option<String>);

impl<'de> Deserialize<'de> for MetadataNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MetadataNumber(
            field_of::<D, LenientId>(d, "phone_number_id")?.0,
        ))
    }
}

impl<'de> Deserialize<'de> for ValueNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ValueNumber(field_of::<D, MetadataNumber>(d, "metadata")?.0))
    }
}

/// An id given as a string or a number; anything else is `None` (skipped, never an error).
#[derive(Default)]
struct LenientId(Option<String>);

impl<'de> Deserialize<'de> for LenientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id")
            }
            fn visit_str<E>(self, v: &str) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_owned())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LenientId, E> {
                Ok(LenientId(None))
            }
            fn visit_unit<E>(self) -> Result<LenientId, E> {
                Ok(LenientId(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientId, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientId(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientId, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientId(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The conversation fields of one raw item (a message, a status, a preference) that could
/// not be decoded whole: enough to say which chat the `undecodable.*` event concerns.
#[derive(Clone, Default, Deserialize)]
pub struct ItemChat<'a> {
    /// A message's sender.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub from: Option<Str<'a>>,
    /// A message's sender as a business-scoped user id.
    #[serde(borrow, default)]
    pub from_user_id: Option<Str<'a>>,
    /// A group message's group.
    #[serde(borrow, default)]
    pub group_id: Option<Str<'a>>,
    /// A status's recipient.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub recipient_id: Option<Str<'a>>,
    /// A status's recipient as a business-scoped user id.
    #[serde(borrow, default)]
    pub recipient_user_id: Option<Str<'a>>,
    /// A preference's customer.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub wa_id: Option<Str<'a>>,
    /// A preference's customer as a business-scoped user id.
    #[serde(borrow, default)]
    pub user_id: Option<Str<'a>>,
}

/// The `value` of a change the core does not model (`calls`, `smb_message_echoes`,
/// `group_*`...), read only for the conversation it concerns.
#[derive(Clone, Default, Deserialize)]
pub struct OtherChangeValue<'a> {
    /// The customers the change is about (`calls`, `smb_message_echoes`).
    #[serde(borrow, default)]
    pub contacts: Vec<WaContact<'a>>,
    /// The groups the change is about (`group_*`).
    #[serde(borrow, default)]
    pub groups: Vec<GroupRef<'a>>,
    /// Messages the business sent from the WhatsApp Business app (`smb_message_echoes`).
    #[serde(borrow, default)]
    pub message_echoes: Vec<EchoRef<'a>>,
}

/// `groups[]` of a group change: its id only.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupRef<'a> {
    /// The group id.
    #[serde(borrow, default)]
    pub group_id: Option<Str<'a>>,
}

/// `message_echoes[]`: its recipient only.
#[derive(Clone, Default, Deserialize)]
pub struct EchoRef<'a> {
    /// The customer the business wrote to.
    #[serde(borrow, default, deserialize_with = "opt_flex")]
    pub to: Option<Str<'a>>,
}

/// `Debug` that names the type only: these types hold message text, names or numbers.
macro_rules! redacted_debug {
    ($($t:ident $(<$l:lifetime>)?),* $(,)?) => {$(
        impl fmt::Debug for $t $(<$l>)? {
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
    Profile<'_>,
    TextIn<'_>,
    MediaIn<'_>,
    LocationIn<'_>,
    SharedContact<'_>,
    SharedName<'_>,
    SharedPhone<'_>,
    ButtonIn<'_>,
    InteractiveIn<'_>,
    ReplyIn<'_>,
    SystemIn<'_>,
    EditIn<'_>,
    UserPreference<'_>,
    ItemChat<'_>,
    OtherChangeValue<'_>,
    EchoRef<'_>,
);

// ---------------------------------------------------------------------------------------------
// Strings borrowed from the body, and lenient scalar decoding
// ---------------------------------------------------------------------------------------------

/// The JSON string of the inbound types (one type for every connector, in the core).
pub use messenger_core::json::Str;

/// An id Meta sends as a string or a number, as a string; `null` or absent: `None`.
fn opt_flex<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Str<'a>>, D::Error> {
    struct Flex<'a>(Str<'a>);
    impl<'de: 'a, 'a> Deserialize<'de> for Flex<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Str::string_or_number(d).map(Flex)
        }
    }
    Ok(Option::<Flex<'a>>::deserialize(d)?.map(|f| f.0))
}

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

/// An integer given as a number or as a string of one (`"1749416383"`); a float, or a string
/// that is not an integer, is `None`.
fn opt_flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            Ok(i64::try_from(v).ok())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_option(V)
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
