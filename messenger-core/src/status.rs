//! The monotonic status tracker: what each outbound message has reached, whatever order the
//! platform's status updates arrive in.
//!
//! Progress runs `Pending < Sent < Delivered < Read`. Platforms deliver status updates late, out of
//! order and more than once (WhatsApp webhooks are retried, `delivered` and `read` can arrive in
//! either order), so the tracker keeps the highest status seen and ignores anything that would
//! move it back.
//!
//! `Failed` stands between `Sent` and `Delivered`:
//!
//! - `failed` after `pending` or `sent` is kept, with its error: that is how WhatsApp reports a
//!   message refused after it was accepted (the 24 h window, an undeliverable number);
//! - `failed` after `delivered` or `read` is ignored: the message already arrived, so a later
//!   failure report is about something else (or stale) and must not hide that fact;
//! - `delivered` or `read` after `failed` supersedes the failure (and clears its error): the
//!   platform saw the message arrive, which is stronger evidence than an earlier failure report;
//! - `pending` or `sent` after `failed` is ignored: it is older news.
//!
//! The state lives behind [`StatusStore`] (in memory by default, [`MemoryStatusStore`]); a CRM
//! backs it with its database to share it across processes. Updates are applied with
//! compare-and-set, so two concurrent updates of the same message never lose one another.
//!
//! Where a platform cannot observe a level (Telegram bots see no delivery or read receipts), the
//! status simply stops at the highest observable one: see [`observable_ceiling`]. Nothing is
//! invented.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use chrono::Utc;
//! use messenger_core::status::StatusTracker;
//! use messenger_core::{DeliveryStatus, Platform, StatusEvent};
//!
//! let tracker = StatusTracker::default();
//! let event = |status| StatusEvent {
//!     platform: Platform::WhatsApp,
//!     chat_id: "79990001122".into(),
//!     message_id: "wamid.1".into(),
//!     status,
//!     timestamp: Utc::now(),
//!     error: None,
//! };
//! assert!(tracker.apply(&event(DeliveryStatus::Read)).await.unwrap().advanced());
//! // A late `delivered` does not overwrite `read`.
//! let late = tracker.apply(&event(DeliveryStatus::Delivered)).await.unwrap();
//! assert!(!late.advanced());
//! assert_eq!(late.current().status, DeliveryStatus::Read);
//! # });
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::capabilities::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ChatId, DeliveryStatus, MessageId, Platform, StatusError, StatusEvent};

/// The message a status belongs to: `(platform, chat, message)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusKey {
    /// The platform.
    pub platform: Platform,
    /// The conversation.
    pub chat: ChatId,
    /// The outbound message.
    pub message: MessageId,
}

impl StatusKey {
    /// A key from its parts.
    pub fn new(platform: Platform, chat: impl Into<ChatId>, message: impl Into<MessageId>) -> Self {
        Self {
            platform,
            chat: chat.into(),
            message: message.into(),
        }
    }

    /// The key of the message a status event is about.
    pub fn of(event: &StatusEvent) -> Self {
        Self {
            platform: event.platform,
            chat: event.chat_id.clone(),
            message: event.message_id.clone(),
        }
    }
}

/// The current status of one outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedStatus {
    /// The highest status reached (see the [module docs](self) for where `Failed` stands).
    pub status: DeliveryStatus,
    /// Why it failed, when `status` is `Failed` and the platform said why.
    pub error: Option<StatusError>,
    /// When the platform recorded the current status (the event's timestamp).
    pub updated_at: DateTime<Utc>,
}

/// Where tracked statuses are kept.
///
/// Implementations must make [`compare_and_set`](StatusStore::compare_and_set) atomic per key
/// (a database does it with `UPDATE ... WHERE <current value> = <expected>` in one statement, or a
/// row lock); the tracker builds monotonic updates on it.
#[async_trait]
pub trait StatusStore: Send + Sync + fmt::Debug {
    /// The current status of `key`, if any was recorded.
    async fn get(&self, key: &StatusKey) -> Result<Option<TrackedStatus>>;

    /// Stores `new` for `key` only if the current value equals `expected` (`None`: nothing
    /// recorded yet). Returns whether it was stored.
    async fn compare_and_set(
        &self,
        key: &StatusKey,
        expected: Option<&TrackedStatus>,
        new: TrackedStatus,
    ) -> Result<bool>;
}

/// An in-memory [`StatusStore`] (one mutex; each operation holds it briefly, never across an
/// `.await`), bounded: at most [`capacity`](Self::capacity) messages
/// ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) by default).
///
/// At capacity the message first tracked longest ago is forgotten. A status update for it that
/// comes later starts it afresh (a very late `delivered` could then stand where a `read` was);
/// the status of a message that old is history, which a CRM keeps in its own database.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use messenger_core::status::{MemoryStatusStore, StatusTracker};
/// use messenger_core::{DeliveryStatus, Platform, StatusEvent};
/// let store = std::sync::Arc::new(MemoryStatusStore::with_capacity(2));
/// let tracker = StatusTracker::new(store.clone());
/// for id in ["m1", "m2", "m3"] {
///     tracker.apply(&StatusEvent {
///         platform: Platform::WhatsApp, chat_id: "1".into(), message_id: id.into(),
///         status: DeliveryStatus::Sent, timestamp: Utc::now(), error: None,
///     }).await?;
/// }
/// assert_eq!(store.len(), 2);
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
pub struct MemoryStatusStore {
    capacity: usize,
    state: Mutex<StatusState>,
}

#[derive(Default)]
struct StatusState {
    statuses: HashMap<StatusKey, TrackedStatus>,
    /// The keys in the order they were first tracked.
    order: VecDeque<StatusKey>,
}

impl MemoryStatusStore {
    /// The default capacity: 100 000 messages.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty store of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store tracking at most `capacity` messages (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(StatusState::default()),
        }
    }

    /// The most messages tracked.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many messages are tracked.
    pub fn len(&self) -> usize {
        self.lock().statuses.len()
    }

    /// Whether no message is tracked.
    pub fn is_empty(&self) -> bool {
        self.lock().statuses.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryStatusStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStatusStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStatusStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl StatusStore for MemoryStatusStore {
    async fn get(&self, key: &StatusKey) -> Result<Option<TrackedStatus>> {
        Ok(self.lock().statuses.get(key).cloned())
    }

    async fn compare_and_set(
        &self,
        key: &StatusKey,
        expected: Option<&TrackedStatus>,
        new: TrackedStatus,
    ) -> Result<bool> {
        let mut state = self.lock();
        if state.statuses.get(key) != expected {
            return Ok(false);
        }
        if expected.is_none() {
            while state.statuses.len() >= self.capacity {
                let Some(oldest) = state.order.pop_front() else {
                    break;
                };
                state.statuses.remove(&oldest);
            }
            state.order.push_back(key.clone());
        }
        state.statuses.insert(key.clone(), new);
        Ok(true)
    }
}

/// Why an update was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// The message already has this status (a repeated webhook, a replayed update).
    Duplicate,
    /// The message is already further along (a late `delivered` after `read`, a `failed` after
    /// `delivered`, a `sent` after `failed`).
    Outranked,
}

/// What [`StatusTracker::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The update raised the status.
    Advanced {
        /// The status before, `None` when the message was not tracked yet.
        previous: Option<DeliveryStatus>,
        /// The status now.
        current: TrackedStatus,
    },
    /// The update was ignored; the status did not change.
    Ignored {
        /// Why.
        reason: Ignored,
        /// The status, unchanged.
        current: TrackedStatus,
    },
}

impl Applied {
    /// Whether the update raised the status.
    pub fn advanced(&self) -> bool {
        matches!(self, Applied::Advanced { .. })
    }

    /// The message's status after the update.
    pub fn current(&self) -> &TrackedStatus {
        match self {
            Applied::Advanced { current, .. } | Applied::Ignored { current, .. } => current,
        }
    }
}

/// The position of a status in the tracker's order: `Failed` sits between `Sent` and
/// `Delivered` (see the module docs).
fn order(status: &DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Pending => 0,
        DeliveryStatus::Sent => 1,
        DeliveryStatus::Failed => 2,
        DeliveryStatus::Delivered => 3,
        DeliveryStatus::Read => 4,
    }
}

/// How many times [`StatusTracker::apply`] re-reads after losing a compare-and-set race. Each lost
/// race means another update advanced the same message, which can happen at most four times
/// (`pending`, `sent`, `failed`, `delivered`, `read`), so only a broken store reaches this.
const MAX_ATTEMPTS: usize = 16;

/// Applies status updates monotonically (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct StatusTracker {
    store: Arc<dyn StatusStore>,
}

impl Default for StatusTracker {
    /// A tracker over a fresh [`MemoryStatusStore`].
    fn default() -> Self {
        Self::new(Arc::new(MemoryStatusStore::new()))
    }
}

impl StatusTracker {
    /// A tracker over `store`.
    pub fn new(store: Arc<dyn StatusStore>) -> Self {
        Self { store }
    }

    /// Applies one status update: it takes effect only if it moves the message forward.
    ///
    /// # Errors
    ///
    /// Whatever the store returns; and [`ErrorKind::Transport`] if the store keeps refusing the
    /// compare-and-set (a store that does not compare values correctly).
    pub async fn apply(&self, event: &StatusEvent) -> Result<Applied> {
        let key = StatusKey::of(event);
        for _ in 0..MAX_ATTEMPTS {
            let current = self.store.get(&key).await?;
            if let Some(current) = &current {
                let (old, new) = (order(&current.status), order(&event.status));
                if new <= old {
                    let reason = if new == old {
                        Ignored::Duplicate
                    } else {
                        Ignored::Outranked
                    };
                    return Ok(Applied::Ignored {
                        reason,
                        current: current.clone(),
                    });
                }
            }
            let next = TrackedStatus {
                status: event.status.clone(),
                error: match event.status {
                    DeliveryStatus::Failed => event.error.clone(),
                    _ => None,
                },
                updated_at: event.timestamp,
            };
            if self
                .store
                .compare_and_set(&key, current.as_ref(), next.clone())
                .await?
            {
                tracing::debug!(
                    platform = %key.platform,
                    chat = %key.chat.fingerprint(),
                    message = %key.message.fingerprint(),
                    status = ?next.status,
                    "status advanced"
                );
                return Ok(Applied::Advanced {
                    previous: current.map(|c| c.status),
                    current: next,
                });
            }
        }
        Err(Error::new(
            ErrorKind::Transport,
            "the status store kept refusing updates (compare-and-set never succeeded)",
        ))
    }

    /// The current status of a message, if any update was applied to it.
    pub async fn get(
        &self,
        platform: Platform,
        chat: &ChatId,
        message: &MessageId,
    ) -> Result<Option<TrackedStatus>> {
        self.store
            .get(&StatusKey {
                platform,
                chat: chat.clone(),
                message: message.clone(),
            })
            .await
    }
}

/// The highest status the platform can report for an outbound message, so that a CRM shows
/// "sent" as final on Telegram rather than waiting for a "delivered" that never comes.
///
/// ```
/// use messenger_core::{status::observable_ceiling, Capabilities, DeliveryStatus, Platform};
/// assert_eq!(observable_ceiling(&Capabilities::of(Platform::Telegram)), DeliveryStatus::Sent);
/// ```
pub fn observable_ceiling(caps: &Capabilities) -> DeliveryStatus {
    if caps.statuses.read {
        DeliveryStatus::Read
    } else if caps.statuses.delivered {
        DeliveryStatus::Delivered
    } else if caps.statuses.sent {
        DeliveryStatus::Sent
    } else {
        DeliveryStatus::Pending
    }
}
