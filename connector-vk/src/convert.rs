//! VK's wire types to the core model and back.
//!
//! # Ids
//!
//! - A chat is a VK `peer_id` in decimal: a user id, `2000000000 + chat id` for a group chat,
//!   `-community id` for a community.
//! - A message is its VK `id`. A community's messages in a group chat have `id: 0` and only a
//!   `conversation_message_id`; they are written `c<cmid>` (`c2165`), which
//!   [`message_ref`] reads back, so replies, edits, deletes and mark-as-read work there too.
//! - A message with several attachments becomes one [`MessageEvent`] per attachment; the
//!   second and later carry `<id>/<n>` (`345/1`), so that each has its own de-duplication key.
//!   [`message_ref`] ignores the suffix.
//! - Inbound media ([`MediaRef::id`]) is `<attachment>|<url>`: the attachment string VK
//!   accepts in `messages.send` (`photo111_457239017_8f1e2d`, `doc111_6789_ab12`), then the URL
//!   [`Messenger::download`](messenger_core::Messenger::download) fetches (the largest photo
//!   size, the document's URL, a voice note's `link_ogg`). Sent back as
//!   [`MediaSource::Id`], only the attachment string is used.
//!
//! # Events
//!
//! | VK type | event |
//! |---|---|
//! | `message_new` | `message` (one per attachment) |
//! | `message_edit` | `message` with `edited: true`, timestamp = `update_time` |
//! | `message_new`/`message_edit` with `out: 1`, `message_reply` | `other` of that type, with the chat: the community's own messages are not customer messages |
//! | `message_read` | `status` `read` of `read_message_id` in `peer_id` |
//! | `message_allow` | `contact` `opted_in` |
//! | `message_deny` | `contact` `opted_out` |
//! | `message_typing_state` | `other`, chat = `from_id` |
//! | anything else | `other` of its type, chat = `object.peer_id` or `object.user_id` where there is one |
//! | a known type whose object does not decode | `other` of kind `malformed_event` |
//!
//! `message_read` semantics are UNCONFIRMED in VK's documentation; read here as "the user
//! (`from_id`) has read the community's messages in `peer_id` up to `read_message_id`". A
//! status tracker sees only that id; earlier messages of the chat are read too.
//!
//! Events without a time of their own (`message_read`, `message_allow`, `message_deny`) are
//! stamped with the time of parsing.

use chrono::{DateTime, Utc};
use messenger_core::capabilities::vk::TEXT_MAX;
use messenger_core::plan::Part;
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, DeliveryStatus, Error, InboundEvent, MediaId,
    MediaRef, MediaSource, MessageEvent, MessageId, OtherEvent, OutgoingContent, Platform, Result,
    Sender, StatusEvent, UserId,
};
use serde_json::value::RawValue;

use crate::wire::SendParams;
use crate::wire::inbound::{
    Attachment, Event, Message, MessageAllow, MessageDeny, MessageNew, MessageRead, Peek, Wrapped,
};

const VK: Platform = Platform::Vk;

/// Group chats have peer ids from here on (`2000000000 + chat id`).
pub const CHAT_PEER_BASE: i64 = 2_000_000_000;

/// The `other` kind of an event whose object could not be decoded.
pub const MALFORMED_EVENT: &str = "malformed_event";

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(VK)
}

/// A VK peer id from a chat id (a non-zero integer).
///
/// ```
/// use connector_vk::convert::peer_id;
/// assert_eq!(peer_id(&"2000000001".into()).unwrap(), 2_000_000_001);
/// assert!(peer_id(&"id123".into()).is_err());
/// ```
pub fn peer_id(chat: &ChatId) -> Result<i64> {
    chat.as_str()
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| invalid("a VK chat id is a non-zero integer peer id"))
}

/// Whether `peer` is a group chat.
pub fn is_chat_peer(peer: i64) -> bool {
    peer >= CHAT_PEER_BASE
}

/// A VK message, by its id or by its number in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef {
    /// `messages_message.id`.
    Id(i64),
    /// `conversation_message_id` (written `c<n>`).
    Cmid(i64),
}

/// Reads a [`MessageId`] written by this connector: `345`, `c2165`, and either with a `/<n>`
/// suffix of a multi-attachment message.
///
/// ```
/// use connector_vk::convert::{message_ref, MessageRef};
/// assert_eq!(message_ref(&"345".into()).unwrap(), MessageRef::Id(345));
/// assert_eq!(message_ref(&"c2165".into()).unwrap(), MessageRef::Cmid(2165));
/// assert_eq!(message_ref(&"345/2".into()).unwrap(), MessageRef::Id(345));
/// assert!(message_ref(&"wamid.X".into()).is_err());
/// ```
pub fn message_ref(id: &MessageId) -> Result<MessageRef> {
    let raw = id.as_str().trim();
    let base = raw.split_once('/').map_or(raw, |(base, _)| base);
    let parsed = match base.strip_prefix('c') {
        Some(cmid) => cmid.parse::<i64>().ok().map(MessageRef::Cmid),
        None => base.parse::<i64>().ok().map(MessageRef::Id),
    };
    parsed
        .filter(|r| matches!(r, MessageRef::Id(n) | MessageRef::Cmid(n) if *n > 0))
        .ok_or_else(|| invalid("a VK message id is a positive integer or c<conversation id>"))
}

/// The [`MessageId`] of a VK message: its id, or `c<cmid>` where the id is `0`.
pub fn message_id(id: i64, cmid: i64) -> MessageId {
    if id != 0 || cmid == 0 {
        MessageId::from(id)
    } else {
        MessageId::new(format!("c{cmid}"))
    }
}

// ---------------------------------------------------------------------------------------------
// random_id
// ---------------------------------------------------------------------------------------------

/// The `random_id` of a part sent to `peer` under the caller's idempotency `key`: a positive
/// int32 (the bot guide's type), the same in every process and every version of this crate
/// (64-bit FNV-1a of `"<peer>\n<key>"`, folded to 31 bits; `0`, which may switch VK's check
/// off, becomes `1`). VK drops a second message with the same `random_id` to the same
/// recipient, so every retry of the part is harmless.
///
/// Collisions: two different keys to one recipient collide with probability 2^-31 per pair;
/// at a thousand keyed messages to one customer that is about 1 in 4 000 over their whole
/// history.
///
/// ```
/// use connector_vk::convert::random_id_for_key;
/// let a = random_id_for_key(111, "order-17#0");
/// assert_eq!(a, random_id_for_key(111, "order-17#0"));
/// assert_ne!(a, random_id_for_key(111, "order-17#1"));
/// assert_ne!(a, random_id_for_key(222, "order-17#0"));
/// assert!(a > 0);
/// ```
pub fn random_id_for_key(peer: i64, key: &str) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in peer
        .to_string()
        .as_bytes()
        .iter()
        .chain(b"\n")
        .chain(key.as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let folded = (hash ^ (hash >> 31) ^ (hash >> 62)) & 0x7fff_ffff;
    i32::try_from(folded).unwrap_or(1).max(1)
}

/// A fresh random `random_id` (a positive int32) for a part without a key.
pub fn fresh_random_id() -> i32 {
    fastrand::i32(1..=i32::MAX)
}

/// The `random_id` of `part` to `peer`: [`random_id_for_key`] of its idempotency key, or
/// [`fresh_random_id`] when it has none.
pub fn random_id(peer: i64, part: &Part) -> i32 {
    match &part.idempotency_key {
        Some(key) => random_id_for_key(peer, key),
        None => fresh_random_id(),
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// Checks an attachment string: `<type><owner>_<id>[_<access key>]`.
fn is_attachment(s: &str) -> bool {
    let Some(start) = s.find(|c: char| c == '-' || c.is_ascii_digit()) else {
        return false;
    };
    let (kind, rest) = s.split_at(start);
    let mut parts = rest.splitn(3, '_');
    let owner = parts.next().and_then(|o| o.parse::<i64>().ok());
    let id = parts.next().and_then(|i| i.parse::<i64>().ok());
    let key_ok = parts
        .next()
        .is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()));
    !kind.is_empty()
        && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        && owner.is_some()
        && id.is_some()
        && key_ok
}

/// The attachment string of media VK already holds: a [`MediaRef::id`] of this connector
/// (`<attachment>|<url>`) or a bare attachment string.
///
/// ```
/// use connector_vk::convert::attachment_of;
/// assert_eq!(attachment_of(&"photo-1_2_ab|https://sun9-1.userapi.com/x".into()).unwrap(), "photo-1_2_ab");
/// assert_eq!(attachment_of(&"doc111_6789".into()).unwrap(), "doc111_6789");
/// assert!(attachment_of(&"https://example.com/a.png".into()).is_err());
/// ```
pub fn attachment_of(media: &MediaId) -> Result<String> {
    let raw = media.as_str();
    let attachment = raw.split_once('|').map_or(raw, |(a, _)| a).trim();
    if is_attachment(attachment) {
        Ok(attachment.to_owned())
    } else {
        Err(invalid(
            "a VK media id is an attachment string like photo<owner>_<id>[_<key>]",
        ))
    }
}

/// The download URL inside a [`MediaRef::id`] of this connector, where it has one.
pub fn download_url(media: &MediaRef) -> Option<&str> {
    media
        .id
        .as_str()
        .split_once('|')
        .map(|(_, url)| url)
        .filter(|u| !u.is_empty())
}

/// `<type><owner>_<id>[_<key>]`.
pub fn attachment_string(kind: &str, owner: i64, id: i64, key: Option<&str>) -> String {
    match key.filter(|k| !k.is_empty()) {
        Some(key) => format!("{kind}{owner}_{id}_{key}"),
        None => format!("{kind}{owner}_{id}"),
    }
}

fn media_id(attachment: String, url: Option<&str>) -> MediaId {
    match url.filter(|u| !u.is_empty()) {
        Some(url) => MediaId::new(format!("{attachment}|{url}")),
        None => MediaId::new(attachment),
    }
}

/// The `messages.send` parameters of `part` to `peer`, with the attachment of its media
/// (uploaded, or from a media id) and its `random_id`.
///
/// Refuses (`InvalidInput`) a part with neither text nor attachment, and (`TooLarge`) text
/// over 9 000 characters, which the planner splits before it gets here.
pub fn send_params(
    peer: i64,
    part: &Part,
    attachment: Option<String>,
    random_id: i32,
) -> Result<SendParams> {
    let text = match &part.content {
        OutgoingContent::Text { text } => Some(text.as_str()),
        other => other.caption(),
    }
    .filter(|t| !t.trim().is_empty());
    if text.is_none() && attachment.is_none() {
        return Err(invalid("a VK message needs text or an attachment"));
    }
    if let Some(text) = text {
        let len = text.chars().count();
        if len > TEXT_MAX {
            return Err(Error::too_large(format!(
                "the text has {len} characters; VK takes at most {TEXT_MAX}"
            ))
            .with_platform(VK));
        }
    }
    let (reply_to, forward) = match &part.reply_to {
        None => (None, None),
        Some(id) => match message_ref(id)? {
            MessageRef::Id(id) => (Some(id), None),
            MessageRef::Cmid(cmid) => (
                None,
                Some(format!(
                    r#"{{"peer_id":{peer},"conversation_message_ids":[{cmid}],"is_reply":true}}"#
                )),
            ),
        },
    };
    let (peer_id, peer_ids) = if is_chat_peer(peer) {
        (None, Some(peer.to_string()))
    } else {
        (Some(peer), None)
    };
    Ok(SendParams {
        peer_id,
        peer_ids,
        random_id,
        message: text.map(str::to_owned),
        attachment,
        reply_to,
        forward,
    })
}

/// The attachment string of outbound media that VK already holds, or `None` for an upload.
/// A URL is refused: VK cannot fetch one (the planner sends a link as text instead).
pub fn attachment_by_reference(source: &MediaSource) -> Result<Option<String>> {
    match source {
        MediaSource::Id(id) => attachment_of(id).map(Some),
        MediaSource::Url(_) => Err(Error::unsupported(
            "VK cannot fetch media from a URL; send the link as text",
        )
        .with_platform(VK)),
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The events of one update (a Callback body or one item of a Long Poll `updates`), from its
/// raw JSON text: never an error; anything unreadable is an `other` event.
pub fn update_to_events(raw: &RawValue) -> Vec<InboundEvent> {
    match serde_json::from_str::<Event<'_>>(raw.get()) {
        Ok(event) => event_to_events(event),
        Err(_) => vec![InboundEvent::Other(OtherEvent::new(VK, MALFORMED_EVENT))],
    }
}

fn other(kind: &str, chat: Option<i64>) -> InboundEvent {
    let event = OtherEvent::new(VK, kind);
    InboundEvent::Other(match chat {
        Some(chat) => event.in_chat(ChatId::from(chat)),
        None => event,
    })
}

fn malformed(object: &Peek<'_>) -> InboundEvent {
    other(
        MALFORMED_EVENT,
        object.chat(&["peer_id", "user_id", "from_id"]),
    )
}

/// Decodes an event's object as `T`, where it has one.
fn typed<'a, T: serde::Deserialize<'a>>(object: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(object?.get()).ok()
}

/// The message of `message_new` (wrapped since 5.103) or of `message_edit`/`message_reply`.
fn message_of<'a>(object: Option<&'a RawValue>, peek: &Peek<'_>) -> Option<Message<'a>> {
    // The message: `message` where it is an object, else the object itself; it must name its
    // conversation.
    if !peek.has_peer_id {
        return None;
    }
    let message = if peek.message.is_some() {
        typed::<MessageNew<'a>>(object).map(|m| m.message)
    } else {
        typed::<Message<'a>>(object)
    }?;
    // Without a conversation, an id and a date it is not a message VK sent.
    let named = message.id != 0 || message.conversation_message_id != 0;
    (message.peer() != 0 && named && message.date > 0).then_some(message)
}

/// The message of a `message_new`, `message_edit` or `message_reply` object in the shape VK
/// sends today (`{"message": {...}, "client_info": {...}}`), read in one pass; `None` for
/// anything else, which [`message_of`] reads.
fn wrapped_message<'a>(object: Option<&'a RawValue>) -> Option<Message<'a>> {
    let object = object.filter(|o| o.get().starts_with('{'))?;
    let message = serde_json::from_str::<Wrapped<'a>>(object.get())
        .ok()?
        .message
        .0;
    let named = message.id != 0 || message.conversation_message_id != 0;
    (message.peer_id.is_some_and(|p| p != 0) && named && message.date > 0).then_some(message)
}

/// The events of one decoded event.
pub fn event_to_events(event: Event<'_>) -> Vec<InboundEvent> {
    let kind = event.kind.as_str();
    let object = event.object;
    if matches!(kind, "message_new" | "message_edit" | "message_reply")
        && let Some(m) = wrapped_message(object)
    {
        if m.out || kind == "message_reply" {
            return vec![other(kind, Some(m.peer()))];
        }
        return message_events(m, kind == "message_edit");
    }
    let peek = object.map(|o| Peek::of(o, None)).unwrap_or_default();
    let now = Utc::now();
    // serde reads a struct from an array too, by position: only objects are objects here.
    if kind.starts_with("message_") && !peek.is_object {
        return vec![malformed(&peek)];
    }
    match kind {
        "message_new" | "message_edit" | "message_reply" => match message_of(object, &peek) {
            None => vec![malformed(&peek)],
            Some(m) if m.out || kind == "message_reply" => {
                vec![other(kind, (m.peer() != 0).then_some(m.peer()))]
            }
            Some(m) => message_events(m, kind == "message_edit"),
        },
        "message_read" => match typed::<MessageRead>(object) {
            Some(read)
                if read.peer_id != 0
                    && (read.read_message_id != 0 || read.conversation_message_id != 0) =>
            {
                vec![InboundEvent::Status(StatusEvent {
                    platform: VK,
                    chat_id: ChatId::from(read.peer_id),
                    message_id: message_id(read.read_message_id, read.conversation_message_id),
                    status: DeliveryStatus::Read,
                    timestamp: now,
                    error: None,
                })]
            }
            _ => vec![malformed(&peek)],
        },
        "message_allow" => match typed::<MessageAllow<'_>>(object) {
            Some(allow) if allow.user_id != 0 => {
                vec![contact(allow.user_id, ContactChange::OptedIn)]
            }
            _ => vec![malformed(&peek)],
        },
        "message_deny" => match typed::<MessageDeny>(object) {
            Some(deny) if deny.user_id != 0 => vec![contact(deny.user_id, ContactChange::OptedOut)],
            _ => vec![malformed(&peek)],
        },
        "message_typing_state" => vec![other(kind, peek.chat(&["from_id"]))],
        "" => vec![malformed(&peek)],
        _ => vec![other(kind, peek.chat(&["peer_id", "user_id"]))],
    }
}

fn contact(user: i64, change: ContactChange) -> InboundEvent {
    InboundEvent::Contact(ContactEvent::new(
        VK,
        ChatId::from(user),
        UserId::from(user),
        change,
        Utc::now(),
    ))
}

/// The `message` events of a customer's message: one per attachment (the text is the first
/// one's caption, or a text of its own where the first cannot carry one).
pub fn message_events(m: Message<'_>, edited: bool) -> Vec<InboundEvent> {
    let base = message_id(m.id, m.conversation_message_id);
    let timestamp = time(if edited {
        m.update_time.unwrap_or(m.date)
    } else {
        m.date
    });
    let reply_to = m
        .reply_message
        .as_ref()
        .filter(|r| r.id != 0 || r.conversation_message_id != 0)
        .map(|r| message_id(r.id, r.conversation_message_id));
    let sender = (m.from_id != 0).then(|| Sender {
        id: UserId::from(m.from_id),
        name: None,
    });
    let chat = ChatId::from(m.peer());
    contents(&m)
        .into_iter()
        .enumerate()
        .map(|(index, content)| {
            InboundEvent::Message(MessageEvent {
                platform: VK,
                chat_id: chat.clone(),
                message_id: if index == 0 {
                    base.clone()
                } else {
                    MessageId::new(format!("{base}/{index}"))
                },
                sender: sender.clone(),
                timestamp,
                reply_to: if index == 0 { reply_to.clone() } else { None },
                edited,
                content,
            })
        })
        .collect()
}

fn contents(m: &Message<'_>) -> Vec<Content> {
    let mut list: Vec<Content> = m.attachments.iter().map(attachment_content).collect();
    if let Some(coords) = m.geo.as_ref().and_then(|g| g.coordinates) {
        let place = m.geo.as_ref().and_then(|g| g.place.as_ref());
        list.push(Content::Location {
            latitude: coords.latitude,
            longitude: coords.longitude,
            name: place.and_then(|p| p.title.as_deref().map(str::to_owned)),
            address: place.and_then(|p| p.address.as_deref().map(str::to_owned)),
        });
    }
    let text = (!m.text.is_empty()).then(|| m.text.as_str().to_owned());
    match (list.first_mut(), text) {
        (None, Some(text)) => list.push(Content::Text { text }),
        (None, None) => {
            let kind = match &m.action {
                Some(action) if !action.kind.is_empty() => action.kind.as_str().to_owned(),
                _ if !m.fwd_messages.is_empty() => "fwd_messages".to_owned(),
                _ => "empty".to_owned(),
            };
            list.push(Content::Unsupported {
                platform_kind: kind,
            });
        }
        (Some(first), Some(text)) => match first {
            Content::Image { caption, .. }
            | Content::File { caption, .. }
            | Content::Voice { caption, .. }
            | Content::Audio { caption, .. }
            | Content::Video { caption, .. } => *caption = Some(text),
            _ => list.insert(0, Content::Text { text }),
        },
        (Some(_), None) => {}
    }
    list
}

fn media(
    id: MediaId,
    mime: Option<&str>,
    file_name: Option<String>,
    size: Option<u64>,
) -> MediaRef {
    MediaRef {
        id,
        mime_type: mime.map(str::to_owned),
        file_name,
        size,
    }
}

/// The content of one attachment.
pub fn attachment_content(attachment: &Attachment<'_>) -> Content {
    match attachment {
        Attachment::Photo(p) => Content::Image {
            media: media(
                media_id(
                    attachment_string("photo", p.owner_id, p.id, p.access_key.as_deref()),
                    p.largest_url(),
                ),
                None,
                None,
                None,
            ),
            caption: None,
        },
        Attachment::Doc(d) => {
            let mime = d
                .ext
                .as_deref()
                .and_then(|ext| mime_guess::from_ext(ext).first_raw());
            Content::File {
                media: media(
                    media_id(
                        attachment_string("doc", d.owner_id, d.id, d.access_key.as_deref()),
                        d.url.as_deref(),
                    ),
                    mime,
                    (!d.title.is_empty()).then(|| d.title.as_str().to_owned()),
                    d.size,
                ),
                caption: None,
            }
        }
        Attachment::AudioMessage(a) => {
            let (url, mime) = match (&a.link_ogg, &a.link_mp3) {
                (Some(ogg), _) if !ogg.is_empty() => (Some(ogg.as_str()), "audio/ogg"),
                (_, Some(mp3)) if !mp3.is_empty() => (Some(mp3.as_str()), "audio/mpeg"),
                _ => (None, "audio/ogg"),
            };
            Content::Voice {
                // A voice note is a document: `doc<owner>_<id>` ([G MessagesAudioMessage]).
                media: media(
                    media_id(
                        attachment_string("doc", a.owner_id, a.id, a.access_key.as_deref()),
                        url,
                    ),
                    Some(mime),
                    None,
                    None,
                ),
                caption: None,
            }
        }
        Attachment::Audio(a) => Content::Audio {
            media: media(
                media_id(
                    attachment_string("audio", a.owner_id, a.id, a.access_key.as_deref()),
                    a.url.as_deref(),
                ),
                Some("audio/mpeg"),
                None,
                None,
            ),
            caption: None,
        },
        Attachment::Video(v) => Content::Video {
            media: media(
                MediaId::new(attachment_string(
                    "video",
                    v.owner_id,
                    v.id,
                    v.access_key.as_deref(),
                )),
                None,
                None,
                None,
            ),
            caption: None,
        },
        Attachment::Sticker(s) => Content::Sticker {
            media: media(
                media_id(
                    format!("sticker{}", s.sticker_id.unwrap_or_default()),
                    s.largest_url(),
                ),
                None,
                None,
                None,
            ),
            emoji: None,
        },
        Attachment::Other { kind } => Content::Unsupported {
            platform_kind: kind.as_str().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_core::ErrorKind;
    use serde_json::{Value, json};

    fn events(v: Value) -> Vec<InboundEvent> {
        let text = v.to_string();
        update_to_events(serde_json::from_str::<&RawValue>(&text).unwrap())
    }

    fn msg_new(message: Value) -> Value {
        json!({"type": "message_new", "group_id": 1, "event_id": "e", "v": "5.199",
               "object": {"message": message, "client_info": {}}})
    }

    #[test]
    fn a_text_message_becomes_a_message_event_in_utc() {
        let e = events(msg_new(
            json!({"id": 345, "date": 1717000000, "peer_id": 111,
            "from_id": 111, "out": 0, "conversation_message_id": 12, "text": "Здравствуйте"}),
        ));
        let [InboundEvent::Message(m)] = e.as_slice() else {
            panic!("{e:?}")
        };
        assert_eq!(m.chat_id.as_str(), "111");
        assert_eq!(m.message_id.as_str(), "345");
        assert_eq!(m.sender.as_ref().unwrap().id.as_str(), "111");
        assert_eq!(m.timestamp.to_rfc3339(), "2024-05-29T16:26:40+00:00");
        assert_eq!(
            m.content,
            Content::Text {
                text: "Здравствуйте".into()
            }
        );
        assert!(!m.edited);
    }

    #[test]
    fn attachments_become_one_event_each_with_the_text_as_first_caption() {
        let e = events(msg_new(
            json!({"id": 345, "date": 1, "peer_id": 111, "from_id": 111,
            "text": "see", "attachments": [
             {"type": "photo", "photo": {"id": 457239017, "owner_id": 111, "access_key": "8f1e2d",
               "sizes": [{"type": "s", "url": "https://sun9-1.userapi.com/s", "width": 75, "height": 56},
                         {"type": "x", "url": "https://sun9-1.userapi.com/x", "width": 604, "height": 453}]}},
             {"type": "audio_message", "audio_message": {"id": 654321, "owner_id": 111, "duration": 4,
               "access_key": "c0ffee", "link_ogg": "https://psv4.userapi.com/a.ogg",
               "link_mp3": "https://psv4.userapi.com/a.mp3", "waveform": [0, 3]}},
             {"type": "doc", "doc": {"id": 6789, "owner_id": 111, "title": "invoice.pdf", "size": 48213,
               "ext": "pdf", "type": 1, "url": "https://vk.com/doc111_6789?hash=h", "access_key": "ab12"}},
             {"type": "poll", "poll": {"id": 1}}
            ]}),
        ));
        assert_eq!(e.len(), 4);
        let ids: Vec<&str> = e
            .iter()
            .map(|e| match e {
                InboundEvent::Message(m) => m.message_id.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(ids, ["345", "345/1", "345/2", "345/3"]);
        let InboundEvent::Message(first) = &e[0] else {
            panic!()
        };
        let Content::Image { media, caption } = &first.content else {
            panic!()
        };
        assert_eq!(
            media.id.as_str(),
            "photo111_457239017_8f1e2d|https://sun9-1.userapi.com/x"
        );
        assert_eq!(caption.as_deref(), Some("see"));
        let InboundEvent::Message(voice) = &e[1] else {
            panic!()
        };
        let Content::Voice { media, .. } = &voice.content else {
            panic!()
        };
        assert_eq!(
            media.id.as_str(),
            "doc111_654321_c0ffee|https://psv4.userapi.com/a.ogg"
        );
        assert_eq!(media.mime_type.as_deref(), Some("audio/ogg"));
        let InboundEvent::Message(doc) = &e[2] else {
            panic!()
        };
        let Content::File { media, caption } = &doc.content else {
            panic!()
        };
        assert_eq!(media.file_name.as_deref(), Some("invoice.pdf"));
        assert_eq!(media.size, Some(48213));
        assert_eq!(media.mime_type.as_deref(), Some("application/pdf"));
        assert!(caption.is_none());
        let InboundEvent::Message(poll) = &e[3] else {
            panic!()
        };
        assert_eq!(
            poll.content,
            Content::Unsupported {
                platform_kind: "poll".into()
            }
        );
        // Every part has its own de-duplication key.
        let keys: std::collections::HashSet<_> = e.iter().map(|e| e.dedup_key()).collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn audio_video_sticker_and_geo() {
        let e = events(msg_new(
            json!({"id": 9, "date": 1, "peer_id": 5, "from_id": 5, "text": "",
            "attachments": [
              {"type": "audio", "audio": {"id": 1, "owner_id": 2, "url": "https://cs1.vkuseraudio.net/a.mp3"}},
              {"type": "video", "video": {"id": 3, "owner_id": -4, "access_key": "k"}},
              {"type": "sticker", "sticker": {"sticker_id": 77, "product_id": 1, "images": [
                 {"url": "https://vk.com/s/64.png", "width": 64, "height": 64},
                 {"url": "https://vk.com/s/512.png", "width": 512, "height": 512}]}}],
            "geo": {"type": "point", "coordinates": {"latitude": 59.93, "longitude": 30.31},
                    "place": {"title": "Saint Petersburg"}}}),
        ));
        let contents: Vec<Content> = e
            .into_iter()
            .map(|e| match e {
                InboundEvent::Message(m) => m.content,
                _ => panic!(),
            })
            .collect();
        assert!(
            matches!(&contents[0], Content::Audio { media, .. } if media.id.as_str() == "audio2_1|https://cs1.vkuseraudio.net/a.mp3")
        );
        assert!(
            matches!(&contents[1], Content::Video { media, .. } if media.id.as_str() == "video-4_3_k")
        );
        assert!(
            matches!(&contents[2], Content::Sticker { media, .. } if media.id.as_str() == "sticker77|https://vk.com/s/512.png")
        );
        assert!(
            matches!(&contents[3], Content::Location { latitude, name, .. } if *latitude == 59.93 && name.as_deref() == Some("Saint Petersburg"))
        );
    }

    #[test]
    fn text_with_a_sticker_is_its_own_first_event() {
        let e = events(msg_new(
            json!({"id": 9, "date": 1, "peer_id": 5, "from_id": 5, "text": "hi",
            "attachments": [{"type": "sticker", "sticker": {"sticker_id": 1}}]}),
        ));
        assert_eq!(e.len(), 2);
        assert!(
            matches!(&e[0], InboundEvent::Message(m) if m.content == Content::Text { text: "hi".into() })
        );
    }

    #[test]
    fn a_group_chat_message_without_id_is_named_by_its_cmid() {
        let e = events(msg_new(
            json!({"id": 0, "date": 1, "peer_id": 2000000001, "from_id": 87641997,
            "conversation_message_id": 2165, "text": "/echo",
            "reply_message": {"id": 0, "conversation_message_id": 2160, "date": 1, "from_id": 1, "text": "x"}}),
        ));
        let [InboundEvent::Message(m)] = e.as_slice() else {
            panic!()
        };
        assert_eq!(m.message_id.as_str(), "c2165");
        assert_eq!(m.reply_to.as_ref().unwrap().as_str(), "c2160");
        assert_eq!(message_ref(&m.message_id).unwrap(), MessageRef::Cmid(2165));
    }

    #[test]
    fn edits_are_marked_and_stamped_with_their_update_time() {
        let e = events(
            json!({"type": "message_edit", "object": {"id": 345, "date": 100,
            "update_time": 200, "peer_id": 111, "from_id": 111, "out": 0, "text": "fixed"}}),
        );
        let [InboundEvent::Message(m)] = e.as_slice() else {
            panic!()
        };
        assert!(m.edited);
        assert_eq!(m.timestamp.timestamp(), 200);
    }

    #[test]
    fn own_messages_are_other_events_with_their_chat() {
        for (kind, out) in [
            ("message_reply", 1),
            ("message_reply", 0),
            ("message_edit", 1),
        ] {
            let e = events(
                json!({"type": kind, "object": {"id": 346, "date": 1, "peer_id": 111,
                "from_id": -1, "out": out, "text": "Our answer"}}),
            );
            assert_eq!(
                e,
                [InboundEvent::Other(
                    OtherEvent::new(VK, kind).in_chat("111")
                )],
                "{kind}"
            );
        }
        let e = events(msg_new(
            json!({"id": 1, "date": 1, "peer_id": 111, "from_id": -1,
            "out": 1, "text": "x"}),
        ));
        assert_eq!(
            e,
            [InboundEvent::Other(
                OtherEvent::new(VK, "message_new").in_chat("111")
            )]
        );
    }

    #[test]
    fn read_allow_deny_typing_and_unknown_types() {
        let e = events(
            json!({"type": "message_read", "object": {"from_id": 111, "peer_id": 111,
            "read_message_id": 346, "conversation_message_id": 13}}),
        );
        assert!(
            matches!(&e[0], InboundEvent::Status(s) if s.status == DeliveryStatus::Read && s.message_id.as_str() == "346" && s.chat_id.as_str() == "111")
        );
        let e = events(json!({"type": "message_allow", "object": {"user_id": 111, "key": "k"}}));
        assert!(
            matches!(&e[0], InboundEvent::Contact(c) if c.change == ContactChange::OptedIn && c.user_id.as_str() == "111")
        );
        let e = events(json!({"type": "message_deny", "object": {"user_id": 111}}));
        assert!(
            matches!(&e[0], InboundEvent::Contact(c) if c.change == ContactChange::OptedOut && c.chat_id.as_str() == "111")
        );
        let e = events(
            json!({"type": "message_typing_state", "object": {"from_id": 111,
            "to_id": -1, "state": "typing"}}),
        );
        assert_eq!(
            e,
            [InboundEvent::Other(
                OtherEvent::new(VK, "message_typing_state").in_chat("111")
            )]
        );
        let e =
            events(json!({"type": "group_join", "object": {"user_id": 7, "join_type": "join"}}));
        assert_eq!(
            e,
            [InboundEvent::Other(
                OtherEvent::new(VK, "group_join").in_chat("7")
            )]
        );
        let e = events(json!({"type": "wall_post_new", "object": {"id": 1, "owner_id": -1}}));
        assert_eq!(
            e,
            [InboundEvent::Other(OtherEvent::new(VK, "wall_post_new"))]
        );
    }

    #[test]
    fn malformed_events_are_other_events_never_errors() {
        for bad in [
            json!({"type": "message_new", "object": {"message": "nope"}}),
            json!({"type": "message_new", "object": {"message": {"peer_id": "x"}}}),
            json!({"type": "message_read", "object": {"peer_id": 5, "read_message_id": "x"}}),
            json!({"type": "message_allow", "object": {}}),
            json!({"type": "message_deny"}),
            json!({"object": {}}),
            json!([1, 2]),
            json!("text"),
            json!({"type": 5}),
            json!({"type": "message_allow", "object": [111]}),
            json!({"type": "message_read", "object": [111, 111, 5, 5]}),
        ] {
            let e = events(bad.clone());
            assert!(
                matches!(e.as_slice(), [InboundEvent::Other(o)] if o.kind == MALFORMED_EVENT),
                "{bad}: {e:?}"
            );
        }
        let e = events(
            json!({"type": "message_read", "object": {"peer_id": 5, "read_message_id": "x"}}),
        );
        assert_eq!(e[0].chat_id().unwrap().as_str(), "5");
    }

    #[test]
    fn pre_5_103_message_new_carries_the_message_itself() {
        let e = events(json!({"type": "message_new", "object": {"id": 1, "date": 1,
            "peer_id": 2, "from_id": 2, "text": "old"}}));
        assert!(matches!(&e[0], InboundEvent::Message(m) if m.message_id.as_str() == "1"));
    }

    #[test]
    fn send_params_carry_reply_and_route_group_chats_by_peer_ids() {
        let part = Part {
            content: OutgoingContent::text("hi"),
            reply_to: Some("42".into()),
            idempotency_key: None,
        };
        let p = send_params(111, &part, None, 7).unwrap();
        assert_eq!(
            (p.peer_id, p.reply_to, p.random_id),
            (Some(111), Some(42), 7)
        );
        let part = Part {
            reply_to: Some("c13".into()),
            ..part
        };
        let p = send_params(2000000001, &part, None, 7).unwrap();
        assert_eq!(p.peer_id, None);
        assert_eq!(p.peer_ids.as_deref(), Some("2000000001"));
        assert_eq!(
            serde_json::from_str::<Value>(p.forward.as_deref().unwrap()).unwrap(),
            json!({"peer_id": 2000000001, "conversation_message_ids": [13], "is_reply": true})
        );
        let long = Part {
            content: OutgoingContent::text("я".repeat(9001)),
            reply_to: None,
            idempotency_key: None,
        };
        assert_eq!(
            send_params(1, &long, None, 1).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
        let blank = Part {
            content: OutgoingContent::text("  "),
            reply_to: None,
            idempotency_key: None,
        };
        assert_eq!(
            send_params(1, &blank, None, 1).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn random_ids_are_pinned_and_positive() {
        // Pinned: changing the function would make a resend after an upgrade a second message.
        assert_eq!(
            random_id_for_key(111, "order-17#0"),
            random_id_for_key(111, "order-17#0")
        );
        let pinned = random_id_for_key(111, "order-17#0");
        assert_eq!(pinned, 958_732_571, "random_id_for_key must never change");
        for i in 0..1000 {
            assert!(random_id_for_key(i, &i.to_string()) > 0);
            assert!(fresh_random_id() > 0);
        }
    }

    #[test]
    fn attachment_strings_are_validated() {
        for ok in [
            "photo1_2",
            "photo-1_2_ab12",
            "doc111_6789_ab12",
            "audio_message1_2",
        ] {
            assert!(is_attachment(ok), "{ok}");
        }
        for bad in [
            "",
            "photo",
            "photo1",
            "photo1_x",
            "1_2",
            "photo1_2_",
            "Photo1_2",
            "photo1_2_a,b",
        ] {
            assert!(!is_attachment(bad), "{bad}");
        }
    }
}
