//! Avito's JSON (and form) shapes, both ways, as serde types.
//!
//! Inbound types are tolerant: unknown fields are ignored, optional fields may be missing or
//! `null`, ids that the spec declares as integers are also read from strings, `is_read` is also
//! read as `isRead` (one community client's spelling), and the message `content` is read field
//! by field so that one odd field never fails a message. Outbound bodies are small structs whose
//! field order is the order the official examples use.
//!
//! Sources (`shared/platforms/avito.md`): `\[O\]` the official OpenAPI of the "Мессенджер" and
//! "Авторизация" sections, `\[A\]` the official guides; community clients where noted.
//!
//! Every type that can hold message text, a caption, a file name, a token or a URL with a
//! token implements `Debug` by hand and shows only lengths, counts or fingerprints.

use std::collections::BTreeMap;
use std::fmt;

use messenger_core::model::fingerprint;
use messenger_core::redact::{Redacted, TextLen, redacted};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

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

/// The visitor methods of a lenient reader for every shape it does not expect: the value is
/// skipped (read to its end, never built) and yields `None`.
macro_rules! none_otherwise {
    ($($skip:ident),*) => {
        $(none_otherwise!(@ $skip);)*
    };
    (@ bool) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
    (@ str) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
    (@ numbers) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
    (@ null) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
    (@ seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
    (@ map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

/// An integer written as a number or a string; anything else is `None` (a float is
/// truncated, as a JSON number read whole and taken as an integer).
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            Ok(Some(v))
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            Ok(Some(i64::try_from(v).unwrap_or(v as f64 as i64)))
        }
        #[allow(clippy::cast_possible_truncation)]
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i64>, E> {
            Ok(v.is_finite().then_some(v as i64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            Ok(v.trim().parse().ok())
        }
        none_otherwise!(bool, null, seq, map);
    }
    d.deserialize_option(V)
}

/// A string, or a number as its decimal text (as serde_json writes it); anything else is
/// `None`.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
            Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
        }
        none_otherwise!(bool, null, seq, map);
    }
    d.deserialize_option(V)
}

/// A boolean, or `0`/`1`; anything else is `None`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<bool>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<bool>, E> {
            Ok(Some(v != 0))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<bool>, E> {
            Ok(i64::try_from(v).ok().map(|v| v != 0))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<bool>, E> {
            Ok(None)
        }
        none_otherwise!(str, null, seq, map);
    }
    d.deserialize_option(V)
}

/// A JSON object of strings (`{"1280x960": "https://..."}`); other values are skipped (the
/// last of a repeated key counts, as in an object read whole).
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                match map.next_value::<LenientStr>()?.0 {
                    Some(value) => {
                        out.insert(key, value);
                    }
                    None => {
                        out.remove(&key);
                    }
                }
            }
            Ok(Some(out))
        }
        none_otherwise!(bool, str, numbers, null, seq);
    }
    Ok(d.deserialize_option(V)?.unwrap_or_default())
}

/// A string, `None` for any other value.
struct LenientStr(Option<String>);

impl<'de> Deserialize<'de> for LenientStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
                Ok(Some(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
                Ok(Some(v))
            }
            none_otherwise!(bool, numbers, null, seq, map);
        }
        d.deserialize_option(V).map(LenientStr)
    }
}

/// A sub-object that decodes as `T`, or `None` (missing, `null`, or of another shape): its
/// raw text is kept and decoded on its own, so that a sub-object of another shape costs no
/// more than its text.
fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let Some(raw) = Option::<Box<RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    if !raw.get().starts_with('{') {
        return Ok(None);
    }
    Ok(serde_json::from_str(raw.get()).ok())
}

// ---------------------------------------------------------------------------------------------
// OAuth ([O Авторизация] `/token`; [A auth.md])
// ---------------------------------------------------------------------------------------------

/// The form body of `POST /token`, fields in the order of the official examples:
/// `grant_type`, `client_id`, `client_secret`, then `code` or `refresh_token`.
#[derive(Serialize)]
pub struct TokenForm<'a> {
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    pub grant_type: &'static str,
    /// The app's client id.
    pub client_id: &'a str,
    /// The app's client secret.
    pub client_secret: &'a str,
    /// The authorization code (`authorization_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    /// The refresh token (`refresh_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
}

impl fmt::Debug for TokenForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &fingerprint(self.client_id))
            .finish_non_exhaustive()
    }
}

/// The answer of `POST /token`: `{"access_token", "expires_in", "token_type"}`, plus
/// `refresh_token` and `scope` for the authorization-code and refresh grants.
#[derive(Clone, Default, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    #[serde(default, deserialize_with = "or_default")]
    pub access_token: String,
    /// Its lifetime in seconds (86 400).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub expires_in: Option<i64>,
    /// `Bearer`.
    #[serde(default, deserialize_with = "or_default")]
    pub token_type: String,
    /// The next refresh token (rotated on every refresh).
    #[serde(default, deserialize_with = "or_default")]
    pub refresh_token: Option<String>,
    /// The scopes granted.
    #[serde(default, deserialize_with = "or_default")]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &Redacted)
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("scope", &self.scope)
            .finish()
    }
}

/// A refusal of the token endpoint in the OAuth 2 shape (`{"error": "invalid_grant",
/// "error_description": ...}`). Whether Avito answers this way is UNCONFIRMED; the Avito
/// envelope ([`ErrorEnvelope`]) is read too.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OAuthError {
    /// The OAuth error code.
    #[serde(default, deserialize_with = "lenient_string")]
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors (\[O2\] authError, forbiddenError, purchasingError, ...)
// ---------------------------------------------------------------------------------------------

/// `{"error": {"code": 403, "message": "Forbidden", "fields": {...}}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorEnvelope {
    /// The error, where the body is this shape.
    #[serde(default, deserialize_with = "lenient_object")]
    pub error: Option<ApiError>,
}

/// The `error` object. `code` repeats the HTTP status; `fields` appears on validation errors
/// (only its keys are read: a value can quote what was sent).
#[derive(Clone, Default, Deserialize)]
pub struct ApiError {
    /// The code (the HTTP status).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
    /// Avito's description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    /// The fields a validation error names.
    #[serde(default, deserialize_with = "or_default")]
    pub fields: Option<BTreeMap<String, Value>>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("message", &self.message.as_deref().map(TextLen))
            .field("fields", &self.fields.as_ref().map(BTreeMap::len))
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Account ([O Информация о пользователе] getUserInfoSelf)
// ---------------------------------------------------------------------------------------------

/// `GET /core/v1/accounts/self`: the account's id and registration data (its phone and email
/// are not read).
#[derive(Clone, Default, Deserialize)]
pub struct AccountSelf {
    /// The account's Avito user id: the `user_id` of every messenger path.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    /// The account's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// The profile's URL.
    #[serde(default, deserialize_with = "lenient_string")]
    pub profile_url: Option<String>,
}

impl fmt::Debug for AccountSelf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSelf")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Messages (\[O\] MessageContent, Messages, WebhookMessage, Chat)
// ---------------------------------------------------------------------------------------------

/// `content.image`: `{"sizes": {"WxH": url}}`.
#[derive(Clone, Default, Deserialize)]
pub struct ImageContent {
    /// The sizes, keyed `1280x960`.
    #[serde(default, deserialize_with = "string_map")]
    pub sizes: BTreeMap<String, String>,
}

/// `content.voice`: `{"voice_id"}`, resolved by getVoiceFiles.
#[derive(Clone, Default, Deserialize)]
pub struct VoiceContent {
    /// The voice note's id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub voice_id: Option<String>,
}

/// `content.link`: `{text, url, preview}`.
#[derive(Clone, Default, Deserialize)]
pub struct LinkContent {
    /// The message's text with the link.
    #[serde(default, deserialize_with = "lenient_string")]
    pub text: Option<String>,
    /// The link.
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: Option<String>,
}

/// `content.location`: `{lat, lon, kind, text, title}`.
#[derive(Clone, Default, Deserialize)]
pub struct LocationContent {
    /// Latitude.
    #[serde(default, deserialize_with = "or_default")]
    pub lat: Option<f64>,
    /// Longitude.
    #[serde(default, deserialize_with = "or_default")]
    pub lon: Option<f64>,
    /// The address.
    #[serde(default, deserialize_with = "lenient_string")]
    pub text: Option<String>,
    /// The place's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: Option<String>,
}

/// A message's `content`: one field is set, by `type` (all nullable). For `appCall`, `file`
/// and `video` it is an empty object ("not supported", [O MessageContent]).
#[derive(Clone, Default, Deserialize)]
pub struct MessageContent {
    /// `text`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub text: Option<String>,
    /// `image`.
    #[serde(default, deserialize_with = "lenient_object")]
    pub image: Option<ImageContent>,
    /// `voice`.
    #[serde(default, deserialize_with = "lenient_object")]
    pub voice: Option<VoiceContent>,
    /// `link`.
    #[serde(default, deserialize_with = "lenient_object")]
    pub link: Option<LinkContent>,
    /// `location`.
    #[serde(default, deserialize_with = "lenient_object")]
    pub location: Option<LocationContent>,
    /// The Avito chat bot that sent a `system` message.
    #[serde(default, deserialize_with = "lenient_string")]
    pub flow_id: Option<String>,
}

impl fmt::Debug for MessageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageContent")
            .field("text", &self.text.as_deref().map(TextLen))
            .field("image", &self.image.as_ref().map(|i| i.sizes.len()))
            .field("voice", &self.voice.is_some())
            .field("link", &self.link.is_some())
            .field("location", &self.location.is_some())
            .field("flow_id", &self.flow_id)
            .finish()
    }
}

/// A quoted message (`quote`): only its id is read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Quote {
    /// The quoted message's id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
}

/// One message of getMessagesV3.
#[derive(Clone, Default, Deserialize)]
pub struct Message {
    /// The message id (32 hex).
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Who wrote it.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub author_id: Option<i64>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub created: Option<i64>,
    /// `in` or `out`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub direction: Option<String>,
    /// The content type (`text`, `image`, `voice`...).
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The content.
    #[serde(default, deserialize_with = "lenient_object")]
    pub content: Option<MessageContent>,
    /// The quoted message.
    #[serde(default, deserialize_with = "lenient_object")]
    pub quote: Option<Quote>,
    /// Whether the requesting account has read it.
    #[serde(default, alias = "isRead", deserialize_with = "lenient_bool")]
    pub is_read: Option<bool>,
    /// When the counterpart read it (unix seconds), for the account's own messages.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub read: Option<i64>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id.as_deref().map(fingerprint))
            .field("direction", &self.direction)
            .field("kind", &self.kind)
            .field("content", &self.content)
            .field("is_read", &self.is_read)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

/// getMessagesV3's answer: the spec's array, or `{"messages": [...]}` as several community
/// clients read it. Both are accepted.
#[derive(Debug, Clone)]
pub enum Messages {
    /// `[...]` ([O Messages]).
    List(Vec<Message>),
    /// `{"messages": [...]}` ([C malornedubS/.../avito-types.ts]).
    Wrapped {
        /// The messages.
        messages: Vec<Message>,
    },
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(default, deserialize_with = "or_default")]
            messages: Vec<Message>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of messages, or an object with one")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Messages, A::Error> {
                Vec::<Message>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(Messages::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Messages, A::Error> {
                Wrapped::deserialize(de::value::MapAccessDeserializer::new(map)).map(|w| {
                    Messages::Wrapped {
                        messages: w.messages,
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Messages {
    /// The messages, whichever the shape.
    pub fn into_vec(self) -> Vec<Message> {
        match self {
            Messages::List(list) | Messages::Wrapped { messages: list } => list,
        }
    }
}

/// A webhook v3 message (`payload.value`, [O WebhookMessage]).
#[derive(Clone, Default, Deserialize)]
pub struct WebhookMessage {
    /// The message id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The chat (`u2i-...`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub chat_id: Option<String>,
    /// `u2i`, `u2u` or `a2u`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub chat_type: Option<String>,
    /// The account the webhook is registered for (always the account itself).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub user_id: Option<i64>,
    /// Who wrote the message.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub author_id: Option<i64>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub created: Option<i64>,
    /// When, RFC 3339 UTC.
    #[serde(default, deserialize_with = "lenient_string")]
    pub published_at: Option<String>,
    /// The content type.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The content.
    #[serde(default, deserialize_with = "lenient_object")]
    pub content: Option<MessageContent>,
    /// The quoted message (not in the spec's WebhookMessage; read where present).
    #[serde(default, deserialize_with = "lenient_object")]
    pub quote: Option<Quote>,
    /// The listing of a `u2i` chat.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub item_id: Option<i64>,
    /// When it was read, if it was at push time.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub read: Option<i64>,
}

impl fmt::Debug for WebhookMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookMessage")
            .field("id", &self.id.as_deref().map(fingerprint))
            .field("chat_id", &self.chat_id.as_deref().map(fingerprint))
            .field("kind", &self.kind)
            .field("content", &self.content)
            .finish_non_exhaustive()
    }
}

/// `payload`: `{"type": "message", "value": {...}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payload {
    /// The event type (only `message` is documented).
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The event's value, kept as raw JSON text until its type is known.
    #[serde(default)]
    pub value: Option<Box<RawValue>>,
}

/// A webhook v3 delivery: `{id, version, timestamp, payload}` ([O PayloadStruct]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookEnvelope {
    /// The delivery's id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The envelope version (the spec's example says `v1.1`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: Option<String>,
    /// When it was sent (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
    /// The event.
    #[serde(default, deserialize_with = "lenient_object")]
    pub payload: Option<Payload>,
}

/// A chat of getChatsV2 (only what polling needs: its id; the counterpart's name).
#[derive(Clone, Default, Deserialize)]
pub struct Chat {
    /// The chat id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The last change (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub updated: Option<i64>,
    /// The participants.
    #[serde(default, deserialize_with = "or_default")]
    pub users: Vec<ChatUser>,
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("id", &self.id.as_deref().map(fingerprint))
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// A participant of a chat.
#[derive(Clone, Default, Deserialize)]
pub struct ChatUser {
    /// The user id.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    /// The user's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

/// getChatsV2's answer: `{"chats": [...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Chats {
    /// The chats.
    #[serde(default, deserialize_with = "or_default")]
    pub chats: Vec<Chat>,
}

// ---------------------------------------------------------------------------------------------
// Sending (\[O\] sendMessageRequestBody, sendImageMessageRequestBody, uploadImages)
// ---------------------------------------------------------------------------------------------

/// `{"text": ...}` inside [`SendText`].
#[derive(Serialize)]
pub struct TextBody<'a> {
    /// The text (at most 1000 characters).
    pub text: &'a str,
}

/// postSendMessage's body: `{"message": {"text": ...}, "type": "text"}`.
#[derive(Serialize)]
pub struct SendText<'a> {
    /// The message.
    pub message: TextBody<'a>,
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl fmt::Debug for SendText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendText")
            .field("text", &TextLen(self.message.text))
            .finish()
    }
}

/// postSendImageMessage's body: `{"image_id": ...}`.
#[derive(Debug, Serialize)]
pub struct SendImage<'a> {
    /// The id uploadImages gave (the key of its answer).
    pub image_id: &'a str,
}

/// The answer to a send: the new message.
#[derive(Clone, Default, Deserialize)]
pub struct Sent {
    /// The message id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub created: Option<i64>,
}

impl fmt::Debug for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sent")
            .field("id", &self.id.as_deref().map(fingerprint))
            .field("created", &self.created)
            .finish()
    }
}

/// uploadImages's answer: `{"<image_id>": {"WxH": url}}`.
pub type Uploaded = BTreeMap<String, Value>;

/// getVoiceFiles's answer: `{"voices_urls": {"<voice_id>": url}}`.
#[derive(Clone, Default, Deserialize)]
pub struct VoiceFiles {
    /// The URLs by voice id (valid one hour).
    #[serde(default, deserialize_with = "string_map")]
    pub voices_urls: BTreeMap<String, String>,
}

impl fmt::Debug for VoiceFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceFiles")
            .field("voices_urls", &self.voices_urls.len())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions (\[O\] postWebhookV3, postWebhookUnsubscribe, getSubscriptions)
// ---------------------------------------------------------------------------------------------

/// `{"url": ...}` of subscribe and unsubscribe (the only field: Avito takes no secret).
#[derive(Serialize)]
pub struct WebhookUrl<'a> {
    /// The endpoint.
    pub url: &'a str,
}

impl fmt::Debug for WebhookUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl { url: <redacted> }")
    }
}

/// `{"ok": true}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OkAnswer {
    /// Whether Avito did it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ok: Option<bool>,
}

/// One subscription of getSubscriptions.
#[derive(Clone, Default, Deserialize)]
pub struct Subscription {
    /// The endpoint (it holds the webhook token).
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: Option<String>,
    /// The webhook version (`3`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: Option<String>,
}

/// getSubscriptions's answer: `{"subscriptions": [...]}`.
#[derive(Clone, Default, Deserialize)]
pub struct Subscriptions {
    /// The subscriptions.
    #[serde(default, deserialize_with = "or_default")]
    pub subscriptions: Vec<Subscription>,
}

// ---------------------------------------------------------------------------------------------
// Debug of the types that hold text, names or URLs: counts and presence only
// ---------------------------------------------------------------------------------------------

impl fmt::Debug for ImageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageContent")
            .field("sizes", &self.sizes.len())
            .finish()
    }
}

impl fmt::Debug for VoiceContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceContent")
            .field("voice_id", &self.voice_id.as_deref().map(fingerprint))
            .finish()
    }
}

impl fmt::Debug for LinkContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkContent")
            .field("text", &self.text.as_deref().map(TextLen))
            .field("url", &redacted(&self.url))
            .finish()
    }
}

impl fmt::Debug for LocationContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocationContent { <redacted> }")
    }
}

impl fmt::Debug for ChatUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatUser")
            .field("id", &self.id)
            .field("name", &redacted(&self.name))
            .finish()
    }
}

impl fmt::Debug for TextBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextBody")
            .field("text", &TextLen(self.text))
            .finish()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("url", &redacted(&self.url))
            .field("version", &self.version)
            .finish()
    }
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriptions")
            .field("subscriptions", &self.subscriptions)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_message_list_shapes_and_is_read_spellings() {
        let list: Messages =
            serde_json::from_str(r#"[{"id":"a","is_read":true},{"id":"b","isRead":1}]"#).unwrap();
        let list = list.into_vec();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].is_read, Some(true));
        assert_eq!(list[1].is_read, Some(true));
        let wrapped: Messages =
            serde_json::from_str(r#"{"messages":[{"id":"c","read":1717000000}]}"#).unwrap();
        let wrapped = wrapped.into_vec();
        assert_eq!(wrapped[0].read, Some(1_717_000_000));
        let empty: Messages = serde_json::from_str(r#"{"messages":null}"#).unwrap();
        assert!(empty.into_vec().is_empty());
    }

    #[test]
    fn odd_fields_never_fail_a_message() {
        let m: WebhookMessage = serde_json::from_str(
            r#"{"id":5,"chat_id":"u2i-x","author_id":"51","created":"1717000000",
                "type":"image","content":{"image":"not an object","text":7},"read":null}"#,
        )
        .unwrap();
        assert_eq!(m.id.as_deref(), Some("5"));
        assert_eq!(m.author_id, Some(51));
        assert_eq!(m.created, Some(1_717_000_000));
        let content = m.content.unwrap();
        assert!(content.image.is_none());
        assert_eq!(content.text.as_deref(), Some("7"));
    }

    #[test]
    fn debug_hides_text_and_tokens() {
        let t = TokenResponse {
            access_token: "tok-secret".into(),
            refresh_token: Some("ref-secret".into()),
            ..TokenResponse::default()
        };
        let m: Message =
            serde_json::from_str(r#"{"id":"x","content":{"text":"Секретный текст"}}"#).unwrap();
        let debug = format!(
            "{t:?} {m:?} {:?}",
            SendText {
                message: TextBody {
                    text: "Секрет"
                },
                kind: "text"
            }
        );
        assert!(
            !debug.contains("secret") && !debug.contains("Секрет"),
            "{debug}"
        );
    }
}
