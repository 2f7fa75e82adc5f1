//! The control API: the customer's side of every conversation, fault injection and state read
//! back, as HTTP routes under `/control` and as the operations the [`Sandbox`](crate::Sandbox)
//! methods call directly. The route list is in the crate documentation. Every per-platform step
//! goes through the account's emulator ([`crate::platforms::Emulator`]); this file names no
//! platform. State-changing requests must be `application/json` ([`require_json`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use messenger_core::registry::Credentials;
use messenger_core::{Error, ErrorKind, Result};
use serde::Deserialize;
use serde_json::json;

use crate::api::{
    AccountPatch, AccountSpec, ClockAdvance, ClockState, Customer, CustomerMessage, CustomerPatch,
    DeliveryRecord, Fault, FaultSpec, Group, GroupMessage, InboundReceipt, MessageDirection,
    MessageView, NewCustomer, NewGroup, ReadOutcome, ReadRequest, RequestRecord, SandboxAccount,
    SandboxUrls, WebhookCheck,
};
use crate::clock::to_datetime;
use crate::platforms;
use crate::state::{self, Account, Shared};

impl Shared {
    fn account_view(&self, account: &Account) -> SandboxAccount {
        let mut view = SandboxAccount {
            id: account.id.clone(),
            platform: account.platform(),
            token: account.token.clone(),
            name: account.name.clone(),
            username: None,
            phone_number_id: None,
            display_phone_number: None,
            waba_id: None,
            app_secret: None,
            verify_token: None,
            webhook_url: None,
            webhook_secret: None,
            out_of_order_statuses: false,
            pending: 0,
            last_webhook_error: account.last_webhook_error.clone(),
        };
        account.emulator.describe(account, &mut view);
        view
    }

    fn customer_view(&self, account: &Account, customer: &state::Customer) -> Customer {
        Customer {
            id: customer.id.clone(),
            account: account.id.clone(),
            name: customer.name.clone(),
            username: customer.username.clone(),
            blocked: customer.blocked,
            online: customer.online,
            window_open_until: account.emulator.window_open_until(self, customer),
        }
    }

    /// Creates an account with its platform's emulator and starts its webhook worker.
    pub(crate) fn create_account(self: &Arc<Self>, spec: &AccountSpec) -> Result<SandboxAccount> {
        let emulator = platforms::emulator(spec.platform)?;
        let (view, wake) = {
            let mut state = self.lock();
            let account = emulator.new_account(self, &mut state, spec)?;
            if state.accounts.contains_key(&account.id) {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "an account with this id exists",
                ));
            }
            if state.tokens.contains_key(&account.token) {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "an account with this token exists",
                ));
            }
            state
                .tokens
                .insert(account.token.clone(), account.id.clone());
            let view = self.account_view(&account);
            let wake = account.wake.subscribe();
            state.accounts.insert(account.id.clone(), account);
            (view, wake)
        };
        self.spawn(crate::webhook::worker(self.clone(), view.id.clone(), wake));
        tracing::info!(account = %view.id, platform = ?view.platform, "sandbox: account created");
        Ok(view)
    }

    pub(crate) fn list_accounts(&self) -> Vec<SandboxAccount> {
        let state = self.lock();
        state
            .accounts
            .values()
            .map(|a| self.account_view(a))
            .collect()
    }

    pub(crate) fn get_account(&self, id: &str) -> Result<SandboxAccount> {
        let state = self.lock();
        Ok(self.account_view(state.account(id)?))
    }

    pub(crate) fn patch_account(&self, id: &str, patch: &AccountPatch) -> Result<SandboxAccount> {
        let mut state = self.lock();
        let account = state.account_mut(id)?;
        let emulator = account.emulator;
        emulator.patch_account(account, patch)?;
        Ok(self.account_view(account))
    }

    /// The credentials a connector needs for an account, with the registry's keys.
    pub(crate) fn credentials(&self, id: &str) -> Result<Credentials> {
        let state = self.lock();
        let account = state.account(id)?;
        let platform = account.platform();
        let root = self
            .urls
            .platform(platform)
            .ok_or_else(|| Error::unsupported(format!("no emulator for {platform}")))?;
        Ok(account.emulator.credentials(account, root))
    }

    /// The platform's webhook verification handshake (WhatsApp's `hub.challenge`).
    pub(crate) async fn verify_webhook(&self, id: &str) -> Result<WebhookCheck> {
        let emulator = self.lock().account(id)?.emulator;
        emulator.verify_webhook(self, id).await
    }

    pub(crate) fn create_customer(&self, account_id: &str, new: &NewCustomer) -> Result<Customer> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        let customer = emulator.new_customer(self, &mut state, new)?;
        let account = state.account_mut(account_id)?;
        if account.customers.contains_key(&customer.id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                "a customer with this id exists",
            ));
        }
        let id = customer.id.clone();
        account.customers.insert(id.clone(), customer);
        let account = state.account(account_id)?;
        Ok(self.customer_view(account, account.customer(&id)?))
    }

    pub(crate) fn list_customers(&self, account_id: &str) -> Result<Vec<Customer>> {
        let state = self.lock();
        let account = state.account(account_id)?;
        let mut customers: Vec<&state::Customer> = account.customers.values().collect();
        customers.sort_by_key(|c| c.seq);
        Ok(customers
            .into_iter()
            .map(|c| self.customer_view(account, c))
            .collect())
    }

    pub(crate) fn get_customer(&self, account_id: &str, customer_id: &str) -> Result<Customer> {
        let state = self.lock();
        let account = state.account(account_id)?;
        Ok(self.customer_view(account, account.customer(customer_id)?))
    }

    pub(crate) fn set_online(
        &self,
        account_id: &str,
        customer_id: &str,
        online: bool,
    ) -> Result<Customer> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.set_online(self, &mut state, account_id, customer_id, online)?;
        let account = state.account(account_id)?;
        Ok(self.customer_view(account, account.customer(customer_id)?))
    }

    pub(crate) fn customer_sends(
        &self,
        account_id: &str,
        customer_id: &str,
        message: &CustomerMessage,
    ) -> Result<InboundReceipt> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.customer_sends(self, &mut state, account_id, customer_id, message)
    }

    pub(crate) fn customer_reads(
        &self,
        account_id: &str,
        customer_id: &str,
        up_to: Option<&str>,
    ) -> Result<ReadOutcome> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        let read = emulator.customer_reads(self, &mut state, account_id, customer_id, up_to)?;
        Ok(ReadOutcome { read })
    }

    pub(crate) fn set_blocked(
        &self,
        account_id: &str,
        customer_id: &str,
        blocked: bool,
    ) -> Result<Customer> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.set_blocked(self, &mut state, account_id, customer_id, blocked)?;
        let account = state.account(account_id)?;
        Ok(self.customer_view(account, account.customer(customer_id)?))
    }

    pub(crate) fn set_consent(
        &self,
        account_id: &str,
        customer_id: &str,
        allowed: bool,
    ) -> Result<Customer> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.set_consent(self, &mut state, account_id, customer_id, allowed)?;
        let account = state.account(account_id)?;
        Ok(self.customer_view(account, account.customer(customer_id)?))
    }

    pub(crate) fn list_messages(
        &self,
        account_id: &str,
        customer_id: &str,
        direction: Option<MessageDirection>,
    ) -> Result<Vec<MessageView>> {
        let state = self.lock();
        let customer = state.account(account_id)?.customer(customer_id)?;
        Ok(customer
            .messages
            .iter()
            .filter(|m| direction.is_none_or(|d| m.direction == d))
            .map(|m| state.message_view(m))
            .collect())
    }

    /// Creates a group chat through the account's emulator (`Unsupported` where it has none).
    pub(crate) fn create_group(&self, account_id: &str, new: &NewGroup) -> Result<Group> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.create_group(self, &mut state, account_id, new)
    }

    pub(crate) fn list_groups(&self, account_id: &str) -> Result<Vec<Group>> {
        let state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.groups(&state, account_id)
    }

    pub(crate) fn get_group(&self, account_id: &str, group_id: &str) -> Result<Group> {
        self.list_groups(account_id)?
            .into_iter()
            .find(|g| g.id == group_id.trim())
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such group"))
    }

    pub(crate) fn group_sends(
        &self,
        account_id: &str,
        group_id: &str,
        message: &GroupMessage,
    ) -> Result<InboundReceipt> {
        let mut state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.group_sends(self, &mut state, account_id, group_id, message)
    }

    pub(crate) fn list_group_messages(
        &self,
        account_id: &str,
        group_id: &str,
    ) -> Result<Vec<MessageView>> {
        let state = self.lock();
        let emulator = state.account(account_id)?.emulator;
        emulator.group_messages(&state, account_id, group_id)
    }

    pub(crate) fn inject_fault(
        &self,
        account_id: &str,
        spec: &FaultSpec,
    ) -> Result<Vec<FaultSpec>> {
        if spec.count == 0 {
            return Err(Error::invalid_input("a fault needs a count of at least 1"));
        }
        if let Fault::ServerError { status } = spec.fault
            && !(500..=599).contains(&status)
        {
            return Err(Error::invalid_input("a server error status is 500..=599"));
        }
        if let Fault::PollFailed { failed } = spec.fault
            && !(1..=3).contains(&failed)
        {
            return Err(Error::invalid_input("a poll failure is failed 1, 2 or 3"));
        }
        let mut state = self.lock();
        let account = state.account_mut(account_id)?;
        account.faults.push_back(spec.clone());
        Ok(account.faults.iter().cloned().collect())
    }

    pub(crate) fn list_faults(&self, account_id: &str) -> Result<Vec<FaultSpec>> {
        let state = self.lock();
        Ok(state.account(account_id)?.faults.iter().cloned().collect())
    }

    pub(crate) fn clear_faults(&self, account_id: &str) -> Result<()> {
        self.lock().account_mut(account_id)?.faults.clear();
        Ok(())
    }

    pub(crate) fn list_requests(&self, account_id: &str) -> Result<Vec<RequestRecord>> {
        let state = self.lock();
        Ok(state
            .account(account_id)?
            .requests
            .iter()
            .cloned()
            .collect())
    }

    pub(crate) fn list_deliveries(&self, account_id: &str) -> Result<Vec<DeliveryRecord>> {
        let state = self.lock();
        Ok(state
            .account(account_id)?
            .deliveries
            .iter()
            .cloned()
            .collect())
    }

    pub(crate) fn clock_state(&self) -> ClockState {
        ClockState {
            now: to_datetime(self.now_ms()),
            offset_seconds: self.clock.offset_ms().div_euclid(1000),
        }
    }

    pub(crate) fn advance_clock(&self, by: Duration) -> ClockState {
        self.clock.advance(by);
        // Long polls and workers re-check their deadlines and queues.
        for account in self.lock().accounts.values() {
            account.wake();
        }
        self.clock_state()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// A control error as HTTP: `{"error":{"kind":"not_found","message":"no such account"}}`.
struct ControlError(Error);

impl From<Error> for ControlError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

impl ControlError {
    /// The error shape with an explicit status.
    fn with_status(status: StatusCode, err: &Error) -> Response {
        (
            status,
            Json(json!({ "error": { "kind": err.kind(), "message": err.message() } })),
        )
            .into_response()
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self.0.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::Decode => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Transport => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::with_status(status, &self.0)
    }
}

/// Refuses every state-changing request (anything but `GET`, `HEAD` and `OPTIONS`), with or
/// without a body, unless it says `Content-Type: application/json`: 415 in the control error
/// shape, before any handler runs. A web page can send a cross-site form or a "simple" fetch
/// (`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`) without a
/// preflight; it cannot send `application/json` without one, and the sandbox answers no
/// preflight, so no page can drive the control API.
async fn require_json(req: Request, next: Next) -> Response {
    let reads_only = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if reads_only || is_json(req.headers().get(header::CONTENT_TYPE)) {
        return next.run(req).await;
    }
    tracing::debug!(method = %req.method(), "sandbox control: refused a request that is not JSON");
    ControlError::with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &Error::invalid_input(
            "the control API takes Content-Type: application/json on every POST, PATCH and DELETE",
        ),
    )
}

/// Whether a `Content-Type` is `application/json` (parameters such as `charset` allowed).
fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

type Reply<T> = std::result::Result<Json<T>, ControlError>;
type S = State<Arc<Shared>>;

/// A JSON body, with a control-shaped error when it does not parse.
struct Body<T>(T);

impl<T, St> axum::extract::FromRequest<St> for Body<T>
where
    T: serde::de::DeserializeOwned,
    St: Send + Sync,
{
    type Rejection = ControlError;

    async fn from_request(
        req: axum::extract::Request,
        _: &St,
    ) -> std::result::Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), 200 * 1024 * 1024)
            .await
            .map_err(|_| ControlError(Error::invalid_input("the request body is too large")))?;
        let bytes = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes)
            .map(Body)
            .map_err(|e| ControlError(Error::decode(format!("invalid JSON body: {e}"))))
    }
}

#[derive(Deserialize)]
struct DirectionQuery {
    direction: Option<MessageDirection>,
}

/// The `/control` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(info))
        .route("/accounts", post(create_account).get(list_accounts))
        .route("/accounts/{account}", get(get_account).patch(patch_account))
        .route("/accounts/{account}/verify-webhook", post(verify_webhook))
        .route("/accounts/{account}/credentials", get(credentials))
        .route(
            "/accounts/{account}/customers",
            post(create_customer).get(list_customers),
        )
        .route(
            "/accounts/{account}/customers/{customer}",
            get(get_customer).patch(patch_customer),
        )
        .route(
            "/accounts/{account}/customers/{customer}/messages",
            post(customer_sends).get(list_messages),
        )
        .route(
            "/accounts/{account}/customers/{customer}/read",
            post(customer_reads),
        )
        .route(
            "/accounts/{account}/customers/{customer}/block",
            post(block),
        )
        .route(
            "/accounts/{account}/customers/{customer}/unblock",
            post(unblock),
        )
        .route(
            "/accounts/{account}/customers/{customer}/allow",
            post(allow_messages),
        )
        .route(
            "/accounts/{account}/customers/{customer}/deny",
            post(deny_messages),
        )
        .route(
            "/accounts/{account}/groups",
            post(create_group).get(list_groups),
        )
        .route("/accounts/{account}/groups/{group}", get(get_group))
        .route(
            "/accounts/{account}/groups/{group}/messages",
            post(group_sends).get(list_group_messages),
        )
        .route(
            "/accounts/{account}/faults",
            post(inject_fault).get(list_faults).delete(clear_faults),
        )
        .route("/accounts/{account}/requests", get(list_requests))
        .route("/accounts/{account}/deliveries", get(list_deliveries))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance_clock))
        .layer(middleware::from_fn(require_json))
}

async fn info(State(shared): S) -> Json<SandboxUrls> {
    Json(shared.urls.clone())
}

async fn create_account(
    State(shared): S,
    Body(spec): Body<AccountSpec>,
) -> std::result::Result<(StatusCode, Json<SandboxAccount>), ControlError> {
    Ok((StatusCode::CREATED, Json(shared.create_account(&spec)?)))
}

async fn list_accounts(State(shared): S) -> Json<Vec<SandboxAccount>> {
    Json(shared.list_accounts())
}

async fn get_account(State(shared): S, Path(account): Path<String>) -> Reply<SandboxAccount> {
    Ok(Json(shared.get_account(&account)?))
}

async fn patch_account(
    State(shared): S,
    Path(account): Path<String>,
    Body(patch): Body<AccountPatch>,
) -> Reply<SandboxAccount> {
    Ok(Json(shared.patch_account(&account, &patch)?))
}

async fn credentials(
    State(shared): S,
    Path(account): Path<String>,
) -> Reply<std::collections::BTreeMap<String, String>> {
    let credentials = shared.credentials(&account)?;
    Ok(Json(
        credentials
            .keys()
            .filter_map(|key| Some((key.to_string(), credentials.get(key)?.to_string())))
            .collect(),
    ))
}

async fn verify_webhook(State(shared): S, Path(account): Path<String>) -> Reply<WebhookCheck> {
    Ok(Json(shared.verify_webhook(&account).await?))
}

async fn create_customer(
    State(shared): S,
    Path(account): Path<String>,
    Body(new): Body<NewCustomer>,
) -> std::result::Result<(StatusCode, Json<Customer>), ControlError> {
    Ok((
        StatusCode::CREATED,
        Json(shared.create_customer(&account, &new)?),
    ))
}

async fn list_customers(State(shared): S, Path(account): Path<String>) -> Reply<Vec<Customer>> {
    Ok(Json(shared.list_customers(&account)?))
}

async fn get_customer(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
) -> Reply<Customer> {
    Ok(Json(shared.get_customer(&account, &customer)?))
}

async fn patch_customer(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
    Body(patch): Body<CustomerPatch>,
) -> Reply<Customer> {
    Ok(Json(shared.set_online(
        &account,
        &customer,
        patch.online,
    )?))
}

async fn customer_sends(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
    Body(message): Body<CustomerMessage>,
) -> std::result::Result<(StatusCode, Json<InboundReceipt>), ControlError> {
    Ok((
        StatusCode::CREATED,
        Json(shared.customer_sends(&account, &customer, &message)?),
    ))
}

async fn list_messages(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
    Query(query): Query<DirectionQuery>,
) -> Reply<Vec<MessageView>> {
    Ok(Json(shared.list_messages(
        &account,
        &customer,
        query.direction,
    )?))
}

async fn customer_reads(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
    Body(read): Body<ReadRequest>,
) -> Reply<ReadOutcome> {
    Ok(Json(shared.customer_reads(
        &account,
        &customer,
        read.up_to.as_deref(),
    )?))
}

async fn block(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
) -> Reply<Customer> {
    Ok(Json(shared.set_blocked(&account, &customer, true)?))
}

async fn unblock(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
) -> Reply<Customer> {
    Ok(Json(shared.set_blocked(&account, &customer, false)?))
}

async fn allow_messages(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
) -> Reply<Customer> {
    Ok(Json(shared.set_consent(&account, &customer, true)?))
}

async fn deny_messages(
    State(shared): S,
    Path((account, customer)): Path<(String, String)>,
) -> Reply<Customer> {
    Ok(Json(shared.set_consent(&account, &customer, false)?))
}

async fn create_group(
    State(shared): S,
    Path(account): Path<String>,
    Body(new): Body<NewGroup>,
) -> std::result::Result<(StatusCode, Json<Group>), ControlError> {
    Ok((
        StatusCode::CREATED,
        Json(shared.create_group(&account, &new)?),
    ))
}

async fn list_groups(State(shared): S, Path(account): Path<String>) -> Reply<Vec<Group>> {
    Ok(Json(shared.list_groups(&account)?))
}

async fn get_group(
    State(shared): S,
    Path((account, group)): Path<(String, String)>,
) -> Reply<Group> {
    Ok(Json(shared.get_group(&account, &group)?))
}

async fn group_sends(
    State(shared): S,
    Path((account, group)): Path<(String, String)>,
    Body(message): Body<GroupMessage>,
) -> std::result::Result<(StatusCode, Json<InboundReceipt>), ControlError> {
    Ok((
        StatusCode::CREATED,
        Json(shared.group_sends(&account, &group, &message)?),
    ))
}

async fn list_group_messages(
    State(shared): S,
    Path((account, group)): Path<(String, String)>,
) -> Reply<Vec<MessageView>> {
    Ok(Json(shared.list_group_messages(&account, &group)?))
}

async fn inject_fault(
    State(shared): S,
    Path(account): Path<String>,
    Body(spec): Body<FaultSpec>,
) -> Reply<Vec<FaultSpec>> {
    Ok(Json(shared.inject_fault(&account, &spec)?))
}

async fn list_faults(State(shared): S, Path(account): Path<String>) -> Reply<Vec<FaultSpec>> {
    Ok(Json(shared.list_faults(&account)?))
}

async fn clear_faults(
    State(shared): S,
    Path(account): Path<String>,
) -> std::result::Result<StatusCode, ControlError> {
    shared.clear_faults(&account)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_requests(State(shared): S, Path(account): Path<String>) -> Reply<Vec<RequestRecord>> {
    Ok(Json(shared.list_requests(&account)?))
}

async fn list_deliveries(
    State(shared): S,
    Path(account): Path<String>,
) -> Reply<Vec<DeliveryRecord>> {
    Ok(Json(shared.list_deliveries(&account)?))
}

async fn clock(State(shared): S) -> Json<ClockState> {
    Json(shared.clock_state())
}

async fn advance_clock(State(shared): S, Body(advance): Body<ClockAdvance>) -> Json<ClockState> {
    Json(shared.advance_clock(Duration::from_secs(advance.seconds)))
}
