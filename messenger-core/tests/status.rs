//! The monotonic status tracker: order, duplicates, failures and concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use messenger_core::status::{
    Applied, Ignored, MemoryStatusStore, StatusKey, StatusStore, StatusTracker, TrackedStatus,
    observable_ceiling,
};
use messenger_core::{
    Capabilities, ChatId, DeliveryStatus, ErrorKind, MessageId, Platform, Result, StatusError,
    StatusEvent,
};
use proptest::prelude::*;

const PROGRESS: [DeliveryStatus; 4] = [
    DeliveryStatus::Pending,
    DeliveryStatus::Sent,
    DeliveryStatus::Delivered,
    DeliveryStatus::Read,
];

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(second.into())
}

fn event(message: &str, status: DeliveryStatus, second: u32) -> StatusEvent {
    StatusEvent {
        platform: Platform::WhatsApp,
        chat_id: ChatId::new("79990001122"),
        message_id: MessageId::new(message),
        status,
        timestamp: at(second),
        error: None,
    }
}

fn failed(message: &str, second: u32) -> StatusEvent {
    StatusEvent {
        error: Some(StatusError {
            kind: ErrorKind::OutsideReplyWindow,
            code: Some("131047".into()),
            message: Some("Re-engagement message".into()),
        }),
        ..event(message, DeliveryStatus::Failed, second)
    }
}

async fn current(tracker: &StatusTracker, message: &str) -> Option<TrackedStatus> {
    tracker
        .get(
            Platform::WhatsApp,
            &ChatId::new("79990001122"),
            &MessageId::new(message),
        )
        .await
        .unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn rank(status: &DeliveryStatus) -> u8 {
    status.rank().expect("a progress status")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any order of progress updates, with duplicates, ends at the highest one; an update
    /// advances exactly when it is higher than everything before it.
    #[test]
    fn any_order_ends_at_the_highest(indices in prop::collection::vec(0usize..4, 1..24)) {
        let updates: Vec<DeliveryStatus> = indices.iter().map(|&i| PROGRESS[i].clone()).collect();
        let outcomes = block_on(async {
            let tracker = StatusTracker::default();
            let mut outcomes = Vec::new();
            for (second, status) in updates.iter().enumerate() {
                let second = u32::try_from(second).unwrap();
                outcomes.push(tracker.apply(&event("m", status.clone(), second)).await.unwrap());
            }
            (outcomes, current(&tracker, "m").await.unwrap())
        });
        let (outcomes, last) = outcomes;
        let highest = updates.iter().max_by_key(|s| rank(s)).unwrap();
        prop_assert_eq!(&last.status, highest);
        let mut best: Option<u8> = None;
        for (status, outcome) in updates.iter().zip(&outcomes) {
            let raises = best.is_none_or(|b| rank(status) > b);
            prop_assert_eq!(outcome.advanced(), raises);
            if !raises {
                let expected = if Some(rank(status)) == best { Ignored::Duplicate } else { Ignored::Outranked };
                let ignored_as_expected =
                    matches!(outcome, Applied::Ignored { reason, .. } if *reason == expected);
                prop_assert!(ignored_as_expected);
            }
            best = best.max(Some(rank(status)));
            prop_assert_eq!(rank(&outcome.current().status), best.unwrap());
        }
    }

    /// With failures mixed in: the end is `failed` exactly when the message never got past
    /// `sent`, and otherwise the highest progress status.
    #[test]
    fn failures_mixed_in(indices in prop::collection::vec(0usize..5, 1..24)) {
        let updates: Vec<StatusEvent> = indices
            .iter()
            .enumerate()
            .map(|(second, &i)| {
                let second = u32::try_from(second).unwrap();
                if i == 4 { failed("m", second) } else { event("m", PROGRESS[i].clone(), second) }
            })
            .collect();
        let last = block_on(async {
            let tracker = StatusTracker::default();
            for update in &updates {
                tracker.apply(update).await.unwrap();
            }
            current(&tracker, "m").await.unwrap()
        });
        let highest_progress = updates.iter().filter_map(|u| u.status.rank()).max();
        let any_failure = updates.iter().any(|u| u.status == DeliveryStatus::Failed);
        let arrived = highest_progress.is_some_and(|r| r >= 2);
        if any_failure && !arrived {
            prop_assert_eq!(last.status, DeliveryStatus::Failed);
            prop_assert!(last.error.is_some());
        } else {
            prop_assert_eq!(last.status.rank(), highest_progress);
            prop_assert!(last.error.is_none());
        }
    }
}

#[tokio::test]
async fn late_delivered_after_read_is_ignored() {
    let tracker = StatusTracker::default();
    assert!(
        tracker
            .apply(&event("m", DeliveryStatus::Sent, 1))
            .await
            .unwrap()
            .advanced()
    );
    assert!(
        tracker
            .apply(&event("m", DeliveryStatus::Read, 3))
            .await
            .unwrap()
            .advanced()
    );
    let late = tracker
        .apply(&event("m", DeliveryStatus::Delivered, 2))
        .await
        .unwrap();
    assert_eq!(
        late,
        Applied::Ignored {
            reason: Ignored::Outranked,
            current: TrackedStatus {
                status: DeliveryStatus::Read,
                error: None,
                updated_at: at(3),
            },
        }
    );
    let dup = tracker
        .apply(&event("m", DeliveryStatus::Read, 4))
        .await
        .unwrap();
    assert!(matches!(
        dup,
        Applied::Ignored {
            reason: Ignored::Duplicate,
            ..
        }
    ));
    // The duplicate did not touch the time either.
    assert_eq!(current(&tracker, "m").await.unwrap().updated_at, at(3));
}

#[tokio::test]
async fn failed_after_sent_is_kept_with_its_error() {
    let tracker = StatusTracker::default();
    tracker
        .apply(&event("m", DeliveryStatus::Sent, 1))
        .await
        .unwrap();
    let applied = tracker.apply(&failed("m", 2)).await.unwrap();
    assert_eq!(
        applied,
        Applied::Advanced {
            previous: Some(DeliveryStatus::Sent),
            current: TrackedStatus {
                status: DeliveryStatus::Failed,
                error: failed("m", 2).error,
                updated_at: at(2),
            },
        }
    );
    // A late `sent` does not hide the failure.
    let late = tracker
        .apply(&event("m", DeliveryStatus::Sent, 3))
        .await
        .unwrap();
    assert!(!late.advanced());
    let now = current(&tracker, "m").await.unwrap();
    assert_eq!(now.status, DeliveryStatus::Failed);
    assert_eq!(now.error.unwrap().code.as_deref(), Some("131047"));
}

#[tokio::test]
async fn failed_after_read_is_ignored() {
    let tracker = StatusTracker::default();
    tracker
        .apply(&event("m", DeliveryStatus::Read, 1))
        .await
        .unwrap();
    let applied = tracker.apply(&failed("m", 2)).await.unwrap();
    assert!(matches!(
        applied,
        Applied::Ignored {
            reason: Ignored::Outranked,
            ..
        }
    ));
    let now = current(&tracker, "m").await.unwrap();
    assert_eq!(now.status, DeliveryStatus::Read);
    assert!(now.error.is_none());
}

#[tokio::test]
async fn delivered_after_failed_supersedes_it() {
    let tracker = StatusTracker::default();
    tracker.apply(&failed("m", 1)).await.unwrap();
    let applied = tracker
        .apply(&event("m", DeliveryStatus::Delivered, 2))
        .await
        .unwrap();
    assert!(applied.advanced());
    assert_eq!(applied.current().status, DeliveryStatus::Delivered);
    assert!(applied.current().error.is_none());
}

#[tokio::test]
async fn messages_are_tracked_apart() {
    let tracker = StatusTracker::default();
    tracker
        .apply(&event("a", DeliveryStatus::Read, 1))
        .await
        .unwrap();
    let b = tracker
        .apply(&event("b", DeliveryStatus::Sent, 1))
        .await
        .unwrap();
    assert!(b.advanced());
    let mut other_platform = event("a", DeliveryStatus::Sent, 1);
    other_platform.platform = Platform::Vk;
    assert!(tracker.apply(&other_platform).await.unwrap().advanced());
    assert_eq!(
        current(&tracker, "a").await.unwrap().status,
        DeliveryStatus::Read
    );
    assert!(current(&tracker, "c").await.is_none());
}

/// A store that yields between reads and writes, so that concurrent updates interleave.
#[derive(Debug, Default)]
struct InterleavingStore {
    inner: MemoryStatusStore,
    refused: AtomicUsize,
}

#[async_trait]
impl StatusStore for InterleavingStore {
    async fn get(&self, key: &StatusKey) -> Result<Option<TrackedStatus>> {
        let value = self.inner.get(key).await;
        tokio::task::yield_now().await;
        value
    }

    async fn compare_and_set(
        &self,
        key: &StatusKey,
        expected: Option<&TrackedStatus>,
        new: TrackedStatus,
    ) -> Result<bool> {
        tokio::task::yield_now().await;
        let stored = self.inner.compare_and_set(key, expected, new).await?;
        if !stored {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(stored)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_lose_nothing() {
    let store = Arc::new(InterleavingStore::default());
    let tracker = StatusTracker::new(store.clone());
    let messages = 20;
    let mut tasks = Vec::new();
    for task in 0..400u32 {
        let tracker = tracker.clone();
        tasks.push(tokio::spawn(async move {
            let message = format!("m{}", task % messages);
            // Every message gets every status many times, in an order that differs per message.
            let status = PROGRESS[((task / messages) as usize + task as usize) % 4].clone();
            tracker.apply(&event(&message, status, task)).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    for m in 0..messages {
        let name = format!("m{m}");
        assert_eq!(
            current(&tracker, &name).await.unwrap().status,
            DeliveryStatus::Read,
            "{name}"
        );
    }
    // The advances of each message form one chain from nothing to `read`: no update was lost
    // and none was applied twice.
    let advances: Vec<(Option<u8>, u8)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Applied::Advanced { previous, current } => Some((
                previous.as_ref().and_then(DeliveryStatus::rank),
                rank(&current.status),
            )),
            Applied::Ignored { .. } => None,
        })
        .collect();
    let starts = advances.iter().filter(|(p, _)| p.is_none()).count();
    assert_eq!(starts, messages as usize, "each message starts once");
    for (previous, now) in &advances {
        assert!(previous.is_none_or(|p| p < *now));
    }
    assert!(advances.len() <= messages as usize * 4);
    assert_eq!(store.inner.len(), messages as usize);
}

/// A store whose compare-and-set never succeeds: the tracker gives up with an error.
#[derive(Debug, Default)]
struct BrokenStore;

#[async_trait]
impl StatusStore for BrokenStore {
    async fn get(&self, _key: &StatusKey) -> Result<Option<TrackedStatus>> {
        Ok(None)
    }
    async fn compare_and_set(
        &self,
        _key: &StatusKey,
        _expected: Option<&TrackedStatus>,
        _new: TrackedStatus,
    ) -> Result<bool> {
        Ok(false)
    }
}

#[tokio::test]
async fn a_store_that_never_stores_is_an_error_not_a_hang() {
    let tracker = StatusTracker::new(Arc::new(BrokenStore));
    let err = tracker
        .apply(&event("m", DeliveryStatus::Sent, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[test]
fn observable_ceiling_follows_the_capabilities() {
    let mut caps = Capabilities::of(Platform::Telegram);
    assert_eq!(observable_ceiling(&caps), DeliveryStatus::Sent);
    caps.statuses.delivered = true;
    assert_eq!(observable_ceiling(&caps), DeliveryStatus::Delivered);
    caps.statuses.read = true;
    assert_eq!(observable_ceiling(&caps), DeliveryStatus::Read);
    caps.statuses.delivered = false;
    assert_eq!(observable_ceiling(&caps), DeliveryStatus::Read);
    caps.statuses.read = false;
    caps.statuses.sent = false;
    assert_eq!(observable_ceiling(&caps), DeliveryStatus::Pending);
}

#[tokio::test]
async fn the_memory_store_forgets_the_oldest_message_at_capacity() {
    let store = Arc::new(MemoryStatusStore::with_capacity(2));
    let tracker = StatusTracker::new(store.clone());
    tracker
        .apply(&event("m1", DeliveryStatus::Sent, 1))
        .await
        .unwrap();
    tracker
        .apply(&event("m2", DeliveryStatus::Sent, 2))
        .await
        .unwrap();
    // Advancing a tracked message takes no new place.
    tracker
        .apply(&event("m1", DeliveryStatus::Read, 3))
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    tracker
        .apply(&event("m3", DeliveryStatus::Sent, 4))
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.capacity(), 2);
    // m1 was tracked first, so it goes first (however recently it advanced).
    assert!(current(&tracker, "m1").await.is_none());
    assert_eq!(
        current(&tracker, "m2").await.unwrap().status,
        DeliveryStatus::Sent
    );
    assert_eq!(
        current(&tracker, "m3").await.unwrap().status,
        DeliveryStatus::Sent
    );
    assert_eq!(
        MemoryStatusStore::new().capacity(),
        MemoryStatusStore::DEFAULT_CAPACITY
    );
}
