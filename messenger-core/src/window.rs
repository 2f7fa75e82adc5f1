//! Reply windows: "free-form messages only within N hours of the customer's last message"
//! (WhatsApp: 24 h). The connector records each inbound message; the planner refuses a
//! free-form send outside the window before any request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::{ChatId, Platform};
use crate::plan::ReplyWindow;

/// Where the time of each customer's last inbound message is kept.
///
/// The in-memory default is [`MemoryReplyWindowStore`]; a CRM shares state across processes by
/// backing this with its database.
#[async_trait]
pub trait ReplyWindowStore: Send + Sync + std::fmt::Debug {
    /// Records an inbound message from `chat` at `at` (keeps the latest time).
    async fn record_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The time of the customer's last inbound message, if any.
    async fn last_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Option<DateTime<Utc>>>;
}

/// An in-memory [`ReplyWindowStore`].
#[derive(Debug, Default)]
pub struct MemoryReplyWindowStore {
    last: Mutex<HashMap<(Platform, ChatId), DateTime<Utc>>>,
}

#[async_trait]
impl ReplyWindowStore for MemoryReplyWindowStore {
    async fn record_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry((platform, chat.clone())).or_insert(at);
        if at > *entry {
            *entry = at;
        }
        Ok(())
    }

    async fn last_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Option<DateTime<Utc>>> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        Ok(last.get(&(platform, chat.clone())).copied())
    }
}

/// The state of a reply window of length `window` at `now`, given the last inbound time.
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use messenger_core::{plan::ReplyWindow, window::window_state};
/// let day = Duration::from_secs(24 * 3600);
/// let last = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 1, 2, 11, 59, 0).unwrap();
/// assert_eq!(window_state(Some(last), now, day), ReplyWindow::Open);
/// let later = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 1).unwrap();
/// assert_eq!(window_state(Some(last), later, day), ReplyWindow::Closed);
/// assert_eq!(window_state(None, now, day), ReplyWindow::Closed);
/// ```
pub fn window_state(
    last_inbound: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> ReplyWindow {
    match last_inbound {
        None => ReplyWindow::Closed,
        Some(last) => {
            let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
            if now
                < last
                    .checked_add_signed(window)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            {
                ReplyWindow::Open
            } else {
                ReplyWindow::Closed
            }
        }
    }
}
