//! The service operator's routes (the operator token, not an employee): suspending a platform
//! or an account, publishing an agreement edition, forwarding a data subject's request.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use messenger_core::Platform;
use messenger_core::consent::AgreementEdition;
use messenger_inbox::{AccountKey, CustomerId, NewSubjectRequest, SubjectRequestKind, WorkspaceId};
use serde::Deserialize;

use super::{ApiJson, id};
use crate::auth::Operator;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;

fn platform(raw: &str) -> ApiResult<Platform> {
    raw.parse()
        .map_err(|_| ApiError::not_found("no such platform"))
}

/// `POST /api/operator/platforms/{platform}/suspend`: nothing is sent or taken in on it.
pub(crate) async fn suspend_platform(
    State(state): State<ServerState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    state.inbox().suspend_platform(platform(&raw)?).await?;
    tracing::warn!(platform = %raw, "platform suspended by the operator");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/operator/platforms/{platform}/resume`.
pub(crate) async fn resume_platform(
    State(state): State<ServerState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    state.inbox().resume_platform(platform(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/operator/accounts/{account}/suspend`.
pub(crate) async fn suspend_account(
    State(state): State<ServerState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let a: AccountKey = id(&raw, "account")?;
    state.inbox().suspend_account(a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/operator/accounts/{account}/resume`.
pub(crate) async fn resume_account(
    State(state): State<ServerState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let a: AccountKey = id(&raw, "account")?;
    state.inbox().resume_account(a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditionBody {
    edition: String,
    published: DateTime<Utc>,
    url: url::Url,
    text: String,
}

/// `POST /api/operator/editions`: publishes an agreement edition (its text is hashed in).
pub(crate) async fn publish_edition(
    State(state): State<ServerState>,
    _op: Operator,
    ApiJson(body): ApiJson<EditionBody>,
) -> ApiResult<(StatusCode, Json<AgreementEdition>)> {
    let edition = AgreementEdition::new(body.edition, body.published, body.url, &body.text);
    state.inbox().publish_edition(edition.clone()).await?;
    Ok((StatusCode::CREATED, Json(edition)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubjectRequestBody {
    #[serde(default)]
    account: Option<AccountKey>,
    #[serde(default)]
    customer: Option<CustomerId>,
    kind: SubjectRequestKind,
    channel: String,
    details: String,
}

/// `POST /api/operator/workspaces/{workspace}/subject-requests`: a data subject's request that
/// reached the service, forwarded to the workspace's owner.
pub(crate) async fn subject_request(
    State(state): State<ServerState>,
    _op: Operator,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<SubjectRequestBody>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let w: WorkspaceId = id(&raw, "workspace")?;
    let request = state
        .inbox()
        .receive_subject_request(
            w,
            NewSubjectRequest {
                account: body.account,
                customer: body.customer,
                kind: body.kind,
                channel: body.channel,
                details: body.details,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": request.id, "forwarded_to": request.forwarded_to})),
    ))
}
