//! Customers of a bot (users who started it) and the customer's side the control API plays:
//! messages (queued as `message` updates), blocks and unblocks (`my_chat_member` updates) and
//! reads (which Telegram does not report to bots).

use messenger_core::{Error, ErrorKind, Result};
use serde_json::{Map, Value, json};

use super::files::{FileKind, store_file, stored_blob};
use super::updates::push_update;
use super::{BotState, bot, utf16_len};
use crate::api::{
    CustomerMessage, InboundReceipt, MessageDirection, MessageKind, MessageStatus, NewCustomer,
};
use crate::clock::TokenBucket;
use crate::media::{self, Blob};
use crate::platforms::mark_outbound_read;
use crate::state::{Account, Customer, Shared, State, StoredMedia, StoredMessage};

/// Builds a new customer (a user who started the bot).
pub(super) fn new_customer(
    shared: &Shared,
    state: &mut State,
    new: &NewCustomer,
) -> Result<Customer> {
    let id = match new.id.as_deref() {
        Some(id) => {
            let n: i64 =
                id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid_input("a Telegram user id is a positive number")
                })?;
            n.to_string()
        }
        None => (100_000_000 + state.next_seq()).to_string(),
    };
    let bucket = shared
        .config
        .telegram_per_chat
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    let seq = state.next_seq();
    let mut customer = Customer::new(
        id,
        seq,
        new.name.as_deref().unwrap_or("Customer").to_string(),
        bucket,
    );
    customer.username.clone_from(&new.username);
    customer.language_code.clone_from(&new.language_code);
    Ok(customer)
}

pub(super) fn user_json(customer: &Customer) -> Value {
    let mut user = json!({
        "id": customer.id.parse::<i64>().unwrap_or_default(),
        "is_bot": false,
        "first_name": customer.name,
    });
    if let Some(username) = &customer.username {
        user["username"] = json!(username);
    }
    if let Some(lang) = &customer.language_code {
        user["language_code"] = json!(lang);
    }
    user
}

pub(super) fn chat_json(customer: &Customer) -> Value {
    let mut chat = json!({
        "id": customer.id.parse::<i64>().unwrap_or_default(),
        "type": "private",
        "first_name": customer.name,
    });
    if let Some(username) = &customer.username {
        chat["username"] = json!(username);
    }
    chat
}

pub(super) fn bot_user_json(account: &Account, bot: &BotState) -> Value {
    json!({
        "id": bot.bot_id,
        "is_bot": true,
        "first_name": account.name,
        "username": bot.username,
    })
}

/// What a customer's message carries, built into a Telegram `Message`'s content fields (media
/// stored as the bot's files).
pub(super) struct Inbound {
    pub content: Map<String, Value>,
    pub kind: MessageKind,
    pub media: Option<StoredMedia>,
    pub media_id: Option<String>,
}

/// Builds the content of a customer's message (in a private chat or a group).
pub(super) fn inbound_content(
    state: &mut State,
    account_id: &str,
    message: &CustomerMessage,
) -> Result<Inbound> {
    let mut content = Map::new();
    let mut stored_media = None;
    let mut kind = MessageKind::Text;
    let mut media_id = None;
    if let Some(upload) = &message.media {
        let file_kind = match upload.kind {
            MessageKind::Image => FileKind::Photo,
            MessageKind::File => FileKind::Document,
            MessageKind::Voice => FileKind::Voice,
            MessageKind::Audio => FileKind::Audio,
            MessageKind::Video => FileKind::Video,
            MessageKind::Sticker => FileKind::Sticker,
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on Telegram",
                    other.as_str()
                )));
            }
        };
        let mime = media::resolve_mime(
            upload.mime_type.as_deref(),
            upload.file_name.as_deref(),
            &upload.data,
        );
        let blob = Blob::from_bytes(&state.media, &upload.data, mime, upload.file_name.clone())?;
        let (file_id, object) = store_file(state, account_id, file_kind, blob, &Map::new());
        content.insert(file_kind.field().to_string(), object);
        stored_media = Some(StoredMedia {
            blob: stored_blob(state, &file_id),
            reference: Some(file_id.clone()),
            file_name: upload.file_name.clone(),
            ..StoredMedia::default()
        });
        media_id = Some(file_id);
        kind = file_kind.message_kind();
        if let Some(caption) = &message.caption {
            content.insert("caption".into(), json!(caption));
        }
    } else {
        let text = message
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid_input("a customer message needs text or media"))?;
        if text.starts_with('/') {
            let len = text.split_whitespace().next().map_or(0, utf16_len);
            content.insert(
                "entities".into(),
                json!([{ "offset": 0, "length": len, "type": "bot_command" }]),
            );
        }
        content.insert("text".into(), json!(text));
    }

    Ok(Inbound {
        content,
        kind,
        media: stored_media,
        media_id,
    })
}

/// A customer writes to the bot: the message is stored and an update is queued.
pub(super) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt> {
    let now = shared.now_ms();
    {
        let account = state.account(account_id)?;
        let customer = account.customer(customer_id)?;
        if customer.blocked {
            return Err(Error::invalid_input(
                "the customer blocked the bot; unblock first (Telegram delivers nothing from them)",
            ));
        }
    }
    let Inbound {
        content,
        kind,
        media: stored_media,
        media_id,
    } = inbound_content(state, account_id, message)?;

    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    let reply_raw = match &message.reply_to {
        Some(reply) => Some(
            customer
                .message(reply)
                .and_then(|m| m.raw.clone())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message to reply to"))?,
        ),
        None => None,
    };
    let message_id = customer.next_message_id;
    customer.next_message_id += 1;
    customer.last_inbound_ms = Some(now);
    let mut msg = json!({
        "message_id": message_id,
        "from": user_json(customer),
        "chat": chat_json(customer),
        "date": now.div_euclid(1000),
    });
    if let Some(reply) = reply_raw {
        msg["reply_to_message"] = reply;
    }
    for (k, v) in content {
        msg[k] = v;
    }
    let mut stored =
        StoredMessage::new(message_id.to_string(), MessageDirection::Inbound, kind, now);
    stored.text = message.text.clone().filter(|_| message.media.is_none());
    stored.caption = message.caption.clone().filter(|_| message.media.is_some());
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    stored.raw = Some(msg.clone());
    customer.messages.push(stored);
    let update_id = push_update(account, "message", msg, now);
    tracing::debug!(
        account = %account_id,
        kind = kind.as_str(),
        "sandbox telegram: customer message queued"
    );
    Ok(InboundReceipt {
        message_id: message_id.to_string(),
        update_id,
        media_id,
    })
}

/// The customer blocks or unblocks the bot: a `my_chat_member` update is queued.
pub(super) fn customer_blocks(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    blocked: bool,
) -> Result<()> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let bot_user = bot(account)
        .map(|bot| bot_user_json(account, bot))
        .ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    let customer = account.customer_mut(customer_id)?;
    if customer.blocked == blocked {
        return Ok(());
    }
    customer.blocked = blocked;
    let (old, new) = if blocked {
        ("member", "kicked")
    } else {
        ("kicked", "member")
    };
    let mut new_member = json!({ "user": bot_user, "status": new });
    if blocked {
        new_member["until_date"] = json!(0);
    }
    let payload = json!({
        "chat": chat_json(customer),
        "from": user_json(customer),
        "date": now.div_euclid(1000),
        "old_chat_member": { "user": bot_user, "status": old },
        "new_chat_member": new_member,
    });
    push_update(account, "my_chat_member", payload, now);
    Ok(())
}

/// The customer reads: Telegram reports nothing to the bot, only the sandbox state changes.
pub(super) fn customer_reads(
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize> {
    let customer = state.account_mut(account_id)?.customer_mut(customer_id)?;
    Ok(mark_outbound_read(customer, up_to, &[MessageStatus::Sent])?.len())
}
