//! [`Inbox`]: the handle every operation goes through, its builder, the one rights check, the
//! audit and processing logs, workspaces, employees, grants and accounts.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::consent::{
    AcceptanceKey, AcceptanceRecord, AgreementEdition, Consent, ContinuedUsePolicy,
    FirstContactNotice, ReOptInPolicy, SignedHead,
};
use messenger_core::layers::{RetryPolicy, SeenEvents, Stack};
use messenger_core::registry::{AccountStores, ConnectorEntry, Credentials};
use messenger_core::status::StatusTracker;
use messenger_core::{Messenger, Platform};

use crate::db::{Db, DbConfig, Row, q};
use crate::error::{InboxError, InboxErrorKind, Result};
use crate::model::{
    Account, AccountKey, AccountState, AuditRecord, Employee, EmployeeId, Grant, NewAccount,
    Permission, Permissions, Role, Workspace, WorkspaceId, parse_health,
};
use crate::notify::Hub;
use crate::rights::{Action, Target};
use crate::secrets::{EnvFileResolver, SecretResolver};
use crate::stores::{
    SqlAcceptanceStore, SqlContactLog, SqlModuleStore, SqlOptOutStore, SqlReplyWindowStore,
    SqlSeenEvents, SqlStatusStore, SqlSuspensionStore,
};

/// The guard against unsolicited mass messaging (the agreement's 3.1.5 and 6.1): how many
/// messages one account may send, within `period`, to customers who never wrote to it.
///
/// ```
/// use std::time::Duration;
/// use messenger_inbox::UnsolicitedLimit;
/// let limit = UnsolicitedLimit::new(20, Duration::from_secs(24 * 3600));
/// assert_eq!(limit.max, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsolicitedLimit {
    /// The most such messages per account and period (0: none at all).
    pub max: u32,
    /// The period.
    pub period: Duration,
}

impl UnsolicitedLimit {
    /// `max` messages per `period`.
    pub fn new(max: u32, period: Duration) -> Self {
        Self { max, period }
    }
}

impl Default for UnsolicitedLimit {
    /// 20 a day per account.
    fn default() -> Self {
        Self::new(20, Duration::from_secs(24 * 3600))
    }
}

/// How the outbox works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// How long a claimed row stays the claiming worker's without a heartbeat (default 60 s). A
    /// row whose worker died is recovered after it: resent where the platform drops repeats,
    /// `maybe_sent` elsewhere.
    pub lease: Duration,
    /// Attempts before a row that failed without going out is `failed` (default 5).
    pub max_attempts: u32,
    /// The first retry delay, doubled per attempt (default 1 s).
    pub retry_base: Duration,
    /// Rows a worker claims and sends at once (default 8; one per conversation, in order).
    pub batch: u32,
    /// The largest media a draft may carry as bytes (default 20 MiB).
    pub max_media_bytes: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            max_attempts: 5,
            retry_base: Duration::from_secs(1),
            batch: 8,
            max_media_bytes: 20 << 20,
        }
    }
}

/// Builds the [`MessengerProvider`] of an account: the connected, layered `Messenger` the
/// outbox sends through and media is downloaded with.
#[async_trait]
pub trait MessengerProvider: Send + Sync + fmt::Debug {
    /// The messenger of `account`.
    async fn messenger(&self, inbox: &Inbox, account: &Account) -> Result<Arc<dyn Messenger>>;

    /// Forgets a cached messenger (the account changed or was deleted).
    fn forget(&self, account: AccountKey) {
        let _ = account;
    }
}

/// A [`MessengerProvider`] over connector registry entries: the account's settings and
/// resolved secrets become [`Credentials`], the entry of its platform builds the connector, and
/// [`Stack`] wraps it in the layers with the inbox's persistent consent and seen-event stores.
///
/// ```no_run
/// # async fn run(inbox: messenger_inbox::Inbox, entries: Vec<messenger_core::registry::ConnectorEntry>) {
/// use std::sync::Arc;
/// use messenger_inbox::StackProvider;
/// inbox.set_provider(Arc::new(StackProvider::new(entries)));
/// # }
/// ```
pub struct StackProvider {
    entries: Vec<ConnectorEntry>,
    retry: Option<RetryPolicy>,
    cache: Mutex<HashMap<AccountKey, Arc<dyn Messenger>>>,
}

impl StackProvider {
    /// A provider over `entries` (one per platform).
    pub fn new(entries: impl IntoIterator<Item = ConnectorEntry>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
            retry: None,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The retry policy of every stack (default: [`RetryPolicy::default`]; keyed sends are
    /// resent where the platform drops repeats either way).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
}

impl fmt::Debug for StackProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackProvider")
            .field(
                "platforms",
                &self.entries.iter().map(|e| e.platform).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MessengerProvider for StackProvider {
    async fn messenger(&self, inbox: &Inbox, account: &Account) -> Result<Arc<dyn Messenger>> {
        if let Some(m) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&account.id)
        {
            return Ok(m.clone());
        }
        let entry = self
            .entries
            .iter()
            .find(|e| e.platform == account.platform)
            .ok_or_else(|| InboxError::invalid(format!("no connector for {}", account.platform)))?;
        let credentials = inbox.credentials(account).await?;
        // The account's reply windows live in the database, so every process (and a restart)
        // knows them.
        let stores = AccountStores::new()
            .account(account.id.core_id())
            .reply_windows(Arc::new(inbox.reply_window_store(account.id)));
        let connector = (entry.build)(&credentials, &stores)?;
        let mut stack = Stack::new(connector, account.id.core_id(), inbox.consent().clone())
            .seen_events(inbox.seen_events());
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

/// Builds an [`Inbox`]; see [`Inbox::builder`].
#[must_use]
pub struct InboxBuilder {
    db: DbConfig,
    key: AcceptanceKey,
    resolver: Arc<dyn SecretResolver>,
    unsolicited: UnsolicitedLimit,
    outbox: OutboxConfig,
    notice: Option<FirstContactNotice>,
    stop_words: Option<Vec<String>>,
    re_opt_in: ReOptInPolicy,
    continued_use: ContinuedUsePolicy,
    reply_window: Duration,
    listen: bool,
}

impl fmt::Debug for InboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxBuilder")
            .field("db", &self.db)
            .field("key_id", &self.key.id())
            .field("unsolicited", &self.unsolicited)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

impl InboxBuilder {
    /// How secret references are resolved (default: [`EnvFileResolver`]).
    pub fn secret_resolver(mut self, resolver: Arc<dyn SecretResolver>) -> Self {
        self.resolver = resolver;
        self
    }
    /// The guard against unsolicited mass messaging (default 20 a day per account).
    pub fn unsolicited_limit(mut self, limit: UnsolicitedLimit) -> Self {
        self.unsolicited = limit;
        self
    }
    /// The outbox settings.
    pub fn outbox(mut self, config: OutboxConfig) -> Self {
        self.outbox = config;
        self
    }
    /// The first-contact notice (default: Russian and English).
    pub fn notice(mut self, notice: FirstContactNotice) -> Self {
        self.notice = Some(notice);
        self
    }
    /// The stop words (default: core's).
    pub fn stop_words<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stop_words = Some(words.into_iter().map(|w| w.as_ref().to_owned()).collect());
        self
    }
    /// When an opted-out customer opts back in (default: explicitly only).
    pub fn re_opt_in(mut self, policy: ReOptInPolicy) -> Self {
        self.re_opt_in = policy;
        self
    }
    /// What a new agreement edition means (default: continued use is acceptance).
    pub fn continued_use(mut self, policy: ContinuedUsePolicy) -> Self {
        self.continued_use = policy;
        self
    }
    /// The reply window of platforms that have one (default 24 h).
    pub fn reply_window(mut self, window: Duration) -> Self {
        self.reply_window = window;
        self
    }
    /// PostgreSQL: whether to listen for other processes' notifications (default on).
    pub fn listen(mut self, on: bool) -> Self {
        self.listen = on;
        self
    }

    /// Opens the database (migrating it) and starts the notification listener (PostgreSQL).
    pub async fn open(self) -> Result<Inbox> {
        let db = Db::open(&self.db).await?;
        let mut consent = Consent::builder()
            .acceptance_store(Arc::new(SqlAcceptanceStore::new(db.clone())))
            .acceptance_key(self.key)
            .module_store(Arc::new(SqlModuleStore::new(db.clone())))
            .suspension_store(Arc::new(SqlSuspensionStore::new(db.clone())))
            .opt_out_store(Arc::new(SqlOptOutStore::new(db.clone())))
            .contact_log(Arc::new(SqlContactLog::new(db.clone())))
            .re_opt_in(self.re_opt_in)
            .continued_use(self.continued_use);
        if let Some(notice) = self.notice {
            consent = consent.notice(notice);
        }
        if let Some(words) = self.stop_words {
            consent = consent.stop_words(words);
        }
        let instance = format!("{:016x}", fastrand::u64(..));
        let hub = Hub::new(instance.clone());
        let inner = Arc::new(Inner {
            seen: Arc::new(SqlSeenEvents::new(db.clone())),
            consent: Arc::new(consent.build()),
            db,
            hub,
            resolver: self.resolver,
            provider: RwLock::new(None),
            unsolicited: self.unsolicited,
            outbox: self.outbox,
            reply_window: self.reply_window,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
        });
        let inbox = Inbox { inner };
        if self.listen {
            crate::notify::start_listener(&inbox).await?;
        }
        Ok(inbox)
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) consent: Arc<Consent>,
    pub(crate) seen: Arc<SqlSeenEvents>,
    pub(crate) hub: Hub,
    pub(crate) resolver: Arc<dyn SecretResolver>,
    pub(crate) provider: RwLock<Option<Arc<dyn MessengerProvider>>>,
    pub(crate) unsolicited: UnsolicitedLimit,
    pub(crate) outbox: OutboxConfig,
    pub(crate) reply_window: Duration,
    pub(crate) outbox_wake: Arc<tokio::sync::Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.hub.stop_listener();
    }
}

/// The CRM side of the messenger module. Cheap to clone (`Arc` inside), `Send + Sync`: an axum
/// server keeps one in its state and calls it per request with the acting employee.
///
/// Every operation of an employee takes their [`EmployeeId`] and is checked in one place,
/// [`authorize`](Self::authorize); a refusal is [`InboxErrorKind::Forbidden`] and an audit
/// record. Operations of the service itself (creating a workspace, publishing an agreement
/// edition, suspending a platform, receiving a data subject's request) take no employee: expose
/// them to the service's operator only.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use messenger_core::consent::AcceptanceKey;
/// use messenger_core::redact::Secret;
/// use messenger_inbox::{DbConfig, Inbox, InboxErrorKind, Role};
/// let key = AcceptanceKey::new(Secret::new(vec![7; 32])).unwrap(); // from the secret store
/// let inbox = Inbox::builder(DbConfig::sqlite_memory(), key).open().await.unwrap();
/// let (workspace, owner) = inbox.create_workspace("Shop", "Anna").await.unwrap();
/// let viewer = inbox.add_employee(owner.id, "Boris", Role::Viewer).await.unwrap();
/// // A viewer cannot add employees: refused, and audited.
/// let err = inbox.add_employee(viewer.id, "Eve", Role::Owner).await.unwrap_err();
/// assert_eq!(err.kind(), InboxErrorKind::Forbidden);
/// assert_eq!(inbox.audit_log(owner.id, 10).await.unwrap()[0].outcome, "denied");
/// # let _ = workspace;
/// # });
/// ```
#[derive(Clone)]
pub struct Inbox {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("db", &self.inner.db)
            .field("instance", &self.inner.hub.instance())
            .finish_non_exhaustive()
    }
}

/// The acting employee, once checked.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub(crate) employee: Employee,
    /// The account of the target, where it has one.
    pub(crate) account: Option<AccountKey>,
}

impl Actor {
    pub(crate) fn id(&self) -> EmployeeId {
        self.employee.id
    }
    pub(crate) fn workspace(&self) -> WorkspaceId {
        self.employee.workspace
    }
}

pub(crate) fn employee_from(r: &Row) -> Result<Employee> {
    Ok(Employee {
        id: EmployeeId(r.i64("id")?),
        workspace: WorkspaceId(r.i64("workspace_id")?),
        name: r.text("name")?,
        role: Role::parse(&r.text("role")?)?,
        active: r.bool("active")?,
    })
}

pub(crate) fn account_from(r: &Row) -> Result<Account> {
    let platform: Platform = r
        .text("platform")?
        .parse()
        .map_err(|_| InboxError::storage("unknown platform stored"))?;
    Ok(Account {
        id: AccountKey(r.i64("id")?),
        workspace: WorkspaceId(r.i64("workspace_id")?),
        platform,
        display_name: r.text("display_name")?,
        state: AccountState::parse(&r.text("state")?)?,
        settings: serde_json::from_str(&r.text("settings")?)?,
        secrets: serde_json::from_str(&r.text("secrets")?)?,
        health: r.opt_text("health")?.as_deref().and_then(parse_health),
    })
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, workspace_id, platform, display_name, state, settings, secrets, health";

impl Inbox {
    /// A builder: the database and the key of the acceptance log (held outside the database:
    /// the CRM's secret configuration or a KMS; keep it as long as the records).
    pub fn builder(db: DbConfig, acceptance_key: AcceptanceKey) -> InboxBuilder {
        InboxBuilder {
            db,
            key: acceptance_key,
            resolver: Arc::new(EnvFileResolver),
            unsolicited: UnsolicitedLimit::default(),
            outbox: OutboxConfig::default(),
            notice: None,
            stop_words: None,
            re_opt_in: ReOptInPolicy::default(),
            continued_use: ContinuedUsePolicy::default(),
            reply_window: Duration::from_secs(24 * 3600),
            listen: true,
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The module's rules over the persistent stores; give it to every account's
    /// [`Stack`] (a [`StackProvider`] does).
    pub fn consent(&self) -> &Arc<Consent> {
        &self.inner.consent
    }

    /// The persistent seen-event store, shared by every account's stack and process.
    pub fn seen_events(&self) -> Arc<dyn SeenEvents> {
        self.inner.seen.clone()
    }

    /// The persistent reply-window store of `account` (for a connector that keeps windows).
    pub fn reply_window_store(&self, account: AccountKey) -> SqlReplyWindowStore {
        SqlReplyWindowStore::for_account(
            self.inner.db.clone(),
            &account.core_id(),
            self.inner.reply_window,
        )
    }

    /// The status tracker of `account` over its persistent store.
    pub fn status_tracker(&self, account: AccountKey) -> StatusTracker {
        StatusTracker::new(Arc::new(SqlStatusStore::for_account(
            self.inner.db.clone(),
            &account.core_id(),
        )))
    }

    /// Sets how accounts' messengers are built (for sends and media downloads).
    pub fn set_provider(&self, provider: Arc<dyn MessengerProvider>) {
        *self
            .inner
            .provider
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(provider);
    }

    /// The messenger of an account, from the provider.
    pub(crate) async fn messenger(&self, account: &Account) -> Result<Arc<dyn Messenger>> {
        let provider = self
            .inner
            .provider
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                InboxError::invalid("no messenger provider is set (Inbox::set_provider)")
            })?;
        provider.messenger(self, account).await
    }

    pub(crate) fn forget_messenger(&self, account: AccountKey) {
        if let Some(p) = self
            .inner
            .provider
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            p.forget(account);
        }
    }

    /// The credentials of `account`: its settings in clear and its secrets resolved now.
    /// For a [`MessengerProvider`]; never store or log the result.
    pub async fn credentials(&self, account: &Account) -> Result<Credentials> {
        let mut credentials = Credentials::new();
        for (k, v) in &account.settings {
            credentials.set(k.clone(), v.clone());
        }
        for (k, r) in &account.secrets {
            let secret = self.inner.resolver.resolve(r).await?;
            credentials.set(k.clone(), secret.into_inner());
        }
        Ok(credentials)
    }

    // ---- the one rights check ------------------------------------------------------------

    /// Checks that `employee` may do `action` to `target`: the one place rights are decided.
    /// A refusal writes an audit record and is [`InboxErrorKind::Forbidden`], also for a target
    /// that does not exist or belongs to another workspace.
    pub async fn authorize(
        &self,
        employee: EmployeeId,
        action: Action,
        target: Target,
    ) -> Result<()> {
        self.check(employee, action, target).await.map(|_| ())
    }

    pub(crate) async fn check(
        &self,
        employee: EmployeeId,
        action: Action,
        target: Target,
    ) -> Result<Actor> {
        let db = &self.inner.db;
        let Some(row) = db
            .opt(q!(
                "SELECT id, workspace_id, name, role, active FROM employees WHERE id = $1",
                employee.0
            ))
            .await?
        else {
            return Err(self.deny(None, employee, action, &target).await);
        };
        let actor = employee_from(&row)?;
        if !actor.active {
            return Err(self
                .deny(Some(actor.workspace), employee, action, &target)
                .await);
        }
        let resolved = match target {
            Target::Workspace => Some((actor.workspace, None)),
            _ => self.resolve_target(&target).await?,
        };
        let (workspace, account) = match resolved {
            Some(found) => found,
            None => {
                return Err(self
                    .deny(Some(actor.workspace), employee, action, &target)
                    .await);
            }
        };
        if workspace != actor.workspace {
            return Err(self
                .deny(Some(actor.workspace), employee, action, &target)
                .await);
        }
        let effective = match account {
            Some(account) => self.effective(&actor, account).await?,
            None => Permissions::NONE,
        };
        if !action.allowed(actor.role, effective) {
            return Err(self
                .deny(Some(actor.workspace), employee, action, &target)
                .await);
        }
        Ok(Actor {
            employee: actor,
            account,
        })
    }

    /// The rights `actor` holds on `account` (grant ∩ role cap; everything for an owner).
    pub(crate) async fn effective(
        &self,
        actor: &Employee,
        account: AccountKey,
    ) -> Result<Permissions> {
        if actor.role == Role::Owner {
            return Ok(Permissions::ALL);
        }
        let row = self
            .inner
            .db
            .opt(q!(
                "SELECT can_read, can_reply, can_manage FROM grants WHERE employee_id = $1 AND account_id = $2",
                actor.id.0,
                account.0
            ))
            .await?;
        let granted = match row {
            Some(r) => Permissions {
                read: r.bool("can_read")?,
                reply: r.bool("can_reply")?,
                manage: r.bool("can_manage")?,
            },
            None => Permissions::NONE,
        };
        Ok(granted.intersect(actor.role.cap()))
    }

    /// The accounts `actor` can read (`None`: every account of the workspace, for an owner).
    pub(crate) async fn readable_accounts(
        &self,
        actor: &Employee,
    ) -> Result<Option<Vec<AccountKey>>> {
        if actor.role == Role::Owner {
            return Ok(None);
        }
        if !actor.role.cap().has(Permission::Read) {
            return Ok(Some(Vec::new()));
        }
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT g.account_id FROM grants g JOIN accounts a ON a.id = g.account_id
                 WHERE g.employee_id = $1 AND g.can_read = 1 AND a.workspace_id = $2",
                actor.id.0,
                actor.workspace.0
            ))
            .await?;
        rows.iter()
            .map(|r| Ok(AccountKey(r.i64("account_id")?)))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The workspace and account a target belongs to; `None` when it does not exist.
    async fn resolve_target(
        &self,
        target: &Target,
    ) -> Result<Option<(WorkspaceId, Option<AccountKey>)>> {
        let db = &self.inner.db;
        let (sql, id) = match target {
            Target::Workspace => return Ok(None),
            Target::Account(a) => (
                "SELECT workspace_id, id AS account_id FROM accounts WHERE id = $1",
                a.0,
            ),
            Target::Conversation(c) => (
                "SELECT workspace_id, account_id FROM conversations WHERE id = $1",
                c.0,
            ),
            Target::Customer(c) => (
                "SELECT workspace_id, account_id FROM customers WHERE id = $1",
                c.0,
            ),
            Target::Message(m) => (
                "SELECT workspace_id, account_id FROM messages WHERE id = $1",
                m.0,
            ),
            Target::Outbox(o) => (
                "SELECT workspace_id, account_id FROM outbox WHERE id = $1",
                o.0,
            ),
            Target::Employee(e) => (
                "SELECT workspace_id, NULL AS account_id FROM employees WHERE id = $1",
                e.0,
            ),
            Target::SubjectRequest(r) => (
                "SELECT workspace_id, NULL AS account_id FROM subject_requests WHERE id = $1",
                r.0,
            ),
        };
        let Some(row) = db.opt(q!(sql, id)).await? else {
            return Ok(None);
        };
        Ok(Some((
            WorkspaceId(row.i64("workspace_id")?),
            row.opt_i64("account_id")?.map(AccountKey),
        )))
    }

    pub(crate) async fn deny(
        &self,
        workspace: Option<WorkspaceId>,
        employee: EmployeeId,
        action: Action,
        target: &Target,
    ) -> InboxError {
        tracing::info!(
            employee = employee.0,
            action = action.as_str(),
            target = %target.label(),
            "refused: no right"
        );
        if let Err(e) = self
            .audit(
                workspace,
                Some(employee),
                action.as_str(),
                &target.label(),
                "denied",
            )
            .await
        {
            tracing::warn!(kind = %e.kind(), "could not write the audit record of a refusal");
        }
        InboxError::forbidden(action.as_str())
    }

    pub(crate) async fn audit(
        &self,
        workspace: Option<WorkspaceId>,
        employee: Option<EmployeeId>,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Result<()> {
        self.inner
            .db
            .exec(q!(
                "INSERT INTO audit_log (workspace_id, employee_id, action, target, outcome, at) VALUES ($1, $2, $3, $4, $5, $6)",
                workspace.map(|w| w.0),
                employee.map(|e| e.0),
                action,
                target,
                outcome,
                crate::db::now()
            ))
            .await?;
        Ok(())
    }

    pub(crate) async fn log_processing(
        &self,
        workspace: WorkspaceId,
        employee: Option<EmployeeId>,
        customer: Option<crate::model::CustomerId>,
        account: Option<AccountKey>,
        operation: &str,
    ) -> Result<()> {
        self.inner
            .db
            .exec(q!(
                "INSERT INTO processing_log (workspace_id, employee_id, customer_id, account_id, operation, at) VALUES ($1, $2, $3, $4, $5, $6)",
                workspace.0,
                employee.map(|e| e.0),
                customer.map(|c| c.0),
                account.map(|a| a.0),
                operation,
                crate::db::now()
            ))
            .await?;
        Ok(())
    }

    /// The audit log of the actor's workspace, newest first (owners).
    pub async fn audit_log(&self, employee: EmployeeId, limit: u32) -> Result<Vec<AuditRecord>> {
        let actor = self
            .check(employee, Action::ViewAudit, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT id, workspace_id, employee_id, action, target, outcome, at FROM audit_log
                 WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
                actor.workspace().0,
                i64::from(limit)
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.i64("id")?,
                    workspace: r.opt_i64("workspace_id")?.map(WorkspaceId),
                    employee: r.opt_i64("employee_id")?.map(EmployeeId),
                    action: r.text("action")?,
                    target: r.text("target")?,
                    outcome: r.text("outcome")?,
                    at: r.time("at")?,
                })
            })
            .collect()
    }

    // ---- the service's own operations -----------------------------------------------------

    /// Creates a workspace and its owner (the service signs a business up).
    pub async fn create_workspace(
        &self,
        name: &str,
        owner_name: &str,
    ) -> Result<(Workspace, Employee)> {
        if name.trim().is_empty() || owner_name.trim().is_empty() {
            return Err(InboxError::invalid("a workspace and its owner need names"));
        }
        let now = crate::db::now();
        let mut tx = self.inner.db.begin().await?;
        let ws = tx
            .one(q!(
                "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id",
                name,
                now
            ))
            .await?
            .i64("id")?;
        let owner = tx
            .one(q!(
                "INSERT INTO employees (workspace_id, name, role, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING id",
                ws,
                owner_name,
                Role::Owner.as_str(),
                now
            ))
            .await?
            .i64("id")?;
        tx.commit().await?;
        self.audit(
            Some(WorkspaceId(ws)),
            None,
            "create_workspace",
            &format!("employee:{owner}"),
            "done",
        )
        .await?;
        Ok((
            Workspace {
                id: WorkspaceId(ws),
                name: name.to_owned(),
                created_at: now,
            },
            Employee {
                id: EmployeeId(owner),
                workspace: WorkspaceId(ws),
                name: owner_name.to_owned(),
                role: Role::Owner,
                active: true,
            },
        ))
    }

    /// Publishes an agreement edition (the service's operator).
    pub async fn publish_edition(&self, edition: AgreementEdition) -> Result<()> {
        Ok(self.inner.consent.publish(edition).await?)
    }

    /// Suspends a platform for every account (the agreement's 6.2).
    pub async fn suspend_platform(&self, platform: Platform) -> Result<()> {
        Ok(self.inner.consent.suspend(platform).await?)
    }

    /// Lifts a platform's suspension.
    pub async fn resume_platform(&self, platform: Platform) -> Result<()> {
        Ok(self.inner.consent.resume(platform).await?)
    }

    /// Suspends one account (the service's operator): nothing is sent or taken in.
    pub async fn suspend_account(&self, account: AccountKey) -> Result<()> {
        self.set_account_state(account, AccountState::Suspended)
            .await
    }

    /// Lifts an account's suspension (back to active if the module is active, else
    /// deactivated).
    pub async fn resume_account(&self, account: AccountKey) -> Result<()> {
        let active = self
            .inner
            .consent
            .module_state(&account.core_id())
            .await?
            .is_some_and(|s| s.active);
        self.set_account_state(
            account,
            if active {
                AccountState::Active
            } else {
                AccountState::Deactivated
            },
        )
        .await
    }

    async fn set_account_state(&self, account: AccountKey, state: AccountState) -> Result<()> {
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE accounts SET state = $1, updated_at = $2 WHERE id = $3",
                state.as_str(),
                crate::db::now(),
                account.0
            ))
            .await?;
        if n == 0 {
            return Err(InboxError::not_found("account"));
        }
        self.forget_messenger(account);
        Ok(())
    }

    /// The signed head of the acceptance log, after verifying the whole chain under the key
    /// (owners: export it and keep it elsewhere).
    pub async fn acceptance_head(&self, employee: EmployeeId) -> Result<SignedHead> {
        self.check(employee, Action::ViewAudit, Target::Workspace)
            .await?;
        self.inner
            .consent
            .acceptance_log()
            .verify()
            .await
            .map_err(|e| InboxError::new(InboxErrorKind::Conflict, e.to_string()))
    }

    // ---- employees and grants -------------------------------------------------------------

    /// Adds an employee (owners and admins; only an owner adds an owner).
    pub async fn add_employee(
        &self,
        employee: EmployeeId,
        name: &str,
        role: Role,
    ) -> Result<Employee> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Workspace)
            .await?;
        if role == Role::Owner && actor.employee.role != Role::Owner {
            return Err(self
                .deny(
                    Some(actor.workspace()),
                    employee,
                    Action::ManageEmployees,
                    &Target::Workspace,
                )
                .await);
        }
        if name.trim().is_empty() {
            return Err(InboxError::invalid("an employee needs a name"));
        }
        let id = self
            .inner
            .db
            .one(q!(
                "INSERT INTO employees (workspace_id, name, role, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING id",
                actor.workspace().0,
                name,
                role.as_str(),
                crate::db::now()
            ))
            .await?
            .i64("id")?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "add_employee",
            &format!("employee:{id}"),
            "done",
        )
        .await?;
        Ok(Employee {
            id: EmployeeId(id),
            workspace: actor.workspace(),
            name: name.to_owned(),
            role,
            active: true,
        })
    }

    /// The employees of the actor's workspace (owners and admins).
    pub async fn employees(&self, employee: EmployeeId) -> Result<Vec<Employee>> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT id, workspace_id, name, role, active FROM employees WHERE workspace_id = $1 ORDER BY id",
                actor.workspace().0
            ))
            .await?;
        rows.iter().map(employee_from).collect()
    }

    /// Removes an employee (they can no longer act; their grants go). Admins cannot remove
    /// owners.
    pub async fn remove_employee(&self, employee: EmployeeId, target: EmployeeId) -> Result<()> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Employee(target))
            .await?;
        let row = self
            .inner
            .db
            .one(q!("SELECT role FROM employees WHERE id = $1", target.0))
            .await?;
        if Role::parse(&row.text("role")?)? == Role::Owner && actor.employee.role != Role::Owner {
            return Err(self
                .deny(
                    Some(actor.workspace()),
                    employee,
                    Action::ManageEmployees,
                    &Target::Employee(target),
                )
                .await);
        }
        let mut tx = self.inner.db.begin().await?;
        tx.exec(q!(
            "UPDATE employees SET active = 0 WHERE id = $1",
            target.0
        ))
        .await?;
        tx.exec(q!("DELETE FROM grants WHERE employee_id = $1", target.0))
            .await?;
        tx.commit().await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "remove_employee",
            &format!("employee:{target}"),
            "done",
        )
        .await?;
        self.inner.hub.publish(
            actor.workspace(),
            crate::model::Notification::GrantsChanged { employee: target },
        );
        crate::notify::notify_remote(
            self,
            actor.workspace(),
            &crate::model::Notification::GrantsChanged { employee: target },
        )
        .await;
        Ok(())
    }

    /// Grants `target` rights on `account` (replacing earlier ones; `Permissions::NONE`
    /// revokes). Owners and admins; the grant is capped by the employee's role when used.
    pub async fn grant(
        &self,
        employee: EmployeeId,
        target: EmployeeId,
        account: AccountKey,
        permissions: Permissions,
    ) -> Result<Grant> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Employee(target))
            .await?;
        // The account must be the workspace's too.
        let ws = self
            .inner
            .db
            .opt(q!(
                "SELECT workspace_id FROM accounts WHERE id = $1",
                account.0
            ))
            .await?
            .map(|r| r.i64("workspace_id"))
            .transpose()?;
        if ws != Some(actor.workspace().0) {
            return Err(self
                .deny(
                    Some(actor.workspace()),
                    employee,
                    Action::ManageEmployees,
                    &Target::Account(account),
                )
                .await);
        }
        if permissions.is_empty() {
            self.inner
                .db
                .exec(q!(
                    "DELETE FROM grants WHERE employee_id = $1 AND account_id = $2",
                    target.0,
                    account.0
                ))
                .await?;
        } else {
            self.inner
                .db
                .exec(q!(
                    "INSERT INTO grants (employee_id, account_id, can_read, can_reply, can_manage) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (employee_id, account_id) DO UPDATE SET can_read = excluded.can_read, can_reply = excluded.can_reply, can_manage = excluded.can_manage",
                    target.0,
                    account.0,
                    permissions.read,
                    permissions.reply,
                    permissions.manage
                ))
                .await?;
        }
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "grant",
            &format!("employee:{target}/account:{account}"),
            "done",
        )
        .await?;
        let n = crate::model::Notification::GrantsChanged { employee: target };
        self.inner.hub.publish(actor.workspace(), n.clone());
        crate::notify::notify_remote(self, actor.workspace(), &n).await;
        Ok(Grant {
            employee: target,
            account,
            permissions,
        })
    }

    // ---- accounts ---------------------------------------------------------------------------

    /// Connects a new account (owners and admins). Credentials are references the inbox's
    /// resolver understands; the account starts deactivated, until its owner activates the
    /// module ([`activate_account`](Self::activate_account)).
    pub async fn add_account(&self, employee: EmployeeId, new: NewAccount) -> Result<Account> {
        let actor = self
            .check(employee, Action::AddAccount, Target::Workspace)
            .await?;
        if new.display_name.trim().is_empty() {
            return Err(InboxError::invalid("an account needs a name"));
        }
        for r in new.secrets.values() {
            if !self.inner.resolver.accepts(r) {
                return Err(InboxError::invalid(format!(
                    "the secret resolver cannot read {} references",
                    r.scheme()
                )));
            }
        }
        for k in new.settings.keys() {
            if looks_secret(k) {
                return Err(InboxError::invalid(format!(
                    "`{k}` is a credential: give it as a secret reference"
                )));
            }
        }
        let now = crate::db::now();
        let id = self
            .inner
            .db
            .one(q!(
                "INSERT INTO accounts (workspace_id, platform, display_name, state, settings, secrets, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                actor.workspace().0,
                new.platform.as_str(),
                new.display_name.as_str(),
                AccountState::Deactivated.as_str(),
                serde_json::to_string(&new.settings)?,
                serde_json::to_string(&new.secrets)?,
                now
            ))
            .await?
            .i64("id")?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "add_account",
            &format!("account:{id}"),
            "done",
        )
        .await?;
        Ok(Account {
            id: AccountKey(id),
            workspace: actor.workspace(),
            platform: new.platform,
            display_name: new.display_name,
            state: AccountState::Deactivated,
            settings: new.settings,
            secrets: new.secrets,
            health: None,
        })
    }

    /// The accounts the employee holds any right on (every account, for an owner).
    pub async fn accounts(&self, employee: EmployeeId) -> Result<Vec<Account>> {
        let actor = self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        let rows = if actor.employee.role == Role::Owner {
            self.inner
                .db
                .all(q!(
                    format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = $1 ORDER BY id"
                    ),
                    actor.workspace().0
                ))
                .await?
        } else {
            self.inner
                .db
                .all(q!(
                    format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = $1 AND id IN
                         (SELECT account_id FROM grants WHERE employee_id = $2) ORDER BY id"
                    ),
                    actor.workspace().0,
                    actor.id().0
                ))
                .await?
        };
        rows.iter().map(account_from).collect()
    }

    /// One account, by id, without a rights check (the service's own use: workers, intake).
    pub async fn account_unchecked(&self, account: AccountKey) -> Result<Account> {
        let row = self
            .inner
            .db
            .opt(q!(
                format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"),
                account.0
            ))
            .await?
            .ok_or_else(|| InboxError::not_found("account"))?;
        account_from(&row)
    }

    /// Renames an account (manage).
    pub async fn rename_account(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        name: &str,
    ) -> Result<()> {
        let actor = self
            .check(employee, Action::ManageAccount, Target::Account(account))
            .await?;
        if name.trim().is_empty() {
            return Err(InboxError::invalid("an account needs a name"));
        }
        self.inner
            .db
            .exec(q!(
                "UPDATE accounts SET display_name = $1, updated_at = $2 WHERE id = $3",
                name,
                crate::db::now(),
                account.0
            ))
            .await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "rename_account",
            &format!("account:{account}"),
            "done",
        )
        .await
    }

    /// Activates the module for an account: its owner accepts `edition` of the agreement
    /// (the acceptance is recorded in the keyed log with `evidence`). Owners only.
    pub async fn activate_account(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        edition: &str,
        evidence: &str,
    ) -> Result<AcceptanceRecord> {
        let actor = self
            .check(employee, Action::ActivateAccount, Target::Account(account))
            .await?;
        let current = self.account_unchecked(account).await?;
        let evidence = format!("employee {} (owner): {evidence}", actor.id());
        let record = self
            .inner
            .consent
            .activate(&account.core_id(), edition, evidence)
            .await?;
        if current.state != AccountState::Suspended {
            self.set_account_state(account, AccountState::Active)
                .await?;
        }
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "activate_account",
            &format!("account:{account}"),
            "done",
        )
        .await?;
        Ok(record)
    }

    /// Deactivates the module for an account (manage): sends and intake stop.
    pub async fn deactivate_account(
        &self,
        employee: EmployeeId,
        account: AccountKey,
    ) -> Result<()> {
        let actor = self
            .check(employee, Action::ManageAccount, Target::Account(account))
            .await?;
        self.inner.consent.deactivate(&account.core_id()).await?;
        let current = self.account_unchecked(account).await?;
        if current.state != AccountState::Suspended {
            self.set_account_state(account, AccountState::Deactivated)
                .await?;
        }
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "deactivate_account",
            &format!("account:{account}"),
            "done",
        )
        .await
    }

    /// `Ok` when the account may send and take in now: active, not suspended, the module
    /// active under the current edition, the platform not suspended.
    pub(crate) async fn check_account_use(&self, account: &Account, action: &str) -> Result<()> {
        match account.state {
            AccountState::Active => {}
            AccountState::Suspended => {
                return Err(InboxError::new(
                    InboxErrorKind::AccountSuspended,
                    "the service suspended this account",
                ));
            }
            AccountState::Deactivated => {
                return Err(InboxError::new(
                    InboxErrorKind::ModuleInactive,
                    "the messenger module is not active for this account",
                ));
            }
        }
        self.inner
            .consent
            .check_use(&account.id.core_id(), account.platform, action)
            .await?;
        Ok(())
    }
}

/// Setting keys that are credentials and must come as secret references.
pub(crate) fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "key"]
        .iter()
        .any(|w| k.contains(w))
        && k != "phone_number_id"
}
