//! [`Server`]: the router on a listener, with this node's outbox workers and poll manager, a
//! first-start bootstrap from the configuration, and a graceful shutdown that finishes the
//! sends in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use messenger_core::consent::{AcceptanceKey, AgreementEdition};
use messenger_core::layers::RetryPolicy;
use messenger_core::redact::Secret;
use messenger_inbox::{
    DbConfig, EmployeeId, EnvFileResolver, Inbox, InboxError, NewAccount, OutboxConfig, Role,
    SecretResolver,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::hash_blocking;
use crate::config::ServerConfig;
use crate::poll::PollObserver;
use crate::state::{
    Alive, Connectors, DirSecretSink, Options, SecretSink, ServerProvider, ServerState,
};

/// Builds a [`Server`] from a configuration; see [`Server::builder`].
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
    connectors: Connectors,
    resolver: Arc<dyn SecretResolver>,
    observer: Option<PollObserver>,
    sink: Option<Arc<dyn SecretSink>>,
    retry: Option<RetryPolicy>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    state: ServerState,
    node: String,
    http: Option<JoinHandle<()>>,
    http_stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    workers_stop: watch::Sender<bool>,
    poller: Option<JoinHandle<()>>,
    poller_stop: watch::Sender<bool>,
    housekeeping: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> InboxError {
    InboxError::invalid(message)
}

/// An acceptance key from its secret text: hex (64+ digits) or base64 of at least 32 bytes.
fn acceptance_key(text: &str) -> Result<AcceptanceKey, InboxError> {
    let text = text.trim();
    let bytes = if text.len() >= 64
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        hex::decode(text).map_err(|_| invalid("the acceptance key is not valid hex"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| invalid("the acceptance key is 64+ hex digits or base64 of 32+ bytes"))?
    };
    AcceptanceKey::new(Secret::new(bytes)).map_err(InboxError::from)
}

impl Server {
    /// A server of `config`, building accounts with `connectors`. Secrets are resolved with
    /// [`EnvFileResolver`] (`env:`, `file:`) unless another resolver is given.
    pub fn builder(config: ServerConfig, connectors: Connectors) -> ServerBuilder {
        ServerBuilder {
            config,
            connectors,
            resolver: Arc::new(EnvFileResolver),
            observer: None,
            sink: None,
            retry: None,
        }
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// This node's name (in leases and outbox claims).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The router's state.
    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// The inbox.
    pub fn inbox(&self) -> &Inbox {
        self.state.inbox()
    }

    /// Stops at once, like a process that died: every task is aborted, no lease is given up,
    /// rows being sent stay claimed until their lease runs out (for crash tests; pollers stop by
    /// themselves when their lease is not renewed in time).
    pub fn abort(mut self) {
        self.state.begin_shutdown();
        if let Some(p) = self.poller.take() {
            p.abort();
        }
        if let Some(h) = self.http.take() {
            h.abort();
        }
        for w in std::mem::take(&mut self.workers) {
            w.abort();
        }
        self.housekeeping.abort();
    }

    /// Stops gracefully: readiness turns 503, event streams end, pollers stop and give their
    /// leases up, the listener stops taking requests and lets the ones in progress finish (10 s
    /// at most), then the outbox workers finish the sends they have in flight (`grace` at most)
    /// and stop. Rows still queued stay queued for another node or the next start.
    pub async fn shutdown(mut self, grace: Duration) {
        tracing::info!(node = %self.node, "shutting down");
        self.state.begin_shutdown();
        let _ = self.poller_stop.send(true);
        if let Some(p) = self.poller.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), p).await;
        }
        let _ = self.http_stop.send(true);
        if let Some(mut http) = self.http.take()
            && tokio::time::timeout(Duration::from_secs(10), &mut http)
                .await
                .is_err()
        {
            http.abort();
        }
        let _ = self.workers_stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for w in std::mem::take(&mut self.workers) {
            let _ = tokio::time::timeout_at(deadline, w).await;
        }
        self.housekeeping.abort();
        tracing::info!(node = %self.node, "stopped");
    }
}

impl ServerBuilder {
    /// How secret references are resolved (default [`EnvFileResolver`]).
    pub fn resolver(mut self, resolver: Arc<dyn SecretResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Where secrets obtained by connection flows are kept (default: `secrets_dir` of the
    /// configuration, if any).
    pub fn secret_sink(mut self, sink: Arc<dyn SecretSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Told whenever this node starts or stops polling an account.
    pub fn poll_observer(mut self, observer: PollObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The retry policy of every account's stack.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Opens the database, bootstraps the first start, binds the listener and starts the
    /// workers and the poll manager.
    pub async fn start(self) -> Result<Server, InboxError> {
        let config = self.config;
        let resolver = self.resolver;
        let key_text = resolver.resolve(&config.acceptance_key).await?;
        let key = acceptance_key(key_text.expose_str())?;
        let url = match &config.database_url_ref {
            Some(r) => resolver.resolve(r).await?.into_inner(),
            None => config.database.clone(),
        };
        let mut db = DbConfig::from_url(&url)?;
        if let Some(schema) = &config.database_schema {
            db = db.schema(schema.clone());
        }
        let inbox = Inbox::builder(db, key)
            .secret_resolver(resolver.clone())
            .outbox(OutboxConfig {
                lease: Duration::from_secs(config.outbox_lease_seconds.max(1)),
                ..OutboxConfig::default()
            })
            .open()
            .await?;
        let operator_token = match &config.operator_token {
            Some(r) => Some(resolver.resolve(r).await?),
            None => None,
        };
        let sink: Option<Arc<dyn SecretSink>> = match (self.sink, &config.secrets_dir) {
            (Some(s), _) => Some(s),
            (None, Some(dir)) => Some(Arc::new(DirSecretSink::new(dir.clone()))),
            (None, None) => None,
        };
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| invalid(format!("cannot listen on {}: {}", config.listen, e.kind())))?;
        let addr = listener
            .local_addr()
            .map_err(|e| invalid(format!("no local address: {}", e.kind())))?;
        // Without a public URL, webhook URLs are this listener's (a loopback or LAN setup).
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let limits = &config.limits;
        let options = Options {
            api_body_bytes: limits.api_body_bytes,
            media_bytes: limits.media_bytes,
            webhook_body_bytes: limits.webhook_body_bytes,
            session: Duration::from_secs(limits.session_hours.max(1) * 3600),
            sign_in_per_address_per_minute: limits.sign_in_per_address_per_minute,
            sign_in_failures_per_login: limits.sign_in_failures_per_login,
            public_url: Some(public_url),
            operator_token,
            secret_sink: sink.clone(),
            ..Options::default()
        };
        let mut provider = ServerProvider::new(self.connectors);
        if let Some(sink) = sink {
            provider = provider.secret_sink(sink);
        }
        if let Some(policy) = self.retry {
            provider = provider.retry_policy(policy);
        }
        let state = ServerState::with_provider(inbox, Arc::new(provider), options);
        start_with(config, state, resolver, self.observer, listener).await
    }
}

async fn start_with(
    config: ServerConfig,
    state: ServerState,
    resolver: Arc<dyn SecretResolver>,
    observer: Option<PollObserver>,
    listener: tokio::net::TcpListener,
) -> Result<Server, InboxError> {
    let node = config
        .node
        .clone()
        .unwrap_or_else(|| format!("node-{}-{:08x}", std::process::id(), fastrand_u32()));
    let lease = Duration::from_secs(config.polling.lease_seconds.max(1));
    bootstrap(&state, &config, &resolver, &node).await?;

    let addr = listener
        .local_addr()
        .map_err(|e| invalid(format!("no local address: {}", e.kind())))?;
    let app = crate::router(state.clone());
    let (http_stop, mut http_stop_rx) = watch::channel(false);
    let http = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop_rx.wait_for(|s| *s).await;
        })
        .await;
        if let Err(e) = served {
            tracing::warn!(error = %e.kind(), "the listener stopped");
        }
    });

    let (workers_stop, workers_stop_rx) = watch::channel(false);
    let n = config.outbox_workers;
    state
        .inner
        .health
        .workers_expected
        .store(n, Ordering::SeqCst);
    let mut workers = Vec::with_capacity(n);
    for i in 0..n {
        let state = state.clone();
        let stop = workers_stop_rx.clone();
        let name = format!("{node}/w{i}");
        workers.push(tokio::spawn(async move {
            let _alive = Alive::new(&state.inner.health.workers_alive);
            let worker = state.inbox().worker(name);
            let metrics = state.clone();
            worker
                .run_reporting(stop, move |r| {
                    let m = metrics.metrics();
                    m.add("outbox_attempts_total", &[], r.attempted);
                    m.add("outbox_sent_total", &[], r.sent);
                    m.add("outbox_recovered_total", &[], r.recovered);
                })
                .await;
        }));
    }

    let (poller_stop, poller_stop_rx) = watch::channel(false);
    let poller = if config.polling.enabled {
        state
            .inner
            .health
            .pollers_expected
            .store(true, Ordering::SeqCst);
        let state = state.clone();
        let node = node.clone();
        Some(tokio::spawn(async move {
            state
                .inner
                .health
                .pollers_alive
                .store(true, Ordering::SeqCst);
            crate::poll::run(state.clone(), node, lease, poller_stop_rx, observer).await;
            state
                .inner
                .health
                .pollers_alive
                .store(false, Ordering::SeqCst);
        }))
    } else {
        None
    };

    let housekeeping = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                if let Err(e) = state.inbox().purge_expired_tokens().await {
                    tracing::warn!(kind = %e.kind(), "expired tokens could not be purged");
                }
            }
        })
    };
    tracing::info!(%addr, node = %node, workers = n, polling = config.polling.enabled, "messenger server listening");
    Ok(Server {
        addr,
        state,
        node,
        http: Some(http),
        http_stop,
        workers,
        workers_stop,
        poller,
        poller_stop,
        housekeeping,
    })
}

fn fastrand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// The first start: the agreement edition, the workspace and its employees, the configured
/// accounts. Under a lease, so that nodes starting together do it once; idempotent, so that a
/// restart changes nothing (employees by login, accounts by platform and name).
async fn bootstrap(
    state: &ServerState,
    config: &ServerConfig,
    resolver: &Arc<dyn SecretResolver>,
    node: &str,
) -> Result<(), InboxError> {
    let inbox = state.inbox();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let lease = loop {
        if let Some(l) = inbox
            .acquire_lease("bootstrap", node, Duration::from_secs(60))
            .await?
        {
            break l;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(invalid(
                "another node held the bootstrap lease for a minute",
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let result = bootstrap_locked(state, config, resolver).await;
    let _ = inbox.release_lease(&lease).await;
    result
}

async fn bootstrap_locked(
    state: &ServerState,
    config: &ServerConfig,
    resolver: &Arc<dyn SecretResolver>,
) -> Result<(), InboxError> {
    let inbox = state.inbox();
    if let Some(a) = &config.agreement {
        let text = match (&a.text, &a.text_file) {
            (Some(t), _) => t.clone(),
            (None, Some(path)) => tokio::fs::read_to_string(path).await.map_err(|e| {
                invalid(format!("agreement.text_file cannot be read: {}", e.kind()))
            })?,
            (None, None) => return Err(invalid("agreement needs text or text_file")),
        };
        inbox
            .publish_edition(AgreementEdition::new(
                a.edition.clone(),
                a.published,
                a.url.clone(),
                &text,
            ))
            .await?;
    }
    if config.employees.is_empty() {
        return Ok(());
    }
    let Some(first_owner) = config.employees.iter().find(|e| e.role == Role::Owner) else {
        return Err(invalid("the configured employees need an owner"));
    };
    let password_hash = |e: &crate::config::EmployeeConfig| {
        let e = e.clone();
        let resolver = resolver.clone();
        async move {
            match (&e.password_hash, &e.password) {
                (Some(h), _) => Ok(Some(h.clone())),
                (None, Some(r)) => {
                    let p = resolver.resolve(r).await?;
                    hash_blocking(p.into_inner())
                        .await
                        .map(Some)
                        .map_err(|e| invalid(e.message))
                }
                (None, None) => Ok(None),
            }
        }
    };
    let owner: EmployeeId = match inbox.login_credentials(&first_owner.login).await? {
        Some((id, _)) => id,
        None => {
            let ws = config
                .workspace
                .as_ref()
                .map_or("Workspace", |w| w.name.as_str());
            let (_, owner) = inbox.create_workspace(ws, &first_owner.name).await?;
            if let Some(h) = password_hash(first_owner).await? {
                inbox
                    .set_login_by_service(owner.id, &first_owner.login, &h)
                    .await?;
            }
            tracing::info!(employee = owner.id.0, "workspace created with its owner");
            owner.id
        }
    };
    // Accounts first: grants name them.
    let existing = inbox.accounts(owner).await?;
    let mut accounts = Vec::new();
    for a in &config.accounts {
        if state
            .inner
            .provider
            .connectors()
            .entry(a.platform)
            .is_none()
        {
            return Err(invalid(format!(
                "account `{}`: this build has no {} connector",
                a.name,
                a.platform.display_name()
            )));
        }
        let mut settings = a.settings.clone();
        settings.insert("intake".to_owned(), a.intake.as_str().to_owned());
        let account = match existing
            .iter()
            .find(|e| e.platform == a.platform && e.display_name == a.name)
        {
            Some(found) => {
                // The file is the truth of the accounts it names.
                if found.settings != settings || found.secrets != a.secrets {
                    inbox
                        .reconfigure_account(owner, found.id, settings, a.secrets.clone())
                        .await?;
                    tracing::info!(
                        account = found.id.0,
                        "account settings updated from the configuration"
                    );
                }
                found.clone()
            }
            None => {
                let mut new = NewAccount::new(a.platform, a.name.clone());
                new.settings = settings;
                new.secrets = a.secrets.clone();
                let created = inbox.add_account(owner, new).await?;
                tracing::info!(account = created.id.0, platform = %a.platform, "account connected from the configuration");
                created
            }
        };
        if a.activate && account.state != messenger_inbox::AccountState::Active {
            let edition = inbox.consent().current_edition().await?.ok_or_else(|| {
                invalid("accounts[].activate needs a published agreement edition ([agreement])")
            })?;
            inbox
                .activate_account(
                    owner,
                    account.id,
                    &edition.id,
                    "activated on start by the server configuration (accounts[].activate)",
                )
                .await?;
        }
        accounts.push(account);
    }
    for e in &config.employees {
        if e.login == first_owner.login || inbox.login_credentials(&e.login).await?.is_some() {
            continue;
        }
        let employee = inbox.add_employee(owner, &e.name, e.role).await?;
        if let Some(h) = password_hash(e).await? {
            inbox.set_login(owner, employee.id, &e.login, &h).await?;
        }
        for g in &e.grants {
            let account = accounts
                .iter()
                .find(|a| a.display_name == g.account)
                .ok_or_else(|| {
                    invalid(format!(
                        "grant of `{}`: no account `{}`",
                        e.login, g.account
                    ))
                })?;
            inbox
                .grant(owner, employee.id, account.id, g.permissions())
                .await?;
        }
    }
    Ok(())
}
