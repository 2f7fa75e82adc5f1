//! Webhook intake: verify the secret header first (constant time, fail closed), then parse.
//!
//! Telegram POSTs one JSON `Update` per request and sends the `secret_token` given to
//! `setWebhook` in [`SECRET_HEADER`]. Any 2XX answer acknowledges the update; the handler answers
//! `200` with an empty body.

use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, verify_secret_header,
};
use messenger_core::{Error, InboundEvent, Platform, Result};
use serde_json::Value;

use crate::convert::update_to_events;
use crate::error::from_api_error;
use crate::wire::{ApiResponse, Update};

/// The header Telegram carries the webhook secret in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Verifies a webhook delivery against the configured secret.
///
/// Fails closed: with no secret configured, every delivery is rejected
/// ([`ErrorKind::WebhookRejected`](messenger_core::ErrorKind::WebhookRejected)).
///
/// ```
/// use connector_telegram::webhook::{verify, SECRET_HEADER};
/// use messenger_core::webhook::WebhookRequest;
/// let req = WebhookRequest::post("{}").header(SECRET_HEADER, "s3cret");
/// assert!(verify(&req, Some("s3cret")).is_ok());
/// assert!(verify(&req, Some("other")).is_err());
/// assert!(verify(&req, None).is_err());
/// ```
pub fn verify(request: &WebhookRequest, secret: Option<&str>) -> Result<()> {
    verify_secret_header(request, SECRET_HEADER, secret.unwrap_or(""))
        .map_err(|e| e.with_platform(Platform::Telegram))
}

/// Verifies, then parses one delivery into events and the `200` answer.
pub(crate) fn handle(request: &WebhookRequest, secret: Option<&str>) -> Result<WebhookOutcome> {
    if let Err(err) = verify(request, secret) {
        tracing::warn!(kind = %err.kind(), "telegram webhook delivery rejected");
        return Err(err);
    }
    let update: Update = serde_json::from_slice(&request.body).map_err(|e| {
        let err = Error::from(e).with_platform(Platform::Telegram);
        tracing::warn!(kind = %err.kind(), error = %err, "telegram webhook body undecodable");
        err
    })?;
    let update_id = update.update_id;
    let events = update_to_events(update)?;
    tracing::debug!(update_id, events = events.len(), "telegram webhook update");
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::ok(),
    })
}

/// Parses a webhook body (one `Update`), a getUpdates answer (`{"ok":true,"result":[...]}`) or
/// a JSON array of updates into events, without verification.
///
/// Malformed input is a typed [`Decode`](messenger_core::ErrorKind::Decode) error (never a
/// panic); an `ok: false` answer is the mapped Telegram error; an unknown update type is an
/// `other` event.
///
/// ```
/// let events = connector_telegram::parse(
///     br#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
///          "chat":{"id":42,"type":"private"},"text":"hi"}}"#,
/// ).unwrap();
/// assert_eq!(events[0].chat_id().unwrap().as_str(), "42");
///
/// let err = connector_telegram::parse(b"{not json").unwrap_err();
/// assert_eq!(err.kind(), messenger_core::ErrorKind::Decode);
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    let decode = |e: serde_json::Error| Error::from(e).with_platform(Platform::Telegram);
    let value: Value = serde_json::from_slice(body).map_err(decode)?;
    let updates: Vec<Update> = match value {
        Value::Object(ref map) if map.contains_key("ok") => {
            match serde_json::from_value::<ApiResponse<Vec<Update>>>(value).map_err(decode)? {
                ApiResponse::Ok(updates) => updates,
                ApiResponse::Err(api) => {
                    let status = api
                        .error_code
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or(0);
                    return Err(from_api_error(status, &api));
                }
            }
        }
        Value::Object(_) => vec![serde_json::from_value(value).map_err(decode)?],
        Value::Array(_) => serde_json::from_value(value).map_err(decode)?,
        _ => {
            return Err(Error::decode(
                "expected a Telegram Update, an array of updates or a getUpdates answer",
            )
            .with_platform(Platform::Telegram));
        }
    };
    let mut events = Vec::with_capacity(updates.len());
    for update in updates {
        events.extend(update_to_events(update)?);
    }
    Ok(events)
}
