//! What a connector tells the tools built on it (the CLI, the demo, the server) about itself:
//! its platform, how to build an account from credentials (taken from the environment or
//! from a sandbox account), and its one parser.
//!
//! Each connector crate exports one [`ConnectorEntry`] constant (`connector_telegram::ENTRY`);
//! the tools keep a list of them and iterate over it, so adding a platform is one line there.
//!
//! ```
//! use messenger_core::registry::{ConnectorEntry, Credentials, EnvVar};
//! use messenger_core::{Error, Platform};
//!
//! const ENTRY: ConnectorEntry = ConnectorEntry {
//!     platform: Platform::Telegram,
//!     env: &[EnvVar::required("TELEGRAM_TOKEN", "token", "the bot token from @BotFather")],
//!     build: |_credentials, _stores| Err(Error::unsupported("a doc example")),
//!     parse: |_body| Ok(Vec::new()),
//!     flow: None,
//! };
//!
//! let env = |name: &str| (name == "TELEGRAM_TOKEN").then(|| "123:ABC".to_owned());
//! let credentials = ENTRY.credentials_from_env(env).unwrap();
//! assert_eq!(credentials.get("token"), Some("123:ABC"));
//! assert!(!format!("{credentials:?}").contains("ABC"));
//! let missing = ENTRY.credentials_from_env(|_| None).unwrap_err();
//! assert!(missing.to_string().contains("TELEGRAM_TOKEN"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::connection::{ConnectionFlow, DirectConnection};
use crate::error::{Error, Result};
use crate::messenger::Messenger;
use crate::model::AccountId;
use crate::model::{InboundEvent, Platform};
use crate::oauth::TokenStore;
use crate::redact::Secret;
use crate::window::ReplyWindowStore;

/// The credential key of an API base URL (a sandbox, a local Bot API server, a proxy).
pub const BASE_URL: &str = "base_url";

/// Named credentials of one account (`token`, `app_secret`, `phone_number_id`, [`BASE_URL`]...).
///
/// Every value is a [`Secret`]: `Debug` shows the keys, never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    values: BTreeMap<String, Secret<String>>,
}

impl Credentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `key`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Adds or replaces `key`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), Secret::new(value.into()));
    }

    /// The value of `key`, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(Secret::expose_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `key`, or an `InvalidInput` error naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| Error::invalid_input(format!("the credential `{key}` is missing")))
    }

    /// The keys that are set.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.values.iter()).finish()
    }
}

/// An environment variable a connector reads its credentials from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable (`TELEGRAM_TOKEN`).
    pub name: &'static str,
    /// The credential key it fills (`token`).
    pub key: &'static str,
    /// Whether the connector cannot be built without it.
    pub required: bool,
    /// What it is, for help texts.
    pub help: &'static str,
}

impl EnvVar {
    /// A variable the connector needs.
    pub const fn required(name: &'static str, key: &'static str, help: &'static str) -> Self {
        Self {
            name,
            key,
            required: true,
            help,
        }
    }

    /// A variable the connector can do without.
    pub const fn optional(name: &'static str, key: &'static str, help: &'static str) -> Self {
        Self {
            name,
            key,
            required: false,
            help,
        }
    }
}

/// State an account's connector keeps outside itself, so that restarts and several processes
/// (the server's nodes) agree: its reply windows, its OAuth tokens. A field left `None` means
/// the connector's own in-memory default; a connector uses what concerns its platform and
/// ignores the rest.
///
/// ```
/// use std::sync::Arc;
/// use messenger_core::registry::AccountStores;
/// use messenger_core::window::MemoryReplyWindowStore;
/// let stores = AccountStores::new()
///     .account("shop-17")
///     .reply_windows(Arc::new(MemoryReplyWindowStore::default()));
/// assert!(stores.tokens.is_none());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct AccountStores {
    /// The CRM's id of the account (the key of its entries in shared stores).
    pub account: Option<AccountId>,
    /// When each customer last wrote (platforms with a reply window).
    pub reply_windows: Option<Arc<dyn ReplyWindowStore>>,
    /// OAuth tokens, saved on every rotation (platforms that connect through OAuth).
    pub tokens: Option<Arc<dyn TokenStore>>,
}

impl AccountStores {
    /// No shared stores: every connector keeps its state in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the account.
    pub fn account(mut self, account: impl Into<AccountId>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Shares a reply-window store.
    pub fn reply_windows(mut self, store: Arc<dyn ReplyWindowStore>) -> Self {
        self.reply_windows = Some(store);
        self
    }

    /// Shares a token store.
    pub fn tokens(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.tokens = Some(store);
        self
    }
}

impl fmt::Debug for AccountStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountStores")
            .field("account", &self.account)
            .field("reply_windows", &self.reply_windows.is_some())
            .field("tokens", &self.tokens.is_some())
            .finish()
    }
}

/// Builds one account from its credentials and the stores it shares.
pub type BuildFn = fn(&Credentials, &AccountStores) -> Result<Arc<dyn Messenger>>;

/// The platform's one parser: a raw webhook body or polled update, to events.
pub type ParseFn = fn(&[u8]) -> Result<Vec<InboundEvent>>;

/// Starts the connection flow of an account from its (partial) credentials: an OAuth
/// consent, a QR code, a one-time code. Tokens the flow obtains go to the stores' token store
/// (the CLI's is in memory; the server keeps them as secret references).
pub type FlowFn = fn(&Credentials, &AccountStores) -> Result<Arc<dyn ConnectionFlow>>;

/// A connector's entry in the tools' registry; see the [module docs](self).
#[derive(Clone, Copy)]
pub struct ConnectorEntry {
    /// The platform.
    pub platform: Platform,
    /// Where [`from_env`](Self::from_env) reads the credentials.
    pub env: &'static [EnvVar],
    /// Builds an account (a bare connector, without layers) from credentials.
    pub build: BuildFn,
    /// The parser that `messenger parse`, the webhook handler and long polling share.
    pub parse: ParseFn,
    /// The connection flow, where connecting takes more than the credentials (Avito's OAuth
    /// authorization code); `None` where [`build`](Self::build) and
    /// [`Messenger::connect`] are all it takes.
    pub flow: Option<FlowFn>,
}

impl ConnectorEntry {
    /// Reads the credentials from environment variables through `lookup`; a missing required
    /// variable is `InvalidInput` naming it.
    pub fn credentials_from_env(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials> {
        let mut credentials = Credentials::new();
        let mut missing = Vec::new();
        for var in self.env {
            match lookup(var.name).filter(|v| !v.is_empty()) {
                Some(value) => credentials.set(var.key, value),
                None if var.required => missing.push(var.name),
                None => {}
            }
        }
        if missing.is_empty() {
            Ok(credentials)
        } else {
            Err(Error::invalid_input(format!(
                "set {} to connect to {}",
                missing.join(", "),
                self.platform.display_name()
            ))
            .with_platform(self.platform))
        }
    }

    /// The connection flow for `credentials`: the connector's own where it has one, else a
    /// [`DirectConnection`] (build, then [`Messenger::connect`]).
    pub fn connection_flow(
        &self,
        credentials: &Credentials,
        stores: &AccountStores,
    ) -> Result<Arc<dyn ConnectionFlow>> {
        match self.flow {
            Some(flow) => flow(credentials, stores),
            None => Ok(Arc::new(DirectConnection::new((self.build)(
                credentials,
                stores,
            )?))),
        }
    }

    /// Builds an account from the process environment.
    pub fn from_env(&self) -> Result<Arc<dyn Messenger>> {
        (self.build)(
            &self.credentials_from_env(|name| std::env::var(name).ok())?,
            &AccountStores::new(),
        )
    }
}

impl fmt::Debug for ConnectorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorEntry")
            .field("platform", &self.platform)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}
