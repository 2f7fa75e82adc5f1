//! What the community does with messages (vk.md §2, §4): `messages.send` (text up to 9000
//! characters, attachments, replies by `reply_to` or by `forward` with
//! `conversation_message_ids`, one peer by `peer_id` or a list by `peer_ids`), with
//! `random_id` de-duplication and the consent rules; `messages.edit`, `messages.delete`
//! (`delete_for_all`, by `message_ids` or `cmids`) and `messages.markAsRead`.
//!
//! Every message the community sends produces a `message_reply` event (`out: 1`), and every
//! edit a `message_edit`, as VK sends them to Long Poll and the Callback server.

use serde_json::{Value, json};

use super::customer::{may_write, message_json, peer_of, stored_id};
use super::envelope::{Params, VkError};
use super::files::{Resolved, resolve_attachments};
use super::updates::push_event;
use super::{
    EDIT_WINDOW_MS, MAX_ATTACHMENTS, SentRecord, TEXT_LIMIT, community, community_mut, is_chat,
};
use crate::api::{MessageDirection, MessageKind, MessageStatus};
use crate::state::{Account, Shared, State, StoredMessage};

/// The message replied to: by its id (`reply_to`) or its number (`forward` with `is_reply`).
#[derive(Clone, Copy)]
enum ReplyRef {
    Id(i64),
    Cmid(i64),
}

/// Finds a message of a conversation by id or conversation message id.
fn find(account: &Account, customer: &str, reference: ReplyRef) -> Option<usize> {
    let customer = account.customers.get(customer)?;
    customer.messages.iter().position(|m| {
        let field = |name: &str| {
            m.raw
                .as_ref()
                .and_then(|r| r.get(name))
                .and_then(Value::as_i64)
        };
        match reference {
            ReplyRef::Id(id) => id != 0 && field("id") == Some(id),
            ReplyRef::Cmid(cmid) => field("conversation_message_id") == Some(cmid),
        }
    })
}

/// What one send asks for.
struct Request<'a> {
    random_id: i64,
    text: &'a str,
    attachment: Option<&'a str>,
    reply: Option<ReplyRef>,
    now_ms: i64,
}

/// `messages.send`.
pub(super) fn send(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, VkError> {
    let random_id = params
        .int("random_id")?
        .ok_or_else(|| VkError::param("random_id is a required parameter"))?;
    let text = params.get("message").unwrap_or_default();
    if text.chars().count() > TEXT_LIMIT {
        return Err(VkError::new(914, "Message is too long"));
    }
    let attachment = params.non_empty("attachment");
    if attachment
        .is_some_and(|a| a.split(',').filter(|s| !s.trim().is_empty()).count() > MAX_ATTACHMENTS)
    {
        return Err(VkError::param(
            "attachment is too long: at most 10 attachments",
        ));
    }
    if text.trim().is_empty() && attachment.is_none() {
        return Err(VkError::param("message is empty or invalid"));
    }
    let (peers, listed) = match params.ints("peer_ids")? {
        Some(list) => (list, true),
        None => match params.int("peer_id")?.or(params.int("user_id")?) {
            Some(peer) => (vec![peer], false),
            None => {
                return Err(VkError::param(
                    "you should specify peer_id, user_id, domain, chat_id or user_ids param",
                ));
            }
        },
    };
    if peers.is_empty() || peers.len() > 100 {
        return Err(VkError::param("peer_ids should have 1 to 100 peers"));
    }
    let reply = match (params.int("reply_to")?, params.non_empty("forward")) {
        (Some(id), _) => Some(ReplyRef::Id(id)),
        (None, Some(forward)) => {
            let forward: Value =
                serde_json::from_str(forward).map_err(|_| VkError::param("forward is invalid"))?;
            let cmid = forward
                .get("conversation_message_ids")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_i64);
            match (cmid, forward.get("is_reply").and_then(Value::as_bool)) {
                (Some(cmid), Some(true)) => Some(ReplyRef::Cmid(cmid)),
                // Forwarding without replying is not modelled: the message goes out alone.
                (Some(_), _) => None,
                (None, _) => return Err(VkError::param("forward is invalid")),
            }
        }
        (None, None) => None,
    };
    let request = Request {
        random_id,
        text,
        attachment,
        reply,
        now_ms: shared.now_ms(),
    };
    let mut state = shared.lock();
    if !listed {
        let record = send_one(&mut state, account_id, peers[0], &request)?;
        return Ok(json!(record.message_id));
    }
    let items: Vec<Value> = peers
        .iter()
        .map(
            |peer| match send_one(&mut state, account_id, *peer, &request) {
                Ok(record) => json!({
                    "peer_id": peer,
                    "message_id": record.message_id,
                    "conversation_message_id": record.cmid,
                }),
                Err(err) => json!({ "peer_id": peer, "error": err.item() }),
            },
        )
        .collect();
    Ok(Value::Array(items))
}

/// One recipient of a send.
fn send_one(
    state: &mut State,
    account_id: &str,
    peer: i64,
    request: &Request<'_>,
) -> Result<SentRecord, VkError> {
    let account = state
        .account(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let community = community(account).ok_or_else(VkError::auth_invalid)?;
    // VK drops a second message with the same random_id to the same peer: the first one's id,
    // nothing stored (the exact answer is UNCONFIRMED).
    if request.random_id != 0
        && let Some(record) = community.sent.get(&(peer, request.random_id))
    {
        tracing::debug!(account = %account_id, "sandbox vk: repeated random_id, nothing sent");
        return Ok(*record);
    }
    let group_id = community.group_id;
    let customer_id = peer.to_string();
    match account.customers.get(&customer_id) {
        Some(customer) => may_write(state, customer)?,
        None if is_chat(peer) => return Err(VkError::no_chat_access()),
        None if peer > 0 => return Err(VkError::no_permission()),
        None => return Err(VkError::param("peer_id is invalid")),
    }
    let attachments: Vec<Resolved> = match request.attachment {
        Some(list) => resolve_attachments(state, account_id, group_id, list)?,
        None => Vec::new(),
    };
    let replied = match request.reply {
        Some(reference) => {
            let index = find(account, &customer_id, reference).ok_or_else(|| match reference {
                ReplyRef::Id(_) => VkError::param("reply_to is invalid"),
                ReplyRef::Cmid(_) => VkError::param("forward is invalid"),
            })?;
            let message = &account.customers[&customer_id].messages[index];
            Some((message.id.clone(), message.raw.clone()))
        }
        None => None,
    };

    let account = state
        .account_mut(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let community = community_mut(account).ok_or_else(VkError::auth_invalid)?;
    let id = if is_chat(peer) {
        0
    } else {
        let id = community.next_message_id;
        community.next_message_id += 1;
        id
    };
    let customer = account
        .customers
        .get_mut(&customer_id)
        .ok_or_else(VkError::no_permission)?;
    let cmid = customer.next_message_id;
    customer.next_message_id += 1;
    let mut msg = message_json(
        id,
        cmid,
        request.now_ms.div_euclid(1000),
        peer_of(customer),
        -group_id,
        true,
        request.text,
        attachments.iter().map(|a| a.json.clone()).collect(),
    );
    msg["random_id"] = json!(request.random_id);
    let mut stored = StoredMessage::new(
        stored_id(id, cmid),
        MessageDirection::Outbound,
        attachments.first().map_or(MessageKind::Text, |a| a.kind),
        request.now_ms,
    );
    let text = Some(request.text.to_string()).filter(|t| !t.is_empty());
    if let Some(first) = attachments.into_iter().next() {
        stored.caption = text;
        stored.media = Some(first.stored);
    } else {
        stored.text = text;
    }
    if let Some((reply_id, raw)) = replied {
        stored.reply_to = Some(reply_id);
        if let Some(raw) = raw {
            msg["reply_message"] = raw;
        }
    }
    stored.raw = Some(msg.clone());
    tracing::debug!(
        account = %account_id,
        peer = %messenger_core::model::fingerprint(&customer_id),
        kind = stored.kind.as_str(),
        "sandbox vk: message sent"
    );
    customer.messages.push(stored);
    let record = SentRecord {
        message_id: id,
        cmid,
    };
    if request.random_id != 0
        && let Some(community) = community_mut(account)
    {
        community.sent.insert((peer, request.random_id), record);
    }
    push_event(account, "message_reply", msg);
    Ok(record)
}

/// The conversation of `peer_id` (required).
fn conversation(state: &State, account_id: &str, params: &Params) -> Result<String, VkError> {
    let peer = params
        .int("peer_id")?
        .ok_or_else(|| VkError::param("peer_id is undefined"))?;
    let account = state
        .account(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let id = peer.to_string();
    if account.customers.contains_key(&id) {
        Ok(id)
    } else if is_chat(peer) {
        Err(VkError::no_chat_access())
    } else {
        Err(VkError::no_permission())
    }
}

/// `messages.edit(peer_id, message_id | cmid, message)`: the community's own messages, within
/// 24 hours; a `message_edit` event follows.
pub(super) fn edit(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, VkError> {
    let text = params.get("message").unwrap_or_default();
    if text.chars().count() > TEXT_LIMIT {
        return Err(VkError::new(914, "Message is too long"));
    }
    if text.trim().is_empty() {
        return Err(VkError::param("message is empty or invalid"));
    }
    let reference = match (params.int("message_id")?, params.int("cmid")?) {
        (Some(id), _) => ReplyRef::Id(id),
        (None, Some(cmid)) => ReplyRef::Cmid(cmid),
        (None, None) => return Err(VkError::param("message_id or cmid is undefined")),
    };
    let now = shared.now_ms();
    let mut state = shared.lock();
    let customer_id = conversation(&state, account_id, params)?;
    let account = state
        .account_mut(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let index = find(account, &customer_id, reference)
        .ok_or_else(|| VkError::param("message_id is invalid"))?;
    let customer = account
        .customers
        .get_mut(&customer_id)
        .ok_or_else(VkError::no_permission)?;
    let message = &mut customer.messages[index];
    if message.direction != MessageDirection::Outbound {
        return Err(VkError::new(920, "Can't edit this kind of message"));
    }
    if now - message.at_ms > EDIT_WINDOW_MS {
        return Err(VkError::new(
            909,
            "Can't edit this message, because it's too old",
        ));
    }
    if message.media.is_some() {
        message.caption = Some(text.to_string());
    } else {
        message.text = Some(text.to_string());
    }
    let mut raw = message.raw.clone().unwrap_or(Value::Null);
    raw["text"] = json!(text);
    raw["update_time"] = json!(now.div_euclid(1000));
    message.raw = Some(raw.clone());
    push_event(account, "message_edit", raw);
    tracing::debug!(account = %account_id, "sandbox vk: message edited");
    Ok(json!(1))
}

/// `messages.delete(peer_id, message_ids | cmids, delete_for_all)`: one item per message.
/// With `delete_for_all` the community's own messages of the last 24 hours leave the
/// customer's phone (924 otherwise); without it they are deleted for the community only, which
/// the customer does not see.
pub(super) fn delete(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, VkError> {
    let references: Vec<ReplyRef> = match (params.ints("message_ids")?, params.ints("cmids")?) {
        (Some(ids), _) => ids.into_iter().map(ReplyRef::Id).collect(),
        (None, Some(cmids)) => cmids.into_iter().map(ReplyRef::Cmid).collect(),
        (None, None) => return Err(VkError::param("message_ids or cmids is undefined")),
    };
    let for_all = params.flag("delete_for_all");
    let now = shared.now_ms();
    let mut state = shared.lock();
    let customer_id = conversation(&state, account_id, params)?;
    let account = state
        .account_mut(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let peer = params.int("peer_id")?.unwrap_or_default();
    let mut items = Vec::new();
    for reference in references {
        let (id, cmid) = match reference {
            ReplyRef::Id(id) => (id, 0),
            ReplyRef::Cmid(cmid) => (0, cmid),
        };
        let Some(index) = find(account, &customer_id, reference) else {
            items.push(json!({ "peer_id": peer, "message_id": id, "conversation_message_id": cmid,
                "error": VkError::new(100, "One of the parameters specified was missing or invalid: message not found").item() }));
            continue;
        };
        let customer = account
            .customers
            .get_mut(&customer_id)
            .ok_or_else(VkError::no_permission)?;
        let message = &customer.messages[index];
        let raw_id = |name: &str| {
            message
                .raw
                .as_ref()
                .and_then(|r| r.get(name))
                .and_then(Value::as_i64)
                .unwrap_or_default()
        };
        let (id, cmid) = (raw_id("id"), raw_id("conversation_message_id"));
        if for_all
            && (message.direction != MessageDirection::Outbound
                || now - message.at_ms > EDIT_WINDOW_MS)
        {
            items.push(
                json!({ "peer_id": peer, "message_id": id, "conversation_message_id": cmid,
                "error": VkError::new(924, "Can't delete this message for everybody").item() }),
            );
            continue;
        }
        if for_all {
            customer.messages.remove(index);
        }
        items.push(json!({ "peer_id": peer, "message_id": id, "conversation_message_id": cmid, "response": 1 }));
    }
    tracing::debug!(account = %account_id, count = items.len(), for_all, "sandbox vk: messages deleted");
    Ok(Value::Array(items))
}

/// `messages.markAsRead(peer_id, start_message_id | up_to_cmid, mark_conversation_as_read)`:
/// the customer's messages up to the one named (all with `mark_conversation_as_read=1`)
/// become read by the community.
pub(super) fn mark_as_read(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let reference = match (params.int("start_message_id")?, params.int("up_to_cmid")?) {
        (Some(id), _) => Some(ReplyRef::Id(id)),
        (None, Some(cmid)) => Some(ReplyRef::Cmid(cmid)),
        (None, None) => None,
    };
    let whole = params.flag("mark_conversation_as_read");
    if let Some(group_id) = params.int("group_id")? {
        let state = shared.lock();
        let own = state
            .account(account_id)
            .ok()
            .and_then(community)
            .is_some_and(|c| c.group_id == group_id.abs());
        if !own {
            return Err(VkError::new(15, "Access denied: no access to this group"));
        }
    }
    let mut state = shared.lock();
    let customer_id = conversation(&state, account_id, params)?;
    let account = state
        .account_mut(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let limit = match (whole, reference) {
        (true, _) | (false, None) => None,
        (false, Some(reference)) => Some(
            find(account, &customer_id, reference)
                .ok_or_else(|| VkError::param("start_message_id is invalid"))?,
        ),
    };
    let customer = account
        .customers
        .get_mut(&customer_id)
        .ok_or_else(VkError::no_permission)?;
    let end = limit.map_or(customer.messages.len(), |i| i + 1);
    let mut read = 0;
    for message in customer.messages.iter_mut().take(end) {
        if message.direction == MessageDirection::Inbound
            && message.status == MessageStatus::Received
        {
            message.status = MessageStatus::Read;
            read += 1;
        }
    }
    tracing::debug!(account = %account_id, read, "sandbox vk: marked as read");
    Ok(json!(1))
}
