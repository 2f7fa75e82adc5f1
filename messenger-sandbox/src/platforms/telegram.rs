//! The Telegram Bot API as a connector uses it (telegram.md): `getMe`, the `send*` methods with
//! JSON, form and multipart bodies, `getFile` and file downloads, `getUpdates` long polling,
//! webhooks with `X-Telegram-Bot-Api-Secret-Token`, and the customer's side (messages, blocks).
//!
//! Errors use Telegram's envelope `{"ok":false,"error_code":N,"description":"..."}` with the
//! HTTP status equal to `error_code`.

mod markup;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use messenger_core::{Error, ErrorKind, Platform};
use serde_json::{Map, Value, json};

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, InboundReceipt, MessageDirection,
    MessageKind, MessageStatus,
};
use crate::clock::{TokenBucket, ceil_secs};
use crate::media::{self, Blob};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{
    Account, Customer, PlatformState, Shared, State, StoredMedia, StoredMessage, random_alnum,
};

/// Caption limit in UTF-16 code units (telegram.md §3, §6).
const CAPTION_LIMIT: usize = 1024;
/// Text limit in UTF-16 code units (telegram.md §3, §6).
const TEXT_LIMIT: usize = 4096;
/// Multipart upload limits (telegram.md §5).
const PHOTO_UPLOAD_LIMIT: u64 = 10 * 1024 * 1024;
const FILE_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// getFile download limit (telegram.md §3 getFile).
const DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;
/// Pending updates are kept 24 h (telegram.md §3 getUpdates).
const UPDATE_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Update types not delivered unless asked for (telegram.md §3 getUpdates `allowed_updates`).
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

const METHODS: &[&str] = &[
    "getme",
    "sendmessage",
    "sendphoto",
    "senddocument",
    "sendvoice",
    "sendaudio",
    "sendvideo",
    "sendchataction",
    "getfile",
    "getupdates",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
];

/// The Telegram part of an account.
pub(crate) struct BotState {
    pub bot_id: i64,
    pub username: String,
    pub updates: VecDeque<Update>,
    pub next_update_id: i64,
    pub webhook: Option<Webhook>,
    pub allowed_updates: Option<Vec<String>>,
    pub poll_generation: u64,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
}

/// A pending update.
pub(crate) struct Update {
    pub id: i64,
    pub body: Value,
    pub created_ms: i64,
}

/// A webhook set by `setWebhook`.
pub(crate) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub max_connections: u32,
    pub ip_address: Option<String>,
}

/// Files of every bot.
#[derive(Default)]
pub(crate) struct Store {
    files: HashMap<String, TgFile>,
    /// `file_path` -> `file_id`.
    paths: HashMap<String, String>,
    next_file: u64,
}

struct TgFile {
    owner: String,
    kind: FileKind,
    blob: Option<u64>,
    unique_id: String,
    path: String,
    width: u32,
    height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
    Sticker,
}

impl FileKind {
    fn field(self) -> &'static str {
        match self {
            FileKind::Photo => "photo",
            FileKind::Document => "document",
            FileKind::Voice => "voice",
            FileKind::Audio => "audio",
            FileKind::Video => "video",
            FileKind::Sticker => "sticker",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            FileKind::Photo => "photos",
            FileKind::Document => "documents",
            FileKind::Voice => "voice",
            FileKind::Audio => "music",
            FileKind::Video => "videos",
            FileKind::Sticker => "stickers",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            FileKind::Photo => "AgACAgIAAxkBAA",
            FileKind::Document => "BQACAgIAAxkBAA",
            FileKind::Voice => "AwACAgIAAxkBAA",
            FileKind::Audio => "CQACAgIAAxkBAA",
            FileKind::Video => "BAACAgIAAxkBAA",
            FileKind::Sticker => "CAACAgIAAxkBAA",
        }
    }

    fn message_kind(self) -> MessageKind {
        match self {
            FileKind::Photo => MessageKind::Image,
            FileKind::Document => MessageKind::File,
            FileKind::Voice => MessageKind::Voice,
            FileKind::Audio => MessageKind::Audio,
            FileKind::Video => MessageKind::Video,
            FileKind::Sticker => MessageKind::Sticker,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and envelopes
// ---------------------------------------------------------------------------------------------

/// A Telegram error answer.
#[derive(Debug)]
pub(crate) struct TgError {
    code: u16,
    description: String,
    retry_after: Option<u64>,
}

impl TgError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    fn bad(what: &str) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    fn too_many(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    fn into_response(self) -> Response {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        json_response(
            StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST),
            &body,
        )
    }
}

fn ok(result: Value) -> Value {
    json!({ "ok": true, "result": result })
}

fn ok_described(result: Value, description: &str) -> Value {
    json!({ "ok": true, "result": result, "description": description })
}

/// `404 Not Found` in Telegram's envelope (unknown method).
pub(crate) fn not_found() -> Response {
    TgError::new(404, "Not Found").into_response()
}

fn fault_response(fault: &Fault) -> Response {
    match *fault {
        Fault::RateLimited { retry_after } => TgError::too_many(retry_after).into_response(),
        Fault::ServerError { status } => {
            let status = if (500..=599).contains(&status) {
                status
            } else {
                500
            };
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Internal Server Error");
            TgError::new(status, reason).into_response()
        }
        _ => TgError::new(500, "Internal Server Error").into_response(),
    }
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

// ---------------------------------------------------------------------------------------------
// Accounts (called by the control API)
// ---------------------------------------------------------------------------------------------

/// Builds a new bot account from a spec.
pub(crate) fn new_account(
    shared: &Shared,
    state: &mut State,
    spec: &AccountSpec,
) -> Result<Account, Error> {
    let token = match &spec.token {
        Some(token) => token.clone(),
        None => format!(
            "{}:AA{}",
            7_000_000_000u64 + state.next_seq(),
            random_alnum(33)
        ),
    };
    let (id_part, secret) = token
        .split_once(':')
        .ok_or_else(|| Error::invalid_input("a Telegram token looks like <bot id>:<secret>"))?;
    let bot_id: i64 = id_part.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::invalid_input("the bot id of a Telegram token must be a positive number")
    })?;
    if secret.is_empty()
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid_input(
            "the secret of a Telegram token must be [A-Za-z0-9_-]+",
        ));
    }
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox Bot".to_string());
    let username = spec
        .username
        .clone()
        .unwrap_or_else(|| format!("sandbox_{bot_id}_bot"));
    let mut bot = BotState {
        bot_id,
        username,
        updates: VecDeque::new(),
        next_update_id: 100_000_000 + i64::from(fastrand::u32(..1_000_000)),
        webhook: None,
        allowed_updates: None,
        poll_generation: 0,
        last_error_date: None,
        last_error_message: None,
    };
    if let Some(url) = spec.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        validate_webhook_url(url).map_err(|e| Error::invalid_input(e.description))?;
        let secret = spec.webhook_secret.clone().filter(|s| !s.is_empty());
        if let Some(secret) = &secret {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.description))?;
        }
        bot.webhook = Some(Webhook {
            url: url.to_string(),
            secret,
            max_connections: 40,
            ip_address: None,
        });
    }
    let bucket = shared
        .config
        .telegram_per_bot
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Account::new(
        bot_id.to_string(),
        Platform::Telegram,
        token,
        name,
        bucket,
        PlatformState::Telegram(bot),
    ))
}

/// Applies the Telegram parts of an account patch.
pub(crate) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<(), Error> {
    let Some(bot) = account.telegram_mut() else {
        return Err(Error::invalid_input("not a Telegram account"));
    };
    if let Some(url) = &patch.webhook_url {
        if url.is_empty() {
            bot.webhook = None;
        } else {
            validate_webhook_url(url).map_err(|e| Error::invalid_input(e.description))?;
            let secret = bot.webhook.as_ref().and_then(|w| w.secret.clone());
            bot.webhook = Some(Webhook {
                url: url.clone(),
                secret,
                max_connections: 40,
                ip_address: None,
            });
        }
    }
    if let Some(secret) = &patch.webhook_secret {
        let Some(webhook) = bot.webhook.as_mut() else {
            return Err(Error::invalid_input("no webhook is set"));
        };
        if secret.is_empty() {
            webhook.secret = None;
        } else {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.description))?;
            webhook.secret = Some(secret.clone());
        }
    }
    account.wake();
    Ok(())
}

/// Builds a new customer (a user who started the bot).
pub(crate) fn new_customer(
    shared: &Shared,
    state: &mut State,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<Customer, Error> {
    let id = match id {
        Some(id) => {
            let n: i64 =
                id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid_input("a Telegram user id is a positive number")
                })?;
            n.to_string()
        }
        None => (100_000_000 + state.next_seq()).to_string(),
    };
    let bucket = shared
        .config
        .telegram_per_chat
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    let seq = state.next_seq();
    Ok(Customer::new(
        id,
        seq,
        name.unwrap_or("Customer").to_string(),
        bucket,
    ))
}

fn user_json(customer: &Customer) -> Value {
    let mut user = json!({
        "id": customer.id.parse::<i64>().unwrap_or_default(),
        "is_bot": false,
        "first_name": customer.name,
    });
    if let Some(username) = &customer.username {
        user["username"] = json!(username);
    }
    if let Some(lang) = &customer.language_code {
        user["language_code"] = json!(lang);
    }
    user
}

fn chat_json(customer: &Customer) -> Value {
    let mut chat = json!({
        "id": customer.id.parse::<i64>().unwrap_or_default(),
        "type": "private",
        "first_name": customer.name,
    });
    if let Some(username) = &customer.username {
        chat["username"] = json!(username);
    }
    chat
}

fn bot_user_json(account: &Account, bot: &BotState) -> Value {
    json!({
        "id": bot.bot_id,
        "is_bot": true,
        "first_name": account.name,
        "username": bot.username,
    })
}

/// Queues an update for getUpdates or the webhook, unless `allowed_updates` filters it out.
fn push_update(account: &mut Account, kind: &str, payload: Value, now_ms: i64) -> Option<i64> {
    let bot = account.telegram_mut()?;
    let allowed = match &bot.allowed_updates {
        Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
        _ => !OPT_IN_UPDATES.contains(&kind),
    };
    if !allowed {
        return None;
    }
    let id = bot.next_update_id;
    bot.next_update_id += 1;
    let mut body = json!({ "update_id": id });
    body[kind] = payload;
    bot.updates.push_back(Update {
        id,
        body,
        created_ms: now_ms,
    });
    account.wake();
    Some(id)
}

// ---------------------------------------------------------------------------------------------
// The customer's side (called by the control API)
// ---------------------------------------------------------------------------------------------

/// A customer writes to the bot: the message is stored and an update is queued.
pub(crate) fn customer_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    message: &CustomerMessage,
) -> Result<InboundReceipt, Error> {
    let now = shared.now_ms();
    {
        let account = state.account(account_id)?;
        let customer = account.customer(customer_id)?;
        if customer.blocked {
            return Err(Error::invalid_input(
                "the customer blocked the bot; unblock first (Telegram delivers nothing from them)",
            ));
        }
    }
    let mut content = Map::new();
    let mut stored_media = None;
    let mut kind = MessageKind::Text;
    let mut media_id = None;
    if let Some(upload) = &message.media {
        let file_kind = match upload.kind {
            MessageKind::Image => FileKind::Photo,
            MessageKind::File => FileKind::Document,
            MessageKind::Voice => FileKind::Voice,
            MessageKind::Audio => FileKind::Audio,
            MessageKind::Video => FileKind::Video,
            MessageKind::Sticker => FileKind::Sticker,
            other => {
                return Err(Error::invalid_input(format!(
                    "a customer cannot send {} media on Telegram",
                    other.as_str()
                )));
            }
        };
        let mime = media::resolve_mime(
            upload.mime_type.as_deref(),
            upload.file_name.as_deref(),
            &upload.data,
        );
        let blob = Blob::new(upload.data.clone(), mime, upload.file_name.clone());
        let (file_id, object) = store_file(state, account_id, file_kind, blob, &Map::new());
        content.insert(file_kind.field().to_string(), object);
        stored_media = Some(StoredMedia {
            blob: state.telegram.files.get(&file_id).and_then(|f| f.blob),
            reference: Some(file_id.clone()),
            file_name: upload.file_name.clone(),
            ..StoredMedia::default()
        });
        media_id = Some(file_id);
        kind = file_kind.message_kind();
        if let Some(caption) = &message.caption {
            content.insert("caption".into(), json!(caption));
        }
    } else {
        let text = message
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid_input("a customer message needs text or media"))?;
        if text.starts_with('/') {
            let len = text.split_whitespace().next().map_or(0, utf16_len);
            content.insert(
                "entities".into(),
                json!([{ "offset": 0, "length": len, "type": "bot_command" }]),
            );
        }
        content.insert("text".into(), json!(text));
    }

    let account = state.account_mut(account_id)?;
    let customer = account.customer_mut(customer_id)?;
    let reply_raw = match &message.reply_to {
        Some(reply) => Some(
            customer
                .message(reply)
                .and_then(|m| m.raw.clone())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message to reply to"))?,
        ),
        None => None,
    };
    let message_id = customer.next_message_id;
    customer.next_message_id += 1;
    customer.last_inbound_ms = Some(now);
    let mut msg = json!({
        "message_id": message_id,
        "from": user_json(customer),
        "chat": chat_json(customer),
        "date": now.div_euclid(1000),
    });
    if let Some(reply) = reply_raw {
        msg["reply_to_message"] = reply;
    }
    for (k, v) in content {
        msg[k] = v;
    }
    let mut stored =
        StoredMessage::new(message_id.to_string(), MessageDirection::Inbound, kind, now);
    stored.text = message.text.clone().filter(|_| message.media.is_none());
    stored.caption = message.caption.clone().filter(|_| message.media.is_some());
    stored.media = stored_media;
    stored.reply_to = message.reply_to.clone();
    stored.raw = Some(msg.clone());
    customer.messages.push(stored);
    let update_id = push_update(account, "message", msg, now);
    tracing::debug!(
        account = %account_id,
        kind = kind.as_str(),
        "sandbox telegram: customer message queued"
    );
    Ok(InboundReceipt {
        message_id: message_id.to_string(),
        update_id,
        media_id,
    })
}

/// The customer blocks or unblocks the bot: a `my_chat_member` update is queued.
pub(crate) fn customer_blocks(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    blocked: bool,
) -> Result<(), Error> {
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    let bot_user = account
        .telegram()
        .map(|bot| bot_user_json(account, bot))
        .ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    let customer = account.customer_mut(customer_id)?;
    if customer.blocked == blocked {
        return Ok(());
    }
    customer.blocked = blocked;
    let (old, new) = if blocked {
        ("member", "kicked")
    } else {
        ("kicked", "member")
    };
    let mut new_member = json!({ "user": bot_user, "status": new });
    if blocked {
        new_member["until_date"] = json!(0);
    }
    let payload = json!({
        "chat": chat_json(customer),
        "from": user_json(customer),
        "date": now.div_euclid(1000),
        "old_chat_member": { "user": bot_user, "status": old },
        "new_chat_member": new_member,
    });
    push_update(account, "my_chat_member", payload, now);
    Ok(())
}

/// The customer reads: Telegram reports nothing to the bot, only the sandbox state changes.
pub(crate) fn customer_reads(
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    up_to: Option<&str>,
) -> Result<usize, Error> {
    let customer = state.account_mut(account_id)?.customer_mut(customer_id)?;
    let limit = match up_to {
        Some(id) => customer
            .messages
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message"))?,
        None => customer.messages.len().saturating_sub(1),
    };
    let mut read = 0;
    for m in customer.messages.iter_mut().take(limit + 1) {
        if m.direction == MessageDirection::Outbound && m.status == MessageStatus::Sent {
            m.status = MessageStatus::Read;
            read += 1;
        }
    }
    Ok(read)
}

/// Pending updates of the account (for the control API).
pub(crate) fn pending(account: &Account) -> usize {
    account.telegram().map_or(0, |bot| bot.updates.len())
}

/// The webhook URL and secret, if set.
pub(crate) fn webhook_of(account: &Account) -> (Option<String>, Option<String>) {
    account
        .telegram()
        .and_then(|bot| bot.webhook.as_ref())
        .map_or((None, None), |w| (Some(w.url.clone()), w.secret.clone()))
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries (called by the delivery worker)
// ---------------------------------------------------------------------------------------------

/// The next update to POST to the webhook: `(update_id, url, secret, body)`.
pub(crate) fn next_delivery(account: &Account) -> Option<(i64, String, Option<String>, Bytes)> {
    let bot = account.telegram()?;
    let webhook = bot.webhook.as_ref()?;
    let update = bot.updates.front()?;
    Some((
        update.id,
        webhook.url.clone(),
        webhook.secret.clone(),
        crate::state::json_bytes(&update.body),
    ))
}

/// Records the outcome of a delivery: a success confirms the update.
pub(crate) fn delivery_done(
    account: &mut Account,
    update_id: i64,
    error: Option<String>,
    now_ms: i64,
    drop: bool,
) {
    let Some(bot) = account.telegram_mut() else {
        return;
    };
    if error.is_none() || drop {
        bot.updates.retain(|u| u.id != update_id);
    }
    if let Some(error) = error {
        bot.last_error_date = Some(now_ms.div_euclid(1000));
        bot.last_error_message = Some(error);
    }
}

// ---------------------------------------------------------------------------------------------
// The Bot API
// ---------------------------------------------------------------------------------------------

/// `/bot<token>/<method>`.
pub(crate) async fn method(
    shared: Arc<Shared>,
    token: String,
    method: String,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = shared
        .lock()
        .account_by_token(&token, Platform::Telegram)
        .map(str::to_string);
    let Some(account) = account else {
        return TgError::new(401, "Unauthorized").into_response();
    };
    let work = async {
        match handle(&shared, &account, &method, req).await {
            Ok(body) => json_response(StatusCode::OK, &body),
            Err(err) => err.into_response(),
        }
    };
    server::with_faults(&shared, &account, &method, conn, fault_response, work).await
}

async fn handle(
    shared: &Arc<Shared>,
    account: &str,
    method: &str,
    req: Request,
) -> Result<Value, TgError> {
    let lower = method.to_ascii_lowercase();
    if !METHODS.contains(&lower.as_str()) {
        return Err(TgError::new(404, "Not Found"));
    }
    let params = read_params(req, shared.config.max_request_bytes).await?;
    tracing::debug!(method = %lower, "sandbox telegram: request");
    match lower.as_str() {
        "getme" => get_me(shared, account),
        "sendmessage" => send_message(shared, account, &params),
        "sendphoto" => send_media(shared, account, &params, MediaMethod::Photo),
        "senddocument" => send_media(shared, account, &params, MediaMethod::Document),
        "sendvoice" => send_media(shared, account, &params, MediaMethod::Voice),
        "sendaudio" => send_media(shared, account, &params, MediaMethod::Audio),
        "sendvideo" => send_media(shared, account, &params, MediaMethod::Video),
        "sendchataction" => send_chat_action(shared, account, &params),
        "getfile" => get_file(shared, account, &params),
        "getupdates" => get_updates(shared, account, &params).await,
        "setwebhook" => set_webhook(shared, account, &params),
        "deletewebhook" => delete_webhook(shared, account, &params),
        "getwebhookinfo" => webhook_info(shared, account),
        _ => Err(TgError::new(404, "Not Found")),
    }
}

// --- parameters --------------------------------------------------------------------------------

enum Param {
    Text(String),
    Json(Value),
    File(FilePart),
}

#[derive(Clone)]
struct FilePart {
    bytes: Bytes,
    file_name: Option<String>,
    content_type: Option<String>,
}

#[derive(Default)]
struct Params(HashMap<String, Param>);

enum InputFile {
    Upload(FilePart),
    Url(String),
    FileId(String),
}

impl Params {
    fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Param::Text(s) => Some(s.clone()),
            Param::Json(v) => Some(v.to_string()),
            Param::File(_) => None,
        }
    }

    fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).filter(|s| !s.trim().is_empty())
    }

    fn json(&self, name: &str) -> Option<Value> {
        match self.0.get(name)? {
            Param::Json(v) => Some(v.clone()),
            Param::Text(s) => serde_json::from_str(s).ok(),
            Param::File(_) => None,
        }
    }

    fn int(&self, name: &str) -> Result<Option<i64>, TgError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| TgError::bad(&format!("invalid {name} specified"))),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.text(name)
            .is_some_and(|s| matches!(s.trim(), "true" | "True" | "1"))
    }

    fn input_file(&self, name: &str) -> Option<InputFile> {
        match self.0.get(name)? {
            Param::File(part) => Some(InputFile::Upload(part.clone())),
            Param::Json(_) => None,
            Param::Text(s) => {
                let s = s.trim();
                if let Some(part) = s.strip_prefix("attach://") {
                    match self.0.get(part) {
                        Some(Param::File(part)) => Some(InputFile::Upload(part.clone())),
                        _ => Some(InputFile::FileId(s.to_string())),
                    }
                } else if s.starts_with("http://") || s.starts_with("https://") {
                    Some(InputFile::Url(s.to_string()))
                } else if s.is_empty() {
                    None
                } else {
                    Some(InputFile::FileId(s.to_string()))
                }
            }
        }
    }
}

fn too_large() -> TgError {
    TgError::new(413, "Request Entity Too Large")
}

async fn read_params(req: Request, limit: usize) -> Result<Params, TgError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params.0.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|_| TgError::bad("can't parse multipart/form-data request"))?;
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(TgError::bad("can't parse multipart/form-data request")),
            };
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let data = match field.bytes().await {
                Ok(data) => data,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(TgError::bad("can't parse multipart/form-data request")),
            };
            let param = if file_name.is_some() {
                Param::File(FilePart {
                    bytes: data,
                    file_name,
                    content_type,
                })
            } else {
                match String::from_utf8(data.to_vec()) {
                    Ok(text) => Param::Text(text),
                    Err(_) => Param::File(FilePart {
                        bytes: data,
                        file_name: None,
                        content_type,
                    }),
                }
            };
            params.0.insert(name, param);
        }
        return Ok(params);
    }
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large())?;
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let value: Value =
            serde_json::from_slice(&body).map_err(|_| TgError::bad("can't parse JSON object"))?;
        let Value::Object(map) = value else {
            return Err(TgError::bad("can't parse JSON object"));
        };
        for (k, v) in map {
            let param = match v {
                Value::Null => continue,
                Value::String(s) => Param::Text(s),
                Value::Number(n) => Param::Text(n.to_string()),
                Value::Bool(b) => Param::Text(b.to_string()),
                other => Param::Json(other),
            };
            params.0.insert(k, param);
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(&body) {
            params.0.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    }
    Ok(params)
}

// --- methods -----------------------------------------------------------------------------------

fn get_me(shared: &Shared, account_id: &str) -> Result<Value, TgError> {
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| TgError::new(401, "Unauthorized"))?;
    let bot = account
        .telegram()
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    let mut me = bot_user_json(account, bot);
    me["can_join_groups"] = json!(true);
    me["can_read_all_group_messages"] = json!(false);
    me["supports_inline_queries"] = json!(false);
    me["can_connect_to_business"] = json!(false);
    me["has_main_web_app"] = json!(false);
    Ok(ok(me))
}

/// The reply a send asks for.
struct ReplyTarget {
    message_id: i64,
    allow_without: bool,
}

fn reply_target(params: &Params) -> Result<Option<ReplyTarget>, TgError> {
    if let Some(rp) = params.json("reply_parameters") {
        let message_id = rp
            .get("message_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| TgError::bad("can't parse reply parameters JSON object"))?;
        let allow_without = rp
            .get("allow_sending_without_reply")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return Ok(Some(ReplyTarget {
            message_id,
            allow_without,
        }));
    }
    Ok(params
        .int("reply_to_message_id")?
        .map(|message_id| ReplyTarget {
            message_id,
            allow_without: params.flag("allow_sending_without_reply"),
        }))
}

fn visible(text: &str, mode: Option<&str>) -> Result<String, TgError> {
    markup::visible_text(text, mode).map_err(|e| match e {
        markup::MarkupError::UnsupportedMode => TgError::bad("unsupported parse_mode"),
        markup::MarkupError::Parse(why) => TgError::bad(&format!("can't parse entities: {why}")),
    })
}

/// Checks everything that can refuse a send to a chat, and takes the rate-limit tokens.
/// Returns the customer id and the `Message` replied to.
fn admit(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    chat_id: &str,
    reply: Option<&ReplyTarget>,
) -> Result<(String, Option<Value>), TgError> {
    let now = shared.now_ms();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    let chat = chat_id.trim();
    let customer_id = if chat.starts_with('@') {
        None
    } else {
        chat.parse::<i64>().ok().map(|n| n.to_string())
    };
    let Some(customer_id) = customer_id.filter(|id| account.customers.contains_key(id)) else {
        return Err(TgError::bad("chat not found"));
    };
    let Account {
        customers, bucket, ..
    } = account;
    let customer = customers
        .get_mut(&customer_id)
        .ok_or_else(|| TgError::bad("chat not found"))?;
    if customer.blocked {
        return Err(TgError::new(403, "Forbidden: bot was blocked by the user"));
    }
    let reply_raw = match reply {
        Some(target) => {
            let found = customer
                .message(&target.message_id.to_string())
                .and_then(|m| m.raw.clone());
            match found {
                Some(raw) => Some(raw),
                None if target.allow_without => None,
                None => return Err(TgError::bad("message to be replied not found")),
            }
        }
        None => None,
    };
    let wait = [customer.bucket.as_mut(), bucket.as_mut()]
        .into_iter()
        .flatten()
        .filter_map(|b| b.check(now).err())
        .max();
    if let Some(wait) = wait {
        tracing::debug!(account = %account_id, "sandbox telegram: flood control");
        return Err(TgError::too_many(ceil_secs(wait)));
    }
    for b in [customer.bucket.as_mut(), bucket.as_mut()]
        .into_iter()
        .flatten()
    {
        b.take(now);
    }
    Ok((customer_id, reply_raw))
}

/// Stores an outbound message and returns the `Message` object.
fn store_outbound(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    customer_id: &str,
    content: Map<String, Value>,
    mut stored: StoredMessage,
    reply_raw: Option<Value>,
) -> Result<Value, TgError> {
    let now = shared.now_ms();
    let account = state
        .accounts
        .get_mut(account_id)
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    let from = account
        .telegram()
        .map(|bot| bot_user_json(account, bot))
        .unwrap_or(Value::Null);
    let customer = account
        .customers
        .get_mut(customer_id)
        .ok_or_else(|| TgError::bad("chat not found"))?;
    let message_id = customer.next_message_id;
    customer.next_message_id += 1;
    let mut msg = json!({
        "message_id": message_id,
        "from": from,
        "chat": chat_json(customer),
        "date": now.div_euclid(1000),
    });
    if let Some(reply) = reply_raw {
        msg["reply_to_message"] = reply;
    }
    for (k, v) in content {
        msg[k] = v;
    }
    stored.id = message_id.to_string();
    stored.at_ms = now;
    stored.raw = Some(msg.clone());
    tracing::debug!(
        account = %account_id,
        chat = %messenger_core::model::fingerprint(customer_id),
        kind = stored.kind.as_str(),
        "sandbox telegram: message sent"
    );
    customer.messages.push(stored);
    Ok(msg)
}

fn send_message(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    let raw = params.text("text").unwrap_or_default();
    let mode = params.non_empty("parse_mode");
    let text = visible(&raw, mode.as_deref())?;
    if text.trim().is_empty() {
        return Err(TgError::bad("message text is empty"));
    }
    if utf16_len(&text) > TEXT_LIMIT {
        return Err(TgError::bad("message is too long"));
    }
    let reply = reply_target(params)?;
    let mut state = shared.lock();
    let (customer_id, reply_raw) = admit(shared, &mut state, account_id, &chat_id, reply.as_ref())?;
    let mut content = Map::new();
    content.insert("text".into(), json!(text));
    if let Some(entities) = params.json("entities").filter(|_| mode.is_none()) {
        content.insert("entities".into(), entities);
    }
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        MessageKind::Text,
        0,
    );
    stored.text = Some(text);
    stored.parse_mode = mode;
    stored.reply_to = reply.as_ref().map(|r| r.message_id.to_string());
    let msg = store_outbound(
        shared,
        &mut state,
        account_id,
        &customer_id,
        content,
        stored,
        reply_raw,
    )?;
    Ok(ok(msg))
}

fn send_chat_action(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    params
        .non_empty("action")
        .ok_or_else(|| TgError::bad("action is empty"))?;
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| TgError::new(401, "Unauthorized"))?;
    let customer = chat_id
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| account.customers.get(&id.to_string()))
        .ok_or_else(|| TgError::bad("chat not found"))?;
    if customer.blocked {
        return Err(TgError::new(403, "Forbidden: bot was blocked by the user"));
    }
    Ok(ok(json!(true)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaMethod {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
}

impl MediaMethod {
    fn field(self) -> &'static str {
        match self {
            MediaMethod::Photo => "photo",
            MediaMethod::Document => "document",
            MediaMethod::Voice => "voice",
            MediaMethod::Audio => "audio",
            MediaMethod::Video => "video",
        }
    }

    fn natural_kind(self) -> FileKind {
        match self {
            MediaMethod::Photo => FileKind::Photo,
            MediaMethod::Document => FileKind::Document,
            MediaMethod::Voice => FileKind::Voice,
            MediaMethod::Audio => FileKind::Audio,
            MediaMethod::Video => FileKind::Video,
        }
    }

    /// What an uploaded file of this MIME type becomes: voice needs OGG/OPUS, MP3 or M4A,
    /// audio MP3 or M4A, video MP4 (telegram.md §3); other files are sent as documents.
    fn kind_for(self, mime: &str) -> FileKind {
        match self {
            MediaMethod::Voice if matches!(mime, "audio/ogg" | "audio/mpeg" | "audio/mp4") => {
                FileKind::Voice
            }
            MediaMethod::Audio if matches!(mime, "audio/mpeg" | "audio/mp4") => FileKind::Audio,
            MediaMethod::Video if mime == "video/mp4" => FileKind::Video,
            MediaMethod::Photo => FileKind::Photo,
            _ => FileKind::Document,
        }
    }
}

fn send_media(
    shared: &Shared,
    account_id: &str,
    params: &Params,
    method: MediaMethod,
) -> Result<Value, TgError> {
    let chat_id = params
        .non_empty("chat_id")
        .ok_or_else(|| TgError::bad("chat_id is empty"))?;
    let field = method.field();
    let input = params
        .input_file(field)
        .ok_or_else(|| TgError::bad(&format!("there is no {field} in the request")))?;
    let mode = params.non_empty("parse_mode");
    let caption = match params.text("caption") {
        Some(raw) if !raw.is_empty() => {
            let visible = visible(&raw, mode.as_deref())?;
            if utf16_len(&visible) > CAPTION_LIMIT {
                return Err(TgError::bad("message caption is too long"));
            }
            Some(visible)
        }
        _ => None,
    };
    // Validate an upload before anything is stored.
    let upload = match &input {
        InputFile::Upload(part) => {
            let mime = media::resolve_mime(
                part.content_type.as_deref(),
                part.file_name.as_deref(),
                &part.bytes,
            );
            let size = part.bytes.len() as u64;
            if size == 0 {
                return Err(TgError::bad("file must be non-empty"));
            }
            if size > FILE_UPLOAD_LIMIT {
                return Err(too_large());
            }
            let kind = method.kind_for(&mime);
            if kind == FileKind::Photo {
                if !mime.starts_with("image/")
                    || media::sniff(&part.bytes).is_none_or(|m| !m.starts_with("image/"))
                {
                    return Err(TgError::bad("IMAGE_PROCESS_FAILED"));
                }
                if size > PHOTO_UPLOAD_LIMIT {
                    return Err(TgError::bad("PHOTO_SAVE_FILE_INVALID"));
                }
                if let Some((w, h)) = media::image_dimensions(&part.bytes) {
                    let (big, small) = (w.max(h), w.min(h).max(1));
                    if w + h > 10_000 || big / small > 20 {
                        return Err(TgError::bad("PHOTO_INVALID_DIMENSIONS"));
                    }
                }
            }
            Some((
                kind,
                Blob::new(part.bytes.clone(), mime, part.file_name.clone()),
            ))
        }
        _ => None,
    };
    let reply = reply_target(params)?;
    let mut state = shared.lock();
    // A file_id must belong to this bot and keep its type (telegram.md §4 file_id rules).
    let reused = match &input {
        InputFile::FileId(file_id) => {
            let file = state
                .telegram
                .files
                .get(file_id)
                .filter(|f| f.owner == account_id)
                .ok_or_else(|| TgError::bad("wrong file identifier/HTTP URL specified"))?;
            // Resending by file_id cannot change the media type (telegram.md §4).
            let compatible = file.kind == method.natural_kind();
            if !compatible {
                return Err(TgError::bad("type of file mismatch"));
            }
            Some((file_id.clone(), file.kind))
        }
        _ => None,
    };
    let (customer_id, reply_raw) = admit(shared, &mut state, account_id, &chat_id, reply.as_ref())?;

    let mut extra = Map::new();
    for key in ["duration", "performer", "title", "width", "height"] {
        if let Some(v) = params.non_empty(key) {
            let value = v
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(v));
            extra.insert(key.to_string(), value);
        }
    }
    let mut stored_media = StoredMedia::default();
    let (kind, object) = match input {
        InputFile::Upload(_) => {
            let (kind, blob) =
                upload.ok_or_else(|| TgError::bad("there is no file in the request"))?;
            stored_media.file_name = blob.file_name.clone();
            let (file_id, object) = store_file(&mut state, account_id, kind, blob, &extra);
            stored_media.blob = state.telegram.files.get(&file_id).and_then(|f| f.blob);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
        InputFile::Url(url) => {
            let kind = method.natural_kind();
            stored_media.url = Some(url);
            let (file_id, object) = store_url_file(&mut state, account_id, kind, &extra);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
        InputFile::FileId(_) => {
            let (file_id, kind) =
                reused.ok_or_else(|| TgError::bad("wrong file identifier/HTTP URL specified"))?;
            let object = file_object(&state, &file_id, &extra).unwrap_or(Value::Null);
            stored_media.blob = state.telegram.files.get(&file_id).and_then(|f| f.blob);
            stored_media.reference = Some(file_id);
            (kind, object)
        }
    };
    let mut content = Map::new();
    content.insert(kind.field().to_string(), object);
    if let Some(caption) = &caption {
        content.insert("caption".into(), json!(caption));
    }
    let mut stored = StoredMessage::new(
        String::new(),
        MessageDirection::Outbound,
        kind.message_kind(),
        0,
    );
    stored.caption = caption;
    stored.parse_mode = mode;
    stored.media = Some(stored_media);
    stored.reply_to = reply.as_ref().map(|r| r.message_id.to_string());
    let msg = store_outbound(
        shared,
        &mut state,
        account_id,
        &customer_id,
        content,
        stored,
        reply_raw,
    )?;
    Ok(ok(msg))
}

/// Stores bytes as a new file of the bot; returns the `file_id` and the object for a
/// `Message` (`[PhotoSize]` for photos).
fn store_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    blob: Blob,
    extra: &Map<String, Value>,
) -> (String, Value) {
    let (width, height) = media::image_dimensions(&blob.bytes).unwrap_or(match kind {
        FileKind::Sticker => (512, 512),
        FileKind::Video => (640, 360),
        _ => (800, 600),
    });
    let ext = blob
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| media::extension(&blob.mime).to_string());
    let blob_id = state.add_blob(blob);
    let file_id = new_file(state, account_id, kind, Some(blob_id), &ext, width, height);
    let object = file_object(state, &file_id, extra).unwrap_or(Value::Null);
    (file_id, object)
}

/// A file sent by URL: the sandbox has no network, so it records the URL and has no bytes.
fn store_url_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    extra: &Map<String, Value>,
) -> (String, Value) {
    let file_id = new_file(state, account_id, kind, None, "bin", 800, 600);
    let object = file_object(state, &file_id, extra).unwrap_or(Value::Null);
    (file_id, object)
}

fn new_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    blob: Option<u64>,
    ext: &str,
    width: u32,
    height: u32,
) -> String {
    state.telegram.next_file += 1;
    let n = state.telegram.next_file;
    let file_id = format!("{}{}{}", kind.id_prefix(), n, random_alnum(40));
    let path = format!("{}/file_{}.{}", kind.dir(), n, ext);
    state.telegram.paths.insert(path.clone(), file_id.clone());
    state.telegram.files.insert(
        file_id.clone(),
        TgFile {
            owner: account_id.to_string(),
            kind,
            blob,
            unique_id: format!("AQAD{}", random_alnum(12)),
            path,
            width,
            height,
        },
    );
    file_id
}

/// The `PhotoSize[]` / `Document` / `Voice` / ... object of a stored file.
fn file_object(state: &State, file_id: &str, extra: &Map<String, Value>) -> Option<Value> {
    let file = state.telegram.files.get(file_id)?;
    let blob = file.blob.and_then(|b| state.blobs.get(&b));
    let mut object = json!({ "file_id": file_id, "file_unique_id": file.unique_id });
    if let Some(blob) = blob {
        object["file_size"] = json!(blob.size());
    }
    let duration = extra.get("duration").cloned().unwrap_or(json!(1));
    match file.kind {
        FileKind::Photo => {
            object["width"] = json!(file.width);
            object["height"] = json!(file.height);
            return Some(json!([object]));
        }
        FileKind::Document => {}
        FileKind::Voice => object["duration"] = duration,
        FileKind::Audio => {
            object["duration"] = duration;
            for key in ["performer", "title"] {
                if let Some(v) = extra.get(key) {
                    object[key] = v.clone();
                }
            }
        }
        FileKind::Video => {
            object["duration"] = duration;
            object["width"] = extra.get("width").cloned().unwrap_or(json!(file.width));
            object["height"] = extra.get("height").cloned().unwrap_or(json!(file.height));
        }
        FileKind::Sticker => {
            object["type"] = json!("regular");
            object["width"] = json!(file.width);
            object["height"] = json!(file.height);
            object["is_animated"] = json!(false);
            object["is_video"] = json!(false);
        }
    }
    if let Some(blob) = blob {
        if matches!(
            file.kind,
            FileKind::Document | FileKind::Audio | FileKind::Video
        ) && let Some(name) = &blob.file_name
        {
            object["file_name"] = json!(name);
        }
        if file.kind != FileKind::Sticker {
            object["mime_type"] = json!(blob.mime);
        }
    }
    Some(object)
}

fn get_file(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, TgError> {
    let file_id = params
        .non_empty("file_id")
        .ok_or_else(|| TgError::bad("file_id is empty"))?;
    let state = shared.lock();
    let file = state
        .telegram
        .files
        .get(file_id.trim())
        .filter(|f| f.owner == account_id)
        .ok_or_else(|| TgError::bad("invalid file_id"))?;
    let blob = file
        .blob
        .and_then(|b| state.blobs.get(&b))
        .ok_or_else(|| TgError::bad("wrong file_id or the file is temporarily unavailable"))?;
    if blob.size() > DOWNLOAD_LIMIT {
        return Err(TgError::bad("file is too big"));
    }
    Ok(ok(json!({
        "file_id": file_id.trim(),
        "file_unique_id": file.unique_id,
        "file_size": blob.size(),
        "file_path": file.path,
    })))
}

/// `GET /file/bot<token>/<file_path>`.
pub(crate) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let Some(token) = bot.strip_prefix("bot") else {
        return not_found();
    };
    let account = shared
        .lock()
        .account_by_token(token, Platform::Telegram)
        .map(str::to_string);
    let Some(account) = account else {
        return TgError::new(401, "Unauthorized").into_response();
    };
    let work = async {
        let state = shared.lock();
        let blob = state
            .telegram
            .paths
            .get(&path)
            .and_then(|id| state.telegram.files.get(id))
            .filter(|f| f.owner == account)
            .and_then(|f| f.blob)
            .and_then(|b| state.blobs.get(&b));
        match blob {
            Some(blob) if blob.size() <= DOWNLOAD_LIMIT => {
                let mut response = Response::new(Body::from(blob.bytes.clone()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                response
            }
            _ => not_found(),
        }
    };
    server::with_faults(&shared, &account, "file", conn, fault_response, work).await
}

// --- updates -----------------------------------------------------------------------------------

async fn get_updates(
    shared: &Arc<Shared>,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let offset = params.int("offset")?.unwrap_or(0);
    let limit = params.int("limit")?.unwrap_or(100).clamp(1, 100);
    let timeout = params.int("timeout")?.unwrap_or(0).max(0);
    let timeout =
        Duration::from_secs(u64::try_from(timeout).unwrap_or(0)).min(shared.config.max_long_poll);
    let allowed = params.json("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    });
    let (generation, mut wake) = {
        let mut state = shared.lock();
        let now = shared.now_ms();
        let account = state
            .account_mut(account_id)
            .map_err(|_| TgError::new(401, "Unauthorized"))?;
        let wake = account.wake.subscribe();
        let bot = account
            .telegram_mut()
            .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
        if bot.webhook.is_some() {
            return Err(TgError::new(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        if let Some(allowed) = allowed {
            bot.allowed_updates = Some(allowed);
        }
        // Confirm: everything below a positive offset is forgotten; a negative offset keeps
        // only the last -offset updates.
        if offset > 0 {
            bot.updates.retain(|u| u.id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while bot.updates.len() > keep {
                bot.updates.pop_front();
            }
        }
        bot.updates
            .retain(|u| now - u.created_ms < UPDATE_RETENTION_MS);
        bot.poll_generation += 1;
        let generation = bot.poll_generation;
        account.wake();
        (generation, wake)
    };
    wake.mark_unchanged();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        {
            let state = shared.lock();
            let bot = state
                .account(account_id)
                .ok()
                .and_then(Account::telegram)
                .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
            if bot.poll_generation != generation {
                return Err(TgError::new(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            if bot.webhook.is_some() {
                return Err(TgError::new(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                ));
            }
            let batch: Vec<Value> = bot
                .updates
                .iter()
                .filter(|u| offset <= 0 || u.id >= offset)
                .take(usize::try_from(limit).unwrap_or(100))
                .map(|u| u.body.clone())
                .collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(ok(Value::Array(batch)));
            }
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(ok(json!([])));
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

// --- webhooks ----------------------------------------------------------------------------------

/// HTTPS on ports 443, 80, 88 or 8443 (telegram.md §3 setWebhook); the sandbox also accepts
/// plain HTTP on any port for loopback addresses, where it delivers.
fn validate_webhook_url(url: &str) -> Result<(), TgError> {
    let parsed = url::Url::parse(url).map_err(|_| TgError::bad("bad webhook: invalid URL"))?;
    let loopback = crate::webhook::is_loopback(&parsed);
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(TgError::bad(
                "bad webhook: An HTTPS URL must be provided for webhook",
            ));
        }
    }
    if !loopback && !matches!(parsed.port_or_known_default(), Some(443 | 80 | 88 | 8443)) {
        return Err(TgError::bad(
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    Ok(())
}

/// 1-256 characters of `A-Z a-z 0-9 _ -` (telegram.md §3 setWebhook).
fn validate_secret(secret: &str) -> Result<(), TgError> {
    if secret.is_empty()
        || secret.len() > 256
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(TgError::bad("secret token contains unallowed characters"));
    }
    Ok(())
}

fn set_webhook(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, TgError> {
    let url = params.text("url").unwrap_or_default();
    let url = url.trim();
    let secret = params.non_empty("secret_token");
    if let Some(secret) = &secret {
        validate_secret(secret)?;
    }
    let max_connections = params.int("max_connections")?.unwrap_or(40);
    if !(1..=100).contains(&max_connections) {
        return Err(TgError::bad(
            "bad webhook: max_connections must be between 1 and 100",
        ));
    }
    if !url.is_empty() {
        validate_webhook_url(url)?;
    }
    let allowed = params.json("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    });
    let drop_pending = params.flag("drop_pending_updates");
    let ip_address = params.non_empty("ip_address");
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| TgError::new(401, "Unauthorized"))?;
    let bot = account
        .telegram_mut()
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    if drop_pending {
        bot.updates.clear();
    }
    if let Some(allowed) = allowed {
        bot.allowed_updates = Some(allowed);
    }
    let description = if url.is_empty() {
        let had = bot.webhook.take().is_some();
        if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }
    } else {
        let same = bot
            .webhook
            .as_ref()
            .is_some_and(|w| w.url == url && w.secret == secret);
        bot.webhook = Some(Webhook {
            url: url.to_string(),
            secret,
            max_connections: u32::try_from(max_connections).unwrap_or(40),
            ip_address,
        });
        bot.last_error_date = None;
        bot.last_error_message = None;
        if same {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }
    };
    account.wake();
    tracing::debug!(account = %account_id, set = !url.is_empty(), "sandbox telegram: setWebhook");
    Ok(ok_described(json!(true), description))
}

fn delete_webhook(shared: &Shared, account_id: &str, params: &Params) -> Result<Value, TgError> {
    let drop_pending = params.flag("drop_pending_updates");
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| TgError::new(401, "Unauthorized"))?;
    let bot = account
        .telegram_mut()
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    if drop_pending {
        bot.updates.clear();
    }
    let had = bot.webhook.take().is_some();
    account.wake();
    Ok(ok_described(
        json!(true),
        if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        },
    ))
}

fn webhook_info(shared: &Shared, account_id: &str) -> Result<Value, TgError> {
    let state = shared.lock();
    let bot = state
        .account(account_id)
        .ok()
        .and_then(Account::telegram)
        .ok_or_else(|| TgError::new(401, "Unauthorized"))?;
    let mut info = json!({
        "url": bot.webhook.as_ref().map_or("", |w| w.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": bot.updates.len(),
    });
    if let Some(webhook) = &bot.webhook {
        info["max_connections"] = json!(webhook.max_connections);
        if let Some(ip) = &webhook.ip_address {
            info["ip_address"] = json!(ip);
        }
        if let Some(date) = bot.last_error_date {
            info["last_error_date"] = json!(date);
        }
        if let Some(message) = &bot.last_error_message {
            info["last_error_message"] = json!(message);
        }
    }
    if let Some(allowed) = &bot.allowed_updates {
        info["allowed_updates"] = json!(allowed);
    }
    Ok(ok(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_follow_the_sheet() {
        assert!(validate_webhook_url("https://example.com/hook").is_ok());
        assert!(validate_webhook_url("https://example.com:8443/hook").is_ok());
        assert!(validate_webhook_url("https://example.com:9000/hook").is_err());
        assert!(validate_webhook_url("http://example.com/hook").is_err());
        assert!(validate_webhook_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(validate_secret("abc_DEF-123").is_ok());
        assert!(validate_secret("no spaces").is_err());
    }

    #[test]
    fn media_methods_fall_back_to_documents() {
        assert_eq!(MediaMethod::Voice.kind_for("audio/ogg"), FileKind::Voice);
        assert_eq!(MediaMethod::Voice.kind_for("audio/wav"), FileKind::Document);
        assert_eq!(MediaMethod::Audio.kind_for("audio/mpeg"), FileKind::Audio);
        assert_eq!(
            MediaMethod::Video.kind_for("video/webm"),
            FileKind::Document
        );
    }

    #[test]
    fn utf16_counts_surrogate_pairs() {
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("я"), 1);
    }
}
