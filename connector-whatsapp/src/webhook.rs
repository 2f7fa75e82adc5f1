//! Webhook intake: the size check, the GET verification handshake, the `X-Hub-Signature-256`
//! check over the raw body (constant time, fail closed), then parsing.
//!
//! One Meta app has one callback URL. Meta calls it with:
//! - `GET ?hub.mode=subscribe&hub.verify_token=<yours>&hub.challenge=<n>` whenever the callback
//!   URL or verify token is edited: answered `200` with the challenge as plain text when the
//!   token matches, rejected otherwise;
//! - `POST` with a JSON body and `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw
//!   body)>`: verified over the bytes exactly as received (never re-serialised JSON), then
//!   parsed; answered `200` with an empty body. Meta retries non-2xx answers for days.
//!
//! Before anything reads the body, its size is checked: a body over the configured maximum
//! ([`DEFAULT_MAX_WEBHOOK_BODY`] unless set with
//! [`WhatsAppConfig::max_webhook_body`](crate::WhatsAppConfig::max_webhook_body)) is
//! [`TooLarge`](messenger_core::ErrorKind::TooLarge), answered `413` by
//! [`WebhookResponse::for_error`]. [`parse`] applies the default maximum too, so a body means
//! the same on every path.
//!
//! A CRM with several numbers on one Meta app routes a delivery with [`phone_number_ids`], a
//! peek that reads only the `metadata.phone_number_id`s and builds nothing else; each number's
//! connector then verifies the delivery and keeps only its own changes.
//!
//! See [`crate::convert`] for how each item of a delivery becomes an event.

use bytes::Bytes;
use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, constant_time_eq, verify_hmac_sha256,
};
use messenger_core::{Error, InboundEvent, Platform, Result};
use sha2::{Digest, Sha256};

use crate::convert::{NumberFilter, delivery_events, payload_events};
use crate::wire::{Delivery, DeliveryNumbers, WebhookPayload};

/// The header Meta carries the payload signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The scheme prefix of [`SIGNATURE_HEADER`]'s value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// The largest webhook body accepted unless configured: 3 MiB.
///
/// `shared/platforms/whatsapp.md` §5.4: "payloads are at most 3 MB, and media is never
/// inline", from a third-party page (`[socialhook]`); Meta's own pages retrieved do not say it
/// (**UNCONFIRMED**). 3 MiB (3 145 728 bytes) is taken, the larger reading of "3 MB". A body
/// over it is refused with `413` before it is verified or parsed. Raise it with
/// [`WhatsAppConfig::max_webhook_body`](crate::WhatsAppConfig::max_webhook_body) if Meta is
/// seen sending more.
pub const DEFAULT_MAX_WEBHOOK_BODY: usize = 3 << 20;

fn rejected(message: &str) -> Error {
    Error::webhook_rejected(message).with_platform(Platform::WhatsApp)
}

/// Refuses a body over `max` bytes with `TooLarge` (answered 413).
fn ensure_within(body: &[u8], max: usize) -> Result<()> {
    if body.len() > max {
        return Err(Error::too_large(format!(
            "the webhook body has {} bytes; the limit is {max} bytes",
            body.len()
        ))
        .with_platform(Platform::WhatsApp));
    }
    Ok(())
}

/// Whether two secrets are equal, in time that depends on neither their content nor their
/// lengths: their SHA-256 digests (always 32 bytes) are compared in constant time.
fn secrets_match(given: &str, expected: &str) -> bool {
    constant_time_eq(
        &Sha256::digest(given.as_bytes()),
        &Sha256::digest(expected.as_bytes()),
    )
}

/// Answers Meta's GET verification request.
///
/// Accepts only `hub.mode=subscribe` with `hub.verify_token` equal to the configured, non-empty
/// token, and a `hub.challenge`; the answer is `200` with the challenge as plain text. The
/// tokens are compared by their SHA-256 digests in constant time, so neither the token's
/// content nor its length shows in the timing. Anything else is
/// [`WebhookRejected`](messenger_core::ErrorKind::WebhookRejected) (answer it with
/// [`WebhookResponse::for_error`]).
///
/// ```
/// use connector_whatsapp::webhook::verify_handshake;
/// use messenger_core::webhook::WebhookRequest;
/// let req = WebhookRequest::get("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444");
/// let resp = verify_handshake(&req, Some("tok")).unwrap();
/// assert_eq!((resp.status, &resp.body[..]), (200, &b"1158201444"[..]));
/// assert!(verify_handshake(&req, Some("other")).is_err());
/// assert!(verify_handshake(&req, Some("tok-longer")).is_err());
/// assert!(verify_handshake(&req, None).is_err());
/// ```
pub fn verify_handshake(
    request: &WebhookRequest,
    verify_token: Option<&str>,
) -> Result<WebhookResponse> {
    let expected = verify_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| rejected("no verify token is configured; refusing the handshake"))?;
    if request.query_param("hub.mode").as_deref() != Some("subscribe") {
        return Err(rejected("hub.mode is not subscribe"));
    }
    let given = request
        .query_param("hub.verify_token")
        .ok_or_else(|| rejected("missing hub.verify_token"))?;
    if !secrets_match(&given, expected) {
        return Err(rejected("hub.verify_token does not match"));
    }
    let challenge = request
        .query_param("hub.challenge")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| rejected("missing hub.challenge"))?;
    Ok(WebhookResponse::text(Bytes::from(challenge)))
}

/// Verifies `X-Hub-Signature-256` over the raw body with the app secret.
///
/// Fails closed: no secret configured, a missing or malformed header, or a mismatch is
/// [`WebhookRejected`](messenger_core::ErrorKind::WebhookRejected).
///
/// ```
/// use connector_whatsapp::webhook::{verify_signature, SIGNATURE_HEADER};
/// use messenger_core::webhook::{hmac_sha256_hex, WebhookRequest};
/// let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
/// let sig = format!("sha256={}", hmac_sha256_hex(b"app-secret", body));
/// let req = WebhookRequest::post(&body[..]).header(SIGNATURE_HEADER, sig);
/// assert!(verify_signature(&req, Some("app-secret")).is_ok());
/// assert!(verify_signature(&req, Some("other")).is_err());
/// assert!(verify_signature(&req, None).is_err());
/// ```
pub fn verify_signature(request: &WebhookRequest, app_secret: Option<&str>) -> Result<()> {
    verify_hmac_sha256(
        app_secret.unwrap_or("").as_bytes(),
        &request.body,
        request.header_value(SIGNATURE_HEADER),
        SIGNATURE_PREFIX,
    )
    .map_err(|e| e.with_platform(Platform::WhatsApp))
}

/// What [`handle`] checks a delivery against.
pub(crate) struct Intake<'a> {
    pub(crate) verify_token: Option<&'a str>,
    pub(crate) app_secret: Option<&'a str>,
    pub(crate) phone_number_id: &'a str,
    pub(crate) max_body: usize,
}

/// Checks the size, verifies and parses one delivery for the phone number of `intake`.
pub(crate) fn handle(request: &WebhookRequest, intake: &Intake<'_>) -> Result<WebhookOutcome> {
    // First, before anything reads the body.
    request
        .ensure_body_within(intake.max_body)
        .map_err(|e| e.with_platform(Platform::WhatsApp))?;
    if request.method.eq_ignore_ascii_case("GET") {
        let response = verify_handshake(request, intake.verify_token)?;
        tracing::debug!("whatsapp webhook verification handshake answered");
        return Ok(WebhookOutcome {
            events: Vec::new(),
            response,
        });
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(rejected(
            "only GET (handshake) and POST (events) are accepted",
        ));
    }
    verify_signature(request, intake.app_secret)?;
    let events = events(&request.body, NumberFilter::Only(intake.phone_number_id))?;
    tracing::debug!(
        events = events.len(),
        bytes = request.body.len(),
        "whatsapp webhook delivery parsed"
    );
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::ok(),
    })
}

fn decode_error(e: serde_json::Error) -> Error {
    Error::from(e).with_platform(Platform::WhatsApp)
}

/// The one parser, once the size is checked: every path ends here.
///
/// A delivery is read in one pass, straight into its items ([`Delivery`]), where it can be:
/// its changes are `messages` or `user_preferences` changes and every item decodes, as in
/// every delivery WhatsApp sends of them. Anything else (another field's value, an item that
/// does not decode, a malformed envelope) is read again layer by layer ([`WebhookPayload`],
/// then each raw item on its own), which reads every shape and gives the same events for
/// what the one pass reads.
fn events(body: &[u8], filter: NumberFilter<'_>) -> Result<Vec<InboundEvent>> {
    if let Ok(delivery) = serde_json::from_slice::<Delivery<'_>>(body) {
        return Ok(delivery_events(delivery, filter));
    }
    let payload: WebhookPayload<'_> = serde_json::from_slice(body).map_err(decode_error)?;
    Ok(payload_events(payload, filter))
}

/// Parses a webhook body into events, without verification and without recording anything.
///
/// Every entry and change is read (several entries, changes, messages and statuses in one
/// delivery); unknown fields and unknown types are tolerated (an unknown update is an `other`
/// event). Malformed JSON, or JSON that is not a webhook envelope (`{"entry": [...]}`), is a
/// typed [`Decode`](messenger_core::ErrorKind::Decode) error, never a panic; a body over
/// [`DEFAULT_MAX_WEBHOOK_BODY`] is [`TooLarge`](messenger_core::ErrorKind::TooLarge), before
/// any of it is read.
///
/// This is the connector's one parser: `messenger parse whatsapp`, [`crate::ENTRY`] and
/// [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook) decode a body with
/// the same code. Unlike `handle_webhook`, it neither checks the signature, nor filters by
/// phone number, nor records the customer's reply window.
///
/// ```
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{
///   "field":"messages","value":{"messaging_product":"whatsapp",
///   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
///   "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
///   "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383",
///                "type":"text","text":{"body":"hi"}}]}}]}]}"#;
/// let events = connector_whatsapp::parse(body).unwrap();
/// assert_eq!(events[0].chat_id().unwrap().as_str(), "16505551234");
///
/// let err = connector_whatsapp::parse(b"{not json").unwrap_err();
/// assert_eq!(err.kind(), messenger_core::ErrorKind::Decode);
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>> {
    ensure_within(body, DEFAULT_MAX_WEBHOOK_BODY)?;
    events(body, NumberFilter::All)
}

/// Parses a webhook body keeping only the changes for `phone_number_id` (and account-wide
/// changes without `metadata`), as [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook)
/// does. No verification, nothing recorded; the size limit of [`parse`].
pub fn parse_for_number(body: &[u8], phone_number_id: &str) -> Result<Vec<InboundEvent>> {
    ensure_within(body, DEFAULT_MAX_WEBHOOK_BODY)?;
    events(body, NumberFilter::Only(phone_number_id))
}

/// The routing peek: the distinct `metadata.phone_number_id`s of a delivery, in order of
/// appearance, so that a CRM with several numbers on one Meta app hands the request to each
/// of those numbers' connectors (which then verify it).
///
/// The body is refused over `max_body` bytes (`TooLarge`, answered 413) before it is read;
/// then only the ids are decoded ([`DeliveryNumbers`]): messages, statuses and every other
/// field are skipped without being built, so an unverified delivery costs no more memory than
/// its ids. A body that is not a webhook envelope is `Decode`.
///
/// ```
/// use connector_whatsapp::webhook::{phone_number_ids, DEFAULT_MAX_WEBHOOK_BODY};
/// let body = br#"{"entry":[{"changes":[{"field":"messages",
///   "value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"type":"text"}]}}]}]}"#;
/// assert_eq!(phone_number_ids(body, DEFAULT_MAX_WEBHOOK_BODY).unwrap(), ["106540352242922"]);
/// assert!(phone_number_ids(body, 16).is_err());
/// ```
pub fn phone_number_ids(body: &[u8], max_body: usize) -> Result<Vec<String>> {
    ensure_within(body, max_body)?;
    let delivery: DeliveryNumbers = serde_json::from_slice(body).map_err(decode_error)?;
    let mut ids: Vec<String> = Vec::new();
    for id in delivery
        .entry
        .into_iter()
        .flat_map(|e| e.changes)
        .filter_map(|c| c.value.0)
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layered reading alone.
    fn layered(body: &str, filter: NumberFilter<'_>) -> Vec<InboundEvent> {
        let payload: WebhookPayload<'_> = serde_json::from_str(body).unwrap();
        payload_events(payload, filter)
    }

    #[test]
    fn the_one_pass_and_the_layered_reading_agree() {
        let change = |value: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{value}]}}]}}"#
            )
        };
        let msg = r#"{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"hi"}}"#;
        let status = r#"{"id":"wamid.B","status":"read","timestamp":"1749416384","recipient_id":"16505551234"}"#;
        let contacts = r#""contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}]"#;
        let meta = r#""metadata":{"phone_number_id":"106540352242922"}"#;
        let bodies = [
            // Statuses before messages: messages first, as the layered reading orders them.
            change(&format!(
                r#"{{"value":{{{meta},"statuses":[{status}],{contacts},"messages":[{msg}]}},"field":"messages"}}"#
            )),
            // Contacts after the messages: read again, for the sender's name.
            change(&format!(
                r#"{{"field":"messages","value":{{{meta},"messages":[{msg}],{contacts}}}}}"#
            )),
            // Another field's value, an item that does not decode, odd metadata.
            change(
                r#"{"field":"account_update","value":{"phone_number":"1","event":"VERIFIED_ACCOUNT"}}"#,
            ),
            change(&format!(
                r#"{{"field":"messages","value":{{{meta},"messages":[{msg},{{"timestamp":true}}]}}}}"#
            )),
            change(&format!(
                r#"{{"field":"messages","value":{{"metadata":["x","999"],"messages":[{msg}]}}}}"#
            )),
            change(&format!(
                r#"{{"field":"messages","value":{{{meta},{meta},"messages":[{msg}]}}}}"#
            )),
            change(r#"{"field":"messages","value":null},{"field":"calls"}"#),
            change(&format!(
                r#"{{"field":"messages","value":{{"metadata":{{"phone_number_id":999}},"messages":[{msg}]}}}}"#
            )),
        ];
        for body in &bodies {
            for filter in [NumberFilter::All, NumberFilter::Only("106540352242922")] {
                assert_eq!(
                    events(body.as_bytes(), filter).unwrap(),
                    layered(body, filter),
                    "{body}"
                );
            }
        }
        // The first is read in one pass, the others (each for its own reason) layer by layer.
        assert!(serde_json::from_str::<Delivery<'_>>(&bodies[0]).is_ok());
        assert!(serde_json::from_str::<Delivery<'_>>(&bodies[1]).is_err());
        assert!(serde_json::from_str::<Delivery<'_>>(&bodies[2]).is_err());
    }

    #[test]
    fn secrets_match_compares_whole_values() {
        assert!(secrets_match("verify-me", "verify-me"));
        for other in [
            "",
            "v",
            "verify-m",
            "verify-mee",
            "verify-mE",
            "verify-me\0",
        ] {
            assert!(!secrets_match(other, "verify-me"), "{other:?}");
        }
    }
}
