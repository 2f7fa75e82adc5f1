//! The reading side (avito.md §2, §3): getChatsV2 (`unread_only`, `chat_types`, `item_ids`,
//! `limit`, `offset`), getChatByIdV2, getMessagesV3 (newest first, `limit`, `offset`; each
//! message with `is_read` and `read`; reading does not mark the chat read) and chatRead.
//!
//! `is_read` is whether the account has read a message: its own always, a customer's once
//! `chatRead` marked the chat. `read` is when the counterpart read it: the customer, for the
//! account's messages (set by the control API's read); the account, for the customer's.

use axum::extract::{Path, Request};
use axum::response::Response;
use serde_json::{Value, json};

use super::customer::{buyer_id, chat_type, item_id};
use super::envelope::{AvitoError, bool_param, int_param, list_param, ok, query};
use super::{Caller, ChatPath, Scope, St, api, now_secs, own_path, shop};
use crate::api::{MessageDirection, MessageStatus};
use crate::state::{Account, Customer, Shared, StoredMessage};

/// A stored message as getMessagesV3 shows it to the account.
pub(super) fn message_json(stored: &StoredMessage) -> Value {
    let mut value = stored
        .raw
        .clone()
        .unwrap_or_else(|| json!({ "id": stored.id }));
    let is_read = match stored.direction {
        MessageDirection::Outbound => true,
        MessageDirection::Inbound => stored.status == MessageStatus::Read,
    };
    value["is_read"] = json!(is_read);
    if value.get("read").is_none() {
        value["read"] = Value::Null;
    }
    value
}

/// Whether the account has customer messages it has not read in this chat.
fn unread(customer: &Customer) -> bool {
    customer
        .messages
        .iter()
        .any(|m| m.direction == MessageDirection::Inbound && m.status == MessageStatus::Received)
}

/// A chat (`Chat`): its listing, its last message, its two users.
fn chat_json(account: &Account, customer: &Customer, now: i64) -> Value {
    let user_id = shop(account).map_or(0, |s| s.user_id);
    let created = customer
        .messages
        .first()
        .map_or(now, |m| m.at_ms.div_euclid(1000));
    let updated = customer
        .messages
        .last()
        .map_or(created, |m| m.at_ms.div_euclid(1000));
    let mut chat = json!({
        "id": customer.id,
        "created": created,
        "updated": updated,
        "users": [
            { "id": user_id, "name": account.name },
            { "id": buyer_id(&customer.id), "name": customer.name },
        ],
    });
    if let Some(item) = item_id(&customer.id) {
        chat["context"] = json!({
            "type": "item",
            "value": {
                "id": item,
                "title": format!("Sandbox listing {item}"),
                "url": format!("https://www.avito.ru/{item}"),
                "price_string": "1 000 ₽",
                "status_id": 0,
                "user_id": user_id,
            },
        });
    }
    if let Some(last) = customer.messages.last() {
        chat["last_message"] = message_json(last);
    }
    chat
}

/// The chat of the caller's account, or 404.
fn with_chat<T>(
    shared: &Shared,
    caller: &Caller,
    chat: &str,
    f: impl FnOnce(&Account, &Customer) -> T,
) -> Result<T, AvitoError> {
    let state = shared.lock();
    let account = state
        .account(&caller.account)
        .map_err(|_| AvitoError::unauthorized())?;
    let customer = account
        .customers
        .get(chat)
        .ok_or_else(|| AvitoError::not_found("Chat not found"))?;
    Ok(f(account, customer))
}

/// `GET /messenger/v2/accounts/{user_id}/chats`.
pub(super) async fn list(
    axum::extract::State(shared): St,
    Path(user): Path<String>,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "getChatsV2",
        Scope::Read,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let q = query(req.uri());
            let unread_only = bool_param(&q, "unread_only")?;
            let limit = int_param(&q, "limit", 100, 1..=100)?;
            let offset = int_param(&q, "offset", 0, 0..=1000)?;
            let mut types = list_param(&q, "chat_types");
            if types.is_empty() {
                types.push("u2i".to_string());
            }
            let items: Vec<i64> = list_param(&q, "item_ids")
                .iter()
                .map(|i| {
                    i.parse()
                        .map_err(|_| AvitoError::validation("item_ids", "expected integers"))
                })
                .collect::<Result<_, _>>()?;
            let now = now_secs(&shared);
            let state = shared.lock();
            let account = state
                .account(&caller.account)
                .map_err(|_| AvitoError::unauthorized())?;
            let mut chats: Vec<(i64, Value)> = account
                .customers
                .values()
                .filter(|c| types.iter().any(|t| t == chat_type(&c.id)))
                .filter(|c| !unread_only || unread(c))
                .filter(|c| items.is_empty() || item_id(&c.id).is_some_and(|i| items.contains(&i)))
                .map(|c| {
                    let chat = chat_json(account, c, now);
                    (chat["updated"].as_i64().unwrap_or(0), chat)
                })
                .collect();
            chats.sort_by_key(|(updated, _)| std::cmp::Reverse(*updated));
            let chats: Vec<Value> = chats
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(0))
                .take(usize::try_from(limit).unwrap_or(100))
                .map(|(_, c)| c)
                .collect();
            Ok(json!({ "chats": chats }))
        },
    )
    .await
}

/// `GET /messenger/v2/accounts/{user_id}/chats/{chat_id}`.
pub(super) async fn one(
    axum::extract::State(shared): St,
    Path((user, chat)): ChatPath,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "getChatByIdV2",
        Scope::Read,
        |shared, caller, _req| async move {
            own_path(&caller, &user)?;
            let now = now_secs(&shared);
            with_chat(&shared, &caller, &chat, |account, customer| {
                chat_json(account, customer, now)
            })
        },
    )
    .await
}

/// `GET /messenger/v3/accounts/{user_id}/chats/{chat_id}/messages/`: the latest messages,
/// newest first (the spec's array).
pub(super) async fn messages(
    axum::extract::State(shared): St,
    Path((user, chat)): ChatPath,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "getMessagesV3",
        Scope::Read,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let q = query(req.uri());
            let limit = int_param(&q, "limit", 100, 1..=100)?;
            let offset = int_param(&q, "offset", 0, 0..=1000)?;
            with_chat(&shared, &caller, &chat, |_, customer| {
                Value::Array(
                    customer
                        .messages
                        .iter()
                        .rev()
                        .skip(usize::try_from(offset).unwrap_or(0))
                        .take(usize::try_from(limit).unwrap_or(100))
                        .map(message_json)
                        .collect(),
                )
            })
        },
    )
    .await
}

/// `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/read`: the account has read every
/// message of the chat.
pub(super) async fn read(
    axum::extract::State(shared): St,
    Path((user, chat)): ChatPath,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "chatRead",
        Scope::Write,
        |shared, caller, _req| async move {
            own_path(&caller, &user)?;
            let now = now_secs(&shared);
            let mut state = shared.lock();
            let customer = state
                .account_mut(&caller.account)
                .map_err(|_| AvitoError::unauthorized())?
                .customers
                .get_mut(&chat)
                .ok_or_else(|| AvitoError::not_found("Chat not found"))?;
            let mut marked = 0;
            for m in &mut customer.messages {
                if m.direction == MessageDirection::Inbound && m.status == MessageStatus::Received {
                    m.status = MessageStatus::Read;
                    if let Some(raw) = m.raw.as_mut() {
                        raw["read"] = json!(now);
                    }
                    marked += 1;
                }
            }
            tracing::debug!(account = %caller.account, marked, "sandbox avito: chat read");
            Ok(ok())
        },
    )
    .await
}
