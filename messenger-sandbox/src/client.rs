//! [`Control`]: a typed HTTP client of the control API, for a sandbox running in another task
//! or process (`messenger sandbox`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use messenger_core::registry::Credentials;
use messenger_core::{Error, ErrorKind, Result};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    AccountPatch, AccountSpec, ClockAdvance, ClockState, Customer, CustomerMessage, CustomerPatch,
    DeliveryRecord, FaultSpec, Group, GroupMessage, InboundReceipt, MessageView, NewCustomer,
    NewGroup, ReadOutcome, ReadRequest, RequestRecord, SandboxAccount, SandboxUrls, WebhookCheck,
};

/// A typed client of a sandbox's control API (`/control/...`).
///
/// Every method mirrors the [`Sandbox`](crate::Sandbox) method of the same name and sends
/// `Content-Type: application/json` on every state-changing request; errors carry
/// the kind the sandbox answered with (`NotFound`, `InvalidInput`, `Conflict`, ...) or
/// `Transport` / `Decode`.
///
/// ```no_run
/// # async fn demo() -> messenger_core::Result<()> {
/// use messenger_sandbox::{Control, CustomerMessage, NewCustomer};
/// let control = Control::new("http://127.0.0.1:8081/control")?;
/// let accounts = control.accounts().await?;
/// let bot = &accounts[0];
/// let ivan = control.create_customer(&bot.id, &NewCustomer::named("Ivan")).await?;
/// control.customer_sends(&bot.id, &ivan.id, &CustomerMessage::text("hi")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control").field("base", &self.base).finish()
    }
}

/// Percent-encodes one path segment.
fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(serde::Deserialize)]
struct ErrorInner {
    kind: ErrorKind,
    message: String,
}

impl Control {
    /// A client of the control API at `control_url` (e.g. `http://127.0.0.1:8081/control`).
    pub fn new(control_url: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::transport("cannot build the control HTTP client").with_source(e))?;
        Ok(Self {
            base: control_url.into().trim_end_matches('/').to_string(),
            http,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let changes_state = !matches!(method, Method::GET | Method::HEAD);
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        } else if changes_state {
            // The control API refuses a state-changing request that is not JSON, body or not.
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        let response = request.send().await.map_err(|e| {
            Error::transport("the sandbox control API is unreachable").with_source(e)
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::transport("the control response was cut").with_source(e))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Error::new(body.error.kind, body.error.message),
                Err(_) => Error::transport(format!("the control API answered {status}")),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes)
            .map_err(|e| Error::decode(format!("unexpected control response: {e}")))
    }

    fn account_path(account: &str) -> String {
        format!("/accounts/{}", segment(account))
    }

    fn customer_path(account: &str, customer: &str) -> String {
        format!(
            "/accounts/{}/customers/{}",
            segment(account),
            segment(customer)
        )
    }

    /// `GET /control`: the sandbox's base URLs.
    pub async fn urls(&self) -> Result<SandboxUrls> {
        self.call(Method::GET, "", None::<&()>).await
    }

    /// `POST /control/accounts`.
    pub async fn create_account(&self, spec: &AccountSpec) -> Result<SandboxAccount> {
        self.call(Method::POST, "/accounts", Some(spec)).await
    }

    /// `GET /control/accounts`.
    pub async fn accounts(&self) -> Result<Vec<SandboxAccount>> {
        self.call(Method::GET, "/accounts", None::<&()>).await
    }

    /// `GET /control/accounts/{account}`.
    pub async fn account(&self, account: &str) -> Result<SandboxAccount> {
        self.call(Method::GET, &Self::account_path(account), None::<&()>)
            .await
    }

    /// `PATCH /control/accounts/{account}`.
    pub async fn update_account(
        &self,
        account: &str,
        patch: &AccountPatch,
    ) -> Result<SandboxAccount> {
        self.call(Method::PATCH, &Self::account_path(account), Some(patch))
            .await
    }

    /// `GET /control/accounts/{account}/credentials`: what a connector needs for the account,
    /// with the registry's keys (see [`Sandbox::credentials`](crate::Sandbox::credentials)).
    pub async fn credentials(&self, account: &str) -> Result<Credentials> {
        let path = format!("{}/credentials", Self::account_path(account));
        let values: BTreeMap<String, String> = self.call(Method::GET, &path, None::<&()>).await?;
        Ok(values
            .into_iter()
            .fold(Credentials::new(), |credentials, (key, value)| {
                credentials.with(key, value)
            }))
    }

    /// `POST /control/accounts/{account}/verify-webhook`.
    pub async fn verify_webhook(&self, account: &str) -> Result<WebhookCheck> {
        let path = format!("{}/verify-webhook", Self::account_path(account));
        self.call(Method::POST, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/customers`.
    pub async fn create_customer(&self, account: &str, new: &NewCustomer) -> Result<Customer> {
        let path = format!("{}/customers", Self::account_path(account));
        self.call(Method::POST, &path, Some(new)).await
    }

    /// `GET /control/accounts/{account}/customers`.
    pub async fn customers(&self, account: &str) -> Result<Vec<Customer>> {
        let path = format!("{}/customers", Self::account_path(account));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET /control/accounts/{account}/customers/{customer}`.
    pub async fn customer(&self, account: &str, customer: &str) -> Result<Customer> {
        self.call(
            Method::GET,
            &Self::customer_path(account, customer),
            None::<&()>,
        )
        .await
    }

    /// `PATCH /control/accounts/{account}/customers/{customer}` with `{"online": ...}`.
    pub async fn set_online(
        &self,
        account: &str,
        customer: &str,
        online: bool,
    ) -> Result<Customer> {
        self.call(
            Method::PATCH,
            &Self::customer_path(account, customer),
            Some(&CustomerPatch { online }),
        )
        .await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/messages`.
    pub async fn customer_sends(
        &self,
        account: &str,
        customer: &str,
        message: &CustomerMessage,
    ) -> Result<InboundReceipt> {
        let path = format!("{}/messages", Self::customer_path(account, customer));
        self.call(Method::POST, &path, Some(message)).await
    }

    /// `GET /control/accounts/{account}/customers/{customer}/messages`: the conversation.
    pub async fn messages(&self, account: &str, customer: &str) -> Result<Vec<MessageView>> {
        let path = format!("{}/messages", Self::customer_path(account, customer));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET .../messages?direction=outbound`: what the customer received, in order.
    pub async fn received(&self, account: &str, customer: &str) -> Result<Vec<MessageView>> {
        let path = format!(
            "{}/messages?direction=outbound",
            Self::customer_path(account, customer)
        );
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/read`.
    pub async fn customer_reads(
        &self,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<ReadOutcome> {
        let path = format!("{}/read", Self::customer_path(account, customer));
        let body = ReadRequest {
            up_to: up_to.map(str::to_string),
        };
        self.call(Method::POST, &path, Some(&body)).await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/block`.
    pub async fn block(&self, account: &str, customer: &str) -> Result<Customer> {
        let path = format!("{}/block", Self::customer_path(account, customer));
        self.call(Method::POST, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/unblock`.
    pub async fn unblock(&self, account: &str, customer: &str) -> Result<Customer> {
        let path = format!("{}/unblock", Self::customer_path(account, customer));
        self.call(Method::POST, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/allow`.
    pub async fn allow_messages(&self, account: &str, customer: &str) -> Result<Customer> {
        let path = format!("{}/allow", Self::customer_path(account, customer));
        self.call(Method::POST, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/customers/{customer}/deny`.
    pub async fn deny_messages(&self, account: &str, customer: &str) -> Result<Customer> {
        let path = format!("{}/deny", Self::customer_path(account, customer));
        self.call(Method::POST, &path, None::<&()>).await
    }

    fn group_path(account: &str, group: &str) -> String {
        format!("/accounts/{}/groups/{}", segment(account), segment(group))
    }

    /// `POST /control/accounts/{account}/groups`.
    pub async fn create_group(&self, account: &str, new: &NewGroup) -> Result<Group> {
        let path = format!("{}/groups", Self::account_path(account));
        self.call(Method::POST, &path, Some(new)).await
    }

    /// `GET /control/accounts/{account}/groups`.
    pub async fn groups(&self, account: &str) -> Result<Vec<Group>> {
        let path = format!("{}/groups", Self::account_path(account));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET /control/accounts/{account}/groups/{group}`.
    pub async fn group(&self, account: &str, group: &str) -> Result<Group> {
        self.call(Method::GET, &Self::group_path(account, group), None::<&()>)
            .await
    }

    /// `POST /control/accounts/{account}/groups/{group}/messages`.
    pub async fn group_sends(
        &self,
        account: &str,
        group: &str,
        message: &GroupMessage,
    ) -> Result<InboundReceipt> {
        let path = format!("{}/messages", Self::group_path(account, group));
        self.call(Method::POST, &path, Some(message)).await
    }

    /// `GET /control/accounts/{account}/groups/{group}/messages`: everything posted in it.
    pub async fn group_messages(&self, account: &str, group: &str) -> Result<Vec<MessageView>> {
        let path = format!("{}/messages", Self::group_path(account, group));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `POST /control/accounts/{account}/faults`; returns the account's queued faults.
    pub async fn inject_fault(&self, account: &str, spec: &FaultSpec) -> Result<Vec<FaultSpec>> {
        let path = format!("{}/faults", Self::account_path(account));
        self.call(Method::POST, &path, Some(spec)).await
    }

    /// `GET /control/accounts/{account}/faults`.
    pub async fn faults(&self, account: &str) -> Result<Vec<FaultSpec>> {
        let path = format!("{}/faults", Self::account_path(account));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `DELETE /control/accounts/{account}/faults`.
    pub async fn clear_faults(&self, account: &str) -> Result<()> {
        let path = format!("{}/faults", Self::account_path(account));
        let _: Option<serde_json::Value> = self.call(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    /// `GET /control/accounts/{account}/requests`.
    pub async fn requests(&self, account: &str) -> Result<Vec<RequestRecord>> {
        let path = format!("{}/requests", Self::account_path(account));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET /control/accounts/{account}/deliveries`.
    pub async fn deliveries(&self, account: &str) -> Result<Vec<DeliveryRecord>> {
        let path = format!("{}/deliveries", Self::account_path(account));
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET /control/clock`.
    pub async fn clock(&self) -> Result<ClockState> {
        self.call(Method::GET, "/clock", None::<&()>).await
    }

    /// `POST /control/clock/advance`.
    pub async fn advance_clock(&self, by: Duration) -> Result<ClockState> {
        self.call(
            Method::POST,
            "/clock/advance",
            Some(&ClockAdvance {
                seconds: by.as_secs(),
            }),
        )
        .await
    }
}
