//! The server's configuration: a TOML file (`messenger serve --config server.toml`).
//!
//! Secrets are never in the file: every credential, the acceptance key, the operator token and
//! initial passwords are references (`env:NAME`, `file:/absolute/path`) resolved when used, the
//! same references the inbox keeps for accounts.
//!
//! ```
//! let config = messenger_server::ServerConfig::from_toml(r#"
//! listen = "127.0.0.1:8080"
//! database = "sqlite:/var/lib/messenger/inbox.db"
//! public_url = "https://crm.example"
//! acceptance_key = "env:MESSENGER_ACCEPTANCE_KEY"
//! operator_token = "env:MESSENGER_OPERATOR_TOKEN"
//!
//! [agreement]
//! edition = "2026-05"
//! published = "2026-05-31T00:00:00Z"
//! url = "https://crm.example/agreement"
//! text_file = "/etc/messenger/agreement.txt"
//!
//! [workspace]
//! name = "Shop"
//!
//! [[employees]]
//! login = "anna"
//! name = "Anna"
//! role = "owner"
//! password = "env:ANNA_INITIAL_PASSWORD"
//!
//! [[employees]]
//! login = "boris"
//! name = "Boris"
//! role = "agent"
//! password = "file:/run/secrets/boris"
//! grants = [{ account = "Shop bot", rights = ["read", "reply"] }]
//!
//! [[accounts]]
//! name = "Shop bot"
//! platform = "telegram"
//! intake = "poll"
//! activate = true
//! secrets = { token = "env:SHOP_TELEGRAM_TOKEN" }
//! "#).unwrap();
//! assert_eq!(config.accounts[0].platform, messenger_core::Platform::Telegram);
//! assert_eq!(config.polling.lease_seconds, 15);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use messenger_core::Platform;
use messenger_inbox::{Permissions, Role, SecretRef};
use serde::Deserialize;

/// The whole configuration file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8080`; port 0 picks a free one).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The database: `sqlite:<path>` (the default, `sqlite:messenger.db`) or
    /// `postgres://user:password@host/db` for several nodes. A password in the URL is better
    /// given through `database_url_ref`.
    #[serde(default = "default_database")]
    pub database: String,
    /// The database URL as a secret reference (wins over `database`).
    #[serde(default)]
    pub database_url_ref: Option<SecretRef>,
    /// PostgreSQL only: keep the tables in this schema.
    #[serde(default)]
    pub database_schema: Option<String>,
    /// The URL the platforms reach this server at: webhook URLs are
    /// `{public_url}/webhooks/{platform}/{account}` (default: `http://` and the listening
    /// address, which serves a loopback or LAN setup only). Registering the URL with each
    /// platform is the operator's step (the API shows every account's `webhook_url`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The key of the acceptance log (at least 32 bytes, as 64+ hex digits or base64), by
    /// reference. Keep it as long as the records.
    pub acceptance_key: SecretRef,
    /// The service operator's bearer token for `/api/operator/*` (suspending platforms,
    /// forwarding subject requests), by reference. Without it those routes answer 401.
    #[serde(default)]
    pub operator_token: Option<SecretRef>,
    /// Where the server writes secrets it obtains itself (an OAuth refresh token after a
    /// connection flow), one file each, referenced as `file:`. Several nodes need it shared.
    #[serde(default)]
    pub secrets_dir: Option<PathBuf>,
    /// This node's name in leases and outbox claims (default: host name and process id).
    #[serde(default)]
    pub node: Option<String>,
    /// Outbox workers on this node (default 2).
    #[serde(default = "default_workers")]
    pub outbox_workers: usize,
    /// How long a claimed outbox row stays a dead worker's, in seconds (default 60).
    #[serde(default = "default_outbox_lease")]
    pub outbox_lease_seconds: u64,
    /// Long-poll leases.
    #[serde(default)]
    pub polling: PollingConfig,
    /// Body limits and sessions.
    #[serde(default)]
    pub limits: Limits,
    /// The agreement edition to publish on start.
    #[serde(default)]
    pub agreement: Option<AgreementConfig>,
    /// The workspace created on the first start.
    #[serde(default)]
    pub workspace: Option<WorkspaceConfig>,
    /// Employees created on the first start (the first `owner` creates the workspace).
    #[serde(default)]
    pub employees: Vec<EmployeeConfig>,
    /// Accounts connected on start (matched by platform and name; never duplicated).
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("employees", &self.employees.len())
            .field("accounts", &self.accounts.len())
            .finish_non_exhaustive()
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}
fn default_database() -> String {
    "sqlite:messenger.db".to_owned()
}
fn default_workers() -> usize {
    2
}
fn default_outbox_lease() -> u64 {
    60
}

/// Long-poll leases: one node polls each account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingConfig {
    /// How long a lease lasts without renewal, in seconds (default 15). A node that dies is
    /// replaced after at most this long.
    #[serde(default = "default_lease")]
    pub lease_seconds: u64,
    /// Whether this node polls at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_lease() -> u64 {
    15
}
fn yes() -> bool {
    true
}

impl Default for PollingConfig {
    fn default() -> Self {
        Self {
            lease_seconds: default_lease(),
            enabled: true,
        }
    }
}

/// Body limits and session lifetime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest JSON body of an API route, in bytes (default 1 MiB).
    #[serde(default = "default_api_body")]
    pub api_body_bytes: usize,
    /// The largest media a send may carry, in bytes (default 20 MiB; its JSON body, base64,
    /// may be a third larger).
    #[serde(default = "default_media")]
    pub media_bytes: usize,
    /// The largest webhook body, in bytes (default 1 MiB).
    #[serde(default = "default_api_body")]
    pub webhook_body_bytes: usize,
    /// How long a sign-in session lasts, in hours (default 12).
    #[serde(default = "default_session")]
    pub session_hours: u64,
    /// Sign-in attempts per client address per minute (default 20).
    #[serde(default = "default_per_address")]
    pub sign_in_per_address_per_minute: u32,
    /// Failed sign-ins per login per 15 minutes before it is held (default 5).
    #[serde(default = "default_per_login")]
    pub sign_in_failures_per_login: u32,
}

fn default_api_body() -> usize {
    1 << 20
}
fn default_media() -> usize {
    20 << 20
}
fn default_session() -> u64 {
    12
}
fn default_per_address() -> u32 {
    20
}
fn default_per_login() -> u32 {
    5
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api_body_bytes: default_api_body(),
            media_bytes: default_media(),
            webhook_body_bytes: default_api_body(),
            session_hours: default_session(),
            sign_in_per_address_per_minute: default_per_address(),
            sign_in_failures_per_login: default_per_login(),
        }
    }
}

/// The agreement edition in force.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementConfig {
    /// Its id (`2026-05`).
    pub edition: String,
    /// When it was published.
    pub published: DateTime<Utc>,
    /// Where it is published.
    pub url: url::Url,
    /// The file holding its text (hashed into the edition).
    #[serde(default)]
    pub text_file: Option<PathBuf>,
    /// Its text inline (instead of `text_file`).
    #[serde(default)]
    pub text: Option<String>,
}

/// The workspace of the first start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// The business's name.
    pub name: String,
}

/// An employee to create on the first start.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeConfig {
    /// The sign-in login.
    pub login: String,
    /// Their name.
    pub name: String,
    /// `owner`, `admin`, `agent` or `viewer`.
    pub role: Role,
    /// The initial password, by reference (set once, when the employee is created).
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Or an argon2 hash of it (a PHC string).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Grants on configured accounts.
    #[serde(default)]
    pub grants: Vec<GrantConfig>,
}

impl fmt::Debug for EmployeeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmployeeConfig")
            .field("login", &self.login)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A grant in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// The account's `name`.
    pub account: String,
    /// `read`, `reply`, `manage`.
    pub rights: Vec<Right>,
}

/// One right of a [`GrantConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Read.
    Read,
    /// Reply.
    Reply,
    /// Manage.
    Manage,
}

impl GrantConfig {
    /// The rights as [`Permissions`].
    pub fn permissions(&self) -> Permissions {
        Permissions {
            read: self.rights.contains(&Right::Read),
            reply: self.rights.contains(&Right::Reply),
            manage: self.rights.contains(&Right::Manage),
        }
    }
}

/// How an account's inbound messages arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Intake {
    /// Long polling where the platform has it, else webhooks (the default).
    #[default]
    Auto,
    /// Long polling (one node at a time, under a lease).
    Poll,
    /// Webhooks to `{public_url}/webhooks/{platform}/{account}`.
    Webhook,
}

impl Intake {
    /// The setting stored with the account.
    pub fn as_str(self) -> &'static str {
        match self {
            Intake::Auto => "auto",
            Intake::Poll => "poll",
            Intake::Webhook => "webhook",
        }
    }
}

/// An account to connect on start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Its name in the CRM (unique per platform here).
    pub name: String,
    /// The platform.
    pub platform: Platform,
    /// Poll or webhooks.
    #[serde(default)]
    pub intake: Intake,
    /// Activate the module for it at once, accepting the configured edition on the owner's
    /// behalf (the evidence names this file). Otherwise the owner activates it in the API.
    #[serde(default)]
    pub activate: bool,
    /// Settings that are not secret (`base_url`, `group_id`, `phone_number_id`...).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Credentials by reference (`token = "env:SHOP_TELEGRAM_TOKEN"`).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
}

impl ServerConfig {
    /// Parses a configuration file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("the configuration is not valid: {e}"))
    }

    /// A configuration with defaults and the acceptance key at `acceptance_key`.
    pub fn new(acceptance_key: SecretRef) -> Self {
        Self {
            listen: default_listen(),
            database: default_database(),
            database_url_ref: None,
            database_schema: None,
            public_url: None,
            acceptance_key,
            operator_token: None,
            secrets_dir: None,
            node: None,
            outbox_workers: default_workers(),
            outbox_lease_seconds: default_outbox_lease(),
            polling: PollingConfig::default(),
            limits: Limits::default(),
            agreement: None,
            workspace: None,
            employees: Vec::new(),
            accounts: Vec::new(),
        }
    }
}
