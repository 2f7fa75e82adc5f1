//! The messenger module's rules: the acceptance log, activation, editions, suspension,
//! opt-outs and the first-contact notice.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use hmac::{Hmac, Mac};
use messenger_core::consent::{
    AcceptanceKey, AcceptanceLog, AcceptanceMethod, AcceptanceRecord, AcceptanceStore,
    AgreementEdition, ChainError, ChatKey, Consent, ContactLog, ContinuedUsePolicy,
    FirstContactNotice, GENESIS_HASH, MemoryAcceptanceStore, MemoryContactLog, MemoryOptOutStore,
    OptOutCause, OptOutRegistry, ReOptInPolicy, SignedHead, verify_chain,
};
use messenger_core::redact::Secret;
use messenger_core::{
    AccountId, ContactChange, ContactEvent, Content, ErrorKind, InboundEvent, MediaSource,
    MessageEvent, OutgoingContent, Platform, Sender, UserId,
};
use sha2::{Digest, Sha256};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// An edition for tests of the log alone.
fn ed(id: &str) -> AgreementEdition {
    edition(id, at(2026, 1, 1))
}

fn edition(id: &str, published: DateTime<Utc>) -> AgreementEdition {
    AgreementEdition::new(
        id,
        published,
        format!("https://crm.example/agreement/{id}")
            .parse()
            .unwrap(),
        format!("agreement text of {id}"),
    )
}

fn text_message(platform: Platform, chat: &str, text: &str) -> InboundEvent {
    InboundEvent::Message(MessageEvent {
        platform,
        chat_id: chat.into(),
        message_id: "100".into(),
        sender: Some(Sender {
            id: UserId::new(format!("user-{chat}")),
            name: None,
        }),
        timestamp: at(2026, 3, 1),
        reply_to: None,
        edited: false,
        content: Content::Text { text: text.into() },
    })
}

fn contact(platform: Platform, chat: &str, change: ContactChange) -> InboundEvent {
    InboundEvent::Contact(ContactEvent {
        platform,
        chat_id: chat.into(),
        user_id: UserId::new(chat),
        change,
        new_chat_id: None,
        timestamp: at(2026, 3, 2),
    })
}

// ---- the acceptance log -------------------------------------------------------------------

/// The CRM's key (held outside the store).
fn key() -> AcceptanceKey {
    AcceptanceKey::new(Secret::new(b"the CRM's 32-byte acceptance key!".to_vec())).unwrap()
}

/// Someone who can write the store, but does not hold the key.
fn attacker_key() -> AcceptanceKey {
    AcceptanceKey::new(Secret::new(vec![0xEE; 32])).unwrap()
}

/// Re-hashes `record` without the key, as a store writer would: under another key, keeping the
/// genuine key id so that the record claims to be genuine.
fn rehash_without_key(record: &mut AcceptanceRecord) {
    record.key_id = key().id().to_owned();
    record.hash = record.compute_hash(&attacker_key());
}

/// Four records from two owners, chained.
async fn sample_records() -> Vec<AcceptanceRecord> {
    let log = AcceptanceLog::in_memory(key());
    let a = AccountId::new("shop-a");
    let b = AccountId::new("shop-b");
    log.append(
        &a,
        &ed("v1"),
        AcceptanceMethod::Activation,
        "owner 1 ticked the box",
    )
    .await
    .unwrap();
    log.append(
        &b,
        &ed("v1"),
        AcceptanceMethod::Activation,
        "owner 2 ticked the box",
    )
    .await
    .unwrap();
    log.append(
        &a,
        &ed("v2"),
        AcceptanceMethod::ContinuedUse,
        "first send after v2",
    )
    .await
    .unwrap();
    log.append(
        &b,
        &ed("v2"),
        AcceptanceMethod::ContinuedUse,
        "first webhook after v2",
    )
    .await
    .unwrap();
    log.records().await.unwrap()
}

fn log_of(records: Vec<AcceptanceRecord>) -> AcceptanceLog {
    AcceptanceLog::new(
        Arc::new(MemoryAcceptanceStore::from_records(records)),
        key(),
    )
}

async fn verify_records(records: Vec<AcceptanceRecord>) -> Result<u64, ChainError> {
    match log_of(records).verify().await {
        Ok(head) => Ok(head.seq),
        Err(e) => Err(e
            .chain()
            .cloned()
            .expect("a chain error, not a store error")),
    }
}

async fn verify_records_against(
    records: Vec<AcceptanceRecord>,
    head: &SignedHead,
) -> Result<u64, ChainError> {
    match log_of(records).verify_against(head).await {
        Ok(head) => Ok(head.seq),
        Err(e) => Err(e
            .chain()
            .cloned()
            .expect("a chain error, not a store error")),
    }
}

#[tokio::test]
async fn untampered_log_verifies_and_chains() {
    let records = sample_records().await;
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    for pair in records.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert!(records.iter().all(|r| r.key_id == key().id()));
    let head = verify_chain(&records, &key()).unwrap();
    assert_eq!(head.seq, 4);
    assert_eq!(head.hash, records[3].hash);
    assert_eq!(head.key_id, key().id());
    assert!(head.verify(&key()).is_ok());
    assert_eq!(verify_records(records.clone()).await, Ok(4));
    assert_eq!(verify_records_against(records, &head).await, Ok(4));
    assert_eq!(verify_chain(&[], &key()).unwrap().hash, GENESIS_HASH);
}

#[tokio::test]
async fn hash_follows_the_documented_canonical_form() {
    let records = sample_records().await;
    let r = &records[2];
    assert_eq!(r.edition_sha256, ed("v2").text_sha256);
    let canonical = format!(
        "[{},\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\"]",
        r.seq,
        r.owner.as_str(),
        r.edition,
        r.edition_sha256,
        r.accepted_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        "continued_use",
        r.evidence,
        key().id(),
        r.prev_hash
    );
    assert_eq!(r.canonical(), canonical);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"the CRM's 32-byte acceptance key!").unwrap();
    mac.update(b"messenger-core/acceptance/v2\n");
    mac.update(canonical.as_bytes());
    assert_eq!(r.hash, hex::encode(mac.finalize().into_bytes()));
    // Not a plain hash: without the key, nobody can compute it.
    let mut plain = Sha256::new();
    plain.update(b"messenger-core/acceptance/v2\n");
    plain.update(canonical.as_bytes());
    assert_ne!(r.hash, hex::encode(plain.finalize()));
    // Stored times are whole microseconds, so a database keeps them exactly.
    assert_eq!(r.accepted_at.timestamp_subsec_nanos() % 1000, 0);

    // The head's MAC, likewise.
    let head = verify_chain(&records, &key()).unwrap();
    let canonical = format!("[4,\"{}\",\"{}\"]", records[3].hash, key().id());
    assert_eq!(head.canonical(), canonical);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"the CRM's 32-byte acceptance key!").unwrap();
    mac.update(b"messenger-core/acceptance-head/v1\n");
    mac.update(canonical.as_bytes());
    assert_eq!(head.mac, hex::encode(mac.finalize().into_bytes()));
}

#[tokio::test]
async fn altered_fields_are_detected() {
    let records = sample_records().await;

    let mut altered = records.clone();
    altered[1].evidence = "nobody ticked anything".into();
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 2 })
    );

    let mut altered = records.clone();
    altered[2].owner = AccountId::new("shop-b");
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 3 })
    );

    let mut altered = records.clone();
    altered[0].accepted_at += Duration::days(1);
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 1 })
    );

    // Claiming the owner accepted another text of the same edition.
    let mut altered = records.clone();
    altered[0].edition_sha256 = edition("v1", at(2026, 1, 1)).text_sha256.replace('a', "b");
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 1 })
    );

    let mut altered = records.clone();
    altered[3].method = AcceptanceMethod::Activation;
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 4 })
    );

    // A hash that is not even hex.
    let mut altered = records.clone();
    altered[3].hash = "not hex".into();
    assert_eq!(
        verify_records(altered).await,
        Err(ChainError::Altered { seq: 4 })
    );
}

#[tokio::test]
async fn a_chain_recomputed_without_the_key_is_detected() {
    // The attack an unkeyed chain cannot stop: alter a record, then recompute its hash and every
    // later one (prev_hash included) so the chain is consistent again.
    let records = sample_records().await;
    let mut rewritten = records.clone();
    rewritten[1].evidence = "the owner never agreed".into();
    for i in 1..rewritten.len() {
        if i > 1 {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
        }
        rehash_without_key(&mut rewritten[i]);
    }
    // The chain links are consistent...
    for pair in rewritten.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    // ...but no hash verifies under the key.
    assert_eq!(
        verify_records(rewritten).await,
        Err(ChainError::Altered { seq: 2 })
    );

    // The same rewrite under another key id is refused as such.
    let mut other_key = records.clone();
    other_key[3].evidence = "changed".into();
    other_key[3].key_id = attacker_key().id().to_owned();
    other_key[3].hash = other_key[3].compute_hash(&attacker_key());
    assert_eq!(
        verify_records(other_key).await,
        Err(ChainError::UnknownKey { seq: 4 })
    );
}

#[tokio::test]
async fn dropped_records_are_detected() {
    let records = sample_records().await;

    let mut dropped = records.clone();
    dropped.remove(1);
    assert_eq!(
        verify_records(dropped).await,
        Err(ChainError::OutOfSequence {
            position: 1,
            expected: 2,
            found: 3
        })
    );

    // Renumbering and re-chaining after the drop does not help: the hashes need the key.
    let mut dropped = records.clone();
    dropped.remove(1);
    for i in 0..dropped.len() {
        dropped[i].seq = i as u64 + 1;
        if i > 0 {
            dropped[i].prev_hash = dropped[i - 1].hash.clone();
        }
        if i > 0 {
            rehash_without_key(&mut dropped[i]);
        }
    }
    assert_eq!(
        verify_records(dropped).await,
        Err(ChainError::Altered { seq: 2 })
    );

    let mut first_dropped = records.clone();
    first_dropped.remove(0);
    assert_eq!(
        verify_records(first_dropped).await.unwrap_err().seq(),
        2,
        "names the record found where seq 1 was due"
    );
}

#[tokio::test]
async fn dropping_the_newest_record_is_detected_against_the_exported_head() {
    let records = sample_records().await;
    let head = verify_chain(&records, &key()).unwrap();
    let exported = serde_json::to_string(&head).unwrap();

    let mut cut = records.clone();
    cut.pop();
    // The chain alone cannot tell: what is left is a valid log of three records.
    assert_eq!(verify_records(cut.clone()).await, Ok(3));
    // The head kept elsewhere can.
    let kept: SignedHead = serde_json::from_str(&exported).unwrap();
    assert_eq!(
        verify_records_against(cut, &kept).await,
        Err(ChainError::Truncated { seq: 4 })
    );

    // Every record gone: still noticed.
    assert_eq!(
        verify_records_against(Vec::new(), &kept).await,
        Err(ChainError::Truncated { seq: 4 })
    );

    // The newest record replaced by another one (forged without the key): noticed by the chain.
    let mut replaced = records.clone();
    replaced[3].evidence = "replaced".into();
    rehash_without_key(&mut replaced[3]);
    assert_eq!(
        verify_records_against(replaced, &kept).await,
        Err(ChainError::Altered { seq: 4 })
    );
}

#[tokio::test]
async fn a_head_cannot_be_forged_or_moved_back_without_the_key() {
    let records = sample_records().await;
    let mut cut = records.clone();
    cut.truncate(2);

    // A store writer who cut the log off would like the CRM to check against a matching head.
    let forged = SignedHead::sign(2, cut[1].hash.clone(), &attacker_key());
    assert_eq!(
        verify_records_against(cut.clone(), &forged).await,
        Err(ChainError::BadHead { seq: 2 })
    );
    // Claiming the genuine key id does not help.
    let mut forged = forged;
    forged.key_id = key().id().to_owned();
    assert_eq!(
        verify_records_against(cut.clone(), &forged).await,
        Err(ChainError::BadHead { seq: 2 })
    );
    // Nor does editing a genuine head.
    let mut edited = verify_chain(&records, &key()).unwrap();
    edited.seq = 2;
    edited.hash = cut[1].hash.clone();
    assert_eq!(
        verify_records_against(cut, &edited).await,
        Err(ChainError::BadHead { seq: 2 })
    );
}

#[tokio::test]
async fn reordered_records_are_detected() {
    let mut records = sample_records().await;
    records.swap(1, 2);
    assert_eq!(
        verify_records(records).await,
        Err(ChainError::OutOfSequence {
            position: 1,
            expected: 2,
            found: 3
        })
    );
}

#[tokio::test]
async fn forged_records_are_detected() {
    let records = sample_records().await;

    // Appended by a store writer, chained correctly, sealed without the key (but naming it).
    let mut forged = records.clone();
    let mut fake = AcceptanceRecord::sealed(
        5,
        AccountId::new("shop-c"),
        &ed("v2"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "forged",
        records[3].hash.clone(),
        &attacker_key(),
    );
    rehash_without_key(&mut fake);
    forged.push(fake);
    assert_eq!(
        verify_records(forged).await,
        Err(ChainError::Altered { seq: 5 })
    );

    // Sealed honestly under another key: refused as another key's.
    let mut forged = records.clone();
    forged.push(AcceptanceRecord::sealed(
        5,
        AccountId::new("shop-c"),
        &ed("v2"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "forged",
        records[3].hash.clone(),
        &attacker_key(),
    ));
    assert_eq!(
        verify_records(forged).await,
        Err(ChainError::UnknownKey { seq: 5 })
    );

    // Appended with a made-up prev hash (even under the right key).
    let mut forged = records.clone();
    forged.push(AcceptanceRecord::sealed(
        5,
        AccountId::new("shop-c"),
        &ed("v2"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "forged",
        "ab".repeat(32),
        &key(),
    ));
    assert_eq!(
        verify_records(forged).await,
        Err(ChainError::Broken { seq: 5 })
    );

    // Inserted in the middle, chained to its predecessor, everything after renumbered and
    // re-chained: without the key the first inserted hash already fails.
    let mut inserted = records.clone();
    let mut fake = AcceptanceRecord::sealed(
        2,
        AccountId::new("shop-c"),
        &ed("v1"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "forged",
        records[0].hash.clone(),
        &attacker_key(),
    );
    rehash_without_key(&mut fake);
    inserted.insert(1, fake);
    for i in 2..inserted.len() {
        inserted[i].seq += 1;
        inserted[i].prev_hash = inserted[i - 1].hash.clone();
        rehash_without_key(&mut inserted[i]);
    }
    assert_eq!(
        verify_records(inserted).await,
        Err(ChainError::Altered { seq: 2 })
    );
}

#[tokio::test]
async fn a_log_checked_with_another_key_says_so() {
    let records = sample_records().await;
    let log = AcceptanceLog::new(
        Arc::new(MemoryAcceptanceStore::from_records(records)),
        attacker_key(),
    );
    let err = log.verify().await.unwrap_err();
    assert_eq!(err.chain(), Some(&ChainError::UnknownKey { seq: 1 }));
}

#[tokio::test]
async fn tampering_through_the_memory_store_is_detected() {
    let store = Arc::new(MemoryAcceptanceStore::new());
    let log = AcceptanceLog::new(store.clone(), key());
    let owner = AccountId::new("shop-a");
    for evidence in ["one", "two", "three"] {
        log.append(&owner, &ed("v1"), AcceptanceMethod::Activation, evidence)
            .await
            .unwrap();
    }
    let head = log.verify().await.unwrap();
    assert_eq!(head.seq, 3);

    store.records_mut()[1].evidence = "changed".into();
    let err = log.verify().await.unwrap_err();
    assert_eq!(err.chain(), Some(&ChainError::Altered { seq: 2 }));
}

#[tokio::test]
async fn a_cut_off_tail_is_detected_against_a_kept_head() {
    let store = Arc::new(MemoryAcceptanceStore::new());
    let log = AcceptanceLog::new(store.clone(), key());
    let owner = AccountId::new("shop-a");
    for evidence in ["one", "two", "three"] {
        log.append(&owner, &ed("v1"), AcceptanceMethod::Activation, evidence)
            .await
            .unwrap();
    }
    let head = log.verify().await.unwrap();
    log.append(&owner, &ed("v1"), AcceptanceMethod::Activation, "four")
        .await
        .unwrap();
    assert_eq!(log.verify_against(&head).await.unwrap().seq, 4);

    store.records_mut().truncate(2);
    assert!(log.verify().await.is_ok(), "the chain alone cannot tell");
    let err = log.verify_against(&head).await.unwrap_err();
    assert_eq!(err.chain(), Some(&ChainError::Truncated { seq: 3 }));
}

#[tokio::test]
async fn the_store_refuses_a_taken_seq() {
    let store = MemoryAcceptanceStore::new();
    let record = |seq| {
        AcceptanceRecord::sealed(
            seq,
            AccountId::new("a"),
            &ed("v1"),
            Utc::now(),
            AcceptanceMethod::Activation,
            "e",
            GENESIS_HASH,
            &key(),
        )
    };
    store.append(record(1)).await.unwrap();
    assert_eq!(
        store.append(record(1)).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.append(record(3)).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.all().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_corrupt_maximal_seq_is_an_error_not_a_panic() {
    // Records come from a database; a corrupted seq must not crash the CRM.
    let corrupt = AcceptanceRecord::sealed(
        u64::MAX,
        AccountId::new("a"),
        &ed("v1"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "e",
        GENESIS_HASH,
        &key(),
    );
    let store = Arc::new(MemoryAcceptanceStore::from_records(vec![corrupt.clone()]));
    let log = AcceptanceLog::new(store.clone(), key());
    let err = log
        .append(
            &AccountId::new("b"),
            &ed("v1"),
            AcceptanceMethod::Activation,
            "e",
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // The store itself refuses any seq after it, without overflowing.
    let mut next = corrupt;
    next.seq = 0;
    assert_eq!(
        store.append(next).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.all().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_keep_one_chain() {
    let log = AcceptanceLog::in_memory(key());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(
                &AccountId::new(format!("shop-{i}")),
                &ed("v1"),
                AcceptanceMethod::Activation,
                format!("owner {i}"),
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(log.verify().await.unwrap().seq, 20);
}

#[test]
fn the_key_never_shows_and_must_be_long_enough() {
    let k = key();
    let debug = format!("{k:?}");
    assert!(!debug.contains("CRM"), "{debug}");
    assert!(debug.contains(k.id()));
    assert_ne!(k.id(), attacker_key().id());
    let err = AcceptanceKey::new(Secret::new(vec![1; 31])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_ne!(
        AcceptanceKey::generate().unwrap().id(),
        AcceptanceKey::generate().unwrap().id()
    );
}

#[tokio::test]
async fn the_consent_keys_its_log_with_the_configured_key() {
    let consent = Consent::builder().acceptance_key(key()).build();
    consent.publish(ed("v1")).await.unwrap();
    consent
        .activate(&AccountId::new("shop-a"), "v1", "owner ticked the box")
        .await
        .unwrap();
    let records = consent.acceptance_log().records().await.unwrap();
    assert_eq!(consent.acceptance_log().key_id(), key().id());
    // Anyone holding the key (and only they) can verify the records elsewhere.
    assert_eq!(verify_chain(&records, &key()).unwrap().seq, 1);
    assert_eq!(
        verify_chain(&records, &attacker_key()),
        Err(ChainError::UnknownKey { seq: 1 })
    );
}

#[test]
fn record_debug_does_not_show_evidence() {
    let r = AcceptanceRecord::sealed(
        1,
        AccountId::new("shop-a"),
        &ed("v1"),
        Utc::now(),
        AcceptanceMethod::Activation,
        "Ivan Petrov from 203.0.113.7",
        GENESIS_HASH,
        &key(),
    );
    let debug = format!("{r:?}");
    assert!(!debug.contains("Ivan"), "{debug}");
    assert!(!debug.contains("203.0.113.7"), "{debug}");
}

#[test]
fn edition_hashes_its_text() {
    let e = AgreementEdition::new(
        "v1",
        at(2026, 1, 1),
        "https://x.example/a".parse().unwrap(),
        "abc",
    );
    assert_eq!(
        e.text_sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(e.matches_text("abc"));
    assert!(!e.matches_text("abd"));
}

// ---- activation, editions, suspension ------------------------------------------------------

#[tokio::test]
async fn activation_and_deactivation() {
    let consent = Consent::builder().build();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let shop = AccountId::new("shop-a");

    assert_eq!(
        consent.check_active(&shop).await.unwrap_err().kind(),
        ErrorKind::ModuleInactive
    );
    assert_eq!(
        consent
            .activate(&shop, "v9", "owner ticked the box")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        consent
            .activate(&shop, "v1", "  ")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );

    let record = consent
        .activate(&shop, "v1", "owner ticked the box")
        .await
        .unwrap();
    assert_eq!(record.method, AcceptanceMethod::Activation);
    assert_eq!(record.owner, shop);
    assert_eq!(record.edition, "v1");
    consent.check_active(&shop).await.unwrap();
    // Another account is not activated by it.
    assert_eq!(
        consent
            .check_active(&AccountId::new("shop-b"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ModuleInactive
    );

    consent.deactivate(&shop).await.unwrap();
    assert_eq!(
        consent.check_active(&shop).await.unwrap_err().kind(),
        ErrorKind::ModuleInactive
    );
    assert!(!consent.module_state(&shop).await.unwrap().unwrap().active);

    consent
        .activate(&shop, "v1", "owner ticked the box again")
        .await
        .unwrap();
    consent.check_active(&shop).await.unwrap();
    let records = consent.acceptance_log().records_for(&shop).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(consent.acceptance_log().verify().await.is_ok());
}

#[tokio::test]
async fn republishing_an_edition_id_with_other_text_is_refused() {
    let consent = Consent::default();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let mut other = edition("v1", at(2025, 1, 1));
    other.text_sha256 = edition("v2", at(2025, 1, 1)).text_sha256;
    assert_eq!(
        consent.publish(other).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(consent.editions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn continued_use_is_recorded_under_the_default_policy() {
    let consent = Consent::builder().build();
    assert_eq!(
        consent.continued_use_policy(),
        ContinuedUsePolicy::RecordContinuedUse
    );
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let shop = AccountId::new("shop-a");
    let other = AccountId::new("shop-b");
    consent.activate(&shop, "v1", "activation").await.unwrap();
    consent.activate(&other, "v1", "activation").await.unwrap();

    consent
        .publish(edition("v2", at(2025, 6, 1)))
        .await
        .unwrap();
    assert_eq!(consent.current_edition().await.unwrap().unwrap().id, "v2");

    consent
        .check_use(&shop, Platform::Telegram, "send")
        .await
        .unwrap();
    let records = consent.acceptance_log().records_for(&shop).await.unwrap();
    assert_eq!(records.len(), 2);
    let last = &records[1];
    assert_eq!(last.method, AcceptanceMethod::ContinuedUse);
    assert_eq!(last.edition, "v2");
    assert!(last.evidence.contains("send"), "{}", last.evidence);
    assert_eq!(
        consent.module_state(&shop).await.unwrap().unwrap().edition,
        "v2"
    );

    // Only the first use is recorded.
    consent.check_active(&shop).await.unwrap();
    assert_eq!(
        consent
            .acceptance_log()
            .records_for(&shop)
            .await
            .unwrap()
            .len(),
        2
    );
    // The other account has not used the module since: nothing recorded for it yet.
    assert_eq!(
        consent
            .acceptance_log()
            .records_for(&other)
            .await
            .unwrap()
            .len(),
        1
    );
    // A deactivated account is not "continuing" anything.
    consent.deactivate(&other).await.unwrap();
    assert_eq!(
        consent.check_active(&other).await.unwrap_err().kind(),
        ErrorKind::ModuleInactive
    );
    assert_eq!(
        consent
            .acceptance_log()
            .records_for(&other)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(consent.acceptance_log().verify().await.unwrap().seq, 3);
}

#[tokio::test]
async fn the_strict_policy_requires_a_fresh_activation() {
    let consent = Consent::builder()
        .continued_use(ContinuedUsePolicy::RequireActivation)
        .build();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let shop = AccountId::new("shop-a");
    consent.activate(&shop, "v1", "activation").await.unwrap();
    consent.check_active(&shop).await.unwrap();

    consent
        .publish(edition("v2", at(2025, 6, 1)))
        .await
        .unwrap();
    let err = consent.check_active(&shop).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ModuleInactive);
    assert_eq!(
        consent
            .acceptance_log()
            .records_for(&shop)
            .await
            .unwrap()
            .len(),
        1,
        "a refused use records nothing"
    );
    // The old edition cannot be accepted any more.
    assert_eq!(
        consent
            .activate(&shop, "v1", "activation")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    consent
        .activate(&shop, "v2", "activation of v2")
        .await
        .unwrap();
    consent.check_active(&shop).await.unwrap();
    let records = consent.acceptance_log().records_for(&shop).await.unwrap();
    assert_eq!(records[1].method, AcceptanceMethod::Activation);
    assert_eq!(records[1].edition, "v2");
}

#[tokio::test]
async fn an_announced_edition_is_not_in_effect_yet() {
    let consent = Consent::builder()
        .continued_use(ContinuedUsePolicy::RequireActivation)
        .build();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let shop = AccountId::new("shop-a");
    consent.activate(&shop, "v1", "activation").await.unwrap();
    consent
        .publish(edition("v2", Utc::now() + Duration::days(3650)))
        .await
        .unwrap();
    assert_eq!(consent.current_edition().await.unwrap().unwrap().id, "v1");
    consent.check_active(&shop).await.unwrap();
    // It can be accepted in advance.
    let early = AccountId::new("shop-b");
    consent
        .activate(&early, "v2", "accepted early")
        .await
        .unwrap();
    consent.check_active(&early).await.unwrap();
}

#[tokio::test]
async fn the_operator_suspends_a_platform_for_everyone() {
    let consent = Consent::builder().build();
    consent
        .publish(edition("v1", at(2025, 1, 1)))
        .await
        .unwrap();
    let a = AccountId::new("shop-a");
    let b = AccountId::new("shop-b");
    consent.activate(&a, "v1", "activation").await.unwrap();
    consent.activate(&b, "v1", "activation").await.unwrap();

    consent.suspend(Platform::Vk).await.unwrap();
    assert!(consent.is_suspended(Platform::Vk).await.unwrap());
    for owner in [&a, &b] {
        let err = consent
            .check_use(owner, Platform::Vk, "send")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PlatformSuspended);
        assert_eq!(err.platform(), Some(Platform::Vk));
        consent
            .check_use(owner, Platform::Telegram, "send")
            .await
            .unwrap();
    }
    assert_eq!(
        consent
            .check_platform(Platform::Vk)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::PlatformSuspended
    );

    consent.resume(Platform::Vk).await.unwrap();
    consent.check_use(&a, Platform::Vk, "send").await.unwrap();
}

// ---- opt-outs -----------------------------------------------------------------------------

#[tokio::test]
async fn every_stop_word_variant_opts_out() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    let variants = [
        "СТОП",
        "стоп!",
        "Stop.",
        "UNSUBSCRIBE",
        "Отписаться...",
        "  «Стоп»  ",
        "stop 🙏",
        "\u{200b}STOP\n",
    ];
    for (i, text) in variants.iter().enumerate() {
        let chat = format!("chat-{i}");
        let change = registry
            .observe(&shop, &text_message(Platform::Telegram, &chat, text))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("variant {i} should opt out"));
        assert!(change.opted_out());
        assert_eq!(change.cause, OptOutCause::StopWord);
        assert_eq!(change.user, UserId::new(format!("user-{chat}")));
        let key = ChatKey::new("shop-a", Platform::Telegram, chat.as_str());
        assert!(registry.is_opted_out(&key).await.unwrap(), "variant {i}");
        let event = change
            .contact_event()
            .expect("a stop word yields a contact event");
        assert_eq!(event.change, ContactChange::OptedOut);
        assert_eq!(event.chat_id.as_str(), chat);
    }
}

#[tokio::test]
async fn other_texts_do_not_opt_out() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    for (i, text) in [
        "stop it",
        "не стоп",
        "STOPP",
        "S T O P",
        "стоп, но позвоните",
        "",
        "!!!",
    ]
    .iter()
    .enumerate()
    {
        let chat = format!("chat-{i}");
        assert!(
            registry
                .observe(&shop, &text_message(Platform::Telegram, &chat, text))
                .await
                .unwrap()
                .is_none(),
            "variant {i}"
        );
        let key = ChatKey::new("shop-a", Platform::Telegram, chat.as_str());
        assert!(!registry.is_opted_out(&key).await.unwrap());
    }
    // A caption is not matched.
    let caption = InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: "c".into(),
        message_id: "1".into(),
        sender: None,
        timestamp: at(2026, 1, 1),
        reply_to: None,
        edited: false,
        content: Content::Image {
            media: messenger_core::MediaRef::new("file-1"),
            caption: Some("STOP".into()),
        },
    });
    assert!(registry.observe(&shop, &caption).await.unwrap().is_none());
}

#[tokio::test]
async fn stop_words_are_configurable() {
    let consent = Consent::builder().stop_words(["Хватит", "no more"]).build();
    let registry = consent.opt_outs();
    assert!(registry.is_stop_word("ХВАТИТ!"));
    assert!(registry.is_stop_word("No   more."));
    assert!(!registry.is_stop_word("STOP"));
}

#[tokio::test]
async fn opt_outs_are_per_account() {
    let registry = OptOutRegistry::in_memory();
    registry
        .observe(
            &AccountId::new("shop-a"),
            &text_message(Platform::WhatsApp, "79990000000", "STOP"),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        registry
            .is_opted_out(&ChatKey::new("shop-a", Platform::WhatsApp, "79990000000"))
            .await
            .unwrap()
    );
    assert!(
        !registry
            .is_opted_out(&ChatKey::new("shop-b", Platform::WhatsApp, "79990000000"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn platform_signals_opt_out_and_in() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    let key = ChatKey::new("shop-a", Platform::Telegram, "42");

    let change = registry
        .observe(
            &shop,
            &contact(Platform::Telegram, "42", ContactChange::Blocked),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(change.opted_out());
    assert_eq!(change.cause, OptOutCause::Blocked);
    assert!(
        change.contact_event().is_none(),
        "the platform event is already there"
    );
    assert!(registry.is_opted_out(&key).await.unwrap());

    let change = registry
        .observe(
            &shop,
            &contact(Platform::Telegram, "42", ContactChange::Unblocked),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.change, ContactChange::OptedIn);
    assert!(!registry.is_opted_out(&key).await.unwrap());

    // A platform opt-out (VK message_deny, MAX bot_stopped, WhatsApp marketing stop).
    let vk = ChatKey::new("shop-a", Platform::Vk, "2000000001");
    registry
        .observe(
            &shop,
            &contact(Platform::Vk, "2000000001", ContactChange::OptedOut),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(registry.is_opted_out(&vk).await.unwrap());
    assert_eq!(
        registry.get(&vk).await.unwrap().unwrap().cause,
        OptOutCause::PlatformOptOut
    );
    // An unblock does not lift an opt-out that was not a block.
    assert!(
        registry
            .observe(
                &shop,
                &contact(Platform::Vk, "2000000001", ContactChange::Unblocked)
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(registry.is_opted_out(&vk).await.unwrap());
    registry
        .observe(
            &shop,
            &contact(Platform::Vk, "2000000001", ContactChange::OptedIn),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!registry.is_opted_out(&vk).await.unwrap());
}

#[tokio::test]
async fn a_stop_word_outlives_block_and_unblock() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    let key = ChatKey::new("shop-a", Platform::Telegram, "42");
    // Blocked first, then STOP after an unblock... and the reverse order.
    registry
        .observe(
            &shop,
            &contact(Platform::Telegram, "42", ContactChange::Blocked),
        )
        .await
        .unwrap();
    registry
        .observe(&shop, &text_message(Platform::Telegram, "42", "СТОП"))
        .await
        .unwrap();
    registry
        .observe(
            &shop,
            &contact(Platform::Telegram, "42", ContactChange::Unblocked),
        )
        .await
        .unwrap();
    assert!(registry.is_opted_out(&key).await.unwrap());
    assert_eq!(
        registry.get(&key).await.unwrap().unwrap().cause,
        OptOutCause::StopWord
    );
}

#[tokio::test]
async fn re_opt_in_only_where_the_policy_says_so() {
    let shop = AccountId::new("shop-a");
    let key = ChatKey::new("shop-a", Platform::Max, "7");

    let strict = OptOutRegistry::in_memory();
    assert_eq!(strict.re_opt_in_policy(), ReOptInPolicy::ExplicitOnly);
    strict
        .observe(&shop, &text_message(Platform::Max, "7", "STOP"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        strict
            .observe(
                &shop,
                &text_message(Platform::Max, "7", "Здравствуйте, где мой заказ?")
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(strict.is_opted_out(&key).await.unwrap());
    // An explicit opt-in by the operator works.
    assert!(strict.opt_in(&key).await.unwrap());
    assert!(!strict.is_opted_out(&key).await.unwrap());

    let lenient = OptOutRegistry::in_memory().with_re_opt_in(ReOptInPolicy::OnNewMessage);
    lenient
        .observe(&shop, &text_message(Platform::Max, "7", "STOP"))
        .await
        .unwrap()
        .unwrap();
    // Another stop word keeps it opted out (and is no change).
    assert!(
        lenient
            .observe(&shop, &text_message(Platform::Max, "7", "стоп"))
            .await
            .unwrap()
            .is_none()
    );
    // An edit is not a new message.
    let mut edit = text_message(Platform::Max, "7", "hello");
    if let InboundEvent::Message(m) = &mut edit {
        m.edited = true;
    }
    assert!(lenient.observe(&shop, &edit).await.unwrap().is_none());
    assert!(lenient.is_opted_out(&key).await.unwrap());

    let change = lenient
        .observe(&shop, &text_message(Platform::Max, "7", "hello again"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.change, ContactChange::OptedIn);
    assert_eq!(change.cause, OptOutCause::NewMessage);
    assert_eq!(
        change.contact_event().unwrap().change,
        ContactChange::OptedIn
    );
    assert!(!lenient.is_opted_out(&key).await.unwrap());
}

#[tokio::test]
async fn the_operator_can_record_an_opt_out() {
    let registry = OptOutRegistry::in_memory();
    let key = ChatKey::new("shop-a", Platform::Avito, "u2i-1");
    assert!(registry.opt_out(&key).await.unwrap());
    assert!(
        !registry.opt_out(&key).await.unwrap(),
        "no change the second time"
    );
    assert!(registry.is_opted_out(&key).await.unwrap());
}

fn id_changed(old: &str, new: Option<&str>) -> InboundEvent {
    InboundEvent::Contact(ContactEvent {
        platform: Platform::WhatsApp,
        chat_id: old.into(),
        user_id: UserId::new(old),
        change: ContactChange::IdChanged,
        new_chat_id: new.map(Into::into),
        timestamp: at(2026, 3, 5),
    })
}

#[tokio::test]
async fn an_opt_out_follows_the_customer_to_a_new_id() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    let old = ChatKey::new("shop-a", Platform::WhatsApp, "79990000001");
    let new = ChatKey::new("shop-a", Platform::WhatsApp, "79990000002");
    registry
        .observe(
            &shop,
            &text_message(Platform::WhatsApp, "79990000001", "STOP"),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!registry.is_opted_out(&new).await.unwrap());

    // The customer changed their number: the STOP still holds, under both ids.
    let change = registry
        .observe(&shop, &id_changed("79990000001", Some("79990000002")))
        .await
        .unwrap();
    assert!(change.is_none(), "no new opt-out state to report");
    assert!(registry.is_opted_out(&new).await.unwrap());
    assert_eq!(
        registry.get(&new).await.unwrap().unwrap().cause,
        OptOutCause::StopWord,
        "the same opt-out, cause and all"
    );
    assert!(registry.is_opted_out(&old).await.unwrap());

    // Only this account's opt-out moves.
    assert!(
        !registry
            .is_opted_out(&ChatKey::new("shop-b", Platform::WhatsApp, "79990000002"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_id_change_opts_nobody_out_by_itself() {
    let registry = OptOutRegistry::in_memory();
    let shop = AccountId::new("shop-a");
    // Not opted out: the new id is not opted out either.
    registry
        .observe(&shop, &id_changed("100", Some("200")))
        .await
        .unwrap();
    let new = ChatKey::new("shop-a", Platform::WhatsApp, "200");
    assert!(!registry.is_opted_out(&new).await.unwrap());
    // An id change without a new id changes nothing.
    registry
        .opt_out(&ChatKey::new("shop-a", Platform::WhatsApp, "300"))
        .await
        .unwrap();
    registry
        .observe(&shop, &id_changed("300", None))
        .await
        .unwrap();
    assert_eq!(
        registry
            .store()
            .get(&ChatKey::new("shop-a", Platform::WhatsApp, "300"))
            .await
            .unwrap()
            .map(|o| o.cause),
        Some(OptOutCause::Operator)
    );
    // A newer opt-out already under the new id is kept as it is.
    registry.opt_out(&new).await.unwrap();
    registry
        .observe(&shop, &text_message(Platform::WhatsApp, "100", "STOP"))
        .await
        .unwrap();
    registry
        .observe(&shop, &id_changed("100", Some("200")))
        .await
        .unwrap();
    assert_eq!(
        registry.get(&new).await.unwrap().unwrap().cause,
        OptOutCause::Operator
    );
}

#[tokio::test]
async fn a_full_opt_out_store_refuses_loudly_and_drops_nothing() {
    let store = Arc::new(MemoryOptOutStore::with_capacity(2));
    let registry = OptOutRegistry::new(store.clone());
    let shop = AccountId::new("shop-a");
    for chat in ["1", "2"] {
        registry
            .observe(&shop, &text_message(Platform::Telegram, chat, "STOP"))
            .await
            .unwrap();
    }
    assert_eq!(store.len(), 2);
    // A third STOP cannot be recorded: an error, not a silent loss, and no eviction.
    let err = registry
        .observe(&shop, &text_message(Platform::Telegram, "3", "STOP"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.to_string().contains("not recorded"), "{err}");
    for chat in ["1", "2"] {
        assert!(
            registry
                .is_opted_out(&ChatKey::new("shop-a", Platform::Telegram, chat))
                .await
                .unwrap()
        );
    }
    // An opt-out moving to a new id needs room too.
    let err = registry
        .observe(
            &shop,
            &InboundEvent::Contact(ContactEvent {
                platform: Platform::Telegram,
                chat_id: "1".into(),
                user_id: UserId::new("1"),
                change: ContactChange::IdChanged,
                new_chat_id: Some("-1001".into()),
                timestamp: at(2026, 3, 5),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    // Opting in frees a place.
    registry
        .opt_in(&ChatKey::new("shop-a", Platform::Telegram, "2"))
        .await
        .unwrap();
    registry
        .observe(&shop, &text_message(Platform::Telegram, "3", "STOP"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.len(), 2);
    // Through the gate, the failure fails the delivery (500): the platform delivers again.
    assert_eq!(
        messenger_core::webhook::WebhookResponse::for_error(&err).status,
        500
    );
}

#[tokio::test]
async fn the_contact_log_forgets_the_oldest_first_contact_at_capacity() {
    let log = MemoryContactLog::with_capacity(2);
    let key = |chat: &str| ChatKey::new("shop-a", Platform::Telegram, chat);
    log.mark_contacted(&key("1"), at(2026, 1, 1)).await.unwrap();
    log.mark_contacted(&key("2"), at(2026, 1, 2)).await.unwrap();
    // Marking again changes nothing (and does not refresh the order).
    log.mark_contacted(&key("1"), at(2026, 1, 3)).await.unwrap();
    log.mark_contacted(&key("3"), at(2026, 1, 4)).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(!log.was_contacted(&key("1")).await.unwrap());
    assert!(log.was_contacted(&key("2")).await.unwrap());
    assert!(log.was_contacted(&key("3")).await.unwrap());
    assert_eq!(
        MemoryContactLog::new().capacity(),
        MemoryContactLog::DEFAULT_CAPACITY
    );
}

// ---- the first-contact notice -------------------------------------------------------------

#[test]
fn the_notice_defaults_and_placement() {
    let notice = FirstContactNotice::default();
    assert!(notice.text().contains(FirstContactNotice::RUSSIAN));
    assert!(notice.text().contains(FirstContactNotice::ENGLISH));
    assert_eq!(
        FirstContactNotice::RUSSIAN,
        "Чтобы отказаться от сообщений, ответьте СТОП."
    );
    assert_eq!(FirstContactNotice::ENGLISH, "Reply STOP to opt out.");

    let notice = FirstContactNotice::new("Reply STOP.");
    match notice.apply(&OutgoingContent::text("Hi")) {
        OutgoingContent::Text { text } => assert_eq!(text, "Hi\n\nReply STOP."),
        other => panic!("{other:?}"),
    }
    // An empty text stays empty for the planner to refuse.
    match notice.apply(&OutgoingContent::text(" ")) {
        OutgoingContent::Text { text } => assert_eq!(text, " "),
        other => panic!("{other:?}"),
    }
    let media = || MediaSource::bytes(vec![1, 2, 3], "image/png", "a.png");
    let with_caption = OutgoingContent::Image {
        media: media(),
        caption: Some("Your receipt".into()),
    };
    assert_eq!(
        notice.apply(&with_caption).caption(),
        Some("Your receipt\n\nReply STOP.")
    );
    let without = OutgoingContent::File {
        media: media(),
        caption: None,
    };
    let applied = notice.apply(&without);
    assert_eq!(applied.caption(), Some("Reply STOP."));
    assert_eq!(applied.kind(), without.kind());
}

#[test]
fn a_blank_notice_falls_back_to_the_default() {
    let consent = Consent::builder()
        .notice(FirstContactNotice::new("   "))
        .build();
    assert_eq!(consent.notice(), &FirstContactNotice::default());
}
