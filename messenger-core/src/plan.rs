//! The pure send planner: `plan(message, capabilities, window) -> Plan`.
//!
//! It decides everything before a byte goes out: splitting, caption overflow, fallback chains,
//! size and MIME checks, the reply window. Every decision that changes what the customer sees is
//! a [`Downgrade`] in the plan (and in the [`SendReport`](crate::SendReport)).

use std::fmt;

use serde::Serialize;

use crate::capabilities::Capabilities;
use crate::error::Result;
use crate::model::{ContentKind, MessageId, OutgoingContent, OutgoingMessage};

/// Whether the platform's reply window allows a free-form message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyWindow {
    /// The platform has no reply window (or it does not apply to this chat).
    #[default]
    NotApplicable,
    /// The window is open.
    Open,
    /// The window is closed (or the customer never wrote): free-form sends fail with
    /// [`ErrorKind::OutsideReplyWindow`](crate::ErrorKind::OutsideReplyWindow).
    Closed,
}

/// One message the platform will receive.
#[derive(Debug, Clone)]
pub struct Part {
    /// What to send; it fits the platform's limits.
    pub content: OutgoingContent,
    /// The message it replies to (set on the first part only).
    pub reply_to: Option<MessageId>,
}

/// Why the planner changed what the customer sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DowngradeReason {
    /// Text over the limit was split into `parts` messages.
    TextSplit {
        /// How many messages the text became.
        parts: usize,
        /// The limit, in the platform's unit.
        limit: usize,
    },
    /// A caption over the limit (or on a kind without captions) became separate text.
    CaptionMoved {
        /// The caption limit (0 where the kind takes no caption).
        limit: usize,
    },
    /// The platform cannot send this kind.
    KindUnsupported,
    /// The platform does not accept this MIME type for this kind.
    MimeRefused {
        /// The refused type.
        mime_type: String,
    },
    /// The platform cannot fetch media by URL for this kind, so the link is sent as text.
    UrlAsLink,
}

impl fmt::Display for DowngradeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DowngradeReason::TextSplit { parts, limit } => {
                write!(f, "text over {limit} split into {parts} messages")
            }
            DowngradeReason::CaptionMoved { limit: 0 } => {
                f.write_str("this kind takes no caption; caption sent as text")
            }
            DowngradeReason::CaptionMoved { limit } => {
                write!(f, "caption over {limit}; sent as a separate text")
            }
            DowngradeReason::KindUnsupported => f.write_str("the platform cannot send this kind"),
            DowngradeReason::MimeRefused { mime_type } => {
                write!(f, "the platform refuses {mime_type} for this kind")
            }
            DowngradeReason::UrlAsLink => {
                f.write_str("media by URL not supported; link sent as text")
            }
        }
    }
}

/// A change to what the customer sees, reported rather than hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downgrade {
    /// What the caller asked for.
    pub from: ContentKind,
    /// What the customer will get.
    pub to: ContentKind,
    /// Why.
    #[serde(flatten)]
    pub reason: DowngradeReason,
}

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}: {}", self.from, self.to, self.reason)
    }
}

/// What a send will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The messages to send, in order.
    pub parts: Vec<Part>,
    /// Every change to what the customer sees.
    pub downgrades: Vec<Downgrade>,
}

/// Plans `message` for a platform with `caps`, given the state of its reply `window`.
///
/// Pure: no I/O, no clock. See the module docs for what it decides.
pub fn plan(message: &OutgoingMessage, caps: &Capabilities, window: ReplyWindow) -> Result<Plan> {
    let _ = (message, caps, window);
    todo!("planner body: being written")
}
