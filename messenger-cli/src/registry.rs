//! The connectors this build ships, one line each: `capabilities`, `parse`, `send`, `listen`,
//! `connect` and `demo` iterate over [`CONNECTORS`], so a new platform is one line here (and its
//! crate in `Cargo.toml`).
//!
//! An account opened through [`open`] carries what its connector offers besides sending and
//! receiving: its entry's connection flow and the statuses it polls for; the tools never name a
//! platform.

use std::fmt;
use std::sync::Arc;

use messenger_core::connection::{ConnectionFlow, DirectConnection};
use messenger_core::oauth::MemoryTokenStore;
use messenger_core::registry::{AccountStores, ConnectorEntry, Credentials, FlowFn};
use messenger_core::{
    ChatId, Error, ErrorKind, EventStream, MessageId, Messenger, Platform, Result,
};

/// Every connector of this build.
pub const CONNECTORS: &[ConnectorEntry] = &[
    connector_telegram::ENTRY,
    connector_whatsapp::ENTRY,
    connector_max::ENTRY,
    connector_vk::ENTRY,
    connector_avito::ENTRY,
];

/// An account built from its credentials, with its entry's connection flow
/// ([`ConnectorEntry::flow`]) and the statuses its connector polls for
/// ([`Messenger::status_updates`]).
#[derive(Clone)]
pub struct Account {
    /// The connector.
    pub messenger: Arc<dyn Messenger>,
    flow: Option<FlowFn>,
    credentials: Credentials,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("platform", &self.messenger.platform())
            .field("flow", &self.flow.is_some())
            .finish_non_exhaustive()
    }
}

impl Account {
    /// Whether connecting takes more than the credentials (its entry has a flow).
    pub fn has_flow(&self) -> bool {
        self.flow.is_some()
    }

    /// The account's connection flow: the connector's own (an OAuth consent), or, with
    /// `direct` or where it has none, a plain connect. Tokens are kept in memory.
    pub fn connection_flow(&self, direct: bool) -> Result<Arc<dyn ConnectionFlow>> {
        match (self.flow, direct) {
            (Some(flow), false) => flow(
                &self.credentials,
                &AccountStores::new().tokens(Arc::new(MemoryTokenStore::default())),
            ),
            _ => Ok(Arc::new(DirectConnection::new(self.messenger.clone()))),
        }
    }

    /// The statuses the connector polls for (its
    /// [`status_updates`](Messenger::status_updates)), watching `watch` besides what it sent
    /// itself; `None` where the platform pushes its statuses.
    pub fn polled_statuses(&self, watch: &[(ChatId, MessageId)]) -> Option<EventStream> {
        match self.messenger.status_updates() {
            Ok(stream) => {
                for (chat, message) in watch {
                    // Watching is bookkeeping in the connector; it cannot fail a poll.
                    let _ = self.messenger.track_status(chat, message);
                }
                Some(stream)
            }
            Err(err) if err.kind() == ErrorKind::Unsupported => None,
            Err(err) => Some(Box::pin(futures::stream::once(async move { Err(err) }))),
        }
    }
}

/// The connector of `platform`, or `Unsupported` naming the platforms that have one.
///
/// ```
/// use messenger_core::{ErrorKind, Platform};
/// assert_eq!(messenger_cli::registry::entry(Platform::Telegram).unwrap().platform, Platform::Telegram);
/// # let missing = Platform::ALL.into_iter().find(|p| !messenger_cli::registry::has_connector(*p));
/// # if let Some(p) = missing {
/// assert_eq!(messenger_cli::registry::entry(p).unwrap_err().kind(), ErrorKind::Unsupported);
/// # }
/// ```
pub fn entry(platform: Platform) -> Result<&'static ConnectorEntry> {
    CONNECTORS
        .iter()
        .find(|e| e.platform == platform)
        .ok_or_else(|| {
            let have: Vec<&str> = CONNECTORS.iter().map(|e| e.platform.as_str()).collect();
            Error::unsupported(format!(
                "no {} connector in this build (available: {})",
                platform.display_name(),
                have.join(", ")
            ))
            .with_platform(platform)
        })
}

/// Whether this build ships a connector for `platform`.
pub fn has_connector(platform: Platform) -> bool {
    CONNECTORS.iter().any(|e| e.platform == platform)
}

/// Builds an account of `platform` from `credentials`, with its connection flow and polled
/// statuses where it has any.
///
/// ```
/// use messenger_core::Platform;
/// use messenger_core::registry::Credentials;
/// let credentials = Credentials::new().with("token", "123:ABC");
/// let account = messenger_cli::registry::open(Platform::Telegram, &credentials).unwrap();
/// assert_eq!(account.messenger.platform(), Platform::Telegram);
/// // Telegram pushes what there is to know, and a token is all it takes to connect.
/// assert!(account.polled_statuses(&[]).is_none());
/// assert!(!account.has_flow());
/// ```
pub fn open(platform: Platform, credentials: &Credentials) -> Result<Account> {
    let entry = entry(platform)?;
    Ok(Account {
        messenger: (entry.build)(credentials, &AccountStores::new())?,
        flow: entry.flow,
        credentials: credentials.clone(),
    })
}

/// The environment variables of every connector, as `send --help` lists them (without
/// `--sandbox`, credentials come from there).
///
/// ```
/// let help = messenger_cli::registry::env_help();
/// assert!(help.contains("TELEGRAM_TOKEN") && help.contains("AVITO_CLIENT_SECRET"));
/// ```
pub fn env_help() -> String {
    let mut out = String::from("Credentials without --sandbox come from the environment:\n");
    for entry in CONNECTORS {
        out.push_str(&format!("\n  {}:\n", entry.platform.display_name()));
        for var in entry.env {
            let need = if var.required { "required" } else { "optional" };
            out.push_str(&format!("    {:<26} {need}: {}\n", var.name, var.help));
        }
    }
    out
}
