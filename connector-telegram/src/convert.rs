//! Wire <-> core: Telegram updates to [`InboundEvent`]s, core ids and content to send requests.
//!
//! Inbound mapping:
//!
//! | update | event |
//! |---|---|
//! | `message`, `channel_post` | `message`, `edited: false` |
//! | `edited_message`, `edited_channel_post` | `message`, `edited: true`, timestamp = `edit_date` |
//! | `my_chat_member` in a private chat, new status `kicked` / `member` | `contact` `blocked` / `unblocked` |
//! | anything else (`callback_query`, `chat_member`, `poll`, unknown types...) | `other` with the update's field name |
//!
//! Message content: `text` -> text; `photo` -> image (the size with the most pixels: the API
//! does not document the order of the sizes, and real payloads are not always ascending);
//! `animation` -> **video** (a GIF or a silent MP4; Telegram also sets `document` on it for old
//! clients, which is ignored so the customer's intent is kept); `video` and `video_note` ->
//! video; `voice` -> voice; `audio` -> audio; `document` -> file; `sticker` -> sticker; `venue` ->
//! location with its title and address; `location` -> location; `contact` -> contact. A poll,
//! dice, game, story, invoice, giveaway, checklist, paid media, rich message or passport data is
//! `unsupported` with Telegram's field name. Service messages (`new_chat_title`,
//! `pinned_message`, `migrate_to_chat_id`...) are `other` events with the field name. A message
//! whose only payload is a field this version does not know is `unsupported` with that field's
//! name: a customer's message is never silently dropped.

use chrono::{DateTime, Utc};
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, Error, InboundEvent, MediaRef, MessageEvent,
    MessageId, OtherEvent, Platform, Result, Sender, UserId,
};

use crate::wire::{ChatMemberUpdated, FileObject, Message, PhotoSize, Update};

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
    "migrate_to_chat_id",
    "migrate_from_chat_id",
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

/// Converts a Unix timestamp in seconds.
pub(crate) fn timestamp(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| {
        Error::decode(format!("timestamp {secs} is out of range")).with_platform(Platform::Telegram)
    })
}

/// Converts one update into the events it means (zero or one today).
///
/// ```
/// let update: connector_telegram::wire::Update = serde_json::from_str(
///     r#"{"update_id":1,"callback_query":{"id":"4","from":{"id":1,"first_name":"A"}}}"#,
/// ).unwrap();
/// let events = connector_telegram::convert::update_to_events(update).unwrap();
/// assert_eq!(serde_json::to_value(&events[0]).unwrap()["kind"], "callback_query");
/// ```
pub fn update_to_events(update: Update) -> Result<Vec<InboundEvent>> {
    let Update {
        message,
        edited_message,
        channel_post,
        edited_channel_post,
        my_chat_member,
        other_fields,
        ..
    } = update;
    let event = if let Some(m) = message.or(channel_post) {
        message_event(m, false)?
    } else if let Some(m) = edited_message.or(edited_channel_post) {
        message_event(m, true)?
    } else if let Some(change) = my_chat_member {
        member_event(change)?
    } else {
        let kind = other_fields
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned());
        other(kind)
    };
    Ok(vec![event])
}

fn other(kind: impl Into<String>) -> InboundEvent {
    InboundEvent::Other(OtherEvent {
        platform: Platform::Telegram,
        kind: kind.into(),
    })
}

fn member_event(change: ChatMemberUpdated) -> Result<InboundEvent> {
    let status = change
        .new_chat_member
        .as_ref()
        .map(|m| m.status.as_str())
        .unwrap_or("");
    let change_kind = match (change.chat.kind.as_str(), status) {
        ("private", "kicked") => ContactChange::Blocked,
        ("private", "member") => ContactChange::Unblocked,
        _ => return Ok(other("my_chat_member")),
    };
    // In a private chat the chat id is the user's id; `from` is the user who acted.
    let user = change
        .from_user
        .as_ref()
        .map(|u| u.id)
        .unwrap_or(change.chat.id);
    Ok(InboundEvent::Contact(ContactEvent {
        platform: Platform::Telegram,
        chat_id: ChatId::from(change.chat.id),
        user_id: UserId::from(user),
        change: change_kind,
        timestamp: timestamp(change.date)?,
    }))
}

fn message_event(m: Message, edited: bool) -> Result<InboundEvent> {
    let content = match message_content(&m) {
        Some(content) => content,
        None => return Ok(other(service_kind(&m))),
    };
    let sender = match (&m.from_user, &m.sender_chat) {
        (Some(user), _) => Some(Sender {
            id: UserId::from(user.id),
            name: Some(user.full_name()),
        }),
        (None, Some(chat)) => Some(Sender {
            id: UserId::from(chat.id),
            name: chat.title.clone(),
        }),
        (None, None) => None,
    };
    let when = if edited {
        m.edit_date.unwrap_or(m.date)
    } else {
        m.date
    };
    Ok(InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: ChatId::from(m.chat.id),
        message_id: MessageId::from(m.message_id),
        sender,
        timestamp: timestamp(when)?,
        reply_to: m.reply_to_message.map(|r| MessageId::from(r.message_id)),
        edited,
        content,
    }))
}

fn media(file: &FileObject) -> MediaRef {
    MediaRef {
        id: file.file_id.as_str().into(),
        mime_type: file.mime_type.clone(),
        file_name: file.file_name.clone(),
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

/// The content of a message; `None` for a service message.
fn message_content(m: &Message) -> Option<Content> {
    let caption = m.caption.clone();
    if let Some(text) = &m.text {
        return Some(Content::Text { text: text.clone() });
    }
    if let Some(photo) = m.photo.as_deref().and_then(largest_photo) {
        return Some(Content::Image {
            media: MediaRef {
                id: photo.file_id.as_str().into(),
                // PhotoSize carries no MIME type; none is invented.
                mime_type: None,
                file_name: None,
                size: photo.file_size,
            },
            caption,
        });
    }
    if let Some(file) = m.animation.as_ref().or(m.video.as_ref()) {
        return Some(Content::Video {
            media: media(file),
            caption,
        });
    }
    if let Some(file) = &m.video_note {
        let mut media = media(file);
        // Video notes are always MPEG4 but the object carries no mime_type.
        media
            .mime_type
            .get_or_insert_with(|| "video/mp4".to_owned());
        return Some(Content::Video { media, caption });
    }
    if let Some(file) = &m.voice {
        return Some(Content::Voice {
            media: media(file),
            caption,
        });
    }
    if let Some(file) = &m.audio {
        return Some(Content::Audio {
            media: media(file),
            caption,
        });
    }
    if let Some(file) = &m.document {
        return Some(Content::File {
            media: media(file),
            caption,
        });
    }
    if let Some(sticker) = &m.sticker {
        return Some(Content::Sticker {
            media: media(sticker),
            emoji: sticker.emoji.clone(),
        });
    }
    if let Some(venue) = &m.venue {
        return Some(Content::Location {
            latitude: venue.location.latitude,
            longitude: venue.location.longitude,
            name: venue.title.clone(),
            address: venue.address.clone(),
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
    if let Some(contact) = &m.contact {
        let name = match (&contact.first_name, &contact.last_name) {
            (Some(first), Some(last)) if !last.is_empty() => Some(format!("{first} {last}")),
            (Some(first), _) => Some(first.clone()),
            (None, last) => last.clone(),
        };
        return Some(Content::Contact {
            name,
            phone: contact.phone_number.clone(),
            user_id: contact.user_id.map(UserId::from),
        });
    }
    if let Some(kind) = UNSUPPORTED_CONTENT
        .iter()
        .find(|k| m.other_fields.contains_key(**k))
    {
        return Some(Content::Unsupported {
            platform_kind: (*kind).to_owned(),
        });
    }
    if m.other_fields
        .keys()
        .any(|k| SERVICE_FIELDS.contains(&k.as_str()))
    {
        return None;
    }
    // A payload this version does not know: keep the message, name the field.
    let unknown = m
        .other_fields
        .keys()
        .find(|k| !METADATA_FIELDS.contains(&k.as_str()))
        .cloned()
        .unwrap_or_else(|| "empty".to_owned());
    Some(Content::Unsupported {
        platform_kind: unknown,
    })
}

/// The field name of a service message.
fn service_kind(m: &Message) -> String {
    m.other_fields
        .keys()
        .find(|k| SERVICE_FIELDS.contains(&k.as_str()))
        .cloned()
        .unwrap_or_else(|| "service_message".to_owned())
}

/// A chat id as the Bot API takes it: an integer, or a public `@username`.
pub(crate) fn chat_id_json(chat: &ChatId) -> Result<serde_json::Value> {
    if let Some(n) = chat.as_i64() {
        return Ok(serde_json::Value::from(n));
    }
    let s = chat.as_str();
    if s.len() > 1 && s.starts_with('@') {
        return Ok(serde_json::Value::from(s));
    }
    Err(
        Error::invalid_input("a Telegram chat id is an integer or a public @username")
            .with_platform(Platform::Telegram),
    )
}

/// A message id as the Bot API takes it.
pub(crate) fn message_id_i64(id: &MessageId) -> Result<i64> {
    id.as_i64().ok_or_else(|| {
        Error::invalid_input("a Telegram message id is an integer")
            .with_platform(Platform::Telegram)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_core::ContentKind;

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
    fn service_message_is_other() {
        let events = parse(
            r#"{"update_id":1,"message":{"message_id":7,"date":1,"chat":{"id":-5,"type":"group"},
                "new_chat_title":"New"}}"#,
        );
        assert_eq!(
            events,
            vec![InboundEvent::Other(OtherEvent {
                platform: Platform::Telegram,
                kind: "new_chat_title".into()
            })]
        );
    }

    #[test]
    fn chat_ids() {
        assert_eq!(
            chat_id_json(&"-100".into()).unwrap(),
            serde_json::json!(-100)
        );
        assert_eq!(
            chat_id_json(&"@channel".into()).unwrap(),
            serde_json::json!("@channel")
        );
        assert!(chat_id_json(&"abc".into()).is_err());
        assert!(chat_id_json(&"@".into()).is_err());
    }
}
