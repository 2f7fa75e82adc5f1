//! The first-contact notice: the first message to a customer says how to refuse further ones.

use std::collections::HashMap;
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

/// An in-memory [`ContactLog`].
#[derive(Debug, Default)]
pub struct MemoryContactLog {
    contacted: Mutex<HashMap<ChatKey, DateTime<Utc>>>,
}

impl MemoryContactLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ContactLog for MemoryContactLog {
    async fn was_contacted(&self, key: &ChatKey) -> Result<bool> {
        Ok(self
            .contacted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(key))
    }

    async fn mark_contacted(&self, key: &ChatKey, at: DateTime<Utc>) -> Result<()> {
        self.contacted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_insert(at);
        Ok(())
    }
}
