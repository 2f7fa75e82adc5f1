//! Customers (each one chat with the account: a buyer asking about a listing) and the
//! customer's side the control API plays: messages of every kind (each a webhook delivery and
//! an unread chat) and reads (the `read` time of the account's messages, which the connector
//! polls for; Avito pushes no read receipts, avito.md §6).

use messenger_core::{Error, ErrorKind, Result};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::files;
use super::{now_secs, random_hex, root, shop, webhook};
use crate::api::{
    CustomerMessage, InboundReceipt, MessageDirection, MessageKind, MessageStatus, NewCustomer,
};
use crate::media::{self, Blob};
use crate::platforms::mark_outbound_read;
use crate::state::{Customer, Shared, State, StoredMedia, StoredMessage, random_alnum};

/// A number from the digest of `chat` (stable: the same chat, the same number).
fn derived(chat: &str, salt: &str, base: i64, span: i64) -> i64 {
    let digest = Sha256::digest(format!("{salt}:{chat}").as_bytes());
    let mut n: i64 = 0;
    for b in &digest[..7] {
        n = (n << 8) | i64::from(*b);
    }
    base + n.rem_euclid(span)
}

/// The buyer's Avito user id (the `author_id` of their messages) in `chat`.
pub(super) fn buyer_id(chat: &str) -> i64 {
    derived(chat, "buyer", 10_000_000, 89_999_999)
}

/// The listing of a `u2i` chat (`None` for a profile chat).
pub(super) fn item_id(chat: &str) -> Option<i64> {
    chat.starts_with("u2i-")
        .then(|| derived(chat, "item", 1_000_000_000, 8_999_999_999))
}

/// The chat type (`u2i`, `u2u`) of a chat id.
pub(super) fn chat_type(chat: &str) -> &str {
    chat.split_once('-').map_or("u2i", |(t, _)| t)
}

fn valid_chat_id(id: &str) -> bool {
    let Some((kind, rest)) = id.split_once('-') else {
        return false;
    };
    matches!(kind, "u2i" | "u2u")
        && (1..=64).contains(&rest.len())
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Builds a new customer: one chat, `u2i-` and 22 characters unless an id is given.
pub(super) fn new_customer(state: &mut State, new: &NewCustomer) -> Result<Customer> {
    let id = match new.id.as_deref() {
        Some(id) if valid_chat_id(id) => id.to_string(),
        Some(_) => {
            return Err(Error::invalid_input(
                "an Avito customer id is a chat id: u2i- or u2u- and up to 64 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        None => format!("u2i-{}", random_alnum(22)),
    };
    let seq = state.next_seq();
    Ok(Customer::new(
        id,
        seq,
        new.name.as_deref().unwrap_or("Buyer").to_string(),
        None,
    ))
}

/// An Avito message as stored (`raw`) and answered by getMessagesV3 (without `is_read` and
/// `read`, which are computed when answered).
pub(super) fn message_raw(
    id: &str,
    author_id: i64,
    created: i64,
    direction: &str,
    kind: &str,
    content: Value,
) -> Value {
    json!({
        "id": id,
        "author_id": author_id,
        "created": created,
        "direction": direction,
        "type": kind,
        "content": content,
    })
}

/// One message the customer sends: its Avito type and content, and what the control view
/// keeps.
struct Part {
    kind: MessageKind,
    avito_type: &'static str,
    content: Value,
    text: Option<String>,
    media: Option<StoredMedia>,
    media_id: Option<String>,
}

/// A customer writes: each message is stored, makes the chat unread and is delivered to the
/// webhook subscriptions. A caption goes as a text message after the media.
pub(super) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt> {
    let now = now_secs(shared);
    let root = root(shared);
    {
        let account = state.account(account_id)?;
        if shop(account).is_none() {
            return Err(Error::invalid_input("not an Avito account"));
        }
        if account.customer(customer_id)?.blocked {
            return Err(Error::invalid_input(
                "the customer blocked the chat; unblock first",
            ));
        }
    }
    let text = message.text.clone().filter(|t| !t.is_empty());
    let caption = message
        .caption
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| message.media.as_ref().and(text.clone()));
    let mut parts = Vec::new();
    if let Some(upload) = &message.media {
        if upload.data.is_empty() {
            return Err(Error::invalid_input("the media is empty"));
        }
        let mime = media::resolve_mime(
            upload.mime_type.as_deref(),
            upload.file_name.as_deref(),
            &upload.data,
        );
        let blob = Blob::from_bytes(
            &state.media,
            &upload.data,
            mime.clone(),
            upload.file_name.clone(),
        )?;
        let blob_id = state.add_blob(blob);
        let stored = StoredMedia {
            blob: Some(blob_id),
            mime: Some(mime),
            file_name: upload.file_name.clone(),
            ..StoredMedia::default()
        };
        let part = match upload.kind {
            MessageKind::Image => {
                let key = random_alnum(24);
                files::register_download(state, &key, account_id, blob_id);
                let sizes = files::sizes(&root, &key);
                let largest = files::largest(&root, &key);
                Part {
                    kind: MessageKind::Image,
                    avito_type: "image",
                    content: json!({ "image": { "sizes": sizes } }),
                    text: None,
                    media: Some(StoredMedia {
                        url: Some(largest.clone()),
                        ..stored
                    }),
                    media_id: Some(largest),
                }
            }
            MessageKind::Voice => {
                let voice_id = random_hex(16);
                files::register_voice(state, &voice_id, account_id, blob_id);
                Part {
                    kind: MessageKind::Voice,
                    avito_type: "voice",
                    content: json!({ "voice": { "voice_id": voice_id } }),
                    text: None,
                    media: Some(StoredMedia {
                        reference: Some(voice_id.clone()),
                        ..stored
                    }),
                    media_id: Some(voice_id),
                }
            }
            // Avito delivers these with an empty content: they cannot be fetched.
            MessageKind::File | MessageKind::Video => Part {
                kind: upload.kind,
                avito_type: if upload.kind == MessageKind::File {
                    "file"
                } else {
                    "video"
                },
                content: json!({}),
                text: None,
                media: Some(stored),
                media_id: None,
            },
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on Avito (image, voice, file or video)",
                    other.as_str()
                )));
            }
        };
        parts.push(part);
        if let Some(caption) = caption {
            parts.push(text_part(caption));
        }
    } else {
        let text =
            text.ok_or_else(|| Error::invalid_input("a customer message needs text or media"))?;
        parts.push(text_part(text));
    }

    let account = state.account_mut(account_id)?;
    let user_id = shop(account).map_or(0, |s| s.user_id);
    let chat_type = chat_type(customer_id).to_string();
    let author = buyer_id(customer_id);
    if let Some(reply) = &message.reply_to
        && account.customer(customer_id)?.message(reply).is_none()
    {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no such message to reply to",
        ));
    }
    let mut receipt = None;
    for (i, part) in parts.into_iter().enumerate() {
        let id = random_hex(32);
        let mut raw = message_raw(
            &id,
            author,
            now,
            "in",
            part.avito_type,
            part.content.clone(),
        );
        if i == 0
            && let Some(reply) = &message.reply_to
        {
            raw["quote"] = account
                .customer(customer_id)?
                .message(reply)
                .and_then(|m| m.raw.clone())
                .unwrap_or(Value::Null);
        }
        let mut stored = StoredMessage::new(
            id.clone(),
            MessageDirection::Inbound,
            part.kind,
            now.saturating_mul(1000),
        );
        if part.media.is_some() {
            stored.caption = None;
        } else {
            stored.text.clone_from(&part.text);
        }
        stored.media = part.media;
        if i == 0 {
            stored.reply_to.clone_from(&message.reply_to);
        }
        stored.raw = Some(raw);
        account.customer_mut(customer_id)?.messages.push(stored);
        let mut value = Map::new();
        value.insert("id".into(), json!(id));
        value.insert("chat_id".into(), json!(customer_id));
        value.insert("chat_type".into(), json!(chat_type));
        value.insert("user_id".into(), json!(user_id));
        value.insert("author_id".into(), json!(author));
        value.insert("created".into(), json!(now));
        value.insert(
            "published_at".into(),
            json!(
                crate::clock::to_datetime(now.saturating_mul(1000))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            ),
        );
        value.insert("type".into(), json!(part.avito_type));
        value.insert("content".into(), part.content);
        value.insert("item_id".into(), json!(item_id(customer_id)));
        value.insert("read".into(), Value::Null);
        webhook::push(account, now, Value::Object(value), &id);
        receipt.get_or_insert(InboundReceipt {
            message_id: id,
            update_id: None,
            media_id: part.media_id,
        });
    }
    tracing::debug!(account = %account_id, "sandbox avito: customer message delivered");
    receipt.ok_or_else(|| Error::invalid_input("a customer message needs text or media"))
}

fn text_part(text: String) -> Part {
    Part {
        kind: MessageKind::Text,
        avito_type: "text",
        content: json!({ "text": text }),
        text: Some(text),
        media: None,
        media_id: None,
    }
}

/// The customer reads the account's messages up to `up_to` (all when `None`): each gets its
/// `read` time, which getMessagesV3 shows and the connector polls for. Nothing is pushed.
pub(super) fn customer_reads(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize> {
    let now = now_secs(shared);
    let customer = state.account_mut(account_id)?.customer_mut(customer_id)?;
    let read = mark_outbound_read(customer, up_to, &[MessageStatus::Sent])?;
    for m in &mut customer.messages {
        if read.contains(&m.id)
            && let Some(raw) = m.raw.as_mut()
        {
            raw["read"] = json!(now);
        }
    }
    tracing::debug!(account = %account_id, read = read.len(), "sandbox avito: customer read");
    Ok(read.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_in_range() {
        let a = buyer_id("u2i-y9ykWR1EkNOJJMaE9i9m8w");
        assert_eq!(a, buyer_id("u2i-y9ykWR1EkNOJJMaE9i9m8w"));
        assert!((10_000_000..100_000_000).contains(&a));
        assert!(item_id("u2i-x").is_some());
        assert_eq!(item_id("u2u-x"), None);
        assert!(valid_chat_id("u2i-y9ykWR1EkNOJJMaE9i9m8w"));
        assert!(!valid_chat_id("12345"));
        assert!(!valid_chat_id("u2i-"));
        assert_eq!(chat_type("u2u-abc"), "u2u");
    }
}
