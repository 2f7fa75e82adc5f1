//! Reply windows: "free-form messages only within N hours of the customer's last message"
//! (WhatsApp: 24 h). The connector records each inbound message; the planner refuses a
//! free-form send outside the window before any request.
//!
//! A store knows a window only as far as it has watched: a customer it never heard from may
//! have written before it started. So the state ([`window_state`],
//! [`ReplyWindowStore::window_state`]) is
//!
//! - [`Open`](ReplyWindow::Open): the customer's last message is within the window;
//! - [`Closed`](ReplyWindow::Closed): the last message the store holds is older than the
//!   window, or the store has watched the account's inbound messages for at least a whole
//!   window ([`ReplyWindowStore::watching_since`]) and saw none from this customer;
//! - [`Unknown`](ReplyWindow::Unknown): no message seen, and not watched for a whole window (a
//!   new process, a new store): the send goes and the platform decides.

use std::collections::{BTreeSet, HashMap};
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
    ///
    /// A time returned vouches that it is the customer's last one: a store that returns a
    /// time older than the window says the window is closed.
    async fn last_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Option<DateTime<Utc>>>;

    /// Since when this store has recorded every inbound message of the `platform` account(s)
    /// it serves, if it can say (`None`, the default: it cannot).
    ///
    /// Once a whole window has passed since then, a customer it never saw has not written
    /// within the window, and their window is closed; before that it is unknown. Answer only
    /// for a time from which every inbound message really reaches [`record_inbound`]: a time
    /// too early refuses replies to customers who did write.
    ///
    /// [`record_inbound`]: ReplyWindowStore::record_inbound
    async fn watching_since(&self, platform: Platform) -> Result<Option<DateTime<Utc>>> {
        let _ = platform;
        Ok(None)
    }

    /// The state of `chat`'s reply window of length `window` now: [`last_inbound`] and
    /// [`watching_since`] through [`window_state`].
    ///
    /// [`last_inbound`]: ReplyWindowStore::last_inbound
    /// [`watching_since`]: ReplyWindowStore::watching_since
    async fn window_state(
        &self,
        platform: Platform,
        chat: &ChatId,
        window: Duration,
    ) -> Result<ReplyWindow> {
        let last = self.last_inbound(platform, chat).await?;
        let now = Utc::now();
        if last.is_some_and(|at| is_open(at, now, window)) {
            // Open whatever the store watched: no second question.
            return Ok(ReplyWindow::Open);
        }
        let since = self.watching_since(platform).await?;
        Ok(window_state(last, since, now, window))
    }
}

/// An in-memory [`ReplyWindowStore`], bounded.
///
/// - **Expiry**: a time older than the store's window (24 h, WhatsApp's, by
///   [`default`](Self::default)) is as good as absent: [`last_inbound`] no longer returns
///   it (a closed window and a customer who never wrote plan the same: closed once the store
///   has watched for a whole window, unknown before), and it is dropped. Give the store a
///   window at least as long as the platform's.
/// - **Capacity**: at most [`capacity`](Self::capacity) chats
///   ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) by default). At capacity the chat whose window
///   closes first is forgotten: its window reads as closed a little early (unknown while the
///   store has watched for less than a window), which refuses a free-form reply (a template
///   still goes) rather than sending one the platform would refuse.
///
/// It keeps the latest time per chat: an older inbound time never overwrites a newer one.
///
/// - **Watching**: it says it has watched every inbound message since it was created
///   ([`watching_since`]), so a day after its creation a customer it never saw has a closed
///   window, and before that an unknown one. A CRM that fed it history from before tells it
///   an earlier time; one whose inbound messages do not all reach it (another process takes
///   the webhooks and does not share the store) tells it `None`
///   ([`with_watching_since`](Self::with_watching_since)), and its unseen customers stay
///   unknown.
///
/// [`last_inbound`]: ReplyWindowStore::last_inbound
/// [`watching_since`]: ReplyWindowStore::watching_since
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use chrono::Utc;
/// use messenger_core::plan::ReplyWindow;
/// use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
/// use messenger_core::{ChatId, Platform};
/// let store = MemoryReplyWindowStore::new(Duration::from_secs(24 * 3600), 10_000);
/// let chat = ChatId::new("16505551234");
/// let now = Utc::now();
/// store.record_inbound(Platform::WhatsApp, &chat, now).await?;
/// // A late, older delivery does not move the time back.
/// store.record_inbound(Platform::WhatsApp, &chat, now - chrono::Duration::hours(2)).await?;
/// assert_eq!(store.last_inbound(Platform::WhatsApp, &chat).await?, Some(now));
/// // A time older than the window is as good as absent.
/// let old = ChatId::new("16505550000");
/// store.record_inbound(Platform::WhatsApp, &old, now - chrono::Duration::hours(25)).await?;
/// assert_eq!(store.last_inbound(Platform::WhatsApp, &old).await?, None);
/// assert_eq!(store.len(), 1);
/// // A new store has not watched for a day: a customer it never saw is unknown...
/// let day = Duration::from_secs(24 * 3600);
/// let never = ChatId::new("16505559999");
/// assert_eq!(store.window_state(Platform::WhatsApp, &never, day).await?, ReplyWindow::Unknown);
/// // ...unless it has watched (or been given the history of) more than a day.
/// let seasoned = MemoryReplyWindowStore::default()
///     .with_watching_since(Some(now - chrono::Duration::hours(25)));
/// assert_eq!(seasoned.window_state(Platform::WhatsApp, &never, day).await?, ReplyWindow::Closed);
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
pub struct MemoryReplyWindowStore {
    window: Duration,
    capacity: usize,
    watching_since: Option<DateTime<Utc>>,
    state: Mutex<WindowState>,
}

type WindowKey = (Platform, ChatId);

#[derive(Default)]
struct WindowState {
    last: HashMap<WindowKey, DateTime<Utc>>,
    /// The same entries, oldest time first: what expires (or is evicted) next.
    by_time: BTreeSet<(DateTime<Utc>, WindowKey)>,
}

impl WindowState {
    fn remove(&mut self, key: &WindowKey) {
        if let Some(at) = self.last.remove(key) {
            self.by_time.remove(&(at, key.clone()));
        }
    }

    /// Drops every time whose window closed by `now`.
    fn expire(&mut self, now: DateTime<Utc>, window: Duration) {
        while let Some((at, key)) = self.by_time.first().cloned() {
            if is_open(at, now, window) {
                break;
            }
            self.by_time.pop_first();
            self.last.remove(&key);
        }
    }
}

/// Whether a window of length `window` opened at `last` is still open at `now`.
fn is_open(last: DateTime<Utc>, now: DateTime<Utc>, window: Duration) -> bool {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    now < last
        .checked_add_signed(window)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl MemoryReplyWindowStore {
    /// The default capacity: 100 000 chats.
    pub const DEFAULT_CAPACITY: usize = 100_000;
    /// The default window: 24 h (WhatsApp's customer-service window).
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

    /// An empty store whose times expire after `window`, keeping at most `capacity` chats (at
    /// least one), watching from now.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            watching_since: Some(Utc::now()),
            state: Mutex::new(WindowState::default()),
        }
    }

    /// Since when every inbound message has been recorded in this store (its creation unless
    /// set): an earlier time for a store given the CRM's history of inbound messages, `None`
    /// for one that is not told of them all (its unseen customers then stay
    /// [`Unknown`](ReplyWindow::Unknown)). See [`ReplyWindowStore::watching_since`].
    pub fn with_watching_since(mut self, since: Option<DateTime<Utc>>) -> Self {
        self.watching_since = since;
        self
    }

    /// The most chats kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The window after which a time is dropped.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How many chats have an open window (expired ones are dropped first).
    pub fn len(&self) -> usize {
        let mut state = self.lock();
        state.expire(Utc::now(), self.window);
        state.last.len()
    }

    /// Whether no chat has an open window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every time whose window is closed at `now`, and returns how many were dropped.
    /// Closed windows are also dropped as the store is used; this is for a periodic sweep.
    pub fn purge_closed(&self, now: DateTime<Utc>) -> usize {
        let mut state = self.lock();
        let before = state.last.len();
        state.expire(now, self.window);
        before - state.last.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryReplyWindowStore {
    /// [`DEFAULT_WINDOW`](Self::DEFAULT_WINDOW), [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY).
    fn default() -> Self {
        Self::new(Self::DEFAULT_WINDOW, Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for MemoryReplyWindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are chat ids (phone numbers on WhatsApp): only sizes are shown.
        f.debug_struct("MemoryReplyWindowStore")
            .field("window", &self.window)
            .field("capacity", &self.capacity)
            .field("watching_since", &self.watching_since)
            .field("len", &self.lock().last.len())
            .finish()
    }
}

#[async_trait]
impl ReplyWindowStore for MemoryReplyWindowStore {
    async fn record_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let now = Utc::now();
        let mut state = self.lock();
        state.expire(now, self.window);
        if !is_open(at, now, self.window) {
            // Already closed: as good as absent.
            return Ok(());
        }
        let key = (platform, chat.clone());
        match state.last.get(&key) {
            // Keep the latest time: a late delivery of an older message changes nothing.
            Some(&latest) if latest >= at => return Ok(()),
            Some(_) => state.remove(&key),
            None => {}
        }
        while state.last.len() >= self.capacity {
            // The window that closes first goes first.
            let Some((_, oldest)) = state.by_time.pop_first() else {
                break;
            };
            state.last.remove(&oldest);
        }
        state.by_time.insert((at, key.clone()));
        state.last.insert(key, at);
        Ok(())
    }

    async fn last_inbound(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Option<DateTime<Utc>>> {
        let state = self.lock();
        Ok(state
            .last
            .get(&(platform, chat.clone()))
            .copied()
            .filter(|at| is_open(*at, Utc::now(), self.window)))
    }

    async fn watching_since(&self, platform: Platform) -> Result<Option<DateTime<Utc>>> {
        let _ = platform;
        Ok(self.watching_since)
    }
}

/// The state of a reply window of length `window` at `now`, given the last inbound time and
/// since when inbound messages have been watched:
///
/// - [`Open`](ReplyWindow::Open) while `now < last + window`;
/// - [`Closed`](ReplyWindow::Closed) from `last + window` on, and, when no message is known,
///   from `watching_since + window` on (a message before `watching_since` closed its window by
///   then; one after it would have been seen);
/// - [`Unknown`](ReplyWindow::Unknown) when no message is known and the watch is shorter than
///   a window (or `watching_since` is `None`).
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use messenger_core::{plan::ReplyWindow, window::window_state};
/// let day = Duration::from_secs(24 * 3600);
/// let last = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 1, 2, 11, 59, 0).unwrap();
/// assert_eq!(window_state(Some(last), None, now, day), ReplyWindow::Open);
/// let later = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 1).unwrap();
/// assert_eq!(window_state(Some(last), None, later, day), ReplyWindow::Closed);
/// // Nobody wrote: unknown until the store has watched for a whole window.
/// assert_eq!(window_state(None, None, now, day), ReplyWindow::Unknown);
/// assert_eq!(window_state(None, Some(last), now, day), ReplyWindow::Unknown);
/// assert_eq!(window_state(None, Some(last), later, day), ReplyWindow::Closed);
/// ```
pub fn window_state(
    last_inbound: Option<DateTime<Utc>>,
    watching_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> ReplyWindow {
    match (last_inbound, watching_since) {
        (Some(last), _) if is_open(last, now, window) => ReplyWindow::Open,
        (Some(_), _) => ReplyWindow::Closed,
        (None, Some(since)) if !is_open(since, now, window) => ReplyWindow::Closed,
        (None, _) => ReplyWindow::Unknown,
    }
}
