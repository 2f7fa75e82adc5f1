//! The state of the messenger module: published editions, which accounts have it active, and
//! which platforms the operator suspended.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::agreement::AgreementEdition;
use crate::error::Result;
use crate::model::{AccountId, Platform};

/// What happens when a new edition of the agreement takes effect for an active account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContinuedUsePolicy {
    /// The first use after the edition takes effect is recorded as its acceptance
    /// ([`AcceptanceMethod::ContinuedUse`](super::AcceptanceMethod::ContinuedUse)) and goes on.
    #[default]
    RecordContinuedUse,
    /// Use is refused with [`ErrorKind::ModuleInactive`](crate::ErrorKind::ModuleInactive) until
    /// the owner activates the module again with the new edition.
    RequireActivation,
}

/// Whether the module is active for an account, and which edition its owner last accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleState {
    /// Whether the module is active (activated and not deactivated since).
    pub active: bool,
    /// The id of the edition the owner last accepted.
    pub edition: String,
    /// When `active` or `edition` last changed.
    pub changed_at: DateTime<Utc>,
}

/// Where published editions and each account's module state are kept.
///
/// The in-memory default is [`MemoryModuleStore`]; a CRM shares state across processes by backing
/// this with its database (two tables: editions, module states).
#[async_trait]
pub trait ModuleStore: Send + Sync + fmt::Debug {
    /// Every published edition, in the order they were published.
    async fn editions(&self) -> Result<Vec<AgreementEdition>>;
    /// Adds an edition (the caller checked that its id is new).
    async fn add_edition(&self, edition: AgreementEdition) -> Result<()>;
    /// The module state of `owner`, if it was ever activated.
    async fn state(&self, owner: &AccountId) -> Result<Option<ModuleState>>;
    /// Replaces the module state of `owner`.
    async fn set_state(&self, owner: &AccountId, state: ModuleState) -> Result<()>;
}

/// An in-memory [`ModuleStore`].
///
/// Not bounded, by design: it holds one state per account of the CRM and one entry per
/// published edition, which grow with the business, not with traffic; and neither may be
/// forgotten (a forgotten state would deactivate an account, a forgotten edition would hide what
/// its owners accepted).
#[derive(Debug, Default)]
pub struct MemoryModuleStore {
    editions: Mutex<Vec<AgreementEdition>>,
    states: Mutex<HashMap<AccountId, ModuleState>>,
}

impl MemoryModuleStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ModuleStore for MemoryModuleStore {
    async fn editions(&self) -> Result<Vec<AgreementEdition>> {
        Ok(self
            .editions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    async fn add_edition(&self, edition: AgreementEdition) -> Result<()> {
        self.editions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(edition);
        Ok(())
    }

    async fn state(&self, owner: &AccountId) -> Result<Option<ModuleState>> {
        Ok(self
            .states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .cloned())
    }

    async fn set_state(&self, owner: &AccountId, state: ModuleState) -> Result<()> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(owner.clone(), state);
        Ok(())
    }
}

/// Where the operator's platform suspensions are kept.
#[async_trait]
pub trait SuspensionStore: Send + Sync + fmt::Debug {
    /// Whether `platform` is suspended.
    async fn is_suspended(&self, platform: Platform) -> Result<bool>;
    /// Suspends or resumes `platform`.
    async fn set_suspended(&self, platform: Platform, suspended: bool) -> Result<()>;
    /// Every suspended platform.
    async fn suspended(&self) -> Result<Vec<Platform>>;
}

/// An in-memory [`SuspensionStore`] (at most one entry per [`Platform`]: bounded by nature).
#[derive(Debug, Default)]
pub struct MemorySuspensionStore {
    suspended: Mutex<BTreeSet<Platform>>,
}

impl MemorySuspensionStore {
    /// A store with nothing suspended.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SuspensionStore for MemorySuspensionStore {
    async fn is_suspended(&self, platform: Platform) -> Result<bool> {
        Ok(self
            .suspended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&platform))
    }

    async fn set_suspended(&self, platform: Platform, suspended: bool) -> Result<()> {
        let mut set = self.suspended.lock().unwrap_or_else(|p| p.into_inner());
        if suspended {
            set.insert(platform);
        } else {
            set.remove(&platform);
        }
        Ok(())
    }

    async fn suspended(&self) -> Result<Vec<Platform>> {
        Ok(self
            .suspended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect())
    }
}

/// The edition in effect at `now`: the latest-published one whose `published` is not after
/// `now` (ties: the one published last).
pub(crate) fn current_edition(
    editions: &[AgreementEdition],
    now: DateTime<Utc>,
) -> Option<&AgreementEdition> {
    editions
        .iter()
        .filter(|e| e.published <= now)
        .enumerate()
        .max_by_key(|(i, e)| (e.published, *i))
        .map(|(_, e)| e)
}
