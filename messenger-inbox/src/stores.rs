//! Persistent implementations of every store trait of `messenger-core`, on either backend, so
//! that the layers ([`Gated`](messenger_core::layers::Gated), [`Deduplicated`](messenger_core::layers::Deduplicated),
//! the [`StatusTracker`](messenger_core::status::StatusTracker)) keep their state across
//! restarts and share it between processes.
//!
//! | core trait | here | table |
//! |---|---|---|
//! | [`OptOutStore`] | [`SqlOptOutStore`] | `opt_outs` |
//! | [`ContactLog`] | [`SqlContactLog`] | `contact_log` |
//! | [`AcceptanceStore`] | [`SqlAcceptanceStore`] | `acceptance_records` |
//! | [`ModuleStore`] | [`SqlModuleStore`] | `agreement_editions`, `module_states` |
//! | [`SuspensionStore`] | [`SqlSuspensionStore`] | `platform_suspensions` |
//! | [`ReplyWindowStore`] | [`SqlReplyWindowStore`] (per account) | `reply_windows` |
//! | [`SeenEvents`] | [`SqlSeenEvents`] (atomic `claim`) | `seen_events` |
//! | [`StatusStore`] | [`SqlStatusStore`] (per account) | `delivery_statuses` |
//!
//! Core keys reply windows and statuses by platform, chat and message, without the account; two
//! bots of one CRM can see the same chat and message ids, so these two stores are scoped: one
//! value per account ([`SqlReplyWindowStore::for_account`]).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use messenger_core::consent::{ChatKey, Consent, OptOutRegistry};
//! use messenger_core::Platform;
//! use messenger_inbox::{Db, DbConfig, stores::SqlOptOutStore};
//! let db = Db::open(&DbConfig::sqlite_memory()).await.unwrap();
//! let registry = OptOutRegistry::new(Arc::new(SqlOptOutStore::new(db.clone())));
//! let key = ChatKey::new("7", Platform::Telegram, "42");
//! registry.opt_out(&key).await.unwrap();
//! // Another registry over the same database sees it (as another process would).
//! let again = OptOutRegistry::new(Arc::new(SqlOptOutStore::new(db)));
//! assert!(again.is_opted_out(&key).await.unwrap());
//! # });
//! ```

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use messenger_core::consent::{
    AcceptanceMethod, AcceptanceRecord, AcceptanceStore, AgreementEdition, ChatKey, ContactLog,
    ModuleState, ModuleStore, OptOut, OptOutCause, OptOutStore, SuspensionStore,
};
use messenger_core::layers::SeenEvents;
use messenger_core::status::{StatusKey, StatusStore, TrackedStatus};
use messenger_core::window::ReplyWindowStore;
use messenger_core::{ChatId, Error, ErrorKind, Platform, StatusError};

use crate::db::{Db, Row, q};
use crate::error::{InboxError, InboxErrorKind};
use crate::model::{parse_status, status_str};

type CoreResult<T> = messenger_core::Result<T>;

fn core(e: InboxError) -> Error {
    e.into()
}

fn parse_platform(s: &str) -> CoreResult<Platform> {
    s.parse()
        .map_err(|_| Error::new(ErrorKind::Storage, "unknown platform stored"))
}

fn cause_str(c: OptOutCause) -> &'static str {
    c.as_str()
}

fn parse_cause(s: &str) -> OptOutCause {
    match s {
        "stop_word" => OptOutCause::StopWord,
        "blocked" => OptOutCause::Blocked,
        "platform_opt_out" => OptOutCause::PlatformOptOut,
        "unblocked" => OptOutCause::Unblocked,
        "platform_opt_in" => OptOutCause::PlatformOptIn,
        "new_message" => OptOutCause::NewMessage,
        // An unknown stored cause is still an opt-out: the strongest reading.
        _ => OptOutCause::Operator,
    }
}

/// Opt-outs in table `opt_outs`. Unbounded (a database has room): nothing is ever evicted.
#[derive(Debug, Clone)]
pub struct SqlOptOutStore {
    db: Db,
}

impl SqlOptOutStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OptOutStore for SqlOptOutStore {
    async fn get(&self, key: &ChatKey) -> CoreResult<Option<OptOut>> {
        let row = self
            .db
            .opt(q!(
                "SELECT cause, at FROM opt_outs WHERE account = $1 AND platform = $2 AND chat = $3",
                key.account.as_str(),
                key.platform.as_str(),
                key.chat.as_str()
            ))
            .await
            .map_err(core)?;
        row.map(|r| {
            Ok(OptOut {
                cause: parse_cause(&r.text("cause")?),
                at: r.time("at")?,
            })
        })
        .transpose()
        .map_err(core)
    }

    async fn put(&self, key: &ChatKey, opt_out: OptOut) -> CoreResult<()> {
        self.db
            .exec(q!(
                "INSERT INTO opt_outs (account, platform, chat, cause, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account, platform, chat) DO UPDATE SET cause = excluded.cause, at = excluded.at",
                key.account.as_str(),
                key.platform.as_str(),
                key.chat.as_str(),
                cause_str(opt_out.cause),
                opt_out.at
            ))
            .await
            .map_err(core)?;
        Ok(())
    }

    async fn remove(&self, key: &ChatKey) -> CoreResult<()> {
        self.db
            .exec(q!(
                "DELETE FROM opt_outs WHERE account = $1 AND platform = $2 AND chat = $3",
                key.account.as_str(),
                key.platform.as_str(),
                key.chat.as_str()
            ))
            .await
            .map_err(core)?;
        Ok(())
    }
}

/// Chats already contacted (the first-contact notice went out), in table `contact_log`.
#[derive(Debug, Clone)]
pub struct SqlContactLog {
    db: Db,
}

impl SqlContactLog {
    /// A log on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ContactLog for SqlContactLog {
    async fn was_contacted(&self, key: &ChatKey) -> CoreResult<bool> {
        Ok(self
            .db
            .opt(q!(
                "SELECT at FROM contact_log WHERE account = $1 AND platform = $2 AND chat = $3",
                key.account.as_str(),
                key.platform.as_str(),
                key.chat.as_str()
            ))
            .await
            .map_err(core)?
            .is_some())
    }

    async fn mark_contacted(&self, key: &ChatKey, at: DateTime<Utc>) -> CoreResult<()> {
        self.db
            .exec(q!(
                "INSERT INTO contact_log (account, platform, chat, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, platform, chat) DO NOTHING",
                key.account.as_str(),
                key.platform.as_str(),
                key.chat.as_str(),
                at
            ))
            .await
            .map_err(core)?;
        Ok(())
    }
}

/// The acceptance log's records in table `acceptance_records`: append-only, `seq` without gaps
/// (the primary key refuses a second writer of one position, answered
/// [`ErrorKind::Conflict`] so that the log retries). The key is never in the database.
#[derive(Debug, Clone)]
pub struct SqlAcceptanceStore {
    db: Db,
}

impl SqlAcceptanceStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn record_from(r: &Row) -> crate::Result<AcceptanceRecord> {
    let method = match r.text("method")?.as_str() {
        "activation" => AcceptanceMethod::Activation,
        "continued_use" => AcceptanceMethod::ContinuedUse,
        _ => return Err(InboxError::storage("unknown acceptance method stored")),
    };
    let seq = u64::try_from(r.i64("seq")?)
        .map_err(|_| InboxError::storage("a negative acceptance seq is stored"))?;
    Ok(AcceptanceRecord {
        seq,
        owner: r.text("owner")?.into(),
        edition: r.text("edition")?,
        edition_sha256: r.text("edition_sha256")?,
        accepted_at: r.time("accepted_at")?,
        method,
        evidence: r.text("evidence")?,
        key_id: r.text("key_id")?,
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

const RECORD_COLUMNS: &str =
    "seq, owner, edition, edition_sha256, accepted_at, method, evidence, key_id, prev_hash, hash";

#[async_trait]
impl AcceptanceStore for SqlAcceptanceStore {
    async fn append(&self, record: AcceptanceRecord) -> CoreResult<()> {
        let seq = i64::try_from(record.seq)
            .map_err(|_| Error::invalid_input("acceptance seq out of range"))?;
        // Inserted only where it is the next position: a gap or a taken seq is a conflict.
        let inserted = self
            .db
            .exec(q!(
                format!(
                    "INSERT INTO acceptance_records ({RECORD_COLUMNS})
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
                     WHERE (SELECT COALESCE(MAX(seq), 0) FROM acceptance_records) = $11"
                ),
                seq,
                record.owner.as_str(),
                record.edition.as_str(),
                record.edition_sha256.as_str(),
                record.accepted_at,
                record.method.as_str(),
                record.evidence.as_str(),
                record.key_id.as_str(),
                record.prev_hash.as_str(),
                record.hash.as_str(),
                seq - 1
            ))
            .await;
        match inserted {
            Ok(1) => Ok(()),
            Ok(_) => Err(Error::new(
                ErrorKind::Conflict,
                format!("acceptance log: seq {seq} is taken or out of order"),
            )),
            Err(e) if e.kind() == InboxErrorKind::Conflict => Err(Error::new(
                ErrorKind::Conflict,
                format!("acceptance log: seq {seq} is taken"),
            )),
            Err(e) => Err(core(e)),
        }
    }

    async fn all(&self) -> CoreResult<Vec<AcceptanceRecord>> {
        self.db
            .all(q!(format!(
                "SELECT {RECORD_COLUMNS} FROM acceptance_records ORDER BY seq"
            )))
            .await
            .and_then(|rows| rows.iter().map(record_from).collect())
            .map_err(core)
    }

    async fn last(&self) -> CoreResult<Option<AcceptanceRecord>> {
        self.db
            .opt(q!(format!(
                "SELECT {RECORD_COLUMNS} FROM acceptance_records ORDER BY seq DESC LIMIT 1"
            )))
            .await
            .and_then(|row| row.as_ref().map(record_from).transpose())
            .map_err(core)
    }
}

/// Published editions (`agreement_editions`) and each account's module state
/// (`module_states`).
#[derive(Debug, Clone)]
pub struct SqlModuleStore {
    db: Db,
}

impl SqlModuleStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ModuleStore for SqlModuleStore {
    async fn editions(&self) -> CoreResult<Vec<AgreementEdition>> {
        let rows = self
            .db
            .all(q!(
                "SELECT edition_id, published, url, text_sha256 FROM agreement_editions ORDER BY seq"
            ))
            .await
            .map_err(core)?;
        rows.iter()
            .map(|r| {
                let url = r.text("url").map_err(core)?.parse().map_err(|_| {
                    Error::new(ErrorKind::Storage, "a stored edition URL is malformed")
                })?;
                Ok(AgreementEdition {
                    id: r.text("edition_id").map_err(core)?,
                    published: r.time("published").map_err(core)?,
                    url,
                    text_sha256: r.text("text_sha256").map_err(core)?,
                })
            })
            .collect()
    }

    async fn add_edition(&self, edition: AgreementEdition) -> CoreResult<()> {
        self.db
            .exec(q!(
                "INSERT INTO agreement_editions (edition_id, published, url, text_sha256) VALUES ($1, $2, $3, $4)",
                edition.id.as_str(),
                edition.published,
                edition.url.as_str(),
                edition.text_sha256.as_str()
            ))
            .await
            .map_err(core)?;
        Ok(())
    }

    async fn state(&self, owner: &messenger_core::AccountId) -> CoreResult<Option<ModuleState>> {
        let row = self
            .db
            .opt(q!(
                "SELECT active, edition, changed_at FROM module_states WHERE account = $1",
                owner.as_str()
            ))
            .await
            .map_err(core)?;
        row.map(|r| {
            Ok(ModuleState {
                active: r.bool("active")?,
                edition: r.text("edition")?,
                changed_at: r.time("changed_at")?,
            })
        })
        .transpose()
        .map_err(core)
    }

    async fn set_state(
        &self,
        owner: &messenger_core::AccountId,
        state: ModuleState,
    ) -> CoreResult<()> {
        self.db
            .exec(q!(
                "INSERT INTO module_states (account, active, edition, changed_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account) DO UPDATE SET active = excluded.active, edition = excluded.edition, changed_at = excluded.changed_at",
                owner.as_str(),
                state.active,
                state.edition.as_str(),
                state.changed_at
            ))
            .await
            .map_err(core)?;
        Ok(())
    }
}

/// The operator's platform suspensions, in `platform_suspensions`.
#[derive(Debug, Clone)]
pub struct SqlSuspensionStore {
    db: Db,
}

impl SqlSuspensionStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SuspensionStore for SqlSuspensionStore {
    async fn is_suspended(&self, platform: Platform) -> CoreResult<bool> {
        Ok(self
            .db
            .opt(q!(
                "SELECT at FROM platform_suspensions WHERE platform = $1",
                platform.as_str()
            ))
            .await
            .map_err(core)?
            .is_some())
    }

    async fn set_suspended(&self, platform: Platform, suspended: bool) -> CoreResult<()> {
        let q = if suspended {
            q!(
                "INSERT INTO platform_suspensions (platform, at) VALUES ($1, $2) ON CONFLICT (platform) DO NOTHING",
                platform.as_str(),
                crate::db::now()
            )
        } else {
            q!(
                "DELETE FROM platform_suspensions WHERE platform = $1",
                platform.as_str()
            )
        };
        self.db.exec(q).await.map_err(core)?;
        Ok(())
    }

    async fn suspended(&self) -> CoreResult<Vec<Platform>> {
        let rows = self
            .db
            .all(q!(
                "SELECT platform FROM platform_suspensions ORDER BY platform"
            ))
            .await
            .map_err(core)?;
        rows.iter()
            .map(|r| parse_platform(&r.text("platform").map_err(core)?))
            .collect()
    }
}

/// The customer's last inbound time per chat, for reply windows, in `reply_windows`, scoped to
/// one account.
///
/// It also says since when the inbox has taken in every inbound message of the account
/// ([`ReplyWindowStore::watching_since`]): from when its module was last activated (or its
/// agreement edition last changed), while the account and its module are active and its
/// platform is not suspended. Persisted, this survives a restart: a day after activation, a
/// customer who has not written in 24 hours has a closed window, in every process. (A
/// suspension of the account or its platform, once lifted, does not move that time: the
/// messages of the gap, if the platform did not deliver them later, are not known.)
#[derive(Debug, Clone)]
pub struct SqlReplyWindowStore {
    db: Db,
    scope: String,
    window: Duration,
}

impl SqlReplyWindowStore {
    /// The store of `account`, whose window lasts `window` (WhatsApp: 24 h).
    pub fn for_account(db: Db, account: &messenger_core::AccountId, window: Duration) -> Self {
        Self {
            db,
            scope: account.as_str().to_owned(),
            window,
        }
    }
}

#[async_trait]
impl ReplyWindowStore for SqlReplyWindowStore {
    async fn record_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
        at: DateTime<Utc>,
    ) -> CoreResult<()> {
        // Only ever moves forward: a late, older message does not shorten the window.
        self.db
            .exec(q!(
                "INSERT INTO reply_windows (scope, platform, chat, last_inbound) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, platform, chat) DO UPDATE SET last_inbound = excluded.last_inbound
                 WHERE reply_windows.last_inbound < excluded.last_inbound",
                self.scope.as_str(),
                platform.as_str(),
                chat.as_str(),
                at
            ))
            .await
            .map_err(core)?;
        Ok(())
    }

    async fn last_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> CoreResult<Option<DateTime<Utc>>> {
        let row = self
            .db
            .opt(q!(
                "SELECT last_inbound FROM reply_windows WHERE scope = $1 AND platform = $2 AND chat = $3",
                self.scope.as_str(),
                platform.as_str(),
                chat.as_str()
            ))
            .await
            .map_err(core)?;
        let last = row
            .map(|r| r.time("last_inbound"))
            .transpose()
            .map_err(core)?;
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        Ok(last.filter(|at| {
            at.checked_add_signed(window)
                .is_none_or(|end| Utc::now() < end)
        }))
    }

    /// When the account's module was last activated (`module_states.changed_at`), if the
    /// account (of this `platform`) and its module are active and the platform is not
    /// suspended: intake takes in nothing otherwise. `None` for a scope that is no account of
    /// the inbox.
    async fn watching_since(&self, platform: Platform) -> CoreResult<Option<DateTime<Utc>>> {
        let Ok(account) = self.scope.parse::<i64>() else {
            return Ok(None);
        };
        let row = self
            .db
            .opt(q!(
                "SELECT a.state, m.active, m.changed_at FROM accounts a, module_states m
                 WHERE a.id = $1 AND a.platform = $2 AND m.account = $3",
                account,
                platform.as_str(),
                self.scope.as_str()
            ))
            .await
            .map_err(core)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let active = row.text("state").map_err(core)? == crate::AccountState::Active.as_str()
            && row.bool("active").map_err(core)?;
        if !active {
            return Ok(None);
        }
        let suspended = self
            .db
            .opt(q!(
                "SELECT at FROM platform_suspensions WHERE platform = $1",
                platform.as_str()
            ))
            .await
            .map_err(core)?
            .is_some();
        if suspended {
            return Ok(None);
        }
        row.time("changed_at").map(Some).map_err(core)
    }
}

/// Seen inbound events in `seen_events`, shared by every process: [`SeenEvents::claim`] is one
/// `INSERT … ON CONFLICT DO NOTHING` per key, so two deliveries of one event, in two processes
/// at once, cannot both be told it is new.
#[derive(Debug, Clone)]
pub struct SqlSeenEvents {
    db: Db,
}

impl SqlSeenEvents {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Forgets keys seen before `before` (platforms redeliver for days, not months).
    pub async fn purge_older_than(&self, before: DateTime<Utc>) -> crate::Result<u64> {
        self.db
            .exec(q!("DELETE FROM seen_events WHERE seen_at < $1", before))
            .await
    }
}

fn scope_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(s, _)| s)
}

#[async_trait]
impl SeenEvents for SqlSeenEvents {
    async fn is_seen(&self, key: &str) -> CoreResult<bool> {
        Ok(self
            .db
            .opt(q!(
                "SELECT seen_at FROM seen_events WHERE event_key = $1",
                key
            ))
            .await
            .map_err(core)?
            .is_some())
    }

    async fn mark_seen(&self, keys: &[String]) -> CoreResult<()> {
        self.claim(keys).await.map(|_| ())
    }

    async fn claim(&self, keys: &[String]) -> CoreResult<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = crate::db::now();
        let mut tx = self.db.begin().await.map_err(core)?;
        let mut fresh = Vec::with_capacity(keys.len());
        for key in keys {
            let n = tx
                .exec(q!(
                    "INSERT INTO seen_events (event_key, scope, seen_at) VALUES ($1, $2, $3) ON CONFLICT (event_key) DO NOTHING",
                    key.as_str(),
                    scope_of(key),
                    now
                ))
                .await
                .map_err(core)?;
            fresh.push(n == 1);
        }
        tx.commit().await.map_err(core)?;
        Ok(fresh)
    }
}

/// Delivery statuses in `delivery_statuses`, scoped to one account; compare-and-set is one
/// conditional statement, so the [`StatusTracker`](messenger_core::status::StatusTracker)'s
/// monotonic rule holds across processes.
#[derive(Debug, Clone)]
pub struct SqlStatusStore {
    db: Db,
    scope: String,
}

impl SqlStatusStore {
    /// The store of `account`.
    pub fn for_account(db: Db, account: &messenger_core::AccountId) -> Self {
        Self {
            db,
            scope: account.as_str().to_owned(),
        }
    }
}

fn error_json(e: &Option<StatusError>) -> CoreResult<Option<String>> {
    e.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(Error::from)
}

#[async_trait]
impl StatusStore for SqlStatusStore {
    async fn get(&self, key: &StatusKey) -> CoreResult<Option<TrackedStatus>> {
        let row = self
            .db
            .opt(q!(
                "SELECT status, error, updated_at FROM delivery_statuses
                 WHERE scope = $1 AND platform = $2 AND chat = $3 AND message = $4",
                self.scope.as_str(),
                key.platform.as_str(),
                key.chat.as_str(),
                key.message.as_str()
            ))
            .await
            .map_err(core)?;
        let Some(r) = row else { return Ok(None) };
        let error = r
            .opt_text("error")
            .map_err(core)?
            .map(|e| serde_json::from_str::<StatusError>(&e))
            .transpose()?;
        Ok(Some(TrackedStatus {
            status: parse_status(&r.text("status").map_err(core)?).map_err(core)?,
            error,
            updated_at: r.time("updated_at").map_err(core)?,
        }))
    }

    async fn compare_and_set(
        &self,
        key: &StatusKey,
        expected: Option<&TrackedStatus>,
        new: TrackedStatus,
    ) -> CoreResult<bool> {
        let new_error = error_json(&new.error)?;
        let n = match expected {
            None => self
                .db
                .exec(q!(
                    "INSERT INTO delivery_statuses (scope, platform, chat, message, status, error, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (scope, platform, chat, message) DO NOTHING",
                    self.scope.as_str(),
                    key.platform.as_str(),
                    key.chat.as_str(),
                    key.message.as_str(),
                    status_str(&new.status),
                    new_error,
                    new.updated_at
                ))
                .await
                .map_err(core)?,
            Some(old) => self
                .db
                .exec(q!(
                    "UPDATE delivery_statuses SET status = $1, error = $2, updated_at = $3
                     WHERE scope = $4 AND platform = $5 AND chat = $6 AND message = $7
                       AND status = $8 AND updated_at = $9 AND error IS NOT DISTINCT FROM $10",
                    status_str(&new.status),
                    new_error,
                    new.updated_at,
                    self.scope.as_str(),
                    key.platform.as_str(),
                    key.chat.as_str(),
                    key.message.as_str(),
                    status_str(&old.status),
                    crate::db::micros(old.updated_at),
                    error_json(&old.error)?
                ))
                .await
                .map_err(core)?,
        };
        Ok(n == 1)
    }
}
