//! The messenger module's rules: agreement editions, the keyed acceptance log, module
//! activation, platform suspension, opt-outs and the first-contact notice.
//!
//! [`Consent`] holds all of them; one `Arc<Consent>` is shared by every account of a CRM, and the
//! [`Gated`](crate::layers::gate::Gated) layer asks it before anything leaves or comes in.
//!
//! - [`agreement`]: [`AgreementEdition`], [`AcceptanceRecord`], [`AcceptanceLog`] (keyed with
//!   an [`AcceptanceKey`] held outside its store, with an exportable [`SignedHead`]) and
//!   [`verify_chain`].
//! - [`module`]: which accounts have the module active, which platforms are suspended.
//! - [`optout`]: stop words, platform signals, [`ReOptInPolicy`].
//! - [`notice`]: the [`FirstContactNotice`] and the [`ContactLog`].
//!
//! Every piece of state sits behind a small async store trait with an in-memory default, so a
//! database can back it later and several processes can share it.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use chrono::{TimeZone, Utc};
//! use messenger_core::consent::{AgreementEdition, Consent};
//! use messenger_core::{AccountId, ErrorKind, Platform};
//!
//! let consent = Consent::builder().build();
//! // In production: `.acceptance_key(key)` with a key from the CRM's secret configuration, and
//! // database-backed stores.
//! consent.publish(AgreementEdition::new(
//!     "2026-01",
//!     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
//!     "https://crm.example/agreement/2026-01".parse().unwrap(),
//!     "the agreement text",
//! )).await?;
//!
//! let shop = AccountId::new("shop-17");
//! assert_eq!(consent.check_active(&shop).await.unwrap_err().kind(), ErrorKind::ModuleInactive);
//! consent.activate(&shop, "2026-01", "owner 5 ticked the box on /settings/messengers").await?;
//! consent.check_active(&shop).await?;
//!
//! consent.suspend(Platform::Vk).await?;
//! let err = consent.check_use(&shop, Platform::Vk, "send").await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::PlatformSuspended);
//!
//! consent.deactivate(&shop).await?;
//! assert_eq!(consent.check_active(&shop).await.unwrap_err().kind(), ErrorKind::ModuleInactive);
//! assert!(consent.acceptance_log().verify().await.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

pub mod agreement;
pub mod module;
pub mod notice;
pub mod optout;

use std::sync::Arc;

use chrono::Utc;

pub use agreement::{
    AcceptanceKey, AcceptanceLog, AcceptanceMethod, AcceptanceRecord, AcceptanceStore,
    AgreementEdition, ChainError, GENESIS_HASH, MemoryAcceptanceStore, SignedHead, VerifyError,
    verify_chain,
};
pub use module::{
    ContinuedUsePolicy, MemoryModuleStore, MemorySuspensionStore, ModuleState, ModuleStore,
    SuspensionStore,
};
pub use notice::{ContactLog, FirstContactNotice, MemoryContactLog};
pub use optout::{
    ChatKey, DEFAULT_STOP_WORDS, MemoryOptOutStore, OptOut, OptOutCause, OptOutChange,
    OptOutRegistry, OptOutStore, ReOptInPolicy, normalize_stop_text,
};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountId, ChatId, Platform};

/// All of the messenger module's rules, over their stores. Build one with [`Consent::builder`]
/// and share it (`Arc<Consent>`) between every account.
///
/// See the [module docs](self) for an example.
#[derive(Debug)]
pub struct Consent {
    log: AcceptanceLog,
    modules: Arc<dyn ModuleStore>,
    suspensions: Arc<dyn SuspensionStore>,
    opt_outs: OptOutRegistry,
    contacts: Arc<dyn ContactLog>,
    notice: FirstContactNotice,
    continued_use: ContinuedUsePolicy,
    // Serialises publishing, activation and continued-use recording in this process.
    edition_lock: tokio::sync::Mutex<()>,
}

impl Default for Consent {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Builds a [`Consent`]; every part has an in-memory default.
///
/// ```
/// use std::sync::Arc;
/// use messenger_core::consent::{
///     AcceptanceKey, Consent, ContinuedUsePolicy, FirstContactNotice, MemoryOptOutStore,
///     ReOptInPolicy,
/// };
/// use messenger_core::redact::Secret;
/// let key = AcceptanceKey::new(Secret::new(vec![0x5a; 32])).unwrap(); // from a secret store
/// let consent = Consent::builder()
///     .acceptance_key(key)
///     .continued_use(ContinuedUsePolicy::RequireActivation)
///     .re_opt_in(ReOptInPolicy::OnNewMessage)
///     .stop_words(["СТОП", "STOP", "ХВАТИТ"])
///     .notice(FirstContactNotice::russian())
///     .opt_out_store(Arc::new(MemoryOptOutStore::new()))
///     .build();
/// assert!(consent.opt_outs().is_stop_word("Хватит!"));
/// assert_eq!(consent.notice().text(), FirstContactNotice::RUSSIAN);
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ConsentBuilder {
    acceptances: Option<Arc<dyn AcceptanceStore>>,
    acceptance_key: Option<AcceptanceKey>,
    modules: Option<Arc<dyn ModuleStore>>,
    suspensions: Option<Arc<dyn SuspensionStore>>,
    opt_outs: Option<Arc<dyn OptOutStore>>,
    contacts: Option<Arc<dyn ContactLog>>,
    stop_words: Option<Vec<String>>,
    re_opt_in: ReOptInPolicy,
    continued_use: ContinuedUsePolicy,
    notice: Option<FirstContactNotice>,
}

impl ConsentBuilder {
    /// Where acceptance records are kept (default: in memory).
    pub fn acceptance_store(mut self, store: Arc<dyn AcceptanceStore>) -> Self {
        self.acceptances = Some(store);
        self
    }
    /// The key acceptance records are keyed with, held outside the acceptance store (see
    /// [`AcceptanceKey`]). Without one, a random key that lives as long as the process is used:
    /// enough for the in-memory store, which dies with it, but records kept in a database could
    /// no longer be verified after a restart (a warning is logged in that case).
    pub fn acceptance_key(mut self, key: AcceptanceKey) -> Self {
        self.acceptance_key = Some(key);
        self
    }
    /// Where editions and module states are kept (default: in memory).
    pub fn module_store(mut self, store: Arc<dyn ModuleStore>) -> Self {
        self.modules = Some(store);
        self
    }
    /// Where platform suspensions are kept (default: in memory).
    pub fn suspension_store(mut self, store: Arc<dyn SuspensionStore>) -> Self {
        self.suspensions = Some(store);
        self
    }
    /// Where opt-outs are kept (default: in memory).
    pub fn opt_out_store(mut self, store: Arc<dyn OptOutStore>) -> Self {
        self.opt_outs = Some(store);
        self
    }
    /// Where contacted chats are kept (default: in memory).
    pub fn contact_log(mut self, log: Arc<dyn ContactLog>) -> Self {
        self.contacts = Some(log);
        self
    }
    /// Replaces the stop words (default: [`DEFAULT_STOP_WORDS`]).
    pub fn stop_words<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stop_words = Some(words.into_iter().map(|w| w.as_ref().to_owned()).collect());
        self
    }
    /// When an opted-out customer may opt back in (default: [`ReOptInPolicy::ExplicitOnly`]).
    pub fn re_opt_in(mut self, policy: ReOptInPolicy) -> Self {
        self.re_opt_in = policy;
        self
    }
    /// What a new edition means for active accounts (default:
    /// [`ContinuedUsePolicy::RecordContinuedUse`]).
    pub fn continued_use(mut self, policy: ContinuedUsePolicy) -> Self {
        self.continued_use = policy;
        self
    }
    /// The first-contact notice (default: [`FirstContactNotice::bilingual`]). A notice whose
    /// text is blank is ignored: the first message must carry a way to refuse.
    pub fn notice(mut self, notice: FirstContactNotice) -> Self {
        self.notice = Some(notice);
        self
    }

    /// Builds the [`Consent`].
    pub fn build(self) -> Consent {
        let mut opt_outs = OptOutRegistry::new(
            self.opt_outs
                .unwrap_or_else(|| Arc::new(MemoryOptOutStore::new())),
        )
        .with_re_opt_in(self.re_opt_in);
        if let Some(words) = self.stop_words {
            opt_outs = opt_outs.with_stop_words(words);
        }
        let notice = self
            .notice
            .filter(|n| !n.text().trim().is_empty())
            .unwrap_or_default();
        let names_a_stop_word = opt_outs
            .stop_words()
            .iter()
            .any(|w| notice.text().to_lowercase().contains(w.as_str()));
        if !names_a_stop_word {
            tracing::warn!("the first-contact notice names none of the configured stop words");
        }
        let key = match self.acceptance_key {
            Some(key) => key,
            None => {
                if self.acceptances.is_some() {
                    tracing::warn!(
                        "no acceptance key configured: records are keyed with a key that dies \
                         with this process and cannot be verified after a restart"
                    );
                }
                ephemeral_key()
            }
        };
        Consent {
            log: AcceptanceLog::new(
                self.acceptances
                    .unwrap_or_else(|| Arc::new(MemoryAcceptanceStore::new())),
                key,
            ),
            modules: self
                .modules
                .unwrap_or_else(|| Arc::new(MemoryModuleStore::new())),
            suspensions: self
                .suspensions
                .unwrap_or_else(|| Arc::new(MemorySuspensionStore::new())),
            opt_outs,
            contacts: self
                .contacts
                .unwrap_or_else(|| Arc::new(MemoryContactLog::new())),
            notice,
            continued_use: self.continued_use,
            edition_lock: tokio::sync::Mutex::new(()),
        }
    }
}

/// A random key for this process: from the OS generator, or, should that fail, from the
/// standard library's randomly seeded hasher keys (themselves drawn from the OS once).
fn ephemeral_key() -> AcceptanceKey {
    AcceptanceKey::generate().unwrap_or_else(|e| {
        tracing::warn!(kind = %e.kind(), "the OS random generator failed; deriving a process key");
        use std::hash::{BuildHasher, Hasher};
        let mut bytes = Vec::with_capacity(AcceptanceKey::MIN_LEN);
        while bytes.len() < AcceptanceKey::MIN_LEN {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(bytes.len());
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            bytes.extend_from_slice(&h.finish().to_le_bytes());
        }
        AcceptanceKey::new(crate::redact::Secret::new(bytes))
            .expect("the derived key has the minimum length")
    })
}

fn inactive(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ModuleInactive, message)
}

/// The position of an edition in time: its publication date, then its place in the list.
fn rank(editions: &[AgreementEdition], id: &str) -> Option<(chrono::DateTime<Utc>, usize)> {
    editions
        .iter()
        .enumerate()
        .find(|(_, e)| e.id == id)
        .map(|(i, e)| (e.published, i))
}

impl Consent {
    /// A builder with in-memory defaults.
    pub fn builder() -> ConsentBuilder {
        ConsentBuilder::default()
    }

    /// The acceptance log.
    pub fn acceptance_log(&self) -> &AcceptanceLog {
        &self.log
    }

    /// The opt-out registry.
    pub fn opt_outs(&self) -> &OptOutRegistry {
        &self.opt_outs
    }

    /// The log of chats already contacted.
    pub fn contacts(&self) -> &Arc<dyn ContactLog> {
        &self.contacts
    }

    /// The first-contact notice.
    pub fn notice(&self) -> &FirstContactNotice {
        &self.notice
    }

    /// What a new edition means for active accounts.
    pub fn continued_use_policy(&self) -> ContinuedUsePolicy {
        self.continued_use
    }

    // ---- editions -------------------------------------------------------------------------

    /// Publishes an edition. It becomes current at its `published` time (an edition dated in the
    /// future is announced until then). Publishing the same edition again is a no-op; another
    /// edition under an id already used is [`ErrorKind::InvalidInput`].
    pub async fn publish(&self, edition: AgreementEdition) -> Result<()> {
        let _guard = self.edition_lock.lock().await;
        let editions = self.modules.editions().await?;
        if let Some(existing) = editions.iter().find(|e| e.id == edition.id) {
            return if *existing == edition {
                Ok(())
            } else {
                Err(Error::invalid_input(format!(
                    "agreement edition `{}` was already published with other contents",
                    edition.id
                )))
            };
        }
        tracing::info!(edition = %edition.id, published = %edition.published, "agreement edition published");
        self.modules.add_edition(edition).await
    }

    /// Every published edition, in the order they were published.
    pub async fn editions(&self) -> Result<Vec<AgreementEdition>> {
        self.modules.editions().await
    }

    /// The edition in effect now: the latest one whose `published` time has come.
    pub async fn current_edition(&self) -> Result<Option<AgreementEdition>> {
        let editions = self.modules.editions().await?;
        Ok(module::current_edition(&editions, Utc::now()).cloned())
    }

    // ---- activation -------------------------------------------------------------------------

    /// Activates the module for `owner`, who accepts `edition` (an id of a published edition:
    /// the current one, or one announced for later). Records an
    /// [`AcceptanceMethod::Activation`] with `evidence` (who accepted, how, where: required) and
    /// returns the record.
    ///
    /// [`ErrorKind::InvalidInput`] for an unknown or superseded edition or empty evidence.
    pub async fn activate(
        &self,
        owner: &AccountId,
        edition: &str,
        evidence: impl Into<String>,
    ) -> Result<AcceptanceRecord> {
        let evidence = evidence.into();
        if evidence.trim().is_empty() {
            return Err(Error::invalid_input(
                "activation needs evidence of acceptance (who accepted, how, where)",
            ));
        }
        let _guard = self.edition_lock.lock().await;
        let editions = self.modules.editions().await?;
        let Some(accepted) = rank(&editions, edition) else {
            return Err(Error::invalid_input(format!(
                "agreement edition `{edition}` is not published"
            )));
        };
        if let Some(current) = module::current_edition(&editions, Utc::now())
            && rank(&editions, &current.id).is_some_and(|c| accepted < c)
        {
            return Err(Error::invalid_input(format!(
                "agreement edition `{edition}` is superseded by `{}`",
                current.id
            )));
        }
        let record = self
            .log
            .append(
                owner,
                &editions[accepted.1],
                AcceptanceMethod::Activation,
                evidence,
            )
            .await?;
        self.modules
            .set_state(
                owner,
                ModuleState {
                    active: true,
                    edition: edition.to_owned(),
                    changed_at: record.accepted_at,
                },
            )
            .await?;
        tracing::info!(account = %owner.fingerprint(), edition, "messenger module activated");
        Ok(record)
    }

    /// Deactivates the module for `owner`: sends and intake are refused from now on, until the
    /// owner activates it again. Deactivating an inactive account does nothing.
    pub async fn deactivate(&self, owner: &AccountId) -> Result<()> {
        let _guard = self.edition_lock.lock().await;
        if let Some(mut state) = self.modules.state(owner).await?
            && state.active
        {
            state.active = false;
            state.changed_at = Utc::now();
            self.modules.set_state(owner, state).await?;
            tracing::info!(account = %owner.fingerprint(), "messenger module deactivated");
        }
        Ok(())
    }

    /// The module state of `owner`, if it was ever activated.
    pub async fn module_state(&self, owner: &AccountId) -> Result<Option<ModuleState>> {
        self.modules.state(owner).await
    }

    /// `Ok` when the module is active for `owner` and its owner accepted the current edition;
    /// otherwise [`ErrorKind::ModuleInactive`]. Under
    /// [`ContinuedUsePolicy::RecordContinuedUse`], the first check after a new edition took
    /// effect records a [`AcceptanceMethod::ContinuedUse`] acceptance and passes.
    pub async fn check_active(&self, owner: &AccountId) -> Result<()> {
        self.check_module(owner, "use").await
    }

    /// [`check_active`](Self::check_active), then [`check_platform`](Self::check_platform);
    /// `action` ("send", "webhook") goes into the evidence of a continued-use record.
    pub async fn check_use(
        &self,
        owner: &AccountId,
        platform: Platform,
        action: &str,
    ) -> Result<()> {
        self.check_module(owner, action)
            .await
            .map_err(|e| e.with_platform(platform))?;
        self.check_platform(platform).await
    }

    /// [`check_use`](Self::check_use), then [`ErrorKind::OptedOut`] when the customer of `chat`
    /// opted out of `owner`'s messages.
    pub async fn check_send(
        &self,
        owner: &AccountId,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<()> {
        self.check_use(owner, platform, "send").await?;
        let key = ChatKey::new(owner.clone(), platform, chat.clone());
        if self.opt_outs.is_opted_out(&key).await? {
            return Err(Error::new(
                ErrorKind::OptedOut,
                "the recipient opted out of messages from this account",
            )
            .with_platform(platform));
        }
        Ok(())
    }

    async fn check_module(&self, owner: &AccountId, action: &str) -> Result<()> {
        let state = self.modules.state(owner).await?;
        let Some(state) = state.filter(|s| s.active) else {
            return Err(inactive(
                "the messenger module is not active for this account",
            ));
        };
        let editions = self.modules.editions().await?;
        let Some(current) = module::current_edition(&editions, Utc::now()) else {
            return Ok(());
        };
        if rank(&editions, &state.edition) >= rank(&editions, &current.id) {
            return Ok(());
        }
        match self.continued_use {
            ContinuedUsePolicy::RequireActivation => Err(inactive(format!(
                "agreement edition `{}` took effect; the owner must activate the module again to accept it",
                current.id
            ))),
            ContinuedUsePolicy::RecordContinuedUse => {
                let _guard = self.edition_lock.lock().await;
                // Another task may have recorded it (or the owner deactivated) meanwhile.
                let Some(mut state) = self.modules.state(owner).await?.filter(|s| s.active) else {
                    return Err(inactive(
                        "the messenger module is not active for this account",
                    ));
                };
                if rank(&editions, &state.edition) >= rank(&editions, &current.id) {
                    return Ok(());
                }
                let evidence = format!(
                    "first {action} after agreement edition `{}` took effect at {}",
                    current.id,
                    current.published.to_rfc3339()
                );
                let record = self
                    .log
                    .append(owner, current, AcceptanceMethod::ContinuedUse, evidence)
                    .await?;
                state.edition = current.id.clone();
                state.changed_at = record.accepted_at;
                self.modules.set_state(owner, state).await?;
                Ok(())
            }
        }
    }

    // ---- suspension -------------------------------------------------------------------------

    /// Suspends `platform` for every account (the operator's decision).
    pub async fn suspend(&self, platform: Platform) -> Result<()> {
        self.suspensions.set_suspended(platform, true).await?;
        tracing::warn!(platform = %platform, "platform suspended by the operator");
        Ok(())
    }

    /// Lifts the suspension of `platform`.
    pub async fn resume(&self, platform: Platform) -> Result<()> {
        self.suspensions.set_suspended(platform, false).await?;
        tracing::info!(platform = %platform, "platform resumed by the operator");
        Ok(())
    }

    /// Whether `platform` is suspended.
    pub async fn is_suspended(&self, platform: Platform) -> Result<bool> {
        self.suspensions.is_suspended(platform).await
    }

    /// `Ok`, or [`ErrorKind::PlatformSuspended`] when the operator suspended `platform`.
    pub async fn check_platform(&self, platform: Platform) -> Result<()> {
        if self.suspensions.is_suspended(platform).await? {
            return Err(Error::new(
                ErrorKind::PlatformSuspended,
                "the operator suspended this platform",
            )
            .with_platform(platform));
        }
        Ok(())
    }
}
