//! Conversations, history, sending (through the outbox, with the client's idempotency key), the
//! planner's dry run, last-seen marks, assignment, media, search, outbox decisions.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use messenger_core::plan::{ReplyWindow, plan};
use messenger_core::window::ReplyWindowStore;
use messenger_core::{
    Capabilities, ChatId, ContentKind, MediaSource, OutgoingContent, OutgoingMessage,
};
use messenger_inbox::{
    AccountKey, AccountState, Action, ConversationFilter, ConversationId, CustomerState, Draft,
    DraftMedia, EmployeeId, MessageKey, OutboxId, OutboxState, Target,
};
use serde::Deserialize;
use serde_json::json;

use super::{ApiJson, ApiQuery, OptJson, flag, id, num};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    account: Option<String>,
    assigned_to: Option<String>,
    unread_only: Option<String>,
    limit: Option<String>,
}

/// `GET /api/conversations`: the conversations the employee can read, newest first, with
/// unread counts.
pub(crate) async fn list(
    State(state): State<ServerState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let filter = ConversationFilter {
        account: num::<i64>(&q.account, "account")?.map(AccountKey),
        assigned_to: num::<i64>(&q.assigned_to, "assigned_to")?.map(EmployeeId),
        unread_only: flag(&q.unread_only, "unread_only")?,
        limit: num(&q.limit, "limit")?.unwrap_or(100),
    };
    let inbox = state.inbox();
    let list = inbox.conversations(auth.employee, filter).await?;
    let unread_total = inbox.unread_total(auth.employee).await?;
    Ok(Json(
        json!({"conversations": list, "unread_total": unread_total}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Start {
    account: AccountKey,
    chat_id: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /api/conversations`: opens a conversation with a customer who has not written.
pub(crate) async fn start(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<Start>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let id = state
        .inbox()
        .start_conversation(
            auth.employee,
            body.account,
            &body.chat_id,
            body.display_name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

/// `GET /api/conversations/{conversation}`.
pub(crate) async fn get_one(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let c: ConversationId = id(&raw, "conversation")?;
    let inbox = state.inbox();
    let summary = inbox.conversation(auth.employee, c).await?;
    let customer = inbox.customer(auth.employee, summary.customer).await?;
    let permissions = inbox.permissions(auth.employee, summary.account).await?;
    Ok(Json(json!({
        "conversation": summary,
        "customer": customer,
        "permissions": permissions,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /api/conversations/{conversation}/messages?before=&limit=`: a page of history, oldest
/// first; `next_before` pages back.
pub(crate) async fn history(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let c: ConversationId = id(&raw, "conversation")?;
    let limit: u32 = num(&q.limit, "limit")?.unwrap_or(50).clamp(1, 500);
    let before = num::<i64>(&q.before, "before")?.map(MessageKey);
    let page = state
        .inbox()
        .history(auth.employee, c, before, limit)
        .await?;
    let next_before = if page.len() as u32 == limit {
        page.first().map(|m| m.id)
    } else {
        None
    };
    Ok(Json(json!({"messages": page, "next_before": next_before})))
}

/// The media of a draft, as the client sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaBody {
    /// The bytes, base64 (standard alphabet).
    #[serde(default)]
    data: Option<String>,
    /// Plan only: the size of media not sent yet.
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    /// A public URL the platform fetches.
    #[serde(default)]
    url: Option<url::Url>,
    /// Media the platform already has.
    #[serde(default)]
    id: Option<String>,
}

/// A draft: `{"kind":"text","text":"..."}` or `{"kind":"image","media":{...},"caption":"..."}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftBody {
    kind: ContentKind,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<MediaBody>,
    #[serde(default)]
    caption: Option<String>,
}

fn decode_media(media: &MediaBody, max: usize) -> ApiResult<DraftMedia> {
    match (&media.data, &media.url, &media.id) {
        (Some(data), None, None) => {
            if data.len() > max / 3 * 4 + 8 {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("media over {max} bytes is not taken"),
                ));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| ApiError::invalid("media.data is not base64"))?;
            Ok(DraftMedia::Bytes {
                data: bytes,
                mime_type: media
                    .mime_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                file_name: media.file_name.clone().unwrap_or_else(|| "file".to_owned()),
            })
        }
        (None, Some(url), None) => Ok(DraftMedia::Url(url.clone())),
        (None, None, Some(id)) => Ok(DraftMedia::Id(id.as_str().into())),
        _ => Err(ApiError::invalid(
            "media is one of: data (base64, with mime_type and file_name), url, id",
        )),
    }
}

impl DraftBody {
    fn to_draft(&self, max: usize) -> ApiResult<Draft> {
        if self.kind == ContentKind::Text {
            if self.media.is_some() || self.caption.is_some() {
                return Err(ApiError::invalid("a text draft has text only"));
            }
            return Ok(Draft::text(self.text.clone().unwrap_or_default()));
        }
        if self.text.is_some() {
            return Err(ApiError::invalid("a media draft has a caption, not text"));
        }
        let media = self
            .media
            .as_ref()
            .ok_or_else(|| ApiError::invalid("a media draft needs media"))?;
        Ok(Draft::media(
            self.kind,
            decode_media(media, max)?,
            self.caption.clone(),
        )?)
    }

    /// What the planner is shown: the content, with media described by its size where the
    /// bytes are not sent yet.
    fn to_outgoing(&self, max: usize) -> ApiResult<OutgoingContent> {
        if self.kind == ContentKind::Text {
            return Ok(OutgoingContent::text(self.text.clone().unwrap_or_default()));
        }
        let media = self
            .media
            .as_ref()
            .ok_or_else(|| ApiError::invalid("a media draft needs media"))?;
        let source = match (media.size, &media.data) {
            (Some(size), None) if media.url.is_none() && media.id.is_none() => {
                let open: messenger_core::model::StreamOpener =
                    Arc::new(|| Box::pin(futures::stream::empty()));
                MediaSource::Stream {
                    open,
                    length: size,
                    mime_type: media
                        .mime_type
                        .clone()
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    file_name: media.file_name.clone().unwrap_or_else(|| "file".to_owned()),
                }
            }
            _ => match decode_media(media, max)? {
                DraftMedia::Bytes {
                    data,
                    mime_type,
                    file_name,
                } => MediaSource::bytes(data, mime_type, file_name),
                DraftMedia::Url(u) => MediaSource::url(u),
                DraftMedia::Id(i) => MediaSource::id(i),
            },
        };
        OutgoingContent::media(self.kind, source, self.caption.clone())
            .ok_or_else(|| ApiError::invalid(format!("{} cannot be sent", self.kind.as_str())))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendBody {
    #[serde(default)]
    idempotency_key: Option<String>,
    draft: DraftBody,
}

/// `POST /api/conversations/{conversation}/messages`: enqueues a send in the outbox. The
/// client's idempotency key (`Idempotency-Key` header or `idempotency_key`) is required: a
/// repeated key answers the first outbox row (200, `Idempotent-Replayed: true`), never a
/// second send; a new one answers 201.
pub(crate) async fn send(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Response> {
    let c: ConversationId = id(&raw, "conversation")?;
    let header_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::invalid("the Idempotency-Key header is not ASCII"))
        })
        .transpose()?;
    let key = match (header_key, body.idempotency_key) {
        (Some(h), Some(b)) if h != b => {
            return Err(ApiError::invalid(
                "the Idempotency-Key header and idempotency_key differ",
            ));
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => {
            return Err(ApiError::invalid(
                "a send needs an idempotency key (Idempotency-Key header or idempotency_key), \
                 so that a retried request never sends twice",
            ));
        }
    };
    let draft = body.draft.to_draft(state.options().media_bytes)?;
    let (entry, replayed) = state
        .inbox()
        .send_idempotent(auth.employee, c, draft, &key)
        .await?;
    let metrics = state.metrics();
    if replayed {
        metrics.count("send_replays_total", &[]);
    } else {
        let platform = state
            .inbox()
            .account_unchecked(entry.account)
            .await
            .map(|a| a.platform.as_str())
            .unwrap_or("unknown");
        metrics.count("sends_enqueued_total", &[("platform", platform)]);
    }
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, Json(entry)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanBody {
    draft: DraftBody,
}

/// `POST /api/conversations/{conversation}/plan`: the planner's dry run of a draft on the
/// conversation's platform: the parts and every downgrade, or why it cannot be sent now
/// (opted out, blocked, module inactive, reply window closed, kind or size refused). Nothing
/// is stored or sent. `reply_window` is `open`, `closed` (refused), `unknown` (the inbox has
/// not watched the account for a whole window and the customer has not written since: the
/// send goes and the platform decides, its refusal coming back as a `failed` status) or
/// `not_applicable`.
pub(crate) async fn plan_draft(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<PlanBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let c: ConversationId = id(&raw, "conversation")?;
    let inbox = state.inbox();
    inbox
        .authorize(auth.employee, Action::Send, Target::Conversation(c))
        .await?;
    let summary = inbox.conversation(auth.employee, c).await?;
    let customer = inbox.customer(auth.employee, summary.customer).await?;
    let account = inbox.account_unchecked(summary.account).await?;
    let content = body.draft.to_outgoing(state.options().media_bytes)?;
    let caps = Capabilities::of(account.platform);
    let refusal = |kind: &str, message: &str| {
        Json(json!({
            "platform": account.platform,
            "sendable": false,
            "error": {"kind": kind, "message": message},
            "parts": [],
            "downgrades": [],
        }))
    };
    if summary.opted_out {
        return Ok(refusal(
            "opted_out",
            "the customer opted out of this account's messages",
        ));
    }
    match summary.customer_state {
        CustomerState::Blocked => {
            return Ok(refusal("blocked", "the customer's data is blocked"));
        }
        CustomerState::Anonymised => {
            return Ok(refusal("anonymised", "the customer was anonymised"));
        }
        _ => {}
    }
    match account.state {
        AccountState::Active => {}
        AccountState::Suspended => {
            return Ok(refusal(
                "account_suspended",
                "the service suspended this account",
            ));
        }
        _ => {
            return Ok(refusal(
                "module_inactive",
                "the messenger module is not active for this account",
            ));
        }
    }
    let chat = ChatId::new(customer.chat_id.clone().unwrap_or_default());
    // The inbox's persistent store: `closed` once it has watched the account for a whole
    // window and the customer has not written in it, `unknown` before that (the platform then
    // decides, and a refusal comes back as the message's `failed` status).
    let window = match caps.reply_window {
        None => ReplyWindow::NotApplicable,
        Some(length) => {
            inbox
                .reply_window_store(account.id)
                .window_state(account.platform, &chat, length)
                .await?
        }
    };
    let message = OutgoingMessage::new(chat, content);
    match plan(&message, &caps, window) {
        Ok(p) => {
            let parts: Vec<serde_json::Value> = p
                .parts
                .iter()
                .map(|part| match &part.content {
                    OutgoingContent::Text { text } => json!({
                        "kind": "text",
                        "text": text,
                        "length": caps.text.unit.len(text),
                    }),
                    other => {
                        let media = other.media_source();
                        json!({
                            "kind": other.kind(),
                            "size": media.and_then(|m| m.len()),
                            "mime_type": media.and_then(|m| m.mime_type()),
                            "caption_length": other.caption().map(|c| caps.text.unit.len(c)),
                        })
                    }
                })
                .collect();
            Ok(Json(json!({
                "platform": account.platform,
                "sendable": true,
                "reply_window": match window {
                    ReplyWindow::Open => "open",
                    ReplyWindow::Closed => "closed",
                    ReplyWindow::Unknown => "unknown",
                    ReplyWindow::NotApplicable => "not_applicable",
                },
                "parts": parts,
                "downgrades": p.downgrades,
            })))
        }
        Err(e) => Ok(refusal(e.kind().as_str(), e.message())),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadBody {
    #[serde(default)]
    up_to: Option<MessageKey>,
}

/// `POST /api/conversations/{conversation}/read`: moves the employee's last-seen mark.
pub(crate) async fn mark_read(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    OptJson(body): OptJson<ReadBody>,
) -> ApiResult<StatusCode> {
    let c: ConversationId = id(&raw, "conversation")?;
    state
        .inbox()
        .mark_read(auth.employee, c, body.up_to)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    assignee: Option<EmployeeId>,
}

/// `POST /api/conversations/{conversation}/assign`.
pub(crate) async fn assign(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> ApiResult<StatusCode> {
    let c: ConversationId = id(&raw, "conversation")?;
    state
        .inbox()
        .assign(auth.employee, c, body.assignee)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The content types a media download keeps (anything else is sent as bytes to save: a file
/// from a customer must never render as a page of this origin).
fn safe_type(mime: Option<&str>) -> &str {
    match mime {
        Some(m)
            if (m.starts_with("image/") && m != "image/svg+xml")
                || m.starts_with("audio/")
                || m.starts_with("video/") =>
        {
            m
        }
        _ => "application/octet-stream",
    }
}

/// `GET /api/messages/{message}/media`: the media of a message, streamed (read right).
pub(crate) async fn media(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let m: MessageKey = id(&raw, "message")?;
    let (info, stream) = state.inbox().download_media(auth.employee, m).await?;
    let content_type = safe_type(info.mime_type.as_deref()).to_owned();
    let body = Body::from_stream(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(size) = info.size
        && let Ok(v) = HeaderValue::from_str(&size.to_string())
    {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
}

/// `GET /api/search?q=`: messages containing `q` on accounts the employee can read.
pub(crate) async fn search(
    State(state): State<ServerState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let needle = q.q.unwrap_or_default();
    let limit = num(&q.limit, "limit")?.unwrap_or(50);
    let hits = state.inbox().search(auth.employee, &needle, limit).await?;
    Ok(Json(json!({"hits": hits})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    state: Option<String>,
    limit: Option<String>,
}

/// `GET /api/outbox?state=maybe_sent`: outbox rows in a state on readable accounts.
pub(crate) async fn outbox_list(
    State(state): State<ServerState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let wanted: OutboxState = serde_json::from_value(serde_json::Value::from(
        q.state.unwrap_or_else(|| "maybe_sent".to_owned()),
    ))
    .map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "state is queued, sending, sent, failed, maybe_sent or cancelled",
        )
    })?;
    let limit = num(&q.limit, "limit")?.unwrap_or(100);
    let rows = state
        .inbox()
        .outbox_entries(auth.employee, wanted, limit)
        .await?;
    Ok(Json(json!({"entries": rows})))
}

/// `GET /api/outbox/{outbox}`.
pub(crate) async fn outbox_get(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<messenger_inbox::OutboxEntry>> {
    let o: OutboxId = id(&raw, "outbox")?;
    Ok(Json(state.inbox().outbox_entry(auth.employee, o).await?))
}

/// `POST /api/outbox/{outbox}/resend`: sends a maybe-sent row again (the employee decided).
pub(crate) async fn outbox_resend(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let o: OutboxId = id(&raw, "outbox")?;
    state.inbox().resend(auth.employee, o).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/outbox/{outbox}/dismiss`: withdraws a queued row or dismisses a maybe-sent one.
pub(crate) async fn outbox_dismiss(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let o: OutboxId = id(&raw, "outbox")?;
    state.inbox().dismiss(auth.employee, o).await?;
    Ok(StatusCode::NO_CONTENT)
}
