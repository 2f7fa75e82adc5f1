//! Customers of a number (WhatsApp users) and the customer's side the control API plays:
//! messages (which open the 24-hour window and queue a `messages` webhook), reads (`read`
//! statuses) and the phone going online (`delivered` statuses).

use chrono::{DateTime, Utc};
use messenger_core::{Error, ErrorKind, Result};
use serde_json::json;

use super::files::add_media;
use super::send::new_wamid;
use super::webhook::{enqueue, status_value};
use super::{digits_only, number};
use crate::api::{
    CustomerMessage, InboundReceipt, MessageDirection, MessageKind, MessageStatus, NewCustomer,
};
use crate::clock::{TokenBucket, to_datetime};
use crate::media::{self, Blob};
use crate::platforms::mark_outbound_read;
use crate::state::{Customer, Shared, State, StoredMedia, StoredMessage};

/// Builds a new customer (a WhatsApp user; their window is closed until they write).
pub(super) fn new_customer(
    shared: &Shared,
    state: &mut State,
    new: &NewCustomer,
) -> Result<Customer> {
    let seq = state.next_seq();
    let id = match new.id.as_deref() {
        Some(id) => digits_only(id)
            .filter(|d| (6..=15).contains(&d.len()))
            .ok_or_else(|| Error::invalid_input("a wa_id is 6 to 15 digits"))?,
        None => format!("1555{:07}", seq % 10_000_000),
    };
    let bucket = shared
        .config
        .whatsapp_pair
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Customer::new(
        id,
        seq,
        new.name.as_deref().unwrap_or("Customer").to_string(),
        bucket,
    ))
}

/// The end of the 24-hour customer service window, if it is open.
pub(super) fn window_open_until(shared: &Shared, customer: &Customer) -> Option<DateTime<Utc>> {
    let now = shared.now_ms();
    let window = i64::try_from(shared.config.reply_window.as_millis()).unwrap_or(i64::MAX / 4);
    customer
        .last_inbound_ms
        .map(|t| t + window)
        .filter(|end| *end > now)
        .map(to_datetime)
}

/// A customer writes to the business: the message is stored, the window opens and a
/// `messages` webhook is queued.
pub(super) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt> {
    let now = shared.now_ms();
    {
        let customer = state.account(account_id)?.customer(customer_id)?;
        if customer.blocked {
            return Err(Error::invalid_input(
                "the customer blocked the business; unblock first",
            ));
        }
    }
    let wamid = new_wamid(customer_id);
    let mut msg = json!({
        "from": customer_id,
        "id": wamid,
        "timestamp": now.div_euclid(1000).to_string(),
    });
    let mut kind = MessageKind::Text;
    let mut stored_media = None;
    let mut media_id = None;
    if let Some(upload) = &message.media {
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
        let sha = blob.sha256_base64();
        let blob_id = state.add_blob(blob);
        let id = add_media(state, account_id, blob_id, now, true);
        let (wire_type, mut object) = match upload.kind {
            MessageKind::Image => ("image", json!({})),
            MessageKind::File => ("document", json!({})),
            MessageKind::Voice => ("audio", json!({ "voice": true })),
            MessageKind::Audio => ("audio", json!({ "voice": false })),
            MessageKind::Video => ("video", json!({})),
            MessageKind::Sticker => ("sticker", json!({ "animated": false })),
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on WhatsApp",
                    other.as_str()
                )));
            }
        };
        object["id"] = json!(id);
        object["mime_type"] = json!(
            if upload.kind == MessageKind::Voice && mime == "audio/ogg" {
                "audio/ogg; codecs=opus".to_string()
            } else {
                mime
            }
        );
        object["sha256"] = json!(sha);
        if let Some(caption) = &message.caption
            && matches!(wire_type, "image" | "video" | "document")
        {
            object["caption"] = json!(caption);
        }
        if wire_type == "document"
            && let Some(name) = &upload.file_name
        {
            object["filename"] = json!(name);
        }
        msg["type"] = json!(wire_type);
        msg[wire_type] = object;
        kind = upload.kind;
        stored_media = Some(StoredMedia {
            blob: Some(blob_id),
            reference: Some(id.clone()),
            file_name: upload.file_name.clone(),
            ..StoredMedia::default()
        });
        media_id = Some(id);
    } else {
        let text = message
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid_input("a customer message needs text or media"))?;
        msg["type"] = json!("text");
        msg["text"] = json!({ "body": text });
    }
    let account = state.account_mut(account_id)?;
    let display = number(account)
        .map(|n| n.display_phone_number.clone())
        .unwrap_or_default();
    let customer = account.customer_mut(customer_id)?;
    if let Some(reply) = &message.reply_to {
        if customer.message(reply).is_none() {
            return Err(Error::new(
                ErrorKind::NotFound,
                "no such message to reply to",
            ));
        }
        msg["context"] = json!({ "from": display, "id": reply });
    }
    customer.last_inbound_ms = Some(now);
    let contact = json!({ "profile": { "name": customer.name }, "wa_id": customer.id });
    let mut stored = StoredMessage::new(wamid.clone(), MessageDirection::Inbound, kind, now);
    stored.text = message.text.clone().filter(|_| message.media.is_none());
    stored.caption = message.caption.clone().filter(|_| message.media.is_some());
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    customer.messages.push(stored);
    enqueue(
        account,
        vec![(
            "message",
            wamid.clone(),
            json!({ "contacts": [contact], "messages": [msg] }),
        )],
    );
    tracing::debug!(account = %account_id, kind = kind.as_str(), "sandbox whatsapp: customer message queued");
    Ok(InboundReceipt {
        message_id: wamid,
        update_id: None,
        media_id,
    })
}

/// The customer reads outbound messages: each becomes `read` and a `read` status is queued.
pub(super) fn customer_reads(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    let read = mark_outbound_read(
        customer,
        up_to,
        &[MessageStatus::Sent, MessageStatus::Delivered],
    )?;
    let recipient = customer.id.clone();
    let events: Vec<_> = read
        .into_iter()
        .map(|id| {
            let value = status_value(&id, "read", &recipient, now, None, None, "service");
            ("status", id, value)
        })
        .collect();
    let count = events.len();
    enqueue(account, events);
    Ok(count)
}

/// The customer's phone comes online or goes offline; online, every `sent` message becomes
/// `delivered`.
pub(super) fn customer_online(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    online: bool,
) -> Result<()> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    customer.online = online;
    if !online {
        return Ok(());
    }
    let recipient = customer.id.clone();
    let mut events = Vec::new();
    for m in &mut customer.messages {
        if m.direction == MessageDirection::Outbound && m.status == MessageStatus::Sent {
            m.status = MessageStatus::Delivered;
            let category = if m.kind == MessageKind::Template {
                "utility"
            } else {
                "service"
            };
            events.push((
                "status",
                m.id.clone(),
                status_value(&m.id, "delivered", &recipient, now, None, None, category),
            ));
        }
    }
    enqueue(account, events);
    Ok(())
}
