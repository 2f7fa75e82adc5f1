//! Polling, on the core's driver ([`messenger_core::poll`]): Avito has no long poll, so both
//! streams here are plain polls paced by
//! [`PollOptions::min_interval`](messenger_core::poll::PollOptions::min_interval), with the
//! driver's backoff, retry-after cap and health events.
//!
//! # Messages ([`Messenger::updates`](messenger_core::Messenger::updates))
//!
//! Every [`poll_interval`](crate::AvitoConfig::poll_interval):
//!
//! 1. the unread chats: `GET /messenger/v2/accounts/{user_id}/chats?unread_only=true&chat_types=u2i,u2u&limit=100&offset=…`,
//!    page after page while a page is full (at most to Avito's `offset` cap of 1 000);
//! 2. for each, its latest messages: `GET /messenger/v3/accounts/{user_id}/chats/{chat_id}/messages/?limit=…&offset=0`
//!    (the spec's array and the `{"messages": [...]}` shape both read); this does **not** mark
//!    the chat read (the CRM does, with [`mark_read`](messenger_core::Messenger::mark_read));
//! 3. the customer's messages among them that the account has not read (`is_read` not `true`)
//!    and this stream has not yielded yet, oldest first, converted as the webhook's are
//!    ([`convert`](crate::convert)), with the sender's name from the chat's `users`.
//!
//! A chat stays unread until the CRM marks it read, so the same messages come back at every
//! poll: the stream remembers the ids it yielded (the last [`SEEN_MESSAGES`], in the core's
//! bounded [`MemorySeenEvents`]) and yields each once. A new stream (a restart) yields the
//! unread messages again: wrap the connector in
//! [`Deduplicated`](messenger_core::layers::Deduplicated) with a persistent store where that
//! matters. The account's own messages are skipped here (the webhook reports them as `other`).
//! A chat that is gone (404) is skipped; another failure after some chats were read ends the
//! cycle with what was read (the rest comes at the next poll), and with nothing read it is the
//! driver's to retry or end.
//!
//! # Read statuses ([`Avito::read_statuses`](crate::Avito::read_statuses))
//!
//! Avito pushes no read receipts (webhooks carry `read` only as a snapshot at push time); the
//! counterpart's reading shows in the `read` time of the account's messages in getMessagesV3.
//! The connector tracks the messages it sent ([`ReadTracker`]: bounded, forgotten after
//! [`DEFAULT_READ_TRACKING_TTL`]; a CRM re-tracks after a restart with
//! [`Avito::track_read`](crate::Avito::track_read)), and every
//! [`read_interval`](crate::AvitoConfig::read_interval) reads the latest
//! [`read_page`](crate::AvitoConfig::read_page) messages of **only the chats where a tracked
//! message is still unread**. A tracked message whose `read` is set becomes one `status: read`
//! event (timestamp = `read`) and is forgotten, so each read is reported once. With nothing
//! tracked, a cycle makes no request.
//!
//! It is a stream of its own (not folded into `updates()`), so that a CRM taking messages by
//! webhook still gets read statuses; [`Avito::updates_and_read_statuses`](crate::Avito::updates_and_read_statuses)
//! merges both for a polling CRM.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::layers::{MemorySeenEvents, SeenEvents};
use messenger_core::poll::{PollBatch, PollOptions, PollSource, drive};
use messenger_core::{ErrorKind, EventStream, InboundEvent, Platform, Result};
use tokio::time::Instant;

use crate::Avito;
use crate::convert::{Incoming, message_event, read_status};
use crate::wire::{Chats, Message, Messages};

const AVITO: Platform = Platform::Avito;

/// How many message ids the message stream remembers to yield each once.
pub const SEEN_MESSAGES: usize = 10_000;

/// How many sent messages awaiting their `read` are tracked unless configured.
pub const DEFAULT_READ_TRACKING: usize = 10_000;

/// How long a sent message is tracked for its `read` unless configured: 7 days.
pub const DEFAULT_READ_TRACKING_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Chats per getChatsV2 page (the API's maximum).
const CHAT_PAGE: u32 = 100;

/// The largest `offset` getChatsV2 takes.
const MAX_OFFSET: u32 = 1000;

/// The messages stream of [`Messenger::updates`](messenger_core::Messenger::updates).
pub(crate) fn messages(avito: Avito) -> EventStream {
    let interval = avito.config().poll_interval;
    drive(
        MessagePoll {
            avito,
            seen: MemorySeenEvents::new(SEEN_MESSAGES),
        },
        None,
        PollOptions::new(AVITO).min_interval(Some(interval)),
    )
}

/// The stream of [`Avito::read_statuses`].
pub(crate) fn read_statuses(avito: Avito) -> EventStream {
    let interval = avito.config().read_interval;
    drive(
        ReadPoll { avito },
        None,
        PollOptions::new(AVITO).min_interval(Some(interval)),
    )
}

impl Avito {
    /// One page of getMessagesV3: the latest `limit` messages of `chat`.
    pub(crate) async fn chat_messages(
        &self,
        user_id: i64,
        chat: &str,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut url = self.account_url("v3", user_id, &["chats", chat, "messages", ""]);
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string())
            .append_pair("offset", "0");
        let messages: Messages = self
            .call("messages.list", false, || Ok(self.http().get(url.clone())))
            .await?;
        Ok(messages.into_vec())
    }

    /// The unread chats, page after page.
    async fn unread_chats(&self, user_id: i64) -> Result<Vec<crate::wire::Chat>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let mut url = self.account_url("v2", user_id, &["chats"]);
            url.query_pairs_mut()
                .append_pair("unread_only", "true")
                .append_pair("chat_types", &self.config().poll_chat_types)
                .append_pair("limit", &CHAT_PAGE.to_string())
                .append_pair("offset", &offset.to_string());
            let page: Chats = self
                .call("chats.list", false, || Ok(self.http().get(url.clone())))
                .await?;
            let full = page.chats.len() >= CHAT_PAGE as usize;
            all.extend(page.chats);
            if !full || offset + CHAT_PAGE > MAX_OFFSET {
                return Ok(all);
            }
            offset += CHAT_PAGE;
        }
    }
}

/// The message poll as a [`PollSource`] (no cursor: what was yielded is remembered instead).
struct MessagePoll {
    avito: Avito,
    seen: MemorySeenEvents,
}

fn polled_key(chat: &str, id: &str) -> String {
    format!("{chat}\u{1f}{id}")
}

#[async_trait]
impl PollSource for MessagePoll {
    type Cursor = ();

    async fn fetch(&mut self, _cursor: Option<&()>) -> Result<PollBatch<()>> {
        let user_id = self.avito.user_id().await?;
        let chats = self.avito.unread_chats(user_id).await?;
        let limit = self.avito.config().poll_messages;
        let mut events = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut batch_keys = HashSet::new();
        for chat in chats {
            let Some(chat_id) = chat.id.clone().filter(|c| !c.is_empty()) else {
                continue;
            };
            let mut list = match self.avito.chat_messages(user_id, &chat_id, limit).await {
                Ok(list) => list,
                Err(err) if err.kind() == ErrorKind::NotFound => continue,
                Err(err) if events.is_empty() => return Err(err),
                Err(err) => {
                    tracing::warn!(kind = %err.kind(), "avito poll stopped early; the rest comes next time");
                    break;
                }
            };
            list.sort_by_key(|m| m.created.unwrap_or(i64::MAX));
            for message in list {
                let Some(id) = message.id.clone().filter(|i| !i.is_empty()) else {
                    continue;
                };
                if message.is_read == Some(true) {
                    continue;
                }
                let name = chat
                    .users
                    .iter()
                    .find(|u| u.id.is_some() && u.id == message.author_id)
                    .and_then(|u| u.name.clone());
                let mut incoming = Incoming::from_polled(&chat_id, user_id, message);
                if incoming.is_own() {
                    continue;
                }
                let key = polled_key(&chat_id, &id);
                if !batch_keys.insert(key.clone()) || self.seen.is_seen(&key).await? {
                    continue;
                }
                incoming.sender_name = name;
                events.push(message_event(incoming, None));
                keys.push(key);
            }
        }
        self.seen.mark_seen(&keys).await?;
        tracing::debug!(events = events.len(), "avito poll");
        Ok(PollBatch { events, next: None })
    }
}

/// The read-status poll as a [`PollSource`].
struct ReadPoll {
    avito: Avito,
}

#[async_trait]
impl PollSource for ReadPoll {
    type Cursor = ();

    async fn fetch(&mut self, _cursor: Option<&()>) -> Result<PollBatch<()>> {
        let tracker = &self.avito.inner.reads;
        tracker.expire();
        let chats = tracker.chats();
        if chats.is_empty() {
            return Ok(PollBatch::empty());
        }
        let user_id = self.avito.user_id().await?;
        let page = self.avito.config().read_page;
        let mut reads: Vec<(i64, InboundEvent)> = Vec::new();
        for chat in chats {
            let list = match self.avito.chat_messages(user_id, &chat, page).await {
                Ok(list) => list,
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    tracker.forget_chat(&chat);
                    continue;
                }
                Err(err) if reads.is_empty() => return Err(err),
                Err(err) => {
                    tracing::warn!(kind = %err.kind(), "avito read poll stopped early");
                    break;
                }
            };
            for message in list {
                let own = message.direction.as_deref() == Some("out")
                    || message.author_id == Some(user_id);
                let (Some(id), Some(read)) = (message.id.as_deref(), message.read) else {
                    continue;
                };
                if own && tracker.take(&chat, id) {
                    reads.push((read, read_status(&chat, id, read)));
                }
            }
        }
        reads.sort_by_key(|(read, _)| *read);
        tracing::debug!(reads = reads.len(), "avito read poll");
        Ok(PollBatch {
            events: reads.into_iter().map(|(_, e)| e).collect(),
            next: None,
        })
    }
}

#[derive(Default)]
struct Tracked {
    chats: HashMap<String, HashMap<String, Instant>>,
    /// Insertion order, for eviction and expiry; entries already taken are skipped.
    order: VecDeque<(String, String, Instant)>,
    len: usize,
}

impl Tracked {
    fn remove(&mut self, chat: &str, message: &str) -> bool {
        let Some(messages) = self.chats.get_mut(chat) else {
            return false;
        };
        let removed = messages.remove(message).is_some();
        if messages.is_empty() {
            self.chats.remove(chat);
        }
        if removed {
            self.len -= 1;
        }
        removed
    }

    fn is_current(&self, chat: &str, message: &str, at: Instant) -> bool {
        self.chats
            .get(chat)
            .and_then(|m| m.get(message))
            .is_some_and(|t| *t == at)
    }
}

/// The account's sent messages whose `read` is awaited: bounded (the oldest evicted first) and
/// forgotten after a while. `Debug` shows counts only.
pub struct ReadTracker {
    capacity: usize,
    ttl: Duration,
    state: Mutex<Tracked>,
}

impl fmt::Debug for ReadTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadTracker")
            .field("capacity", &self.capacity)
            .field("tracked", &self.len())
            .finish()
    }
}

impl ReadTracker {
    /// A tracker of at most `capacity` messages (at least one), each for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl,
            state: Mutex::new(Tracked::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many messages are tracked.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tracks `message` of `chat` (again: its age restarts).
    pub fn track(&self, chat: &str, message: &str) {
        let mut state = self.lock();
        let now = Instant::now();
        let fresh = state
            .chats
            .entry(chat.to_owned())
            .or_default()
            .insert(message.to_owned(), now)
            .is_none();
        if fresh {
            state.len += 1;
        }
        state
            .order
            .push_back((chat.to_owned(), message.to_owned(), now));
        while state.len > self.capacity {
            let Some((c, m, at)) = state.order.pop_front() else {
                break;
            };
            if state.is_current(&c, &m, at) {
                state.remove(&c, &m);
            }
        }
        // Entries taken or re-tracked stay in `order` until here: keep it within bounds.
        if state.order.len() > 2 * self.capacity {
            let Tracked { chats, order, .. } = &mut *state;
            order.retain(|(c, m, at)| {
                chats
                    .get(c)
                    .and_then(|messages| messages.get(m))
                    .is_some_and(|t| t == at)
            });
        }
    }

    /// Stops tracking `message` of `chat`; whether it was tracked.
    pub fn take(&self, chat: &str, message: &str) -> bool {
        self.lock().remove(chat, message)
    }

    /// Stops tracking `message` (deleted).
    pub(crate) fn forget(&self, chat: &str, message: &str) {
        self.take(chat, message);
    }

    /// Stops tracking every message of `chat`.
    pub(crate) fn forget_chat(&self, chat: &str) {
        let mut state = self.lock();
        if let Some(messages) = state.chats.remove(chat) {
            state.len -= messages.len();
        }
    }

    /// Forgets what was tracked longer than the TTL.
    pub(crate) fn expire(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        while let Some((c, m, at)) = state.order.front().cloned() {
            if now.duration_since(at) < self.ttl {
                break;
            }
            state.order.pop_front();
            if state.is_current(&c, &m, at) {
                state.remove(&c, &m);
            }
        }
    }

    /// The chats with tracked messages.
    pub fn chats(&self) -> Vec<String> {
        let mut chats: Vec<String> = self.lock().chats.keys().cloned().collect();
        chats.sort();
        chats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracker_is_bounded_and_takes_once() {
        let tracker = ReadTracker::new(3, Duration::from_secs(60));
        for m in ["a", "b", "c", "d"] {
            tracker.track("chat", m);
        }
        assert_eq!(tracker.len(), 3);
        assert!(!tracker.take("chat", "a"), "the oldest was evicted");
        assert!(tracker.take("chat", "d"));
        assert!(!tracker.take("chat", "d"), "taken once");
        for _ in 0..100 {
            tracker.track("x", "1");
            tracker.take("x", "1");
        }
        assert!(tracker.lock().order.len() <= 6);
        tracker.forget_chat("chat");
        assert!(tracker.is_empty());
        assert!(tracker.chats().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tracker_forgets_after_its_ttl() {
        let tracker = ReadTracker::new(10, Duration::from_secs(60));
        tracker.track("c", "old");
        tokio::time::advance(Duration::from_secs(30)).await;
        tracker.track("c", "new");
        tokio::time::advance(Duration::from_secs(31)).await;
        tracker.expire();
        assert_eq!(tracker.len(), 1);
        assert!(tracker.take("c", "new"));
    }
}
