//! The [`Messenger`] trait: one connected account on one platform.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Serialize;

use crate::capabilities::Capabilities;
use crate::error::{Error, Result};
use crate::model::{
    AccountInfo, ByteStream, ChatId, InboundEvent, MediaRef, MessageId, OutgoingMessage, Platform,
    Template,
};
use crate::plan::{Downgrade, Part, ReplyWindow};
use crate::webhook::{WebhookOutcome, WebhookRequest};

/// A stream of inbound events (long polling). Transient failures are retried inside the
/// stream; an `Err` item is fatal (bad credentials, a conflicting poller) and ends it.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<InboundEvent>> + Send + 'static>>;

/// One part of a send that the platform accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentPart {
    /// The platform's id of the message.
    pub message_id: MessageId,
    /// When the platform accepted it.
    pub timestamp: DateTime<Utc>,
}

/// What a send did: the messages that went out, and every change the customer will see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// The platform of the account.
    pub platform: Platform,
    /// The conversation.
    pub chat: ChatId,
    /// Every message that went out, in order.
    pub parts: Vec<SentPart>,
    /// Every decision of the planner that changed what the customer sees.
    pub downgrades: Vec<Downgrade>,
}

impl SendReport {
    /// The id of the first message sent (the one a reply would quote).
    pub fn first_message_id(&self) -> Option<&MessageId> {
        self.parts.first().map(|p| &p.message_id)
    }
}

/// One connected account (a bot, a phone number, a community) on one platform.
///
/// Object-safe, so a CRM can hold `Vec<Arc<dyn Messenger>>`. A connector implements the
/// required methods; [`send`](Messenger::send) plans the message against
/// [`capabilities`](Messenger::capabilities) and sends each part through
/// [`send_part`](Messenger::send_part). Layers ([`crate::layers`]) wrap a `Messenger` and are
/// `Messenger`s themselves.
///
/// ```no_run
/// # async fn run(m: std::sync::Arc<dyn messenger_core::Messenger>) -> messenger_core::Result<()> {
/// use messenger_core::OutgoingMessage;
/// let report = m.send(&OutgoingMessage::text("123456789", "Your order has shipped")).await?;
/// for d in &report.downgrades {
///     tracing::info!(change = %d, "the customer will see something else");
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Messenger: Send + Sync {
    /// The platform of this account.
    fn platform(&self) -> Platform;

    /// What the platform can do, as this account sees it.
    fn capabilities(&self) -> &Capabilities;

    /// Checks the credentials against the platform and returns the account's identity.
    async fn connect(&self) -> Result<AccountInfo>;

    /// Sends one planned part. `part` already fits the platform (the planner saw to it).
    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart>;

    /// Plans `message` and sends every part; see [`crate::send::execute`].
    async fn send(&self, message: &OutgoingMessage) -> Result<SendReport> {
        crate::send::execute(self, message).await
    }

    /// Sends a pre-approved [`Template`] (WhatsApp's way to write outside the reply window).
    /// Not planned: the platform renders it. Unsupported by default.
    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        let _ = (chat, template);
        Err(
            Error::unsupported("message templates are not available on this platform")
                .with_platform(self.platform()),
        )
    }

    /// Replaces the text of a message the account sent, where the platform can
    /// ([`ActionCapability::edit`](crate::capabilities::ActionCapability::edit)). Unsupported by default.
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        let _ = (chat, message, text);
        Err(
            Error::unsupported("editing messages is not available on this platform")
                .with_platform(self.platform()),
        )
    }

    /// Deletes a message the account sent, where the platform can ([`ActionCapability::delete`](crate::capabilities::ActionCapability::delete)).
    /// Unsupported by default.
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let _ = (chat, message);
        Err(
            Error::unsupported("deleting messages is not available on this platform")
                .with_platform(self.platform()),
        )
    }

    /// Whether `chat` is a group (rate limits differ: Telegram allows 20/min in a group and
    /// 1/s in a private chat). Defaults to `false`.
    fn is_group_chat(&self, chat: &ChatId) -> bool {
        let _ = chat;
        false
    }

    /// The one form of `chat` that the platform uses in inbound events.
    ///
    /// Consent keys (opt-outs, first contacts) and reply windows are kept under it, so that a
    /// chat id written another way by the CRM (WhatsApp takes `+16505551234` and reports
    /// `16505551234`) still finds them. Defaults to `chat` as it is.
    fn canonical_chat(&self, chat: &ChatId) -> ChatId {
        chat.clone()
    }

    /// Whether free-form messages to `chat` are allowed now (platforms with a reply window).
    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        let _ = chat;
        Ok(ReplyWindow::NotApplicable)
    }

    /// Streams the bytes of inbound media without holding the whole file in memory.
    async fn download(&self, media: &MediaRef) -> Result<ByteStream>;

    /// Marks an inbound message as read, where the platform can.
    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let _ = (chat, message);
        Err(
            Error::unsupported("mark-as-read is not available on this platform")
                .with_platform(self.platform()),
        )
    }

    /// Verifies and parses one webhook delivery, returning the events and the HTTP response
    /// the platform expects.
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let _ = request;
        Err(
            Error::unsupported("webhooks are not available for this connector")
                .with_platform(self.platform()),
        )
    }

    /// Statuses of sent messages that the platform does not push but the connector polls for
    /// (Avito's read receipts), as a stream; `Unsupported` where statuses arrive with
    /// [`updates`](Messenger::updates) or webhooks. Messages sent through this connector are
    /// watched by themselves; [`track_status`](Messenger::track_status) adds others (sent by
    /// another process, or before a restart).
    fn status_updates(&self) -> Result<EventStream> {
        Err(
            Error::unsupported("this platform pushes its statuses; there is nothing to poll")
                .with_platform(self.platform()),
        )
    }

    /// Watches the account's message `message` in `chat` for
    /// [`status_updates`](Messenger::status_updates). Does nothing where statuses are pushed.
    fn track_status(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        let _ = (chat, message);
        Ok(())
    }

    /// Long-polls the platform for updates, where it has long polling.
    fn updates(&self) -> Result<EventStream> {
        Err(
            Error::unsupported("long polling is not available on this platform")
                .with_platform(self.platform()),
        )
    }
}

#[async_trait]
impl<M: Messenger + ?Sized> Messenger for std::sync::Arc<M> {
    crate::forward_messenger!(all);
}
