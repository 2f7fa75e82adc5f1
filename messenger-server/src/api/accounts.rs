//! Accounts: connect (credentials by reference; a platform's connection flow such as Avito's
//! OAuth), activate (the owner accepts the agreement edition), deactivate, rename, delete.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use messenger_core::connection::{ConnectionInput, ConnectionStep, DirectConnection};
use messenger_core::oauth::{OAuthTokens, TokenStore};
use messenger_core::{AccountHealth, AccountId, Platform};
use messenger_inbox::{
    Account, AccountKey, AccountState, Action, NewAccount, SecretRef, Target, WorkspaceId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiJson, OptJson, id};
use crate::auth::Auth;
use crate::config::Intake;
use crate::error::{ApiError, ApiResult};
use crate::state::{PendingFlow, ServerState};

/// An account as the API shows it: settings and the names of its credentials (never their
/// references' targets resolved), how it takes messages in, its webhook URL.
#[derive(Serialize)]
pub(crate) struct AccountView {
    id: AccountKey,
    workspace: WorkspaceId,
    platform: Platform,
    display_name: String,
    state: AccountState,
    settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretRef>,
    health: Option<AccountHealth>,
    intake: &'static str,
    webhook_url: Option<String>,
}

impl AccountView {
    pub(crate) fn of(state: &ServerState, account: &Account) -> Self {
        let intake = state.intake_of(account);
        Self {
            id: account.id,
            workspace: account.workspace,
            platform: account.platform,
            display_name: account.display_name.clone(),
            state: account.state,
            settings: account.settings.clone(),
            secrets: account.secrets.clone(),
            health: account.health,
            intake: intake.as_str(),
            webhook_url: (intake == Intake::Webhook)
                .then(|| state.webhook_url(account))
                .flatten(),
        }
    }
}

/// `GET /api/accounts`: the accounts the employee holds any right on.
pub(crate) async fn list(
    State(state): State<ServerState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let accounts = state.inbox().accounts(auth.employee).await?;
    let views: Vec<AccountView> = accounts
        .iter()
        .map(|a| AccountView::of(&state, a))
        .collect();
    Ok(Json(json!({"accounts": views})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccountBody {
    platform: Platform,
    display_name: String,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, SecretRef>,
}

/// `POST /api/accounts`: connects an account (owners and admins). Credentials are references
/// (`env:`, `file:`) the server resolves; a token in clear is refused. It starts deactivated.
pub(crate) async fn add(
    State(state): State<ServerState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    if state
        .inner
        .provider
        .connectors()
        .entry(body.platform)
        .is_none()
    {
        return Err(ApiError::invalid(format!(
            "this server has no {} connector",
            body.platform.display_name()
        )));
    }
    if let Some(intake) = body.settings.get("intake")
        && !["auto", "poll", "webhook"].contains(&intake.as_str())
    {
        return Err(ApiError::invalid("intake is auto, poll or webhook"));
    }
    let mut new = NewAccount::new(body.platform, body.display_name);
    new.settings = body.settings;
    new.secrets = body.secrets;
    let account = state.inbox().add_account(auth.employee, new).await?;
    Ok((StatusCode::CREATED, Json(AccountView::of(&state, &account))))
}

async fn readable(state: &ServerState, auth: &Auth, account: AccountKey) -> ApiResult<Account> {
    // Listing by right: an account the employee holds nothing on is refused like any other.
    let accounts = state.inbox().accounts(auth.employee).await?;
    match accounts.into_iter().find(|a| a.id == account) {
        Some(a) => Ok(a),
        None => {
            state
                .inbox()
                .authorize(auth.employee, Action::ReadHistory, Target::Account(account))
                .await?;
            Err(ApiError::not_found("no such account"))
        }
    }
}

/// `GET /api/accounts/{account}`.
pub(crate) async fn get_one(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let a: AccountKey = id(&raw, "account")?;
    let account = readable(&state, &auth, a).await?;
    let permissions = state.inbox().permissions(auth.employee, a).await?;
    Ok(Json(json!({
        "account": AccountView::of(&state, &account),
        "permissions": permissions,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rename {
    display_name: String,
}

/// `PATCH /api/accounts/{account}`: renames (manage).
pub(crate) async fn rename(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> ApiResult<StatusCode> {
    let a: AccountKey = id(&raw, "account")?;
    state
        .inbox()
        .rename_account(auth.employee, a, &body.display_name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ground {
    ground: String,
}

/// `POST /api/accounts/{account}/delete`: deletes the account and purges its data (owners),
/// returning the act.
pub(crate) async fn delete(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Ground>,
) -> ApiResult<Json<messenger_inbox::DestructionAct>> {
    let a: AccountKey = id(&raw, "account")?;
    let act = state
        .inbox()
        .delete_account(auth.employee, a, &body.ground)
        .await?;
    Ok(Json(act))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Activate {
    edition: String,
    #[serde(default)]
    evidence: Option<String>,
}

/// `POST /api/accounts/{account}/activate`: the owner accepts `edition` of the agreement;
/// returns the acceptance record.
pub(crate) async fn activate(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Activate>,
) -> ApiResult<Json<messenger_core::consent::AcceptanceRecord>> {
    let a: AccountKey = id(&raw, "account")?;
    let evidence = body
        .evidence
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "activated through the operator API".to_owned());
    let record = state
        .inbox()
        .activate_account(auth.employee, a, &body.edition, &evidence)
        .await?;
    Ok(Json(record))
}

/// `POST /api/accounts/{account}/deactivate` (manage): sends and intake stop.
pub(crate) async fn deactivate(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let a: AccountKey = id(&raw, "account")?;
    state.inbox().deactivate_account(auth.employee, a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretBody {
    reference: SecretRef,
}

/// `PUT /api/accounts/{account}/secrets/{key}`: sets one credential reference (manage).
pub(crate) async fn set_secret(
    State(state): State<ServerState>,
    auth: Auth,
    Path((raw, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<SecretBody>,
) -> ApiResult<StatusCode> {
    let a: AccountKey = id(&raw, "account")?;
    state
        .inbox()
        .set_account_secret(auth.employee, a, &key, body.reference)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tokens a connection flow saved: kept in memory until the flow is done, then the
/// refresh token goes to the server's secret sink and the account keeps its reference.
#[derive(Default)]
pub(crate) struct CapturedTokens(Mutex<Option<OAuthTokens>>);

#[async_trait]
impl TokenStore for CapturedTokens {
    async fn load(&self, _account: &AccountId) -> messenger_core::Result<Option<OAuthTokens>> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
    async fn save(&self, _account: &AccountId, tokens: &OAuthTokens) -> messenger_core::Result<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
        Ok(())
    }
    async fn remove(&self, _account: &AccountId) -> messenger_core::Result<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

/// A step as JSON: `{"step":"open_url","url"}`, `{"step":"show_qr","data"}`,
/// `{"step":"enter_code","prompt"}`, `{"step":"done","account":{...}}`.
fn step_json(step: &ConnectionStep) -> serde_json::Value {
    match step {
        ConnectionStep::OpenUrl { url, .. } => json!({"step": "open_url", "url": url}),
        ConnectionStep::ShowQr { data } => json!({"step": "show_qr", "data": data}),
        ConnectionStep::EnterCode { prompt } => json!({"step": "enter_code", "prompt": prompt}),
        ConnectionStep::Done(info) => json!({
            "step": "done",
            "account": {
                "platform": info.platform,
                "id": info.id.as_str(),
                "name": info.name,
                "username": info.username,
            }
        }),
        _ => json!({"step": "unsupported"}),
    }
}

/// A flow's refusal (a forged or expired `state`, a declined consent, bad credentials) is the
/// user's to fix: 400 `connection_refused`; the platform failing is 502.
fn flow_error(e: messenger_core::Error) -> ApiError {
    use messenger_core::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::Unauthorized => {
            ApiError::new(StatusCode::BAD_REQUEST, "connection_refused", e.message())
        }
        _ => ApiError::from(e),
    }
}

/// How long a started flow waits for the user.
const FLOW_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// `POST /api/accounts/{account}/connection`: starts connecting the account (manage): its
/// platform's flow where it has one (Avito: `open_url`, the consent page), else a check of the
/// credentials against the platform (`done` with the account's identity). A flow is held by
/// the node that started it: the input goes to the same node.
pub(crate) async fn connection_start(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let a: AccountKey = id(&raw, "account")?;
    let inbox = state.inbox();
    inbox
        .authorize(auth.employee, Action::ManageAccount, Target::Account(a))
        .await?;
    let account = inbox.account_unchecked(a).await?;
    let tokens = Arc::new(CapturedTokens::default());
    let flow: Arc<dyn messenger_core::connection::ConnectionFlow> =
        match state.inner.provider.connectors().flow_of(account.platform) {
            Some(entry) => {
                let credentials = inbox.credentials(&account).await?;
                entry(
                    &credentials,
                    &messenger_core::registry::AccountStores::new().tokens(tokens.clone()),
                )?
            }
            None => Arc::new(DirectConnection::new(state.messenger(&account).await?)),
        };
    let step = flow.start().await.map_err(flow_error)?;
    let json = step_json(&step);
    if matches!(step, ConnectionStep::Done(_)) {
        finish_flow(&state, &auth, a, &tokens).await?;
    } else {
        let mut flows = state.inner.flows.lock().unwrap_or_else(|p| p.into_inner());
        flows.retain(|_, f| f.started.elapsed() < FLOW_TTL);
        flows.insert(
            a,
            PendingFlow {
                flow,
                tokens,
                started: tokio::time::Instant::now(),
                by: auth.employee,
            },
        );
    }
    Ok(Json(json))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowInput {
    /// What the user typed or pasted (a code, the redirect URL); absent: they did what the step
    /// asked (opened the page, scanned the code).
    #[serde(default)]
    input: Option<String>,
}

/// `POST /api/accounts/{account}/connection/input`: the user's answer to the current step;
/// gives the next one. At `done`, tokens the flow obtained are kept through the secret sink.
pub(crate) async fn connection_input(
    State(state): State<ServerState>,
    auth: Auth,
    Path(raw): Path<String>,
    OptJson(body): OptJson<FlowInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let a: AccountKey = id(&raw, "account")?;
    state
        .inbox()
        .authorize(auth.employee, Action::ManageAccount, Target::Account(a))
        .await?;
    let (flow, tokens) = {
        let flows = state.inner.flows.lock().unwrap_or_else(|p| p.into_inner());
        match flows.get(&a) {
            Some(p) if p.started.elapsed() < FLOW_TTL && p.by == auth.employee => {
                (p.flow.clone(), p.tokens.clone())
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "no_flow",
                    "no connection flow of yours is waiting for this account on this node: start one",
                ));
            }
        }
    };
    let input = match body.input {
        Some(text) => ConnectionInput::text(text),
        None => ConnectionInput::Continue,
    };
    let step = flow.submit(input).await.map_err(flow_error)?;
    if matches!(step, ConnectionStep::Done(_)) {
        state
            .inner
            .flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&a);
        finish_flow(&state, &auth, a, &tokens).await?;
    }
    Ok(Json(step_json(&step)))
}

/// Keeps the refresh token a flow obtained (through the secret sink) as the account's
/// `refresh_token` reference.
async fn finish_flow(
    state: &ServerState,
    auth: &Auth,
    account: AccountKey,
    tokens: &CapturedTokens,
) -> ApiResult<()> {
    let refresh = tokens
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|t| t.refresh_token.clone());
    let Some(refresh) = refresh else {
        return Ok(());
    };
    let Some(sink) = &state.options().secret_sink else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_secret_store",
            "the account connected, but this server has no secrets_dir to keep its refresh token in",
        ));
    };
    let reference = sink.keep(account, "refresh_token", refresh).await?;
    state
        .inbox()
        .set_account_secret(auth.employee, account, "refresh_token", reference)
        .await?;
    tracing::info!(
        account = account.0,
        "connection flow done; refresh token kept"
    );
    Ok(())
}
