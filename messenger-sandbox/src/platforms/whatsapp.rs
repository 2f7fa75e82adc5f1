//! The WhatsApp Cloud API (Graph) as a connector uses it (whatsapp.md): the phone number
//! object, `/messages` (text, media by id or link, template, reaction, mark-as-read), media
//! upload, media URL retrieval and download with bearer auth, Graph-style errors, and signed
//! webhook deliveries of inbound messages and of `sent` / `delivered` / `read` / `failed`
//! statuses.
//!
//! Sends are validated synchronously where Graph does (parameters, auth, rate limits) and
//! fail asynchronously where Meta does: a free-form message outside the 24-hour window is
//! accepted (200 + wamid) and then fails with a `failed` status carrying error 131047.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use messenger_core::{Error, ErrorKind, Platform};
use serde_json::{Value, json};

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, ErrorView, Fault, InboundReceipt, MessageDirection,
    MessageKind, MessageStatus, WebhookCheck,
};
use crate::clock::TokenBucket;
use crate::media::{self, Blob};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{
    Account, Customer, PlatformState, Shared, State, StoredMedia, StoredMessage, json_bytes,
    random_alnum, random_digits,
};

/// Text body limit in characters (whatsapp.md §2.2).
const TEXT_LIMIT: usize = 4096;
/// Caption limit in characters (whatsapp.md §2.2).
const CAPTION_LIMIT: usize = 1024;
/// Uploaded media ids live 30 days, inbound ones 7 days (whatsapp.md §4.2).
const UPLOAD_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
const INBOUND_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
const MB: u64 = 1024 * 1024;
const ERROR_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// Supported upload types and their size limits (whatsapp.md §4.3).
const MEDIA_TYPES: &[(&str, u64)] = &[
    ("audio/aac", 16 * MB),
    ("audio/amr", 16 * MB),
    ("audio/mpeg", 16 * MB),
    ("audio/mp4", 16 * MB),
    ("audio/ogg", 16 * MB),
    ("text/plain", 100 * MB),
    ("application/vnd.ms-excel", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        100 * MB,
    ),
    ("application/msword", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        100 * MB,
    ),
    ("application/vnd.ms-powerpoint", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        100 * MB,
    ),
    ("application/pdf", 100 * MB),
    ("image/jpeg", 5 * MB),
    ("image/png", 5 * MB),
    ("image/webp", 500 * 1024),
    ("video/mp4", 16 * MB),
    ("video/3gpp", 16 * MB),
];

/// The WhatsApp part of an account.
pub(crate) struct NumberState {
    pub display_phone_number: String,
    pub waba_id: String,
    pub app_secret: String,
    pub verify_token: Option<String>,
    pub webhook_url: Option<String>,
    pub out_of_order: bool,
    pub events: VecDeque<WaEvent>,
    next_event: u64,
}

/// A webhook event waiting to be delivered.
pub(crate) struct WaEvent {
    seq: u64,
    kind: &'static str,
    reference: String,
    body: Bytes,
}

/// Media of every number.
#[derive(Default)]
pub(crate) struct Store {
    media: HashMap<String, WaMedia>,
    /// URL `hash` -> URL record.
    urls: HashMap<String, WaUrl>,
}

struct WaMedia {
    owner: String,
    blob: u64,
    created_ms: i64,
    inbound: bool,
}

struct WaUrl {
    media_id: String,
    expires_ms: i64,
}

/// Whether a path segment is a Graph version (`v25.0`).
pub(crate) fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("0");
    !major.is_empty()
        && major.chars().all(|c| c.is_ascii_digit())
        && !minor.is_empty()
        && minor.chars().all(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A Graph API error answer.
#[derive(Debug)]
pub(crate) struct GraphError {
    http: u16,
    code: i64,
    message: String,
    kind: &'static str,
    subcode: Option<i64>,
    details: Option<String>,
    transient: bool,
    retry_after: Option<u64>,
}

impl GraphError {
    fn new(http: u16, code: i64, message: impl Into<String>) -> Self {
        Self {
            http,
            code,
            message: message.into(),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: false,
            retry_after: None,
        }
    }

    fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Code 100: an invalid or missing parameter.
    fn param(message: &str) -> Self {
        Self::new(400, 100, format!("(#100) {message}"))
    }

    fn invalid_token() -> Self {
        Self::new(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    fn missing_token() -> Self {
        Self::new(
            401,
            104,
            "An access token is required to request this resource.",
        )
    }

    /// An object that does not exist or that this token may not use.
    fn no_object(method: &Method, id: &str) -> Self {
        let mut e = Self::new(
            400,
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.as_str().to_ascii_lowercase()
            ),
        );
        e.kind = "GraphMethodException";
        e.subcode = Some(33);
        e
    }

    fn unknown_path(edge: &str) -> Self {
        Self::new(400, 2500, format!("Unknown path components: /{edge}"))
    }

    /// 130429: the number's throughput (whatsapp.md §9).
    fn throughput() -> Self {
        let mut e = Self::new(400, 130_429, "(#130429) Rate limit hit").details(
            "Message failed to send because there were too many messages sent from this phone number in a short period of time",
        );
        e.subcode = Some(2_494_055);
        e
    }

    /// 131056: the (business, consumer) pair rate (whatsapp.md §9).
    fn pair_limit() -> Self {
        Self::new(400, 131_056, "(#131056) (Business Account, Consumer Account) pair rate limit hit").details(
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time",
        )
    }

    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": format!("A{}", random_alnum(22)),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        let mut response = json_response(
            StatusCode::from_u16(self.http).unwrap_or(StatusCode::BAD_REQUEST),
            &json!({ "error": error }),
        );
        if let Some(retry_after) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.http == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\""),
            );
        }
        response
    }
}

fn fault_response(fault: &Fault) -> Response {
    match *fault {
        Fault::RateLimited { retry_after } => {
            let mut e = GraphError::throughput();
            e.http = 429;
            e.retry_after = Some(retry_after);
            e.into_response()
        }
        Fault::ServerError { status } => {
            let status = if (500..=599).contains(&status) {
                status
            } else {
                500
            };
            let mut e = if status == 503 {
                GraphError::new(status, 2, "Service temporarily unavailable")
            } else {
                GraphError::new(status, 1, "An unknown error occurred")
            };
            e.transient = true;
            e.into_response()
        }
        _ => GraphError::new(500, 1, "An unknown error occurred").into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts and customers (called by the control API)
// ---------------------------------------------------------------------------------------------

fn digits_only(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Builds a new business number account from a spec.
pub(crate) fn new_account(shared: &Shared, spec: &AccountSpec) -> Result<Account, Error> {
    let id = match &spec.phone_number_id {
        Some(id) => digits_only(id)
            .filter(|d| d.len() == id.len())
            .ok_or_else(|| Error::invalid_input("a phone-number id is digits"))?,
        None => random_digits(15),
    };
    let token = spec
        .token
        .clone()
        .unwrap_or_else(|| format!("EAAG{}", random_alnum(60)));
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(Error::invalid_input("an access token has no spaces"));
    }
    let display = match &spec.display_phone_number {
        Some(n) => digits_only(n)
            .ok_or_else(|| Error::invalid_input("a display phone number is digits"))?,
        None => format!("1555{}", random_digits(7)),
    };
    if let Some(url) = &spec.webhook_url {
        crate::webhook::check_url(url)?;
    }
    let number = NumberState {
        display_phone_number: display,
        waba_id: random_digits(15),
        app_secret: spec
            .app_secret
            .clone()
            .unwrap_or_else(|| hex::encode(fastrand::u128(..).to_be_bytes())),
        verify_token: spec.verify_token.clone(),
        webhook_url: spec.webhook_url.clone().filter(|u| !u.is_empty()),
        out_of_order: false,
        events: VecDeque::new(),
        next_event: 0,
    };
    let bucket = shared
        .config
        .whatsapp_per_number
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Account::new(
        id,
        Platform::WhatsApp,
        token,
        spec.name
            .clone()
            .unwrap_or_else(|| "Sandbox Business".to_string()),
        bucket,
        PlatformState::WhatsApp(number),
    ))
}

/// Applies the WhatsApp parts of an account patch.
pub(crate) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<(), Error> {
    if let Some(url) = &patch.webhook_url
        && !url.is_empty()
    {
        crate::webhook::check_url(url)?;
    }
    let Some(number) = account.whatsapp_mut() else {
        return Err(Error::invalid_input("not a WhatsApp account"));
    };
    if let Some(url) = &patch.webhook_url {
        number.webhook_url = Some(url.clone()).filter(|u| !u.is_empty());
    }
    if let Some(secret) = &patch.app_secret {
        if secret.is_empty() {
            return Err(Error::invalid_input("an app secret cannot be empty"));
        }
        number.app_secret = secret.clone();
    }
    if let Some(token) = &patch.verify_token {
        number.verify_token = Some(token.clone()).filter(|t| !t.is_empty());
    }
    if let Some(flag) = patch.out_of_order_statuses {
        number.out_of_order = flag;
    }
    account.wake();
    Ok(())
}

/// Builds a new customer (a WhatsApp user; their window is closed until they write).
pub(crate) fn new_customer(
    shared: &Shared,
    state: &mut State,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<Customer, Error> {
    let seq = state.next_seq();
    let id = match id {
        Some(id) => digits_only(id)
            .filter(|d| (6..=15).contains(&d.len()))
            .ok_or_else(|| Error::invalid_input("a wa_id is 6 to 15 digits"))?,
        None => format!("1555{:07}", seq % 10_000_000),
    };
    let bucket = shared
        .config
        .whatsapp_pair
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Customer::new(
        id,
        seq,
        name.unwrap_or("Customer").to_string(),
        bucket,
    ))
}

/// The `value` envelope of a webhook for this number.
fn envelope(account: &Account, number: &NumberState, value: Value) -> Value {
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
fn enqueue(account: &mut Account, events: Vec<(&'static str, String, Value)>) {
    let Some(number) = account.whatsapp() else {
        return;
    };
    let mut built: Vec<(&'static str, String, Bytes)> = events
        .into_iter()
        .map(|(kind, reference, value)| {
            (
                kind,
                reference,
                json_bytes(&envelope(account, number, value)),
            )
        })
        .collect();
    if number.out_of_order && built.len() > 1 {
        built.reverse();
    }
    if let Some(number) = account.whatsapp_mut() {
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

fn status_value(
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

/// A customer writes to the business: the message is stored, the window opens and a
/// `messages` webhook is queued.
pub(crate) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt, Error> {
    let now = shared.now_ms();
    {
        let customer = state.account(account_id)?.customer(customer_id)?;
        if customer.blocked {
            return Err(Error::invalid_input(
                "the customer blocked the business; unblock first",
            ));
        }
    }
    let wamid = new_wamid(customer_id);
    let mut msg = json!({
        "from": customer_id,
        "id": wamid,
        "timestamp": now.div_euclid(1000).to_string(),
    });
    let mut kind = MessageKind::Text;
    let mut stored_media = None;
    let mut media_id = None;
    if let Some(upload) = &message.media {
        let mime = media::resolve_mime(
            upload.mime_type.as_deref(),
            upload.file_name.as_deref(),
            &upload.data,
        );
        let blob = Blob::new(upload.data.clone(), mime.clone(), upload.file_name.clone());
        let sha = blob.sha256_base64();
        let blob_id = state.add_blob(blob);
        let id = random_digits(16);
        state.whatsapp.media.insert(
            id.clone(),
            WaMedia {
                owner: account_id.to_string(),
                blob: blob_id,
                created_ms: now,
                inbound: true,
            },
        );
        let (wire_type, mut object) = match upload.kind {
            MessageKind::Image => ("image", json!({})),
            MessageKind::File => ("document", json!({})),
            MessageKind::Voice => ("audio", json!({ "voice": true })),
            MessageKind::Audio => ("audio", json!({ "voice": false })),
            MessageKind::Video => ("video", json!({})),
            MessageKind::Sticker => ("sticker", json!({ "animated": false })),
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on WhatsApp",
                    other.as_str()
                )));
            }
        };
        object["id"] = json!(id);
        object["mime_type"] = json!(
            if upload.kind == MessageKind::Voice && mime == "audio/ogg" {
                "audio/ogg; codecs=opus".to_string()
            } else {
                mime
            }
        );
        object["sha256"] = json!(sha);
        if let Some(caption) = &message.caption
            && matches!(wire_type, "image" | "video" | "document")
        {
            object["caption"] = json!(caption);
        }
        if wire_type == "document"
            && let Some(name) = &upload.file_name
        {
            object["filename"] = json!(name);
        }
        msg["type"] = json!(wire_type);
        msg[wire_type] = object;
        kind = upload.kind;
        stored_media = Some(StoredMedia {
            blob: Some(blob_id),
            reference: Some(id.clone()),
            file_name: upload.file_name.clone(),
            ..StoredMedia::default()
        });
        media_id = Some(id);
    } else {
        let text = message
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid_input("a customer message needs text or media"))?;
        msg["type"] = json!("text");
        msg["text"] = json!({ "body": text });
    }
    let account = state.account_mut(account_id)?;
    let display = account
        .whatsapp()
        .map(|n| n.display_phone_number.clone())
        .unwrap_or_default();
    let customer = account.customer_mut(customer_id)?;
    if let Some(reply) = &message.reply_to {
        if customer.message(reply).is_none() {
            return Err(Error::new(
                ErrorKind::NotFound,
                "no such message to reply to",
            ));
        }
        msg["context"] = json!({ "from": display, "id": reply });
    }
    customer.last_inbound_ms = Some(now);
    let contact = json!({ "profile": { "name": customer.name }, "wa_id": customer.id });
    let mut stored = StoredMessage::new(wamid.clone(), MessageDirection::Inbound, kind, now);
    stored.text = message.text.clone().filter(|_| message.media.is_none());
    stored.caption = message.caption.clone().filter(|_| message.media.is_some());
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    customer.messages.push(stored);
    enqueue(
        account,
        vec![(
            "message",
            wamid.clone(),
            json!({ "contacts": [contact], "messages": [msg] }),
        )],
    );
    tracing::debug!(account = %account_id, kind = kind.as_str(), "sandbox whatsapp: customer message queued");
    Ok(InboundReceipt {
        message_id: wamid,
        update_id: None,
        media_id,
    })
}

/// The customer reads outbound messages: each becomes `read` and a `read` status is queued.
pub(crate) fn customer_reads(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize, Error> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    let limit = match up_to {
        Some(id) => customer
            .messages
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message"))?,
        None => customer.messages.len().saturating_sub(1),
    };
    let recipient = customer.id.clone();
    let mut events = Vec::new();
    for m in customer.messages.iter_mut().take(limit + 1) {
        if m.direction == MessageDirection::Outbound
            && matches!(m.status, MessageStatus::Sent | MessageStatus::Delivered)
        {
            m.status = MessageStatus::Read;
            events.push((
                "status",
                m.id.clone(),
                status_value(&m.id, "read", &recipient, now, None, None, "service"),
            ));
        }
    }
    let read = events.len();
    enqueue(account, events);
    Ok(read)
}

/// The customer's phone comes online or goes offline; online, every `sent` message becomes
/// `delivered`.
pub(crate) fn customer_online(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    online: bool,
) -> Result<(), Error> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    customer.online = online;
    if !online {
        return Ok(());
    }
    let recipient = customer.id.clone();
    let mut events = Vec::new();
    for m in &mut customer.messages {
        if m.direction == MessageDirection::Outbound && m.status == MessageStatus::Sent {
            m.status = MessageStatus::Delivered;
            let category = if m.kind == MessageKind::Template {
                "utility"
            } else {
                "service"
            };
            events.push((
                "status",
                m.id.clone(),
                status_value(&m.id, "delivered", &recipient, now, None, None, category),
            ));
        }
    }
    enqueue(account, events);
    Ok(())
}

/// Pending webhook events (for the control API).
pub(crate) fn pending(account: &Account) -> usize {
    account.whatsapp().map_or(0, |n| n.events.len())
}

/// Sends the `hub.challenge` handshake to the callback URL.
pub(crate) async fn verify_webhook(
    shared: &Shared,
    account_id: &str,
) -> Result<WebhookCheck, Error> {
    let (url, token) = {
        let state = shared.lock();
        let number = state
            .account(account_id)?
            .whatsapp()
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

// ---------------------------------------------------------------------------------------------
// Webhook deliveries (called by the delivery worker)
// ---------------------------------------------------------------------------------------------

/// The next event to POST: `(seq, url, app secret, body, kind, reference)`.
pub(crate) fn next_delivery(
    account: &Account,
) -> Option<(u64, String, String, Bytes, &'static str, String)> {
    let number = account.whatsapp()?;
    let url = number.webhook_url.clone()?;
    let event = number.events.front()?;
    Some((
        event.seq,
        url,
        number.app_secret.clone(),
        event.body.clone(),
        event.kind,
        event.reference.clone(),
    ))
}

/// Records the outcome of a delivery: a success (or giving up) removes the event.
pub(crate) fn delivery_done(account: &mut Account, seq: u64, ok: bool, give_up: bool) {
    if let Some(number) = account.whatsapp_mut()
        && (ok || give_up)
    {
        number.events.retain(|e| e.seq != seq);
    }
}

// ---------------------------------------------------------------------------------------------
// The Graph API
// ---------------------------------------------------------------------------------------------

/// The account the bearer token belongs to.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, GraphError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(GraphError::missing_token)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(GraphError::invalid_token)?;
    shared
        .lock()
        .account_by_token(token, Platform::WhatsApp)
        .map(str::to_string)
        .ok_or_else(GraphError::invalid_token)
}

fn graph_result(result: Result<Value, GraphError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

/// `GET` / `DELETE /{version}/{object-id}`: the phone number or a media object.
pub(crate) async fn object(shared: Arc<Shared>, id: String, req: Request) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let method = req.method().clone();
    let is_media = shared.lock().whatsapp.media.contains_key(&id);
    let operation = match (is_media, &method) {
        (true, &Method::DELETE) => "media_delete",
        (true, _) => "media_get",
        (false, _) => "phone_number",
    };
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let work = async {
        let result = match (operation, &method) {
            ("phone_number", &Method::GET) => phone_number(&shared, &account, &id, &query),
            ("media_get", &Method::GET) => media_info(&shared, &account, &id, &query),
            ("media_delete", _) => media_delete(&shared, &account, &id, &query),
            _ => Err(GraphError::no_object(&method, &id)),
        };
        graph_result(result)
    };
    server::with_faults(&shared, &account, operation, conn, fault_response, work).await
}

/// `POST /{version}/{phone-number-id}/{messages|media}`.
pub(crate) async fn edge(shared: Arc<Shared>, id: String, edge: String, req: Request) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let method = req.method().clone();
    let operation = match edge.as_str() {
        "messages" => "messages",
        "media" => "media_upload",
        _ => "unknown",
    };
    let work = async {
        if method != Method::POST || id != account {
            return GraphError::no_object(&method, &id).into_response();
        }
        let result = match operation {
            "messages" => {
                match axum::body::to_bytes(req.into_body(), shared.config.max_request_bytes).await {
                    Ok(body) => send(&shared, &account, &body),
                    Err(_) => Err(GraphError::new(413, 100, "(#100) Request body too large")),
                }
            }
            "media_upload" => upload(&shared, &account, req).await,
            _ => Err(GraphError::unknown_path(&edge)),
        };
        graph_result(result)
    };
    server::with_faults(&shared, &account, operation, conn, fault_response, work).await
}

fn phone_number(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    if id != account_id {
        return Err(GraphError::no_object(&Method::GET, id));
    }
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| GraphError::no_object(&Method::GET, id))?;
    let number = account
        .whatsapp()
        .ok_or_else(|| GraphError::no_object(&Method::GET, id))?;
    let d = &number.display_phone_number;
    let display = if d.len() == 11 && d.starts_with('1') {
        format!("+1 {}-{}-{}", &d[1..4], &d[4..7], &d[7..])
    } else {
        format!("+{d}")
    };
    let full = json!({
        "verified_name": account.name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": display,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
        "id": account.id,
    });
    match query.get("fields").filter(|f| !f.is_empty()) {
        None => Ok(full),
        Some(fields) => {
            let mut out = json!({ "id": account.id });
            for field in fields.split(',').map(str::trim) {
                if let Some(v) = full.get(field) {
                    out[field] = v.clone();
                }
            }
            Ok(out)
        }
    }
}

/// The media record if this account may use it.
fn owned_media<'a>(
    state: &'a State,
    now_ms: i64,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
    method: &Method,
) -> Result<&'a WaMedia, GraphError> {
    let media = state
        .whatsapp
        .media
        .get(id)
        .filter(|m| m.owner == account_id)
        .filter(|m| query.get("phone_number_id").is_none_or(|p| *p == m.owner))
        .filter(|m| {
            let ttl = if m.inbound {
                INBOUND_TTL_MS
            } else {
                UPLOAD_TTL_MS
            };
            now_ms - m.created_ms < ttl
        })
        .ok_or_else(|| GraphError::no_object(method, id))?;
    Ok(media)
}

fn media_info(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    let media = owned_media(&state, now, account_id, id, query, &Method::GET)?;
    let blob = state
        .blobs
        .get(&media.blob)
        .ok_or_else(|| GraphError::no_object(&Method::GET, id))?;
    let hash = random_alnum(32);
    let ttl_ms = i64::try_from(shared.config.media_url_ttl.as_millis()).unwrap_or(i64::MAX / 4);
    let expires_ms = now + ttl_ms;
    let url = format!(
        "{}/whatsapp_business/attachments/?mid={id}&ext={}&hash={hash}",
        shared.urls.base,
        expires_ms.div_euclid(1000)
    );
    let info = json!({
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": blob.mime,
        "sha256": blob.sha256_hex(),
        "file_size": blob.size(),
        "id": id,
    });
    state.whatsapp.urls.insert(
        hash,
        WaUrl {
            media_id: id.to_string(),
            expires_ms,
        },
    );
    Ok(info)
}

fn media_delete(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    owned_media(&state, now, account_id, id, query, &Method::DELETE)?;
    state.whatsapp.media.remove(id);
    state.whatsapp.urls.retain(|_, u| u.media_id != id);
    Ok(json!({ "success": true }))
}

/// `GET /whatsapp_business/attachments/?mid=..&ext=..&hash=..` with the bearer token.
pub(crate) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let work = async {
        let now = shared.now_ms();
        let state = shared.lock();
        let record = query.get("hash").and_then(|h| state.whatsapp.urls.get(h));
        let Some(record) = record.filter(|r| query.get("mid") == Some(&r.media_id)) else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        let media = state.whatsapp.media.get(&record.media_id);
        let Some(media) = media else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        if media.owner != account {
            return GraphError::invalid_token().into_response();
        }
        if now >= record.expires_ms {
            return plain(StatusCode::NOT_FOUND, "URL signature expired");
        }
        match state.blobs.get(&media.blob) {
            Some(blob) => {
                let mut response = Response::new(Body::from(blob.bytes.clone()));
                if let Ok(mime) = HeaderValue::from_str(&blob.mime) {
                    response.headers_mut().insert(header::CONTENT_TYPE, mime);
                }
                response
            }
            None => plain(StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    server::with_faults(
        &shared,
        &account,
        "media_download",
        conn,
        fault_response,
        work,
    )
    .await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

fn new_wamid(wa_id: &str) -> String {
    let raw = format!(
        "{wa_id}\x15\x02\x00\x11\x18{}",
        random_alnum(20).to_ascii_uppercase()
    );
    format!(
        "wamid.HBgL{}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

/// MIME type without parameters, lowercase.
fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase()
}

/// Whether media of `mime` and `size` can be sent as a message of `wire_type`
/// (whatsapp.md §4.3); the reason when not.
fn fits(wire_type: &str, mime: &str, size: u64) -> Result<(), String> {
    let (allowed, limit): (&[&str], u64) = match wire_type {
        "image" => (&["image/jpeg", "image/png"], 5 * MB),
        "video" => (&["video/mp4", "video/3gpp"], 16 * MB),
        "audio" => (
            &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            16 * MB,
        ),
        "sticker" => (&["image/webp"], 500 * 1024),
        _ => (&[], 100 * MB),
    };
    if !allowed.is_empty() && !allowed.contains(&mime) {
        return Err(format!(
            "Media type {mime} is not supported for {wire_type} messages"
        ));
    }
    if size > limit {
        return Err(format!(
            "Media of {size} bytes exceeds the {limit}-byte limit for {wire_type} messages"
        ));
    }
    Ok(())
}

/// How a send will end, decided at acceptance.
enum Fate {
    Deliver,
    Fail(ErrorView, &'static str),
}

fn send(shared: &Shared, account_id: &str, body: &[u8]) -> Result<Value, GraphError> {
    let request: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| GraphError::param("The parameter messaging_product is required."))?;
    match request.get("messaging_product").and_then(Value::as_str) {
        Some("whatsapp") => {}
        Some(_) => {
            return Err(GraphError::param(
                "Param messaging_product must be one of {WHATSAPP}",
            ));
        }
        None => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    if let Some(status) = request.get("status") {
        return mark_read(shared, account_id, &request, status);
    }
    let to_raw = request
        .get("to")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::param("The parameter to is required."))?;
    let to = digits_only(to_raw)
        .filter(|d| (6..=15).contains(&d.len()))
        .ok_or_else(|| {
            GraphError::new(400, 131_009, "(#131009) Parameter value is not valid")
                .details("Recipient phone number is not a valid phone number")
        })?;
    let wire_type = request
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let now = shared.now_ms();

    // Validate the content.
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        MessageKind::Text,
        now,
    );
    let mut media_check: Option<(String, u64)> = None;
    match wire_type {
        "text" => {
            let body = request
                .pointer("/text/body")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
                .ok_or_else(|| GraphError::param("The parameter text['body'] is required."))?;
            if body.chars().count() > TEXT_LIMIT {
                return Err(GraphError::param(
                    "Param text['body'] must be at most 4096 characters long.",
                ));
            }
            stored.text = Some(body.to_string());
        }
        "image" | "video" | "document" | "audio" | "sticker" => {
            let object = request
                .get(wire_type)
                .filter(|o| o.is_object())
                .ok_or_else(|| {
                    GraphError::param(&format!("The parameter {wire_type} is required."))
                })?;
            let id = object
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let link = object
                .get("link")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let mut media = StoredMedia::default();
            match (id, link) {
                (Some(_), Some(_)) => {
                    return Err(GraphError::param(&format!(
                        "Param {wire_type} must have exactly one of id or link"
                    )));
                }
                (None, None) => {
                    return Err(GraphError::param(&format!(
                        "The parameter {wire_type}['id'] or {wire_type}['link'] is required."
                    )));
                }
                (Some(id), None) => {
                    let state = shared.lock();
                    let record =
                        owned_media(&state, now, account_id, id, &HashMap::new(), &Method::POST)
                            .map_err(|_| {
                                GraphError::param("Invalid parameter").details(format!(
                                    "Param {wire_type}['id'] is not a valid media id"
                                ))
                            })?;
                    if let Some(blob) = state.blobs.get(&record.blob) {
                        media_check = Some((blob.mime.clone(), blob.size()));
                    }
                    media.blob = Some(record.blob);
                    media.reference = Some(id.to_string());
                }
                (None, Some(link)) => {
                    let ok =
                        url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !ok {
                        return Err(GraphError::param(&format!(
                            "Param {wire_type}['link'] is not a valid URI."
                        )));
                    }
                    media.url = Some(link.to_string());
                }
            }
            if let Some(caption) = object.get("caption").and_then(Value::as_str)
                && matches!(wire_type, "image" | "video" | "document")
            {
                if caption.chars().count() > CAPTION_LIMIT {
                    return Err(GraphError::param(&format!(
                        "Param {wire_type}['caption'] must be at most 1024 characters long."
                    )));
                }
                stored.caption = Some(caption.to_string()).filter(|c| !c.is_empty());
            }
            media.file_name = object
                .get("filename")
                .and_then(Value::as_str)
                .map(str::to_string);
            stored.kind = match wire_type {
                "image" => MessageKind::Image,
                "video" => MessageKind::Video,
                "document" => MessageKind::File,
                "sticker" => MessageKind::Sticker,
                _ if object.get("voice").and_then(Value::as_bool) == Some(true) => {
                    MessageKind::Voice
                }
                _ => MessageKind::Audio,
            };
            stored.media = Some(media);
        }
        "template" => {
            let name = request
                .pointer("/template/name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| GraphError::param("The parameter template['name'] is required."))?;
            request
                .pointer("/template/language/code")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    GraphError::param("The parameter template['language']['code'] is required.")
                })?;
            stored.kind = MessageKind::Template;
            stored.template = Some(name.to_string());
        }
        "reaction" => {
            let target = request
                .pointer("/reaction/message_id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    GraphError::param("The parameter reaction['message_id'] is required.")
                })?;
            let emoji = request
                .pointer("/reaction/emoji")
                .and_then(Value::as_str)
                .unwrap_or_default();
            stored.kind = MessageKind::Reaction;
            stored.text = Some(emoji.to_string());
            stored.reply_to = Some(target.to_string());
        }
        "location" | "contacts" | "interactive" => {
            request
                .get(wire_type)
                .filter(|o| !o.is_null())
                .ok_or_else(|| {
                    GraphError::param(&format!("The parameter {wire_type} is required."))
                })?;
            stored.kind = MessageKind::Other;
        }
        other => {
            return Err(GraphError::param(&format!(
                "Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}} - got \"{other}\"."
            )));
        }
    }
    if let Some(reply) = request
        .pointer("/context/message_id")
        .and_then(Value::as_str)
    {
        stored.reply_to = Some(reply.to_string());
    }

    let mut state = shared.lock();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(GraphError::invalid_token)?;
    // Rate limits (whatsapp.md §9): the number's throughput, then the pair rate.
    if let Some(bucket) = account.bucket.as_mut()
        && bucket.check(now).is_err()
    {
        return Err(GraphError::throughput());
    }
    if let Some(customer) = account.customers.get_mut(&to)
        && let Some(bucket) = customer.bucket.as_mut()
    {
        if bucket.check(now).is_err() {
            return Err(GraphError::pair_limit());
        }
        bucket.take(now);
    }
    if let Some(bucket) = account.bucket.as_mut() {
        bucket.take(now);
    }
    let wamid = new_wamid(&to);
    let window = i64::try_from(shared.config.reply_window.as_millis()).unwrap_or(i64::MAX / 4);
    let category = if stored.kind == MessageKind::Template {
        "utility"
    } else {
        "service"
    };
    let mut events = Vec::new();
    match account.customers.get_mut(&to) {
        None => {
            // Not a WhatsApp user: accepted, then undeliverable (whatsapp.md §7.2, 131026).
            let error = ErrorView {
                code: 131_026,
                title: "Message undeliverable".to_string(),
            };
            events.push((
                "status",
                wamid.clone(),
                status_value(
                    &wamid,
                    "failed",
                    &to,
                    now,
                    Some(&error),
                    Some("Message Undeliverable."),
                    category,
                ),
            ));
        }
        Some(customer) => {
            let window_open = customer.last_inbound_ms.is_some_and(|t| now - t < window);
            let fate = if customer.blocked {
                Fate::Fail(
                    ErrorView {
                        code: 131_026,
                        title: "Message undeliverable".to_string(),
                    },
                    "Message Undeliverable.",
                )
            } else if stored.kind != MessageKind::Template && !window_open {
                Fate::Fail(
                    ErrorView {
                        code: 131_047,
                        title: "Re-engagement message".to_string(),
                    },
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                )
            } else if let Some(Err(why)) = media_check
                .as_ref()
                .map(|(mime, size)| fits(wire_type, mime, *size))
            {
                tracing::debug!(reason = %why, "sandbox whatsapp: media does not fit the message type");
                Fate::Fail(
                    ErrorView {
                        code: 131_053,
                        title: "Media upload error".to_string(),
                    },
                    "Unsupported media for this message type.",
                )
            } else {
                Fate::Deliver
            };
            stored.id = wamid.clone();
            match fate {
                Fate::Deliver => {
                    events.push((
                        "status",
                        wamid.clone(),
                        status_value(&wamid, "sent", &to, now, None, None, category),
                    ));
                    if customer.online {
                        stored.status = MessageStatus::Delivered;
                        events.push((
                            "status",
                            wamid.clone(),
                            status_value(&wamid, "delivered", &to, now, None, None, category),
                        ));
                    }
                }
                Fate::Fail(error, details) => {
                    stored.status = MessageStatus::Failed;
                    events.push((
                        "status",
                        wamid.clone(),
                        status_value(
                            &wamid,
                            "failed",
                            &to,
                            now,
                            Some(&error),
                            Some(details),
                            category,
                        ),
                    ));
                    stored.error = Some(error);
                }
            }
            tracing::debug!(
                account = %account_id,
                to = %messenger_core::model::fingerprint(&to),
                kind = stored.kind.as_str(),
                status = ?stored.status,
                "sandbox whatsapp: message accepted"
            );
            customer.messages.push(stored);
        }
    }
    enqueue(account, events);
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to_raw, "wa_id": to }],
        "messages": [{ "id": wamid, "message_status": "accepted" }],
    }))
}

fn mark_read(
    shared: &Shared,
    account_id: &str,
    request: &Value,
    status: &Value,
) -> Result<Value, GraphError> {
    if status.as_str() != Some("read") {
        return Err(GraphError::param("Param status must be one of {READ}"));
    }
    let message_id = request
        .get("message_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| GraphError::param("The parameter message_id is required."))?;
    let mut state = shared.lock();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(GraphError::invalid_token)?;
    let customer = account
        .customers
        .values_mut()
        .find(|c| {
            c.messages
                .iter()
                .any(|m| m.id == message_id && m.direction == MessageDirection::Inbound)
        })
        .ok_or_else(|| GraphError::param("Invalid parameter").details("Unknown message id"))?;
    // Marking one message read marks the earlier ones too (whatsapp.md §3).
    for m in &mut customer.messages {
        if m.direction == MessageDirection::Inbound {
            m.status = MessageStatus::Read;
        }
        if m.id == message_id {
            break;
        }
    }
    Ok(json!({ "success": true }))
}

async fn upload(shared: &Shared, account_id: &str, req: Request) -> Result<Value, GraphError> {
    let limit = shared.config.max_request_bytes;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(GraphError::param("The parameter file is required."));
    }
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| GraphError::param("Invalid parameter"))?;
    let mut product = None;
    let mut declared = None;
    let mut file: Option<(Bytes, Option<String>, Option<String>)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(GraphError::new(413, 100, "(#100) Request body too large"));
            }
            Err(_) => return Err(GraphError::param("Invalid parameter")),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|_| GraphError::new(413, 100, "(#100) Request body too large"))?;
        match name.as_str() {
            "messaging_product" => {
                product = Some(String::from_utf8_lossy(&data).trim().to_string())
            }
            "type" => declared = Some(String::from_utf8_lossy(&data).trim().to_string()),
            "file" => file = Some((data, file_name, content_type)),
            _ => {}
        }
    }
    match product.as_deref() {
        Some("whatsapp") => {}
        Some(_) => {
            return Err(GraphError::param(
                "Param messaging_product must be one of {WHATSAPP}",
            ));
        }
        None => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    let (data, file_name, content_type) =
        file.ok_or_else(|| GraphError::param("The parameter file is required."))?;
    let mime = base_mime(&media::resolve_mime(
        declared.as_deref().or(content_type.as_deref()),
        file_name.as_deref(),
        &data,
    ));
    let Some((_, limit)) = MEDIA_TYPES.iter().find(|(m, _)| *m == mime) else {
        let list: Vec<&str> = MEDIA_TYPES.iter().map(|(m, _)| *m).collect();
        return Err(GraphError::param(&format!(
            "Param file must be a file with one of the following types: {}. Received file of type '{mime}'.",
            list.join(", ")
        )));
    };
    let size = data.len() as u64;
    if size == 0 {
        return Err(GraphError::param("Param file must not be empty."));
    }
    if size > *limit {
        return Err(
            GraphError::new(400, 131_053, "(#131053) Media upload error").details(format!(
                "File of {size} bytes exceeds the {limit}-byte limit for {mime}"
            )),
        );
    }
    let now = shared.now_ms();
    let mut state = shared.lock();
    let blob_id = state.add_blob(Blob::new(data, mime, file_name));
    let id = random_digits(16);
    state.whatsapp.media.insert(
        id.clone(),
        WaMedia {
            owner: account_id.to_string(),
            blob: blob_id,
            created_ms: now,
            inbound: false,
        },
    );
    tracing::debug!(account = %account_id, size, "sandbox whatsapp: media uploaded");
    Ok(json!({ "id": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(is_version("v25.0"));
        assert!(is_version("v19"));
        assert!(!is_version("version"));
        assert!(!is_version("v25."));
        assert!(!is_version("bot123:abc"));
    }

    #[test]
    fn media_fit_follows_the_sheet() {
        assert!(fits("image", "image/png", MB).is_ok());
        assert!(fits("image", "image/png", 6 * MB).is_err());
        assert!(fits("image", "application/pdf", 10).is_err());
        assert!(fits("sticker", "image/webp", 400 * 1024).is_ok());
        assert!(fits("document", "application/pdf", 90 * MB).is_ok());
    }

    #[test]
    fn phone_numbers_normalise() {
        assert_eq!(
            digits_only("+1 (650) 555-1234").as_deref(),
            Some("16505551234")
        );
        assert_eq!(digits_only("abc"), None);
    }
}
