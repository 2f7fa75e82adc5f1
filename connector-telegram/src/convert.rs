//! Wire <-> core, both ways: Telegram updates to [`InboundEvent`]s, and core ids and planned
//! parts to the typed requests of [`crate::wire`].
//!
//! Inbound mapping:
//!
//! | update | event |
//! |---|---|
//! | `message`, `channel_post` | `message`, `edited: false` |
//! | `edited_message`, `edited_channel_post` | `message`, `edited: true`, timestamp = `edit_date` |
//! | a message with `migrate_to_chat_id` (in the old group) | `contact` `id_changed`: `chat_id` the group, `new_chat_id` the supergroup |
//! | a message with `migrate_from_chat_id` (in the new supergroup) | `contact` `id_changed`: `chat_id` the old group, `new_chat_id` this supergroup |
//! | another service message (`new_chat_title`, `pinned_message`...) | `other` with the field name, in the message's chat |
//! | `my_chat_member` in a private chat, new status `kicked` / `member` | `contact` `blocked` / `unblocked` |
//! | `my_chat_member` otherwise | `other`, in its chat |
//! | anything else (`callback_query`, `chat_member`, `chat_join_request`, `message_reaction`, `poll`, unknown types...) | `other` with the update's field name, in the chat it names ([`OtherPayload`]), if any |
//!
//! A group that becomes a supergroup changes its id; Telegram posts both service messages,
//! one in each chat, and both name the same pair, so a CRM that relinks the conversation on
//! either (or both: relinking is idempotent) keeps one history. The `user_id` of such an event
//! is the member who upgraded the group (the group itself where Telegram names nobody).
//!
//! Message content: `text` -> text; `photo` -> image (the size with the most pixels: the API
//! does not document the order of the sizes, and real payloads are not always ascending);
//! `animation` -> **video** (a GIF or a silent MP4; Telegram also sets `document` on it for old
//! clients, which is ignored so the customer's intent is kept); `video` and `video_note` ->
//! video; `voice` -> voice; `audio` -> audio; `document` -> file; `sticker` -> sticker; `venue` ->
//! location with its title and address; `location` -> location; `contact` -> contact. A poll,
//! dice, game, story, invoice, giveaway, checklist, paid media, rich message or passport data is
//! `unsupported` with Telegram's field name. Service messages are `other` events with the field
//! name. A message whose only payload is a field this version does not know is `unsupported`
//! with that field's name: a customer's message is never silently dropped.
//!
//! Outbound: [`chat_target`] and [`message_id`] check the core ids before any request;
//! [`send_message`] and [`send_media`] build the typed requests of a planned part.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, ContentKind, Error, InboundEvent, MediaId,
    MediaRef, MediaSource, MessageEvent, MessageId, OtherEvent, Platform, Result, Sender, UserId,
};

use crate::wire::inbound::{
    ChatMemberUpdated, FileObject, MediaField, Message, Payload, Str, Update,
};
use crate::wire::{
    ChatTarget, InputFile, MediaKind, OtherPayload, PhotoSize, ReplyParameters, SendMedia,
    SendMessage,
};

const TG: Platform = Platform::Telegram;

/// Message payload fields the core does not model; the message becomes `unsupported`.
/// (Bot API 10.1, `Message`.)
pub const UNSUPPORTED_CONTENT: &[&str] = &[
    "rich_message",
    "live_photo",
    "paid_media",
    "story",
    "checklist",
    "dice",
    "game",
    "poll",
    "invoice",
    "giveaway",
    "giveaway_winners",
    "passport_data",
];

/// Service-message fields (Bot API 10.1 `Message`, plus names of earlier versions); such a
/// message becomes an `other` event.
pub const SERVICE_FIELDS: &[&str] = &[
    "new_chat_members",
    "left_chat_member",
    "chat_owner_left",
    "chat_owner_changed",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "user_shared",
    "chat_shared",
    "gift",
    "unique_gift",
    "gift_upgrade_sent",
    "connected_website",
    "write_access_allowed",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "direct_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "managed_bot_created",
    "paid_message_price_changed",
    "poll_option_added",
    "poll_option_deleted",
    "suggested_post_approved",
    "suggested_post_approval_failed",
    "suggested_post_declined",
    "suggested_post_paid",
    "suggested_post_refunded",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "voice_chat_scheduled",
    "voice_chat_started",
    "voice_chat_ended",
    "voice_chat_participants_invited",
    "web_app_data",
];

/// Message fields that describe a message rather than carry its payload.
const METADATA_FIELDS: &[&str] = &[
    "message_thread_id",
    "direct_messages_topic",
    "sender_boost_count",
    "sender_business_bot",
    "sender_tag",
    "guest_query_id",
    "business_connection_id",
    "forward_origin",
    "forward_from",
    "forward_from_chat",
    "forward_from_message_id",
    "forward_signature",
    "forward_sender_name",
    "forward_date",
    "is_topic_message",
    "is_automatic_forward",
    "external_reply",
    "quote",
    "reply_to_story",
    "reply_to_checklist_task_id",
    "reply_to_poll_option_id",
    "via_bot",
    "guest_bot_caller_user",
    "guest_bot_caller_chat",
    "has_protected_content",
    "is_from_offline",
    "is_paid_post",
    "media_group_id",
    "author_signature",
    "paid_star_count",
    "entities",
    "link_preview_options",
    "suggested_post_info",
    "effect_id",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "reply_markup",
];

/// What the name of a message field that is not decoded says (see [`wire::inbound::OtherFields`](crate::wire::inbound::OtherFields)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldClass {
    /// One of [`UNSUPPORTED_CONTENT`], with its position in the list.
    Unsupported(usize, &'static str),
    /// One of [`SERVICE_FIELDS`].
    Service(&'static str),
    /// Describes the message rather than carries its payload.
    Metadata,
    /// None of the above: a payload this version does not know.
    Unknown,
}

/// The class of every name of the three lists (a content kind the core does not model wins
/// over a service field, which wins over metadata).
static FIELD_CLASSES: LazyLock<HashMap<&'static [u8], FieldClass>> = LazyLock::new(|| {
    let mut classes = HashMap::new();
    for name in METADATA_FIELDS {
        classes.insert(name.as_bytes(), FieldClass::Metadata);
    }
    for name in SERVICE_FIELDS {
        classes.insert(name.as_bytes(), FieldClass::Service(name));
    }
    for (rank, name) in UNSUPPORTED_CONTENT.iter().enumerate() {
        classes.insert(name.as_bytes(), FieldClass::Unsupported(rank, name));
    }
    classes
});

/// The class of a message field's name (its bytes: the names of the lists are ASCII).
pub(crate) fn classify_field(name: &[u8]) -> FieldClass {
    FIELD_CLASSES
        .get(name)
        .copied()
        .unwrap_or(FieldClass::Unknown)
}

/// Converts a Unix timestamp in seconds.
pub(crate) fn timestamp(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| Error::decode(format!("timestamp {secs} is out of range")).with_platform(TG))
}

/// Converts one update into the events it means (one today).
///
/// ```
/// let update: connector_telegram::wire::inbound::Update = serde_json::from_str(
///     r#"{"update_id":1,"callback_query":{"id":"4","from":{"id":1,"first_name":"A"},
///         "message":{"message_id":9,"date":0,"chat":{"id":-100123,"type":"supergroup"}}}}"#,
/// ).unwrap();
/// let events = connector_telegram::convert::update_to_events(update).unwrap();
/// assert_eq!(
///     serde_json::to_value(&events[0]).unwrap(),
///     serde_json::json!({"type": "other", "platform": "telegram", "kind": "callback_query",
///                        "chat_id": "-100123"})
/// );
/// ```
pub fn update_to_events(update: Update<'_>) -> Result<Vec<InboundEvent>> {
    let event = match (update.payload, update.other) {
        (Some(Payload::Message(mut m) | Payload::ChannelPost(mut m)), _) => {
            message_event(&mut m, false)?
        }
        (Some(Payload::EditedMessage(mut m) | Payload::EditedChannelPost(mut m)), _) => {
            message_event(&mut m, true)?
        }
        (Some(Payload::MyChatMember(change)), _) => member_event(*change)?,
        (None, Some((kind, payload))) => other_event(kind.into_owned(), payload),
        (None, None) => InboundEvent::Other(OtherEvent::new(TG, "unknown")),
    };
    Ok(vec![event])
}

fn other_event(kind: String, payload: OtherPayload) -> InboundEvent {
    let event = OtherEvent::new(TG, kind);
    InboundEvent::Other(match payload.chat_id {
        Some(chat) => event.in_chat(chat),
        None => event,
    })
}

fn member_event(change: ChatMemberUpdated<'_>) -> Result<InboundEvent> {
    let status = change
        .new_chat_member
        .as_ref()
        .map(|m| m.status.as_str())
        .unwrap_or("");
    let change_kind = match (change.chat.kind.as_str(), status) {
        ("private", "kicked") => ContactChange::Blocked,
        ("private", "member") => ContactChange::Unblocked,
        _ => {
            return Ok(InboundEvent::Other(
                OtherEvent::new(TG, "my_chat_member").in_chat(change.chat.id),
            ));
        }
    };
    // In a private chat the chat id is the user's id; `from` is the user who acted.
    let user = change
        .from_user
        .as_ref()
        .map(|u| u.id)
        .unwrap_or(change.chat.id);
    Ok(InboundEvent::Contact(ContactEvent::new(
        TG,
        change.chat.id,
        user,
        change_kind,
        timestamp(change.date)?,
    )))
}

/// A group upgraded to a supergroup: `id_changed` from the old id to the new one, whichever of
/// the two service messages this is.
fn migration_event(m: &Message<'_>) -> Result<Option<InboundEvent>> {
    let (old, new) = match (m.migrate_to_chat_id, m.migrate_from_chat_id) {
        (Some(to), _) => (m.chat.id, to),
        (None, Some(from)) => (from, m.chat.id),
        (None, None) => return Ok(None),
    };
    let user = m
        .from_user
        .as_ref()
        .map(|u| u.id)
        .or(m.sender_chat.as_ref().map(|c| c.id))
        .unwrap_or(old);
    let mut event = ContactEvent::new(TG, old, user, ContactChange::IdChanged, timestamp(m.date)?);
    event.new_chat_id = Some(ChatId::from(new));
    Ok(Some(InboundEvent::Contact(event)))
}

fn message_event(m: &mut Message<'_>, edited: bool) -> Result<InboundEvent> {
    if let Some(event) = migration_event(m)? {
        return Ok(event);
    }
    let content = match message_content(m) {
        Some(content) => content,
        None => {
            return Ok(InboundEvent::Other(
                OtherEvent::new(TG, service_kind(m)).in_chat(m.chat.id),
            ));
        }
    };
    let sender = match (&m.from_user, m.sender_chat.take()) {
        (Some(user), _) => Some(Sender {
            id: UserId::from(user.id),
            name: Some(user.full_name()),
        }),
        (None, Some(chat)) => Some(Sender {
            id: UserId::from(chat.id),
            name: chat.title.map(Str::into_owned),
        }),
        (None, None) => None,
    };
    let when = if edited {
        m.edit_date.unwrap_or(m.date)
    } else {
        m.date
    };
    Ok(InboundEvent::Message(MessageEvent {
        platform: TG,
        chat_id: ChatId::from(m.chat.id),
        message_id: MessageId::from(m.message_id),
        sender,
        timestamp: timestamp(when)?,
        reply_to: m.reply_to_message.map(|r| MessageId::from(r.message_id)),
        edited,
        content,
    }))
}

fn media(file: FileObject<'_>) -> MediaRef {
    MediaRef {
        id: MediaId::new(file.file_id.into_owned()),
        mime_type: file.mime_type.map(Str::into_owned),
        file_name: file.file_name.map(Str::into_owned),
        size: file.file_size,
    }
}

/// The largest size of a photo: the one with the most pixels (the later one on a tie).
///
/// The API does not document the order of `photo` (common practice takes the last element;
/// UNCONFIRMED), so the size is chosen by `width * height`.
pub fn largest_photo(sizes: &[PhotoSize]) -> Option<&PhotoSize> {
    sizes
        .iter()
        .max_by_key(|p| (u64::from(p.width) * u64::from(p.height), p.file_size))
}

/// The content of a message (its payload is taken out of it); `None` for a service message.
fn message_content(m: &mut Message<'_>) -> Option<Content> {
    let caption = m.caption.take();
    if let Some(text) = m.text.take() {
        return Some(Content::Text {
            text: text.into_owned(),
        });
    }
    if let Some(photo) = m.photo.take() {
        return Some(Content::Image {
            media: MediaRef {
                id: MediaId::new(photo.file_id.into_owned()),
                // PhotoSize carries no MIME type; none is invented.
                mime_type: None,
                file_name: None,
                size: photo.file_size,
            },
            caption: owned(caption),
        });
    }
    if let Some((field, mut file)) = m.media.take() {
        let caption = owned(caption);
        return Some(match field {
            MediaField::Animation | MediaField::Video => Content::Video {
                media: media(file),
                caption,
            },
            MediaField::VideoNote => {
                let mut media = media(file);
                // Video notes are always MPEG4 but the object carries no mime_type.
                media
                    .mime_type
                    .get_or_insert_with(|| "video/mp4".to_owned());
                Content::Video { media, caption }
            }
            MediaField::Voice => Content::Voice {
                media: media(file),
                caption,
            },
            MediaField::Audio => Content::Audio {
                media: media(file),
                caption,
            },
            MediaField::Document => Content::File {
                media: media(file),
                caption,
            },
            MediaField::Sticker => {
                let emoji = owned(file.emoji.take());
                Content::Sticker {
                    media: media(file),
                    emoji,
                }
            }
        });
    }
    if let Some(venue) = m.venue.take() {
        return Some(Content::Location {
            latitude: venue.location.latitude,
            longitude: venue.location.longitude,
            name: venue.title.map(Str::into_owned),
            address: venue.address.map(Str::into_owned),
        });
    }
    if let Some(location) = &m.location {
        return Some(Content::Location {
            latitude: location.latitude,
            longitude: location.longitude,
            name: None,
            address: None,
        });
    }
    if let Some(contact) = m.contact.take() {
        let contact = *contact;
        let name = match (contact.first_name, contact.last_name) {
            (Some(first), Some(last)) if !last.is_empty() => {
                Some(format!("{} {}", &*first, &*last))
            }
            (Some(first), _) => Some(first.into_owned()),
            (None, last) => last.map(Str::into_owned),
        };
        return Some(Content::Contact {
            name,
            phone: contact.phone_number.map(Str::into_owned),
            user_id: contact.user_id.map(UserId::from),
        });
    }
    if let Some(kind) = m.other_fields.unsupported {
        return Some(Content::Unsupported {
            platform_kind: kind.to_owned(),
        });
    }
    if m.other_fields.service.is_some() {
        return None;
    }
    // A payload this version does not know: keep the message, name the field.
    let unknown = match m.other_fields.unknown.take() {
        Some(name) => name.into_owned(),
        None => "empty".to_owned(),
    };
    Some(Content::Unsupported {
        platform_kind: unknown,
    })
}

fn owned(s: Option<Str<'_>>) -> Option<String> {
    s.map(Str::into_owned)
}

/// The field name of a service message.
fn service_kind(m: &Message<'_>) -> &'static str {
    m.other_fields.service.unwrap_or("service_message")
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// A chat id as the Bot API takes it: an integer, or a public `@username`.
///
/// ```
/// use connector_telegram::convert::chat_target;
/// use connector_telegram::wire::ChatTarget;
/// assert_eq!(chat_target(&"-100123".into()).unwrap(), ChatTarget::Id(-100123));
/// assert_eq!(chat_target(&"@news".into()).unwrap(), ChatTarget::Username("@news".into()));
/// assert!(chat_target(&"news".into()).is_err());
/// ```
pub fn chat_target(chat: &ChatId) -> Result<ChatTarget> {
    if let Some(n) = chat.as_i64() {
        return Ok(ChatTarget::Id(n));
    }
    let s = chat.as_str();
    if s.len() > 1 && s.starts_with('@') {
        return Ok(ChatTarget::Username(s.to_owned()));
    }
    Err(
        Error::invalid_input("a Telegram chat id is an integer or a public @username")
            .with_platform(TG),
    )
}

/// A message id as the Bot API takes it: an integer.
pub fn message_id(id: &MessageId) -> Result<i64> {
    id.as_i64().ok_or_else(|| {
        Error::invalid_input("a Telegram message id is an integer").with_platform(TG)
    })
}

/// `reply_parameters` for a reply to `reply_to`, if any.
pub fn reply_parameters(reply_to: Option<&MessageId>) -> Result<Option<ReplyParameters>> {
    reply_to
        .map(message_id)
        .transpose()
        .map(|id| id.map(|message_id| ReplyParameters { message_id }))
}

/// `sendMessage` of a planned text part.
pub fn send_message<'a>(
    chat: &ChatId,
    text: &'a str,
    reply_to: Option<&MessageId>,
) -> Result<SendMessage<'a>> {
    Ok(SendMessage {
        chat_id: chat_target(chat)?,
        text,
        reply_parameters: reply_parameters(reply_to)?,
    })
}

/// The media send of a planned part: a `file_id` or a URL goes by reference, bytes and streams
/// are uploaded.
///
/// ```
/// use connector_telegram::convert::send_media;
/// use connector_telegram::wire::InputFile;
/// use messenger_core::{ContentKind, MediaSource};
/// let source = MediaSource::id("AgACAgIAAxkBAAIB");
/// let request = send_media(&"5".into(), ContentKind::Image, &source, Some("receipt"), None).unwrap();
/// assert_eq!(request.kind.method(), "sendPhoto");
/// assert!(matches!(request.file, InputFile::Reference("AgACAgIAAxkBAAIB")));
/// ```
pub fn send_media<'a>(
    chat: &ChatId,
    kind: ContentKind,
    source: &'a MediaSource,
    caption: Option<&'a str>,
    reply_to: Option<&MessageId>,
) -> Result<SendMedia<'a>> {
    let media_kind = MediaKind::of(kind).ok_or_else(|| {
        Error::unsupported(format!("cannot send {kind} on Telegram")).with_platform(TG)
    })?;
    let file = match source {
        MediaSource::Url(url) => InputFile::Reference(url.as_str()),
        MediaSource::Id(id) => InputFile::Reference(id.as_str()),
        upload => InputFile::Upload(upload),
    };
    Ok(SendMedia {
        kind: media_kind,
        chat_id: chat_target(chat)?,
        file,
        caption,
        reply_parameters: reply_parameters(reply_to)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<InboundEvent> {
        update_to_events(serde_json::from_str(json).unwrap()).unwrap()
    }

    fn message(json_fields: &str) -> MessageEvent {
        let json = format!(
            r#"{{"update_id":1,"message":{{"message_id":7,"date":1767225600,
                "chat":{{"id":5,"type":"private"}},{json_fields}}}}}"#
        );
        match parse(&json).remove(0) {
            InboundEvent::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn largest_photo_is_by_pixels_not_position() {
        let m = message(
            r#""photo":[{"file_id":"s","width":240,"height":320},
                        {"file_id":"l","width":720,"height":960},
                        {"file_id":"m","width":600,"height":800}]"#,
        );
        assert_eq!(m.content.media().unwrap().id.as_str(), "l");
    }

    #[test]
    fn animation_is_video_not_file() {
        let m = message(
            r#""animation":{"file_id":"a","mime_type":"video/mp4"},
               "document":{"file_id":"a","mime_type":"video/mp4"}"#,
        );
        assert_eq!(m.content.kind(), ContentKind::Video);
    }

    #[test]
    fn venue_is_a_named_location() {
        let m = message(
            r#""location":{"latitude":1.5,"longitude":2.5},
               "venue":{"location":{"latitude":1.5,"longitude":2.5},"title":"Cafe","address":"Main st"}"#,
        );
        assert!(matches!(
            m.content,
            Content::Location { name: Some(ref n), .. } if n == "Cafe"
        ));
    }

    #[test]
    fn unknown_payload_is_unsupported_and_metadata_is_ignored() {
        let m = message(r#""media_group_id":"1","hologram":{"x":1}"#);
        assert_eq!(
            m.content,
            Content::Unsupported {
                platform_kind: "hologram".into()
            }
        );
        let m = message(r#""dice":{"emoji":"🎲","value":3}"#);
        assert_eq!(
            m.content,
            Content::Unsupported {
                platform_kind: "dice".into()
            }
        );
    }

    #[test]
    fn service_message_is_other_in_its_chat() {
        let events = parse(
            r#"{"update_id":1,"message":{"message_id":7,"date":1,"chat":{"id":-5,"type":"group"},
                "new_chat_title":"New"}}"#,
        );
        assert_eq!(
            events,
            vec![InboundEvent::Other(
                OtherEvent::new(Platform::Telegram, "new_chat_title").in_chat(-5_i64)
            )]
        );
    }

    #[test]
    fn both_migration_messages_name_the_same_pair() {
        let to = parse(
            r#"{"update_id":1,"message":{"message_id":7,"date":1767225600,
                "from":{"id":42,"first_name":"A"},
                "chat":{"id":-4001,"type":"group"},"migrate_to_chat_id":-1004001}}"#,
        );
        let from = parse(
            r#"{"update_id":2,"message":{"message_id":1,"date":1767225600,
                "from":{"id":42,"first_name":"A"},
                "chat":{"id":-1004001,"type":"supergroup"},"migrate_from_chat_id":-4001}}"#,
        );
        for events in [to, from] {
            let [InboundEvent::Contact(c)] = events.as_slice() else {
                panic!("{events:?}")
            };
            assert_eq!(c.change, ContactChange::IdChanged);
            assert_eq!(c.chat_id.as_str(), "-4001");
            assert_eq!(c.new_chat_id.as_ref().unwrap().as_str(), "-1004001");
            assert_eq!(c.user_id.as_str(), "42");
        }
        // Nobody named: the group itself.
        let events = parse(
            r#"{"update_id":3,"message":{"message_id":7,"date":1,
                "chat":{"id":-4001,"type":"group"},"migrate_to_chat_id":-1004001}}"#,
        );
        let [InboundEvent::Contact(c)] = events.as_slice() else {
            panic!()
        };
        assert_eq!(c.user_id.as_str(), "-4001");
    }

    #[test]
    fn chat_targets() {
        assert_eq!(chat_target(&"-100".into()).unwrap(), ChatTarget::Id(-100));
        assert_eq!(
            chat_target(&"@channel".into()).unwrap(),
            ChatTarget::Username("@channel".into())
        );
        assert!(chat_target(&"abc".into()).is_err());
        assert!(chat_target(&"@".into()).is_err());
    }

    #[test]
    fn media_by_reference_and_by_upload() {
        let url = MediaSource::url("https://cdn.example.com/a.pdf".parse().unwrap());
        let request = send_media(
            &"5".into(),
            ContentKind::File,
            &url,
            None,
            Some(&"9".into()),
        )
        .unwrap();
        assert!(matches!(
            request.file,
            InputFile::Reference("https://cdn.example.com/a.pdf")
        ));
        assert_eq!(
            request.reply_parameters,
            Some(ReplyParameters { message_id: 9 })
        );
        let bytes = MediaSource::bytes(&b"x"[..], "audio/ogg", "n.ogg");
        let request = send_media(&"5".into(), ContentKind::Voice, &bytes, None, None).unwrap();
        assert!(matches!(request.file, InputFile::Upload(_)));
        assert_eq!(request.kind, MediaKind::Voice);
        let err = send_media(&"5".into(), ContentKind::Sticker, &bytes, None, None).unwrap_err();
        assert_eq!(err.kind(), messenger_core::ErrorKind::Unsupported);
    }
}
