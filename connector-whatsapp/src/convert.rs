//! WhatsApp wire types <-> the core model.
//!
//! # Inbound: how each webhook item becomes an event
//!
//! Every `entry[].changes[]` of a delivery is read. For `field: "messages"`, each of
//! `value.messages[]`, `value.statuses[]` and `value.errors[]` becomes one event; for
//! `field: "user_preferences"`, each of `value.user_preferences[]`; every other field
//! (`account_update`, `calls`, `message_template_status_update`, `smb_message_echoes`,
//! `group_*`...) becomes one `other` event named after the field.
//!
//! | WhatsApp message `type` | event |
//! |---|---|
//! | `text` | message, `text` |
//! | `image`, `video` | message, `image` / `video` with caption |
//! | `document` | message, `file` with caption and the file name |
//! | `audio` with `voice: true` | message, `voice` |
//! | `audio` otherwise | message, `audio` |
//! | `sticker` | message, `sticker` |
//! | `location` | message, `location` |
//! | `contacts` | message, `contact` (the first card; a message holds one card in the core model) |
//! | `button` (a template's quick reply) | message, `text` with the button's text (what the customer's bubble shows) |
//! | `interactive` `button_reply` / `list_reply` | message, `text` with the option's title |
//! | `interactive` of any other type (`nfm_reply`, `call_permission_reply`...) | message, `unsupported` `interactive.<type>` |
//! | `reaction`, `order` | message, `unsupported` `reaction` / `order` (the customer did write: the inbox shows a placeholder) |
//! | `unsupported`, `unknown` | message, `unsupported` with Meta's inner type where given (`unsupported.type`), else `unsupported` / `unknown` |
//! | `edit` | message with `edited: true`, the original message's id and the new content |
//! | `system` whose conversation id changed (`user_changed_number`, `user_changed_user_id`, `customer_changed_number`) | contact, `id_changed` with `new_chat_id` (see below) |
//! | `system` of any other type (`user_identity_changed`...) | `other`, `system.<type>`, in the customer's chat |
//! | any other type | message, `unsupported` with the type's name |
//!
//! | status | event |
//! |---|---|
//! | `sent`, `delivered`, `read` | status `sent` / `delivered` / `read` |
//! | `played` (a voice note was played) | status `read` |
//! | `failed` | status `failed`, the error classified by [`crate::error::status_error`] (`131047` -> `outside_reply_window`) |
//! | anything else (`deleted`, `warning`...) | `other`, `status.<name>`, in the recipient's chat |
//!
//! `user_preferences` with `category: marketing_messages`: `stop` is a contact `opted_out`,
//! `resume` a contact `opted_in`. (WhatsApp's stop covers marketing messages only; the core has
//! one opt-out, so a CRM that must keep sending service replies to such a customer decides that
//! in its own policy.) A `value.errors[]` entry is `other`, `error.<code>` (a system-level error
//! of the number, in no chat).
//!
//! ## Conversations
//!
//! The sender of a message is `from` (the `wa_id`), else the business-scoped `from_user_id`,
//! else the only `contacts[]` entry's `wa_id` / `user_id`; its chat is the sender, or the
//! `group_id` of a group message. The chat of a status is `recipient_id` (a `wa_id` or a group
//! id), else `recipient_user_id`. An item without an id, a valid timestamp or a
//! chat cannot be an event; it becomes `other`, `undecodable.message` / `undecodable.status`
//! (logged with its index, never its content), so one bad item does not lose the rest of a
//! delivery that WhatsApp would otherwise re-send for days.
//!
//! Every `other` event that concerns a conversation carries its `chat_id`: `status.*`,
//! `call_status` and undecodable statuses the recipient's; `system.*` and undecodable messages
//! the sender's (or group's); unmodelled preferences the customer's; a change of another field
//! the one group of its `groups[]`, else its only `contacts[]` entry, else the one recipient
//! of its `message_echoes[]`. Account-wide changes (`account_update`, template updates,
//! `value.errors[]`) have none.
//!
//! ## A customer whose id changes
//!
//! A customer's conversation is keyed by their phone number (`wa_id`) where WhatsApp gives
//! it, else by their business-scoped user id (BSUID). A `system` message that moves that key
//! is a contact event `id_changed`: `chat_id` and `user_id` are the old key, `new_chat_id` the
//! new one, so that a CRM relinks the conversation.
//! - With `from` (the old number): the new key is `system.wa_id` (or `new_wa_id`). A
//!   `user_changed_user_id` whose number stayed the same changes no key: it is `other`,
//!   `system.user_changed_user_id`, in that number's chat.
//! - Without `from` (a username user): the old key is `system.previous_user_id` (else
//!   `from_user_id`), the new one `system.user_id`.
//!
//! A `system` message is not the customer writing: it opens no reply window.

use chrono::{DateTime, Utc};
use messenger_core::plan::Part;
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, DeliveryStatus, Error, InboundEvent, MediaId,
    MediaRef, MediaSource, MessageEvent, MessageId, OtherEvent, OutgoingContent, Platform, Result,
    Sender, StatusEvent, Template, UserId,
};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::status_error;
use crate::wire::{
    Change, ChangeValue, Delivery, InboundMessage, ItemChat, MediaIn, MediaObject,
    OtherChangeValue, Payload, ReplyContext, SendRequest, StatusIn, Str, SystemIn,
    TemplateLanguage, TemplateObject, TextObject, UserPreference, ValueNumber, WaContact,
    WebhookPayload, WireError,
};

const WA: Platform = Platform::WhatsApp;

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

/// Which changes of a delivery to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NumberFilter<'a> {
    /// Every change.
    All,
    /// Only changes for this phone-number id (and changes without `metadata`, which are
    /// account-wide).
    Only(&'a str),
}

impl NumberFilter<'_> {
    /// Whether a change for the number `id` (where it names one) is skipped.
    fn skips(self, id: Option<&str>) -> bool {
        matches!((self, id), (NumberFilter::Only(mine), Some(other)) if other != mine)
    }
}

/// The events of a delivery read in one pass ([`Delivery`]), in the order WhatsApp sent them:
/// the same as [`payload_events`] of the same body.
pub(crate) fn delivery_events(
    delivery: Delivery<'_>,
    filter: NumberFilter<'_>,
) -> Vec<InboundEvent> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    for change in delivery.changes {
        let number = change
            .value
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .and_then(|m| m.phone_number_id.as_deref());
        if filter.skips(number) {
            skipped += 1;
            continue;
        }
        let field = change.field.as_deref().unwrap_or("unknown");
        match change.value {
            Some(items) => append(&mut out, items.events),
            None if matches!(field, "messages" | "user_preferences") => {
                tracing::warn!(field, "whatsapp webhook: change value not decodable");
                out.push(other(format!("undecodable.{field}"), None));
            }
            None => out.push(other(field, None)),
        }
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "whatsapp webhook: changes for other phone numbers skipped"
        );
    }
    out
}

/// The events of a whole delivery read layer by layer, in the order WhatsApp sent them.
pub(crate) fn payload_events(
    payload: WebhookPayload<'_>,
    filter: NumberFilter<'_>,
) -> Vec<InboundEvent> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    for entry in payload.entry {
        for change in entry.changes {
            if filter.skips(change.value.and_then(ValueNumber::of).as_deref()) {
                skipped += 1;
                continue;
            }
            change_events(change, &mut out);
        }
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "whatsapp webhook: changes for other phone numbers skipped"
        );
    }
    out
}

fn other(kind: impl Into<String>, chat: Option<String>) -> InboundEvent {
    let event = OtherEvent::new(WA, kind);
    InboundEvent::Other(match chat {
        Some(chat) => event.in_chat(chat),
        None => event,
    })
}

/// Decodes one raw JSON item as `T`.
fn decode_raw<'a, T: serde::Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(raw?.get()).ok()
}

fn change_events(change: Change<'_>, out: &mut Vec<InboundEvent>) {
    let field = change.field.as_deref().unwrap_or("unknown");
    let raw = change.value;
    match field {
        "messages" | "user_preferences" => {
            // A missing or `null` value is as undecodable as a malformed one.
            let value: ChangeValue<'_> = match raw.map(|r| serde_json::from_str(r.get())) {
                Some(Ok(v)) => v,
                None | Some(Err(_)) => {
                    tracing::warn!(field, "whatsapp webhook: change value not decodable");
                    out.push(other(format!("undecodable.{field}"), None));
                    return;
                }
            };
            value_events(value, out);
        }
        _ => {
            let chat = decode_raw::<OtherChangeValue>(raw).and_then(|v| other_change_chat(&v));
            out.push(other(field, chat));
        }
    }
}

/// The one conversation a change of an unmodelled field concerns, where it has one.
fn other_change_chat(value: &OtherChangeValue<'_>) -> Option<String> {
    let single = |ids: Vec<Option<&str>>| -> Option<String> {
        let mut ids = ids.into_iter();
        let first = ids.next()??;
        ids.all(|id| id == Some(first)).then(|| first.to_owned())
    };
    if !value.groups.is_empty() {
        return single(
            value
                .groups
                .iter()
                .map(|g| non_empty(g.group_id.as_ref()))
                .collect(),
        );
    }
    if let [contact] = &value.contacts[..] {
        return contact_id(contact);
    }
    if value.contacts.is_empty() && !value.message_echoes.is_empty() {
        return single(
            value
                .message_echoes
                .iter()
                .map(|e| non_empty(e.to.as_ref()))
                .collect(),
        );
    }
    None
}

fn contact_id(contact: &WaContact<'_>) -> Option<String> {
    non_empty(contact.wa_id.as_ref())
        .or(non_empty(contact.user_id.as_ref()))
        .map(str::to_owned)
}

/// The conversation of a raw item that could not be decoded whole, where it names one.
fn raw_item_chat(raw: &RawValue) -> Option<String> {
    let item: ItemChat<'_> = serde_json::from_str(raw.get()).ok()?;
    non_empty(item.group_id.as_ref())
        .or(non_empty(item.from.as_ref()))
        .or(non_empty(item.from_user_id.as_ref()))
        .or(non_empty(item.recipient_id.as_ref()))
        .or(non_empty(item.recipient_user_id.as_ref()))
        .or(non_empty(item.wa_id.as_ref()))
        .or(non_empty(item.user_id.as_ref()))
        .map(str::to_owned)
}

/// Appends `list` to `out`, taking it whole where `out` is empty (no copy).
pub(crate) fn append(out: &mut Vec<InboundEvent>, list: Vec<InboundEvent>) {
    if out.is_empty() {
        *out = list;
    } else {
        out.extend(list);
    }
}

pub(crate) fn error_event(error: &WireError) -> InboundEvent {
    match error.code {
        Some(code) => other(format!("error.{code}"), None),
        None => other("error", None),
    }
}

fn value_events(value: ChangeValue<'_>, out: &mut Vec<InboundEvent>) {
    for (index, raw) in value.messages.iter().enumerate() {
        match serde_json::from_str::<InboundMessage<'_>>(raw.get()) {
            Ok(msg) => out.push(message_event(msg, &value.contacts, index)),
            Err(_) => {
                tracing::warn!(index, "whatsapp webhook: message not decodable");
                out.push(other("undecodable.message", raw_item_chat(raw)));
            }
        }
    }
    for (index, raw) in value.statuses.iter().enumerate() {
        match serde_json::from_str::<StatusIn<'_>>(raw.get()) {
            Ok(status) => out.push(status_event(status, index)),
            Err(_) => {
                tracing::warn!(index, "whatsapp webhook: status not decodable");
                out.push(other("undecodable.status", raw_item_chat(raw)));
            }
        }
    }
    for (index, raw) in value.user_preferences.iter().enumerate() {
        match serde_json::from_str::<UserPreference<'_>>(raw.get()) {
            Ok(pref) => out.push(preference_event(pref, index)),
            Err(_) => {
                tracing::warn!(index, "whatsapp webhook: user preference not decodable");
                out.push(other("undecodable.user_preference", raw_item_chat(raw)));
            }
        }
    }
    for error in &value.errors {
        out.push(error_event(error));
    }
}

fn timestamp(secs: Option<i64>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs?, 0)
}

fn non_empty<'s>(s: Option<&'s Str<'_>>) -> Option<&'s str> {
    s.map(Str::as_str).filter(|s| !s.is_empty())
}

fn owned(s: &Option<Str<'_>>) -> Option<String> {
    s.as_deref().map(str::to_owned)
}

/// The contact entry that describes the sender of `msg`.
fn sender_contact<'c, 'a>(
    msg: &InboundMessage<'_>,
    contacts: &'c [WaContact<'a>],
) -> Option<&'c WaContact<'a>> {
    contacts
        .iter()
        .find(|c| {
            (msg.from.is_some() && c.wa_id == msg.from)
                || (msg.from_user_id.is_some() && c.user_id == msg.from_user_id)
        })
        .or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        })
}

/// The system types that can move a customer's conversation key.
const ID_CHANGES: &[&str] = &[
    "user_changed_number",
    "user_changed_user_id",
    "customer_changed_number",
];

/// A `system` message: a contact `id_changed` where the conversation key moved, else `other`
/// (see the module docs).
fn system_event(
    msg: &InboundMessage<'_>,
    system: Option<&SystemIn<'_>>,
    index: usize,
) -> InboundEvent {
    let sub = system
        .and_then(|s| non_empty(s.kind.as_ref()))
        .unwrap_or("unknown");
    let empty = SystemIn::default();
    let system = system.unwrap_or(&empty);
    let (old, new) = match non_empty(msg.from.as_ref()) {
        Some(number) => (
            Some(number),
            non_empty(system.wa_id.as_ref()).or(non_empty(system.new_wa_id.as_ref())),
        ),
        None => (
            non_empty(system.previous_user_id.as_ref()).or(non_empty(msg.from_user_id.as_ref())),
            non_empty(system.user_id.as_ref()),
        ),
    };
    let at = timestamp(msg.timestamp);
    match (old, new, at) {
        (Some(old), Some(new), Some(at)) if ID_CHANGES.contains(&sub) && old != new => {
            InboundEvent::Contact(ContactEvent {
                platform: WA,
                chat_id: ChatId::new(old),
                user_id: UserId::new(old),
                change: ContactChange::IdChanged,
                new_chat_id: Some(ChatId::new(new)),
                timestamp: at,
            })
        }
        (old, _, _) => {
            if ID_CHANGES.contains(&sub) && at.is_none() {
                tracing::warn!(index, "whatsapp webhook: id change without a timestamp");
            }
            other(format!("system.{sub}"), old.map(str::to_owned))
        }
    }
}

pub(crate) fn message_event(
    msg: InboundMessage<'_>,
    contacts: &[WaContact<'_>],
    index: usize,
) -> InboundEvent {
    let kind = msg.kind.as_deref().unwrap_or("unknown");
    if kind == "system" {
        return system_event(&msg, msg.system.as_ref(), index);
    }
    let contact = sender_contact(&msg, contacts);
    let sender_id = non_empty(msg.from.as_ref())
        .or(non_empty(msg.from_user_id.as_ref()))
        .or_else(|| contact.and_then(|c| non_empty(c.wa_id.as_ref())))
        .or_else(|| contact.and_then(|c| non_empty(c.user_id.as_ref())))
        .map(str::to_owned);
    // A group message belongs to the group's conversation; its sender is the participant.
    let chat = non_empty(msg.group_id.as_ref())
        .map(str::to_owned)
        .or_else(|| sender_id.clone());
    let (Some(sender_id), Some(chat), Some(id), Some(at)) = (
        sender_id,
        chat.clone(),
        owned(&msg.id),
        timestamp(msg.timestamp),
    ) else {
        tracing::warn!(
            index,
            "whatsapp webhook: message without sender, id or timestamp"
        );
        return other("undecodable.message", chat);
    };
    let name = contact
        .and_then(|c| c.profile.as_ref())
        .and_then(|p| owned(&p.name));
    let sender = Some(Sender {
        id: UserId::new(sender_id),
        name,
    });

    let (message_id, edited, content, reply_to) = if kind == "edit" {
        let edit = msg.edit.as_deref();
        let original = edit
            .and_then(|e| owned(&e.original_message_id))
            .unwrap_or_else(|| id.clone());
        let content = match edit.and_then(|e| e.message.as_ref()) {
            Some(inner) => content_of(inner),
            None => Content::Unsupported {
                platform_kind: "edit".to_owned(),
            },
        };
        (original, true, content, None)
    } else {
        let reply_to = msg
            .context
            .as_ref()
            .and_then(|c| owned(&c.id))
            .map(MessageId::new);
        (id, false, content_of(&msg), reply_to)
    };

    InboundEvent::Message(MessageEvent {
        platform: WA,
        chat_id: ChatId::new(chat),
        message_id: MessageId::new(message_id),
        sender,
        timestamp: at,
        reply_to,
        edited,
        content,
    })
}

fn media_ref(media: &MediaIn<'_>, with_name: bool) -> Option<MediaRef> {
    let id = non_empty(media.id.as_ref())?;
    Some(MediaRef {
        id: MediaId::new(id),
        mime_type: owned(&media.mime_type),
        file_name: if with_name {
            owned(&media.filename)
        } else {
            None
        },
        size: None,
    })
}

fn unsupported(kind: &str) -> Content {
    Content::Unsupported {
        platform_kind: kind.to_owned(),
    }
}

/// The core content of one inbound message (see the module table).
fn content_of(msg: &InboundMessage<'_>) -> Content {
    let kind = msg.kind.as_deref().unwrap_or("unknown");
    let media = |m: &Option<MediaIn<'_>>, with_name: bool| {
        m.as_ref()
            .and_then(|m| media_ref(m, with_name).map(|r| (r, owned(&m.caption))))
    };
    match kind {
        "text" => match msg.text.as_ref().and_then(|t| owned(&t.body)) {
            Some(text) => Content::Text { text },
            None => unsupported("text"),
        },
        "image" => match media(&msg.image, false) {
            Some((media, caption)) => Content::Image { media, caption },
            None => unsupported("image"),
        },
        "video" => match media(&msg.video, false) {
            Some((media, caption)) => Content::Video { media, caption },
            None => unsupported("video"),
        },
        "document" => match media(&msg.document, true) {
            Some((media, caption)) => Content::File { media, caption },
            None => unsupported("document"),
        },
        "audio" => {
            let voice = msg.audio.as_ref().and_then(|a| a.voice) == Some(true);
            match media(&msg.audio, false) {
                Some((media, _)) if voice => Content::Voice {
                    media,
                    caption: None,
                },
                Some((media, _)) => Content::Audio {
                    media,
                    caption: None,
                },
                None => unsupported("audio"),
            }
        }
        "sticker" => match msg.sticker.as_ref().and_then(|s| media_ref(s, false)) {
            Some(media) => Content::Sticker { media, emoji: None },
            None => unsupported("sticker"),
        },
        "location" => match msg.location.as_ref() {
            Some(loc) => match (loc.latitude, loc.longitude) {
                (Some(latitude), Some(longitude)) => Content::Location {
                    latitude,
                    longitude,
                    name: owned(&loc.name),
                    address: owned(&loc.address),
                },
                _ => unsupported("location"),
            },
            None => unsupported("location"),
        },
        "contacts" => match msg.contacts.as_ref().and_then(|c| c.first()) {
            Some(card) => {
                let name = card.name.as_ref().and_then(|n| {
                    owned(&n.formatted_name).or_else(|| {
                        let parts: Vec<&str> = [n.first_name.as_deref(), n.last_name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect();
                        (!parts.is_empty()).then(|| parts.join(" "))
                    })
                });
                let phone = card.phones.first();
                Content::Contact {
                    name,
                    phone: phone.and_then(|p| owned(&p.phone)),
                    user_id: phone.and_then(|p| owned(&p.wa_id)).map(UserId::new),
                }
            }
            None => unsupported("contacts"),
        },
        "button" => match msg
            .button
            .as_ref()
            .and_then(|b| owned(&b.text).or_else(|| owned(&b.payload)))
        {
            Some(text) => Content::Text { text },
            None => unsupported("button"),
        },
        "interactive" => {
            let Some(interactive) = msg.interactive.as_ref() else {
                return unsupported("interactive");
            };
            let reply = interactive
                .button_reply
                .as_ref()
                .or(interactive.list_reply.as_ref());
            match reply.and_then(|r| owned(&r.title)) {
                Some(text) => Content::Text { text },
                None => unsupported(&format!(
                    "interactive.{}",
                    interactive.kind.as_deref().unwrap_or("unknown")
                )),
            }
        }
        "unsupported" | "unknown" => {
            let inner = msg
                .unsupported
                .as_ref()
                .and_then(|u| u.kind.as_deref())
                .filter(|k| !k.is_empty());
            unsupported(inner.unwrap_or(kind))
        }
        other => unsupported(other),
    }
}

pub(crate) fn status_event(status: StatusIn<'_>, index: usize) -> InboundEvent {
    let chat = non_empty(status.recipient_id.as_ref())
        .or(non_empty(status.recipient_user_id.as_ref()))
        .map(str::to_owned);
    if status.kind.as_deref() == Some("call") {
        return other("call_status", chat);
    }
    let (Some(chat), Some(id), Some(at), Some(name)) = (
        chat.clone(),
        owned(&status.id),
        timestamp(status.timestamp),
        status.status.as_deref(),
    ) else {
        tracing::warn!(
            index,
            "whatsapp webhook: status without recipient, id, timestamp or value"
        );
        return other("undecodable.status", chat);
    };
    let (delivery, error) = match name {
        "sent" => (DeliveryStatus::Sent, None),
        "delivered" => (DeliveryStatus::Delivered, None),
        "read" | "played" => (DeliveryStatus::Read, None),
        "failed" => (DeliveryStatus::Failed, Some(status_error(&status.errors))),
        _ => return other(format!("status.{name}"), Some(chat)),
    };
    InboundEvent::Status(StatusEvent {
        platform: WA,
        chat_id: ChatId::new(chat),
        message_id: MessageId::new(id),
        status: delivery,
        timestamp: at,
        error,
    })
}

pub(crate) fn preference_event(pref: UserPreference<'_>, index: usize) -> InboundEvent {
    let user = non_empty(pref.wa_id.as_ref())
        .or(non_empty(pref.user_id.as_ref()))
        .map(str::to_owned);
    let category = pref.category.as_deref().unwrap_or("unknown");
    let value = pref.value.as_deref().unwrap_or("unknown");
    let change = match (category, value) {
        ("marketing_messages", "stop") => ContactChange::OptedOut,
        ("marketing_messages", "resume") => ContactChange::OptedIn,
        _ => return other(format!("user_preferences.{category}.{value}"), user),
    };
    let (Some(user), Some(at)) = (user.clone(), timestamp(pref.timestamp)) else {
        tracing::warn!(
            index,
            "whatsapp webhook: user preference without user or timestamp"
        );
        return other("undecodable.user_preference", user);
    };
    InboundEvent::Contact(ContactEvent {
        platform: WA,
        chat_id: ChatId::new(user.clone()),
        user_id: UserId::new(user),
        change,
        new_chat_id: None,
        timestamp: at,
    })
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// The JSON body that sends `part` to `to` (`POST /{phone-number-id}/messages`).
///
/// Media must be a public link or a media id here: bytes and streams are uploaded first by
/// [`WhatsApp::send_part`](crate::WhatsApp), which then sends by the new id (this function
/// refuses them with `InvalidInput`). Text goes with `preview_url` as given (the connector's
/// default is `false`). Audio and voice notes take no caption on WhatsApp: a caption there is
/// `InvalidInput` (the planner moves it to a text part, as the capabilities say).
///
/// ```
/// use connector_whatsapp::convert::message_body;
/// use messenger_core::{plan::Part, ChatId, MediaSource, OutgoingContent};
/// let part = Part {
///     content: OutgoingContent::Voice { media: MediaSource::id("1013859600285441"), caption: None },
///     reply_to: None,
///     idempotency_key: None,
/// };
/// let body = message_body(&ChatId::new("16505551234"), &part, false).unwrap();
/// assert_eq!(body, serde_json::json!({
///     "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
///     "type": "audio", "audio": {"id": "1013859600285441", "voice": true}
/// }));
/// ```
pub fn message_body(to: &ChatId, part: &Part, preview_url: bool) -> Result<Value> {
    let request = send_request(to, part, None, preview_url)?;
    Ok(serde_json::to_value(&request)?)
}

/// Checks `part` as [`send_request`] would, before an upload is spent on it.
pub(crate) fn check_part(to: &ChatId, part: &Part) -> Result<()> {
    let placeholder = MediaId::new("0");
    let uploaded = part
        .content
        .media_source()
        .filter(|s| s.is_upload())
        .map(|_| &placeholder);
    send_request(to, part, uploaded, false).map(drop)
}

/// Builds the send request for `part`; `uploaded` is the media id an upload of the part's
/// bytes returned (the part's file name is kept for documents).
pub(crate) fn send_request(
    to: &ChatId,
    part: &Part,
    uploaded: Option<&MediaId>,
    preview_url: bool,
) -> Result<SendRequest> {
    if to.as_str().is_empty() {
        return Err(invalid("the recipient is empty"));
    }
    let payload = match &part.content {
        OutgoingContent::Text { text } => Payload::Text {
            text: TextObject {
                body: text.clone(),
                preview_url,
            },
        },
        OutgoingContent::Image { media, caption } => Payload::Image {
            image: media_object(media, uploaded, caption.as_deref(), false)?,
        },
        OutgoingContent::Video { media, caption } => Payload::Video {
            video: media_object(media, uploaded, caption.as_deref(), false)?,
        },
        OutgoingContent::File { media, caption } => Payload::Document {
            document: media_object(media, uploaded, caption.as_deref(), true)?,
        },
        OutgoingContent::Audio { media, caption } => {
            no_caption(caption.as_deref(), "audio")?;
            Payload::Audio {
                audio: media_object(media, uploaded, None, false)?,
            }
        }
        OutgoingContent::Voice { media, caption } => {
            no_caption(caption.as_deref(), "voice notes")?;
            let mut audio = media_object(media, uploaded, None, false)?;
            audio.voice = Some(true);
            Payload::Audio { audio }
        }
        _ => {
            return Err(Error::unsupported(format!(
                "WhatsApp connector cannot send {} content",
                part.content.kind()
            ))
            .with_platform(WA));
        }
    };
    Ok(SendRequest {
        messaging_product: "whatsapp",
        recipient_type: recipient_type(to),
        to: to.as_str().to_owned(),
        context: part.reply_to.as_ref().map(|m| ReplyContext {
            message_id: m.as_str().to_owned(),
        }),
        payload,
    })
}

/// Whether `chat` is a WhatsApp group id rather than a user (a phone number / `wa_id`, or a
/// business-scoped user id such as `US.13491208655302741918`).
///
/// Group ids are opaque base64-like strings (`Y2FwaV9ncm91cDoxODA1NTU1MDE3Mjox...`, at least 16
/// characters of `[A-Za-z0-9_=-]`): neither digits only (a `wa_id`) nor a dotted `CC.<id>`
/// BSUID. Messages to a group go with
/// `recipient_type: "group"`.
///
/// ```
/// use connector_whatsapp::convert::is_group_id;
/// use messenger_core::ChatId;
/// assert!(!is_group_id(&ChatId::new("16505551234")));
/// assert!(!is_group_id(&ChatId::new("+16505551234")));
/// assert!(!is_group_id(&ChatId::new("US.13491208655302741918")));
/// assert!(is_group_id(&ChatId::new("Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD")));
/// ```
pub fn is_group_id(chat: &ChatId) -> bool {
    let id = chat.as_str();
    id.len() >= 16
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        && !id.bytes().all(|b| b.is_ascii_digit())
}

fn recipient_type(to: &ChatId) -> &'static str {
    if is_group_id(to) {
        "group"
    } else {
        "individual"
    }
}

fn invalid(message: &str) -> Error {
    Error::invalid_input(message).with_platform(WA)
}

fn no_caption(caption: Option<&str>, what: &str) -> Result<()> {
    match caption {
        Some(c) if !c.is_empty() => Err(invalid(&format!(
            "WhatsApp {what} take no caption; send through `send` so the planner moves it to a text"
        ))),
        _ => Ok(()),
    }
}

fn media_object(
    source: &MediaSource,
    uploaded: Option<&MediaId>,
    caption: Option<&str>,
    document: bool,
) -> Result<MediaObject> {
    let mut object = MediaObject {
        caption: caption.filter(|c| !c.is_empty()).map(str::to_owned),
        ..MediaObject::default()
    };
    match (uploaded, source) {
        (Some(id), _) => {
            object.id = Some(id.as_str().to_owned());
            if document {
                object.filename = source
                    .file_name()
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
            }
        }
        (None, MediaSource::Id(id)) => {
            if id.as_str().is_empty() {
                return Err(invalid("the media id is empty"));
            }
            object.id = Some(id.as_str().to_owned());
        }
        (None, MediaSource::Url(url)) => {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("WhatsApp fetches media links over http(s) only"));
            }
            object.link = Some(url.as_str().to_owned());
        }
        (None, _) => {
            return Err(invalid(
                "media from bytes or a stream must be uploaded first (WhatsApp::send_part does it)",
            ));
        }
    }
    Ok(object)
}

/// The JSON body of a template message: `{..., "type": "template", "template": {name,
/// language: {code}, components}}`.
///
/// `components` is Meta's array of header / body / button components, passed through as
/// given; `Value::Null` (or an empty array) leaves it out, for templates without parameters.
/// Anything else than an array or null is `InvalidInput`.
///
/// ```
/// use connector_whatsapp::convert::template_body;
/// use messenger_core::{ChatId, Template};
/// let body = template_body(&ChatId::new("16505551234"), &Template::new("hello_world", "en_US")).unwrap();
/// assert_eq!(body["template"], serde_json::json!({"name": "hello_world", "language": {"code": "en_US"}}));
/// ```
pub fn template_body(to: &ChatId, template: &Template) -> Result<Value> {
    Ok(serde_json::to_value(template_request(to, template)?)?)
}

pub(crate) fn template_request(to: &ChatId, template: &Template) -> Result<SendRequest> {
    if to.as_str().is_empty() {
        return Err(invalid("the recipient is empty"));
    }
    if template.name.trim().is_empty() || template.language.trim().is_empty() {
        return Err(invalid("a template needs a name and a language code"));
    }
    let components = match &template.components {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Array(_) => Some(template.components.clone()),
        _ => {
            return Err(invalid(
                "template components must be a JSON array (or null for none)",
            ));
        }
    };
    Ok(SendRequest {
        messaging_product: "whatsapp",
        recipient_type: recipient_type(to),
        to: to.as_str().to_owned(),
        context: None,
        payload: Payload::Template {
            template: TemplateObject {
                name: template.name.clone(),
                language: TemplateLanguage {
                    code: template.language.clone(),
                },
                components,
            },
        },
    })
}

/// The JSON body of a read receipt, optionally with a typing indicator.
///
/// ```
/// use connector_whatsapp::convert::mark_read_body;
/// use messenger_core::MessageId;
/// assert_eq!(
///     mark_read_body(&MessageId::new("wamid.X"), false),
///     serde_json::json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"})
/// );
/// ```
pub fn mark_read_body(message: &MessageId, typing_indicator: bool) -> Value {
    let mut body = serde_json::json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message.as_str(),
    });
    if typing_indicator {
        body["typing_indicator"] = serde_json::json!({"type": "text"});
    }
    body
}
