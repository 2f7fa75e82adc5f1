//! What the bot sends: `getMe`, `sendMessage` (text limits after `parse_mode` parsing),
//! `sendChatAction`, and `sendPhoto` / `sendDocument` / `sendVoice` / `sendAudio` /
//! `sendVideo` by upload, URL or `file_id`, to a private chat or a group, each admitted past
//! chat checks, blocks, replies and flood control (the chat's limit, the group's in a group, and
//! the bot's).

use serde_json::{Map, Value, json};

use super::customer::{bot_user_json, chat_json};
use super::envelope::{TgError, ok, too_large, unauthorized};
use super::files::{FileKind, file, file_object, store_file, store_url_file, stored_blob};
use super::groups::outbound_in_group;
use super::params::{InputFile, Params};
use super::{
    BotState, CAPTION_LIMIT, FILE_UPLOAD_LIMIT, PHOTO_UPLOAD_LIMIT, TEXT_LIMIT, bot, markup,
    utf16_len,
};
use crate::api::{MessageDirection, MessageKind};
use crate::clock::{TokenBucket, ceil_secs};
use crate::media::{self, Blob};
use crate::state::{Account, Shared, State, StoredMedia, StoredMessage};

/// `getMe`.
pub(super) fn get_me(shared: &Shared, account_id: &str) -> Result<Value, TgError> {
    let state = shared.lock();
    let account = state.account(account_id).map_err(|_| unauthorized())?;
    let bot = bot(account).ok_or_else(unauthorized)?;
    let mut me = bot_user_json(account, bot);
    me["can_join_groups"] = json!(true);
    me["can_read_all_group_messages"] = json!(false);
    me["supports_inline_queries"] = json!(false);
    me["can_connect_to_business"] = json!(false);
    me["has_main_web_app"] = json!(false);
    Ok(ok(me))
}

/// The reply a send asks for.
struct ReplyTarget {
    message_id: i64,
    allow_without: bool,
}

fn reply_target(params: &Params) -> Result<Option<ReplyTarget>, TgError> {
    if let Some(rp) = params.json("reply_parameters") {
        let message_id = rp
            .get("message_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| TgError::bad("can't parse reply parameters JSON object"))?;
        let allow_without = rp
            .get("allow_sending_without_reply")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return Ok(Some(ReplyTarget {
            message_id,
            allow_without,
        }));
    }
    Ok(params
        .int("reply_to_message_id")?
        .map(|message_id| ReplyTarget {
            message_id,
            allow_without: params.flag("allow_sending_without_reply"),
        }))
}

fn visible(text: &str, mode: Option<&str>) -> Result<String, TgError> {
    markup::visible_text(text, mode).map_err(|e| match e {
        markup::MarkupError::UnsupportedMode => TgError::bad("unsupported parse_mode"),
        markup::MarkupError::Parse(why) => TgError::bad(&format!("can't parse entities: {why}")),
    })
}

/// The chat a send goes to: a customer's private chat, or a group (supergroup, channel).
pub(super) enum Target {
    Private(String),
    Group(i64),
}

/// A Telegram chat id as a number (`@username` targets name no chat the sandbox has).
fn chat_number(chat_id: &str) -> Option<i64> {
    let chat = chat_id.trim();
    if chat.starts_with('@') {
        None
    } else {
        chat.parse::<i64>().ok()
    }
}

/// Checks every limit in `limits` at `now`; if all pass, takes one allowance from each, else
/// answers 429 with the longest wait (telegram.md §7).
fn take_limits(
    limits: [Option<&mut TokenBucket>; 3],
    now: i64,
    account_id: &str,
) -> Result<(), TgError> {
    let mut limits: Vec<&mut TokenBucket> = limits.into_iter().flatten().collect();
    let wait = limits.iter_mut().filter_map(|b| b.check(now).err()).max();
    if let Some(wait) = wait {
        tracing::debug!(account = %account_id, "sandbox telegram: flood control");
        return Err(TgError::too_many(ceil_secs(wait)));
    }
    for limit in limits {
        limit.take(now);
    }
    Ok(())
}

/// Checks everything that can refuse a send to a chat, and takes the rate-limit allowances:
/// the chat's (every chat has one), the group's in a group, and the bot's. Returns the chat
/// and the `Message` replied to.
fn admit(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    chat_id: &str,
    reply: Option<&ReplyTarget>,
) -> Result<(Target, Option<Value>), TgError> {
    let now = shared.now_ms();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(unauthorized)?;
    let Some(number) = chat_number(chat_id) else {
        return Err(TgError::bad("chat not found"));
    };
    let Account {
        customers,
        bucket,
        ext,
        ..
    } = account;
    let find_reply = |messages: &[StoredMessage], target: &ReplyTarget| {
        let found = messages
            .iter()
            .find(|m| m.id == target.message_id.to_string())
            .and_then(|m| m.raw.clone());
        match found {
            Some(raw) => Ok(Some(raw)),
            None if target.allow_without => Ok(None),
            None => Err(TgError::bad("message to be replied not found")),
        }
    };
    if number < 0 {
        let group = ext
            .get_mut::<BotState>()
            .and_then(|bot| bot.groups.get_mut(&number))
            .ok_or_else(|| TgError::bad("chat not found"))?;
        let reply_raw = match reply {
            Some(target) => find_reply(&group.messages, target)?,
            None => None,
        };
        take_limits(
            [
                group.chat_limit.as_mut(),
                group.group_limit.as_mut(),
                bucket.as_mut(),
            ],
            now,
            account_id,
        )?;
        return Ok((Target::Group(number), reply_raw));
    }
    let customer_id = number.to_string();
    let customer = customers
        .get_mut(&customer_id)
        .ok_or_else(|| TgError::bad("chat not found"))?;
    if customer.blocked {
        return Err(TgError::new(403, "Forbidden: bot was blocked by the user"));
    }
    let reply_raw = match reply {
        Some(target) => find_reply(&customer.messages, target)?,
        None => None,
    };
    take_limits(
        [customer.bucket.as_mut(), None, bucket.as_mut()],
        now,
        account_id,
    )?;
    Ok((Target::Private(customer_id), reply_raw))
}

/// Stores an outbound message and returns the `Message` object.
fn store_outbound(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    target: &Target,
    content: Map<String, Value>,
    mut stored: StoredMessage,
    reply_raw: Option<Value>,
) -> Result<Value, TgError> {
    let now = shared.now_ms();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(unauthorized)?;
    let from = bot(account)
        .map(|bot| bot_user_json(account, bot))
        .unwrap_or(Value::Null);
    let fill = |msg: &mut Value, stored: &mut StoredMessage, message_id: i64| {
        if let Some(reply) = reply_raw {
            msg["reply_to_message"] = reply;
        }
        for (k, v) in content {
            msg[k] = v;
        }
        stored.id = message_id.to_string();
        stored.at_ms = now;
        stored.raw = Some(msg.clone());
    };
    let msg = match target {
        Target::Private(customer_id) => {
            let customer = account
                .customers
                .get_mut(customer_id)
                .ok_or_else(|| TgError::bad("chat not found"))?;
            let message_id = customer.next_message_id;
            customer.next_message_id += 1;
            let mut msg = json!({
                "message_id": message_id,
                "from": from,
                "chat": chat_json(customer),
                "date": now.div_euclid(1000),
            });
            fill(&mut msg, &mut stored, message_id);
            tracing::debug!(
                account = %account_id,
                chat = %messenger_core::model::fingerprint(customer_id),
                kind = stored.kind.as_str(),
                "sandbox telegram: message sent"
            );
            customer.messages.push(stored);
            msg
        }
        Target::Group(group_id) => {
            let (message_id, mut msg, group) = outbound_in_group(account, *group_id, from, now)
                .ok_or_else(|| TgError::bad("chat not found"))?;
            fill(&mut msg, &mut stored, message_id);
            tracing::debug!(
                account = %account_id,
                kind = stored.kind.as_str(),
                "sandbox telegram: message sent to a group"
            );
            group.messages.push(stored);
            msg
        }
    };
    Ok(msg)
}

/// `sendMessage`.
pub(super) fn send_message(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    let raw = params.text("text").unwrap_or_default();
    let mode = params.non_empty("parse_mode");
    let text = visible(&raw, mode.as_deref())?;
    if text.trim().is_empty() {
        return Err(TgError::bad("message text is empty"));
    }
    if utf16_len(&text) > TEXT_LIMIT {
        return Err(TgError::bad("message is too long"));
    }
    let reply = reply_target(params)?;
    let mut state = shared.lock();
    let (target, reply_raw) = admit(shared, &mut state, account_id, &chat_id, reply.as_ref())?;
    let mut content = Map::new();
    content.insert("text".into(), json!(text));
    if let Some(entities) = params.json("entities").filter(|_| mode.is_none()) {
        content.insert("entities".into(), entities);
    }
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        MessageKind::Text,
        0,
    );
    stored.text = Some(text);
    stored.parse_mode = mode;
    stored.reply_to = reply.as_ref().map(|r| r.message_id.to_string());
    let msg = store_outbound(
        shared, &mut state, account_id, &target, content, stored, reply_raw,
    )?;
    Ok(ok(msg))
}

/// `sendChatAction`.
pub(super) fn send_chat_action(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    params
        .non_empty("action")
        .ok_or_else(|| TgError::bad("action is empty"))?;
    let state = shared.lock();
    let account = state.account(account_id).map_err(|_| unauthorized())?;
    let number = chat_number(&chat_id).ok_or_else(|| TgError::bad("chat not found"))?;
    if number < 0 {
        bot(account)
            .and_then(|bot| bot.groups.get(&number))
            .ok_or_else(|| TgError::bad("chat not found"))?;
        return Ok(ok(json!(true)));
    }
    let customer = account
        .customers
        .get(&number.to_string())
        .ok_or_else(|| TgError::bad("chat not found"))?;
    if customer.blocked {
        return Err(TgError::new(403, "Forbidden: bot was blocked by the user"));
    }
    Ok(ok(json!(true)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The media a `send*` method sends.
pub(super) enum MediaMethod {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
}

impl MediaMethod {
    fn field(self) -> &'static str {
        match self {
            MediaMethod::Photo => "photo",
            MediaMethod::Document => "document",
            MediaMethod::Voice => "voice",
            MediaMethod::Audio => "audio",
            MediaMethod::Video => "video",
        }
    }

    fn natural_kind(self) -> FileKind {
        match self {
            MediaMethod::Photo => FileKind::Photo,
            MediaMethod::Document => FileKind::Document,
            MediaMethod::Voice => FileKind::Voice,
            MediaMethod::Audio => FileKind::Audio,
            MediaMethod::Video => FileKind::Video,
        }
    }

    /// What an uploaded file of this MIME type becomes: voice needs OGG/OPUS, MP3 or M4A,
    /// audio MP3 or M4A, video MP4 (telegram.md §3); other files are sent as documents.
    fn kind_for(self, mime: &str) -> FileKind {
        match self {
            MediaMethod::Voice if matches!(mime, "audio/ogg" | "audio/mpeg" | "audio/mp4") => {
                FileKind::Voice
            }
            MediaMethod::Audio if matches!(mime, "audio/mpeg" | "audio/mp4") => FileKind::Audio,
            MediaMethod::Video if mime == "video/mp4" => FileKind::Video,
            MediaMethod::Photo => FileKind::Photo,
            _ => FileKind::Document,
        }
    }
}

/// `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio`, `sendVideo`.
pub(super) fn send_media(
    shared: &Shared,
    account_id: &str,
    params: &Params,
    method: MediaMethod,
) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    let field = method.field();
    let input = params
        .input_file(field)
        .ok_or_else(|| TgError::bad(&format!("there is no {field} in the request")))?;
    let mode = params.non_empty("parse_mode");
    let caption = match params.text("caption") {
        Some(raw) if !raw.is_empty() => {
            let visible = visible(&raw, mode.as_deref())?;
            if utf16_len(&visible) > CAPTION_LIMIT {
                return Err(TgError::bad("message caption is too long"));
            }
            Some(visible)
        }
        _ => None,
    };
    // Validate an upload before anything is stored.
    let upload = match &input {
        InputFile::Upload(part) => {
            let mime = media::resolve_mime(
                part.content_type.as_deref(),
                part.file_name.as_deref(),
                part.data.head(),
            );
            let size = part.data.size();
            if size == 0 {
                return Err(TgError::bad("file must be non-empty"));
            }
            if size > FILE_UPLOAD_LIMIT {
                return Err(too_large());
            }
            let kind = method.kind_for(&mime);
            if kind == FileKind::Photo {
                if !mime.starts_with("image/")
                    || media::sniff(part.data.head()).is_none_or(|m| !m.starts_with("image/"))
                {
                    return Err(TgError::bad("IMAGE_PROCESS_FAILED"));
                }
                if size > PHOTO_UPLOAD_LIMIT {
                    return Err(TgError::bad("PHOTO_SAVE_FILE_INVALID"));
                }
                if let Some((w, h)) = media::image_dimensions(part.data.head()) {
                    let (big, small) = (w.max(h), w.min(h).max(1));
                    if w + h > 10_000 || big / small > 20 {
                        return Err(TgError::bad("PHOTO_INVALID_DIMENSIONS"));
                    }
                }
            }
            Some((
                kind,
                Blob::new(part.data.clone(), mime, part.file_name.clone()),
            ))
        }
        _ => None,
    };
    let reply = reply_target(params)?;
    let mut state = shared.lock();
    // A file_id must belong to this bot and keep its type (telegram.md §4 file_id rules).
    let reused = match &input {
        InputFile::FileId(file_id) => {
            let file = file(&state, file_id)
                .filter(|f| f.owner == account_id)
                .ok_or_else(|| TgError::bad("wrong file identifier/HTTP URL specified"))?;
            // Resending by file_id cannot change the media type (telegram.md §4).
            let compatible = file.kind == method.natural_kind();
            if !compatible {
                return Err(TgError::bad("type of file mismatch"));
            }
            Some((file_id.clone(), file.kind))
        }
        _ => None,
    };
    let (target, reply_raw) = admit(shared, &mut state, account_id, &chat_id, reply.as_ref())?;

    let mut extra = Map::new();
    for key in ["duration", "performer", "title", "width", "height"] {
        if let Some(v) = params.non_empty(key) {
            let value = v
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(v));
            extra.insert(key.to_string(), value);
        }
    }
    let mut stored_media = StoredMedia::default();
    let (kind, object) = match input {
        InputFile::Upload(_) => {
            let (kind, blob) =
                upload.ok_or_else(|| TgError::bad("there is no file in the request"))?;
            stored_media.file_name = blob.file_name.clone();
            let (file_id, object) = store_file(&mut state, account_id, kind, blob, &extra);
            stored_media.blob = stored_blob(&state, &file_id);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
        InputFile::Url(url) => {
            let kind = method.natural_kind();
            stored_media.url = Some(url);
            let (file_id, object) = store_url_file(&mut state, account_id, kind, &extra);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
        InputFile::FileId(_) => {
            let (file_id, kind) =
                reused.ok_or_else(|| TgError::bad("wrong file identifier/HTTP URL specified"))?;
            let object = file_object(&state, &file_id, &extra).unwrap_or(Value::Null);
            stored_media.blob = stored_blob(&state, &file_id);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
    };
    let mut content = Map::new();
    content.insert(kind.field().to_string(), object);
    if let Some(caption) = &caption {
        content.insert("caption".into(), json!(caption));
    }
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        kind.message_kind(),
        0,
    );
    stored.caption = caption;
    stored.parse_mode = mode;
    stored.media = Some(stored_media);
    stored.reply_to = reply.as_ref().map(|r| r.message_id.to_string());
    let msg = store_outbound(
        shared, &mut state, account_id, &target, content, stored, reply_raw,
    )?;
    Ok(ok(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_methods_fall_back_to_documents() {
        assert_eq!(MediaMethod::Voice.kind_for("audio/ogg"), FileKind::Voice);
        assert_eq!(MediaMethod::Voice.kind_for("audio/wav"), FileKind::Document);
        assert_eq!(MediaMethod::Audio.kind_for("audio/mpeg"), FileKind::Audio);
        assert_eq!(
            MediaMethod::Video.kind_for("video/webm"),
            FileKind::Document
        );
    }
}
