//! [`Deduplicated`]: inbound de-duplication by [`InboundEvent::dedup_key`].
//!
//! Platforms deliver at least once: a webhook the CRM answered too slowly comes again, a long
//! poll after a reconnect may repeat the last updates. This layer drops events it has already
//! handed out, from [`handle_webhook`](Messenger::handle_webhook) (the outcome's events are
//! filtered, the HTTP response is kept) and from [`updates`](Messenger::updates) (the stream is
//! filtered). Events without a key (`account`, `other`) always pass.
//!
//! Seen keys live in a [`SeenEvents`] store: [`MemorySeenEvents`] (bounded, oldest evicted first)
//! by default; a database-backed store lets several processes share them. An event is marked seen
//! only once it was handed out, so a failure on the way never loses one: at worst it comes again.
//! A store that fails is logged and bypassed (events pass) for the same reason.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::StreamExt;
use tracing::{debug, warn};

use super::Wrapper;
use crate::error::Result;
use crate::messenger::{EventStream, Messenger};
use crate::model::InboundEvent;
use crate::webhook::{WebhookOutcome, WebhookRequest};

/// Where [`Deduplicated`] remembers the keys of events it handed out.
///
/// Keys are [`InboundEvent::dedup_key`]s (prefixed with the layer's scope, if any). They contain
/// chat ids, which can be phone numbers: a store must not log them.
#[async_trait]
pub trait SeenEvents: Send + Sync {
    /// Whether `key` was marked seen (and not evicted since).
    async fn is_seen(&self, key: &str) -> Result<bool>;

    /// Marks `keys` as seen.
    async fn mark_seen(&self, keys: &[String]) -> Result<()>;

    /// Marks `keys` as seen and says, for each, whether this call was the first to see it
    /// (`true`) or it was seen before (`false`, also for a repeat within `keys`).
    ///
    /// Two concurrent deliveries of the same event must not both be told `true`: a store shared
    /// by several processes implements this atomically (an `INSERT ... ON CONFLICT DO NOTHING`).
    /// The default runs [`is_seen`](Self::is_seen) then [`mark_seen`](Self::mark_seen), which
    /// is atomic only for a store used by one caller at a time.
    async fn claim(&self, keys: &[String]) -> Result<Vec<bool>> {
        let mut fresh = Vec::with_capacity(keys.len());
        let mut batch = HashSet::new();
        for key in keys {
            fresh.push(batch.insert(key.as_str()) && !self.is_seen(key).await?);
        }
        self.mark_seen(keys).await?;
        Ok(fresh)
    }
}

/// The in-memory [`SeenEvents`]: remembers the last `capacity` keys, evicting the oldest.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use messenger_core::layers::{MemorySeenEvents, SeenEvents};
/// let seen = MemorySeenEvents::new(2);
/// seen.mark_seen(&["a".into(), "b".into(), "c".into()]).await.unwrap();
/// assert!(!seen.is_seen("a").await.unwrap()); // evicted: over capacity
/// assert!(seen.is_seen("c").await.unwrap());
/// assert_eq!(seen.len(), 2);
/// # });
/// ```
pub struct MemorySeenEvents {
    capacity: usize,
    state: Mutex<SeenState>,
}

#[derive(Default)]
struct SeenState {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl MemorySeenEvents {
    /// The default capacity, 100 000 keys (as pywa keeps).
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store remembering at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(SeenState::default()),
        }
    }

    /// The most keys it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many keys it remembers now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .len()
    }

    /// Whether it remembers nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemorySeenEvents {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for MemorySeenEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys hold chat ids (possibly phone numbers): only sizes are shown.
        f.debug_struct("MemorySeenEvents")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl SeenEvents for MemorySeenEvents {
    async fn is_seen(&self, key: &str) -> Result<bool> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.keys.contains(key))
    }

    async fn mark_seen(&self, keys: &[String]) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.insert_all(keys, self.capacity);
        Ok(())
    }

    async fn claim(&self, keys: &[String]) -> Result<Vec<bool>> {
        // One lock for the check and the mark: two deliveries cannot both claim a key.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.insert_all(keys, self.capacity))
    }
}

impl SeenState {
    /// Inserts `keys`, evicting the oldest past `capacity`; says which were new.
    fn insert_all(&mut self, keys: &[String], capacity: usize) -> Vec<bool> {
        let fresh = keys
            .iter()
            .map(|key| {
                let new = self.keys.insert(key.clone());
                if new {
                    self.order.push_back(key.clone());
                }
                new
            })
            .collect();
        while self.order.len() > capacity {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        fresh
    }
}

/// A [`Messenger`] that drops inbound events it has already handed out.
///
/// Give each account its own store, or one shared store with a distinct
/// [`scope`](Deduplicated::scope) per account: two bots can see the same chat and message ids.
///
/// ```no_run
/// # async fn run(connector: impl messenger_core::Messenger) -> messenger_core::Result<()> {
/// use std::sync::Arc;
/// use futures::StreamExt;
/// use messenger_core::layers::{Deduplicated, MemorySeenEvents};
/// use messenger_core::Messenger;
/// let store = Arc::new(MemorySeenEvents::new(10_000));
/// let m = Deduplicated::with_store(connector, store).scope("account-17");
/// let mut updates = m.updates()?;
/// while let Some(event) = updates.next().await {
///     let event = event?; // never the same event twice (within the store's memory)
/// #   let _ = event;
/// }
/// # Ok(()) }
/// ```
pub struct Deduplicated<M> {
    inner: M,
    store: Arc<dyn SeenEvents>,
    scope: Option<Arc<str>>,
}

impl<M: Messenger> Deduplicated<M> {
    /// De-duplicates `inner`'s events in a [`MemorySeenEvents`] of the default capacity.
    ///
    /// For advanced use (a layer alone, a stack of your own): [`Stack`](super::Stack) builds
    /// the layers in the one safe order.
    pub fn new(inner: M) -> Self {
        Self::with_store(inner, Arc::new(MemorySeenEvents::default()))
    }

    /// De-duplicates `inner`'s events in `store`.
    pub fn with_store(inner: M, store: Arc<dyn SeenEvents>) -> Self {
        Self {
            inner,
            store,
            scope: None,
        }
    }

    /// Prefixes every key with `scope` (an account id), for a store shared by several accounts.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(Arc::from(scope.into()));
        self
    }

    /// The wrapped messenger.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Unwraps the messenger.
    pub fn into_inner(self) -> M {
        self.inner
    }
}

fn scoped_key(scope: Option<&str>, event: &InboundEvent) -> Option<String> {
    let key = event.dedup_key()?;
    Some(match scope {
        Some(scope) => format!("{scope}/{key}"),
        None => key,
    })
}

async fn is_seen(store: &dyn SeenEvents, key: &str) -> bool {
    match store.is_seen(key).await {
        Ok(seen) => seen,
        Err(err) => {
            warn!(kind = %err.kind(), "seen-events store failed; letting the event through");
            false
        }
    }
}

async fn mark_seen(store: &dyn SeenEvents, keys: &[String]) {
    if keys.is_empty() {
        return;
    }
    if let Err(err) = store.mark_seen(keys).await {
        warn!(kind = %err.kind(), count = keys.len(), "seen-events store failed to record events");
    }
}

impl<M> Deduplicated<M> {
    /// `inner` without the events already handed out; an event is marked seen when the
    /// consumer asks for the next one (so one it never took comes again).
    fn filtered(&self, inner: EventStream) -> EventStream {
        let state = Filter {
            inner,
            store: Arc::clone(&self.store),
            scope: self.scope.clone(),
            handed_out: None,
        };
        let stream = futures::stream::unfold(state, |mut st| async move {
            if let Some(key) = st.handed_out.take() {
                mark_seen(&*st.store, std::slice::from_ref(&key)).await;
            }
            loop {
                let event = match st.inner.next().await? {
                    Ok(event) => event,
                    Err(err) => return Some((Err(err), st)),
                };
                if let Some(key) = scoped_key(st.scope.as_deref(), &event) {
                    if is_seen(&*st.store, &key).await {
                        debug!(platform = %event.platform(), "dropped a repeated update");
                        continue;
                    }
                    st.handed_out = Some(key);
                }
                return Some((Ok(event), st));
            }
        });
        Box::pin(stream)
    }
}

impl<M: fmt::Debug> fmt::Debug for Deduplicated<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduplicated")
            .field("inner", &self.inner)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The state of a de-duplicated update stream.
struct Filter {
    inner: EventStream,
    store: Arc<dyn SeenEvents>,
    scope: Option<Arc<str>>,
    /// The key of the event handed out last, marked seen when the consumer asks for the next.
    handed_out: Option<String>,
}

impl<M: Messenger> Wrapper for Deduplicated<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

/// De-duplication concerns intake only: every other method, `send` included, goes to the inner
/// messenger as it is, so an inner [`Gated`](super::Gated) still sees the whole message (and
/// adds its notice).
#[async_trait]
impl<M: Messenger> Messenger for Deduplicated<M> {
    crate::forward_messenger!(except [handle_webhook, updates, status_updates]);

    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let mut outcome = self.inner.handle_webhook(request).await?;
        // Only after the inner layers succeeded are the events claimed: a delivery that failed
        // inside (and that the platform will send again) is not marked seen.
        let scope = self.scope.as_deref();
        let keys: Vec<Option<String>> = outcome
            .events
            .iter()
            .map(|e| scoped_key(scope, e))
            .collect();
        let claimable: Vec<String> = keys.iter().flatten().cloned().collect();
        let mut fresh = match self.store.claim(&claimable).await {
            Ok(fresh) => fresh.into_iter(),
            Err(err) => {
                warn!(kind = %err.kind(), "seen-events store failed; letting the events through");
                vec![true; claimable.len()].into_iter()
            }
        };
        let events = std::mem::take(&mut outcome.events);
        outcome.events = events
            .into_iter()
            .zip(keys)
            .filter(|(event, key)| {
                let keep = key.is_none() || fresh.next().unwrap_or(true);
                if !keep {
                    debug!(platform = %event.platform(), "dropped a repeated webhook event");
                }
                keep
            })
            .map(|(event, _)| event)
            .collect();
        Ok(outcome)
    }

    fn updates(&self) -> Result<EventStream> {
        Ok(self.filtered(self.inner.updates()?))
    }

    /// Polled statuses are de-duplicated like updates: each status of a message once.
    fn status_updates(&self) -> Result<EventStream> {
        Ok(self.filtered(self.inner.status_updates()?))
    }
}
