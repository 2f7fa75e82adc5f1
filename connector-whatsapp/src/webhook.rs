//! Webhook intake: the GET verification handshake, the `X-Hub-Signature-256` check over the raw
//! body (constant time, fail closed), then parsing.
//!
//! One Meta app has one callback URL. Meta calls it with:
//! - `GET ?hub.mode=subscribe&hub.verify_token=<yours>&hub.challenge=<n>` whenever the callback
//!   URL or verify token is edited: answered `200` with the challenge as plain text when the
//!   token matches, rejected otherwise;
//! - `POST` with a JSON body and `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw
//!   body)>`: verified over the bytes exactly as received (never re-serialised JSON), then
//!   parsed; answered `200` with an empty body. Meta retries non-2xx answers for days.
//!
//! See [`crate::convert`] for how each item of a delivery becomes an event.

use bytes::Bytes;
use messenger_core::webhook::{
    WebhookOutcome, WebhookRequest, WebhookResponse, constant_time_eq, verify_hmac_sha256,
};
use messenger_core::{Error, InboundEvent, Platform, Result};

use crate::convert::{NumberFilter, change_phone_number_id, payload_events};
use crate::wire::WebhookPayload;

/// The header Meta carries the payload signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The scheme prefix of [`SIGNATURE_HEADER`]'s value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

fn rejected(message: &str) -> Error {
    Error::webhook_rejected(message).with_platform(Platform::WhatsApp)
}

/// Answers Meta's GET verification request.
///
/// Accepts only `hub.mode=subscribe` with `hub.verify_token` equal (in constant time) to the
/// configured, non-empty token, and a `hub.challenge`; the answer is `200` with the challenge as
/// plain text. Anything else is [`WebhookRejected`](messenger_core::ErrorKind::WebhookRejected)
/// (answer it with [`WebhookResponse::for_error`]).
///
/// ```
/// use connector_whatsapp::webhook::verify_handshake;
/// use messenger_core::webhook::WebhookRequest;
/// let req = WebhookRequest::get("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444");
/// let resp = verify_handshake(&req, Some("tok")).unwrap();
/// assert_eq!((resp.status, &resp.body[..]), (200, &b"1158201444"[..]));
/// assert!(verify_handshake(&req, Some("other")).is_err());
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
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
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

/// Verifies and parses one delivery for the phone number `phone_number_id`.
pub(crate) fn handle(
    request: &WebhookRequest,
    verify_token: Option<&str>,
    app_secret: Option<&str>,
    phone_number_id: &str,
) -> Result<WebhookOutcome> {
    if request.method.eq_ignore_ascii_case("GET") {
        let response = verify_handshake(request, verify_token)?;
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
    verify_signature(request, app_secret)?;
    let payload = decode(&request.body)?;
    let events = payload_events(payload, NumberFilter::Only(phone_number_id));
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

fn decode(body: &[u8]) -> Result<WebhookPayload> {
    serde_json::from_slice(body).map_err(|e| Error::from(e).with_platform(Platform::WhatsApp))
}

/// Parses a webhook body into events, without verification and without recording anything.
///
/// Every entry and change is read (several entries, changes, messages and statuses in one
/// delivery); unknown fields and unknown types are tolerated (an unknown update is an `other`
/// event). Malformed JSON, or JSON that is not a webhook envelope (`{"entry": [...]}`), is a
/// typed [`Decode`](messenger_core::ErrorKind::Decode) error, never a panic.
///
/// This is what `messenger parse whatsapp` uses. Unlike
/// [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook), it neither checks
/// the signature, nor filters by phone number, nor records the customer's reply window.
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
    Ok(payload_events(decode(body)?, NumberFilter::All))
}

/// Parses a webhook body keeping only the changes for `phone_number_id` (and account-wide
/// changes without `metadata`), as [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook)
/// does. No verification, nothing recorded.
pub fn parse_for_number(body: &[u8], phone_number_id: &str) -> Result<Vec<InboundEvent>> {
    Ok(payload_events(
        decode(body)?,
        NumberFilter::Only(phone_number_id),
    ))
}

/// The distinct `metadata.phone_number_id`s of a delivery, in order of appearance: a CRM with
/// several numbers on one Meta app routes the request to each of those numbers' connectors.
///
/// ```
/// let body = br#"{"entry":[{"changes":[{"field":"messages",
///   "value":{"metadata":{"phone_number_id":"106540352242922"}}}]}]}"#;
/// assert_eq!(connector_whatsapp::webhook::phone_number_ids(body).unwrap(), ["106540352242922"]);
/// ```
pub fn phone_number_ids(body: &[u8]) -> Result<Vec<String>> {
    let payload = decode(body)?;
    let mut ids: Vec<String> = Vec::new();
    for change in payload.entry.iter().flat_map(|e| e.changes.iter()) {
        if let Some(id) = change_phone_number_id(change)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
