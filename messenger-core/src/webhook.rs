//! Webhook requests and responses, and the constant-time verification helpers every connector
//! uses (verify first, fail closed, then parse).

use std::fmt;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind, Result};
use crate::model::InboundEvent;

/// An incoming webhook HTTP request, as the CRM's web server received it.
///
/// ```
/// use messenger_core::webhook::WebhookRequest;
/// let req = WebhookRequest::post(r#"{"update_id":1}"#)
///     .header("X-Telegram-Bot-Api-Secret-Token", "s3cret");
/// assert_eq!(req.header_value("x-telegram-bot-api-secret-token"), Some("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct WebhookRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The raw query string, without `?` (WhatsApp's `hub.challenge` handshake uses it).
    pub query: Option<String>,
    /// Header names and values as received.
    pub headers: Vec<(String, String)>,
    /// The raw body bytes, exactly as received (signatures are over these bytes).
    pub body: Bytes,
}

impl WebhookRequest {
    /// A `POST` with the given raw body.
    pub fn post(body: impl Into<Bytes>) -> Self {
        Self {
            method: "POST".into(),
            body: body.into(),
            ..Self::default()
        }
    }

    /// A `GET` with the given raw query string.
    pub fn get(query: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            query: Some(query.into()),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of a header, matched case-insensitively.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a body over `max` bytes with [`ErrorKind::TooLarge`] (answered 413 by
    /// [`WebhookResponse::for_error`]), before anything reads it: every connector checks this
    /// first, so a huge delivery costs neither memory nor parsing time.
    ///
    /// ```
    /// use messenger_core::webhook::{WebhookRequest, WebhookResponse};
    /// use messenger_core::ErrorKind;
    /// let req = WebhookRequest::post(vec![b' '; 2048]);
    /// assert!(req.ensure_body_within(4096).is_ok());
    /// let err = req.ensure_body_within(1024).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// assert_eq!(WebhookResponse::for_error(&err).status, 413);
    /// ```
    pub fn ensure_body_within(&self, max: usize) -> Result<()> {
        if self.body.len() > max {
            return Err(Error::too_large(format!(
                "the webhook body has {} bytes; the limit is {max} bytes",
                self.body.len()
            )));
        }
        Ok(())
    }

    /// The decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

impl fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values can be secrets; the body is message content.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebhookRequest")
            .field("method", &self.method)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The HTTP response a platform expects to a webhook delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`, where there is a body.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Bytes,
}

impl WebhookResponse {
    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self {
            status: 200,
            content_type: None,
            body: Bytes::new(),
        }
    }

    /// `200 OK` with a plain-text body (a challenge or a confirmation string).
    pub fn text(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            content_type: Some("text/plain; charset=utf-8"),
            body: body.into(),
        }
    }

    /// The response to a request that failed: 401 for a failed verification, 400 for a body
    /// that cannot be decoded, 413 for one over the size limit, 403 while the module is
    /// inactive or the platform suspended, 500 otherwise (the platform then retries).
    pub fn for_error(err: &Error) -> Self {
        let status = match err.kind() {
            ErrorKind::WebhookRejected => 401,
            ErrorKind::Decode | ErrorKind::InvalidInput => 400,
            ErrorKind::TooLarge => 413,
            ErrorKind::ModuleInactive | ErrorKind::PlatformSuspended => 403,
            _ => 500,
        };
        Self {
            status,
            content_type: None,
            body: Bytes::new(),
        }
    }
}

impl fmt::Debug for WebhookResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What one webhook delivery produced.
#[derive(Debug, Clone)]
pub struct WebhookOutcome {
    /// The normalised events, in the order the platform sent them.
    pub events: Vec<InboundEvent>,
    /// The exact response to send back.
    pub response: WebhookResponse,
}

/// The first steps of every webhook handler, in this order: the body's size against
/// `max_body` ([`ErrorKind::TooLarge`], answered 413), then `verify` (the platform's check,
/// failing closed). A refusal is logged with the platform and its kind, never the body.
///
/// ```
/// use messenger_core::webhook::{admit, verify_secret_header, WebhookRequest};
/// use messenger_core::{ErrorKind, Platform};
/// let check = |r: &WebhookRequest| verify_secret_header(r, "X-Max-Bot-Api-Secret", "s3cret");
/// let ok = WebhookRequest::post("{}").header("X-Max-Bot-Api-Secret", "s3cret");
/// assert!(admit(&ok, Platform::Max, 1024, check).is_ok());
/// let big = WebhookRequest::post(vec![b' '; 2048]).header("X-Max-Bot-Api-Secret", "s3cret");
/// assert_eq!(admit(&big, Platform::Max, 1024, check).unwrap_err().kind(), ErrorKind::TooLarge);
/// let forged = WebhookRequest::post("{}").header("X-Max-Bot-Api-Secret", "guess");
/// let err = admit(&forged, Platform::Max, 1024, check).unwrap_err();
/// assert_eq!((err.kind(), err.platform()), (ErrorKind::WebhookRejected, Some(Platform::Max)));
/// ```
pub fn admit(
    request: &WebhookRequest,
    platform: crate::Platform,
    max_body: usize,
    verify: impl FnOnce(&WebhookRequest) -> Result<()>,
) -> Result<()> {
    if let Err(err) = request.ensure_body_within(max_body) {
        tracing::warn!(
            platform = %platform,
            body_len = request.body.len(),
            max_body,
            "webhook body over the limit; refused unread"
        );
        return Err(err.with_platform(platform));
    }
    verify(request).map_err(|err| {
        tracing::warn!(platform = %platform, kind = %err.kind(), "webhook delivery rejected");
        err.with_platform(platform)
    })
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// ```
/// use messenger_core::webhook::constant_time_eq;
/// assert!(constant_time_eq(b"secret", b"secret"));
/// assert!(!constant_time_eq(b"secret", b"secreT"));
/// assert!(!constant_time_eq(b"secret", b"secret2"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Verifies that header `name` of `request` equals `expected`, in constant time (the SHA-256
/// digests of both are compared, so neither the content nor the length of the secret shows in
/// the timing).
///
/// Fails closed: a missing header, an empty expected secret, or a mismatch is
/// [`ErrorKind::WebhookRejected`].
///
/// ```
/// use messenger_core::webhook::{verify_secret_header, WebhookRequest};
/// let req = WebhookRequest::post("{}").header("X-Max-Bot-Api-Secret", "abc");
/// assert!(verify_secret_header(&req, "X-Max-Bot-Api-Secret", "abc").is_ok());
/// assert!(verify_secret_header(&req, "X-Max-Bot-Api-Secret", "abd").is_err());
/// ```
pub fn verify_secret_header(request: &WebhookRequest, name: &str, expected: &str) -> Result<()> {
    if expected.is_empty() {
        return Err(Error::webhook_rejected(
            "no webhook secret is configured; refusing unverified deliveries",
        ));
    }
    let given = request
        .header_value(name)
        .ok_or_else(|| Error::webhook_rejected(format!("missing {name} header")))?;
    // Digests of equal length are compared, so the time taken does not tell the secret's length.
    if constant_time_eq(&Sha256::digest(given), &Sha256::digest(expected)) {
        Ok(())
    } else {
        Err(Error::webhook_rejected(format!("{name} does not match")))
    }
}

/// Computes the lowercase hex HMAC-SHA256 of `body` under `secret`.
///
/// ```
/// use messenger_core::webhook::hmac_sha256_hex;
/// assert_eq!(
///     hmac_sha256_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
///     "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
/// );
/// ```
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies an HMAC-SHA256 signature of `body` given as hex, optionally behind a prefix
/// (`sha256=` for WhatsApp's `X-Hub-Signature-256`), in constant time. Fails closed.
///
/// ```
/// use messenger_core::webhook::{hmac_sha256_hex, verify_hmac_sha256};
/// let sig = format!("sha256={}", hmac_sha256_hex(b"app-secret", b"{}"));
/// assert!(verify_hmac_sha256(b"app-secret", b"{}", Some(&sig), "sha256=").is_ok());
/// assert!(verify_hmac_sha256(b"app-secret", b"{ }", Some(&sig), "sha256=").is_err());
/// assert!(verify_hmac_sha256(b"app-secret", b"{}", None, "sha256=").is_err());
/// ```
pub fn verify_hmac_sha256(
    secret: &[u8],
    body: &[u8],
    signature: Option<&str>,
    prefix: &str,
) -> Result<()> {
    if secret.is_empty() {
        return Err(Error::webhook_rejected(
            "no signing secret is configured; refusing unverified deliveries",
        ));
    }
    let signature = signature.ok_or_else(|| Error::webhook_rejected("missing signature"))?;
    let hex_part = signature
        .strip_prefix(prefix)
        .ok_or_else(|| Error::webhook_rejected("signature has the wrong scheme"))?;
    let given = hex::decode(hex_part.trim())
        .map_err(|_| Error::webhook_rejected("signature is not hex"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| Error::webhook_rejected("signature does not match the body"))
}
