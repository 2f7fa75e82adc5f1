//! The first-contact notice: the first message to a customer says how to refuse further ones.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::optout::ChatKey;
use crate::error::Result;
use crate::model::OutgoingContent;

/// The text appended to the first message to a customer.
///
/// The default is the Russian line, a new line, and the English line. Make sure the notice names
/// a stop word the [`OptOutRegistry`](super::OptOutRegistry) actually matches.
///
/// ```
/// use messenger_core::consent::FirstContactNotice;
/// use messenger_core::OutgoingContent;
/// let notice = FirstContactNotice::english();
/// let OutgoingContent::Text { text } = notice.apply(&OutgoingContent::text("Your order is ready")) else {
///     unreachable!()
/// };
/// assert_eq!(text, "Your order is ready\n\nReply STOP to opt out.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstContactNotice {
    text: String,
}

impl FirstContactNotice {
    /// The Russian default.
    pub const RUSSIAN: &'static str = "Чтобы отказаться от сообщений, ответьте СТОП.";
    /// The English default.
    pub const ENGLISH: &'static str = "Reply STOP to opt out.";

    /// A notice with the given text (kept as it is).
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }

    /// The Russian notice alone.
    pub fn russian() -> Self {
        Self::new(Self::RUSSIAN)
    }

    /// The English notice alone.
    pub fn english() -> Self {
        Self::new(Self::ENGLISH)
    }

    /// The Russian and the English notice, one per line (the default).
    pub fn bilingual() -> Self {
        Self::new(format!("{}\n{}", Self::RUSSIAN, Self::ENGLISH))
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// `content` with the notice added: after a blank line at the end of a text or a caption;
    /// as the caption of media without one. An empty text stays empty (the planner refuses it;
    /// the notice must not turn a mistake into a message).
    pub fn apply(&self, content: &OutgoingContent) -> OutgoingContent {
        let mut content = content.clone();
        let caption = match &mut content {
            OutgoingContent::Text { text } => {
                if !text.trim().is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&self.text);
                }
                return content;
            }
            OutgoingContent::Image { caption, .. }
            | OutgoingContent::File { caption, .. }
            | OutgoingContent::Voice { caption, .. }
            | OutgoingContent::Audio { caption, .. }
            | OutgoingContent::Video { caption, .. } => caption,
        };
        match caption {
            Some(c) if !c.trim().is_empty() => {
                c.push_str("\n\n");
                c.push_str(&self.text);
            }
            _ => *caption = Some(self.text.clone()),
        }
        content
    }
}

impl Default for FirstContactNotice {
    fn default() -> Self {
        Self::bilingual()
    }
}

/// Where the chats an account has already written to are kept (so the notice goes only into
/// the first message).
///
/// The in-memory default is [`MemoryContactLog`].
#[async_trait]
pub trait ContactLog: Send + Sync + fmt::Debug {
    /// Whether a message to `key` has already gone out (with the notice).
    async fn was_contacted(&self, key: &ChatKey) -> Result<bool>;
    /// Records that the first message to `key` went out at `at`.
    async fn mark_contacted(&self, key: &ChatKey, at: DateTime<Utc>) -> Result<()>;
}

/// An in-memory [`ContactLog`], bounded: at most [`capacity`](Self::capacity) chats
/// ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) by default).
///
/// At capacity the chat contacted longest ago is forgotten. The only effect is that the next
/// message to that chat carries the notice again: a second notice is harmless, a missing one is
/// not, so eviction errs on the safe side.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use messenger_core::consent::{ChatKey, ContactLog, MemoryContactLog};
/// use messenger_core::Platform;
/// let log = MemoryContactLog::with_capacity(2);
/// for chat in ["1", "2", "3"] {
///     log.mark_contacted(&ChatKey::new("shop", Platform::Telegram, chat), Utc::now()).await?;
/// }
/// assert_eq!(log.len(), 2);
/// // The oldest was forgotten: its next message repeats the notice.
/// assert!(!log.was_contacted(&ChatKey::new("shop", Platform::Telegram, "1")).await?);
/// assert!(log.was_contacted(&ChatKey::new("shop", Platform::Telegram, "3")).await?);
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
pub struct MemoryContactLog {
    capacity: usize,
    state: Mutex<ContactState>,
}

#[derive(Default)]
struct ContactState {
    contacted: HashMap<ChatKey, DateTime<Utc>>,
    /// The keys in the order they were first contacted.
    order: VecDeque<ChatKey>,
}

impl MemoryContactLog {
    /// The default capacity: 100 000 chats.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty log of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty log keeping at most `capacity` chats (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(ContactState::default()),
        }
    }

    /// The most chats kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many chats are kept.
    pub fn len(&self) -> usize {
        self.lock().contacted.len()
    }

    /// Whether no chat is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ContactState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryContactLog {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryContactLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryContactLog")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl ContactLog for MemoryContactLog {
    async fn was_contacted(&self, key: &ChatKey) -> Result<bool> {
        Ok(self.lock().contacted.contains_key(key))
    }

    async fn mark_contacted(&self, key: &ChatKey, at: DateTime<Utc>) -> Result<()> {
        let mut state = self.lock();
        if state.contacted.contains_key(key) {
            return Ok(());
        }
        while state.contacted.len() >= self.capacity {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.contacted.remove(&oldest);
        }
        state.contacted.insert(key.clone(), at);
        state.order.push_back(key.clone());
        Ok(())
    }
}
