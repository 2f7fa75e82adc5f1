//! Webhooks: the queue of events of a number (inbound messages and statuses, wrapped in the
//! `whatsapp_business_account` envelope, reversed in out-of-order mode), the deliveries the
//! worker makes (signed with `X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the app
//! secret), and the `hub.challenge` verification handshake.

use bytes::Bytes;
use messenger_core::{Error, Result};
use serde_json::{Value, json};

use super::{NumberState, number, number_mut};
use crate::api::{ErrorView, WebhookCheck};
use crate::platforms::{Delivery, Outcome};
use crate::state::{Account, Shared, json_bytes, random_digits};

/// Where a status error's `href` points.
const ERROR_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// A webhook event waiting to be delivered.
pub(super) struct WaEvent {
    seq: u64,
    kind: &'static str,
    reference: String,
    body: Bytes,
}

/// The `value` envelope of a webhook for this number.
fn webhook_body(account: &Account, number: &NumberState, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": number.display_phone_number,
        "phone_number_id": account.id,
    });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": number.waba_id,
            "changes": [{ "field": "messages", "value": value }],
        }],
    })
}

/// Queues webhook events; statuses produced together go out reversed in out-of-order mode.
pub(super) fn enqueue(account: &mut Account, events: Vec<(&'static str, String, Value)>) {
    let Some(number) = number(account) else {
        return;
    };
    let mut built: Vec<(&'static str, String, Bytes)> = events
        .into_iter()
        .map(|(kind, reference, value)| {
            (
                kind,
                reference,
                json_bytes(&webhook_body(account, number, value)),
            )
        })
        .collect();
    if number.out_of_order && built.len() > 1 {
        built.reverse();
    }
    if let Some(number) = number_mut(account) {
        for (kind, reference, body) in built {
            number.next_event += 1;
            number.events.push_back(WaEvent {
                seq: number.next_event,
                kind,
                reference,
                body,
            });
        }
    }
    account.wake();
}

/// The `value` of a status webhook (`sent`, `delivered`, `read`, `failed` with its error).
pub(super) fn status_value(
    wamid: &str,
    status: &str,
    recipient: &str,
    now_ms: i64,
    error: Option<&ErrorView>,
    details: Option<&str>,
    category: &str,
) -> Value {
    let mut s = json!({
        "id": wamid,
        "status": status,
        "timestamp": now_ms.div_euclid(1000).to_string(),
        "recipient_id": recipient,
    });
    if let Some(error) = error {
        s["errors"] = json!([{
            "code": error.code,
            "title": error.title,
            "message": error.title,
            "error_data": { "details": details.unwrap_or(&error.title) },
            "href": ERROR_HREF,
        }]);
    } else if status != "read" {
        s["pricing"] = json!({
            "billable": category != "service",
            "pricing_model": "PMP",
            "category": category,
        });
    }
    json!({ "statuses": [s] })
}

/// Sends the `hub.challenge` handshake to the callback URL.
pub(super) async fn verify_webhook(shared: &Shared, account_id: &str) -> Result<WebhookCheck> {
    let (url, token) = {
        let state = shared.lock();
        let number = number(state.account(account_id)?)
            .ok_or_else(|| Error::invalid_input("not a WhatsApp account"))?;
        let url = number
            .webhook_url
            .clone()
            .ok_or_else(|| Error::invalid_input("no webhook URL is configured"))?;
        (url, number.verify_token.clone().unwrap_or_default())
    };
    if !crate::webhook::deliverable(&url) {
        return Err(Error::invalid_input(
            "the sandbox calls loopback webhook URLs only",
        ));
    }
    let challenge = random_digits(10);
    let response = shared
        .http
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", challenge.as_str()),
            ("hub.verify_token", token.as_str()),
        ])
        .send()
        .await
        .map_err(|e| Error::transport("the webhook handshake failed").with_source(e))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    Ok(WebhookCheck {
        status,
        challenge_echoed: (200..300).contains(&status) && body.as_ref() == challenge.as_bytes(),
    })
}

/// The next event to POST, signed with the number's app secret.
pub(super) fn next_delivery(account: &Account) -> Option<Delivery> {
    let number = number(account)?;
    let url = number.webhook_url.clone()?;
    let event = number.events.front()?;
    let signature = format!(
        "sha256={}",
        messenger_core::webhook::hmac_sha256_hex(number.app_secret.as_bytes(), &event.body)
    );
    Some(Delivery {
        url,
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("x-hub-signature-256", signature),
            ("user-agent", "facebookexternalua".to_string()),
        ],
        body: event.body.clone(),
        kind: event.kind,
        reference: event.reference.clone(),
        key: event.seq,
    })
}

/// Records the outcome of a delivery: a success (or giving up) removes the event.
pub(super) fn delivery_done(account: &mut Account, key: u64, outcome: &Outcome<'_>) {
    if let Some(number) = number_mut(account)
        && (outcome.error.is_none() || outcome.give_up)
    {
        number.events.retain(|e| e.seq != key);
    }
}
