//! The Callback API: verification first, then the one parser.
//!
//! VK POSTs one JSON event per request ([D callback], [S callback/objects.json]). In order:
//!
//! 1. A body over [`VkConfig::max_webhook_body`](crate::VkConfig::max_webhook_body) is
//!    refused (413) before it is read; anything but a `POST` of a JSON object is refused.
//! 2. Only `{type, secret, group_id}` are decoded ([`CallbackHead`]); a repeated key is a
//!    refusal.
//! 3. `confirmation`: answered with the configured confirmation string as `text/plain`, when
//!    `group_id` is the community's and the body's `secret`, where it carries one, matches
//!    (vksdk checks the secret of confirmations too). Without a configured string: refused.
//! 4. Every other event: the `secret` is compared in constant time with the configured one
//!    (digests of both, so the time tells neither the secret nor its length). A request
//!    without a `secret` is refused (vksdk once accepted those), and so is every request while
//!    no secret is configured. Then `group_id` must be the community's.
//! 5. The body is parsed by [`parse`], the parser that Long Poll and `messenger parse` use;
//!    the answer is `200 ok` (`text/plain`) for everything accepted, malformed and unknown
//!    events included (they become `other` events): a run of errors makes VK stop sending.
//!
//! A refusal is an error: `WebhookRejected` (401 through
//! [`WebhookResponse::for_error`]), `TooLarge` (413) or `InvalidInput` (400).
//!
//! De-duplication: VK re-sends an event it did not see acknowledged (with `X-Retry-Counter`).
//! Message and status events carry VK's ids, so
//! [`InboundEvent::dedup_key`] is the same for both deliveries; wrap the connector in
//! [`Deduplicated`](messenger_core::layers::Deduplicated). `message_allow`/`message_deny`
//! carry no time of their own, so a redelivery is a second `contact` event with the same
//! effect (opting in or out twice changes nothing).

use messenger_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResponse, constant_time_eq};
use messenger_core::{Error, InboundEvent, OtherEvent, Platform, Result};
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::VkConfig;
use crate::convert::{MALFORMED_EVENT, event_to_events, update_to_events};
use crate::error::from_api_error;
use crate::wire::{CallbackHead, Envelope, inbound};

const VK: Platform = Platform::Vk;

fn rejected(message: &str) -> Error {
    Error::webhook_rejected(message).with_platform(VK)
}

/// Compares the body's `secret` with the configured one in constant time. Fails closed:
/// no configured secret, no secret in the body, or a mismatch is `WebhookRejected`.
///
/// ```
/// use connector_vk::webhook::verify_secret;
/// assert!(verify_secret(Some("s3cr3t"), Some("s3cr3t")).is_ok());
/// assert!(verify_secret(Some("s3cr3T"), Some("s3cr3t")).is_err());
/// assert!(verify_secret(None, Some("s3cr3t")).is_err());
/// assert!(verify_secret(Some("anything"), None).is_err());
/// ```
pub fn verify_secret(given: Option<&str>, expected: Option<&str>) -> Result<()> {
    let expected = expected.filter(|s| !s.is_empty()).ok_or_else(|| {
        rejected("no Callback API secret is configured; refusing unverified events")
    })?;
    let given = given.ok_or_else(|| rejected("the Callback event carries no secret"))?;
    if constant_time_eq(&Sha256::digest(given), &Sha256::digest(expected)) {
        Ok(())
    } else {
        Err(rejected("the Callback secret does not match"))
    }
}

/// Verifies and parses one Callback delivery; see the [module docs](self).
pub(crate) fn handle(request: &WebhookRequest, config: &VkConfig) -> Result<WebhookOutcome> {
    let outcome = verify_and_parse(request, config);
    match &outcome {
        Ok(o) => tracing::debug!(events = o.events.len(), "vk callback accepted"),
        Err(err) => tracing::warn!(kind = %err.kind(), "vk callback refused"),
    }
    outcome
}

fn verify_and_parse(request: &WebhookRequest, config: &VkConfig) -> Result<WebhookOutcome> {
    request
        .ensure_body_within(config.max_webhook_body)
        .map_err(|e| e.with_platform(VK))?;
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(Error::invalid_input("VK posts Callback events").with_platform(VK));
    }
    // A JSON object only: serde would also read the three fields from an array, by position.
    if request.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(rejected("the body is not a VK Callback event"));
    }
    let head: CallbackHead = serde_json::from_slice(&request.body)
        .map_err(|_| rejected("the body is not a VK Callback event"))?;
    let expected_secret = config.secret.as_ref().map(|s| s.expose_str());
    let group_ok = head
        .group_id
        .is_some_and(|g| g.unsigned_abs() == config.group_id);

    if head.kind.as_deref() == Some("confirmation") {
        if let Some(given) = head.secret.as_deref() {
            verify_secret(Some(given), expected_secret)?;
        }
        if !group_ok {
            return Err(rejected("the confirmation is for another community"));
        }
        let confirmation = config
            .confirmation
            .as_ref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| rejected("no confirmation string is configured"))?;
        return Ok(WebhookOutcome {
            events: Vec::new(),
            response: WebhookResponse::text(confirmation.expose_str().to_owned()),
        });
    }

    verify_secret(head.secret.as_deref(), expected_secret)?;
    if !group_ok {
        return Err(rejected("the event is for another community"));
    }
    let events = parse(&request.body)
        .unwrap_or_else(|_| vec![InboundEvent::Other(OtherEvent::new(VK, MALFORMED_EVENT))]);
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::text("ok"),
    })
}

/// The one VK parser: a Callback event body, a Bots Long Poll answer (`{"ts", "updates"}`; a
/// `failed` answer has no events) or a JSON array of events, into events, without
/// verification. The webhook handler and the long-poll stream decode every event with the
/// same function ([`convert::update_to_events`](crate::convert::update_to_events)), so a body
/// means the same thing on every path.
///
/// Malformed JSON is a typed `Decode` error (never a panic); an API error envelope is the
/// mapped VK error; an event of an unknown type, or one whose object does not decode, is an
/// `other` event.
///
/// ```
/// use messenger_core::InboundEvent;
/// let events = connector_vk::parse(br#"{"type":"message_new","group_id":1,"event_id":"e1",
///   "object":{"message":{"id":345,"date":1717000000,"peer_id":111,"from_id":111,"out":0,
///   "text":"hi"}}}"#).unwrap();
/// assert!(matches!(&events[0], InboundEvent::Message(m) if m.chat_id.as_str() == "111"));
///
/// let events = connector_vk::parse(br#"{"ts":"5","updates":[{"type":"message_deny","object":{"user_id":111}}]}"#).unwrap();
/// assert_eq!(events.len(), 1);
///
/// let err = connector_vk::parse(b"{not json").unwrap_err();
/// assert_eq!(err.kind(), messenger_core::ErrorKind::Decode);
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    let decode = |e: serde_json::Error| Error::from(e).with_platform(VK);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(decode)?;
            Ok(updates_to_events(&items))
        }
        Some(b'{') => {
            // One pass: an event's fields, and the keys that tell an answer or an error.
            let route = match serde_json::from_slice::<Route<'_>>(body) {
                Ok(route) => route,
                // A field of an event of the wrong type: read again only for what it is.
                Err(_) => {
                    let keys = serde_json::from_slice::<Keys>(body).map_err(decode)?;
                    if keys.event {
                        return Ok(vec![InboundEvent::Other(OtherEvent::new(
                            VK,
                            MALFORMED_EVENT,
                        ))]);
                    }
                    Route {
                        keys,
                        ..Route::default()
                    }
                }
            };
            if route.keys.event {
                return Ok(event_to_events(route.event));
            }
            if route.keys.answer {
                let answer: inbound::LongPollAnswer<'_> =
                    serde_json::from_slice(body).map_err(decode)?;
                return Ok(updates_to_events(&answer.updates.unwrap_or_default()));
            }
            if route.keys.error {
                return match serde_json::from_slice::<Envelope>(body)
                    .map_err(decode)?
                    .error
                {
                    Some(api) => Err(from_api_error(&api, false)),
                    None => Err(Error::decode("an empty VK error").with_platform(VK)),
                };
            }
            Err(not_vk())
        }
        _ => {
            serde_json::from_slice::<IgnoredAny>(body).map_err(decode)?;
            Err(not_vk())
        }
    }
}

fn not_vk() -> Error {
    Error::decode("expected a VK Callback event, a Bots Long Poll answer or an array of events")
        .with_platform(VK)
}

/// Which kind of body an object is, by its keys (as a JSON object read whole: any key
/// present, `null` included): an event (`type` or `object`), a Long Poll answer (`updates` or
/// `failed`), an API error (`error`).
#[derive(Debug, Default, Clone, Copy)]
struct Keys {
    event: bool,
    answer: bool,
    error: bool,
}

impl Keys {
    fn note(&mut self, key: &str) -> bool {
        match key {
            "type" | "object" => self.event = true,
            "updates" | "failed" => self.answer = true,
            "error" => self.error = true,
            _ => return false,
        }
        true
    }
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
                while let Some(key) = map.next_key::<inbound::Str<'de>>()? {
                    keys.note(&key);
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(keys)
            }
        }
        d.deserialize_map(V)
    }
}

/// An object read in one pass: an event's fields (as [`inbound::Event`] reads them) and the
/// [`Keys`] that tell what it is.
#[derive(Default)]
struct Route<'a> {
    event: inbound::Event<'a>,
    keys: Keys,
}

impl<'de> Deserialize<'de> for Route<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Route<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Route<'de>, A::Error> {
                let mut route = Route::default();
                let mut seen = 0u8;
                let mut once = |bit: u8, name: &'static str| {
                    if seen & bit != 0 {
                        return Err(de::Error::duplicate_field(name));
                    }
                    seen |= bit;
                    Ok(())
                };
                while let Some(key) = map.next_key::<inbound::Str<'de>>()? {
                    route.keys.note(&key);
                    let e = &mut route.event;
                    match key.as_str() {
                        "type" => {
                            once(1, "type")?;
                            e.kind = map
                                .next_value::<Option<inbound::Str<'de>>>()?
                                .unwrap_or_default();
                        }
                        "group_id" => {
                            once(2, "group_id")?;
                            e.group_id = map.next_value()?;
                        }
                        "event_id" => {
                            once(4, "event_id")?;
                            e.event_id = map.next_value()?;
                        }
                        "v" => {
                            once(8, "v")?;
                            e.v = map.next_value()?;
                        }
                        "object" => {
                            once(16, "object")?;
                            e.object = map.next_value()?;
                        }
                        "secret" => {
                            once(32, "secret")?;
                            e.secret = map.next_value()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(route)
            }
        }
        d.deserialize_map(V)
    }
}

/// The events of a list of updates, in order.
pub(crate) fn updates_to_events(updates: &[&RawValue]) -> Vec<InboundEvent> {
    let mut events = Vec::with_capacity(updates.len());
    for update in updates {
        events.extend(update_to_events(update));
    }
    events
}
