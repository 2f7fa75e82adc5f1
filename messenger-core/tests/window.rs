//! Reply windows: the in-memory store keeps the latest inbound time, expires closed windows and
//! stays within its capacity; `window_state` is exact at the boundary; a window nobody watched
//! for a whole window is unknown, not closed.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use messenger_core::plan::ReplyWindow;
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore, window_state};
use messenger_core::{ChatId, Platform};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn an_older_inbound_time_never_overwrites_a_newer_one() {
    let store = MemoryReplyWindowStore::default();
    let chat = ChatId::new("16505551234");
    let now = Utc::now();
    let newer = now - TimeDelta::minutes(5);
    let older = now - TimeDelta::hours(3);

    store
        .record_inbound(Platform::WhatsApp, &chat, newer)
        .await
        .unwrap();
    // A late delivery of an earlier message (webhooks come out of order).
    store
        .record_inbound(Platform::WhatsApp, &chat, older)
        .await
        .unwrap();
    assert_eq!(
        store.last_inbound(Platform::WhatsApp, &chat).await.unwrap(),
        Some(newer)
    );
    // A newer one does move it forward.
    store
        .record_inbound(Platform::WhatsApp, &chat, now)
        .await
        .unwrap();
    assert_eq!(
        store.last_inbound(Platform::WhatsApp, &chat).await.unwrap(),
        Some(now)
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn chats_and_platforms_are_kept_apart() {
    let store = MemoryReplyWindowStore::default();
    let now = Utc::now();
    store
        .record_inbound(Platform::WhatsApp, &ChatId::new("1"), now)
        .await
        .unwrap();
    assert_eq!(
        store
            .last_inbound(Platform::Telegram, &ChatId::new("1"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .last_inbound(Platform::WhatsApp, &ChatId::new("2"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_closed_window_is_as_good_as_absent_and_is_dropped() {
    let store = MemoryReplyWindowStore::new(DAY, 100);
    let now = Utc::now();
    let open = ChatId::new("open");
    let closing = ChatId::new("closing");
    store
        .record_inbound(Platform::WhatsApp, &open, now - TimeDelta::hours(1))
        .await
        .unwrap();
    store
        .record_inbound(Platform::WhatsApp, &closing, now - TimeDelta::hours(23))
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    // Recorded already closed: not kept at all.
    store
        .record_inbound(
            Platform::WhatsApp,
            &ChatId::new("old"),
            now - TimeDelta::hours(25),
        )
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(
        store
            .last_inbound(Platform::WhatsApp, &ChatId::new("old"))
            .await
            .unwrap(),
        None
    );

    // One hour on, `closing` closed (exactly at 24 h): it is dropped, `open` stays.
    assert_eq!(store.purge_closed(now + TimeDelta::hours(1)), 1);
    assert_eq!(
        store
            .last_inbound(Platform::WhatsApp, &closing)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .last_inbound(Platform::WhatsApp, &open)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.purge_closed(now + TimeDelta::hours(1)), 0);
    assert_eq!(store.purge_closed(now + TimeDelta::hours(24)), 1);
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_time_that_closed_since_it_was_recorded_is_not_returned() {
    // A 50 ms window, then 100 ms of real time: however slow the machine, it has closed.
    let store = MemoryReplyWindowStore::new(Duration::from_millis(50), 100);
    let chat = ChatId::new("1");
    store
        .record_inbound(Platform::WhatsApp, &chat, Utc::now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.last_inbound(Platform::WhatsApp, &chat).await.unwrap(),
        None
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn at_capacity_the_window_closing_first_is_forgotten() {
    let store = MemoryReplyWindowStore::new(DAY, 2);
    let now = Utc::now();
    let chat = |id: &str| ChatId::new(id);
    store
        .record_inbound(Platform::WhatsApp, &chat("a"), now - TimeDelta::hours(1))
        .await
        .unwrap();
    store
        .record_inbound(Platform::WhatsApp, &chat("b"), now - TimeDelta::hours(5))
        .await
        .unwrap();
    store
        .record_inbound(Platform::WhatsApp, &chat("c"), now)
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.capacity(), 2);
    // `b` had the oldest time: its window would have closed first.
    assert_eq!(
        store
            .last_inbound(Platform::WhatsApp, &chat("b"))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .last_inbound(Platform::WhatsApp, &chat("a"))
            .await
            .unwrap()
            .is_some()
    );
    // Updating a chat already kept evicts nobody.
    store
        .record_inbound(Platform::WhatsApp, &chat("a"), now)
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    assert!(
        store
            .last_inbound(Platform::WhatsApp, &chat("c"))
            .await
            .unwrap()
            .is_some()
    );
}

#[test]
fn the_window_is_open_until_exactly_24_hours_later() {
    let last = Utc::now();
    let day = TimeDelta::hours(24);
    // Whatever the store watched, a message seen decides.
    for since in [None, Some(last), Some(last - day * 7)] {
        assert_eq!(
            window_state(Some(last), since, last, DAY),
            ReplyWindow::Open
        );
        assert_eq!(
            window_state(
                Some(last),
                since,
                last + day - TimeDelta::nanoseconds(1),
                DAY
            ),
            ReplyWindow::Open
        );
        assert_eq!(
            window_state(Some(last), since, last + day, DAY),
            ReplyWindow::Closed,
            "closed at exactly 24 h"
        );
        assert_eq!(
            window_state(
                Some(last),
                since,
                last + day + TimeDelta::nanoseconds(1),
                DAY
            ),
            ReplyWindow::Closed
        );
    }
    // A window too long for the calendar never closes rather than overflowing.
    assert_eq!(
        window_state(Some(last), None, last + day, Duration::MAX),
        ReplyWindow::Open
    );
}

#[test]
fn no_message_is_unknown_until_watched_for_exactly_a_whole_window() {
    // A message from before the watch began closed its window by `since + 24 h`; one after it
    // would have been seen. So: unknown before that instant, closed from it on.
    let since = Utc::now();
    let day = TimeDelta::hours(24);
    assert_eq!(
        window_state(None, Some(since), since, DAY),
        ReplyWindow::Unknown
    );
    assert_eq!(
        window_state(
            None,
            Some(since),
            since + day - TimeDelta::nanoseconds(1),
            DAY
        ),
        ReplyWindow::Unknown
    );
    assert_eq!(
        window_state(None, Some(since), since + day, DAY),
        ReplyWindow::Closed,
        "watched for exactly 24 h"
    );
    assert_eq!(
        window_state(None, Some(since), since + day * 30, DAY),
        ReplyWindow::Closed
    );
    // Nobody says since when: unknown for ever.
    assert_eq!(
        window_state(None, None, since + day * 30, DAY),
        ReplyWindow::Unknown
    );
    // A watch said to start in the future (a clock ahead) has not lasted a window.
    assert_eq!(
        window_state(None, Some(since + day), since, DAY),
        ReplyWindow::Unknown
    );
    // A window too long for the calendar is never watched through.
    assert_eq!(
        window_state(None, Some(since - day * 365), since, Duration::MAX),
        ReplyWindow::Unknown
    );
}

#[tokio::test]
async fn a_fresh_store_knows_no_window_and_one_watching_for_a_day_does() {
    let chat = ChatId::new("16505551234");
    let before = Utc::now();
    let fresh = MemoryReplyWindowStore::default();
    let since = fresh
        .watching_since(Platform::WhatsApp)
        .await
        .unwrap()
        .expect("a memory store watches from its creation");
    assert!(before <= since && since <= Utc::now());
    assert_eq!(
        fresh
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Unknown,
        "a customer a new store never saw may have written before it existed"
    );

    // Watching (or given history) since 25 h ago: nobody wrote in the last 24 h.
    let seasoned = MemoryReplyWindowStore::default()
        .with_watching_since(Some(Utc::now() - TimeDelta::hours(25)));
    assert_eq!(
        seasoned
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Closed
    );
    seasoned
        .record_inbound(Platform::WhatsApp, &chat, Utc::now() - TimeDelta::hours(2))
        .await
        .unwrap();
    assert_eq!(
        seasoned
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Open
    );

    // Watching since 23 h ago: a customer may have written 23.5 h ago, unseen.
    let young = MemoryReplyWindowStore::default()
        .with_watching_since(Some(Utc::now() - TimeDelta::hours(23)));
    assert_eq!(
        young
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Unknown
    );

    // A store not told of every inbound message never says closed for a customer it never saw.
    let partial = MemoryReplyWindowStore::default().with_watching_since(None);
    assert_eq!(
        partial.watching_since(Platform::WhatsApp).await.unwrap(),
        None
    );
    assert_eq!(
        partial
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Unknown
    );
}

#[tokio::test]
async fn a_store_closes_unseen_windows_once_it_has_watched_for_one() {
    // A 100 ms window over real time: once 150 ms have passed since the store was created, a
    // customer it never saw has a closed window (the exact instant is the pure function's
    // test above).
    let window = Duration::from_millis(100);
    let store = MemoryReplyWindowStore::new(window, 10);
    let chat = ChatId::new("1");
    assert_ne!(
        store
            .window_state(Platform::WhatsApp, &chat, window)
            .await
            .unwrap(),
        ReplyWindow::Open
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        store
            .window_state(Platform::WhatsApp, &chat, window)
            .await
            .unwrap(),
        ReplyWindow::Closed
    );
}

/// A store written before `watching_since` existed: it keeps only last-inbound times.
#[derive(Debug, Default)]
struct LastOnly(std::sync::Mutex<Option<DateTime<Utc>>>);

#[async_trait::async_trait]
impl ReplyWindowStore for LastOnly {
    async fn record_inbound(
        &self,
        _: Platform,
        _: &ChatId,
        at: DateTime<Utc>,
    ) -> messenger_core::Result<()> {
        *self.0.lock().unwrap() = Some(at);
        Ok(())
    }
    async fn last_inbound(
        &self,
        _: Platform,
        _: &ChatId,
    ) -> messenger_core::Result<Option<DateTime<Utc>>> {
        Ok(*self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn a_store_that_cannot_say_since_when_it_watched_leaves_unseen_customers_unknown() {
    let store = LastOnly::default();
    let chat = ChatId::new("1");
    assert_eq!(
        store.watching_since(Platform::WhatsApp).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Unknown
    );
    // The time it returns vouches for the customer's last message.
    store
        .record_inbound(Platform::WhatsApp, &chat, Utc::now() - TimeDelta::hours(30))
        .await
        .unwrap();
    assert_eq!(
        store
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Closed
    );
    store
        .record_inbound(Platform::WhatsApp, &chat, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        store
            .window_state(Platform::WhatsApp, &chat, DAY)
            .await
            .unwrap(),
        ReplyWindow::Open
    );
}
