//! Customers of a bot (users who started it, each in a dialog with the bot) and the customer's
//! side the control API plays: messages (`message_created` updates), stops and restarts
//! (`bot_stopped` / `bot_started`) and reads, which MAX does not report to bots (max.md §8).

use messenger_core::{Error, ErrorKind, Result};
use serde_json::{Map, Value, json};

use super::files::{self, MediaKind};
use super::updates::push_update;
use super::{BotState, bot, bot_mut};
use crate::api::{
    CustomerMessage, InboundReceipt, MessageDirection, MessageKind, MessageStatus, NewCustomer,
};
use crate::media::{self, Blob};
use crate::platforms::mark_outbound_read;
use crate::state::{Account, Customer, Shared, State, StoredMessage};

/// Dialog chat ids lie in `[DIALOG_BASE, DIALOG_BASE + DIALOG_SPAN)`.
const DIALOG_BASE: i64 = 100_000_000_000;
const DIALOG_SPAN: i64 = 800_000_000_000;

/// The chat id of the dialog between a bot and a user: positive, different from the user id,
/// and the same every time (a function of both ids, one-to-one for the user ids of one bot
/// below `DIALOG_SPAN`).
pub(super) fn dialog_chat_id(bot_id: i64, user_id: i64) -> i64 {
    let bot_part = bot_id.rem_euclid(DIALOG_SPAN) % 1_000_003 * 7_919;
    DIALOG_BASE + (bot_part + user_id.rem_euclid(DIALOG_SPAN)) % DIALOG_SPAN
}

/// The customer whose dialog with the bot is `chat_id`.
pub(super) fn customer_of_chat(account: &Account, bot: &BotState, chat_id: i64) -> Option<String> {
    account
        .customers
        .keys()
        .find(|id| {
            id.parse::<i64>()
                .is_ok_and(|user| dialog_chat_id(bot.user_id, user) == chat_id)
        })
        .cloned()
}

/// The dialog chat id of a customer of the bot.
pub(super) fn chat_of(bot: &BotState, customer_id: &str) -> i64 {
    dialog_chat_id(bot.user_id, customer_id.parse().unwrap_or_default())
}

/// Builds a new customer (a user who started the bot).
pub(super) fn new_customer(state: &mut State, new: &NewCustomer) -> Result<Customer> {
    let id = match new.id.as_deref() {
        Some(id) => id
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0 && *n < DIALOG_SPAN)
            .ok_or_else(|| {
                Error::invalid_input("a MAX user id is a positive number below 8*10^11")
            })?
            .to_string(),
        None => (400_000_000 + i64::try_from(state.next_seq()).unwrap_or(0)).to_string(),
    };
    let seq = state.next_seq();
    let mut customer = Customer::new(
        id,
        seq,
        new.name.as_deref().unwrap_or("Customer").to_string(),
        None,
    );
    customer.username.clone_from(&new.username);
    customer.language_code.clone_from(&new.language_code);
    Ok(customer)
}

/// The customer as a MAX `User`.
pub(super) fn user_json(customer: &Customer, now_ms: i64) -> Value {
    let mut user = json!({
        "user_id": customer.id.parse::<i64>().unwrap_or_default(),
        "first_name": customer.name,
        "is_bot": false,
        "last_activity_time": now_ms,
        "name": customer.name,
    });
    if let Some(username) = &customer.username {
        user["username"] = json!(username);
    }
    user
}

/// A new message id (`mid.` and 32 hex digits) and `seq` in the bot's dialogs.
pub(super) fn next_mid(bot: &mut BotState, chat_id: i64) -> (String, i64) {
    let seq = bot.next_seq;
    bot.next_seq += 1;
    (format!("mid.{chat_id:016x}{seq:016x}"), seq)
}

/// The `link` of a message replying to `replied` (a stored message's `Message` JSON).
pub(super) fn reply_link(replied: &Value, chat_id: i64) -> Value {
    let mut link = json!({
        "type": "reply",
        "chat_id": chat_id,
        "message": replied.get("body").cloned().unwrap_or(Value::Null),
    });
    if let Some(sender) = replied.get("sender") {
        link["sender"] = sender.clone();
    }
    link
}

/// An update about the customer's dialog: `{update_type, timestamp, chat_id, user, ...}`.
fn dialog_update(kind: &str, chat_id: i64, customer: &Customer, now_ms: i64) -> Value {
    let mut update = json!({
        "update_type": kind,
        "timestamp": now_ms,
        "chat_id": chat_id,
        "user": user_json(customer, now_ms),
    });
    if let Some(locale) = &customer.language_code {
        update["user_locale"] = json!(locale);
    }
    update
}

/// A customer writes to the bot: the message is stored and a `message_created` is queued. A
/// native voice note produces MAX's current `message_created` without a `message`.
pub(super) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt> {
    let now = shared.now_ms();
    let root = shared
        .urls
        .platform(messenger_core::Platform::Max)
        .unwrap_or_default()
        .to_string();
    {
        let account = state.account(account_id)?;
        if bot(account).is_none() {
            return Err(Error::invalid_input("not a MAX account"));
        }
        if account.customer(customer_id)?.blocked {
            return Err(Error::invalid_input(
                "the customer stopped the bot; unblock first (MAX delivers nothing from them)",
            ));
        }
    }
    let text = message.text.clone().filter(|t| !t.is_empty());
    let caption = message.caption.clone().filter(|t| !t.is_empty());

    // Media first: its token and attachment.
    let mut media_part = None;
    if let Some(upload) = &message.media {
        let kind = match upload.kind {
            MessageKind::Image => Some(MediaKind::Image),
            MessageKind::File => Some(MediaKind::File),
            MessageKind::Audio => Some(MediaKind::Audio),
            MessageKind::Video => Some(MediaKind::Video),
            MessageKind::Sticker => Some(MediaKind::Sticker),
            // No voice type reaches a bot: see below.
            MessageKind::Voice => None,
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on MAX",
                    other.as_str()
                )));
            }
        };
        if upload.data.is_empty() {
            return Err(Error::invalid_input("the media is empty"));
        }
        let mime = media::resolve_mime(
            upload.mime_type.as_deref(),
            upload.file_name.as_deref(),
            &upload.data,
        );
        let blob = Blob::from_bytes(&state.media, &upload.data, mime, upload.file_name.clone())?;
        media_part = Some((kind, upload.kind, blob));
    } else if text.is_none() {
        return Err(Error::invalid_input(
            "a customer message needs text or media",
        ));
    }

    let account = state.account(account_id)?;
    let bot_id = bot(account).map_or(0, |b| b.user_id);
    let chat_id = dialog_chat_id(bot_id, customer_id.parse().unwrap_or_default());
    let reply_raw = match &message.reply_to {
        Some(reply) => Some(
            account
                .customer(customer_id)?
                .message(reply)
                .and_then(|m| m.raw.clone())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message to reply to"))?,
        ),
        None => None,
    };

    let mut stored_media = None;
    let mut attachment = None;
    let mut media_id = None;
    let mut kind = MessageKind::Text;
    let mut voice = false;
    if let Some((media_kind, message_kind, blob)) = media_part {
        kind = message_kind;
        match media_kind {
            Some(media_kind) => {
                let file_name = blob.file_name.clone();
                let token = files::store_inbound(state, account_id, media_kind, blob, now);
                attachment = files::attachment_json(state, &root, &token);
                let mut stored = files::stored_media(state, &token);
                stored.file_name = file_name;
                media_id = match media_kind {
                    // A video is resolved by its token (`GET /videos/{token}`).
                    MediaKind::Video => Some(token.clone()),
                    _ => files::media_url(state, &root, &token),
                };
                stored_media = Some(stored);
            }
            None => {
                // Kept for the control view; the bot never sees it.
                let blob_id = state.add_blob(blob);
                stored_media = Some(crate::state::StoredMedia {
                    blob: Some(blob_id),
                    ..crate::state::StoredMedia::default()
                });
                voice = true;
            }
        }
    }

    let account = state.account_mut(account_id)?;
    let bot = bot_mut(account).ok_or_else(|| Error::invalid_input("not a MAX account"))?;
    let (mid, seq) = next_mid(bot, chat_id);
    let customer = account.customer_mut(customer_id)?;
    customer.last_inbound_ms = Some(now);
    let body_text = if attachment.is_some() || voice {
        caption.clone()
    } else {
        text.clone()
    };
    let mut body = Map::new();
    body.insert("mid".into(), json!(mid));
    body.insert("seq".into(), json!(seq));
    if let Some(t) = &body_text {
        body.insert("text".into(), json!(t));
    }
    if let Some(a) = attachment {
        body.insert("attachments".into(), json!([a]));
    }
    let mut msg = json!({
        "sender": user_json(customer, now),
        "recipient": { "chat_id": chat_id, "chat_type": "dialog", "user_id": bot_id },
        "timestamp": now,
        "body": Value::Object(body),
    });
    if let Some(reply) = &reply_raw {
        msg["link"] = reply_link(reply, chat_id);
    }
    let mut stored = StoredMessage::new(mid.clone(), MessageDirection::Inbound, kind, now);
    if stored_media.is_some() {
        stored.caption = caption;
    } else {
        stored.text = text;
    }
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    stored.raw = Some(msg.clone());
    let locale = customer.language_code.clone();
    customer.messages.push(stored);

    let mut update = json!({ "update_type": "message_created", "timestamp": now });
    if !voice {
        update["message"] = msg;
    }
    if let Some(locale) = locale {
        update["user_locale"] = json!(locale);
    }
    let marker = push_update(account, "message_created", update);
    tracing::debug!(
        account = %account_id,
        kind = kind.as_str(),
        "sandbox max: customer message queued"
    );
    Ok(InboundReceipt {
        message_id: mid,
        update_id: marker,
        media_id,
    })
}

/// The customer stops (`bot_stopped`) or restarts (`bot_started`) the bot.
pub(super) fn customer_blocks(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    blocked: bool,
) -> Result<()> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let bot_id = bot(account)
        .map(|b| b.user_id)
        .ok_or_else(|| Error::invalid_input("not a MAX account"))?;
    let customer = account.customer_mut(customer_id)?;
    if customer.blocked == blocked {
        return Ok(());
    }
    customer.blocked = blocked;
    let chat_id = dialog_chat_id(bot_id, customer_id.parse().unwrap_or_default());
    let kind = if blocked {
        "bot_stopped"
    } else {
        "bot_started"
    };
    let mut update = dialog_update(kind, chat_id, customer, now);
    if !blocked {
        update["user_id"] = json!(customer_id.parse::<i64>().unwrap_or_default());
    }
    push_update(account, kind, update);
    tracing::debug!(account = %account_id, kind, "sandbox max: dialog update queued");
    Ok(())
}

/// The customer reads: MAX reports nothing to the bot, only the sandbox state changes.
pub(super) fn customer_reads(
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize> {
    let customer = state.account_mut(account_id)?.customer_mut(customer_id)?;
    Ok(mark_outbound_read(customer, up_to, &[MessageStatus::Sent])?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialog_ids_are_positive_distinct_and_stable() {
        let a = dialog_chat_id(500_000_001, 400_000_001);
        assert_eq!(a, dialog_chat_id(500_000_001, 400_000_001));
        assert_ne!(a, dialog_chat_id(500_000_001, 400_000_002));
        assert_ne!(a, 400_000_001);
        assert!(a >= DIALOG_BASE);
        assert!(dialog_chat_id(i64::MAX, DIALOG_SPAN - 1) > 0);
    }
}
