//! Agreement editions and the keyed, hash-chained acceptance log.
//!
//! Every acceptance of an edition of the messenger module's agreement is an
//! [`AcceptanceRecord`] appended to an [`AcceptanceLog`]. The record is the evidence of
//! acceptance, so the log is built to be evidence:
//!
//! - each record carries a **keyed hash** (HMAC-SHA256) of its fields under an
//!   [`AcceptanceKey`] that is held outside the store (the CRM's secret configuration, a KMS), so
//!   whoever can write the store cannot alter a record, forge one, or recompute the chain;
//! - each record carries the keyed hash of the one before it, so a record dropped, reordered or
//!   inserted anywhere but at the end breaks the chain;
//! - the log's **signed head** ([`SignedHead`]: the newest seq and hash, and a MAC over both)
//!   is exported and kept elsewhere (another database, the CRM's audit storage, a printout); a
//!   later [`AcceptanceLog::verify_against`] notices that records were cut off the end, the
//!   newest included, which no chain can notice by itself.
//!
//! [`AcceptanceLog::verify`] checks the chain with the key and returns a fresh signed head.
//!
//! # The keyed hash
//!
//! `hash = hex(HMAC-SHA256(key, b"messenger-core/acceptance/v2\n" ++ canonical))`, where
//! `canonical` is the compact JSON array
//! `[seq, owner, edition, edition_sha256, accepted_at, method, evidence, key_id, prev_hash]`
//! (`seq` a number, everything else a string; `edition_sha256` the accepted edition's
//! [`AgreementEdition::text_sha256`], so a record binds the exact text that was accepted;
//! `accepted_at` in RFC 3339 UTC with nine fractional digits, e.g.
//! `2026-01-01T12:00:00.123456000Z`; `method` `activation` or `continued_use`; `key_id` the
//! [`AcceptanceKey::id`] of the key). The first record's `prev_hash` is [`GENESIS_HASH`] (64
//! zeros). A signed head's `mac` is
//! `hex(HMAC-SHA256(key, b"messenger-core/acceptance-head/v1\n" ++ [seq, hash, key_id]))`.
//! Anyone holding the key can check a log from these rules alone.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountId, TextLen};
use crate::redact::Secret;

/// The `prev_hash` of the first record of a log: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_DOMAIN: &[u8] = b"messenger-core/acceptance/v2\n";
const HEAD_DOMAIN: &[u8] = b"messenger-core/acceptance-head/v1\n";
const KEY_ID_DOMAIN: &[u8] = b"messenger-core/acceptance-key-id/v1";

/// The key acceptance records are keyed with: HMAC-SHA256, at least
/// [`MIN_LEN`](Self::MIN_LEN) bytes, held **outside** the acceptance store (in the CRM's secret
/// configuration or a key-management service), so that whoever can write the store cannot
/// produce a record or a head that verifies.
///
/// `Debug` shows the key's [`id`](Self::id) only. Keep the key as long as the records: a log
/// can be verified only with the key it was written under.
///
/// ```
/// use messenger_core::consent::AcceptanceKey;
/// use messenger_core::redact::Secret;
/// let key = AcceptanceKey::new(Secret::new(vec![0x42; 32])).unwrap();
/// assert_eq!(key.id().len(), 16);
/// assert!(!format!("{key:?}").contains("42, 42"));
/// // Too short to be a key:
/// assert!(AcceptanceKey::new(Secret::new(b"password".to_vec())).is_err());
/// ```
#[derive(Clone)]
pub struct AcceptanceKey {
    id: String,
    secret: Secret<Vec<u8>>,
}

impl AcceptanceKey {
    /// The shortest key accepted, in bytes (the output size of SHA-256).
    pub const MIN_LEN: usize = 32;

    /// A key from secret bytes; [`ErrorKind::InvalidInput`] when shorter than
    /// [`MIN_LEN`](Self::MIN_LEN).
    pub fn new(secret: Secret<Vec<u8>>) -> Result<Self> {
        if secret.expose().len() < Self::MIN_LEN {
            return Err(Error::invalid_input(format!(
                "an acceptance key needs at least {} bytes",
                Self::MIN_LEN
            )));
        }
        let mut mac = Self::mac_with(secret.expose());
        mac.update(KEY_ID_DOMAIN);
        let id = hex::encode(&mac.finalize().into_bytes()[..8]);
        Ok(Self { id, secret })
    }

    /// A fresh random key from the operating system's generator. Store it (outside the
    /// acceptance store) before the first record is written under it.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; Self::MIN_LEN];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("the operating system's random generator failed: {e}"),
            )
        })?;
        Self::new(Secret::new(bytes))
    }

    /// A public name of the key (16 hex digits derived from it, which reveal nothing of it):
    /// written into every record, so a log checked with the wrong key says so.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac_with(secret: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length")
    }

    fn mac(&self, domain: &[u8], canonical: &str) -> Hmac<Sha256> {
        let mut mac = Self::mac_with(self.secret.expose());
        mac.update(domain);
        mac.update(canonical.as_bytes());
        mac
    }

    /// Lowercase hex HMAC-SHA256 of `domain ++ canonical`.
    fn sign(&self, domain: &[u8], canonical: &str) -> String {
        hex::encode(self.mac(domain, canonical).finalize().into_bytes())
    }

    /// Whether `mac_hex` is the MAC of `domain ++ canonical`, compared in constant time.
    fn verify(&self, domain: &[u8], canonical: &str, mac_hex: &str) -> bool {
        match hex::decode(mac_hex) {
            Ok(bytes) => self.mac(domain, canonical).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for AcceptanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptanceKey")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .finish()
    }
}

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

/// One acceptance of an agreement edition, keyed and chained to the record before it.
///
/// Fields are public so a database can load and store records as they are; the keyed hash makes
/// any change visible to [`verify_chain`], and cannot be recomputed without the
/// [`AcceptanceKey`]. `Debug` shows the length of `evidence`, not its text (evidence can name a
/// person or an address).
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
    /// The [`AcceptanceKey::id`] of the key the record was written under.
    pub key_id: String,
    /// The `hash` of the record before it ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Lowercase hex HMAC-SHA256, under the key, over all the fields above; see the
    /// [module docs](self).
    pub hash: String,
}

impl AcceptanceRecord {
    /// A record with its keyed `hash` computed under `key`. `accepted_at` is truncated to whole
    /// microseconds.
    #[allow(clippy::too_many_arguments)]
    pub fn sealed(
        seq: u64,
        owner: AccountId,
        edition: &AgreementEdition,
        accepted_at: DateTime<Utc>,
        method: AcceptanceMethod,
        evidence: impl Into<String>,
        prev_hash: impl Into<String>,
        key: &AcceptanceKey,
    ) -> Self {
        let mut record = Self {
            seq,
            owner,
            edition: edition.id.clone(),
            edition_sha256: edition.text_sha256.clone(),
            accepted_at: accepted_at.trunc_subsecs(6),
            method,
            evidence: evidence.into(),
            key_id: key.id().to_owned(),
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        record.hash = record.compute_hash(key);
        record
    }

    /// The canonical serialisation the keyed hash is computed over (see the
    /// [module docs](self)).
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.owner.as_str(),
            self.edition,
            self.edition_sha256,
            self.accepted_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            self.method.as_str(),
            self.evidence,
            self.key_id,
            self.prev_hash,
        ])
        .to_string()
    }

    /// Recomputes the keyed hash from the fields (not from `self.hash`) under `key`.
    pub fn compute_hash(&self, key: &AcceptanceKey) -> String {
        key.sign(HASH_DOMAIN, &self.canonical())
    }

    /// Whether `self.hash` is the keyed hash of the fields under `key` (constant time).
    pub fn verify_hash(&self, key: &AcceptanceKey) -> bool {
        key.verify(HASH_DOMAIN, &self.canonical(), &self.hash)
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
            .field("key_id", &self.key_id)
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
    /// inserted or replaced before it.
    #[error("record {seq} does not chain to the record before it")]
    Broken {
        /// The record whose `prev_hash` is wrong.
        seq: u64,
    },
    /// Record `seq`'s keyed hash does not match its fields under the key: it was altered, or
    /// forged (or re-hashed) by someone without the key.
    #[error("record {seq} was altered or forged (its keyed hash does not match its fields)")]
    Altered {
        /// The altered or forged record.
        seq: u64,
    },
    /// Record `seq` names another key than the one the log is checked with: the wrong key was
    /// configured, or the record was forged under another key.
    #[error("record {seq} was written under another key")]
    UnknownKey {
        /// The record.
        seq: u64,
    },
    /// The log is shorter than, or ends differently from, a head recorded earlier: records were
    /// cut off (the newest included) or the tail was rewritten.
    #[error("the log does not extend the recorded head (seq {seq})")]
    Truncated {
        /// The seq of the recorded head.
        seq: u64,
    },
    /// The head given to [`AcceptanceLog::verify_against`] does not verify under the key: it
    /// was forged or altered, or signed under another key.
    #[error("the recorded head (seq {seq}) is not signed under this key")]
    BadHead {
        /// The seq the head claims.
        seq: u64,
    },
}

impl ChainError {
    /// The seq of the record the problem was found at.
    pub fn seq(&self) -> u64 {
        match self {
            ChainError::OutOfSequence { found, .. } => *found,
            ChainError::Broken { seq }
            | ChainError::Altered { seq }
            | ChainError::UnknownKey { seq }
            | ChainError::Truncated { seq }
            | ChainError::BadHead { seq } => *seq,
        }
    }
}

/// The signed head of a verified log: how long it was and how it ended, under the key.
///
/// Export it ([`AcceptanceLog::verify`] returns one; it serialises to JSON) and keep it
/// somewhere the acceptance store's writers cannot reach; check the log against it later with
/// [`AcceptanceLog::verify_against`]. It cannot be forged or moved back without the key.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use messenger_core::consent::{AcceptanceKey, AcceptanceLog, AcceptanceMethod, AgreementEdition};
/// use messenger_core::redact::Secret;
/// use messenger_core::AccountId;
/// let key = AcceptanceKey::new(Secret::new(vec![7; 32]))?;
/// let log = AcceptanceLog::in_memory(key.clone());
/// let v1 = AgreementEdition::new("v1", Utc::now(), "https://crm.example/a/v1".parse().unwrap(), "text");
/// log.append(&AccountId::new("shop-17"), &v1, AcceptanceMethod::Activation, "clicked Activate").await?;
/// let head = log.verify().await?;
/// let exported = serde_json::to_string(&head)?;
/// // ... later, with the head read back from where it was kept:
/// let kept: messenger_core::consent::SignedHead = serde_json::from_str(&exported)?;
/// assert!(kept.verify(&key).is_ok());
/// log.verify_against(&kept).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// The seq of the newest record: how many records the log had (0 for an empty log).
    pub seq: u64,
    /// The keyed hash of the newest record ([`GENESIS_HASH`] for an empty log).
    pub hash: String,
    /// The [`AcceptanceKey::id`] of the key that signed it.
    pub key_id: String,
    /// Lowercase hex HMAC-SHA256 over `[seq, hash, key_id]`; see the [module docs](self).
    pub mac: String,
}

impl SignedHead {
    /// The head at `seq` and `hash`, signed under `key`.
    pub fn sign(seq: u64, hash: impl Into<String>, key: &AcceptanceKey) -> Self {
        let mut head = Self {
            seq,
            hash: hash.into(),
            key_id: key.id().to_owned(),
            mac: String::new(),
        };
        head.mac = key.sign(HEAD_DOMAIN, &head.canonical());
        head
    }

    /// The canonical serialisation the MAC is computed over: `[seq, hash, key_id]`.
    pub fn canonical(&self) -> String {
        serde_json::json!([self.seq, self.hash, self.key_id]).to_string()
    }

    /// `Ok` when the head was signed under `key` and not changed since; otherwise
    /// [`ChainError::BadHead`].
    pub fn verify(&self, key: &AcceptanceKey) -> std::result::Result<(), ChainError> {
        if self.key_id == key.id() && key.verify(HEAD_DOMAIN, &self.canonical(), &self.mac) {
            Ok(())
        } else {
            Err(ChainError::BadHead { seq: self.seq })
        }
    }
}

/// Checks a whole chain under `key`: seq numbers 1, 2, 3... without gaps, each record written
/// under `key`, each `prev_hash` equal to the hash of the record before, and each keyed `hash`
/// matching the record's fields. Returns the signed head.
///
/// A chain alone cannot notice that its newest records were cut off: compare with a head kept
/// elsewhere ([`AcceptanceLog::verify_against`]).
///
/// ```
/// use chrono::Utc;
/// use messenger_core::consent::{
///     verify_chain, AcceptanceKey, AcceptanceMethod, AcceptanceRecord, AgreementEdition,
///     ChainError, GENESIS_HASH,
/// };
/// use messenger_core::redact::Secret;
/// let key = AcceptanceKey::new(Secret::new(vec![1; 32])).unwrap();
/// let v1 = AgreementEdition::new("v1", Utc::now(), "https://crm.example/a/v1".parse().unwrap(), "text");
/// let first = AcceptanceRecord::sealed(1, "acc-1".into(), &v1, Utc::now(),
///     AcceptanceMethod::Activation, "settings page", GENESIS_HASH, &key);
/// let mut records = vec![first];
/// assert_eq!(verify_chain(&records, &key).unwrap().seq, 1);
/// // Claiming the owner accepted another text breaks the record:
/// records[0].edition_sha256 = AgreementEdition::new("v1", Utc::now(),
///     "https://crm.example/a/v1".parse().unwrap(), "other text").text_sha256;
/// assert_eq!(verify_chain(&records, &key), Err(ChainError::Altered { seq: 1 }));
/// ```
pub fn verify_chain(
    records: &[AcceptanceRecord],
    key: &AcceptanceKey,
) -> std::result::Result<SignedHead, ChainError> {
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
        if record.key_id != key.id() {
            return Err(ChainError::UnknownKey { seq: record.seq });
        }
        if record.prev_hash != prev_hash {
            return Err(ChainError::Broken { seq: record.seq });
        }
        if !record.verify_hash(key) {
            return Err(ChainError::Altered { seq: record.seq });
        }
        prev_hash = &record.hash;
    }
    Ok(SignedHead::sign(records.len() as u64, prev_hash, key))
}

/// Where acceptance records are kept: append-only.
///
/// The in-memory default is [`MemoryAcceptanceStore`]. A database implementation keeps `seq`
/// unique (a primary key) so that two processes cannot both append the same position. The
/// [`AcceptanceKey`] is never in the store.
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
///
/// Not bounded, by design: it is evidence, and dropping a record is exactly what the log is
/// built to detect. It grows with activations and new editions (a few records per account and
/// edition), not with traffic.
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

/// The append-only, keyed and hash-chained log of acceptances; see the [module docs](self).
///
/// ```
/// # tokio_test_block(async {
/// use chrono::Utc;
/// use messenger_core::consent::{AcceptanceKey, AcceptanceLog, AcceptanceMethod, AgreementEdition};
/// use messenger_core::redact::Secret;
/// use messenger_core::AccountId;
/// // In production the key comes from the CRM's secret configuration, not from the store.
/// let key = AcceptanceKey::new(Secret::new(vec![0x5a; 32]))?;
/// let url = "https://crm.example/agreement".parse().unwrap();
/// let jan = AgreementEdition::new("2026-01", Utc::now(), url, "the January text");
/// let jun = AgreementEdition::new("2026-06", Utc::now(), jan.url.clone(), "the June text");
/// let log = AcceptanceLog::in_memory(key);
/// let owner = AccountId::new("shop-17");
/// let r1 = log.append(&owner, &jan, AcceptanceMethod::Activation, "owner clicked Activate").await?;
/// let r2 = log.append(&owner, &jun, AcceptanceMethod::ContinuedUse, "first send after 2026-06").await?;
/// assert_eq!(r1.edition_sha256, jan.text_sha256);
/// assert_eq!(r2.prev_hash, r1.hash);
/// let head = log.verify().await?; // export it and keep it elsewhere
/// assert_eq!(head.seq, 2);
/// assert_eq!(head.hash, r2.hash);
/// assert_eq!(log.records_for(&owner).await?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(()) });
/// # fn tokio_test_block<F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>>(f: F) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f).unwrap()
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AcceptanceLog {
    store: Arc<dyn AcceptanceStore>,
    key: Arc<AcceptanceKey>,
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
    /// A log over `store`, whose records are keyed under `key` (held outside the store).
    pub fn new(store: Arc<dyn AcceptanceStore>, key: AcceptanceKey) -> Self {
        Self {
            store,
            key: Arc::new(key),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// A log over a fresh [`MemoryAcceptanceStore`], keyed under `key`.
    pub fn in_memory(key: AcceptanceKey) -> Self {
        Self::new(Arc::new(MemoryAcceptanceStore::new()), key)
    }

    /// The id of the key the log writes and verifies under.
    pub fn key_id(&self) -> &str {
        self.key.id()
    }

    /// The store behind the log.
    pub fn store(&self) -> &Arc<dyn AcceptanceStore> {
        &self.store
    }

    /// Appends an acceptance made now, keyed and chained to the newest record, and returns it.
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
                &self.key,
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

    /// Verifies the whole chain under the key (see [`verify_chain`]) and returns its signed
    /// head. Notices a record altered, forged or dropped anywhere but at the end; export the
    /// head and use [`verify_against`](Self::verify_against) later to notice the end cut off.
    pub async fn verify(&self) -> std::result::Result<SignedHead, VerifyError> {
        let records = self.store.all().await?;
        let head = verify_chain(&records, &self.key).inspect_err(|e| {
            tracing::warn!(seq = e.seq(), error = %e, "acceptance log failed verification");
        })?;
        Ok(head)
    }

    /// [`verify`](Self::verify), and that the log still contains `head`, exported earlier: the
    /// head must be signed under the key, and the record at `head.seq` must still have hash
    /// `head.hash`. Notices a truncated log (the newest record dropped included) or a rewritten
    /// tail. Returns the current signed head.
    pub async fn verify_against(
        &self,
        head: &SignedHead,
    ) -> std::result::Result<SignedHead, VerifyError> {
        head.verify(&self.key)?;
        let records = self.store.all().await?;
        let current = verify_chain(&records, &self.key).inspect_err(|e| {
            tracing::warn!(seq = e.seq(), error = %e, "acceptance log failed verification");
        })?;
        let still_there = if head.seq == 0 {
            head.hash == GENESIS_HASH
        } else {
            usize::try_from(head.seq - 1)
                .ok()
                .and_then(|i| records.get(i))
                .is_some_and(|r| r.hash == head.hash)
        };
        if still_there {
            Ok(current)
        } else {
            let e = ChainError::Truncated { seq: head.seq };
            tracing::warn!(seq = head.seq, error = %e, "acceptance log failed verification");
            Err(e.into())
        }
    }
}
