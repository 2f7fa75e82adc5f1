//! Webhook intake: verify the secret header first (constant time, fail closed), then parse.
//!
//! Telegram POSTs one JSON `Update` per request and sends the `secret_token` given to
//! `setWebhook` in [`SECRET_HEADER`]. Any 2XX answer acknowledges the update; the handler answers
//! `200` with an empty body. A verified update with an `update_id` but a shape the connector
//! cannot read becomes an `other` event of kind `malformed_update` (answered `200`, as long
//! polling skips it); a body that is not an update at all is a `Decode` error.

use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, verify_secret_header,
};
use messenger_core::{Error, InboundEvent, OtherEvent, Platform, Result};
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
    let events = match serde_json::from_slice::<Update>(&request.body)
        .map_err(|e| Error::from(e).with_platform(Platform::Telegram))
        .and_then(|update| {
            let update_id = update.update_id;
            update_to_events(update).inspect(|events| {
                tracing::debug!(update_id, events = events.len(), "telegram webhook update");
            })
        }) {
        Ok(events) => events,
        // A verified update that has an id but an unexpected shape is acknowledged as a
        // `malformed_update` event, as long polling does: a non-2xx answer would make Telegram
        // re-send the same undecodable update and hold back the ones behind it.
        Err(err) => match update_id_of(&request.body) {
            Some(update_id) => {
                tracing::warn!(update_id, kind = %err.kind(), error = %err, "skipping an undecodable telegram update");
                vec![InboundEvent::Other(OtherEvent {
                    platform: Platform::Telegram,
                    kind: "malformed_update".to_owned(),
                })]
            }
            None => {
                tracing::warn!(kind = %err.kind(), error = %err, "telegram webhook body undecodable");
                return Err(err);
            }
        },
    };
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::ok(),
    })
}

/// The `update_id` of a body that is a JSON object with an integer `update_id`.
fn update_id_of(body: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        update_id: i64,
    }
    serde_json::from_slice::<IdOnly>(body)
        .ok()
        .map(|u| u.update_id)
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
