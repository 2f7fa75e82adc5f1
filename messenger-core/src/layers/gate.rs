//! [`Gated`]: the messenger module's rules in front of a [`Messenger`].
//!
//! The gate asks the shared [`Consent`] before anything leaves or comes in:
//!
//! | call | refused with | when |
//! |---|---|---|
//! | every call below | [`ModuleInactive`](ErrorKind::ModuleInactive) | the module is not active for the account (or a new edition needs a fresh activation) |
//! | every call below | [`PlatformSuspended`](ErrorKind::PlatformSuspended) | the operator suspended the platform |
//! | `send`, `send_part`, `send_template`, `edit_text` | [`OptedOut`](ErrorKind::OptedOut) | the customer opted out of this account's messages |
//! | `delete_message`, `mark_read`, `download`, `handle_webhook`, `updates` | only the two above | an opted-out customer's messages can still be read or deleted |
//!
//! A refused call never reaches the inner messenger: no request leaves. `connect`,
//! `capabilities`, `reply_window`, `is_group_chat` and `canonical_chat` pass through.
//!
//! `handle_webhook` is the one exception to "refuse first": the connector verifies the delivery
//! (signature, secret) before anything else, and only a verified delivery is checked against the
//! rules. An anonymous request is answered 401 whatever the module's state, so it cannot learn
//! whether the module is active (403), and it never records a continued-use acceptance. (The
//! connector may parse a verified delivery, and note a reply window, before the gate refuses it.)
//!
//! On the way in, every event goes through the
//! [`OptOutRegistry`](crate::consent::OptOutRegistry): a stop word opts the customer out and the
//! gate adds a [`ContactEvent`](crate::ContactEvent) with
//! [`ContactChange::OptedOut`](crate::ContactChange::OptedOut) right after the message, so the
//! CRM sees it; a platform's block or opt-out event opts out as it is.
//!
//! On the way out, the first message to a chat carries the
//! [`FirstContactNotice`](crate::consent::FirstContactNotice): after a blank line at the end of the
//! text or caption, or as the caption of media without one. The planner sees the message with the
//! notice (so a long text is split with it). The chat counts as contacted only once the send
//! succeeded.
//!
//! A [`Template`] is rendered by the platform as it was approved: the gate
//! cannot add the notice to it. A template send is checked like any send, but it does not count
//! as the first contact, so the next free-form message to the chat still carries the notice.
//! Where a template may be the first message, put the opt-out wording into the approved template
//! itself (WhatsApp offers an opt-out button for marketing templates).
//!
//! Decisions are logged (`tracing`, target `messenger_core::layers::gate`) with the kind, the
//! platform and fingerprints of the account and chat; never content.
//!
//! ```no_run
//! # async fn run(connector: impl messenger_core::Messenger + 'static) -> messenger_core::Result<()> {
//! use std::sync::Arc;
//! use messenger_core::consent::Consent;
//! use messenger_core::layers::gate::Gated;
//! use messenger_core::{AccountId, ErrorKind, Messenger, OutgoingMessage};
//!
//! let consent = Arc::new(Consent::builder().build());
//! let bot = Gated::new(connector, AccountId::new("shop-17"), consent.clone());
//! // The module was never activated for shop-17: nothing leaves.
//! let err = bot.send(&OutgoingMessage::text("42", "Hello")).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::ModuleInactive);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use tracing::{debug, info, warn};

use super::Wrapper;
use crate::consent::{ChatKey, Consent};
use crate::error::{Error, ErrorKind, Result};
use crate::messenger::{EventStream, Messenger, SendReport, SentPart};
use crate::model::{
    AccountId, ByteStream, ChatId, InboundEvent, MediaRef, MessageId, OutgoingMessage, Platform,
    Template,
};
use crate::plan::Part;
use crate::webhook::{WebhookOutcome, WebhookRequest};

/// A [`Messenger`] that enforces the messenger module's rules for one account; see the
/// [module docs](self).
pub struct Gated<M> {
    inner: Arc<M>,
    account: AccountId,
    consent: Arc<Consent>,
}

impl<M> fmt::Debug for Gated<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gated")
            .field("account", &self.account)
            .field("inner", &std::any::type_name::<M>())
            .finish_non_exhaustive()
    }
}

impl<M> Gated<M> {
    /// Wraps `inner`, the connected account `account`, under the rules of `consent` (shared by
    /// every account of the CRM).
    ///
    /// For advanced use (a layer alone, a stack of your own): [`Stack`](super::Stack) builds
    /// the layers in the one safe order. Whatever sits outside the gate must hand it `send`
    /// whole; a layer that plans the message itself (as [`RateLimited`](super::RateLimited)
    /// and [`Retrying`](super::Retrying) do) would send the parts past the notice.
    pub fn new(inner: M, account: AccountId, consent: Arc<Consent>) -> Self {
        Self {
            inner: Arc::new(inner),
            account,
            consent,
        }
    }

    /// The wrapped messenger.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// The CRM's account this gate stands for.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The rules.
    pub fn consent(&self) -> &Arc<Consent> {
        &self.consent
    }
}

fn is_refusal(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ModuleInactive | ErrorKind::PlatformSuspended | ErrorKind::OptedOut
    )
}

/// Logs why the gate refused (or could not decide) and hands the error back.
fn refused(
    err: Error,
    account: &AccountId,
    platform: Platform,
    action: &str,
    chat: Option<&ChatId>,
) -> Error {
    let chat = chat.map_or_else(|| "-".to_owned(), ChatId::fingerprint);
    if is_refusal(err.kind()) {
        info!(
            account = %account.fingerprint(),
            platform = %platform,
            chat = %chat,
            action,
            kind = %err.kind(),
            "refused by the gate"
        );
    } else {
        warn!(
            account = %account.fingerprint(),
            platform = %platform,
            chat = %chat,
            action,
            kind = %err.kind(),
            "the gate could not check the rules; refusing"
        );
    }
    err
}

/// Passes one inbound event through the opt-out registry: returns the event, followed by a
/// contact event where a message changed the customer's opt-out state, and the error of the
/// registry, if it failed (the event is still returned).
async fn observe_event(
    consent: &Consent,
    account: &AccountId,
    event: InboundEvent,
) -> (Vec<InboundEvent>, Option<Error>) {
    match consent.opt_outs().observe(account, &event).await {
        Ok(change) => {
            let extra = change.and_then(|c| c.contact_event());
            let mut events = vec![event];
            if let Some(contact) = extra {
                debug!(
                    account = %account.fingerprint(),
                    platform = %contact.platform,
                    chat = %contact.chat_id.fingerprint(),
                    change = ?contact.change,
                    "contact event added for an opt-out change"
                );
                events.push(InboundEvent::Contact(contact));
            }
            (events, None)
        }
        Err(e) => {
            warn!(
                account = %account.fingerprint(),
                platform = %event.platform(),
                kind = %e.kind(),
                "opt-out registry failed on an inbound event"
            );
            (vec![event], Some(e))
        }
    }
}

impl<M: Messenger + 'static> Gated<M> {
    async fn authorize(&self, action: &str) -> Result<()> {
        let platform = self.inner.platform();
        self.consent
            .check_use(&self.account, platform, action)
            .await
            .map_err(|e| refused(e, &self.account, platform, action, None))
    }

    async fn authorize_chat(&self, action: &str, chat: &ChatId) -> Result<()> {
        let platform = self.inner.platform();
        self.consent
            .check_use(&self.account, platform, action)
            .await
            .map_err(|e| refused(e, &self.account, platform, action, Some(chat)))
    }

    async fn authorize_send(&self, chat: &ChatId, action: &str) -> Result<()> {
        let platform = self.inner.platform();
        self.consent
            .check_send(&self.account, platform, chat)
            .await
            .map_err(|e| refused(e, &self.account, platform, action, Some(chat)))
    }

    fn gated(&self, open: fn(&M) -> Result<EventStream>) -> EventStream {
        gated_stream(PollState {
            inner: self.inner.clone(),
            account: self.account.clone(),
            consent: self.consent.clone(),
            platform: self.inner.platform(),
            open,
            stream: None,
            pending: VecDeque::new(),
            done: false,
        })
    }

    /// [`updates`](Messenger::updates), with the rules checked now: a module that is inactive
    /// or a platform that is suspended is an `Err` here rather than the first item of the
    /// stream.
    pub async fn checked_updates(&self) -> Result<EventStream> {
        self.authorize("poll").await?;
        self.updates()
    }
}

/// The state of a gated long-poll stream.
struct PollState<M> {
    inner: Arc<M>,
    account: AccountId,
    consent: Arc<Consent>,
    platform: Platform,
    /// Opens the inner stream (its updates, or its polled statuses).
    open: fn(&M) -> Result<EventStream>,
    stream: Option<EventStream>,
    pending: VecDeque<Result<InboundEvent>>,
    done: bool,
}

fn gated_stream<M: Messenger + 'static>(state: PollState<M>) -> EventStream {
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            let stream = match st.stream.as_mut() {
                Some(stream) => stream,
                None => {
                    // Checked when the stream is first polled, before the inner one exists.
                    if let Err(e) = st.consent.check_use(&st.account, st.platform, "poll").await {
                        st.done = true;
                        let e = refused(e, &st.account, st.platform, "poll", None);
                        return Some((Err(e), st));
                    }
                    match (st.open)(&st.inner) {
                        Ok(stream) => st.stream.insert(stream),
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e), st));
                        }
                    }
                }
            };
            match stream.next().await {
                None => return None,
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                Some(Ok(event)) => {
                    // Intake stops as soon as the module is deactivated or the platform
                    // suspended: the event is dropped and the stream ends with the refusal.
                    if let Err(e) = st.consent.check_use(&st.account, st.platform, "poll").await {
                        st.done = true;
                        st.stream = None;
                        let e = refused(e, &st.account, st.platform, "poll", None);
                        return Some((Err(e), st));
                    }
                    let (events, error) = observe_event(&st.consent, &st.account, event).await;
                    st.pending.extend(events.into_iter().map(Ok));
                    if let Some(e) = error {
                        st.pending.push_back(Err(e));
                        st.done = true;
                        st.stream = None;
                    }
                }
            }
        }
    }))
}

impl<M: Messenger + 'static> Wrapper for Gated<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

#[async_trait]
impl<M: Messenger + 'static> Messenger for Gated<M> {
    // `connect`, `capabilities`, `reply_window`, `is_group_chat` and `canonical_chat` pass
    // through; everything that sends, reads or takes in is checked.
    crate::forward_messenger!(except [
        send_part, send, send_template, edit_text, delete_message, download, mark_read,
        handle_webhook, updates, status_updates
    ]);

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.authorize_send(&self.inner.canonical_chat(chat), "send")
            .await?;
        self.inner.send_part(chat, part).await
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReport> {
        // Opt-outs and contacts are kept under the form of the id inbound events carry.
        let canonical = self.inner.canonical_chat(&message.chat);
        self.authorize_send(&canonical, "send").await?;
        let platform = self.inner.platform();
        let key = ChatKey::new(self.account.clone(), platform, canonical);
        let first = !self.consent.contacts().was_contacted(&key).await?;
        let report = if first {
            debug!(
                account = %self.account.fingerprint(),
                platform = %platform,
                chat = %message.chat.fingerprint(),
                "first contact: the opt-out notice is added"
            );
            let mut with_notice = message.clone();
            with_notice.content = self.consent.notice().apply(&message.content);
            crate::send::execute(self, &with_notice).await?
        } else {
            crate::send::execute(self, message).await?
        };
        if first {
            // The message went out: failing the call now would invite a duplicate send.
            if let Err(e) = self
                .consent
                .contacts()
                .mark_contacted(&key, Utc::now())
                .await
            {
                warn!(
                    account = %self.account.fingerprint(),
                    platform = %platform,
                    chat = %message.chat.fingerprint(),
                    kind = %e.kind(),
                    "could not record the first contact; the next message repeats the notice"
                );
            }
        }
        Ok(report)
    }

    /// A send: refused while the module is inactive, the platform suspended or the customer
    /// opted out. The platform renders a template as it was approved, so no notice can be added
    /// to it, and it does not count as the first contact: the next free-form message still
    /// carries the notice (see the [module docs](self)).
    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        self.authorize_send(&self.inner.canonical_chat(chat), "send_template")
            .await?;
        self.inner.send_template(chat, template).await
    }

    /// Checked like a send: new text reaches the customer.
    async fn edit_text(&self, chat: &ChatId, message: &MessageId, text: &str) -> Result<()> {
        self.authorize_send(&self.inner.canonical_chat(chat), "edit_text")
            .await?;
        self.inner.edit_text(chat, message, text).await
    }

    /// Checked like any use of the module; an opted-out customer's messages can still be
    /// deleted (nothing new reaches them).
    async fn delete_message(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.authorize_chat("delete_message", chat).await?;
        self.inner.delete_message(chat, message).await
    }

    async fn download(&self, media: &MediaRef) -> Result<ByteStream> {
        self.authorize("download").await?;
        self.inner.download(media).await
    }

    async fn mark_read(&self, chat: &ChatId, message: &MessageId) -> Result<()> {
        self.authorize_chat("mark_read", chat).await?;
        self.inner.mark_read(chat, message).await
    }

    /// The connector verifies (and parses) the delivery first; only a verified delivery asks
    /// the rules. So an unsigned request is refused as such (401) without learning whether the
    /// module is active (403), and never records a continued-use acceptance.
    async fn handle_webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome> {
        let outcome = self.inner.handle_webhook(request).await?;
        self.authorize("webhook").await?;
        let mut events = Vec::with_capacity(outcome.events.len());
        for event in outcome.events {
            let (observed, error) = observe_event(&self.consent, &self.account, event).await;
            if let Some(e) = error {
                // The platform delivers again; opt-outs are idempotent.
                return Err(e);
            }
            events.extend(observed);
        }
        Ok(WebhookOutcome {
            events,
            response: outcome.response,
        })
    }

    /// The inner stream, gated: the rules are checked when the stream is first polled (before
    /// the inner stream is opened, so no request leaves when refused) and again for every event.
    /// A refusal is the stream's last item. Use [`Gated::checked_updates`] to be refused at
    /// call time.
    fn updates(&self) -> Result<EventStream> {
        Ok(self.gated(|m| m.updates()))
    }

    /// Polled statuses, gated like [`updates`](Messenger::updates): nothing is polled while the
    /// module is inactive or the platform suspended.
    fn status_updates(&self) -> Result<EventStream> {
        Ok(self.gated(|m| m.status_updates()))
    }
}
