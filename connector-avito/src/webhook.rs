//! Webhook v3 intake: the URL token first, then the one parser.
//!
//! Avito signs nothing documented: the subscribe body takes only `url`, and the
//! `x-avito-messenger-signature` header of real deliveries has an undocumented algorithm
//! (UNCONFIRMED; it is not checked, only noted in the debug log as present or absent). So the
//! CRM registers a URL that carries an unguessable token ([`Avito::webhook_url`] adds it as the
//! query parameter [`TOKEN_PARAM`]), and every delivery must present it. In order:
//!
//! 1. A body over [`AvitoConfig::max_webhook_body`](crate::AvitoConfig::max_webhook_body) is
//!    refused (413) before anything reads it.
//! 2. The token: the query parameter [`TOKEN_PARAM`] of [`WebhookRequest::query`], or, where
//!    the CRM's server carries the token in the URL **path** instead, the header
//!    [`TOKEN_HEADER`] that the server sets from that path segment. It is compared with the
//!    configured one in constant time (SHA-256 digests of both, so the time tells neither the
//!    token nor its length). Missing, wrong, or no token configured: `WebhookRejected` (401),
//!    **before** the body is parsed: a forged delivery costs no parsing and learns nothing.
//! 3. Only `POST` is taken.
//! 4. The body goes through [`parse`], the parser of `messenger parse` too. The answer is
//!    `200 {"ok":true}` for every verified delivery (Avito wants 200 within 2 s), unknown and
//!    malformed ones included: they become `other` events.
//!
//! De-duplication: a message keeps its Avito id (and `created`) in every delivery, so
//! [`InboundEvent::dedup_key`] is the same for a redelivery; wrap the connector in
//! [`Deduplicated`](messenger_core::layers::Deduplicated). (Whether the envelope `id` is stable
//! across retries is UNCONFIRMED, so it is not used.)

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse, constant_time_eq};
use messenger_core::{Error, InboundEvent, OtherEvent, Platform, Result};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

#[cfg(doc)]
use crate::Avito;
use crate::AvitoConfig;
use crate::convert::{Incoming, MALFORMED_EVENT, envelope_events, message_event};
use crate::wire::{WebhookEnvelope, WebhookMessage};

const AVITO: Platform = Platform::Avito;

/// The query parameter of the registered URL that carries the webhook token.
pub const TOKEN_PARAM: &str = "token";

/// The header a CRM's server sets to the token when it carries it in the URL path.
pub const TOKEN_HEADER: &str = "X-Messenger-Webhook-Token";

/// The header Avito adds to deliveries (algorithm undocumented; not verified).
pub const SIGNATURE_HEADER: &str = "x-avito-messenger-signature";

fn rejected(message: &str) -> Error {
    Error::webhook_rejected(message).with_platform(AVITO)
}

/// The token a delivery presents: the query parameter, else the header.
fn presented(request: &WebhookRequest) -> Option<String> {
    request
        .query_param(TOKEN_PARAM)
        .or_else(|| request.header_value(TOKEN_HEADER).map(str::to_owned))
}

/// Checks the token `request` presents against `expected`, in constant time. Fails closed:
/// no configured token, none presented, or a mismatch is `WebhookRejected`.
///
/// ```
/// use connector_avito::webhook::verify_token;
/// use messenger_core::webhook::WebhookRequest;
/// let mut request = WebhookRequest::post("{}");
/// request.query = Some("token=Zq3-unguessable".into());
/// assert!(verify_token(&request, Some("Zq3-unguessable")).is_ok());
/// assert!(verify_token(&request, Some("Zq3-unguessablE")).is_err());
/// assert!(verify_token(&request, None).is_err());
/// let header = WebhookRequest::post("{}").header("X-Messenger-Webhook-Token", "Zq3-unguessable");
/// assert!(verify_token(&header, Some("Zq3-unguessable")).is_ok());
/// assert!(verify_token(&WebhookRequest::post("{}"), Some("Zq3-unguessable")).is_err());
/// ```
pub fn verify_token(request: &WebhookRequest, expected: Option<&str>) -> Result<()> {
    let expected = expected.filter(|t| !t.is_empty()).ok_or_else(|| {
        rejected("no Avito webhook token is configured; refusing unverified deliveries")
    })?;
    let given =
        presented(request).ok_or_else(|| rejected("the delivery carries no webhook token"))?;
    if constant_time_eq(
        &Sha256::digest(given.as_bytes()),
        &Sha256::digest(expected.as_bytes()),
    ) {
        Ok(())
    } else {
        Err(rejected("the webhook token does not match"))
    }
}

/// Verifies and parses one delivery; see the [module docs](self).
pub(crate) fn handle(request: &WebhookRequest, config: &AvitoConfig) -> Result<WebhookOutcome> {
    let outcome = verify_and_parse(request, config);
    match &outcome {
        Ok(o) => tracing::debug!(events = o.events.len(), "avito webhook accepted"),
        Err(err) => tracing::warn!(kind = %err.kind(), "avito webhook refused"),
    }
    outcome
}

fn verify_and_parse(request: &WebhookRequest, config: &AvitoConfig) -> Result<WebhookOutcome> {
    request
        .ensure_body_within(config.max_webhook_body)
        .map_err(|e| e.with_platform(AVITO))?;
    verify_token(
        request,
        config.webhook_token.as_ref().map(|t| t.expose_str()),
    )?;
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(Error::invalid_input("Avito posts webhook deliveries").with_platform(AVITO));
    }
    tracing::debug!(
        signature = request.header_value(SIGNATURE_HEADER).is_some(),
        "avito webhook token verified"
    );
    let events = parse(&request.body)
        .unwrap_or_else(|_| vec![InboundEvent::Other(OtherEvent::new(AVITO, MALFORMED_EVENT))]);
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse {
            status: 200,
            content_type: Some("application/json"),
            body: Bytes::from_static(br#"{"ok":true}"#),
        },
    })
}

/// The one Avito parser: a webhook v3 delivery (`{id, version, timestamp, payload}`), a JSON
/// array of them, or a bare `payload.value` message, into events, without verification. The
/// webhook handler uses it, and polling decodes each message with the same conversion
/// ([`convert`](crate::convert)), so a message means the same thing on every path.
///
/// Malformed JSON is a typed `Decode` error (never a panic); an unknown payload type, or a
/// message type the core does not model, is an `other` event with its chat.
///
/// ```
/// use messenger_core::{Content, InboundEvent};
/// let body = br#"{"id":"7f3c","version":"v3.0.0","timestamp":1717000000,"payload":{"type":"message",
///   "value":{"id":"3e798a9bf88345ae8fe85ff891266b24","chat_id":"u2i-y9ykWR1EkNOJJMaE9i9m8w",
///   "user_id":94235311,"author_id":51234567,"created":1717000000,"type":"text",
///   "content":{"text":"hello"}}}}"#;
/// let events = connector_avito::parse(body).unwrap();
/// let InboundEvent::Message(m) = &events[0] else { panic!() };
/// assert_eq!(m.chat_id.as_str(), "u2i-y9ykWR1EkNOJJMaE9i9m8w");
/// assert!(matches!(&m.content, Content::Text { text } if text == "hello"));
///
/// let err = connector_avito::parse(b"{not json").unwrap_err();
/// assert_eq!(err.kind(), messenger_core::ErrorKind::Decode);
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    let decode = |e: serde_json::Error| Error::from(e).with_platform(AVITO);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            if let Ok(deliveries) = serde_json::from_slice::<Vec<Delivery>>(body) {
                return Ok(deliveries
                    .into_iter()
                    .map(|d| message_event(Incoming::from_webhook(d.message), d.timestamp))
                    .collect());
            }
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(decode)?;
            let mut events = Vec::with_capacity(items.len());
            for item in items {
                match serde_json::from_str::<WebhookEnvelope>(item.get()) {
                    Ok(envelope) => events.extend(envelope_events(envelope)),
                    Err(_) => {
                        events.push(InboundEvent::Other(OtherEvent::new(AVITO, MALFORMED_EVENT)))
                    }
                }
            }
            Ok(events)
        }
        Some(b'{') => {
            // One pass where the delivery is a message, as Avito sends them.
            if let Ok(delivery) = serde_json::from_slice::<Delivery>(body) {
                return Ok(vec![message_event(
                    Incoming::from_webhook(delivery.message),
                    delivery.timestamp,
                )]);
            }
            let keys: Keys = serde_json::from_slice(body).map_err(decode)?;
            if keys.payload {
                let envelope: WebhookEnvelope = serde_json::from_slice(body).map_err(decode)?;
                Ok(envelope_events(envelope))
            } else if keys.chat_id && keys.kind {
                let message: WebhookMessage = serde_json::from_slice(body).map_err(decode)?;
                Ok(vec![message_event(Incoming::from_webhook(message), None)])
            } else {
                Err(not_avito())
            }
        }
        _ => {
            serde_json::from_slice::<IgnoredAny>(body).map_err(decode)?;
            Err(not_avito())
        }
    }
}

fn not_avito() -> Error {
    Error::decode("expected an Avito webhook delivery, an array of them, or a message")
        .with_platform(AVITO)
}

/// Which keys an object has (any value, `null` included), to tell a delivery from a message.
#[derive(Default)]
struct Keys {
    payload: bool,
    chat_id: bool,
    kind: bool,
}

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Keys, A::Error> {
                let mut keys = Keys::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "payload" => keys.payload = true,
                        "chat_id" => keys.chat_id = true,
                        "type" => keys.kind = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(keys)
            }
        }
        d.deserialize_map(V)
    }
}

/// A delivery of a message read in one pass: `{id, version, timestamp, payload: {type:
/// "message", value}}` with `type` before `value`, every part an object and no key given
/// twice. Anything else fails here and is read again key by key ([`Keys`],
/// [`WebhookEnvelope`], its raw `value`), with the same events for what this reads.
struct Delivery {
    timestamp: Option<i64>,
    message: WebhookMessage,
}

/// Reads a field once; a second one fails the one pass.
fn once<E: de::Error>(seen: &mut u8, bit: u8) -> std::result::Result<(), E> {
    if *seen & bit != 0 {
        return Err(E::custom("a repeated key"));
    }
    *seen |= bit;
    Ok(())
}

/// A lenient scalar of [`WebhookEnvelope`], read as it reads it.
struct Scalar<T>(T);

impl<'de> Deserialize<'de> for Scalar<Option<i64>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::wire::lenient_i64(d).map(Scalar)
    }
}

impl<'de> Deserialize<'de> for Scalar<Option<String>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::wire::lenient_string(d).map(Scalar)
    }
}

impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = Delivery;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a delivery")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Delivery, A::Error> {
                let mut seen = 0u8;
                let mut timestamp = None;
                let mut message = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "id" => {
                            once(&mut seen, 1)?;
                            map.next_value::<Scalar<Option<String>>>()?;
                        }
                        "version" => {
                            once(&mut seen, 2)?;
                            map.next_value::<Scalar<Option<String>>>()?;
                        }
                        "timestamp" => {
                            once(&mut seen, 4)?;
                            timestamp = map.next_value::<Scalar<Option<i64>>>()?.0;
                        }
                        "payload" => {
                            once(&mut seen, 8)?;
                            message = Some(map.next_value_seed(PayloadSeed)?);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match message {
                    Some(message) => Ok(Delivery { timestamp, message }),
                    None => Err(de::Error::custom("no payload")),
                }
            }
        }
        d.deserialize_map(Top)
    }
}

/// `payload`, an object with `type: "message"` before its `value`, an object.
struct PayloadSeed;

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = WebhookMessage;
    fn deserialize<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<WebhookMessage, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed {
    type Value = WebhookMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<WebhookMessage, A::Error> {
        let mut seen = 0u8;
        let mut is_message = false;
        let mut message = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "type" => {
                    once(&mut seen, 1)?;
                    is_message =
                        map.next_value::<Scalar<Option<String>>>()?.0.as_deref() == Some("message");
                }
                "value" => {
                    once(&mut seen, 2)?;
                    if !is_message {
                        return Err(de::Error::custom("a value before its type"));
                    }
                    message = Some(map.next_value_seed(MessageSeed)?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        message.ok_or_else(|| de::Error::custom("no message"))
    }
}

/// A [`WebhookMessage`] that is an object (not read from an array by position).
struct MessageSeed;

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = WebhookMessage;
    fn deserialize<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<WebhookMessage, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = WebhookMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<WebhookMessage, A::Error> {
        WebhookMessage::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_pass_and_the_key_by_key_reading_agree() {
        let value = r#"{"id":"m1","chat_id":"u2i-1","user_id":7,"author_id":5,"created":1717000000,
            "type":"text","content":{"text":"hi"}}"#;
        let bodies = [
            format!(
                r#"{{"id":"d","version":"v3.0.0","timestamp":1717000000,"payload":{{"type":"message","value":{value}}}}}"#
            ),
            // The value before its type, another type, a repeated key, an empty value.
            format!(r#"{{"timestamp":1717000000,"payload":{{"value":{value},"type":"message"}}}}"#),
            format!(r#"{{"payload":{{"type":"chat_closed","value":{value}}}}}"#),
            format!(
                r#"{{"timestamp":1,"timestamp":2,"payload":{{"type":"message","value":{value}}}}}"#
            ),
            r#"{"payload":{"type":"message","value":null}}"#.to_owned(),
        ];
        for body in &bodies {
            let keyed = serde_json::from_str::<WebhookEnvelope>(body).map(envelope_events);
            match keyed {
                Ok(events) => assert_eq!(parse(body.as_bytes()).unwrap(), events, "{body}"),
                Err(_) => assert!(parse(body.as_bytes()).is_err(), "{body}"),
            }
        }
        assert!(serde_json::from_str::<Delivery>(&bodies[0]).is_ok());
        assert!(serde_json::from_str::<Delivery>(&bodies[1]).is_err());
    }
}
