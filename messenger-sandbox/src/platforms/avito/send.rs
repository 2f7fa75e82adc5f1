//! What the account sends (avito.md §2): text (`{"message": {"text"}, "type": "text"}`, at
//! most 1 000 characters), images (`{"image_id"}` of one of its own uploads) and deletes of its
//! own messages within the hour (the message stays, of type `deleted`). Each message sent is
//! pushed to the webhook too, as the account's own.

use axum::extract::{Path, Request};
use axum::response::Response;
use serde_json::{Value, json};

use super::customer::{chat_type, item_id, message_raw};
use super::envelope::AvitoError;
use super::files::{largest, sizes};
use super::{
    Caller, ChatPath, DELETE_WINDOW, Scope, St, TEXT_LIMIT, api, now_secs, own_path, random_hex,
    read_body, root, store, webhook,
};
use crate::api::{MessageDirection, MessageKind};
use crate::state::{Shared, StoredMedia, StoredMessage};

/// One message the account sends.
struct Outbound {
    kind: MessageKind,
    avito_type: &'static str,
    content: Value,
    text: Option<String>,
    media: Option<StoredMedia>,
}

/// Stores one outbound message in `chat` and pushes it to the webhook; the send's answer.
fn store_outbound(
    shared: &Shared,
    caller: &Caller,
    chat: &str,
    outbound: Outbound,
) -> Result<Value, AvitoError> {
    let Outbound {
        kind,
        avito_type,
        content,
        text,
        media,
    } = outbound;
    let now = now_secs(shared);
    let id = random_hex(32);
    let raw = message_raw(&id, caller.user_id, now, "out", avito_type, content.clone());
    let mut state = shared.lock();
    let account = state
        .account_mut(&caller.account)
        .map_err(|_| AvitoError::unauthorized())?;
    let customer = account
        .customers
        .get_mut(chat)
        .ok_or_else(|| AvitoError::not_found("Chat not found"))?;
    if customer.blocked {
        return Err(AvitoError::bad_request("The user has blocked this chat"));
    }
    let mut stored = StoredMessage::new(
        id.clone(),
        MessageDirection::Outbound,
        kind,
        now.saturating_mul(1000),
    );
    stored.text = text;
    stored.media = media;
    stored.raw = Some(raw);
    customer.messages.push(stored);
    let value = json!({
        "id": id,
        "chat_id": chat,
        "chat_type": chat_type(chat),
        "user_id": caller.user_id,
        "author_id": caller.user_id,
        "created": now,
        "type": avito_type,
        "content": content,
        "item_id": item_id(chat),
        "read": null,
    });
    webhook::push(account, now, value, &id);
    tracing::debug!(account = %caller.account, kind = avito_type, "sandbox avito: message sent");
    Ok(json!({
        "id": id,
        "author_id": caller.user_id,
        "created": now,
        "direction": "out",
        "type": avito_type,
        "content": content,
    }))
}

/// `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages`.
pub(super) async fn text(
    axum::extract::State(shared): St,
    Path((user, chat)): ChatPath,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "postSendMessage",
        Scope::Write,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let body = read_body(req, 64 * 1024).await?;
            let body: Value = serde_json::from_slice(&body)
                .map_err(|_| AvitoError::bad_request("Invalid JSON body"))?;
            match body.get("type").and_then(Value::as_str) {
                Some("text") => {}
                _ => return Err(AvitoError::validation("type", "only text can be sent")),
            }
            let text = body
                .pointer("/message/text")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| AvitoError::validation("message.text", "must not be empty"))?;
            if text.chars().count() > TEXT_LIMIT {
                return Err(AvitoError::validation(
                    "message.text",
                    &format!("must be at most {TEXT_LIMIT} characters"),
                ));
            }
            store_outbound(
                &shared,
                &caller,
                &chat,
                Outbound {
                    kind: MessageKind::Text,
                    avito_type: "text",
                    content: json!({ "text": text }),
                    text: Some(text.to_string()),
                    media: None,
                },
            )
        },
    )
    .await
}

/// `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages/image`.
pub(super) async fn image(
    axum::extract::State(shared): St,
    Path((user, chat)): ChatPath,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "postSendImageMessage",
        Scope::Write,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let body = read_body(req, 64 * 1024).await?;
            let body: Value = serde_json::from_slice(&body)
                .map_err(|_| AvitoError::bad_request("Invalid JSON body"))?;
            let image_id = body
                .get("image_id")
                .and_then(Value::as_str)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| AvitoError::validation("image_id", "is required"))?;
            let root = root(&shared);
            let (key, media) = {
                let mut state = shared.lock();
                let image = store(&mut state)
                    .images
                    .get(image_id)
                    .filter(|i| i.owner == caller.account)
                    .map(|i| (i.key.clone(), i.blob))
                    .ok_or_else(|| AvitoError::validation("image_id", "unknown image"))?;
                let blob = state.blobs.get(&image.1);
                let media = StoredMedia {
                    blob: Some(image.1),
                    mime: blob.map(|b| b.mime.clone()),
                    reference: Some(image_id.to_string()),
                    url: Some(largest(&root, &image.0)),
                    ..StoredMedia::default()
                };
                (image.0, media)
            };
            store_outbound(
                &shared,
                &caller,
                &chat,
                Outbound {
                    kind: MessageKind::Image,
                    avito_type: "image",
                    content: json!({ "image": { "sizes": sizes(&root, &key) } }),
                    text: None,
                    media: Some(media),
                },
            )
        },
    )
    .await
}

/// `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages/{message_id}`: deletes one
/// of the account's messages, within the hour.
pub(super) async fn delete(
    axum::extract::State(shared): St,
    Path((user, chat, message)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "deleteMessage",
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
            let stored = customer
                .messages
                .iter_mut()
                .find(|m| m.id == message)
                .ok_or_else(|| AvitoError::not_found("Message not found"))?;
            if stored.direction != MessageDirection::Outbound {
                return Err(AvitoError::bad_request("Only own messages can be deleted"));
            }
            let age = now - stored.at_ms.div_euclid(1000);
            if age > i64::try_from(DELETE_WINDOW.as_secs()).unwrap_or(i64::MAX) {
                return Err(AvitoError::bad_request(
                    "A message can be deleted within an hour of sending",
                ));
            }
            stored.kind = MessageKind::Other;
            stored.text = None;
            stored.caption = None;
            stored.media = None;
            if let Some(raw) = stored.raw.as_mut() {
                raw["type"] = json!("deleted");
                raw["content"] = json!({});
            }
            tracing::debug!(account = %caller.account, "sandbox avito: message deleted");
            Ok(json!({}))
        },
    )
    .await
}
