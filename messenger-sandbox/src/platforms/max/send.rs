//! What the bot sends: `POST /messages?chat_id=|user_id=` (`NewMessageBody`: text up to 4000
//! characters, `format`, `notify`, `link` replies and forwards, attachments by token, `photos`,
//! image URL or sticker code), `PUT /messages?message_id=` (edits: `attachments: null` keeps
//! the attachments, `[]` removes them) and `DELETE /messages?message_id=` (max.md §3).

use std::sync::Arc;

use axum::extract::Request;
use serde_json::{Map, Value, json};

use super::accounts::bot_user;
use super::customer::{chat_of, customer_of_chat, next_mid, reply_link};
use super::envelope::{MaxError, int_param, query, refusal, success};
use super::files::{self, MediaKind};
use super::{TEXT_LIMIT, bot, bot_mut};
use crate::api::{MessageDirection, MessageKind};
use crate::state::{Shared, State, StoredMedia, StoredMessage};

/// A `NewMessageBody`, checked.
struct Draft {
    /// `None`: absent; `Some(None)`: `null`.
    text: Option<Option<String>>,
    format: Option<String>,
    /// `None`: absent or `null`.
    attachments: Option<Vec<Value>>,
    /// `(type, mid)` of `link`.
    link: Option<(String, String)>,
}

impl Draft {
    fn parse(body: &[u8]) -> Result<Self, MaxError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| MaxError::payload("Invalid JSON body"))?;
        let Value::Object(map) = value else {
            return Err(MaxError::payload("Invalid JSON body: expected an object"));
        };
        let text = match map.get("text") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(t)) => {
                if t.chars().count() > TEXT_LIMIT {
                    return Err(MaxError::payload(format!(
                        "text: size must be between 0 and {TEXT_LIMIT}"
                    )));
                }
                Some(Some(t.clone()).filter(|t| !t.is_empty()))
            }
            Some(_) => return Err(MaxError::payload("text: expected a string")),
        };
        let format = match map.get("format") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) if f == "markdown" || f == "html" => Some(f.clone()),
            Some(_) => {
                return Err(MaxError::payload("format: expected markdown, html or null"));
            }
        };
        match map.get("notify") {
            None | Some(Value::Null | Value::Bool(_)) => {}
            Some(_) => return Err(MaxError::payload("notify: expected a boolean")),
        }
        let attachments = match map.get("attachments") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => {
                if list
                    .iter()
                    .any(|a| a.get("type").and_then(Value::as_str).is_none())
                {
                    return Err(MaxError::payload(
                        "attachments: every attachment needs a type",
                    ));
                }
                Some(list.clone())
            }
            Some(_) => return Err(MaxError::payload("attachments: expected an array")),
        };
        let link = match map.get("link") {
            None | Some(Value::Null) => None,
            Some(link) => {
                let kind = link.get("type").and_then(Value::as_str);
                let mid = link
                    .get("mid")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty());
                match (kind, mid) {
                    (Some(kind @ ("reply" | "forward")), Some(mid)) => {
                        Some((kind.to_string(), mid.to_string()))
                    }
                    _ => {
                        return Err(MaxError::payload(
                            "link: expected {type: reply|forward, mid}",
                        ));
                    }
                }
            }
        };
        Ok(Self {
            text,
            format,
            attachments,
            link,
        })
    }
}

async fn read_body(shared: &Shared, req: Request) -> Result<bytes::Bytes, MaxError> {
    axum::body::to_bytes(req.into_body(), shared.config.max_request_bytes)
        .await
        .map_err(|_| MaxError::new(413, "proto.payload", "Request body too large"))
}

/// Attachments resolved against the store: what the message shows, and what the control view
/// stores (the first medium).
#[derive(Default)]
struct Resolved {
    out: Vec<Value>,
    kind: Option<MessageKind>,
    media: Option<StoredMedia>,
}

/// An attachment sent by token: the bot's own, of the right kind, processed.
fn by_token(
    state: &State,
    account_id: &str,
    token: &str,
    kind: MediaKind,
    now: i64,
) -> Result<(), MaxError> {
    let media = files::owned(state, account_id, token)
        .filter(|m| m.kind == kind)
        .ok_or_else(|| MaxError::payload(format!("Invalid {} attachment token", kind.as_str())))?;
    if media.ready(now) {
        Ok(())
    } else {
        Err(MaxError::not_ready())
    }
}

fn payload(attachment: &Value) -> Result<&Map<String, Value>, MaxError> {
    attachment
        .get("payload")
        .and_then(Value::as_object)
        .ok_or_else(|| MaxError::payload("attachment: payload is required"))
}

fn string_field<'a>(payload: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    payload
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks and resolves the attachments of a message (max.md §3.1): tokens must be the bot's
/// and processed (else `attachment.not.ready`), an image takes exactly one of `url`, `token`
/// and `photos`, and audio, file, sticker and contact go alone.
fn resolve(
    state: &mut State,
    account_id: &str,
    root: &str,
    list: &[Value],
    now: i64,
) -> Result<Resolved, MaxError> {
    let types: Vec<&str> = list
        .iter()
        .filter_map(|a| a.get("type").and_then(Value::as_str))
        .filter(|t| *t != "inline_keyboard")
        .collect();
    if types.len() > 1
        && types
            .iter()
            .any(|t| matches!(*t, "audio" | "file" | "sticker" | "contact"))
    {
        return Err(MaxError::payload(
            "attachments: audio, file, sticker and contact must be the only attachment",
        ));
    }
    // Check every token before anything is stored.
    let mut tokens: Vec<Option<(String, MediaKind)>> = Vec::new();
    for attachment in list {
        let kind = attachment.get("type").and_then(Value::as_str).unwrap_or("");
        let token = match kind {
            "image" => {
                let p = payload(attachment)?;
                let forms = ["url", "token", "photos"]
                    .iter()
                    .filter(|f| p.get(**f).is_some_and(|v| !v.is_null()))
                    .count();
                if forms != 1 {
                    return Err(MaxError::payload(
                        "image: payload takes exactly one of url, token and photos",
                    ));
                }
                if let Some(url) = string_field(p, "url") {
                    let parsed = url::Url::parse(url)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                    if parsed.is_none() {
                        return Err(MaxError::payload("image: url is not an http(s) URL"));
                    }
                    None
                } else if let Some(token) = string_field(p, "token") {
                    by_token(state, account_id, token, MediaKind::Image, now)?;
                    Some((token.to_string(), MediaKind::Image))
                } else {
                    let photos = p
                        .get("photos")
                        .and_then(Value::as_object)
                        .filter(|o| !o.is_empty())
                        .ok_or_else(|| MaxError::payload("image: photos is empty"))?;
                    let mut first = None;
                    for photo in photos.values() {
                        let token = photo
                            .get("token")
                            .and_then(Value::as_str)
                            .ok_or_else(|| MaxError::payload("image: a photo without token"))?;
                        by_token(state, account_id, token, MediaKind::Image, now)?;
                        first.get_or_insert_with(|| token.to_string());
                    }
                    first.map(|t| (t, MediaKind::Image))
                }
            }
            "video" | "audio" | "file" => {
                let media_kind = match kind {
                    "video" => MediaKind::Video,
                    "audio" => MediaKind::Audio,
                    _ => MediaKind::File,
                };
                let token = string_field(payload(attachment)?, "token").ok_or_else(|| {
                    MaxError::payload(format!("{kind}: payload.token is required"))
                })?;
                by_token(state, account_id, token, media_kind, now)?;
                Some((token.to_string(), media_kind))
            }
            "sticker" => {
                string_field(payload(attachment)?, "code")
                    .ok_or_else(|| MaxError::payload("sticker: payload.code is required"))?;
                None
            }
            "location" => {
                let ok = ["latitude", "longitude"]
                    .iter()
                    .all(|f| attachment.get(*f).and_then(Value::as_f64).is_some());
                if !ok {
                    return Err(MaxError::payload(
                        "location: latitude and longitude are required",
                    ));
                }
                None
            }
            "contact" | "share" | "inline_keyboard" => None,
            other => {
                return Err(MaxError::payload(format!(
                    "attachments: unknown type {other}"
                )));
            }
        };
        tokens.push(token);
    }

    let mut resolved = Resolved::default();
    for (attachment, token) in list.iter().zip(tokens) {
        let kind = attachment.get("type").and_then(Value::as_str).unwrap_or("");
        let token = match (kind, token) {
            (_, Some((token, _))) => Some(token),
            ("image", None) => {
                let url = attachment
                    .get("payload")
                    .and_then(|p| p.get("url"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Some(files::store_image_url(state, account_id, url))
            }
            ("sticker", None) => {
                let code = attachment
                    .get("payload")
                    .and_then(|p| p.get("code"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Some(files::store_sticker_code(state, account_id, code))
            }
            _ => None,
        };
        match token {
            Some(token) => {
                let shown = files::attachment_json(state, root, &token)
                    .unwrap_or_else(|| attachment.clone());
                resolved.out.push(shown);
                if resolved.media.is_none() {
                    let media_kind = files::owned(state, account_id, &token).map(|m| m.kind);
                    resolved.kind = media_kind.map(MediaKind::message_kind);
                    resolved.media = Some(files::stored_media(state, &token));
                }
            }
            None => {
                resolved.out.push(attachment.clone());
                if resolved.kind.is_none() && kind != "inline_keyboard" {
                    resolved.kind = Some(MessageKind::Other);
                }
            }
        }
    }
    Ok(resolved)
}

/// Where `POST /messages` sends.
enum Target {
    Chat(i64),
    User(i64),
}

fn target(query: &std::collections::HashMap<String, String>) -> Result<Target, MaxError> {
    match (int_param(query, "chat_id")?, int_param(query, "user_id")?) {
        (Some(chat), None) => Ok(Target::Chat(chat)),
        (None, Some(user)) => Ok(Target::User(user)),
        (Some(_), Some(_)) => Err(MaxError::payload(
            "Pass either chat_id or user_id, not both",
        )),
        (None, None) => Err(MaxError::payload(
            "Missing required parameter: chat_id or user_id",
        )),
    }
}

/// The customer and dialog a target names, refused where MAX refuses it.
fn recipient(state: &State, account_id: &str, target: &Target) -> Result<(String, i64), MaxError> {
    let account = state
        .account(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let bot = bot(account).ok_or_else(MaxError::verify_token)?;
    let (customer, chat) = match *target {
        Target::Chat(0) => {
            return Err(MaxError::new(403, "chat.denied", "Invalid chatId: 0"));
        }
        Target::Chat(chat) => {
            let customer = customer_of_chat(account, bot, chat).ok_or_else(|| {
                MaxError::new(404, "chat.not.found", format!("Chat {chat} not found"))
            })?;
            (customer, chat)
        }
        Target::User(user) => {
            let id = user.to_string();
            if user <= 0 || !account.customers.contains_key(&id) {
                return Err(MaxError::not_found(format!("User {user} not found")));
            }
            let chat = chat_of(bot, &id);
            (id, chat)
        }
    };
    if account.customers.get(&customer).is_some_and(|c| c.blocked) {
        return Err(MaxError::dialog_suspended(chat));
    }
    Ok((customer, chat))
}

fn max_root(shared: &Shared) -> String {
    shared
        .urls
        .platform(messenger_core::Platform::Max)
        .unwrap_or_default()
        .to_string()
}

/// `POST /messages?chat_id=|user_id=`: `{"message": Message}`.
pub(super) async fn send(
    shared: &Arc<Shared>,
    account_id: &str,
    req: Request,
) -> Result<Value, MaxError> {
    let query = query(req.uri());
    let body = read_body(shared, req).await?;
    let draft = Draft::parse(&body)?;
    let target = target(&query)?;
    let text = draft.text.clone().flatten();
    let list = draft.attachments.clone().unwrap_or_default();
    let has_content = list
        .iter()
        .any(|a| a.get("type").and_then(Value::as_str) != Some("inline_keyboard"));
    if text.is_none() && !has_content {
        return Err(MaxError::payload("A message needs a text or an attachment"));
    }
    let now = shared.now_ms();
    let root = max_root(shared);
    let mut state = shared.lock();
    let (customer_id, chat_id) = recipient(&state, account_id, &target)?;
    let link = match &draft.link {
        Some((kind, mid)) => Some(link(&state, account_id, &customer_id, chat_id, kind, mid)?),
        None => None,
    };
    let resolved = resolve(&mut state, account_id, &root, &list, now)?;

    let account = state
        .account_mut(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let sender = bot(account)
        .map(|b| bot_user(account, b, now))
        .unwrap_or(Value::Null);
    let bot = bot_mut(account).ok_or_else(MaxError::verify_token)?;
    let (mid, seq) = next_mid(bot, chat_id);
    let mut body = Map::new();
    body.insert("mid".into(), json!(mid));
    body.insert("seq".into(), json!(seq));
    if let Some(text) = &text {
        body.insert("text".into(), json!(text));
    }
    if !resolved.out.is_empty() {
        body.insert("attachments".into(), Value::Array(resolved.out));
    }
    let mut msg = json!({
        "sender": sender,
        "recipient": {
            "chat_id": chat_id,
            "chat_type": "dialog",
            "user_id": customer_id.parse::<i64>().unwrap_or_default(),
        },
        "timestamp": now,
        "body": Value::Object(body),
    });
    let mut stored = StoredMessage::new(
        mid,
        MessageDirection::Outbound,
        resolved.kind.unwrap_or(MessageKind::Text),
        now,
    );
    if let Some((kind, link)) = link {
        if kind == "reply" {
            stored.reply_to = draft.link.as_ref().map(|(_, mid)| mid.clone());
        }
        msg["link"] = link;
    }
    if resolved.media.is_some() {
        stored.caption = text;
    } else {
        stored.text = text;
    }
    stored.media = resolved.media;
    stored.parse_mode = draft.format;
    stored.raw = Some(msg.clone());
    let customer = account
        .customer_mut(&customer_id)
        .map_err(|_| MaxError::not_found("User not found"))?;
    tracing::debug!(
        account = %account_id,
        chat = %messenger_core::model::fingerprint(&chat_id.to_string()),
        kind = stored.kind.as_str(),
        "sandbox max: message sent"
    );
    customer.messages.push(stored);
    Ok(json!({ "message": msg }))
}

/// The `link` of a reply (to a message of this dialog) or a forward (of any message of the
/// bot's dialogs).
fn link(
    state: &State,
    account_id: &str,
    customer_id: &str,
    chat_id: i64,
    kind: &str,
    mid: &str,
) -> Result<(String, Value), MaxError> {
    let account = state
        .account(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let missing = || MaxError::payload("link.mid: no such message");
    if kind == "reply" {
        let raw = account
            .customers
            .get(customer_id)
            .and_then(|c| c.message(mid))
            .and_then(|m| m.raw.as_ref())
            .ok_or_else(missing)?;
        return Ok((kind.to_string(), reply_link(raw, chat_id)));
    }
    let bot = bot(account).ok_or_else(MaxError::verify_token)?;
    let (source, raw) = account
        .customers
        .values()
        .find_map(|c| Some((c, c.message(mid)?.raw.as_ref()?)))
        .ok_or_else(missing)?;
    let mut link = reply_link(raw, chat_of(bot, &source.id));
    link["type"] = json!("forward");
    Ok((kind.to_string(), link))
}

/// The customer and index of the message `mid` of the bot.
fn find(state: &State, account_id: &str, mid: &str) -> Result<(String, usize), MaxError> {
    let account = state
        .account(account_id)
        .map_err(|_| MaxError::verify_token())?;
    account
        .customers
        .values()
        .find_map(|c| {
            c.messages
                .iter()
                .position(|m| m.id == mid)
                .map(|i| (c.id.clone(), i))
        })
        .ok_or_else(|| MaxError::not_found("Message not found"))
}

fn message_id(req: &Request) -> Result<String, MaxError> {
    query(req.uri())
        .get("message_id")
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| MaxError::payload("Missing required parameter: message_id"))
}

/// `PUT /messages?message_id=`: edits one of the bot's messages.
pub(super) async fn edit(
    shared: &Arc<Shared>,
    account_id: &str,
    req: Request,
) -> Result<Value, MaxError> {
    let mid = message_id(&req)?;
    let body = read_body(shared, req).await?;
    let draft = Draft::parse(&body)?;
    let now = shared.now_ms();
    let root = max_root(shared);
    let mut state = shared.lock();
    let (customer_id, index) = find(&state, account_id, &mid)?;
    {
        let account = state
            .account(account_id)
            .map_err(|_| MaxError::verify_token())?;
        let customer = account
            .customer(&customer_id)
            .map_err(|_| MaxError::not_found("Message not found"))?;
        if customer.messages[index].direction != MessageDirection::Outbound {
            return Ok(refusal("A bot can edit only its own messages"));
        }
        if customer.blocked {
            let chat = bot(account).map_or(0, |b| chat_of(b, &customer_id));
            return Err(MaxError::dialog_suspended(chat));
        }
    }
    let resolved = match &draft.attachments {
        Some(list) => Some(resolve(&mut state, account_id, &root, list, now)?),
        None => None,
    };
    let account = state
        .account_mut(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let customer = account
        .customer_mut(&customer_id)
        .map_err(|_| MaxError::not_found("Message not found"))?;
    let stored = &mut customer.messages[index];
    let old_text = stored.text.clone().or_else(|| stored.caption.clone());
    let text = match draft.text {
        None => old_text,
        Some(text) => text,
    };
    let (kind, media, attachments) = match resolved {
        Some(r) => (r.kind.unwrap_or(MessageKind::Text), r.media, Some(r.out)),
        None => (stored.kind, stored.media.clone(), None),
    };
    let has_attachments = match &attachments {
        Some(list) => !list.is_empty(),
        None => stored
            .raw
            .as_ref()
            .and_then(|r| r.pointer("/body/attachments"))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
    };
    if text.is_none() && !has_attachments {
        return Err(MaxError::payload("A message needs a text or an attachment"));
    }
    stored.kind = kind;
    stored.media = media;
    if stored.media.is_some() {
        stored.text = None;
        stored.caption.clone_from(&text);
    } else {
        stored.caption = None;
        stored.text.clone_from(&text);
    }
    if draft.format.is_some() {
        stored.parse_mode = draft.format;
    }
    if let Some(raw) = stored.raw.as_mut()
        && let Some(body) = raw.get_mut("body").and_then(Value::as_object_mut)
    {
        match &text {
            Some(t) => body.insert("text".into(), json!(t)),
            None => body.remove("text"),
        };
        if let Some(list) = attachments {
            if list.is_empty() {
                body.remove("attachments");
            } else {
                body.insert("attachments".into(), Value::Array(list));
            }
        }
    }
    tracing::debug!(account = %account_id, "sandbox max: message edited");
    Ok(success())
}

/// `DELETE /messages?message_id=`: deletes one of the bot's messages (the customer no longer
/// sees it).
pub(super) fn delete(shared: &Shared, account_id: &str, req: &Request) -> Result<Value, MaxError> {
    let mid = message_id(req)?;
    let mut state = shared.lock();
    let (customer_id, index) = find(&state, account_id, &mid)?;
    let customer = state
        .account_mut(account_id)
        .and_then(|a| a.customer_mut(&customer_id))
        .map_err(|_| MaxError::not_found("Message not found"))?;
    if customer.messages[index].direction != MessageDirection::Outbound {
        return Ok(refusal(
            "A bot can delete only its own messages in a dialog",
        ));
    }
    customer.messages.remove(index);
    tracing::debug!(account = %account_id, "sandbox max: message deleted");
    Ok(success())
}
