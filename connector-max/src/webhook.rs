//! Webhook intake and the one parser.
//!
//! # The one parser
//!
//! Every path decodes an update with [`parse_update`]: the webhook handler (a body is one
//! `Update`), long polling (each element of a `GET /updates` answer, see [`crate::poll`]) and
//! [`parse`] (what `messenger parse` and [`ENTRY`](crate::ENTRY) use: one update, a
//! `/updates` answer, or a JSON array of updates). A body means the same thing on every path.
//!
//! - An update of a type this version does not know is an `other` event with its
//!   `update_type` as kind and its chat where the body names one.
//! - An update of a known type that cannot be read (a field of the wrong type, a message
//!   without a body or chat) is an `other` event of kind
//!   [`MALFORMED_UPDATE`], with its chat where it can be
//!   found.
//! - A body that is not a MAX update at all (not JSON, not an object with `update_type`) is a
//!   [`Decode`](messenger_core::ErrorKind::Decode) error from [`parse`], which never quotes
//!   the body.
//!
//! # Webhooks
//!
//! MAX POSTs one `Update` per request with the subscription's secret in [`SECRET_HEADER`], and
//! counts any answer but `200` as a failure, retrying for up to 8 hours
//! (`shared/platforms/max.md` §5.2). The handler, in this order:
//!
//! 1. refuses a body over the configured maximum
//!    ([`MaxConfig::max_webhook_body`](crate::MaxConfig::max_webhook_body), default
//!    [`DEFAULT_MAX_WEBHOOK_BODY`]) with `TooLarge` (answered `413`), before anything reads it;
//! 2. verifies the secret header in constant time, failing closed (no secret configured, a
//!    missing or a wrong header: `WebhookRejected`, answered `401`);
//! 3. parses, and answers `200` to everything it verified: a body it cannot read becomes an
//!    `other` event of kind [`MALFORMED_UPDATE`], never an
//!    error that would make MAX send it again for hours.

use messenger_core::redact::Secret;
use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, verify_secret_header,
};
use messenger_core::{Error, InboundEvent, Platform, Result};
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::convert::{MALFORMED_UPDATE, other_event, update_to_events};
use crate::wire::inbound::{ALL, Peek, Update, UpdateKind, UpdateSeed};

const MAX: Platform = Platform::Max;

/// The header MAX carries the webhook secret in.
pub const SECRET_HEADER: &str = "X-Max-Bot-Api-Secret";

/// The largest webhook body [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook)
/// reads unless configured: 1 MiB.
///
/// MAX sends one `Update` per delivery; a message's text is at most 4000 characters and its
/// attachments are references (URLs and tokens), so even an update with a long text, a quoted
/// reply and ten attachments is tens of kilobytes. A larger body is not MAX's and is refused
/// with `TooLarge` (HTTP `413`) before it is verified or parsed.
pub const DEFAULT_MAX_WEBHOOK_BODY: usize = 1 << 20;

fn decode_error(what: &str, err: serde_json::Error) -> Error {
    // The core conversion keeps only the class and position: serde_json's own message can
    // quote a value of the body.
    let inner = Error::from(err);
    Error::decode(format!("{what}: {}", inner.message())).with_platform(MAX)
}

/// The events of an update read in one pass: the fields of every known type at once.
fn update_events(update: &Update<'_>) -> Vec<InboundEvent> {
    let Some(kind) = update.kind() else {
        let kind = update.update_type.as_deref().unwrap_or("unknown");
        tracing::debug!(update_type = %kind, "max update of an unknown type");
        return vec![other_event(kind, update.named_chat())];
    };
    match update_to_events(kind, update) {
        Ok(events) => events,
        Err(err) => {
            tracing::warn!(update_type = kind.name(), kind = %err.kind(), error = %err, "max update unreadable");
            vec![other_event(MALFORMED_UPDATE, update.named_chat())]
        }
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

/// Parses one MAX `Update` (a webhook body, one element of a `GET /updates` answer) into
/// events, without verification: the decoder every path shares (see the [module docs](self)).
///
/// An update is read in one pass into [`Update`], which holds the fields of every known
/// type whatever the place of `update_type`. Where that fails (a field of another type in an
/// unexpected shape, a repeated key, an update that is not one), the body is read as its
/// type alone: first what it says of itself ([`Peek`]: its `update_type` and chat), then only
/// the fields of that type, as the type's own decoder reads them.
///
/// ```
/// use messenger_core::InboundEvent;
/// let events = connector_max::parse_update(
///     br#"{"update_type":"message_created","timestamp":1775025604499,
///          "message":{"recipient":{"chat_id":182182182,"chat_type":"dialog"},
///                     "sender":{"user_id":123456789,"first_name":"John","is_bot":false},
///                     "timestamp":1775025603399,"body":{"mid":"mid.1","seq":1,"text":"hi"}}}"#,
/// ).unwrap();
/// assert_eq!(events[0].chat_id().unwrap().as_str(), "182182182");
///
/// // A native voice note today: no message, never an error.
/// let events = connector_max::parse_update(
///     br#"{"timestamp":1784114462472,"user_locale":"ru","update_type":"message_created"}"#,
/// ).unwrap();
/// assert!(matches!(&events[0], InboundEvent::Other(o) if o.kind == "message_unavailable"));
/// ```
pub fn parse_update(body: &[u8]) -> Result<Vec<InboundEvent>> {
    if let Ok(update) = serde_json::from_slice::<Update<'_>>(body)
        && update.update_type.is_some()
    {
        return Ok(update_events(&update));
    }
    read_by_type(body)
}

/// An update read as its type alone (see [`parse_update`]).
fn read_by_type(body: &[u8]) -> Result<Vec<InboundEvent>> {
    let Some(peek) = Peek::of(body).filter(|p| p.update_type.is_some()) else {
        // Not an update: the error of the typed decoder, which says what failed and where.
        return Err(match serde_json::from_slice::<crate::wire::Update>(body) {
            Err(err) => decode_error("the body is not a MAX update", err),
            Ok(_) => Error::decode("the body is not a MAX update").with_platform(MAX),
        });
    };
    let kind_name = peek.update_type.as_deref().unwrap_or("unknown");
    if peek.update_types > 1 {
        tracing::warn!(update_type = %kind_name, "max update with a repeated update_type");
        return Ok(vec![other_event(MALFORMED_UPDATE, peek.chat)]);
    }
    let Some(kind) = UpdateKind::of(kind_name) else {
        tracing::debug!(update_type = %kind_name, "max update of an unknown type");
        return Ok(vec![other_event(kind_name, peek.chat)]);
    };
    let read = read_seed(
        body,
        UpdateSeed {
            fields: kind.fields(),
            answer: None,
        },
    );
    match read {
        Ok(update) => match update_to_events(kind, &update) {
            Ok(events) => Ok(events),
            Err(err) => {
                tracing::warn!(update_type = kind.name(), kind = %err.kind(), error = %err, "max update unreadable");
                Ok(vec![other_event(MALFORMED_UPDATE, peek.chat)])
            }
        },
        Err(err) => {
            tracing::warn!(update_type = kind.name(), error = %decode_error("update", err), "max update of an unexpected shape");
            Ok(vec![other_event(MALFORMED_UPDATE, peek.chat)])
        }
    }
}

/// Each element of an answer or array, through [`parse_update`]; one that is not an update at
/// all becomes an `other` event of kind [`MALFORMED_UPDATE`].
fn parse_each(updates: &[&RawValue]) -> Vec<InboundEvent> {
    let mut events = Vec::with_capacity(updates.len());
    for (index, update) in updates.iter().enumerate() {
        match parse_update(update.get().as_bytes()) {
            Ok(parsed) => events.extend(parsed),
            Err(err) => {
                tracing::warn!(index, kind = %err.kind(), error = %err, "max update skipped");
                events.push(other_event(MALFORMED_UPDATE, None));
            }
        }
    }
    events
}

/// The keys that tell a `/updates` answer from an update.
#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    updates: Option<IgnoredAny>,
    #[serde(default)]
    update_type: Option<IgnoredAny>,
}

/// A `/updates` answer whose updates are kept raw, for [`parse_update`].
#[derive(Deserialize)]
struct RawAnswer<'a> {
    #[serde(borrow, default)]
    updates: Vec<&'a RawValue>,
    #[serde(default)]
    marker: Option<i64>,
}

/// A `/updates` answer read in one pass, each update converted as it is read where it reads
/// in one pass ([`Update`]): the same fields and types as [`RawAnswer`] and [`Shape`].
#[derive(Deserialize)]
struct FastAnswer {
    #[serde(default)]
    updates: Option<UpdatesEvents>,
    #[serde(default)]
    marker: Option<i64>,
    #[serde(default)]
    update_type: Option<IgnoredAny>,
}

/// The events of a JSON array of updates, each read in one pass; any update that does not
/// fails the whole array (which is then read update by update).
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
                    if update.update_type.is_none() {
                        return Err(de::Error::custom("an update without its type"));
                    }
                    events.extend(update_events(&update));
                }
                Ok(UpdatesEvents(events))
            }
        }
        d.deserialize_seq(Each)
    }
}

/// Parses a `GET /updates` answer: the events of its updates (each through [`parse_update`])
/// and its marker (`None` where it is absent or `null`).
pub(crate) fn parse_answer(body: &[u8]) -> Result<(Vec<InboundEvent>, Option<i64>)> {
    if let Ok(FastAnswer {
        updates: Some(UpdatesEvents(events)),
        marker,
        update_type: None,
    }) = serde_json::from_slice(body)
    {
        return Ok((events, marker));
    }
    let answer: RawAnswer<'_> = serde_json::from_slice(body)
        .map_err(|e| decode_error("the body is not a MAX updates answer", e))?;
    Ok((parse_each(&answer.updates), answer.marker))
}

/// Parses a webhook body (one `Update`), a `GET /updates` answer (`{"updates":[…],"marker":n}`)
/// or a JSON array of updates into events, without verification. Each update goes through
/// [`parse_update`], as on the webhook and long-polling paths.
///
/// ```
/// let events = connector_max::parse(
///     br#"{"updates":[{"update_type":"bot_stopped","timestamp":1775025604499,
///          "chat_id":182182182,"user":{"user_id":123456789,"is_bot":false}}],"marker":25493970}"#,
/// ).unwrap();
/// assert_eq!(events.len(), 1);
///
/// let err = connector_max::parse(b"{not json").unwrap_err();
/// assert_eq!(err.kind(), messenger_core::ErrorKind::Decode);
/// assert_eq!(err.message(), "the body is not a MAX update: malformed JSON at line 1 column 2");
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => match serde_json::from_slice::<UpdatesEvents>(body) {
            Ok(UpdatesEvents(events)) => Ok(events),
            Err(_) => {
                let updates: Vec<&RawValue> = serde_json::from_slice(body)
                    .map_err(|e| decode_error("the body is not an array of MAX updates", e))?;
                Ok(parse_each(&updates))
            }
        },
        Some(b'{') => {
            let answer = Cell::new(false);
            if let Ok(update) = read_seed(
                body,
                UpdateSeed {
                    fields: ALL,
                    answer: Some(&answer),
                },
            ) && update.update_type.is_some()
            {
                // No `updates` key: not an answer.
                return Ok(update_events(&update));
            }
            if is_answer(body) {
                parse_answer(body).map(|(events, _)| events)
            } else {
                parse_update(body)
            }
        }
        None => parse_update(body),
        Some(_) => Err(Error::decode(
            "expected a MAX update, a GET /updates answer or an array of updates",
        )
        .with_platform(MAX)),
    }
}

/// Whether a JSON object is a `/updates` answer (`updates` and no `update_type`).
fn is_answer(body: &[u8]) -> bool {
    serde_json::from_slice::<Shape>(body)
        .is_ok_and(|shape| shape.updates.is_some() && shape.update_type.is_none())
}

/// Verifies a webhook delivery's [`SECRET_HEADER`] against the configured secret, in constant
/// time. Fails closed: with no secret configured every delivery is rejected.
///
/// ```
/// use connector_max::webhook::{verify, SECRET_HEADER};
/// use messenger_core::webhook::WebhookRequest;
/// let req = WebhookRequest::post("{}").header(SECRET_HEADER, "s3cret_1");
/// assert!(verify(&req, Some("s3cret_1")).is_ok());
/// assert!(verify(&req, Some("s3cret_2")).is_err());
/// assert!(verify(&req, None).is_err());
/// ```
pub fn verify(request: &WebhookRequest, secret: Option<&str>) -> Result<()> {
    verify_secret_header(request, SECRET_HEADER, secret.unwrap_or(""))
        .map_err(|e| e.with_platform(MAX))
}

/// Checks the size, verifies, then parses one delivery (see the [module docs](self)).
pub(crate) fn handle(
    request: &WebhookRequest,
    secret: Option<&Secret<String>>,
    max_body: usize,
) -> Result<WebhookOutcome> {
    messenger_core::webhook::admit(request, MAX, max_body, |r| {
        verify(r, secret.map(Secret::expose_str))
    })?;
    let events = match parse(&request.body) {
        Ok(events) => events,
        Err(err) => {
            // Verified, so MAX's: answering anything but 200 would have it sent again for hours.
            tracing::warn!(kind = %err.kind(), error = %err, "max webhook body unreadable; acknowledged");
            vec![other_event(MALFORMED_UPDATE, None)]
        }
    };
    tracing::debug!(events = events.len(), "max webhook delivery");
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_core::{ErrorKind, OtherEvent};

    fn other(kind: &str, chat: Option<&str>) -> InboundEvent {
        let e = OtherEvent::new(MAX, kind);
        InboundEvent::Other(match chat {
            Some(c) => e.in_chat(c),
            None => e,
        })
    }

    #[test]
    fn the_type_is_read_wherever_it_is_and_once() {
        let first = parse(br#"{"update_type":"dialog_muted","timestamp":1,"chat_id":5}"#).unwrap();
        let last = parse(br#"{"timestamp":1,"chat_id":5,"update_type":"dialog_muted"}"#).unwrap();
        assert_eq!(first, last);
        assert_eq!(first, [other("dialog_muted", Some("5"))]);
        // A field of another type in an unexpected shape does not matter to this one.
        let events =
            parse(br#"{"update_type":"dialog_muted","timestamp":1,"chat_id":5,"message":7}"#)
                .unwrap();
        assert_eq!(events, first);
        // A repeated type is unreadable.
        let events =
            parse(br#"{"update_type":"dialog_muted","timestamp":1,"chat_id":5,"update_type":"x"}"#)
                .unwrap();
        assert_eq!(events, [other(MALFORMED_UPDATE, Some("5"))]);
    }

    #[test]
    fn an_answer_is_told_from_an_update() {
        assert!(is_answer(br#"{"updates":[],"marker":1}"#));
        assert!(!is_answer(br#"{"update_type":"x","updates":[]}"#));
        assert!(!is_answer(br#"{"update_type":"bot_started"}"#));
        assert!(!is_answer(b"{broken"));
    }

    #[test]
    fn unknown_types_keep_their_name_and_chat() {
        let events =
            parse(br#"{"update_type":"comment_created","timestamp":1,"chat_id":-42}"#).unwrap();
        assert_eq!(events, [other("comment_created", Some("-42"))]);
    }

    #[test]
    fn a_known_type_of_the_wrong_shape_is_malformed_with_its_chat() {
        let events = parse(
            br#"{"update_type":"message_created","timestamp":"soon","message":{"recipient":{"chat_id":7}}}"#,
        )
        .unwrap();
        assert_eq!(events, [other(MALFORMED_UPDATE, Some("7"))]);
        // A message without a body is unreadable too.
        let events = parse(
            br#"{"update_type":"message_created","timestamp":1,"message":{"recipient":{"chat_id":7}}}"#,
        )
        .unwrap();
        assert_eq!(events, [other(MALFORMED_UPDATE, Some("7"))]);
    }

    #[test]
    fn what_is_not_an_update_is_a_decode_error_without_the_body() {
        for body in [
            &b"\"secret text\""[..],
            b"{\"text\":\"secret text\"}",
            b"",
            b"[1,",
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode);
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn list_elements_that_are_not_updates_do_not_sink_the_batch() {
        let events = parse(
            br#"{"updates":[42,{"update_type":"dialog_cleared","timestamp":1,"chat_id":5}],"marker":9}"#,
        )
        .unwrap();
        assert_eq!(
            events,
            [
                other(MALFORMED_UPDATE, None),
                other("dialog_cleared", Some("5"))
            ]
        );
        let (_, marker) = parse_answer(br#"{"updates":[],"marker":null}"#).unwrap();
        assert_eq!(marker, None);
        let events = parse(br#"[{"update_type":"bot_added","timestamp":1,"chat_id":-1}]"#).unwrap();
        assert_eq!(events, [other("bot_added", Some("-1"))]);
    }
}
