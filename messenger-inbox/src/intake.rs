//! Intake: [`Inbox::ingest`] stores what a connector (its webhook or its long poll, through the
//! layers) received, idempotently.

use std::collections::HashMap;

use messenger_core::window::ReplyWindowStore;
use messenger_core::{ChatId, ContactChange, InboundEvent, MessageEvent};
use serde::Serialize;

use crate::db::{Tx, q};
use crate::error::Result;
use crate::inbox::Inbox;
use crate::model::{
    Account, AccountKey, ConversationId, CustomerId, CustomerState, MessageKey, Notification,
    health_str, status_str,
};

/// What an [`Inbox::ingest`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// New messages stored.
    pub messages: u64,
    /// Edits applied to stored messages.
    pub edits: u64,
    /// Messages already stored (a redelivered webhook, a repeated poll).
    pub duplicates: u64,
    /// Statuses that advanced a message.
    pub statuses: u64,
    /// Messages from blocked customers, recorded without content.
    pub blocked: u64,
    /// Opt-out changes (stop words, blocks, platform signals).
    pub opt_out_changes: u64,
    /// Customers relinked to a new id.
    pub relinked: u64,
    /// Events without anything to store (`other`, a platform mismatch).
    pub ignored: u64,
}

/// A customer as intake needs it.
#[derive(Debug, Clone, Copy)]
struct Known {
    customer: CustomerId,
    conversation: ConversationId,
    state: CustomerState,
}

pub(crate) fn search_text(content: &messenger_core::Content) -> String {
    content.text().map(str::to_lowercase).unwrap_or_default()
}

impl Inbox {
    /// Stores inbound events of `account`: messages (unique on the platform's id: a redelivered
    /// webhook or a repeated poll adds nothing), edits, statuses (monotonically, through core's
    /// tracker on a persistent store), opt-outs and contact changes (a customer whose id changed
    /// is relinked), the account's health; and wakes notifications.
    ///
    /// Refused with nothing stored while the account is deactivated or suspended, the module
    /// inactive or the platform suspended. A blocked customer's messages are recorded as blocked,
    /// without content. The service's own call: no employee.
    pub async fn ingest(
        &self,
        account: AccountKey,
        events: &[InboundEvent],
    ) -> Result<IngestReport> {
        let account = self.account_unchecked(account).await?;
        self.check_account_use(&account, "ingest").await?;
        let mut report = IngestReport::default();
        let core_id = account.id.core_id();
        let mut changed_chats = Vec::new();

        // Opt-outs first (their own statements; idempotent, so a failure later and a
        // redelivery apply them again harmlessly).
        for event in events {
            if event.platform() != account.platform {
                continue;
            }
            if let Some(change) = self
                .inner
                .consent
                .opt_outs()
                .observe(&core_id, event)
                .await?
            {
                report.opt_out_changes += 1;
                changed_chats.push(change.key.chat.clone());
            }
        }

        let mut notifications = Vec::new();
        let mut windows = Vec::new();
        let mut statuses = Vec::new();
        let mut known: HashMap<String, Known> = HashMap::new();
        let mut tx = self.inner.db.begin().await?;
        for event in events {
            if event.platform() != account.platform {
                report.ignored += 1;
                continue;
            }
            match event {
                InboundEvent::Message(m) => {
                    self.ingest_message(
                        &mut tx,
                        &account,
                        m,
                        &mut known,
                        &mut report,
                        &mut notifications,
                    )
                    .await?;
                    if !m.edited {
                        windows.push((m.chat_id.clone(), m.timestamp));
                    }
                }
                InboundEvent::Status(s) => statuses.push(s.clone()),
                InboundEvent::Contact(c) => {
                    if c.change == ContactChange::IdChanged
                        && let Some(new_chat) = &c.new_chat_id
                        && relink(&mut tx, &account, &c.chat_id, new_chat).await?
                    {
                        report.relinked += 1;
                        known.clear();
                        changed_chats.push(new_chat.clone());
                    } else if c.change != ContactChange::IdChanged {
                        changed_chats.push(c.chat_id.clone());
                    }
                }
                InboundEvent::Account(a) => {
                    tx.exec(q!(
                        "UPDATE accounts SET health = $1, updated_at = $2 WHERE id = $3",
                        health_str(a.health),
                        crate::db::now(),
                        account.id.0
                    ))
                    .await?;
                }
                _ => report.ignored += 1,
            }
        }
        for chat in &changed_chats {
            if let Some(row) = tx
                .opt(q!(
                    "SELECT v.id FROM customer_ids i JOIN conversations v ON v.customer_id = i.customer_id
                     WHERE i.account_id = $1 AND i.chat_id = $2",
                    account.id.0,
                    chat.as_str()
                ))
                .await?
            {
                notifications.push(Notification::ContactChanged {
                    account: account.id,
                    conversation: ConversationId(row.i64("id")?),
                });
            }
        }
        tx.commit().await?;

        // Reply windows (a connector with a window reads them through the same store).
        let store = self.reply_window_store(account.id);
        for (chat, at) in windows {
            store.record_inbound(account.platform, &chat, at).await?;
        }

        // Statuses: core's monotonic rules on the persistent store, mirrored on the message.
        if !statuses.is_empty() {
            let tracker = self.status_tracker(account.id);
            for s in &statuses {
                let applied = tracker.apply(s).await?;
                if !applied.advanced() {
                    continue;
                }
                let current = applied.current();
                let Some(row) = self
                    .inner
                    .db
                    .opt(q!(
                        "SELECT p.message_id, p.part_no, m.conversation_id FROM message_parts p
                         JOIN messages m ON m.id = p.message_id
                         WHERE p.account_id = $1 AND p.chat_id = $2 AND p.platform_message_id = $3",
                        account.id.0,
                        s.chat_id.as_str(),
                        s.message_id.as_str()
                    ))
                    .await?
                else {
                    continue;
                };
                report.statuses += 1;
                if row.i64("part_no")? != 0 {
                    continue;
                }
                let message = MessageKey(row.i64("message_id")?);
                let error = current
                    .error
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?;
                self.inner
                    .db
                    .exec(q!(
                        "UPDATE messages SET status = $1, status_error = $2 WHERE id = $3",
                        status_str(&current.status),
                        error,
                        message.0
                    ))
                    .await?;
                notifications.push(Notification::Status {
                    account: account.id,
                    conversation: ConversationId(row.i64("conversation_id")?),
                    message,
                    status: current.status.clone(),
                });
            }
        }

        for n in notifications {
            crate::notify::publish(self, account.workspace, n).await;
        }
        tracing::debug!(
            account = account.id.0,
            messages = report.messages,
            duplicates = report.duplicates,
            statuses = report.statuses,
            blocked = report.blocked,
            "ingested"
        );
        Ok(report)
    }

    async fn ingest_message(
        &self,
        tx: &mut Tx,
        account: &Account,
        m: &MessageEvent,
        known: &mut HashMap<String, Known>,
        report: &mut IngestReport,
        notifications: &mut Vec<Notification>,
    ) -> Result<()> {
        let chat = m.chat_id.as_str();
        let k = match known.get(chat) {
            Some(k) => *k,
            None => {
                let k = customer_for(tx, account, m).await?;
                known.insert(chat.to_owned(), k);
                k
            }
        };
        if k.state == CustomerState::Blocked {
            let n = tx
                .exec(q!(
                    "INSERT INTO blocked_intake (account_id, chat_id, platform_message_id, customer_id, received_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, chat_id, platform_message_id) DO NOTHING",
                    account.id.0,
                    chat,
                    m.message_id.as_str(),
                    k.customer.0,
                    crate::db::now()
                ))
                .await?;
            if n == 1 {
                report.blocked += 1;
            } else {
                report.duplicates += 1;
            }
            return Ok(());
        }
        let content = serde_json::to_string(&m.content)?;
        let search = search_text(&m.content);
        let inserted = tx
            .opt(q!(
                "INSERT INTO messages (workspace_id, account_id, conversation_id, chat_id, direction, platform_message_id,
                                       kind, content, search_text, sent_at, edited, created_at)
                 VALUES ($1, $2, $3, $4, 'in', $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (account_id, chat_id, direction, platform_message_id) DO NOTHING RETURNING id",
                account.workspace.0,
                account.id.0,
                k.conversation.0,
                chat,
                m.message_id.as_str(),
                m.content.kind().as_str(),
                content.as_str(),
                search.as_str(),
                m.timestamp,
                m.edited,
                crate::db::now()
            ))
            .await?;
        let Some(row) = inserted else {
            if m.edited {
                let n = tx
                    .exec(q!(
                        "UPDATE messages SET content = $1, search_text = $2, kind = $3, edited = 1
                         WHERE account_id = $4 AND chat_id = $5 AND platform_message_id = $6 AND direction = 'in' AND anonymised = 0",
                        content.as_str(),
                        search.as_str(),
                        m.content.kind().as_str(),
                        account.id.0,
                        chat,
                        m.message_id.as_str()
                    ))
                    .await?;
                report.edits += n;
            } else {
                report.duplicates += 1;
            }
            return Ok(());
        };
        let message = MessageKey(row.i64("id")?);
        report.messages += 1;
        let name = m.sender.as_ref().and_then(|s| s.name.clone());
        tx.exec(q!(
            "UPDATE customers SET
                first_inbound_at = COALESCE(first_inbound_at, $1),
                last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $1 THEN $1 ELSE last_inbound_at END,
                display_name = COALESCE($2, display_name)
             WHERE id = $3",
            m.timestamp,
            name,
            k.customer.0
        ))
        .await?;
        tx.exec(q!(
            "UPDATE conversations SET last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $1 THEN $1 ELSE last_message_at END
             WHERE id = $2",
            m.timestamp,
            k.conversation.0
        ))
        .await?;
        notifications.push(Notification::NewMessage {
            account: account.id,
            conversation: k.conversation,
            message,
        });
        Ok(())
    }
}

/// The customer and conversation of an inbound message's chat, created on first contact.
async fn customer_for(tx: &mut Tx, account: &Account, m: &MessageEvent) -> Result<Known> {
    let chat = m.chat_id.as_str();
    if let Some(row) = tx
        .opt(q!(
            "SELECT c.id AS customer_id, c.state, v.id AS conversation_id FROM customer_ids i
             JOIN customers c ON c.id = i.customer_id JOIN conversations v ON v.customer_id = c.id
             WHERE i.account_id = $1 AND i.chat_id = $2",
            account.id.0,
            chat
        ))
        .await?
    {
        return Ok(Known {
            customer: CustomerId(row.i64("customer_id")?),
            conversation: ConversationId(row.i64("conversation_id")?),
            state: CustomerState::parse(&row.text("state")?)?,
        });
    }
    let (customer, conversation) = create_customer(
        tx,
        account,
        chat,
        m.sender.as_ref().map(|s| s.id.as_str().to_owned()),
        m.sender.as_ref().and_then(|s| s.name.clone()),
    )
    .await?;
    Ok(Known {
        customer,
        conversation,
        state: CustomerState::Normal,
    })
}

/// Creates a customer, its id link and its conversation.
pub(crate) async fn create_customer(
    tx: &mut Tx,
    account: &Account,
    chat: &str,
    user_id: Option<String>,
    name: Option<String>,
) -> Result<(CustomerId, ConversationId)> {
    let now = crate::db::now();
    let customer = tx
        .one(q!(
            "INSERT INTO customers (workspace_id, account_id, platform, chat_id, user_id, display_name, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'normal', $7) RETURNING id",
            account.workspace.0,
            account.id.0,
            account.platform.as_str(),
            chat,
            user_id,
            name,
            now
        ))
        .await?
        .i64("id")?;
    tx.exec(q!(
        "INSERT INTO customer_ids (account_id, chat_id, customer_id) VALUES ($1, $2, $3)",
        account.id.0,
        chat,
        customer
    ))
    .await?;
    let conversation = tx
        .one(q!(
            "INSERT INTO conversations (workspace_id, account_id, customer_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            account.workspace.0,
            account.id.0,
            customer,
            now
        ))
        .await?
        .i64("id")?;
    Ok((CustomerId(customer), ConversationId(conversation)))
}

/// Relinks the customer known as `old` to `new` (a number change, a group that became a
/// supergroup); a customer already known under `new` is merged into them. Returns whether
/// anything changed (a redelivery changes nothing).
async fn relink(tx: &mut Tx, account: &Account, old: &ChatId, new: &ChatId) -> Result<bool> {
    let lookup = |chat: &ChatId| {
        q!(
            "SELECT i.customer_id, v.id AS conversation_id FROM customer_ids i
             JOIN conversations v ON v.customer_id = i.customer_id
             WHERE i.account_id = $1 AND i.chat_id = $2",
            account.id.0,
            chat.as_str()
        )
    };
    let Some(from) = tx.opt(lookup(old)).await? else {
        return Ok(false);
    };
    let customer = from.i64("customer_id")?;
    let conversation = from.i64("conversation_id")?;
    match tx.opt(lookup(new)).await? {
        Some(to) if to.i64("customer_id")? == customer => return Ok(false),
        Some(to) => {
            // Both ids have a history: the one under the new id joins the old customer.
            let other = to.i64("customer_id")?;
            let other_conversation = to.i64("conversation_id")?;
            for sql in [
                "UPDATE messages SET conversation_id = $1 WHERE conversation_id = $2",
                "UPDATE outbox SET conversation_id = $1 WHERE conversation_id = $2",
            ] {
                tx.exec(q!(sql, conversation, other_conversation)).await?;
            }
            tx.exec(q!(
                "DELETE FROM conversation_reads WHERE conversation_id = $1",
                other_conversation
            ))
            .await?;
            tx.exec(q!(
                "UPDATE customer_ids SET customer_id = $1 WHERE customer_id = $2",
                customer,
                other
            ))
            .await?;
            tx.exec(q!(
                "DELETE FROM conversations WHERE id = $1",
                other_conversation
            ))
            .await?;
            tx.exec(q!("DELETE FROM customers WHERE id = $1", other))
                .await?;
        }
        None => {
            tx.exec(q!(
                "INSERT INTO customer_ids (account_id, chat_id, customer_id) VALUES ($1, $2, $3)",
                account.id.0,
                new.as_str(),
                customer
            ))
            .await?;
        }
    }
    tx.exec(q!(
        "UPDATE customers SET chat_id = $1 WHERE id = $2",
        new.as_str(),
        customer
    ))
    .await?;
    // Sends not yet made go to the new id.
    tx.exec(q!(
        "UPDATE outbox SET chat_id = $1 WHERE conversation_id = $2 AND state = 'queued'",
        new.as_str(),
        conversation
    ))
    .await?;
    tracing::info!(
        account = account.id.0,
        customer,
        old = %old.fingerprint(),
        new = %new.fingerprint(),
        "customer relinked to a new id"
    );
    Ok(true)
}
