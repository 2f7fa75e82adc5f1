//! `POST /{version}/{phone-number-id}/messages`: sends validated as Graph validates them
//! (parameters, limits, auth, the number's throughput and the pair rate), accepted with a
//! wamid, then delivered or failed as Meta does (the 24-hour window, blocks, unknown numbers,
//! media that does not fit its message type), and `status: read` (mark as read).

use std::collections::HashMap;

use axum::http::Method;
use base64::Engine;
use serde_json::{Value, json};

use super::envelope::GraphError;
use super::files::owned_media;
use super::webhook::{enqueue, status_value};
use super::{CAPTION_LIMIT, MB, TEXT_LIMIT, digits_only};
use crate::api::{ErrorView, MessageDirection, MessageKind, MessageStatus};
use crate::state::{Shared, StoredMedia, StoredMessage, random_alnum};

/// A new wamid for a message to or from `wa_id` (it encodes the number, as Meta's do).
pub(super) fn new_wamid(wa_id: &str) -> String {
    let raw = format!(
        "{wa_id}\x15\x02\x00\x11\x18{}",
        random_alnum(20).to_ascii_uppercase()
    );
    format!(
        "wamid.HBgL{}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

/// Whether media of `mime` and `size` can be sent as a message of `wire_type`
/// (whatsapp.md §4.3); the reason when not.
fn fits(wire_type: &str, mime: &str, size: u64) -> Result<(), String> {
    let (allowed, limit): (&[&str], u64) = match wire_type {
        "image" => (&["image/jpeg", "image/png"], 5 * MB),
        "video" => (&["video/mp4", "video/3gpp"], 16 * MB),
        "audio" => (
            &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            16 * MB,
        ),
        "sticker" => (&["image/webp"], 500 * 1024),
        _ => (&[], 100 * MB),
    };
    if !allowed.is_empty() && !allowed.contains(&mime) {
        return Err(format!(
            "Media type {mime} is not supported for {wire_type} messages"
        ));
    }
    if size > limit {
        return Err(format!(
            "Media of {size} bytes exceeds the {limit}-byte limit for {wire_type} messages"
        ));
    }
    Ok(())
}

/// How a send will end, decided at acceptance.
enum Fate {
    Deliver,
    Fail(ErrorView, &'static str),
}

/// `POST .../messages`.
pub(super) fn send(shared: &Shared, account_id: &str, body: &[u8]) -> Result<Value, GraphError> {
    let request: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| GraphError::param("The parameter messaging_product is required."))?;
    match request.get("messaging_product").and_then(Value::as_str) {
        Some("whatsapp") => {}
        Some(_) => {
            return Err(GraphError::param(
                "Param messaging_product must be one of {WHATSAPP}",
            ));
        }
        None => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    if let Some(status) = request.get("status") {
        return mark_read(shared, account_id, &request, status);
    }
    let to_raw = request
        .get("to")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::param("The parameter to is required."))?;
    let to = digits_only(to_raw)
        .filter(|d| (6..=15).contains(&d.len()))
        .ok_or_else(|| {
            GraphError::new(400, 131_009, "(#131009) Parameter value is not valid")
                .details("Recipient phone number is not a valid phone number")
        })?;
    let wire_type = request
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let now = shared.now_ms();

    // Validate the content.
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        MessageKind::Text,
        now,
    );
    let mut media_check: Option<(String, u64)> = None;
    match wire_type {
        "text" => {
            let body = request
                .pointer("/text/body")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
                .ok_or_else(|| GraphError::param("The parameter text['body'] is required."))?;
            if body.chars().count() > TEXT_LIMIT {
                return Err(GraphError::param(
                    "Param text['body'] must be at most 4096 characters long.",
                ));
            }
            stored.text = Some(body.to_string());
        }
        "image" | "video" | "document" | "audio" | "sticker" => {
            let object = request
                .get(wire_type)
                .filter(|o| o.is_object())
                .ok_or_else(|| {
                    GraphError::param(&format!("The parameter {wire_type} is required."))
                })?;
            let id = object
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let link = object
                .get("link")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let mut media = StoredMedia::default();
            match (id, link) {
                (Some(_), Some(_)) => {
                    return Err(GraphError::param(&format!(
                        "Param {wire_type} must have exactly one of id or link"
                    )));
                }
                (None, None) => {
                    return Err(GraphError::param(&format!(
                        "The parameter {wire_type}['id'] or {wire_type}['link'] is required."
                    )));
                }
                (Some(id), None) => {
                    let state = shared.lock();
                    let record =
                        owned_media(&state, now, account_id, id, &HashMap::new(), &Method::POST)
                            .map_err(|_| {
                                GraphError::param("Invalid parameter").details(format!(
                                    "Param {wire_type}['id'] is not a valid media id"
                                ))
                            })?;
                    if let Some(blob) = state.blobs.get(&record.blob) {
                        media_check = Some((blob.mime.clone(), blob.size()));
                    }
                    media.blob = Some(record.blob);
                    media.reference = Some(id.to_string());
                }
                (None, Some(link)) => {
                    let ok =
                        url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !ok {
                        return Err(GraphError::param(&format!(
                            "Param {wire_type}['link'] is not a valid URI."
                        )));
                    }
                    media.url = Some(link.to_string());
                }
            }
            if let Some(caption) = object.get("caption").and_then(Value::as_str)
                && matches!(wire_type, "image" | "video" | "document")
            {
                if caption.chars().count() > CAPTION_LIMIT {
                    return Err(GraphError::param(&format!(
                        "Param {wire_type}['caption'] must be at most 1024 characters long."
                    )));
                }
                stored.caption = Some(caption.to_string()).filter(|c| !c.is_empty());
            }
            media.file_name = object
                .get("filename")
                .and_then(Value::as_str)
                .map(str::to_string);
            stored.kind = match wire_type {
                "image" => MessageKind::Image,
                "video" => MessageKind::Video,
                "document" => MessageKind::File,
                "sticker" => MessageKind::Sticker,
                _ if object.get("voice").and_then(Value::as_bool) == Some(true) => {
                    MessageKind::Voice
                }
                _ => MessageKind::Audio,
            };
            stored.media = Some(media);
        }
        "template" => {
            let name = request
                .pointer("/template/name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| GraphError::param("The parameter template['name'] is required."))?;
            request
                .pointer("/template/language/code")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    GraphError::param("The parameter template['language']['code'] is required.")
                })?;
            stored.kind = MessageKind::Template;
            stored.template = Some(name.to_string());
        }
        "reaction" => {
            let target = request
                .pointer("/reaction/message_id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    GraphError::param("The parameter reaction['message_id'] is required.")
                })?;
            let emoji = request
                .pointer("/reaction/emoji")
                .and_then(Value::as_str)
                .unwrap_or_default();
            stored.kind = MessageKind::Reaction;
            stored.text = Some(emoji.to_string());
            stored.reply_to = Some(target.to_string());
        }
        "location" | "contacts" | "interactive" => {
            request
                .get(wire_type)
                .filter(|o| !o.is_null())
                .ok_or_else(|| {
                    GraphError::param(&format!("The parameter {wire_type} is required."))
                })?;
            stored.kind = MessageKind::Other;
        }
        other => {
            return Err(GraphError::param(&format!(
                "Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}} - got \"{other}\"."
            )));
        }
    }
    if let Some(reply) = request
        .pointer("/context/message_id")
        .and_then(Value::as_str)
    {
        stored.reply_to = Some(reply.to_string());
    }

    let mut state = shared.lock();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(GraphError::invalid_token)?;
    // Rate limits (whatsapp.md §9): the number's throughput, then the pair rate.
    if let Some(bucket) = account.bucket.as_mut()
        && bucket.check(now).is_err()
    {
        return Err(GraphError::throughput());
    }
    if let Some(customer) = account.customers.get_mut(&to)
        && let Some(bucket) = customer.bucket.as_mut()
    {
        if bucket.check(now).is_err() {
            return Err(GraphError::pair_limit());
        }
        bucket.take(now);
    }
    if let Some(bucket) = account.bucket.as_mut() {
        bucket.take(now);
    }
    let wamid = new_wamid(&to);
    let window = i64::try_from(shared.config.reply_window.as_millis()).unwrap_or(i64::MAX / 4);
    let category = if stored.kind == MessageKind::Template {
        "utility"
    } else {
        "service"
    };
    let mut events = Vec::new();
    match account.customers.get_mut(&to) {
        None => {
            // Not a WhatsApp user: accepted, then undeliverable (whatsapp.md §7.2, 131026).
            let error = ErrorView {
                code: 131_026,
                title: "Message undeliverable".to_string(),
            };
            events.push((
                "status",
                wamid.clone(),
                status_value(
                    &wamid,
                    "failed",
                    &to,
                    now,
                    Some(&error),
                    Some("Message Undeliverable."),
                    category,
                ),
            ));
        }
        Some(customer) => {
            let window_open = customer.last_inbound_ms.is_some_and(|t| now - t < window);
            let fate = if customer.blocked {
                Fate::Fail(
                    ErrorView {
                        code: 131_026,
                        title: "Message undeliverable".to_string(),
                    },
                    "Message Undeliverable.",
                )
            } else if stored.kind != MessageKind::Template && !window_open {
                Fate::Fail(
                    ErrorView {
                        code: 131_047,
                        title: "Re-engagement message".to_string(),
                    },
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                )
            } else if let Some(Err(why)) = media_check
                .as_ref()
                .map(|(mime, size)| fits(wire_type, mime, *size))
            {
                tracing::debug!(reason = %why, "sandbox whatsapp: media does not fit the message type");
                Fate::Fail(
                    ErrorView {
                        code: 131_053,
                        title: "Media upload error".to_string(),
                    },
                    "Unsupported media for this message type.",
                )
            } else {
                Fate::Deliver
            };
            stored.id = wamid.clone();
            match fate {
                Fate::Deliver => {
                    events.push((
                        "status",
                        wamid.clone(),
                        status_value(&wamid, "sent", &to, now, None, None, category),
                    ));
                    if customer.online {
                        stored.status = MessageStatus::Delivered;
                        events.push((
                            "status",
                            wamid.clone(),
                            status_value(&wamid, "delivered", &to, now, None, None, category),
                        ));
                    }
                }
                Fate::Fail(error, details) => {
                    stored.status = MessageStatus::Failed;
                    events.push((
                        "status",
                        wamid.clone(),
                        status_value(
                            &wamid,
                            "failed",
                            &to,
                            now,
                            Some(&error),
                            Some(details),
                            category,
                        ),
                    ));
                    stored.error = Some(error);
                }
            }
            tracing::debug!(
                account = %account_id,
                to = %messenger_core::model::fingerprint(&to),
                kind = stored.kind.as_str(),
                status = ?stored.status,
                "sandbox whatsapp: message accepted"
            );
            customer.messages.push(stored);
        }
    }
    enqueue(account, events);
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to_raw, "wa_id": to }],
        "messages": [{ "id": wamid, "message_status": "accepted" }],
    }))
}

fn mark_read(
    shared: &Shared,
    account_id: &str,
    request: &Value,
    status: &Value,
) -> Result<Value, GraphError> {
    if status.as_str() != Some("read") {
        return Err(GraphError::param("Param status must be one of {READ}"));
    }
    let message_id = request
        .get("message_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| GraphError::param("The parameter message_id is required."))?;
    let mut state = shared.lock();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(GraphError::invalid_token)?;
    let customer = account
        .customers
        .values_mut()
        .find(|c| {
            c.messages
                .iter()
                .any(|m| m.id == message_id && m.direction == MessageDirection::Inbound)
        })
        .ok_or_else(|| GraphError::param("Invalid parameter").details("Unknown message id"))?;
    // Marking one message read marks the earlier ones too (whatsapp.md §3).
    for m in &mut customer.messages {
        if m.direction == MessageDirection::Inbound {
            m.status = MessageStatus::Read;
        }
        if m.id == message_id {
            break;
        }
    }
    Ok(json!({ "success": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_fit_follows_the_sheet() {
        assert!(fits("image", "image/png", MB).is_ok());
        assert!(fits("image", "image/png", 6 * MB).is_err());
        assert!(fits("image", "application/pdf", 10).is_err());
        assert!(fits("sticker", "image/webp", 400 * 1024).is_ok());
        assert!(fits("document", "application/pdf", 90 * MB).is_ok());
    }
}
