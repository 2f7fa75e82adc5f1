//! The server's shared state: the inbox, the connectors accounts are built with, limits,
//! metrics, the sign-in limiter, pending connection flows, readiness.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::AccountId as CoreAccountId;
use messenger_core::connection::ConnectionFlow;
use messenger_core::layers::{RetryPolicy, SeenEvents, Stack};
use messenger_core::oauth::{OAuthTokens, TokenStore};
use messenger_core::redact::Secret;
use messenger_core::registry::{AccountStores, ConnectorEntry};
use messenger_core::{Messenger, Platform};
use messenger_inbox::{
    Account, AccountKey, EmployeeId, Inbox, InboxError, MemoryResolver, MessengerProvider,
    SecretRef,
};
use tokio::sync::watch;

use crate::auth::SignInLimiter;
use crate::config::Intake;
use crate::metrics::Metrics;

/// The connectors the server builds accounts with: the registry entries, one per platform
/// (each with its connection flow, where it has one).
///
/// ```
/// let connectors = messenger_server::Connectors::new([]);
/// assert!(connectors.entry(messenger_core::Platform::Telegram).is_none());
/// ```
#[derive(Clone, Default)]
pub struct Connectors {
    entries: Vec<ConnectorEntry>,
}

impl Connectors {
    /// The connectors of `entries` (e.g. the CLI's registry), without flows.
    pub fn new(entries: impl IntoIterator<Item = ConnectorEntry>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }

    /// The entry of `platform`.
    pub fn entry(&self, platform: Platform) -> Option<&ConnectorEntry> {
        self.entries.iter().find(|e| e.platform == platform)
    }

    /// The connection flow of `platform`, if it has one.
    pub fn flow_of(&self, platform: Platform) -> Option<messenger_core::registry::FlowFn> {
        self.entry(platform).and_then(|e| e.flow)
    }

    /// The platforms with a connector.
    pub fn platforms(&self) -> Vec<Platform> {
        self.entries.iter().map(|e| e.platform).collect()
    }
}

impl fmt::Debug for Connectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connectors")
            .field("platforms", &self.platforms())
            .field(
                "flows",
                &self
                    .entries
                    .iter()
                    .filter(|e| e.flow.is_some())
                    .map(|e| e.platform)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A seen-event store that remembers nothing: the inbox's intake is idempotent (unique on the
/// platform's message id; statuses monotonic), so it is the de-duplication, and an event that
/// was not stored (the database failed after the connector handed it out) is never dropped as
/// a repeat when the platform sends it again.
#[derive(Debug, Default)]
struct IngestIsTheDedup;

#[async_trait]
impl SeenEvents for IngestIsTheDedup {
    async fn is_seen(&self, _key: &str) -> messenger_core::Result<bool> {
        Ok(false)
    }
    async fn mark_seen(&self, _keys: &[String]) -> messenger_core::Result<()> {
        Ok(())
    }
}

/// Builds each account's messenger: its registry entry over its settings and resolved
/// secrets, in core's layer stack with the inbox's consent stores. Cached per account until the
/// inbox says the account changed.
pub struct ServerProvider {
    connectors: Connectors,
    retry: Option<RetryPolicy>,
    secret_sink: Option<Arc<dyn SecretSink>>,
    cache: Mutex<HashMap<AccountKey, Arc<dyn Messenger>>>,
}

impl fmt::Debug for ServerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerProvider")
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

impl ServerProvider {
    /// A provider over `connectors`.
    pub fn new(connectors: Connectors) -> Self {
        Self {
            connectors,
            retry: None,
            secret_sink: None,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Where a connector's rotated OAuth refresh token is kept (the same place the connection
    /// flow put the first one), so a restart keeps the connection.
    pub fn secret_sink(mut self, sink: Arc<dyn SecretSink>) -> Self {
        self.secret_sink = Some(sink);
        self
    }

    /// The retry policy of every stack.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The connectors.
    pub fn connectors(&self) -> &Connectors {
        &self.connectors
    }
}

#[async_trait]
impl MessengerProvider for ServerProvider {
    async fn messenger(
        &self,
        inbox: &Inbox,
        account: &Account,
    ) -> messenger_inbox::Result<Arc<dyn Messenger>> {
        if let Some(m) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&account.id)
        {
            return Ok(m.clone());
        }
        let entry = self
            .connectors
            .entry(account.platform)
            .ok_or_else(|| InboxError::invalid(format!("no connector for {}", account.platform)))?;
        let credentials = inbox.credentials(account).await?;
        // Shared state in the database or the secrets folder, so that every node (and a
        // restart) agrees: the customers' reply windows, and an OAuth refresh token rotated
        // by the connector.
        let mut stores = AccountStores::new()
            .account(account.id.core_id())
            .reply_windows(Arc::new(inbox.reply_window_store(account.id)));
        if let Some(sink) = &self.secret_sink {
            stores = stores.tokens(Arc::new(SinkTokens {
                sink: sink.clone(),
                account: account.id,
            }));
        }
        let connector = (entry.build)(&credentials, &stores)?;
        let mut stack = Stack::new(connector, account.id.core_id(), inbox.consent().clone())
            .seen_events(Arc::new(IngestIsTheDedup));
        if let Some(policy) = self.retry {
            stack = stack.retry_policy(policy);
        }
        let messenger: Arc<dyn Messenger> = Arc::new(stack.build());
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.id, messenger.clone());
        Ok(messenger)
    }

    fn forget(&self, account: AccountKey) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account);
    }
}

/// A connector's token store over the server's [`SecretSink`]: a rotated refresh token is kept
/// where the connection flow kept the first one (the same reference, so the account's
/// credentials need no change); the connector starts from its credentials, so nothing is loaded.
#[derive(Debug)]
struct SinkTokens {
    sink: Arc<dyn SecretSink>,
    account: AccountKey,
}

#[async_trait]
impl TokenStore for SinkTokens {
    async fn load(&self, _account: &CoreAccountId) -> messenger_core::Result<Option<OAuthTokens>> {
        Ok(None)
    }

    async fn save(
        &self,
        _account: &CoreAccountId,
        tokens: &OAuthTokens,
    ) -> messenger_core::Result<()> {
        if let Some(refresh) = &tokens.refresh_token {
            self.sink
                .keep(self.account, "refresh_token", refresh.clone())
                .await
                .map_err(|e| {
                    messenger_core::Error::new(messenger_core::ErrorKind::Storage, e.to_string())
                })?;
        }
        Ok(())
    }

    async fn remove(&self, _account: &CoreAccountId) -> messenger_core::Result<()> {
        Ok(())
    }
}

/// Where the server keeps a secret it obtained itself (an OAuth refresh token), returning the
/// reference the account keeps.
#[async_trait]
pub trait SecretSink: Send + Sync + fmt::Debug {
    /// Keeps `value` as `name` of `account`.
    async fn keep(
        &self,
        account: AccountKey,
        name: &str,
        value: Secret<String>,
    ) -> messenger_inbox::Result<SecretRef>;
}

/// Keeps secrets as files (mode 0600) in a directory, referenced as `file:`.
#[derive(Debug, Clone)]
pub struct DirSecretSink {
    dir: PathBuf,
}

impl DirSecretSink {
    /// Files in `dir` (an absolute path; created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl SecretSink for DirSecretSink {
    async fn keep(
        &self,
        account: AccountKey,
        name: &str,
        value: Secret<String>,
    ) -> messenger_inbox::Result<SecretRef> {
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let dir = std::path::absolute(&self.dir)
            .map_err(|e| InboxError::storage(format!("secrets_dir: {}", e.kind())))?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| InboxError::storage(format!("secrets_dir: {}", e.kind())))?;
        let path = dir.join(format!("account-{account}-{safe}"));
        let tmp = dir.join(format!(".account-{account}-{safe}.tmp"));
        write_private(&tmp, value.expose_str().as_bytes())
            .await
            .map_err(|e| InboxError::storage(format!("secrets_dir: {}", e.kind())))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| InboxError::storage(format!("secrets_dir: {}", e.kind())))?;
        SecretRef::parse(&format!("file:{}", path.display()))
    }
}

async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let path = path.to_owned();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        file.write_all(&bytes)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Keeps secrets in a [`MemoryResolver`] (`mem:`): a development server, the sandbox.
#[derive(Debug, Clone)]
pub struct MemorySecretSink(pub Arc<MemoryResolver>);

#[async_trait]
impl SecretSink for MemorySecretSink {
    async fn keep(
        &self,
        account: AccountKey,
        name: &str,
        value: Secret<String>,
    ) -> messenger_inbox::Result<SecretRef> {
        Ok(self
            .0
            .insert(format!("account-{account}-{name}"), value.into_inner()))
    }
}

/// What the router needs to know besides the inbox.
#[derive(Clone)]
pub struct Options {
    /// The largest JSON body of an API route.
    pub api_body_bytes: usize,
    /// The largest media of a send.
    pub media_bytes: usize,
    /// The largest webhook body.
    pub webhook_body_bytes: usize,
    /// How long a session lasts.
    pub session: Duration,
    /// How long an event-stream ticket lasts.
    pub ticket: Duration,
    /// Sign-in attempts per address per minute.
    pub sign_in_per_address_per_minute: u32,
    /// Failed sign-ins per login per 15 minutes.
    pub sign_in_failures_per_login: u32,
    /// Where the platforms reach this server (webhook URLs).
    pub public_url: Option<String>,
    /// The operator's bearer token.
    pub operator_token: Option<Secret<String>>,
    /// Where secrets obtained by connection flows go.
    pub secret_sink: Option<Arc<dyn SecretSink>>,
    /// How often an event stream sends a keep-alive comment.
    pub keep_alive: Duration,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("api_body_bytes", &self.api_body_bytes)
            .field("media_bytes", &self.media_bytes)
            .field("public_url", &self.public_url)
            .field("operator_token", &self.operator_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        let limits = crate::config::Limits::default();
        Self {
            api_body_bytes: limits.api_body_bytes,
            media_bytes: limits.media_bytes,
            webhook_body_bytes: limits.webhook_body_bytes,
            session: Duration::from_secs(limits.session_hours * 3600),
            ticket: Duration::from_secs(60),
            sign_in_per_address_per_minute: limits.sign_in_per_address_per_minute,
            sign_in_failures_per_login: limits.sign_in_failures_per_login,
            public_url: None,
            operator_token: None,
            secret_sink: None,
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// A connection flow waiting for the user.
pub(crate) struct PendingFlow {
    pub(crate) flow: Arc<dyn ConnectionFlow>,
    pub(crate) tokens: Arc<crate::api::accounts::CapturedTokens>,
    pub(crate) started: tokio::time::Instant,
    pub(crate) by: EmployeeId,
}

/// What readiness depends on.
#[derive(Debug, Default)]
pub(crate) struct Health {
    pub(crate) shutting_down: AtomicBool,
    pub(crate) workers_expected: AtomicUsize,
    pub(crate) workers_alive: AtomicUsize,
    pub(crate) pollers_expected: AtomicBool,
    pub(crate) pollers_alive: AtomicBool,
}

/// Counts a running worker while alive.
pub(crate) struct Alive<'a>(&'a AtomicUsize);

impl<'a> Alive<'a> {
    pub(crate) fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct Inner {
    pub(crate) inbox: Inbox,
    pub(crate) provider: Arc<ServerProvider>,
    pub(crate) options: Options,
    pub(crate) metrics: Metrics,
    pub(crate) limiter: SignInLimiter,
    pub(crate) flows: Mutex<HashMap<AccountKey, PendingFlow>>,
    pub(crate) health: Health,
    pub(crate) shutdown: watch::Sender<bool>,
}

/// The state of the router: cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerState")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// The state over `inbox`: accounts are built with `connectors` (the provider is set on
    /// the inbox, so its outbox workers send through the same stacks).
    pub fn new(inbox: Inbox, connectors: Connectors, options: Options) -> Self {
        Self::with_provider(inbox, Arc::new(ServerProvider::new(connectors)), options)
    }

    /// [`new`](Self::new) with a provider of one's own (a retry policy, say).
    pub fn with_provider(inbox: Inbox, provider: Arc<ServerProvider>, options: Options) -> Self {
        inbox.set_provider(provider.clone());
        let limiter = SignInLimiter::new(
            options.sign_in_per_address_per_minute,
            options.sign_in_failures_per_login,
        );
        Self {
            inner: Arc::new(Inner {
                inbox,
                provider,
                options,
                metrics: Metrics::default(),
                limiter,
                flows: Mutex::new(HashMap::new()),
                health: Health::default(),
                shutdown: watch::channel(false).0,
            }),
        }
    }

    /// The inbox.
    pub fn inbox(&self) -> &Inbox {
        &self.inner.inbox
    }

    /// The messenger of an account (the stack the outbox and intake use).
    pub async fn messenger(
        &self,
        account: &Account,
    ) -> messenger_inbox::Result<Arc<dyn Messenger>> {
        self.inner
            .provider
            .messenger(&self.inner.inbox, account)
            .await
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The webhook URL of `account`, where a public URL is configured (the Avito connector's
    /// URL token, where it has one, is added by the connector: see its `webhook_url`).
    pub fn webhook_url(&self, account: &Account) -> Option<String> {
        self.inner.options.public_url.as_ref().map(|base| {
            format!(
                "{}/webhooks/{}/{}",
                base.trim_end_matches('/'),
                account.platform.as_str(),
                account.id
            )
        })
    }

    /// How `account` takes in messages: `poll` or `webhook` (the setting `intake`, `auto` by
    /// default: long polling where the platform has it).
    pub fn intake_of(&self, account: &Account) -> Intake {
        let caps = messenger_core::Capabilities::of(account.platform);
        match account.settings.get("intake").map(String::as_str) {
            Some("webhook") => Intake::Webhook,
            Some("poll") if caps.intake.long_poll => Intake::Poll,
            _ if caps.intake.long_poll => Intake::Poll,
            _ => Intake::Webhook,
        }
    }

    /// Tells event streams and workers that the server is stopping.
    pub fn begin_shutdown(&self) {
        self.inner
            .health
            .shutting_down
            .store(true, Ordering::SeqCst);
        let _ = self.inner.shutdown.send(true);
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// The metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
