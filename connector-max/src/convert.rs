//! Wire <-> core, both ways.
//!
//! # Chat ids
//!
//! A MAX message goes to a chat (`POST /messages?chat_id=`) or to a user (`?user_id=`). A
//! dialog has a chat id of its own (positive, like a user id: the two cannot be told apart by
//! the number), group chats and channels have negative ones. Every inbound event names its
//! conversation by the **chat id** (`recipient.chat_id` of a message, `chat_id` of the other
//! updates), and a reply to it is sent with `?chat_id=`, as the official TypeScript client's
//! `reply` does. So a [`ChatId`] is:
//!
//! - a decimal chat id (`182182182`, `-70801090403050`): sent with `chat_id=`;
//! - `user:<user_id>` (`user:123456789`): sent with `user_id=`, to write to a user whose dialog
//!   the CRM does not know yet. Events use this form only where MAX gives no chat id (MAX
//!   reports `chat_id: 0` in some callbacks from dialogs: `max.md` §3.2).
//!
//! Opt-outs and first contacts are kept per chat id, so a customer's dialog and
//! `user:<their id>` are two keys: reply to the chat id of their events, and use `user:` only
//! for a first message to someone whose dialog is not known.
//!
//! # Message ids
//!
//! A message id is MAX's `mid` (`mid.000000000adf429c…`). A MAX message can carry text and
//! several attachments, a core message one content: the first content keeps the `mid`, each
//! further one is an event of its own with the id `<mid>#<n>` (`n` from 1). Edits, deletes and
//! replies accept both forms (the suffix is dropped).
//!
//! # Contents
//!
//! | MAX | core |
//! |---|---|
//! | text | `text` (the caption of the first media attachment where there is one) |
//! | `image` | `image`, media id = `payload.url` |
//! | `video` | `video`, media id = `video:<token>` (resolved with `GET /videos/{token}`), else `payload.url` |
//! | `audio` | `audio` (MAX has no voice type; its `transcription` is not carried), media id = `payload.url` |
//! | `file` | `file`, media id = `payload.url`, with `filename`, `size` and a MIME type guessed from the name |
//! | `sticker` | `sticker`, media id = `payload.url` |
//! | `location` | `location` |
//! | `contact` | `contact` (name from `max_info` or the vCard's `FN`, phone from its `TEL`) |
//! | `share` | the link as `text` when the message has no text (the text already holds it otherwise) |
//! | `inline_keyboard` | nothing (buttons are not content) |
//! | anything else | `unsupported` with MAX's `type` |
//! | nothing at all | the forwarded message's content, else `unsupported` `empty` |
//!
//! Timestamps are milliseconds since the epoch, converted to UTC.
//!
//! # Updates
//!
//! | `update_type` | event |
//! |---|---|
//! | `message_created`, `message_edited` | `message` (`edited: true` for the latter) |
//! | `message_created` without `message` (native voice notes, a MAX bug) | `other` `message_unavailable`, with the chat where MAX names it |
//! | `bot_started` | `contact` `unblocked` |
//! | `bot_stopped` | `contact` `blocked` |
//! | every other type, known or not | `other` with the type as kind and the chat |
//!
//! `bot_stopped` is MAX's block: the dialog is suspended and sends fail with `chat.denied`,
//! like a Telegram block; `bot_started` lifts it. The opt-out layer treats `blocked` as an
//! opt-out and `unblocked` as lifting only an opt-out that came from a block, so a customer who
//! wrote `STOP` is not opted back in by restarting the bot or following its deep link.

use chrono::{DateTime, Utc};
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, ContentKind, Error, InboundEvent, MediaId,
    MediaRef, MediaSource, MessageEvent, MessageId, OtherEvent, Platform, Result, Sender, UserId,
};

use crate::wire::inbound::{self, Attachment, Message, MessageBody, Str, Update, UpdateKind};
use crate::wire::{
    AttachmentRequest, NewMessageBody, NewMessageLink, PhotoRequestPayload, TextFormat,
    UploadEndpoint, UploadResult, UploadedInfo,
};

const MAX: Platform = Platform::Max;

/// The prefix of a [`ChatId`] that names a user rather than a chat.
pub const USER_PREFIX: &str = "user:";

/// The prefix of a video's media id: `video:<token>`.
pub const VIDEO_PREFIX: &str = "video:";

/// The kind of the `other` event of a `message_created` without its message (what a native
/// voice note produces today: max-bot-api-client-ts#250).
pub const MESSAGE_UNAVAILABLE: &str = "message_unavailable";

/// The kind of the `other` event of an update that cannot be read.
pub const MALFORMED_UPDATE: &str = "malformed_update";

fn decode_error(message: impl Into<String>) -> Error {
    Error::decode(message).with_platform(MAX)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_platform(MAX)
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

/// Milliseconds since the epoch as UTC; out of range is `Decode`.
///
/// ```
/// let t = connector_max::convert::timestamp(1775053255737).unwrap();
/// assert_eq!(t.to_rfc3339(), "2026-04-01T14:20:55.737+00:00");
/// assert!(connector_max::convert::timestamp(i64::MAX).is_err());
/// ```
pub fn timestamp(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| decode_error(format!("the timestamp {ms} ms is out of range")))
}

/// A chat id of MAX, where it names one (`0` does not).
fn chat(id: Option<i64>) -> Option<ChatId> {
    id.filter(|id| *id != 0).map(ChatId::from)
}

/// The [`ChatId`] that sends to a user by id: `user:<user_id>`.
pub fn user_chat(user_id: i64) -> ChatId {
    ChatId::new(format!("{USER_PREFIX}{user_id}"))
}

/// The conversation of a message: its chat id, or in a dialog without one, its user.
fn message_chat(message: &Message<'_>) -> Option<ChatId> {
    let recipient = message.recipient.as_ref();
    if let Some(chat) = chat(recipient.and_then(|r| r.chat_id)) {
        return Some(chat);
    }
    if recipient
        .and_then(|r| r.chat_type.as_deref())
        .is_some_and(|t| t != "dialog")
    {
        return None;
    }
    // A dialog: the customer is the sender, unless the bot wrote it (then the recipient).
    let user = match &message.sender {
        Some(sender) if sender.is_bot != Some(true) => Some(sender.user_id),
        _ => recipient.and_then(|r| r.user_id),
    };
    user.filter(|id| *id != 0).map(user_chat)
}

fn media_ref(id: impl Into<MediaId>) -> MediaRef {
    MediaRef::new(id)
}

fn nonempty<'s>(s: &'s Option<Str<'_>>) -> Option<&'s str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The contact of a vCard: its `FN` and first `TEL`.
fn vcard(vcf: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut phone = None;
    for line in vcf.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let property = key.split(';').next().unwrap_or("");
        if property == "FN" && name.is_none() {
            name = Some(value.to_owned());
        } else if property == "TEL" && phone.is_none() {
            phone = Some(value.trim_start_matches("tel:").to_owned());
        }
    }
    (name, phone)
}

/// One attachment as core content, `None` for what is not content (buttons, link previews).
fn attachment_content(attachment: &Attachment<'_>) -> Option<Content> {
    let unsupported = |kind: &str| Content::Unsupported {
        platform_kind: kind.to_owned(),
    };
    Some(match attachment {
        Attachment::Image(payload) => match nonempty(&payload.url) {
            Some(url) => Content::Image {
                media: media_ref(url),
                caption: None,
            },
            None => unsupported("image"),
        },
        Attachment::Video(payload, _) => {
            let id = match (nonempty(&payload.token), nonempty(&payload.url)) {
                (Some(token), _) => format!("{VIDEO_PREFIX}{token}"),
                (None, Some(url)) => url.to_owned(),
                (None, None) => return Some(unsupported("video")),
            };
            Content::Video {
                media: media_ref(id),
                caption: None,
            }
        }
        Attachment::Audio(payload) => match nonempty(&payload.url) {
            Some(url) => Content::Audio {
                media: media_ref(url),
                caption: None,
            },
            None => unsupported("audio"),
        },
        Attachment::File(payload, filename, size) => match nonempty(&payload.url) {
            Some(url) => {
                let mut media = media_ref(url);
                media.file_name = nonempty(filename).map(str::to_owned);
                media.size = *size;
                media.mime_type = media
                    .file_name
                    .as_deref()
                    .and_then(|n| mime_guess::from_path(n).first_raw())
                    .map(str::to_owned);
                Content::File {
                    media,
                    caption: None,
                }
            }
            None => unsupported("file"),
        },
        Attachment::Sticker(payload) => match nonempty(&payload.url) {
            Some(url) => Content::Sticker {
                media: media_ref(url),
                emoji: None,
            },
            None => unsupported("sticker"),
        },
        Attachment::Location {
            latitude,
            longitude,
        } => Content::Location {
            latitude: *latitude,
            longitude: *longitude,
            name: None,
            address: None,
        },
        Attachment::Contact(payload) => {
            let (vcf_name, phone) = payload
                .vcf_info
                .as_deref()
                .map(vcard)
                .unwrap_or((None, None));
            let max_user = payload.max_info.as_ref();
            Content::Contact {
                name: max_user.and_then(inbound::User::display_name).or(vcf_name),
                phone,
                user_id: max_user.map(|u| UserId::from(u.user_id)),
            }
        }
        Attachment::Share(_) | Attachment::InlineKeyboard => return None,
        Attachment::Unknown(kind) => unsupported(kind),
    })
}

/// Sets the caption of a media content; `false` for contents without one.
fn set_caption(content: &mut Content, text: &str) -> bool {
    match content {
        Content::Image { caption, .. }
        | Content::File { caption, .. }
        | Content::Voice { caption, .. }
        | Content::Audio { caption, .. }
        | Content::Video { caption, .. } => {
            *caption = Some(text.to_owned());
            true
        }
        _ => false,
    }
}

/// The contents of a message body, in order (see the [module docs](self)).
pub fn body_contents(body: &MessageBody<'_>) -> Vec<Content> {
    let attachments = body.attachments.as_deref().unwrap_or_default();
    let mut contents: Vec<Content> = attachments.iter().filter_map(attachment_content).collect();
    match nonempty(&body.text) {
        Some(text) => {
            let captioned = contents.iter_mut().any(|c| set_caption(c, text));
            if !captioned {
                contents.insert(
                    0,
                    Content::Text {
                        text: text.to_owned(),
                    },
                );
            }
        }
        None => {
            let share = attachments.iter().find_map(|a| match a {
                Attachment::Share(payload) => Some(nonempty(&payload.url)),
                _ => None,
            });
            match share {
                Some(Some(url)) => contents.insert(
                    0,
                    Content::Text {
                        text: url.to_owned(),
                    },
                ),
                Some(None) if contents.is_empty() => contents.push(Content::Unsupported {
                    platform_kind: "share".into(),
                }),
                _ => {}
            }
        }
    }
    contents
}

/// The message events of a message (one per content; see the [module docs](self)).
pub fn message_events(
    message: &Message<'_>,
    edited: bool,
    update_timestamp: Option<i64>,
) -> Result<Vec<InboundEvent>> {
    let body = message
        .body
        .as_ref()
        .ok_or_else(|| decode_error("a message without a body"))?;
    if body.mid.is_empty() {
        return Err(decode_error("a message without a mid"));
    }
    let chat_id =
        message_chat(message).ok_or_else(|| decode_error("a message without a chat or user"))?;
    let ms = message
        .timestamp
        .or(update_timestamp)
        .ok_or_else(|| decode_error("a message without a timestamp"))?;
    let timestamp = timestamp(ms)?;
    let sender = message.sender.as_ref().map(|u| Sender {
        id: UserId::from(u.user_id),
        name: u.display_name(),
    });
    let link = message.link.as_ref();
    let reply_to = link
        .filter(|l| l.link_type.as_str() == "reply")
        .and_then(|l| l.message.as_ref())
        .filter(|m| !m.mid.is_empty())
        .map(|m| MessageId::new(m.mid.as_str()));
    let mut contents = body_contents(body);
    if contents.is_empty()
        && let Some(forwarded) = link
            .filter(|l| l.link_type.as_str() == "forward")
            .and_then(|l| l.message.as_ref())
    {
        contents = body_contents(forwarded);
    }
    if contents.is_empty() {
        contents.push(Content::Unsupported {
            platform_kind: "empty".into(),
        });
    }
    let mut events = Vec::with_capacity(contents.len());
    let last = contents.len() - 1;
    let mut sender = sender;
    let mut reply_to = reply_to;
    let mut chat_id = Some(chat_id);
    for (index, content) in contents.into_iter().enumerate() {
        let message_id = if index == 0 {
            MessageId::new(body.mid.as_str())
        } else {
            MessageId::new(format!("{}#{index}", body.mid.as_str()))
        };
        // The last event takes what the others copy.
        let take = index == last;
        events.push(InboundEvent::Message(MessageEvent {
            platform: MAX,
            chat_id: if take {
                chat_id.take().unwrap_or_else(|| ChatId::new(""))
            } else {
                chat_id.clone().unwrap_or_else(|| ChatId::new(""))
            },
            message_id,
            sender: if take { sender.take() } else { sender.clone() },
            timestamp,
            reply_to: if take {
                reply_to.take()
            } else {
                reply_to.clone()
            },
            edited,
            content,
        }));
    }
    Ok(events)
}

fn other(kind: &str, chat: Option<ChatId>) -> InboundEvent {
    let event = OtherEvent::new(MAX, kind);
    InboundEvent::Other(match chat {
        Some(chat) => event.in_chat(chat),
        None => event,
    })
}

fn contact_event(kind: &str, update: &Update<'_>, change: ContactChange) -> Result<InboundEvent> {
    let chat_id = chat(update.chat_id);
    let user = update
        .user
        .as_ref()
        .map(|u| u.user_id)
        .or(update.user_id)
        .filter(|id| *id != 0);
    match (chat_id, user, update.timestamp) {
        (Some(chat_id), Some(user), Some(ms)) => Ok(InboundEvent::Contact(ContactEvent::new(
            MAX,
            chat_id,
            UserId::from(user),
            change,
            timestamp(ms)?,
        ))),
        (chat_id, _, _) => Err(decode_error(format!(
            "a {kind} update without its {}",
            if chat_id.is_none() {
                "chat"
            } else if user.is_none() {
                "user"
            } else {
                "timestamp"
            }
        ))),
    }
}

/// The events of one update of a known type (see the [module docs](self)); only the fields
/// of that type are read. An update the connector cannot read (a message without a body or
/// chat, a contact change without its user) is an error; [`crate::parse`] makes it an `other`
/// event of kind [`MALFORMED_UPDATE`].
///
/// ```
/// use connector_max::wire::inbound::{Update, UpdateKind};
/// let update: Update<'_> = serde_json::from_str(
///     r#"{"update_type":"dialog_muted","timestamp":1,"chat_id":182182182,"muted_until":2}"#,
/// ).unwrap();
/// let events = connector_max::convert::update_to_events(UpdateKind::DialogMuted, &update).unwrap();
/// assert_eq!(events[0].chat_id().unwrap().as_str(), "182182182");
/// ```
pub fn update_to_events(kind: UpdateKind, update: &Update<'_>) -> Result<Vec<InboundEvent>> {
    use UpdateKind::*;
    Ok(match kind {
        MessageCreated | MessageEdited => {
            let edited = kind == MessageEdited;
            match &update.message {
                Some(message) => message_events(message, edited, update.timestamp)?,
                None if edited => vec![other(kind.name(), chat(update.chat_id))],
                None => vec![other(MESSAGE_UNAVAILABLE, chat(update.chat_id))],
            }
        }
        MessageRemoved => vec![other("message_removed", chat(update.chat_id))],
        MessageCallback => {
            let chat = update.message.as_ref().and_then(message_chat).or_else(|| {
                update
                    .callback
                    .as_ref()
                    .and_then(|c| c.user.as_ref())
                    .map(|user| user_chat(user.user_id))
            });
            vec![other("message_callback", chat)]
        }
        BotStarted => vec![contact_event(
            "bot_started",
            update,
            ContactChange::Unblocked,
        )?],
        BotStopped => vec![contact_event(
            "bot_stopped",
            update,
            ContactChange::Blocked,
        )?],
        MessageChatCreated => {
            let id = update
                .chat
                .as_ref()
                .and_then(|c| c.chat_id)
                .or(update.chat_id);
            vec![other(kind.name(), chat(id))]
        }
        _ => vec![other(kind.name(), chat(update.chat_id))],
    })
}

/// The `other` event of an update of an unknown type, or one that cannot be read, with the
/// chat where the body names one.
pub(crate) fn other_event(kind: &str, chat_id: Option<i64>) -> InboundEvent {
    other(kind, chat(chat_id))
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// Where `POST /messages` sends: `?chat_id=` or `?user_id=` (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A chat (a dialog, a group chat, a channel).
    Chat(i64),
    /// A user, by user id.
    User(i64),
}

impl Target {
    /// The query parameter and its value.
    pub fn query(self) -> (&'static str, String) {
        match self {
            Target::Chat(id) => ("chat_id", id.to_string()),
            Target::User(id) => ("user_id", id.to_string()),
        }
    }
}

/// Reads a [`ChatId`]: a decimal chat id, or `user:<user_id>`.
///
/// ```
/// use connector_max::convert::{target, Target};
/// assert_eq!(target(&"-70801090403050".into()).unwrap(), Target::Chat(-70801090403050));
/// assert_eq!(target(&"user:123456789".into()).unwrap(), Target::User(123456789));
/// assert!(target(&"0".into()).is_err());
/// assert!(target(&"@someone".into()).is_err());
/// ```
pub fn target(chat: &ChatId) -> Result<Target> {
    let raw = chat.as_str();
    let (user, number) = match raw.strip_prefix(USER_PREFIX) {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let id: i64 = number.parse().map_err(|_| {
        invalid("a MAX chat id is a number (the chat_id of inbound events) or user:<user_id>")
    })?;
    match (user, id) {
        (_, 0) => Err(invalid("a MAX chat or user id cannot be 0")),
        (true, id) if id < 0 => Err(invalid("a MAX user id is positive")),
        (true, id) => Ok(Target::User(id)),
        (false, id) => Ok(Target::Chat(id)),
    }
}

/// The `mid` of a [`MessageId`] (a `#<n>` suffix of a further content is dropped).
///
/// ```
/// use connector_max::convert::message_id;
/// assert_eq!(message_id(&"mid.00ff#2".into()).unwrap(), "mid.00ff");
/// assert!(message_id(&"".into()).is_err());
/// ```
pub fn message_id(id: &MessageId) -> Result<String> {
    let mid = id.as_str().split('#').next().unwrap_or("");
    if mid.is_empty() || mid.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("a MAX message id is a non-empty mid"));
    }
    Ok(mid.to_owned())
}

/// The `type` of `POST /uploads` for a content kind (a voice note goes as `audio`: MAX has no
/// voice type).
pub fn upload_type(kind: ContentKind) -> Result<&'static str> {
    match kind {
        ContentKind::Image => Ok("image"),
        ContentKind::Video => Ok("video"),
        ContentKind::Audio | ContentKind::Voice => Ok("audio"),
        ContentKind::File => Ok("file"),
        other => Err(invalid(format!("{other} cannot be uploaded to MAX"))),
    }
}

fn token_attachment(kind: ContentKind, token: String) -> Result<AttachmentRequest> {
    let info = UploadedInfo { token };
    Ok(match kind {
        ContentKind::Image => AttachmentRequest::Image(PhotoRequestPayload {
            token: Some(info.token),
            ..PhotoRequestPayload::default()
        }),
        ContentKind::Video => AttachmentRequest::Video(info),
        ContentKind::Audio | ContentKind::Voice => AttachmentRequest::Audio(info),
        ContentKind::File => AttachmentRequest::File(info),
        other => return Err(invalid(format!("{other} cannot be attached on MAX"))),
    })
}

/// The attachment of media MAX can take without an upload: an image's external URL, or a
/// token (an earlier upload's, an inbound attachment's, or a `video:<token>` media id).
/// `None` for bytes and streams, which are uploaded first.
pub fn reference_attachment(
    kind: ContentKind,
    source: &MediaSource,
) -> Result<Option<AttachmentRequest>> {
    match source {
        MediaSource::Url(url) => match kind {
            ContentKind::Image => Ok(Some(AttachmentRequest::Image(PhotoRequestPayload {
                url: Some(url.to_string()),
                ..PhotoRequestPayload::default()
            }))),
            other => Err(invalid(format!(
                "MAX fetches only images by URL, not {other}; upload the bytes"
            ))),
        },
        MediaSource::Id(id) => {
            let raw = id.as_str();
            if raw.starts_with("http://") || raw.starts_with("https://") {
                // An inbound media id is its download URL.
                return reference_attachment(
                    kind,
                    &MediaSource::Url(
                        url::Url::parse(raw).map_err(|_| invalid("the media URL is malformed"))?,
                    ),
                );
            }
            let token = raw.strip_prefix(VIDEO_PREFIX).unwrap_or(raw);
            if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("a MAX media token is empty or malformed"));
            }
            token_attachment(kind, token.to_owned()).map(Some)
        }
        _ => Ok(None),
    }
}

/// The attachment of an upload: the token of `POST /uploads` (video, audio) or of the upload
/// host's answer (file), or the `photos` object of an image upload.
pub fn uploaded_attachment(
    kind: ContentKind,
    endpoint: &UploadEndpoint,
    result: Option<&UploadResult>,
) -> Result<AttachmentRequest> {
    let from_host = result
        .and_then(|r| r.token.clone())
        .filter(|t| !t.is_empty());
    let from_endpoint = endpoint.token.clone().filter(|t| !t.is_empty());
    let missing =
        || Error::decode(format!("the {kind} upload returned no token")).with_platform(MAX);
    match kind {
        ContentKind::Image => {
            if let Some(photos) = result
                .and_then(|r| r.photos.clone())
                .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
            {
                return Ok(AttachmentRequest::Image(PhotoRequestPayload {
                    photos: Some(photos),
                    ..PhotoRequestPayload::default()
                }));
            }
            token_attachment(kind, from_host.or(from_endpoint).ok_or_else(missing)?)
        }
        // The token of video and audio comes with the upload URL; the host answers XML.
        ContentKind::Video | ContentKind::Audio | ContentKind::Voice => {
            token_attachment(kind, from_endpoint.or(from_host).ok_or_else(missing)?)
        }
        _ => token_attachment(kind, from_host.or(from_endpoint).ok_or_else(missing)?),
    }
}

/// The body of `POST /messages`: the text (or caption), the attachment, a reply link, and the
/// configured `format` and `notify` (absent unless configured).
pub fn message_body(
    text: Option<&str>,
    attachment: Option<AttachmentRequest>,
    reply_to: Option<&MessageId>,
    format: Option<TextFormat>,
    notify: Option<bool>,
) -> Result<NewMessageBody> {
    let link = reply_to
        .map(message_id)
        .transpose()?
        .map(NewMessageLink::reply);
    let text = text.filter(|t| !t.is_empty()).map(str::to_owned);
    if text.is_none() && attachment.is_none() {
        return Err(invalid("a MAX message needs a text or an attachment"));
    }
    Ok(NewMessageBody {
        format: text.as_ref().and(format),
        text,
        attachments: attachment.map(|a| vec![a]),
        link,
        notify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Decodes `value` from its text, as intake decodes a body (the text is kept for the
    /// test's life: the decoded types borrow from it).
    fn from_json<T: serde::Deserialize<'static>>(
        value: serde_json::Value,
    ) -> serde_json::Result<T> {
        serde_json::from_str(Box::leak(value.to_string().into_boxed_str()))
    }

    fn message(value: serde_json::Value) -> Message<'static> {
        from_json(value).unwrap()
    }

    #[test]
    fn a_dialog_message_is_in_its_chat_with_its_sender() {
        let m = message(json!({
            "sender": {"user_id": 123456789, "first_name": "John", "last_name": "Doe", "is_bot": false},
            "recipient": {"chat_id": 182182182, "chat_type": "dialog", "user_id": 229229229},
            "timestamp": 1775025603399_i64,
            "body": {"mid": "mid.1", "seq": 1, "text": "hi bot"}
        }));
        let events = message_events(&m, false, None).unwrap();
        let InboundEvent::Message(e) = &events[0] else {
            panic!()
        };
        assert_eq!(e.chat_id.as_str(), "182182182");
        assert_eq!(e.sender.as_ref().unwrap().id.as_str(), "123456789");
        assert_eq!(e.sender.as_ref().unwrap().name.as_deref(), Some("John Doe"));
        assert_eq!(e.timestamp.timestamp_millis(), 1775025603399);
        assert_eq!(
            e.content,
            Content::Text {
                text: "hi bot".into()
            }
        );
    }

    #[test]
    fn a_dialog_without_chat_id_falls_back_to_the_user() {
        let m = message(json!({
            "sender": {"user_id": 42, "is_bot": false},
            "recipient": {"chat_id": 0, "chat_type": "dialog", "user_id": 7},
            "timestamp": 1, "body": {"mid": "mid.1", "text": "x"}
        }));
        assert_eq!(message_chat(&m).unwrap().as_str(), "user:42");
        let from_bot = message(json!({
            "sender": {"user_id": 7, "is_bot": true},
            "recipient": {"chat_type": "dialog", "user_id": 42},
            "timestamp": 1, "body": {"mid": "mid.1"}
        }));
        assert_eq!(message_chat(&from_bot).unwrap().as_str(), "user:42");
        let group = message(
            json!({"recipient": {"chat_type": "chat"}, "timestamp": 1, "body": {"mid": "m"}}),
        );
        assert!(message_chat(&group).is_none());
    }

    #[test]
    fn text_becomes_the_caption_and_extra_attachments_get_their_own_ids() {
        let m = message(json!({
            "sender": {"user_id": 1}, "recipient": {"chat_id": -5, "chat_type": "chat"},
            "timestamp": 1000,
            "body": {"mid": "mid.A", "text": "чек", "attachments": [
                {"type": "image", "payload": {"photo_id": 1, "token": "t1", "url": "https://i.example/1"}},
                {"type": "inline_keyboard", "payload": {"buttons": []}},
                {"type": "file", "payload": {"url": "https://f.example/2", "token": "t2"}, "filename": "act.pdf", "size": 10},
                {"type": "location", "latitude": 55.75, "longitude": 37.61},
                {"type": "poll"}
            ]}
        }));
        let events = message_events(&m, true, None).unwrap();
        let ids: Vec<&str> = events
            .iter()
            .map(|e| match e {
                InboundEvent::Message(m) => m.message_id.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(ids, ["mid.A", "mid.A#1", "mid.A#2", "mid.A#3"]);
        let contents: Vec<Content> = events
            .into_iter()
            .map(|e| match e {
                InboundEvent::Message(m) => {
                    assert!(m.edited);
                    m.content
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(contents[0].text(), Some("чек"));
        assert_eq!(
            contents[0].media().unwrap().id.as_str(),
            "https://i.example/1"
        );
        let file = contents[1].media().unwrap();
        assert_eq!(file.file_name.as_deref(), Some("act.pdf"));
        assert_eq!(file.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(file.size, Some(10));
        assert_eq!(contents[1].text(), None);
        assert!(matches!(contents[2], Content::Location { latitude, .. } if latitude == 55.75));
        assert_eq!(
            contents[3],
            Content::Unsupported {
                platform_kind: "poll".into()
            }
        );
    }

    #[test]
    fn media_ids() {
        let body: MessageBody<'_> = from_json(json!({"mid": "m", "attachments": [
            {"type": "video", "payload": {"url": "https://v.example/page", "token": "VT"}},
            {"type": "audio", "payload": {"url": "https://a.example/1", "token": "AT"}, "transcription": "привет"},
            {"type": "sticker", "payload": {"url": "https://s.example/1", "code": "c"}}
        ]})).unwrap();
        let contents = body_contents(&body);
        assert_eq!(contents[0].media().unwrap().id.as_str(), "video:VT");
        assert_eq!(contents[0].kind(), ContentKind::Video);
        assert_eq!(contents[1].kind(), ContentKind::Audio);
        assert_eq!(
            contents[1].media().unwrap().id.as_str(),
            "https://a.example/1"
        );
        assert_eq!(contents[2].kind(), ContentKind::Sticker);
    }

    #[test]
    fn share_contact_and_empty_bodies() {
        let share: MessageBody<'_> = from_json(json!({"mid": "m", "attachments": [
            {"type": "share", "payload": {"url": "https://example.org/a"}, "title": "A"}]}))
        .unwrap();
        assert_eq!(
            body_contents(&share),
            [Content::Text {
                text: "https://example.org/a".into()
            }]
        );
        let with_text: MessageBody =
            from_json(json!({"mid": "m", "text": "see https://example.org/a",
            "attachments": [{"type": "share", "payload": {"url": "https://example.org/a"}}]}))
            .unwrap();
        assert_eq!(
            body_contents(&with_text),
            [Content::Text {
                text: "see https://example.org/a".into()
            }]
        );
        let bare_share: MessageBody<'_> =
            from_json(json!({"mid": "m", "attachments": [{"type": "share", "payload": {}}]}))
                .unwrap();
        assert_eq!(
            body_contents(&bare_share),
            [Content::Unsupported {
                platform_kind: "share".into()
            }]
        );
        let contact: MessageBody<'_> = from_json(json!({"mid": "m", "attachments": [
            {"type": "contact", "payload": {"vcf_info": "BEGIN:VCARD\r\nFN:Ivan Petrov\r\nTEL;TYPE=cell:+79990001122\r\nEND:VCARD"}}]})).unwrap();
        assert_eq!(
            body_contents(&contact),
            [Content::Contact {
                name: Some("Ivan Petrov".into()),
                phone: Some("+79990001122".into()),
                user_id: None
            }]
        );
        let m = message(
            json!({"recipient": {"chat_id": 5}, "timestamp": 1, "body": {"mid": "m"},
            "link": {"type": "forward", "message": {"mid": "f", "text": "fwd"}}}),
        );
        let InboundEvent::Message(e) = &message_events(&m, false, None).unwrap()[0] else {
            panic!()
        };
        assert_eq!(e.content, Content::Text { text: "fwd".into() });
        assert_eq!(e.reply_to, None);
        let m = message(json!({"recipient": {"chat_id": 5}, "timestamp": 1, "body": {"mid": "m"}}));
        let InboundEvent::Message(e) = &message_events(&m, false, None).unwrap()[0] else {
            panic!()
        };
        assert_eq!(
            e.content,
            Content::Unsupported {
                platform_kind: "empty".into()
            }
        );
    }

    #[test]
    fn a_reply_names_the_replied_message() {
        let m = message(
            json!({"recipient": {"chat_id": 5}, "timestamp": 1, "body": {"mid": "m", "text": "ok"},
            "link": {"type": "reply", "message": {"mid": "mid.orig", "text": "q"}}}),
        );
        let InboundEvent::Message(e) = &message_events(&m, false, None).unwrap()[0] else {
            panic!()
        };
        assert_eq!(e.reply_to.as_ref().unwrap().as_str(), "mid.orig");
    }

    #[test]
    fn targets_and_message_ids() {
        assert_eq!(
            target(&"182182182".into()).unwrap().query(),
            ("chat_id", "182182182".to_owned())
        );
        assert_eq!(
            target(&"user:5".into()).unwrap().query(),
            ("user_id", "5".to_owned())
        );
        assert!(target(&"user:-5".into()).is_err());
        assert!(target(&"user:".into()).is_err());
        assert!(message_id(&"mid 1".into()).is_err());
    }

    #[test]
    fn reference_attachments() {
        let url = MediaSource::url(url::Url::parse("https://cdn.example/a.png").unwrap());
        let a = reference_attachment(ContentKind::Image, &url)
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"type": "image", "payload": {"url": "https://cdn.example/a.png"}})
        );
        assert!(reference_attachment(ContentKind::File, &url).is_err());
        let video = reference_attachment(ContentKind::Video, &MediaSource::id("video:VT"))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&video).unwrap(),
            json!({"type": "video", "payload": {"token": "VT"}})
        );
        let image = reference_attachment(ContentKind::Image, &MediaSource::id("tok"))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&image).unwrap(),
            json!({"type": "image", "payload": {"token": "tok"}})
        );
        let bytes = MediaSource::bytes(vec![1], "image/png", "a.png");
        assert!(
            reference_attachment(ContentKind::Image, &bytes)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn uploaded_attachments_take_the_right_token() {
        let endpoint = UploadEndpoint {
            url: "https://vu.example/u".into(),
            token: Some("from-endpoint".into()),
        };
        let host = UploadResult {
            token: Some("from-host".into()),
            photos: None,
        };
        let v = uploaded_attachment(ContentKind::Video, &endpoint, None).unwrap();
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"type": "video", "payload": {"token": "from-endpoint"}})
        );
        let f = uploaded_attachment(ContentKind::File, &endpoint, Some(&host)).unwrap();
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"type": "file", "payload": {"token": "from-host"}})
        );
        let photos = UploadResult {
            token: None,
            photos: Some(json!({"k": {"token": "p"}})),
        };
        let i = uploaded_attachment(ContentKind::Image, &endpoint, Some(&photos)).unwrap();
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({"type": "image", "payload": {"photos": {"k": {"token": "p"}}}})
        );
        let none = UploadEndpoint {
            url: "u".into(),
            token: None,
        };
        assert!(uploaded_attachment(ContentKind::File, &none, None).is_err());
    }

    #[test]
    fn message_bodies() {
        let body = message_body(Some("hi"), None, Some(&"mid.1#3".into()), None, None).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"text": "hi", "link": {"type": "reply", "mid": "mid.1"}})
        );
        let body = message_body(
            Some("**b**"),
            None,
            None,
            Some(TextFormat::Markdown),
            Some(false),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"text": "**b**", "notify": false, "format": "markdown"})
        );
        assert!(message_body(None, None, None, None, None).is_err());
    }
}
