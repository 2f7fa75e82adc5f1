//! Agreement editions and the hash-chained acceptance log.
//!
//! Every acceptance of an edition of the messenger module's agreement is an
//! [`AcceptanceRecord`] appended to an [`AcceptanceLog`]. Each record carries the hash of the one
//! before it, so [`AcceptanceLog::verify`] notices a record that was altered, dropped, reordered or
//! inserted. The record is the evidence of acceptance.
//!
//! # The hash
//!
//! `hash = hex(SHA-256(b"messenger-core/acceptance/v1\n" ++ canonical))`, where `canonical` is the
//! compact JSON array
//! `[seq, owner, edition, edition_sha256, accepted_at, method, evidence, prev_hash]`
//! (`seq` a number, everything else a string; `edition_sha256` the accepted edition's
//! [`AgreementEdition::text_sha256`], so a record binds the exact text that was accepted; `accepted_at` in RFC 3339 UTC with nine fractional
//! digits, e.g. `2026-01-01T12:00:00.123456000Z`; `method` `activation` or `continued_use`).
//! The first record's `prev_hash` is [`GENESIS_HASH`] (64 zeros). A database can recompute and
//! check the chain from these rules alone.
//!
//! A chain alone cannot notice that its newest records were cut off. Keep the
//! [`ChainHead`] that [`AcceptanceLog::verify`] returns somewhere else (another database, a
//! signed export) and check later with [`AcceptanceLog::verify_against`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountId, TextLen};

/// The `prev_hash` of the first record of a log: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_DOMAIN: &[u8] = b"messenger-core/acceptance/v1\n";

/// Lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One edition of the messenger module's agreement.
///
/// The text itself stays where it is published (`url`); the edition keeps its SHA-256, so the
/// exact text an owner accepted can be proven later.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use messenger_core::consent::AgreementEdition;
/// let text = "1. The module transports messages...";
/// let edition = AgreementEdition::new(
///     "2026-01",
///     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
///     "https://crm.example/agreement/2026-01".parse().unwrap(),
///     text,
/// );
/// assert_eq!(edition.text_sha256.len(), 64);
/// assert!(edition.matches_text(text));
/// assert!(!edition.matches_text("1. The module reads messages..."));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementEdition {
    /// The edition's id (`2026-01`, `v3`): what acceptance records refer to.
    pub id: String,
    /// When the edition takes effect. An edition published in the future is announced, not yet
    /// current.
    pub published: DateTime<Utc>,
    /// Where its text is published.
    pub url: Url,
    /// Lowercase hex SHA-256 of the exact text (UTF-8 bytes).
    pub text_sha256: String,
}

impl AgreementEdition {
    /// An edition whose `text_sha256` is computed from `text`.
    pub fn new(
        id: impl Into<String>,
        published: DateTime<Utc>,
        url: Url,
        text: impl AsRef<str>,
    ) -> Self {
        Self {
            id: id.into(),
            published,
            url,
            text_sha256: sha256_hex(text.as_ref().as_bytes()),
        }
    }

    /// Whether `text` is exactly the text of this edition.
    pub fn matches_text(&self, text: &str) -> bool {
        sha256_hex(text.as_bytes()) == self.text_sha256
    }
}

/// How an owner accepted an edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceMethod {
    /// The owner activated the messenger module (activation is the acceptance).
    Activation,
    /// The owner went on using the module after a new edition was published (under
    /// [`ContinuedUsePolicy::RecordContinuedUse`](crate::consent::ContinuedUsePolicy)).
    ContinuedUse,
}

impl AcceptanceMethod {
    /// The snake_case name used in JSON and in the hash.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptanceMethod::Activation => "activation",
            AcceptanceMethod::ContinuedUse => "continued_use",
        }
    }
}

impl fmt::Display for AcceptanceMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One acceptance of an agreement edition, chained to the record before it.
///
/// Fields are public so a database can load and store records as they are; the hash makes any
/// change visible to [`verify_chain`]. `Debug` shows the length of `evidence`, not its text
/// (evidence can name a person or an address).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// The account whose owner accepted.
    pub owner: AccountId,
    /// The id of the accepted [`AgreementEdition`].
    pub edition: String,
    /// The [`AgreementEdition::text_sha256`] of the accepted edition: the record binds the exact
    /// text, so changing an edition's text after the fact breaks the chain.
    pub edition_sha256: String,
    /// When (whole microseconds, so that databases store it exactly).
    pub accepted_at: DateTime<Utc>,
    /// How.
    pub method: AcceptanceMethod,
    /// What proves it (the CRM's own words: who clicked what, where; or what use followed a
    /// new edition).
    pub evidence: String,
    /// The `hash` of the record before it ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Lowercase hex SHA-256 over all the fields above; see the [module docs](self).
    pub hash: String,
}

impl AcceptanceRecord {
    /// A record with its `hash` computed. `accepted_at` is truncated to whole microseconds.
    pub fn sealed(
        seq: u64,
        owner: AccountId,
        edition: &AgreementEdition,
        accepted_at: DateTime<Utc>,
        method: AcceptanceMethod,
        evidence: impl Into<String>,
        prev_hash: impl Into<String>,
    ) -> Self {
        let mut record = Self {
            seq,
            owner,
            edition: edition.id.clone(),
            edition_sha256: edition.text_sha256.clone(),
            accepted_at: accepted_at.trunc_subsecs(6),
            method,
            evidence: evidence.into(),
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        record
    }

    /// The canonical serialisation the hash is computed over (see the [module docs](self)).
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.owner.as_str(),
            self.edition,
            self.edition_sha256,
            self.accepted_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            self.method.as_str(),
            self.evidence,
            self.prev_hash,
        ])
        .to_string()
    }

    /// Recomputes the hash from the fields (not from `self.hash`).
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(HASH_DOMAIN);
        hasher.update(self.canonical().as_bytes());
        hex::encode(hasher.finalize())
    }
}

impl fmt::Debug for AcceptanceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptanceRecord")
            .field("seq", &self.seq)
            .field("owner", &self.owner)
            .field("edition", &self.edition)
            .field("accepted_at", &self.accepted_at)
            .field("method", &self.method)
            .field("evidence", &TextLen(&self.evidence))
            .field("prev_hash", &self.prev_hash)
            .field("hash", &self.hash)
            .finish()
    }
}

/// How a log's chain is broken: the first problem found, naming the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The record at `position` (0-based) has sequence number `found` where `expected` was due:
    /// a record before it was dropped, or records were reordered or inserted.
    #[error("record at position {position} has seq {found}, expected {expected}")]
    OutOfSequence {
        /// Where in the log (0-based).
        position: usize,
        /// The seq due there.
        expected: u64,
        /// The seq found there.
        found: u64,
    },
    /// Record `seq` does not carry the hash of the record before it: a record was dropped,
    /// inserted or replaced before it, or the record was forged.
    #[error("record {seq} does not chain to the record before it")]
    Broken {
        /// The record whose `prev_hash` is wrong.
        seq: u64,
    },
    /// Record `seq`'s fields do not hash to its `hash`: it was altered.
    #[error("record {seq} was altered (its hash does not match its fields)")]
    Altered {
        /// The altered record.
        seq: u64,
    },
    /// The log is shorter than, or ends differently from, a head recorded earlier: records were
    /// cut off or the tail was rewritten.
    #[error("the log does not extend the recorded head (seq {seq})")]
    Truncated {
        /// The seq of the recorded head.
        seq: u64,
    },
}

impl ChainError {
    /// The seq of the record the problem was found at.
    pub fn seq(&self) -> u64 {
        match self {
            ChainError::OutOfSequence { found, .. } => *found,
            ChainError::Broken { seq } | ChainError::Altered { seq } => *seq,
            ChainError::Truncated { seq } => *seq,
        }
    }
}

/// The newest record of a verified log: keep it elsewhere to notice a truncation later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// How many records the log had (the seq of the newest one).
    pub len: u64,
    /// The hash of the newest record ([`GENESIS_HASH`] for an empty log).
    pub hash: String,
}

/// Checks a whole chain: seq numbers 1, 2, 3... without gaps, each `prev_hash` equal to the hash
/// of the record before, and each `hash` equal to the hash of the record's fields.
///
/// ```
/// use chrono::Utc;
/// use messenger_core::consent::{
///     verify_chain, AcceptanceMethod, AcceptanceRecord, AgreementEdition, ChainError, GENESIS_HASH,
/// };
/// let v1 = AgreementEdition::new("v1", Utc::now(), "https://crm.example/a/v1".parse().unwrap(), "text");
/// let first = AcceptanceRecord::sealed(1, "acc-1".into(), &v1, Utc::now(),
///     AcceptanceMethod::Activation, "settings page", GENESIS_HASH);
/// let mut records = vec![first];
/// assert_eq!(verify_chain(&records).unwrap().len, 1);
/// // Claiming the owner accepted another text breaks the chain:
/// records[0].edition_sha256 = AgreementEdition::new("v1", Utc::now(),
///     "https://crm.example/a/v1".parse().unwrap(), "other text").text_sha256;
/// assert_eq!(verify_chain(&records), Err(ChainError::Altered { seq: 1 }));
/// ```
pub fn verify_chain(records: &[AcceptanceRecord]) -> std::result::Result<ChainHead, ChainError> {
    let mut prev_hash = GENESIS_HASH;
    for (position, record) in records.iter().enumerate() {
        let expected = position as u64 + 1;
        if record.seq != expected {
            return Err(ChainError::OutOfSequence {
                position,
                expected,
                found: record.seq,
            });
        }
        if record.prev_hash != prev_hash {
            return Err(ChainError::Broken { seq: record.seq });
        }
        if record.compute_hash() != record.hash {
            return Err(ChainError::Altered { seq: record.seq });
        }
        prev_hash = &record.hash;
    }
    Ok(ChainHead {
        len: records.len() as u64,
        hash: prev_hash.to_owned(),
    })
}

/// Where acceptance records are kept: append-only.
///
/// The in-memory default is [`MemoryAcceptanceStore`]. A database implementation keeps `seq`
/// unique (a primary key) so that two processes cannot both append the same position.
#[async_trait]
pub trait AcceptanceStore: Send + Sync + fmt::Debug {
    /// Appends `record`. Must refuse with [`ErrorKind::Conflict`] a record whose `seq` is not one
    /// more than the newest record's (another writer got there first); the log then retries.
    async fn append(&self, record: AcceptanceRecord) -> Result<()>;

    /// Every record, in `seq` order.
    async fn all(&self) -> Result<Vec<AcceptanceRecord>>;

    /// The newest record. The default reads [`all`](AcceptanceStore::all); a database should
    /// override it.
    async fn last(&self) -> Result<Option<AcceptanceRecord>> {
        Ok(self.all().await?.pop())
    }
}

/// An in-memory [`AcceptanceStore`] (lost when the process ends).
#[derive(Debug, Default)]
pub struct MemoryAcceptanceStore {
    records: Mutex<Vec<AcceptanceRecord>>,
}

impl MemoryAcceptanceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `records` as they are, unchecked (to verify records exported elsewhere).
    pub fn from_records(records: Vec<AcceptanceRecord>) -> Self {
        Self {
            records: Mutex::new(records),
        }
    }

    /// **For tests and forensics only**: direct, unchecked write access to the stored records,
    /// bypassing the append-only rule. It exists to prove that [`AcceptanceLog::verify`] notices
    /// tampering; production code has no reason to call it.
    pub fn records_mut(&self) -> MutexGuard<'_, Vec<AcceptanceRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl AcceptanceStore for MemoryAcceptanceStore {
    async fn append(&self, record: AcceptanceRecord) -> Result<()> {
        let mut records = self.records_mut();
        // `None`: the newest seq is at the maximum (corrupt data); nothing can follow it.
        let next = records.last().map_or(Some(1), |r| r.seq.checked_add(1));
        if Some(record.seq) != next {
            let next = next.map_or_else(|| "none".to_owned(), |n| n.to_string());
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "acceptance log: seq {} is taken or out of order (next is {next})",
                    record.seq
                ),
            ));
        }
        records.push(record);
        Ok(())
    }

    async fn all(&self) -> Result<Vec<AcceptanceRecord>> {
        Ok(self.records_mut().clone())
    }

    async fn last(&self) -> Result<Option<AcceptanceRecord>> {
        Ok(self.records_mut().last().cloned())
    }
}

/// The append-only, hash-chained log of acceptances.
///
/// ```
/// # tokio_test_block(async {
/// use chrono::Utc;
/// use messenger_core::consent::{AcceptanceLog, AcceptanceMethod, AgreementEdition};
/// use messenger_core::AccountId;
/// let url = "https://crm.example/agreement".parse().unwrap();
/// let jan = AgreementEdition::new("2026-01", Utc::now(), url, "the January text");
/// let jun = AgreementEdition::new("2026-06", Utc::now(), jan.url.clone(), "the June text");
/// let log = AcceptanceLog::in_memory();
/// let owner = AccountId::new("shop-17");
/// let r1 = log.append(&owner, &jan, AcceptanceMethod::Activation, "owner clicked Activate").await?;
/// let r2 = log.append(&owner, &jun, AcceptanceMethod::ContinuedUse, "first send after 2026-06").await?;
/// assert_eq!(r1.edition_sha256, jan.text_sha256);
/// assert_eq!(r2.prev_hash, r1.hash);
/// let head = log.verify().await?;
/// assert_eq!(head.len, 2);
/// assert_eq!(log.records_for(&owner).await?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(()) });
/// # fn tokio_test_block<F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>>(f: F) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f).unwrap()
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AcceptanceLog {
    store: Arc<dyn AcceptanceStore>,
    // Serialises appends in this process; the store's seq check covers other processes.
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// How often an append is retried when another writer took the next seq.
const APPEND_ATTEMPTS: usize = 5;

/// The error of [`AcceptanceLog::verify`]: the store failed, or the chain is broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The records could not be read.
    #[error(transparent)]
    Store(#[from] Error),
    /// The chain is broken.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl VerifyError {
    /// The chain problem, if that is what failed.
    pub fn chain(&self) -> Option<&ChainError> {
        match self {
            VerifyError::Chain(c) => Some(c),
            VerifyError::Store(_) => None,
        }
    }
}

impl AcceptanceLog {
    /// A log over `store`.
    pub fn new(store: Arc<dyn AcceptanceStore>) -> Self {
        Self {
            store,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// A log over a fresh [`MemoryAcceptanceStore`].
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryAcceptanceStore::new()))
    }

    /// The store behind the log.
    pub fn store(&self) -> &Arc<dyn AcceptanceStore> {
        &self.store
    }

    /// Appends an acceptance made now, chained to the newest record, and returns it.
    pub async fn append(
        &self,
        owner: &AccountId,
        edition: &AgreementEdition,
        method: AcceptanceMethod,
        evidence: impl Into<String>,
    ) -> Result<AcceptanceRecord> {
        let evidence = evidence.into();
        let _guard = self.lock.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (seq, prev_hash) = match self.store.last().await? {
                // A stored seq is data from a database: a corrupted one must not panic.
                Some(last) => match last.seq.checked_add(1) {
                    Some(seq) => (seq, last.hash),
                    None => {
                        return Err(Error::invalid_input(
                            "acceptance log: the newest record's seq is at the maximum; the log is corrupt",
                        ));
                    }
                },
                None => (1, GENESIS_HASH.to_owned()),
            };
            let record = AcceptanceRecord::sealed(
                seq,
                owner.clone(),
                edition,
                Utc::now(),
                method,
                evidence.clone(),
                prev_hash,
            );
            match self.store.append(record.clone()).await {
                Ok(()) => {
                    tracing::info!(
                        account = %owner.fingerprint(),
                        edition = %edition.id,
                        method = %method,
                        seq,
                        "agreement acceptance recorded"
                    );
                    return Ok(record);
                }
                Err(e) if e.kind() == ErrorKind::Conflict && attempt < APPEND_ATTEMPTS => {
                    tracing::debug!(seq, attempt, "acceptance log append raced; retrying");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Every record, in order.
    pub async fn records(&self) -> Result<Vec<AcceptanceRecord>> {
        self.store.all().await
    }

    /// The records of one owner, in order.
    pub async fn records_for(&self, owner: &AccountId) -> Result<Vec<AcceptanceRecord>> {
        let mut records = self.store.all().await?;
        records.retain(|r| &r.owner == owner);
        Ok(records)
    }

    /// Verifies the whole chain (see [`verify_chain`]) and returns its head.
    pub async fn verify(&self) -> std::result::Result<ChainHead, VerifyError> {
        let records = self.store.all().await?;
        let head = verify_chain(&records).inspect_err(|e| {
            tracing::warn!(seq = e.seq(), error = %e, "acceptance log failed verification");
        })?;
        Ok(head)
    }

    /// Verifies the chain and that it still contains `head`, recorded earlier: the record at
    /// `head.len` must still have hash `head.hash`. Notices a truncated or rewritten tail.
    pub async fn verify_against(
        &self,
        head: &ChainHead,
    ) -> std::result::Result<ChainHead, VerifyError> {
        let records = self.store.all().await?;
        let current = verify_chain(&records)?;
        let still_there = if head.len == 0 {
            head.hash == GENESIS_HASH
        } else {
            usize::try_from(head.len - 1)
                .ok()
                .and_then(|i| records.get(i))
                .is_some_and(|r| r.hash == head.hash)
        };
        if still_there {
            Ok(current)
        } else {
            Err(ChainError::Truncated { seq: head.len }.into())
        }
    }
}
