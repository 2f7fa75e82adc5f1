//! Customers of a community (users, and group chats the community is in) and the customer's
//! side the control API plays: messages (`message_new`), reads (`message_read`), "Allow
//! messages" / "Deny messages" (`message_allow` / `message_deny`), and
//! `messages.isMessagesFromGroupAllowed`.
//!
//! Consent (vk.md §2.3): a community may write to a user who wrote to it or allowed its
//! messages, and to nobody else (901); a user who denied them gets nothing (901) until they
//! write or allow again; a user who blacklisted the community gets nothing (900).

use std::collections::HashMap;

use messenger_core::{Error, ErrorKind, Result};
use serde_json::{Value, json};

use super::envelope::{Params, VkError};
use super::files::customer_media;
use super::updates::push_event;
use super::{TEXT_LIMIT, community, community_mut, is_chat};
use crate::api::{
    CustomerMessage, InboundReceipt, MessageDirection, MessageKind, MessageStatus, NewCustomer,
};
use crate::platforms::mark_outbound_read;
use crate::state::{Customer, Shared, State, StoredMessage};

/// Whether a user lets the community write to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Consent {
    /// Never wrote, never allowed.
    #[default]
    Unknown,
    /// Wrote to the community or pressed "Allow messages".
    Allowed,
    /// Pressed "Deny messages".
    Denied,
}

/// The VK part of a customer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct VkUser {
    pub consent: Consent,
    /// In a group chat: the member who writes and reads (`from_id`); for a user, the user.
    pub member_id: i64,
}

/// Every VK customer's part, by the customer's sandbox-wide `seq` (a sandbox-wide store).
#[derive(Default)]
pub(super) struct Users(HashMap<u64, VkUser>);

/// The VK part of the customer with `seq`.
pub(super) fn user(state: &State, seq: u64) -> VkUser {
    state
        .stores
        .get::<Users>()
        .and_then(|u| u.0.get(&seq).copied())
        .unwrap_or_default()
}

fn user_mut(state: &mut State, seq: u64) -> &mut VkUser {
    state
        .stores
        .get_or_default::<Users>()
        .0
        .entry(seq)
        .or_default()
}

/// The peer id of a customer (its id).
pub(super) fn peer_of(customer: &Customer) -> i64 {
    customer.id.parse().unwrap_or_default()
}

/// Builds a new customer: a user (a positive id below 2000000000) or a group chat (a peer id
/// from 2000000000 on, whose member writes). A user has not allowed messages unless
/// `allows_messages` says so; the community is a member of a group chat, so it may write there.
pub(super) fn new_customer(state: &mut State, new: &NewCustomer) -> Result<Customer> {
    let seq = state.next_seq();
    let id: i64 = match new.id.as_deref() {
        Some(id) => id
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::invalid_input("a VK user id or chat peer id is positive"))?,
        None => 100_000_000 + i64::try_from(seq).unwrap_or(0),
    };
    let chat = is_chat(id);
    let consent = match (chat, new.allows_messages) {
        (true, _) | (false, Some(true)) => Consent::Allowed,
        (false, Some(false)) => Consent::Denied,
        (false, None) => Consent::Unknown,
    };
    let member_id = if chat {
        300_000_000 + i64::try_from(seq).unwrap_or(0)
    } else {
        id
    };
    *user_mut(state, seq) = VkUser { consent, member_id };
    let default_name = if chat { "Group chat" } else { "Customer" };
    let mut customer = Customer::new(
        id.to_string(),
        seq,
        new.name.as_deref().unwrap_or(default_name).to_string(),
        None,
    );
    customer.username.clone_from(&new.username);
    Ok(customer)
}

/// The `messages_message` object of a message (`id` 0 for a community's messages and every
/// message in a group chat, where only `conversation_message_id` names it).
#[allow(clippy::too_many_arguments)]
pub(super) fn message_json(
    id: i64,
    cmid: i64,
    date: i64,
    peer: i64,
    from: i64,
    out: bool,
    text: &str,
    attachments: Vec<Value>,
) -> Value {
    json!({
        "id": id,
        "date": date,
        "peer_id": peer,
        "from_id": from,
        "out": u8::from(out),
        "text": text,
        "conversation_message_id": cmid,
        "version": 10_000_000 + cmid,
        "attachments": attachments,
        "fwd_messages": [],
        "important": false,
        "is_hidden": false,
    })
}

/// The stored id of a VK message: its id, or `c<cmid>` where the id is 0 (as the connector
/// writes it).
pub(super) fn stored_id(id: i64, cmid: i64) -> String {
    if id == 0 {
        format!("c{cmid}")
    } else {
        id.to_string()
    }
}

/// A customer writes to the community: the message is stored, the user may be answered from
/// now on, and a `message_new` event goes to Long Poll and the Callback server.
pub(super) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt> {
    let now = shared.now_ms();
    let (seq, peer) = {
        let customer = state.account(account_id)?.customer(customer_id)?;
        if customer.blocked {
            return Err(Error::invalid_input(
                "the customer blacklisted the community; unblock first",
            ));
        }
        (customer.seq, peer_of(customer))
    };
    let member = user(state, seq).member_id;
    let text = match (&message.media, &message.text, &message.caption) {
        (None, Some(text), _) if !text.is_empty() => text.clone(),
        (None, _, _) => {
            return Err(Error::invalid_input(
                "a customer message needs text or media",
            ));
        }
        // VK has no captions: the text travels with the attachment.
        (Some(_), _, caption) => caption.clone().unwrap_or_default(),
    };
    if text.chars().count() > TEXT_LIMIT {
        return Err(Error::invalid_input(
            "a VK message has at most 9000 characters",
        ));
    }
    let (attachments, kind, stored_media, media_id) = match &message.media {
        Some(upload) => {
            let media = customer_media(shared, state, account_id, member, upload, now)?;
            (
                vec![media.json],
                media.kind,
                Some(media.stored),
                Some(media.attachment),
            )
        }
        None => (Vec::new(), MessageKind::Text, None, None),
    };
    let account = state.account_mut(account_id)?;
    let id = {
        let community =
            community_mut(account).ok_or_else(|| Error::invalid_input("not a VK account"))?;
        if is_chat(peer) {
            0
        } else {
            let id = community.next_message_id;
            community.next_message_id += 1;
            id
        }
    };
    let customer = account.customer_mut(customer_id)?;
    let reply = match &message.reply_to {
        Some(reply) => Some(
            customer
                .message(reply)
                .and_then(|m| m.raw.clone())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message to reply to"))?,
        ),
        None => None,
    };
    let cmid = customer.next_message_id;
    customer.next_message_id += 1;
    customer.last_inbound_ms = Some(now);
    let mut msg = message_json(
        id,
        cmid,
        now.div_euclid(1000),
        peer,
        member,
        false,
        &text,
        attachments,
    );
    if let Some(reply) = reply {
        msg["reply_message"] = reply;
    }
    let message_id = stored_id(id, cmid);
    let mut stored = StoredMessage::new(message_id.clone(), MessageDirection::Inbound, kind, now);
    if stored_media.is_some() {
        stored.caption = Some(text).filter(|t| !t.is_empty());
    } else {
        stored.text = Some(text);
    }
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    stored.raw = Some(msg.clone());
    customer.messages.push(stored);
    let object = json!({
        "message": msg,
        "client_info": {
            "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
            "keyboard": true,
            "inline_keyboard": true,
            "carousel": true,
            "lang_id": 0,
        },
    });
    let ts = push_event(account, "message_new", object);
    // Writing to a community lets it answer (vk.md §2.3).
    if !is_chat(peer) {
        user_mut(state, seq).consent = Consent::Allowed;
    }
    tracing::debug!(account = %account_id, kind = kind.as_str(), "sandbox vk: customer message queued");
    Ok(InboundReceipt {
        message_id,
        update_id: ts.and_then(|ts| i64::try_from(ts).ok()),
        media_id,
    })
}

/// The customer reads the community's messages up to `up_to` (all when `None`): they become
/// read, and one `message_read` event names the last of them.
pub(super) fn customer_reads(
    _shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize> {
    let seq = state.account(account_id)?.customer(customer_id)?.seq;
    let member = user(state, seq).member_id;
    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    let peer = peer_of(customer);
    let read = mark_outbound_read(customer, up_to, &[MessageStatus::Sent])?;
    let Some(last) = read.last() else {
        return Ok(0);
    };
    let raw = customer.message(last).and_then(|m| m.raw.clone());
    let field = |name: &str| {
        raw.as_ref()
            .and_then(|r| r.get(name))
            .and_then(Value::as_i64)
            .unwrap_or_default()
    };
    let object = json!({
        "from_id": member,
        "peer_id": peer,
        "read_message_id": field("id"),
        "conversation_message_id": field("conversation_message_id"),
    });
    push_event(account, "message_read", object);
    Ok(read.len())
}

/// "Allow messages" (`message_allow`) or "Deny messages" (`message_deny`); nothing happens
/// when the user's choice is already that.
pub(super) fn set_consent(
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    allowed: bool,
) -> Result<()> {
    let customer = state.account(account_id)?.customer(customer_id)?;
    let (seq, peer) = (customer.seq, peer_of(customer));
    if is_chat(peer) {
        return Err(Error::invalid_input(
            "a group chat has no message consent; its members write in it",
        ));
    }
    let wanted = if allowed {
        Consent::Allowed
    } else {
        Consent::Denied
    };
    let entry = user_mut(state, seq);
    if entry.consent == wanted {
        return Ok(());
    }
    entry.consent = wanted;
    let account = state.account_mut(account_id)?;
    if allowed {
        push_event(
            account,
            "message_allow",
            json!({ "user_id": peer, "key": "" }),
        );
    } else {
        push_event(account, "message_deny", json!({ "user_id": peer }));
    }
    tracing::debug!(account = %account_id, allowed, "sandbox vk: consent changed");
    Ok(())
}

/// Whether the community may write to the customer with `seq` now: `Ok` or the error VK
/// answers (900 blacklisted, 901 no consent).
pub(super) fn may_write(state: &State, customer: &Customer) -> Result<(), VkError> {
    if customer.blocked {
        return Err(VkError::blacklisted());
    }
    if is_chat(peer_of(customer)) {
        return Ok(());
    }
    match user(state, customer.seq).consent {
        Consent::Allowed => Ok(()),
        Consent::Unknown | Consent::Denied => Err(VkError::no_permission()),
    }
}

/// `messages.isMessagesFromGroupAllowed(group_id, user_id)` → `{"is_allowed": 0|1}`.
pub(super) fn is_allowed(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let group_id = params
        .int("group_id")?
        .ok_or_else(|| VkError::param("group_id is undefined"))?;
    let user_id = params
        .int("user_id")?
        .ok_or_else(|| VkError::param("user_id is undefined"))?;
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let own = community(account).is_some_and(|c| c.group_id == group_id.abs());
    if !own {
        return Err(VkError::new(15, "Access denied: no access to this group"));
    }
    let allowed = account
        .customers
        .get(&user_id.to_string())
        .filter(|c| !is_chat(peer_of(c)))
        .is_some_and(|c| may_write(&state, c).is_ok());
    Ok(json!({ "is_allowed": u8::from(allowed) }))
}
