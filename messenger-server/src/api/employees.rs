//! Employees, grants, sign-in logins and API keys (owners and admins; the inbox decides).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use messenger_inbox::{AccountKey, EmployeeId, Permissions, Role, TokenKind};
use serde::Deserialize;
use serde_json::json;

use super::auth::check_password;
use super::{ApiJson, id};
use crate::auth::{Auth, hash_blocking, new_token};
use crate::error::ApiResult;
use crate::state::ServerState;

/// `GET /api/employees`: the workspace's employees and grants.
pub(crate) async fn list(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let inbox = state.inbox();
    let employees = inbox.employees(auth.employee).await?;
    let grants = inbox.grants(auth.employee).await?;
    Ok(Json(json!({"employees": employees, "grants": grants})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEmployee {
    name: String,
    role: Role,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/employees`: adds an employee, with a sign-in where `login` and `password` are
/// given.
pub(crate) async fn add(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewEmployee>,
) -> ApiResult<(StatusCode, Json<messenger_inbox::Employee>)> {
    if let Some(p) = &body.password {
        check_password(p)?;
    }
    let inbox = state.inbox();
    let employee = inbox
        .add_employee(auth.employee, &body.name, body.role)
        .await?;
    if let (Some(login), Some(password)) = (body.login, body.password) {
        let hash = hash_blocking(password).await?;
        if let Err(e) = inbox
            .set_login(
                auth.employee,
                employee.id,
                &login.trim().to_lowercase(),
                &hash,
            )
            .await
        {
            // The employee without a usable sign-in is taken back.
            let _ = inbox.remove_employee(auth.employee, employee.id).await;
            return Err(e.into());
        }
    }
    Ok((StatusCode::CREATED, Json(employee)))
}

/// `DELETE /api/employees/{employee}`: removes an employee (their grants and tokens stop).
pub(crate) async fn remove(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let e: EmployeeId = id(&raw, "employee")?;
    state.inbox().remove_employee(auth.employee, e).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/employees/{employee}/grants/{account}`: sets the employee's rights on an account
/// (`{"read":true,"reply":true,"manage":false}`; all false revokes).
pub(crate) async fn grant(
    State(state): State<ServerState>,
    auth: Auth,
    Path((raw_e, raw_a)): Path<(String, String)>,
    ApiJson(body): ApiJson<Permissions>,
) -> ApiResult<Json<messenger_inbox::Grant>> {
    let e: EmployeeId = id(&raw_e, "employee")?;
    let a: AccountKey = id(&raw_a, "account")?;
    Ok(Json(state.inbox().grant(auth.employee, e, a, body).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    login: String,
    password: String,
}

/// `PUT /api/employees/{employee}/login`: sets an employee's login and password (owners and
/// admins; only an owner for an owner).
pub(crate) async fn set_login(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<StatusCode> {
    let e: EmployeeId = id(&raw, "employee")?;
    check_password(&body.password)?;
    // Asked first, so that a refusal costs no hashing.
    if e != auth.employee {
        state
            .inbox()
            .authorize(
                auth.employee,
                messenger_inbox::Action::ManageEmployees,
                messenger_inbox::Target::Employee(e),
            )
            .await?;
    }
    let hash = hash_blocking(body.password).await?;
    state
        .inbox()
        .set_login(auth.employee, e, &body.login.trim().to_lowercase(), &hash)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/api-keys`: the workspace's API keys (never the keys themselves).
pub(crate) async fn api_keys(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let keys = state.inbox().api_keys(auth.employee).await?;
    Ok(Json(json!({"api_keys": keys})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    employee: EmployeeId,
    name: String,
}

/// `POST /api/api-keys`: a key acting as `employee` for a machine; the key is in this answer
/// only.
pub(crate) async fn create_api_key(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let (key, hash) = new_token(TokenKind::ApiKey)?;
    let stored = state
        .inbox()
        .create_api_key(auth.employee, body.employee, &hash, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": stored, "key": key})),
    ))
}

/// `DELETE /api/api-keys/{key}`: revokes a key.
pub(crate) async fn revoke_api_key(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let key: i64 = id(&raw, "API key")?;
    state.inbox().revoke_api_key(auth.employee, key).await?;
    Ok(StatusCode::NO_CONTENT)
}
