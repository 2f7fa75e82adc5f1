//! The durable outbox: [`Inbox::send`] persists a row before any request; [`OutboxWorker`]s
//! claim rows and send them through the account's `Messenger` (the layer stack).
//!
//! # States
//!
//! `queued` → `sending` → `sent`, or `failed`, `maybe_sent`, `cancelled` (see
//! [`OutboxState`]). A row becomes `sending` in a committed transaction *before* its request
//! leaves: a worker that dies afterwards leaves it `sending` with an expiring lease. When the
//! lease runs out (workers renew it while a send is in flight), recovery decides:
//!
//! - where the platform drops a repeated send carrying the same key
//!   ([`Capabilities::keyed_sends`](messenger_core::Capabilities::keyed_sends), VK's
//!   `random_id`), the row is queued again and resent **under the same key** (stored with the
//!   row): at least once on our side, exactly once at the customer;
//! - elsewhere the row becomes `maybe_sent` and the employee is notified: it is never resent
//!   by itself, only on an employee's explicit [`Inbox::resend`] (or dismissed with
//!   [`Inbox::dismiss`]).
//!
//! A send answered with an error that says it certainly did not go out is retried with
//! backoff while retryable, and `failed` otherwise; one that may have gone out follows the same
//! rule as an interrupted one.
//!
//! # Claiming
//!
//! A worker claims at most one row per conversation (the oldest not yet final, so a
//! conversation's messages go out in order) with `FOR UPDATE SKIP LOCKED` on PostgreSQL (any
//! number of workers in any number of processes) and inside a `BEGIN IMMEDIATE` transaction on
//! SQLite.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use messenger_core::consent::ChatKey;
use messenger_core::{
    Capabilities, ChatId, Content, ContentKind, Delivery, DeliveryStatus, MediaId, MediaRef,
    MediaSource, OutgoingContent, OutgoingMessage, StatusError, StatusEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::{Backend, Row, q};
use crate::error::{InboxError, InboxErrorKind, Result};
use crate::inbox::Inbox;
use crate::model::{
    AccountKey, ConversationId, CustomerState, Draft, DraftMedia, EmployeeId, MessageKey,
    Notification, OutboxEntry, OutboxId, OutboxState, WorkspaceId,
};
use crate::rights::{Action, Target};

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum MediaWire {
    Bytes {
        mime_type: String,
        file_name: String,
        size: u64,
    },
    Url {
        url: url::Url,
    },
    Id {
        id: String,
    },
}

#[derive(Serialize, Deserialize)]
struct DraftWire {
    kind: ContentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media: Option<MediaWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
}

/// The draft as JSON (bytes go to the `media` column), and those bytes.
fn draft_to_wire(draft: &Draft) -> Result<(String, Option<Vec<u8>>)> {
    let (wire, blob) = match draft {
        Draft::Text { text } => (
            DraftWire {
                kind: ContentKind::Text,
                text: Some(text.clone()),
                media: None,
                caption: None,
            },
            None,
        ),
        Draft::Media {
            kind,
            media,
            caption,
        } => {
            let (m, blob) = match media {
                DraftMedia::Bytes {
                    data,
                    mime_type,
                    file_name,
                } => (
                    MediaWire::Bytes {
                        mime_type: mime_type.clone(),
                        file_name: file_name.clone(),
                        size: data.len() as u64,
                    },
                    Some(data.clone()),
                ),
                DraftMedia::Url(u) => (MediaWire::Url { url: u.clone() }, None),
                DraftMedia::Id(id) => (
                    MediaWire::Id {
                        id: id.as_str().to_owned(),
                    },
                    None,
                ),
            };
            (
                DraftWire {
                    kind: *kind,
                    text: None,
                    media: Some(m),
                    caption: caption.clone(),
                },
                blob,
            )
        }
    };
    Ok((serde_json::to_string(&wire)?, blob))
}

/// What the platform is asked to send for a stored draft.
fn outgoing_content(draft: &str, blob: Option<Vec<u8>>) -> Result<OutgoingContent> {
    let wire: DraftWire = serde_json::from_str(draft)?;
    if wire.kind == ContentKind::Text {
        return Ok(OutgoingContent::text(wire.text.unwrap_or_default()));
    }
    let source = match wire.media {
        Some(MediaWire::Bytes {
            mime_type,
            file_name,
            ..
        }) => MediaSource::bytes(
            blob.ok_or_else(|| InboxError::storage("an outbox row lost its media"))?,
            mime_type,
            file_name,
        ),
        Some(MediaWire::Url { url }) => MediaSource::url(url),
        Some(MediaWire::Id { id }) => MediaSource::id(id),
        None => return Err(InboxError::storage("a media draft without media")),
    };
    OutgoingContent::media(wire.kind, source, wire.caption)
        .ok_or_else(|| InboxError::storage("a stored draft of a kind that cannot be sent"))
}

/// How the history shows an outbound draft.
fn history_content(draft: &Draft, outbox: OutboxId) -> Content {
    match draft {
        Draft::Text { text } => Content::Text { text: text.clone() },
        Draft::Media {
            kind,
            media,
            caption,
        } => {
            let media = match media {
                DraftMedia::Bytes {
                    data,
                    mime_type,
                    file_name,
                } => MediaRef {
                    id: MediaId::new(format!("outbox:{outbox}")),
                    mime_type: Some(mime_type.clone()),
                    file_name: Some(file_name.clone()),
                    size: Some(data.len() as u64),
                },
                DraftMedia::Url(u) => MediaRef::new(u.as_str()),
                DraftMedia::Id(id) => MediaRef::new(id.clone()),
            };
            let caption = caption.clone();
            match kind {
                ContentKind::Image => Content::Image { media, caption },
                ContentKind::Voice => Content::Voice { media, caption },
                ContentKind::Audio => Content::Audio { media, caption },
                ContentKind::Video => Content::Video { media, caption },
                _ => Content::File { media, caption },
            }
        }
    }
}

/// The message of the conflict when a concurrent send took the client's key first.
const KEY_TAKEN: &str = "the idempotency key was taken by a concurrent send";

fn new_key() -> String {
    format!("inbox-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn entry_from(r: &Row) -> Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: OutboxId(r.i64("id")?),
        account: AccountKey(r.i64("account_id")?),
        conversation: ConversationId(r.i64("conversation_id")?),
        message: MessageKey(r.i64("message_id")?),
        state: OutboxState::parse(&r.text("state")?)?,
        attempts: r.i64("attempts")?,
        dedup: r.bool("dedup")?,
        error_kind: r.opt_text("error_kind")?,
        created_at: r.time("created_at")?,
    })
}

const ENTRY_COLUMNS: &str =
    "id, account_id, conversation_id, message_id, state, attempts, dedup, error_kind, created_at";

impl Inbox {
    /// Writes to the customer of `conversation`: the draft is persisted in the outbox (and the
    /// history, status `pending`) before any request; a worker sends it. Reply right.
    ///
    /// Refused before anything is stored: a blocked ([`InboxErrorKind::Blocked`]) or anonymised
    /// customer, an opted-out one ([`InboxErrorKind::OptedOut`]), an inactive or suspended
    /// account or platform, and, to a customer who never wrote, past the
    /// [`UnsolicitedLimit`](crate::UnsolicitedLimit) ([`InboxErrorKind::UnsolicitedLimit`]).
    pub async fn send(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        draft: Draft,
    ) -> Result<OutboxEntry> {
        Ok(self
            .send_inner(employee, conversation, draft, None)
            .await?
            .0)
    }

    /// [`send`](Self::send) under the client's idempotency key (1 to 128 printable ASCII
    /// characters, scoped to the acting employee): the first call enqueues; every later call
    /// with the same key returns the first call's outbox row (`true`: a replay) and sends
    /// nothing, also when several arrive at once on different processes. A key used for another
    /// conversation is [`InboxErrorKind::Conflict`].
    pub async fn send_idempotent(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        draft: Draft,
        client_key: &str,
    ) -> Result<(OutboxEntry, bool)> {
        if client_key.is_empty()
            || client_key.len() > 128
            || !client_key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InboxError::invalid(
                "an idempotency key is 1 to 128 printable ASCII characters",
            ));
        }
        match self
            .send_inner(employee, conversation, draft, Some(client_key))
            .await
        {
            // Another request with the key committed first (its row won the unique key).
            Err(e) if e.kind() == InboxErrorKind::Conflict && e.message() == KEY_TAKEN => {
                match self.keyed_entry(employee, conversation, client_key).await? {
                    Some(entry) => Ok((entry, true)),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// The outbox row a client key of `employee` names, if any.
    async fn keyed_entry(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        client_key: &str,
    ) -> Result<Option<OutboxEntry>> {
        let Some(row) = self
            .inner
            .db
            .opt(q!(
                format!(
                    "SELECT {ENTRY_COLUMNS} FROM outbox WHERE id = (SELECT outbox_id FROM send_keys WHERE employee_id = $1 AND client_key = $2)"
                ),
                employee.0,
                client_key
            ))
            .await?
        else {
            return Ok(None);
        };
        let entry = entry_from(&row)?;
        if entry.conversation != conversation {
            return Err(InboxError::new(
                InboxErrorKind::Conflict,
                "this idempotency key was used for another conversation",
            ));
        }
        Ok(Some(entry))
    }

    async fn send_inner(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        draft: Draft,
        client_key: Option<&str>,
    ) -> Result<(OutboxEntry, bool)> {
        let actor = self
            .check(employee, Action::Send, Target::Conversation(conversation))
            .await?;
        if let Some(key) = client_key
            && let Some(entry) = self.keyed_entry(employee, conversation, key).await?
        {
            return Ok((entry, true));
        }
        let account_key = actor
            .account
            .ok_or_else(|| InboxError::not_found("conversation"))?;
        let account = self.account_unchecked(account_key).await?;
        match &draft {
            Draft::Text { text } if text.trim().is_empty() => {
                return Err(InboxError::invalid("a message needs text"));
            }
            Draft::Media {
                media: DraftMedia::Bytes { data, .. },
                ..
            } if data.len() > self.inner.outbox.max_media_bytes => {
                return Err(InboxError::invalid(format!(
                    "media over {} bytes is not kept in the outbox",
                    self.inner.outbox.max_media_bytes
                )));
            }
            Draft::Media {
                media: DraftMedia::Bytes { data, .. },
                ..
            } if data.is_empty() => {
                return Err(InboxError::invalid("empty media"));
            }
            _ => {}
        }
        let row = self
            .inner
            .db
            .one(q!(
                "SELECT state, chat_id FROM customers WHERE id = (SELECT customer_id FROM conversations WHERE id = $1)",
                conversation.0
            ))
            .await?;
        match CustomerState::parse(&row.text("state")?)? {
            CustomerState::Blocked => {
                return Err(InboxError::new(
                    InboxErrorKind::Blocked,
                    "the customer's data is blocked: nothing is sent",
                ));
            }
            CustomerState::Anonymised => {
                return Err(InboxError::new(
                    InboxErrorKind::Anonymised,
                    "the customer was anonymised",
                ));
            }
            CustomerState::Normal => {}
        }
        let chat = row
            .opt_text("chat_id")?
            .ok_or_else(|| InboxError::new(InboxErrorKind::Anonymised, "the customer has no id"))?;
        self.check_account_use(&account, "send").await?;
        let key = ChatKey::new(account.id.core_id(), account.platform, chat.as_str());
        if self.inner.consent.opt_outs().is_opted_out(&key).await? {
            return Err(InboxError::new(
                InboxErrorKind::OptedOut,
                "the customer opted out of this account's messages",
            ));
        }
        let (draft_json, blob) = draft_to_wire(&draft)?;
        let dedup = Capabilities::of(account.platform).keyed_sends;
        let now = crate::db::now();
        let limit = self.inner.unsolicited;

        let mut tx = self.inner.db.begin().await?;
        if tx.backend() == Backend::Postgres {
            // Serialises the guard's count per account across processes.
            tx.exec(q!(
                "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
                account.id.0
            ))
            .await?;
        }
        let never_wrote = tx
            .one(q!(
                "SELECT first_inbound_at FROM customers WHERE id = (SELECT customer_id FROM conversations WHERE id = $1)",
                conversation.0
            ))
            .await?
            .opt_i64("first_inbound_at")?
            .is_none();
        if never_wrote {
            let since =
                now - chrono::Duration::from_std(limit.period).unwrap_or(chrono::Duration::MAX / 2);
            let count = tx
                .one(q!(
                    "SELECT COUNT(*) AS n FROM outbox WHERE account_id = $1 AND unsolicited = 1 AND created_at >= $2 AND state <> 'cancelled'",
                    account.id.0,
                    since
                ))
                .await?
                .i64("n")?;
            if count >= i64::from(limit.max) {
                drop(tx);
                self.audit(
                    Some(actor.workspace()),
                    Some(actor.id()),
                    "send",
                    &format!("conversation:{conversation}"),
                    "refused_unsolicited_limit",
                )
                .await?;
                return Err(InboxError::new(
                    InboxErrorKind::UnsolicitedLimit,
                    format!(
                        "this account already wrote {count} messages to customers who never wrote to it in the last {} s (limit {}): \
                         unsolicited mass messaging is not allowed (agreement 3.1.5, 6.1)",
                        limit.period.as_secs(),
                        limit.max
                    ),
                ));
            }
        }
        let outbox = tx
            .one(q!(
                "INSERT INTO outbox (workspace_id, account_id, conversation_id, message_id, chat_id, draft, media, idempotency_key,
                                     dedup, unsolicited, state, attempts, next_attempt_at, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $11, $10, $10) RETURNING id",
                account.workspace.0,
                account.id.0,
                conversation.0,
                chat.as_str(),
                draft_json,
                blob,
                new_key(),
                dedup,
                never_wrote,
                now,
                actor.id().0
            ))
            .await?
            .i64("id")?;
        let content = history_content(&draft, OutboxId(outbox));
        let message = tx
            .one(q!(
                "INSERT INTO messages (workspace_id, account_id, conversation_id, chat_id, direction, kind, content, search_text,
                                       sender_employee, status, outbox_id, sent_at, created_at)
                 VALUES ($1, $2, $3, $4, 'out', $5, $6, $7, $8, 'pending', $9, $10, $10) RETURNING id",
                account.workspace.0,
                account.id.0,
                conversation.0,
                chat.as_str(),
                draft.kind().as_str(),
                serde_json::to_string(&content)?,
                crate::intake::search_text(&content),
                actor.id().0,
                outbox,
                now
            ))
            .await?
            .i64("id")?;
        tx.exec(q!(
            "UPDATE outbox SET message_id = $1 WHERE id = $2",
            message,
            outbox
        ))
        .await?;
        if let Some(key) = client_key {
            tx.exec(q!(
                "INSERT INTO send_keys (employee_id, client_key, outbox_id, created_at) VALUES ($1, $2, $3, $4)",
                actor.id().0,
                key,
                outbox,
                now
            ))
            .await
            .map_err(|e| {
                if e.kind() == InboxErrorKind::Conflict {
                    InboxError::new(InboxErrorKind::Conflict, KEY_TAKEN)
                } else {
                    e
                }
            })?;
        }
        tx.exec(q!(
            "UPDATE conversations SET last_message_at = $1 WHERE id = $2",
            now,
            conversation.0
        ))
        .await?;
        tx.commit().await?;
        self.inner.outbox_wake.notify_waiters();
        crate::notify::publish(
            self,
            actor.workspace(),
            Notification::Status {
                account: account.id,
                conversation,
                message: MessageKey(message),
                status: DeliveryStatus::Pending,
            },
        )
        .await;
        Ok((
            OutboxEntry {
                id: OutboxId(outbox),
                account: account.id,
                conversation,
                message: MessageKey(message),
                state: OutboxState::Queued,
                attempts: 0,
                dedup,
                error_kind: None,
                created_at: now,
            },
            false,
        ))
    }

    /// One outbox row (read right).
    pub async fn outbox_entry(&self, employee: EmployeeId, id: OutboxId) -> Result<OutboxEntry> {
        self.check(employee, Action::ReadHistory, Target::Outbox(id))
            .await?;
        let row = self
            .inner
            .db
            .one(q!(
                format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE id = $1"),
                id.0
            ))
            .await?;
        entry_from(&row)
    }

    /// The outbox rows in `state` on accounts `employee` can read (e.g. every `maybe_sent` row
    /// waiting for a decision), oldest first.
    pub async fn outbox_entries(
        &self,
        employee: EmployeeId,
        state: OutboxState,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>> {
        let actor = self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        let readable = self.readable_accounts(&actor.employee).await?;
        let rows = self
            .inner
            .db
            .all(q!(
                format!(
                    "SELECT {ENTRY_COLUMNS} FROM outbox WHERE workspace_id = $1 AND state = $2 ORDER BY id LIMIT $3"
                ),
                actor.workspace().0,
                state.as_str(),
                i64::from(limit.clamp(1, 1000))
            ))
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let e = entry_from(r)?;
            if readable.as_ref().is_none_or(|set| set.contains(&e.account)) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Withdraws a queued row before it goes out, or dismisses a `maybe_sent` one (the employee
    /// decided not to resend). Reply right.
    pub async fn dismiss(&self, employee: EmployeeId, id: OutboxId) -> Result<()> {
        let actor = self
            .check(employee, Action::ResolveOutbox, Target::Outbox(id))
            .await?;
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE outbox SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state IN ('queued', 'maybe_sent')",
                crate::db::now(),
                id.0
            ))
            .await?;
        if n == 0 {
            return Err(InboxError::new(
                InboxErrorKind::Conflict,
                "only a queued or maybe-sent row can be dismissed",
            ));
        }
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "dismiss",
            &format!("outbox:{id}"),
            "done",
        )
        .await
    }

    /// Sends a `maybe_sent` row again, on the employee's explicit decision (the customer may get
    /// it twice): queued with a fresh key. Reply right.
    pub async fn resend(&self, employee: EmployeeId, id: OutboxId) -> Result<()> {
        let actor = self
            .check(employee, Action::ResolveOutbox, Target::Outbox(id))
            .await?;
        let now = crate::db::now();
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = $1, idempotency_key = $2,
                        error_kind = NULL, error_message = NULL, updated_at = $1
                 WHERE id = $3 AND state = 'maybe_sent'",
                now,
                new_key(),
                id.0
            ))
            .await?;
        if n == 0 {
            return Err(InboxError::new(
                InboxErrorKind::Conflict,
                "only a maybe-sent row is resent by hand",
            ));
        }
        self.inner.outbox_wake.notify_waiters();
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "resend",
            &format!("outbox:{id}"),
            "done",
        )
        .await
    }

    /// A worker named `name` (unique per process and run: it marks the rows it claims).
    pub fn worker(&self, name: impl Into<String>) -> OutboxWorker {
        OutboxWorker {
            inbox: self.clone(),
            name: name.into(),
        }
    }

    /// The employees' permission check of sends lives in [`Inbox::send`]; this is the wake-up
    /// of local workers.
    pub(crate) fn outbox_wake(&self) -> &Arc<Notify> {
        &self.inner.outbox_wake
    }
}

/// A claimed row.
struct Claimed {
    id: i64,
    workspace: WorkspaceId,
    account: AccountKey,
    conversation: ConversationId,
    message: MessageKey,
    chat: String,
    draft: String,
    key: String,
    dedup: bool,
    attempts: i64,
}

/// Sends outbox rows; run one or more per process (any number of processes on PostgreSQL).
///
/// ```no_run
/// # async fn run(inbox: messenger_inbox::Inbox) {
/// let worker = inbox.worker("node-a/1");
/// let (stop, stopped) = tokio::sync::watch::channel(false);
/// tokio::spawn(async move { worker.run(stopped).await });
/// // ... on shutdown:
/// let _ = stop.send(true);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OutboxWorker {
    inbox: Inbox,
    name: String,
}

/// What one worker pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Rows whose worker died, recovered (requeued where the platform de-duplicates, else
    /// `maybe_sent`).
    pub recovered: u64,
    /// Rows claimed and attempted.
    pub attempted: u64,
    /// Rows sent.
    pub sent: u64,
}

impl OutboxWorker {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Recovers rows whose worker died mid-send (lease expired): queued again where the platform
    /// drops repeated keyed sends, `maybe_sent` elsewhere (the employee is notified).
    pub async fn recover(&self) -> Result<u64> {
        let inbox = &self.inbox;
        let now = crate::db::now();
        let rows = inbox
            .inner
            .db
            .all(q!(
                "UPDATE outbox SET
                    state = CASE WHEN dedup = 1 AND attempts < $1 THEN 'queued' ELSE 'maybe_sent' END,
                    error_kind = 'interrupted', lease_until = NULL, worker = NULL, next_attempt_at = $2, updated_at = $2
                 WHERE state = 'sending' AND lease_until < $2
                 RETURNING id, workspace_id, account_id, conversation_id, state",
                i64::from(inbox.inner.outbox.max_attempts),
                now
            ))
            .await?;
        for r in &rows {
            let state = OutboxState::parse(&r.text("state")?)?;
            tracing::warn!(
                outbox = r.i64("id")?,
                state = state.as_str(),
                "recovered a send whose worker stopped mid-request"
            );
            if state == OutboxState::MaybeSent {
                crate::notify::publish(
                    inbox,
                    WorkspaceId(r.i64("workspace_id")?),
                    Notification::MaybeSent {
                        account: AccountKey(r.i64("account_id")?),
                        conversation: ConversationId(r.i64("conversation_id")?),
                        outbox: OutboxId(r.i64("id")?),
                    },
                )
                .await;
            }
        }
        Ok(rows.len() as u64)
    }

    async fn claim(&self) -> Result<Vec<Claimed>> {
        let inbox = &self.inbox;
        let config = inbox.inner.outbox;
        let now = crate::db::now();
        let lease =
            now + chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::seconds(60));
        let lock = match inbox.inner.db.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = $1, worker = $2, updated_at = $3
             WHERE id IN (
               SELECT o.id FROM outbox o
               WHERE o.state = 'queued' AND o.next_attempt_at <= $3
                 AND o.id = (SELECT MIN(o2.id) FROM outbox o2 WHERE o2.conversation_id = o.conversation_id
                                                               AND o2.state IN ('queued', 'sending'))
               ORDER BY o.id LIMIT $4 {lock})
             RETURNING id, workspace_id, account_id, conversation_id, message_id, chat_id, draft, idempotency_key, dedup, attempts"
        );
        let mut tx = inbox.inner.db.begin().await?;
        let rows = tx
            .all(q!(
                sql,
                lease,
                self.name.as_str(),
                now,
                i64::from(config.batch.max(1))
            ))
            .await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(Claimed {
                    id: r.i64("id")?,
                    workspace: WorkspaceId(r.i64("workspace_id")?),
                    account: AccountKey(r.i64("account_id")?),
                    conversation: ConversationId(r.i64("conversation_id")?),
                    message: MessageKey(r.i64("message_id")?),
                    chat: r.text("chat_id")?,
                    draft: r.text("draft")?,
                    key: r.text("idempotency_key")?,
                    dedup: r.bool("dedup")?,
                    attempts: r.i64("attempts")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// One pass: recover dead workers' rows, claim a batch, send it (concurrently across
    /// conversations) and record the outcomes.
    pub async fn run_once(&self) -> Result<PassReport> {
        let recovered = self.recover().await?;
        let claimed = self.claim().await?;
        let attempted = claimed.len() as u64;
        let results = futures::future::join_all(claimed.into_iter().map(|c| self.process(c))).await;
        let mut sent = 0;
        for r in results {
            match r {
                Ok(true) => sent += 1,
                Ok(false) => {}
                // The row stays claimed; its lease runs out and recovery decides.
                Err(e) => {
                    tracing::warn!(kind = %e.kind(), worker = %self.name, "an outbox row could not be finished")
                }
            }
        }
        Ok(PassReport {
            recovered,
            attempted,
            sent,
        })
    }

    /// Runs passes until `stop` turns true, sleeping between empty passes until a local send
    /// wakes it or a short poll interval passes (other processes' sends are found by polling).
    pub async fn run(&self, stop: tokio::sync::watch::Receiver<bool>) {
        self.run_reporting(stop, |_| {}).await;
    }

    /// [`run`](Self::run), handing every pass's report to `report` (a server's metrics). A
    /// pass that started finishes its sends before `stop` is looked at again.
    pub async fn run_reporting(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
        mut report: impl FnMut(&PassReport) + Send,
    ) {
        let wake = self.inbox.outbox_wake().clone();
        loop {
            if *stop.borrow() {
                return;
            }
            let notified = wake.notified();
            let idle = match self.run_once().await {
                Ok(r) => {
                    report(&r);
                    r.attempted == 0 && r.recovered == 0
                }
                Err(e) => {
                    tracing::warn!(kind = %e.kind(), worker = %self.name, "outbox pass failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = stop.changed() => {}
                    () = notified => {}
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        }
    }

    /// Runs passes until no row is queued or sending (or `max` passed). For tests, tools and a
    /// graceful shutdown that finishes in-flight sends.
    pub async fn run_until_idle(&self, max: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let report = self.run_once().await?;
            let pending = self
                .inbox
                .inner
                .db
                .one(q!(
                    "SELECT COUNT(*) AS n FROM outbox WHERE state IN ('queued', 'sending')"
                ))
                .await?
                .i64("n")?;
            if pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(InboxError::new(
                    InboxErrorKind::Conflict,
                    format!("{pending} outbox rows still pending"),
                ));
            }
            if report.attempted == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Sends one claimed row; `true` when it went out.
    async fn process(&self, row: Claimed) -> Result<bool> {
        let inbox = &self.inbox;
        let account = inbox.account_unchecked(row.account).await?;
        // The rules may have changed since the row was queued.
        let state = inbox
            .inner
            .db
            .one(q!(
                "SELECT state FROM customers WHERE id = (SELECT customer_id FROM conversations WHERE id = $1)",
                row.conversation.0
            ))
            .await?
            .text("state")?;
        let refusal = match CustomerState::parse(&state)? {
            CustomerState::Normal => inbox.check_account_use(&account, "send").await.err(),
            _ => Some(InboxError::new(
                InboxErrorKind::Blocked,
                "the customer's data is blocked or anonymised",
            )),
        };
        if let Some(e) = refusal {
            self.finish_failed(&row, e.kind().as_str(), e.message())
                .await?;
            return Ok(false);
        }
        let blob = inbox
            .inner
            .db
            .one(q!("SELECT media FROM outbox WHERE id = $1", row.id))
            .await?
            .opt_bytes("media")?;
        let content = outgoing_content(&row.draft, blob)?;
        let message = OutgoingMessage::new(ChatId::new(row.chat.clone()), content)
            .idempotency_key(row.key.clone());
        let messenger = match inbox.messenger(&account).await {
            Ok(m) => m,
            Err(e) => {
                self.finish_failed(&row, e.kind().as_str(), e.message())
                    .await?;
                return Ok(false);
            }
        };
        // The request leaves now; the lease is renewed while it is in flight.
        let send = messenger.send(&message);
        tokio::pin!(send);
        let lease = inbox.inner.outbox.lease;
        let renew_every = (lease / 3).max(Duration::from_millis(50));
        let result = loop {
            tokio::select! {
                r = &mut send => break r,
                () = tokio::time::sleep(renew_every) => {
                    let until = crate::db::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
                    let _ = inbox.inner.db.exec(q!(
                        "UPDATE outbox SET lease_until = $1 WHERE id = $2 AND state = 'sending' AND worker = $3",
                        until, row.id, self.name.as_str()
                    )).await;
                }
            }
        };
        match result {
            Ok(report) => {
                let ids: Vec<(String, chrono::DateTime<Utc>)> = report
                    .parts
                    .iter()
                    .map(|p| (p.message_id.as_str().to_owned(), p.timestamp))
                    .collect();
                self.finish_sent(&row, &account, &ids).await?;
                Ok(true)
            }
            Err(e) => {
                let kind = e.kind().as_str();
                let max = i64::from(inbox.inner.outbox.max_attempts);
                if e.delivery() == Delivery::MaybeSent || !e.sent().is_empty() {
                    if row.dedup && row.attempts < max && e.sent().is_empty() {
                        self.requeue(&row, kind, e.message(), Duration::from_millis(100))
                            .await?;
                    } else {
                        self.finish_maybe_sent(&row, kind, e.message()).await?;
                    }
                } else if e.is_retryable() && row.attempts < max {
                    let base = inbox.inner.outbox.retry_base;
                    let factor = 1u32 << u32::try_from(row.attempts.clamp(1, 10) - 1).unwrap_or(0);
                    let delay = e
                        .retry_after()
                        .unwrap_or(base * factor)
                        .min(Duration::from_secs(300));
                    self.requeue(&row, kind, e.message(), delay).await?;
                } else {
                    self.finish_failed(&row, kind, e.message()).await?;
                }
                Ok(false)
            }
        }
    }

    async fn requeue(
        &self,
        row: &Claimed,
        kind: &str,
        message: &str,
        delay: Duration,
    ) -> Result<()> {
        let now = crate::db::now();
        let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
        self.inbox
            .inner
            .db
            .exec(q!(
                "UPDATE outbox SET state = 'queued', next_attempt_at = $1, lease_until = NULL, worker = NULL,
                        error_kind = $2, error_message = $3, updated_at = $4
                 WHERE id = $5 AND state = 'sending'",
                next,
                kind,
                message,
                now,
                row.id
            ))
            .await?;
        Ok(())
    }

    async fn finish_failed(&self, row: &Claimed, kind: &str, message: &str) -> Result<()> {
        let now = crate::db::now();
        let inbox = &self.inbox;
        inbox
            .inner
            .db
            .exec(q!(
                "UPDATE outbox SET state = 'failed', lease_until = NULL, error_kind = $1, error_message = $2, updated_at = $3
                 WHERE id = $4 AND state = 'sending'",
                kind,
                message,
                now,
                row.id
            ))
            .await?;
        let error = StatusError {
            kind: core_kind(kind),
            code: None,
            message: Some(message.to_owned()),
        };
        inbox
            .inner
            .db
            .exec(q!(
                "UPDATE messages SET status = 'failed', status_error = $1 WHERE id = $2",
                serde_json::to_string(&error)?,
                row.message.0
            ))
            .await?;
        tracing::info!(outbox = row.id, kind, "send failed (not sent)");
        crate::notify::publish(
            inbox,
            row.workspace,
            Notification::Status {
                account: row.account,
                conversation: row.conversation,
                message: row.message,
                status: DeliveryStatus::Failed,
            },
        )
        .await;
        Ok(())
    }

    async fn finish_maybe_sent(&self, row: &Claimed, kind: &str, message: &str) -> Result<()> {
        let inbox = &self.inbox;
        inbox
            .inner
            .db
            .exec(q!(
                "UPDATE outbox SET state = 'maybe_sent', lease_until = NULL, error_kind = $1, error_message = $2, updated_at = $3
                 WHERE id = $4 AND state = 'sending'",
                kind,
                message,
                crate::db::now(),
                row.id
            ))
            .await?;
        tracing::warn!(
            outbox = row.id,
            kind,
            "send may have gone out; left to the employee"
        );
        crate::notify::publish(
            inbox,
            row.workspace,
            Notification::MaybeSent {
                account: row.account,
                conversation: row.conversation,
                outbox: OutboxId(row.id),
            },
        )
        .await;
        Ok(())
    }

    async fn finish_sent(
        &self,
        row: &Claimed,
        account: &crate::model::Account,
        parts: &[(String, chrono::DateTime<Utc>)],
    ) -> Result<()> {
        let inbox = &self.inbox;
        let now = crate::db::now();
        let mut tx = inbox.inner.db.begin().await?;
        // The acknowledgement wins over a recovery that ran while the request was slow.
        tx.exec(q!(
            "UPDATE outbox SET state = 'sent', lease_until = NULL, error_kind = NULL, error_message = NULL, updated_at = $1
             WHERE id = $2 AND state <> 'sent'",
            now,
            row.id
        ))
        .await?;
        for (i, (id, _)) in parts.iter().enumerate() {
            tx.exec(q!(
                "INSERT INTO message_parts (account_id, chat_id, platform_message_id, message_id, part_no) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account_id, chat_id, platform_message_id) DO NOTHING",
                row.account.0,
                row.chat.as_str(),
                id.as_str(),
                row.message.0,
                i as i64
            ))
            .await?;
        }
        tx.exec(q!(
            "UPDATE messages SET platform_message_id = $1, status = CASE WHEN status IS NULL OR status = 'pending' THEN 'sent' ELSE status END
             WHERE id = $2",
            parts.first().map(|p| p.0.clone()),
            row.message.0
        ))
        .await?;
        tx.commit().await?;
        // The tracker's record, so that later platform statuses apply monotonically.
        let tracker = inbox.status_tracker(row.account);
        for (id, at) in parts {
            let event = StatusEvent {
                platform: account.platform,
                chat_id: ChatId::new(row.chat.clone()),
                message_id: id.as_str().into(),
                status: DeliveryStatus::Sent,
                timestamp: *at,
                error: None,
            };
            tracker.apply(&event).await?;
        }
        tracing::debug!(outbox = row.id, parts = parts.len(), "sent");
        crate::notify::publish(
            inbox,
            row.workspace,
            Notification::Status {
                account: row.account,
                conversation: row.conversation,
                message: row.message,
                status: DeliveryStatus::Sent,
            },
        )
        .await;
        Ok(())
    }
}

fn core_kind(kind: &str) -> messenger_core::ErrorKind {
    use messenger_core::ErrorKind as K;
    match kind {
        "opted_out" => K::OptedOut,
        "module_inactive" => K::ModuleInactive,
        "platform_suspended" => K::PlatformSuspended,
        "recipient_blocked" => K::RecipientBlocked,
        "outside_reply_window" => K::OutsideReplyWindow,
        "unsupported" => K::Unsupported,
        "too_large" => K::TooLarge,
        "invalid_input" => K::InvalidInput,
        "not_found" => K::NotFound,
        "unauthorized" => K::Unauthorized,
        "rate_limited" => K::RateLimited,
        "transport" => K::Transport,
        _ => K::Platform,
    }
}
