//! Personal data (the agreement's 5.3–5.7): customers' export, block, anonymise, history
//! deletion, destruction with an act, the workspace purge, subject requests, and the logs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use messenger_inbox::{CustomerId, SubjectRequestId};
use serde::Deserialize;
use serde_json::json;

use super::{ApiJson, ApiQuery, id, num};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::ServerState;

/// `GET /api/customers/{customer}` (read right).
pub(crate) async fn customer(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<messenger_inbox::Customer>> {
    let c: CustomerId = id(&raw, "customer")?;
    Ok(Json(state.inbox().customer(auth.employee, c).await?))
}

/// `GET /api/customers/{customer}/export`: everything held about the customer, as JSON.
pub(crate) async fn export(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let c: CustomerId = id(&raw, "customer")?;
    Ok(Json(state.inbox().export_customer(auth.employee, c).await?))
}

/// `POST /api/customers/{customer}/block`.
pub(crate) async fn block(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let c: CustomerId = id(&raw, "customer")?;
    state.inbox().block_customer(auth.employee, c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/customers/{customer}/unblock`.
pub(crate) async fn unblock(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let c: CustomerId = id(&raw, "customer")?;
    state.inbox().unblock_customer(auth.employee, c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/customers/{customer}/anonymise`.
pub(crate) async fn anonymise(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let c: CustomerId = id(&raw, "customer")?;
    state.inbox().anonymise_customer(auth.employee, c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/customers/{customer}/delete-history`: returns how many messages went.
pub(crate) async fn delete_history(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let c: CustomerId = id(&raw, "customer")?;
    let n = state.inbox().delete_history(auth.employee, c).await?;
    Ok(Json(json!({"deleted": n})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ground {
    ground: String,
}

/// `POST /api/customers/{customer}/destroy`: destroys everything about the customer (owners);
/// returns the act.
pub(crate) async fn destroy(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Ground>,
) -> ApiResult<Json<messenger_inbox::DestructionAct>> {
    let c: CustomerId = id(&raw, "customer")?;
    Ok(Json(
        state
            .inbox()
            .destroy_customer(auth.employee, c, &body.ground)
            .await?,
    ))
}

/// `POST /api/workspace/purge`: purges the whole workspace (owners); returns the act.
pub(crate) async fn purge_workspace(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<Ground>,
) -> ApiResult<Json<messenger_inbox::DestructionAct>> {
    Ok(Json(
        state
            .inbox()
            .purge_workspace(auth.employee, &body.ground)
            .await?,
    ))
}

/// `GET /api/destruction-acts` (owners).
pub(crate) async fn destruction_acts(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let acts = state.inbox().destruction_acts(auth.employee).await?;
    Ok(Json(json!({"acts": acts})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitQuery {
    limit: Option<String>,
}

/// `GET /api/processing-log?limit=` (owners).
pub(crate) async fn processing_log(
    State(state): State<ServerState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = num(&q.limit, "limit")?.unwrap_or(100);
    let entries = state.inbox().processing_log(auth.employee, limit).await?;
    Ok(Json(json!({"entries": entries})))
}

/// `GET /api/audit-log?limit=` (owners).
pub(crate) async fn audit_log(
    State(state): State<ServerState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = num(&q.limit, "limit")?.unwrap_or(100);
    let records = state.inbox().audit_log(auth.employee, limit).await?;
    Ok(Json(json!({"records": records})))
}

/// `GET /api/acceptance-head`: the verified signed head of the acceptance log (owners).
pub(crate) async fn acceptance_head(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<messenger_core::consent::SignedHead>> {
    Ok(Json(state.inbox().acceptance_head(auth.employee).await?))
}

/// `GET /api/subject-requests` (owners).
pub(crate) async fn subject_requests(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let requests = state.inbox().subject_requests(auth.employee).await?;
    Ok(Json(json!({"requests": requests})))
}

/// `POST /api/subject-requests/{request}/close`: the owner answered it.
pub(crate) async fn close_subject_request(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let r: SubjectRequestId = id(&raw, "subject request")?;
    state
        .inbox()
        .close_subject_request(auth.employee, r)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
