//! Avito's wire types to the core model (and the outbound side's small conversions).
//!
//! # Ids
//!
//! - A chat is Avito's chat id as it is (`u2i-y9ykWR1EkNOJJMaE9i9m8w`); a message is its
//!   32-hex id; a user is the decimal `author_id`.
//! - Inbound media ([`MediaRef::id`]):
//!   - an image is the URL of its **largest** size (by width × height of the `WxH` keys), which
//!     [`Messenger::download`](messenger_core::Messenger::download) fetches;
//!   - a voice note is `voice:<voice_id>` ([`VOICE_PREFIX`]): its file URL lives one hour, so
//!     it is resolved through getVoiceFiles **at download time**, never at intake.
//! - Sent back as [`MediaSource::Id`](messenger_core::MediaSource::Id), an id is an Avito
//!   `image_id` from an earlier upload.
//!
//! # Messages (webhook `payload.value` and getMessagesV3 items alike)
//!
//! | Avito `type` | event |
//! |---|---|
//! | any, written by the account itself (`author_id == user_id`, or `direction: out`) | `other` of kind [`OWN_MESSAGE`], with the chat: not a customer message |
//! | `text` | `message`, text |
//! | `image` | `message`, image: the largest size |
//! | `voice` | `message`, voice: `voice:<voice_id>`, `audio/mp4` (Opus in MP4) |
//! | `link` | `message`, text: the link's text (or its URL) |
//! | `location` | `message`, location (title as name, text as address) |
//! | `item`, `call`, `appCall`, `file`, `video` | `message`, `unsupported` of that kind (files and videos arrive with an empty content and cannot be fetched) |
//! | `deleted`, `system` | `other` of that kind, with the chat |
//! | anything else | `other` of that type, with the chat |
//! | a message without an id or chat | `other` of kind [`MALFORMED_EVENT`] |
//!
//! A message's time is `created`, else `published_at`, else the delivery's `timestamp`.

use chrono::{DateTime, Utc};
use messenger_core::{
    ChatId, Content, DeliveryStatus, InboundEvent, MediaRef, MessageEvent, MessageId, OtherEvent,
    Platform, Sender, StatusEvent, UserId,
};
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::wire::{Message, MessageContent, WebhookEnvelope, WebhookMessage};

const AVITO: Platform = Platform::Avito;

/// The prefix of a voice note's media id: `voice:<voice_id>`.
pub const VOICE_PREFIX: &str = "voice:";

/// The MIME type of Avito's voice files: Opus in an MP4 container ([O getVoiceFiles]).
pub const VOICE_MIME: &str = "audio/mp4";

/// The `other` kind of a message the account wrote itself.
pub const OWN_MESSAGE: &str = "own_message";

/// The `other` kind of a delivery or message that could not be read.
pub const MALFORMED_EVENT: &str = "malformed_event";

/// A message from either source, in one shape.
#[derive(Clone, Default)]
pub(crate) struct Incoming {
    pub id: Option<String>,
    pub chat_id: Option<String>,
    /// The account the message belongs to (the webhook's `user_id`, or the polled account).
    pub account: Option<i64>,
    pub author_id: Option<i64>,
    pub outgoing: bool,
    pub created: Option<i64>,
    pub published_at: Option<String>,
    pub kind: Option<String>,
    pub content: MessageContent,
    pub quote_id: Option<String>,
    pub sender_name: Option<String>,
}

impl Incoming {
    /// A webhook message.
    pub(crate) fn from_webhook(m: WebhookMessage) -> Self {
        Self {
            id: m.id,
            chat_id: m.chat_id,
            account: m.user_id,
            author_id: m.author_id,
            outgoing: false,
            created: m.created,
            published_at: m.published_at,
            kind: m.kind,
            content: m.content.unwrap_or_default(),
            quote_id: m.quote.and_then(|q| q.id),
            sender_name: None,
        }
    }

    /// A getMessagesV3 item of `chat`, polled by `account`.
    pub(crate) fn from_polled(chat: &str, account: i64, m: Message) -> Self {
        Self {
            id: m.id,
            chat_id: Some(chat.to_owned()),
            account: Some(account),
            author_id: m.author_id,
            outgoing: m.direction.as_deref() == Some("out"),
            created: m.created,
            published_at: None,
            kind: m.kind,
            content: m.content.unwrap_or_default(),
            quote_id: m.quote.and_then(|q| q.id),
            sender_name: None,
        }
    }

    /// Whether the account wrote it.
    pub(crate) fn is_own(&self) -> bool {
        self.outgoing || (self.author_id.is_some() && self.author_id == self.account)
    }
}

/// A unix time in seconds, where it is one.
pub(crate) fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// The largest size of an image (`WxH` keys by area; an unreadable key, or one whose area
/// overflows, counts 0).
pub fn largest_size(sizes: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    sizes
        .iter()
        .max_by_key(|(key, _)| {
            key.split_once(['x', 'х', 'X'])
                .and_then(|(w, h)| {
                    w.trim()
                        .parse::<u64>()
                        .ok()?
                        .checked_mul(h.trim().parse::<u64>().ok()?)
                })
                .unwrap_or(0)
        })
        .map(|(_, url)| url.as_str())
        .filter(|url| !url.is_empty())
}

/// The MIME type an image URL's extension says, where it says one.
fn image_mime(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    mime_guess::from_path(path)
        .first()
        .filter(|m| m.type_() == "image")
        .map(|m| m.essence_str().to_owned())
}

fn unsupported(kind: &str) -> Content {
    Content::Unsupported {
        platform_kind: kind.to_owned(),
    }
}

fn content_of(kind: &str, content: MessageContent) -> Option<Content> {
    Some(match kind {
        "text" => match content.text {
            Some(text) => Content::Text { text },
            None => unsupported("text"),
        },
        "image" => match content.image.as_ref().and_then(|i| largest_size(&i.sizes)) {
            Some(url) => Content::Image {
                media: MediaRef {
                    id: url.into(),
                    mime_type: image_mime(url),
                    file_name: None,
                    size: None,
                },
                caption: None,
            },
            None => unsupported("image"),
        },
        "voice" => match content
            .voice
            .and_then(|v| v.voice_id)
            .filter(|id| !id.trim().is_empty())
        {
            Some(id) => Content::Voice {
                media: MediaRef {
                    id: format!("{VOICE_PREFIX}{id}").into(),
                    mime_type: Some(VOICE_MIME.to_owned()),
                    file_name: None,
                    size: None,
                },
                caption: None,
            },
            None => unsupported("voice"),
        },
        "link" => match content.link.and_then(|l| l.text.or(l.url)) {
            Some(text) => Content::Text { text },
            None => unsupported("link"),
        },
        "location" => match content.location {
            Some(l) if l.lat.is_some_and(f64::is_finite) && l.lon.is_some_and(f64::is_finite) => {
                Content::Location {
                    latitude: l.lat.unwrap_or_default(),
                    longitude: l.lon.unwrap_or_default(),
                    name: l.title,
                    address: l.text,
                }
            }
            _ => unsupported("location"),
        },
        "item" | "call" | "appCall" | "file" | "video" => unsupported(kind),
        _ => return None,
    })
}

/// The event of one message; see the [module docs](self). `fallback_time` is the delivery's
/// `timestamp`.
pub(crate) fn message_event(m: Incoming, fallback_time: Option<i64>) -> InboundEvent {
    let Some(chat) = m.chat_id.clone().filter(|c| !c.is_empty()) else {
        return InboundEvent::Other(OtherEvent::new(AVITO, MALFORMED_EVENT));
    };
    if m.is_own() {
        return InboundEvent::Other(OtherEvent::new(AVITO, OWN_MESSAGE).in_chat(chat));
    }
    let Some(id) = m.id.clone().filter(|i| !i.is_empty()) else {
        return InboundEvent::Other(OtherEvent::new(AVITO, MALFORMED_EVENT).in_chat(chat));
    };
    let kind = m.kind.clone().unwrap_or_default();
    let Some(content) = content_of(&kind, m.content) else {
        let kind = if kind.is_empty() { "unknown" } else { &kind };
        return InboundEvent::Other(OtherEvent::new(AVITO, kind).in_chat(chat));
    };
    let timestamp = m
        .created
        .and_then(unix)
        .or_else(|| {
            m.published_at
                .as_deref()
                .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
                .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| fallback_time.and_then(unix))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    InboundEvent::Message(MessageEvent {
        platform: AVITO,
        chat_id: ChatId::from(chat),
        message_id: MessageId::from(id),
        sender: m.author_id.map(|author| Sender {
            id: UserId::from(author),
            name: m.sender_name,
        }),
        timestamp,
        reply_to: m.quote_id.filter(|q| !q.is_empty()).map(MessageId::from),
        edited: false,
        content,
    })
}

/// The events of one webhook delivery.
pub(crate) fn envelope_events(envelope: WebhookEnvelope) -> Vec<InboundEvent> {
    let Some(payload) = envelope.payload else {
        return vec![InboundEvent::Other(OtherEvent::new(AVITO, MALFORMED_EVENT))];
    };
    let value = payload.value.as_deref();
    let chat = value.and_then(chat_of);
    match payload.kind.as_deref() {
        Some("message") => {
            match value.and_then(|v| serde_json::from_str::<WebhookMessage>(v.get()).ok()) {
                Some(message) => vec![message_event(
                    Incoming::from_webhook(message),
                    envelope.timestamp,
                )],
                None => {
                    let other = OtherEvent::new(AVITO, MALFORMED_EVENT);
                    vec![InboundEvent::Other(match chat {
                        Some(chat) => other.in_chat(chat),
                        None => other,
                    })]
                }
            }
        }
        kind => {
            let kind = kind.filter(|k| !k.is_empty()).unwrap_or("unknown");
            let other = OtherEvent::new(AVITO, kind);
            vec![InboundEvent::Other(match chat {
                Some(chat) => other.in_chat(chat),
                None => other,
            })]
        }
    }
}

/// The `chat_id` of a raw value, where it is a non-empty string (the last of a repeated key,
/// as in an object read whole).
fn chat_of(raw: &RawValue) -> Option<String> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut chat = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "chat_id" {
                    chat = map.next_value::<ChatIdValue>()?.0;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(chat)
        }
    }
    /// A string, `None` for any other value.
    struct ChatIdValue(Option<String>);
    impl<'de> serde::Deserialize<'de> for ChatIdValue {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = <&'de RawValue>::deserialize(d)?;
            Ok(ChatIdValue(serde_json::from_str::<String>(raw.get()).ok()))
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde::Deserializer::deserialize_map(&mut de, V)
        .ok()
        .flatten()
        .filter(|c| !c.is_empty())
}

/// A `read` status of the account's message `message` in `chat`, read at `read` (unix s).
pub(crate) fn read_status(chat: &str, message: &str, read: i64) -> InboundEvent {
    InboundEvent::Status(StatusEvent {
        platform: AVITO,
        chat_id: ChatId::from(chat),
        message_id: MessageId::from(message),
        status: DeliveryStatus::Read,
        timestamp: unix(read).unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_largest_size_wins_whatever_the_order() {
        let sizes: BTreeMap<String, String> = [
            ("140x105", "s"),
            ("1280x960", "l"),
            ("640x480", "m"),
            ("odd", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(largest_size(&sizes), Some("l"));
        assert_eq!(largest_size(&BTreeMap::new()), None);
    }

    /// Found by the fuzzer (`fuzz/`, target `avito`): a key whose area overflows `u64`
    /// panicked in debug builds (and wrapped to a small area in release ones).
    #[test]
    fn a_size_whose_area_overflows_counts_zero() {
        let sizes: BTreeMap<String, String> =
            [("17538017748897904893x960", "huge"), ("640x480", "m")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert_eq!(largest_size(&sizes), Some("m"));
    }

    #[test]
    fn image_mime_from_the_extension() {
        assert_eq!(
            image_mime("https://img.k.avito.ru/chat/1280x960/1.abc.jpg").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(image_mime("https://img.k.avito.ru/chat/1"), None);
    }

    #[test]
    fn own_messages_are_not_customer_messages() {
        let m = Incoming {
            id: Some("m".into()),
            chat_id: Some("u2i-1".into()),
            account: Some(7),
            author_id: Some(7),
            kind: Some("text".into()),
            ..Incoming::default()
        };
        let InboundEvent::Other(o) = message_event(m, None) else {
            panic!()
        };
        assert_eq!(o.kind, OWN_MESSAGE);
        assert_eq!(o.chat_id.unwrap().as_str(), "u2i-1");
    }
}
