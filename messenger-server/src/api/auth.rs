//! Sign-in, sign-out, event-stream tickets, password changes, and who am I.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use messenger_inbox::{Account, Employee, Permissions, TokenKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ApiJson;
use crate::auth::{Auth, MIN_PASSWORD_LEN, client_ip, hash_blocking, new_token, verify_blocking};
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    login: String,
    password: String,
}

#[derive(Serialize)]
struct SignedIn {
    token: String,
    expires_at: chrono::DateTime<Utc>,
    employee: Employee,
}

/// `POST /api/auth/sign-in`.
pub(crate) async fn sign_in(State(state): State<ServerState>, req: Request) -> Response {
    match sign_in_inner(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn sign_in_inner(state: ServerState, req: Request) -> ApiResult<Response> {
    let address = client_ip(req.extensions());
    let ApiJson(body): ApiJson<SignIn> = ApiJson::from_request(req, &state).await?;
    let login = body.login.trim().to_lowercase();
    let metrics = state.metrics();
    if let Err(wait) = state.inner.limiter.attempt(address, &login) {
        metrics.count("sign_ins_total", &[("outcome", "rate_limited")]);
        let mut response = ApiError::rate_limited(wait).into_response();
        if let Ok(v) = wait.to_string().parse() {
            response.headers_mut().insert("retry-after", v);
        }
        return Ok(response);
    }
    let found = if body.password.len() > 1024 || login.len() > 64 {
        None
    } else {
        state.inbox().login_credentials(&login).await?
    };
    let (employee, hash) = match found {
        Some((e, h)) => (Some(e), Some(h)),
        None => (None, None),
    };
    let ok = verify_blocking(hash, body.password).await;
    let Some(employee) = employee.filter(|_| ok) else {
        state.inner.limiter.failed(&login);
        metrics.count("sign_ins_total", &[("outcome", "refused")]);
        tracing::info!("sign-in refused");
        return Err(ApiError::unauthenticated(
            "the login or the password is wrong",
        ));
    };
    state.inner.limiter.succeeded(&login);
    let (token, hash) = new_token(TokenKind::Session)?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(state.options().session)
            .unwrap_or(chrono::Duration::hours(12));
    state
        .inbox()
        .issue_token(employee, TokenKind::Session, &hash, expires_at)
        .await?;
    let me = state.inbox().me(employee).await?;
    metrics.count("sign_ins_total", &[("outcome", "ok")]);
    tracing::info!(employee = employee.0, "signed in");
    Ok((
        StatusCode::OK,
        Json(SignedIn {
            token,
            expires_at,
            employee: me,
        }),
    )
        .into_response())
}

/// `POST /api/auth/sign-out`: revokes the session that signs the request.
pub(crate) async fn sign_out(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<StatusCode> {
    if auth.kind != TokenKind::Session {
        return Err(ApiError::invalid(
            "an API key is revoked by an owner or admin, not signed out",
        ));
    }
    state.inbox().revoke_token(&auth.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/ticket`: a one-use ticket for `GET /api/events?ticket=...`, valid 60 s.
pub(crate) async fn ticket(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let (token, hash) = new_token(TokenKind::Ticket)?;
    let ttl = state.options().ticket;
    let expires_at =
        Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    state
        .inbox()
        .issue_token(auth.employee, TokenKind::Ticket, &hash, expires_at)
        .await?;
    Ok(Json(json!({
        "ticket": token,
        "expires_at": expires_at,
        "url": format!("/api/events?ticket={token}"),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current: String,
    new: String,
}

/// `PUT /api/auth/password`: the signed-in employee changes their own password.
pub(crate) async fn change_password(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let Some((login, hash)) = state.inbox().login_of(auth.employee).await? else {
        return Err(ApiError::invalid(
            "this employee signs in with an API key only",
        ));
    };
    if let Err(wait) = state.inner.limiter.attempt(None, &login) {
        return Err(ApiError::rate_limited(wait));
    }
    if !verify_blocking(Some(hash), body.current).await {
        state.inner.limiter.failed(&login);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the current password is wrong",
        ));
    }
    check_password(&body.new)?;
    let new_hash = hash_blocking(body.new).await?;
    state
        .inbox()
        .set_login(auth.employee, auth.employee, &login, &new_hash)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a password too short or too long to be one.
pub(crate) fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > 1024 {
        return Err(ApiError::invalid(format!(
            "a password has {MIN_PASSWORD_LEN} to 1024 characters"
        )));
    }
    Ok(())
}

/// An account as the signed-in employee sees it: with their rights on it.
#[derive(Serialize)]
pub(crate) struct MyAccount {
    #[serde(flatten)]
    account: crate::api::accounts::AccountView,
    permissions: Permissions,
}

/// `GET /api/me`: the employee, the accounts they hold any right on (with those rights, so a
/// page offers only what they may do), their unread total.
pub(crate) async fn me(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let inbox = state.inbox();
    let employee = inbox.me(auth.employee).await?;
    let accounts: Vec<Account> = inbox.accounts(auth.employee).await?;
    let mut mine = Vec::with_capacity(accounts.len());
    for account in accounts {
        let permissions = inbox.permissions(auth.employee, account.id).await?;
        mine.push(MyAccount {
            account: crate::api::accounts::AccountView::of(&state, &account),
            permissions,
        });
    }
    let unread = inbox.unread_total(auth.employee).await?;
    Ok(Json(json!({
        "employee": employee,
        "auth": auth.kind,
        "accounts": mine,
        "unread_total": unread,
    })))
}

/// `GET /api/agreement`: the agreement edition in effect (what activating an account accepts).
pub(crate) async fn agreement(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    state.inbox().me(auth.employee).await?;
    let current = state.inbox().consent().current_edition().await?;
    Ok(Json(json!({ "current": current })))
}
