//! Opt-outs: customers who refused further messages, by stop word or platform signal.
//!
//! # Scope
//!
//! An opt-out is kept per [`ChatKey`]: the connected account, its platform and the chat. A
//! customer who answers `STOP` to one business has refused that business's messages, not those
//! of every business on the same platform (a Telegram user id or a WhatsApp number is the same
//! for every bot). In a group chat, one member's stop word opts the whole chat out.
//!
//! # Stop words
//!
//! Only the text of a text message is matched (not captions). A message matches when its text,
//! normalised, equals a stop word normalised the same way. Normalising:
//! 1. removes from both ends every character that is not a letter, a digit or a combining mark
//!    (spaces, punctuation, quotes, emoji, zero-width characters);
//! 2. reduces every inner run of whitespace to one space;
//! 3. lowercases (Unicode, so `СТОП`, `Стоп` and `стоп` are equal).
//!
//! So with the defaults (`СТОП`, `STOP`, `ОТПИСАТЬСЯ`, `UNSUBSCRIBE`) these match:
//! `СТОП`, `стоп!`, ` Stop. `, `«Стоп»`, `unsubscribe 🙏`, `Отписаться...`; these do not:
//! `stop it`, `не стоп`, `STOPP`, `S T O P`, `стоп, но позвоните` (a stop word must be the whole
//! message). Edited messages count too.
//!
//! # Platform signals and opting back in
//!
//! A [`ContactEvent`] with [`ContactChange::Blocked`] or [`ContactChange::OptedOut`] opts out
//! (connectors report a Telegram block, VK `message_deny`, MAX `bot_stopped` and a WhatsApp
//! marketing stop that way). [`ContactChange::OptedIn`] opts back in; [`ContactChange::Unblocked`]
//! lifts only an opt-out that came from a block (a customer who said `STOP` and later unblocked
//! the bot has not taken the `STOP` back). Under [`ReOptInPolicy::OnNewMessage`] a new (not
//! edited) message that is not a stop word also opts back in; under the default
//! [`ReOptInPolicy::ExplicitOnly`] it does not.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    AccountId, ChatId, ContactChange, ContactEvent, Content, InboundEvent, Platform, UserId,
};

/// The default stop words.
pub const DEFAULT_STOP_WORDS: [&str; 4] = ["СТОП", "STOP", "ОТПИСАТЬСЯ", "UNSUBSCRIBE"];

/// One conversation of one connected account: the key of opt-outs and of the contact log.
///
/// `Debug` shows fingerprints of the ids only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatKey {
    /// The CRM's account.
    pub account: AccountId,
    /// The account's platform.
    pub platform: Platform,
    /// The conversation.
    pub chat: ChatId,
}

impl ChatKey {
    /// A key.
    pub fn new(account: impl Into<AccountId>, platform: Platform, chat: impl Into<ChatId>) -> Self {
        Self {
            account: account.into(),
            platform,
            chat: chat.into(),
        }
    }
}

/// When a customer may opt back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReOptInPolicy {
    /// Only an explicit signal: a platform's opt-in or unblock, or
    /// [`OptOutRegistry::opt_in`] (the customer asked the business in another way).
    #[default]
    ExplicitOnly,
    /// Also any new message from the customer that is not a stop word.
    OnNewMessage,
}

/// Why an opt-out state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OptOutCause {
    /// The customer sent a stop word.
    StopWord,
    /// The customer blocked the account (a platform signal).
    Blocked,
    /// The platform reported an opt-out (VK `message_deny`, MAX `bot_stopped`, a WhatsApp
    /// marketing stop).
    PlatformOptOut,
    /// The customer unblocked the account.
    Unblocked,
    /// The platform reported an opt-in.
    PlatformOptIn,
    /// The customer wrote again (under [`ReOptInPolicy::OnNewMessage`]).
    NewMessage,
    /// The CRM's operator recorded it ([`OptOutRegistry::opt_out`] / [`OptOutRegistry::opt_in`]).
    Operator,
}

impl OptOutCause {
    /// The snake_case name (for logs).
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutCause::StopWord => "stop_word",
            OptOutCause::Blocked => "blocked",
            OptOutCause::PlatformOptOut => "platform_opt_out",
            OptOutCause::Unblocked => "unblocked",
            OptOutCause::PlatformOptIn => "platform_opt_in",
            OptOutCause::NewMessage => "new_message",
            OptOutCause::Operator => "operator",
        }
    }
}

impl fmt::Display for OptOutCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recorded opt-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOut {
    /// Why.
    pub cause: OptOutCause,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where opt-outs are kept.
///
/// The in-memory default is [`MemoryOptOutStore`].
#[async_trait]
pub trait OptOutStore: Send + Sync + fmt::Debug {
    /// The opt-out of `key`, if the customer is opted out.
    async fn get(&self, key: &ChatKey) -> Result<Option<OptOut>>;
    /// Records (or replaces) the opt-out of `key`.
    async fn put(&self, key: &ChatKey, opt_out: OptOut) -> Result<()>;
    /// Removes the opt-out of `key` (the customer opted back in).
    async fn remove(&self, key: &ChatKey) -> Result<()>;
}

/// An in-memory [`OptOutStore`], bounded without ever dropping an opt-out.
///
/// It holds only customers who are opted out (an opt-in removes the entry), so it grows with
/// explicit refusals, not with traffic. Still, it keeps at most [`capacity`](Self::capacity)
/// of them ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) by default), and at capacity it
/// **evicts nothing**: recording one more opt-out fails with [`ErrorKind::Storage`] and a clear
/// message. Through [`Gated`](crate::layers::Gated) that fails the webhook delivery (500) or
/// ends the poll stream, so the platform delivers the refusal again and the failure is seen,
/// rather than a silently lost `STOP`. A CRM that reaches the capacity needs a database-backed
/// store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use messenger_core::consent::{ChatKey, MemoryOptOutStore, OptOut, OptOutCause, OptOutStore};
/// use messenger_core::{ErrorKind, Platform};
/// let store = MemoryOptOutStore::with_capacity(1);
/// let opt_out = OptOut { cause: OptOutCause::StopWord, at: Utc::now() };
/// let first = ChatKey::new("shop", Platform::Telegram, "1");
/// store.put(&first, opt_out.clone()).await?;
/// // Full: the second refusal is not recorded, loudly; the first one is kept.
/// let second = ChatKey::new("shop", Platform::Telegram, "2");
/// let err = store.put(&second, opt_out.clone()).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Storage);
/// assert!(store.get(&first).await?.is_some());
/// // Replacing an existing entry still works.
/// store.put(&first, opt_out).await?;
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
pub struct MemoryOptOutStore {
    capacity: usize,
    entries: Mutex<HashMap<ChatKey, OptOut>>,
}

impl MemoryOptOutStore {
    /// The default capacity: 1 000 000 opted-out chats.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// An empty store of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` opt-outs (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The most opt-outs held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many customers are opted out.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nobody is opted out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChatKey, OptOut>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryOptOutStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryOptOutStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryOptOutStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl OptOutStore for MemoryOptOutStore {
    async fn get(&self, key: &ChatKey) -> Result<Option<OptOut>> {
        Ok(self.lock().get(key).cloned())
    }

    async fn put(&self, key: &ChatKey, opt_out: OptOut) -> Result<()> {
        let mut entries = self.lock();
        if !entries.contains_key(key) && entries.len() >= self.capacity {
            tracing::error!(
                capacity = self.capacity,
                "the in-memory opt-out store is full; an opt-out was NOT recorded"
            );
            return Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "the in-memory opt-out store is full ({} opt-outs): this opt-out was not \
                     recorded and nothing was evicted; use a database-backed OptOutStore",
                    self.capacity
                ),
            ));
        }
        entries.insert(key.clone(), opt_out);
        Ok(())
    }

    async fn remove(&self, key: &ChatKey) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }
}

/// A change of a customer's opt-out state, as [`OptOutRegistry::observe`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutChange {
    /// Whose state changed.
    pub key: ChatKey,
    /// The customer, where the event named one (else the chat id, which is the customer's id
    /// in a private chat).
    pub user: UserId,
    /// [`ContactChange::OptedOut`] or [`ContactChange::OptedIn`].
    pub change: ContactChange,
    /// Why.
    pub cause: OptOutCause,
    /// When the event happened.
    pub at: DateTime<Utc>,
}

impl OptOutChange {
    /// Whether the customer is opted out after the change.
    pub fn opted_out(&self) -> bool {
        self.change == ContactChange::OptedOut
    }

    /// The [`ContactEvent`] that tells the CRM about a change a message caused (a stop word, or
    /// a new message under [`ReOptInPolicy::OnNewMessage`]); `None` for a change that came
    /// from a platform's own contact event (the CRM already sees that one).
    pub fn contact_event(&self) -> Option<ContactEvent> {
        matches!(self.cause, OptOutCause::StopWord | OptOutCause::NewMessage).then(|| {
            ContactEvent {
                platform: self.key.platform,
                chat_id: self.key.chat.clone(),
                user_id: self.user.clone(),
                change: self.change,
                new_chat_id: None,
                timestamp: self.at,
            }
        })
    }
}

/// Combining marks count as part of a word (a decomposed `й` ends in one).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c as u32,
            0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Normalises a text for stop-word matching; see the [module docs](self).
///
/// ```
/// use messenger_core::consent::normalize_stop_text;
/// assert_eq!(normalize_stop_text("  «Стоп»!! "), "стоп");
/// assert_eq!(normalize_stop_text("Unsubscribe\u{a0} me."), "unsubscribe me");
/// ```
pub fn normalize_stop_text(text: &str) -> String {
    let trimmed = text.trim_matches(|c: char| !is_word_char(c));
    trimmed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The opt-out rules over an [`OptOutStore`]: stop words, platform signals, re-opt-in policy.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use messenger_core::consent::{ChatKey, OptOutRegistry};
/// use messenger_core::{AccountId, Content, InboundEvent, MessageEvent, Platform};
/// let registry = OptOutRegistry::in_memory();
/// assert!(registry.is_stop_word("Стоп!"));
/// assert!(!registry.is_stop_word("stop it"));
///
/// let account = AccountId::new("shop-17");
/// let stop = InboundEvent::Message(MessageEvent {
///     platform: Platform::Telegram, chat_id: "42".into(), message_id: "7".into(), sender: None,
///     timestamp: Utc::now(), reply_to: None, edited: false,
///     content: Content::Text { text: "STOP".into() },
/// });
/// let change = registry.observe(&account, &stop).await?.expect("a stop word opts out");
/// assert!(change.opted_out());
/// assert!(registry.is_opted_out(&ChatKey::new("shop-17", Platform::Telegram, "42")).await?);
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OptOutRegistry {
    store: Arc<dyn OptOutStore>,
    stop_words: Vec<String>,
    re_opt_in: ReOptInPolicy,
}

impl OptOutRegistry {
    /// A registry over `store` with the default stop words and [`ReOptInPolicy::ExplicitOnly`].
    pub fn new(store: Arc<dyn OptOutStore>) -> Self {
        Self {
            store,
            stop_words: DEFAULT_STOP_WORDS
                .iter()
                .map(|w| normalize_stop_text(w))
                .collect(),
            re_opt_in: ReOptInPolicy::default(),
        }
    }

    /// A registry over a fresh [`MemoryOptOutStore`].
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryOptOutStore::new()))
    }

    /// Replaces the stop words (each is normalised; empty ones are ignored).
    pub fn with_stop_words<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stop_words = words
            .into_iter()
            .map(|w| normalize_stop_text(w.as_ref()))
            .filter(|w| !w.is_empty())
            .collect();
        self
    }

    /// Sets when a customer may opt back in.
    pub fn with_re_opt_in(mut self, policy: ReOptInPolicy) -> Self {
        self.re_opt_in = policy;
        self
    }

    /// The stop words, normalised.
    pub fn stop_words(&self) -> &[String] {
        &self.stop_words
    }

    /// The re-opt-in policy.
    pub fn re_opt_in_policy(&self) -> ReOptInPolicy {
        self.re_opt_in
    }

    /// The store behind the registry.
    pub fn store(&self) -> &Arc<dyn OptOutStore> {
        &self.store
    }

    /// Whether `text` is a stop word; see the [module docs](self) for what matches.
    pub fn is_stop_word(&self, text: &str) -> bool {
        let normalized = normalize_stop_text(text);
        !normalized.is_empty() && self.stop_words.contains(&normalized)
    }

    /// Whether the customer of `key` is opted out.
    pub async fn is_opted_out(&self, key: &ChatKey) -> Result<bool> {
        Ok(self.store.get(key).await?.is_some())
    }

    /// The opt-out of `key`, if any.
    pub async fn get(&self, key: &ChatKey) -> Result<Option<OptOut>> {
        self.store.get(key).await
    }

    /// Records that the customer of `key` opted out, by an operator's hand (the customer asked
    /// by phone, e-mail...). Returns whether the state changed.
    pub async fn opt_out(&self, key: &ChatKey) -> Result<bool> {
        self.apply_opt_out(key, OptOutCause::Operator, Utc::now())
            .await
    }

    /// Records that the customer of `key` opted back in, by an operator's hand. Returns whether
    /// the state changed.
    pub async fn opt_in(&self, key: &ChatKey) -> Result<bool> {
        if self.store.get(key).await?.is_none() {
            return Ok(false);
        }
        self.store.remove(key).await?;
        log_change(key, ContactChange::OptedIn, OptOutCause::Operator);
        Ok(true)
    }

    async fn apply_opt_out(
        &self,
        key: &ChatKey,
        cause: OptOutCause,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        match self.store.get(key).await? {
            None => {
                self.store.put(key, OptOut { cause, at }).await?;
                log_change(key, ContactChange::OptedOut, cause);
                Ok(true)
            }
            Some(existing) => {
                // A block is the weakest reason (an unblock lifts it): an explicit refusal that
                // comes on top of it replaces it, so that a later unblock does not lift it.
                if existing.cause == OptOutCause::Blocked && cause != OptOutCause::Blocked {
                    self.store.put(key, OptOut { cause, at }).await?;
                }
                Ok(false)
            }
        }
    }

    /// Applies what `event` (received by `account`) says about opting out, and returns the
    /// change of state, if any: `None` when nothing changed (not a stop word, already opted
    /// out, a policy that does not re-opt-in on messages...).
    pub async fn observe(
        &self,
        account: &AccountId,
        event: &InboundEvent,
    ) -> Result<Option<OptOutChange>> {
        match event {
            InboundEvent::Message(m) => {
                let key = ChatKey::new(account.clone(), m.platform, m.chat_id.clone());
                let user = m
                    .sender
                    .as_ref()
                    .map(|s| s.id.clone())
                    .unwrap_or_else(|| UserId::new(m.chat_id.as_str()));
                let is_stop =
                    matches!(&m.content, Content::Text { text } if self.is_stop_word(text));
                if is_stop {
                    let changed = self
                        .apply_opt_out(&key, OptOutCause::StopWord, m.timestamp)
                        .await?;
                    return Ok(changed.then_some(OptOutChange {
                        key,
                        user,
                        change: ContactChange::OptedOut,
                        cause: OptOutCause::StopWord,
                        at: m.timestamp,
                    }));
                }
                if self.re_opt_in == ReOptInPolicy::OnNewMessage && !m.edited {
                    let changed = self.lift(&key, |_| true, OptOutCause::NewMessage).await?;
                    return Ok(changed.then_some(OptOutChange {
                        key,
                        user,
                        change: ContactChange::OptedIn,
                        cause: OptOutCause::NewMessage,
                        at: m.timestamp,
                    }));
                }
                Ok(None)
            }
            InboundEvent::Contact(c) if c.change == ContactChange::IdChanged => {
                // The customer's opt-out follows them to their new id (kept under the old one
                // too: a message still addressed there must not slip through).
                let key = ChatKey::new(account.clone(), c.platform, c.chat_id.clone());
                if let (Some(new_chat), Some(existing)) =
                    (c.new_chat_id.as_ref(), self.store.get(&key).await?)
                {
                    let new_key = ChatKey::new(account.clone(), c.platform, new_chat.clone());
                    if self.store.get(&new_key).await?.is_none() {
                        self.store.put(&new_key, existing).await?;
                    }
                }
                Ok(None)
            }
            InboundEvent::Contact(c) => {
                let key = ChatKey::new(account.clone(), c.platform, c.chat_id.clone());
                let (changed, change, cause) = match c.change {
                    ContactChange::Blocked => (
                        self.apply_opt_out(&key, OptOutCause::Blocked, c.timestamp)
                            .await?,
                        ContactChange::OptedOut,
                        OptOutCause::Blocked,
                    ),
                    ContactChange::OptedOut => (
                        self.apply_opt_out(&key, OptOutCause::PlatformOptOut, c.timestamp)
                            .await?,
                        ContactChange::OptedOut,
                        OptOutCause::PlatformOptOut,
                    ),
                    ContactChange::Unblocked => (
                        self.lift(
                            &key,
                            |o| o.cause == OptOutCause::Blocked,
                            OptOutCause::Unblocked,
                        )
                        .await?,
                        ContactChange::OptedIn,
                        OptOutCause::Unblocked,
                    ),
                    ContactChange::OptedIn => (
                        self.lift(&key, |_| true, OptOutCause::PlatformOptIn)
                            .await?,
                        ContactChange::OptedIn,
                        OptOutCause::PlatformOptIn,
                    ),
                    // Handled above; a future kind changes nothing here.
                    _ => return Ok(None),
                };
                Ok(changed.then(|| OptOutChange {
                    key,
                    user: c.user_id.clone(),
                    change,
                    cause,
                    at: c.timestamp,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Removes the opt-out of `key` if `allowed` says so; returns whether it was removed.
    async fn lift(
        &self,
        key: &ChatKey,
        allowed: impl Fn(&OptOut) -> bool + Send,
        cause: OptOutCause,
    ) -> Result<bool> {
        match self.store.get(key).await? {
            Some(existing) if allowed(&existing) => {
                self.store.remove(key).await?;
                log_change(key, ContactChange::OptedIn, cause);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

fn log_change(key: &ChatKey, change: ContactChange, cause: OptOutCause) {
    tracing::info!(
        account = %key.account.fingerprint(),
        platform = %key.platform,
        chat = %key.chat.fingerprint(),
        change = ?change,
        cause = %cause,
        "opt-out state changed"
    );
}
