//! Webhook intake and the one parser.
//!
//! # The one parser
//!
//! Every path decodes an update with [`parse_update`]: the webhook handler, long polling (each
//! element of a `getUpdates` answer) and [`parse`] (what `messenger parse` and the registry's
//! [`ENTRY`](crate::ENTRY) use, for a single update, an array of updates or a whole `getUpdates`
//! answer). An update is decoded in one pass straight into the borrowed types of
//! [`wire::inbound`](crate::wire::inbound), never through a `serde_json::Value`: unknown fields
//! are skipped without being built and strings stay in the body until an event takes them, so
//! a body means the same thing on every path. In particular an object with a duplicate key
//! (`"text"` twice) is refused everywhere, rather than read as its last value on one path and
//! refused on another: a stop word cannot count on one path and not on the other.
//!
//! [`parse`] reads a body in one pass too: an update is read as one until an `ok` key shows it
//! is a Bot API answer, and the updates of an answer or an array are converted as they are
//! read. Only a body that fails that way is read again, update by update, so that the error
//! names the update and the place in it.
//!
//! # Webhooks
//!
//! Telegram POSTs one JSON `Update` per request and sends the `secret_token` given to
//! `setWebhook` in [`SECRET_HEADER`]. The handler, in this order:
//!
//! 1. refuses a body over the configured maximum
//!    ([`TelegramConfig::max_webhook_body`](crate::TelegramConfig::max_webhook_body), default
//!    [`DEFAULT_MAX_WEBHOOK_BODY`](crate::DEFAULT_MAX_WEBHOOK_BODY)) with `TooLarge`, answered
//!    `413`, before anything else is read;
//! 2. verifies the secret header (constant time, fail closed: `401`);
//! 3. parses the update and answers `200` with an empty body (any 2XX acknowledges it).
//!
//! A verified update with an `update_id` but a shape the connector cannot read becomes an
//! `other` event of kind `malformed_update` (answered `200`, as long polling skips it: a non-2XX
//! answer would make Telegram send the same update again and hold back the ones behind it); a
//! body that is not an update at all is a `Decode` error (`400`).

use messenger_core::redact::Secret;
use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, verify_secret_header,
};
use std::cell::Cell;
use std::fmt;

use messenger_core::{Error, InboundEvent, OtherEvent, Platform, Result};
use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::convert::update_to_events;
use crate::error::{from_api_error, json_error};
use crate::wire::inbound::{Update, UpdateSeed};
use crate::wire::{ApiError, ResponseParameters};

const TG: Platform = Platform::Telegram;

/// The header Telegram carries the webhook secret in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// The kind of the `other` event of a verified update that cannot be read.
pub const MALFORMED_UPDATE: &str = "malformed_update";

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
        .map_err(|e| e.with_platform(TG))
}

/// Checks the size, verifies, then parses one delivery into events and the `200` answer.
pub(crate) fn handle(
    request: &WebhookRequest,
    secret: Option<&Secret<String>>,
    max_body: usize,
) -> Result<WebhookOutcome> {
    messenger_core::webhook::admit(request, TG, max_body, |r| {
        verify(r, secret.map(Secret::expose_str))
    })?;
    let events = match read_update(&request.body) {
        Ok((update_id, events)) => {
            tracing::debug!(update_id, events = events.len(), "telegram webhook update");
            events
        }
        Err(err) => match update_id_of(&request.body) {
            Some(update_id) => {
                tracing::warn!(update_id, kind = %err.kind(), error = %err, "skipping an undecodable telegram update");
                vec![malformed()]
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

/// The event of a verified update that cannot be read.
pub(crate) fn malformed() -> InboundEvent {
    InboundEvent::Other(OtherEvent::new(TG, MALFORMED_UPDATE))
}

/// The `update_id` of a body that is a JSON object with an integer `update_id`, whatever the
/// rest of it is.
pub(crate) fn update_id_of(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct IdOnly {
        update_id: i64,
    }
    serde_json::from_slice::<IdOnly>(body)
        .ok()
        .map(|u| u.update_id)
}

/// Decodes one update (its `update_id` and its events): the one decoder of every path.
pub(crate) fn read_update(body: &[u8]) -> Result<(i64, Vec<InboundEvent>)> {
    let update: Update<'_> = serde_json::from_slice(body)
        .map_err(|e| json_error("the body is not a Telegram update", &e, body))?;
    let update_id = update.update_id;
    Ok((update_id, update_to_events(update)?))
}

/// Parses one `Update` (a webhook body, one element of a `getUpdates` answer) into events,
/// without verification: the decoder every path shares (see the [module docs](self)).
///
/// ```
/// let events = connector_telegram::parse_update(
///     br#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
///          "chat":{"id":42,"type":"private"},"text":"hi"}}"#,
/// ).unwrap();
/// assert_eq!(events[0].chat_id().unwrap().as_str(), "42");
///
/// // The same key twice is refused on every path.
/// let err = connector_telegram::parse_update(
///     br#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
///          "chat":{"id":42,"type":"private"},"text":"hi","text":"STOP"}}"#,
/// ).unwrap_err();
/// assert!(err.message().contains("duplicate field `text`"), "{err}");
/// ```
pub fn parse_update(body: &[u8]) -> Result<Vec<InboundEvent>> {
    read_update(body).map(|(_, events)| events)
}

/// The keys of a JSON object that tell a `getUpdates` answer from an update.
#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    ok: Option<IgnoredAny>,
}

/// A `getUpdates` answer whose updates are kept raw, for [`parse_update`].
#[derive(Deserialize)]
struct RawAnswer<'a> {
    ok: bool,
    #[serde(borrow, default)]
    result: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

/// Parses a webhook body (one `Update`), a `getUpdates` answer (`{"ok":true,"result":[...]}`)
/// or a JSON array of updates into events, without verification. Each update goes through
/// [`parse_update`], as on the webhook and long-polling paths.
///
/// Malformed input is a typed [`Decode`](messenger_core::ErrorKind::Decode) error that says
/// what failed and where (never a panic, never quoting the body); an `ok: false` answer is the
/// mapped Telegram error; an unknown update type is an `other` event.
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
/// assert_eq!(err.message(), "the body is not a Telegram update: malformed JSON at line 1 column 2");
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => match serde_json::from_slice::<UpdatesEvents>(body) {
            Ok(UpdatesEvents(events)) => Ok(events),
            // Read again update by update, for the error of the update that failed.
            Err(_) => {
                let updates: Vec<&RawValue> = serde_json::from_slice(body)
                    .map_err(|e| json_error("the body is not an array of updates", &e, body))?;
                parse_each(&updates)
            }
        },
        Some(b'{') => {
            let answer = Cell::new(false);
            if let Ok(update) = read_seed(
                body,
                UpdateSeed {
                    answer: Some(&answer),
                },
            ) {
                // Not an answer: no `ok` key.
                return update_to_events(update);
            }
            if answer.get()
                && let Ok(FastAnswer {
                    ok: true,
                    result: Some(UpdatesEvents(events)),
                    ..
                }) = serde_json::from_slice(body)
            {
                return Ok(events);
            }
            // An error answer, or a body that fails: read again as before, for its error.
            if is_answer(body) {
                read_answer(body)
            } else {
                parse_update(body)
            }
        }
        None => parse_update(body),
        Some(_) => Err(Error::decode(
            "expected a Telegram Update, an array of updates or a getUpdates answer",
        )
        .with_platform(TG)),
    }
}

/// Reads a whole body with `seed`, as `serde_json::from_slice` reads a type.
fn read_seed<'de, S: DeserializeSeed<'de>>(
    body: &'de [u8],
    seed: S,
) -> serde_json::Result<S::Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A `getUpdates` answer, each update kept raw and read on its own.
fn read_answer(body: &[u8]) -> Result<Vec<InboundEvent>> {
    let answer: RawAnswer<'_> = serde_json::from_slice(body)
        .map_err(|e| json_error("the body is not a getUpdates answer", &e, body))?;
    if !answer.ok {
        return Err(from_api_error(
            0,
            &ApiError {
                error_code: answer.error_code,
                description: answer.description,
                parameters: answer.parameters,
            },
        ));
    }
    let updates = answer.result.ok_or_else(|| {
        Error::decode("the getUpdates answer has `ok: true` but no `result`").with_platform(TG)
    })?;
    parse_each(&updates)
}

/// A `getUpdates` answer read in one pass, its updates converted as they are read: the same
/// fields and types as [`RawAnswer`], so it reads what that reads.
#[derive(Deserialize)]
struct FastAnswer {
    ok: bool,
    #[serde(default)]
    result: Option<UpdatesEvents>,
    #[serde(default)]
    #[allow(dead_code)]
    error_code: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    parameters: Option<ResponseParameters>,
}

/// The events of a JSON array of updates, each converted as it is read; any update that
/// cannot be read or converted fails the whole array (which [`parse`] then reads again for
/// the error).
struct UpdatesEvents(Vec<InboundEvent>);

impl<'de> Deserialize<'de> for UpdatesEvents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Each;
        impl<'de> Visitor<'de> for Each {
            type Value = UpdatesEvents;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<UpdatesEvents, A::Error> {
                let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(update) = seq.next_element::<Update<'de>>()? {
                    events
                        .extend(update_to_events(update).map_err(|_| {
                            de::Error::custom("an update that cannot be converted")
                        })?);
                }
                Ok(UpdatesEvents(events))
            }
        }
        d.deserialize_seq(Each)
    }
}

/// Whether a JSON object has an `ok` key: a Bot API answer, not an update.
fn is_answer(body: &[u8]) -> bool {
    serde_json::from_slice::<Shape>(body).is_ok_and(|shape| shape.ok.is_some())
}

fn parse_each(updates: &[&RawValue]) -> Result<Vec<InboundEvent>> {
    let mut events = Vec::with_capacity(updates.len());
    for (index, update) in updates.iter().enumerate() {
        let parsed = parse_update(update.get().as_bytes()).map_err(|e| {
            Error::new(e.kind(), format!("update {index}: {}", e.message())).with_platform(TG)
        })?;
        events.extend(parsed);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_core::ErrorKind;

    #[test]
    fn an_answer_is_told_from_an_update_by_its_ok_key() {
        assert!(is_answer(br#"{"ok":true,"result":[]}"#));
        assert!(is_answer(br#"{"result":[],"ok":false}"#));
        assert!(!is_answer(br#"{"update_id":1,"poll":{"ok":true}}"#));
        assert!(!is_answer(b"{broken"));
    }

    #[test]
    fn an_ok_key_makes_an_answer_wherever_it_is() {
        let update = r#"{"update_id":5,"message":{"message_id":1,"date":1767225600,
            "chat":{"id":7,"type":"private"},"text":"hi"}}"#;
        let first = parse(format!(r#"{{"ok":true,"result":[{update}]}}"#).as_bytes()).unwrap();
        let last = parse(format!(r#"{{"result":[{update}],"ok":true}}"#).as_bytes()).unwrap();
        assert_eq!(first, last);
        assert_eq!(first, parse_update(update.as_bytes()).unwrap());
        // `"ok": null` is not an answer: an update with an `ok` payload.
        let events = parse(br#"{"update_id":1,"poll":{},"ok":null}"#).unwrap();
        assert_eq!(events, [InboundEvent::Other(OtherEvent::new(TG, "ok"))]);
        // Two `ok` keys: not an answer, and not an update either.
        let err = parse(br#"{"ok":true,"ok":true,"result":[]}"#).unwrap_err();
        assert!(err.message().contains("missing field `update_id`"), "{err}");
        // An answer whose update does not read names it, as before.
        let err =
            parse(br#"{"ok":true,"result":[{"update_id":1},{"update_id":"x"}]}"#).unwrap_err();
        assert!(err.message().starts_with("update 1: "), "{err}");
    }

    #[test]
    fn errors_in_a_batch_name_the_update() {
        let err = parse(br#"[{"update_id":1,"poll":{}},{"update_id":"x"}]"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.message().starts_with("update 1: "), "{err}");
    }

    #[test]
    fn a_getupdates_error_without_details_is_clear() {
        let err = parse(br#"{"ok":false}"#).unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("HTTP 0") && !text.contains("code 0"),
            "{text}"
        );
        assert!(
            text.contains("without an error code or a description"),
            "{text}"
        );
    }
}
