//! Reading: conversation lists with unread counts, history, search, media, last-seen marks,
//! assignment. Everything is filtered or checked by the acting employee's rights.

use messenger_core::{ByteStream, Content, MediaRef, Platform};
use serde::Serialize;

use crate::db::{Row, like_pattern, q};
use crate::error::{InboxError, InboxErrorKind, Result};
use crate::inbox::{Actor, Inbox};
use crate::model::{
    AccountKey, ConversationId, ConversationSummary, Customer, CustomerId, CustomerState,
    Direction, EmployeeId, MessageKey, Notification, OutboxId, Permission, Role, StoredMessage,
    parse_status,
};
use crate::rights::{Action, Target};

/// Which conversations to list.
///
/// ```
/// use messenger_inbox::ConversationFilter;
/// let filter = ConversationFilter::default().unread_only(true).limit(20);
/// assert_eq!(filter.limit, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFilter {
    /// One account only.
    pub account: Option<AccountKey>,
    /// Only those assigned to this employee.
    pub assigned_to: Option<EmployeeId>,
    /// Only those with unread messages.
    pub unread_only: bool,
    /// At most this many (default 100, at most 1000).
    pub limit: u32,
}

impl Default for ConversationFilter {
    fn default() -> Self {
        Self {
            account: None,
            assigned_to: None,
            unread_only: false,
            limit: 100,
        }
    }
}

impl ConversationFilter {
    /// One account only.
    pub fn account(mut self, account: AccountKey) -> Self {
        self.account = Some(account);
        self
    }
    /// Only unread ones.
    pub fn unread_only(mut self, on: bool) -> Self {
        self.unread_only = on;
        self
    }
    /// At most `n`.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The conversation.
    pub conversation: ConversationId,
    /// The account.
    pub account: AccountKey,
    /// The message.
    pub message: StoredMessage,
}

/// What a media download returns with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The MIME type, where known.
    pub mime_type: Option<String>,
    /// The size, where known.
    pub size: Option<u64>,
}

pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.direction, m.platform_message_id, m.content, m.sender_employee, m.status, m.status_error, m.outbox_id, m.sent_at, m.edited, m.anonymised";

pub(crate) fn message_from(r: &Row) -> Result<StoredMessage> {
    Ok(StoredMessage {
        id: MessageKey(r.i64("id")?),
        conversation: ConversationId(r.i64("conversation_id")?),
        direction: Direction::parse(&r.text("direction")?)?,
        platform_message_id: r.opt_text("platform_message_id")?,
        content: serde_json::from_str(&r.text("content")?)?,
        sender_employee: r.opt_i64("sender_employee")?.map(EmployeeId),
        status: r
            .opt_text("status")?
            .as_deref()
            .map(parse_status)
            .transpose()?,
        status_error: r
            .opt_text("status_error")?
            .map(|e| serde_json::from_str(&e))
            .transpose()?,
        outbox: r.opt_i64("outbox_id")?.map(OutboxId),
        sent_at: r.time("sent_at")?,
        edited: r.bool("edited")?,
        anonymised: r.bool("anonymised")?,
    })
}

pub(crate) fn customer_from(r: &Row) -> Result<Customer> {
    Ok(Customer {
        id: CustomerId(r.i64("id")?),
        account: AccountKey(r.i64("account_id")?),
        platform: r
            .text("platform")?
            .parse::<Platform>()
            .map_err(|_| InboxError::storage("unknown platform stored"))?,
        chat_id: r.opt_text("chat_id")?,
        user_id: r.opt_text("user_id")?,
        display_name: r.opt_text("display_name")?,
        state: CustomerState::parse(&r.text("state")?)?,
        first_inbound_at: r.opt_time("first_inbound_at")?,
        last_inbound_at: r.opt_time("last_inbound_at")?,
    })
}

pub(crate) const CUSTOMER_COLUMNS: &str = "id, account_id, platform, chat_id, user_id, display_name, state, first_inbound_at, last_inbound_at";

/// The SQL condition "account `col` is readable by employee `$n`" (owners: every account of the
/// workspace; the workspace condition is added by the caller).
fn readable_clause(actor: &Actor, col: &str, param: usize) -> String {
    if actor.employee.role == Role::Owner {
        "1 = 1".to_owned()
    } else {
        format!(
            "{col} IN (SELECT account_id FROM grants WHERE employee_id = ${param} AND can_read = 1)"
        )
    }
}

impl Inbox {
    /// The conversations `employee` can read, newest first, with unread counts derived from
    /// their last-seen marks.
    pub async fn conversations(
        &self,
        employee: EmployeeId,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationSummary>> {
        let actor = self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        let readable = readable_clause(&actor, "v.account_id", 2);
        let sql = format!(
            "SELECT * FROM (
               SELECT v.id, v.account_id, a.platform, v.customer_id, c.display_name, c.state, v.assigned_to, v.last_message_at,
                 (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id AND m.direction = 'in'
                    AND m.id > COALESCE((SELECT r.last_seen_message_id FROM conversation_reads r
                                         WHERE r.employee_id = $2 AND r.conversation_id = v.id), 0)) AS unread,
                 (SELECT COUNT(*) FROM opt_outs o WHERE o.account = CAST(v.account_id AS TEXT)
                    AND o.platform = a.platform AND o.chat = c.chat_id) AS opted_out
               FROM conversations v JOIN accounts a ON a.id = v.account_id JOIN customers c ON c.id = v.customer_id
               WHERE v.workspace_id = $1 AND {readable}
                 AND ($3 = 0 OR v.account_id = $3) AND ($4 = 0 OR v.assigned_to = $4)
             ) t WHERE ($5 = 0 OR t.unread > 0)
             ORDER BY COALESCE(t.last_message_at, 0) DESC, t.id DESC LIMIT $6"
        );
        let rows = self
            .inner
            .db
            .all(q!(
                sql,
                actor.workspace().0,
                actor.id().0,
                filter.account.map_or(0, |a| a.0),
                filter.assigned_to.map_or(0, |e| e.0),
                filter.unread_only,
                i64::from(filter.limit.clamp(1, 1000))
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let state = CustomerState::parse(&r.text("state")?)?;
                Ok(ConversationSummary {
                    id: ConversationId(r.i64("id")?),
                    account: AccountKey(r.i64("account_id")?),
                    platform: r
                        .text("platform")?
                        .parse()
                        .map_err(|_| InboxError::storage("unknown platform stored"))?,
                    customer: CustomerId(r.i64("customer_id")?),
                    customer_name: r.opt_text("display_name")?,
                    customer_state: state,
                    opted_out: r.i64("opted_out")? > 0,
                    assigned_to: r.opt_i64("assigned_to")?.map(EmployeeId),
                    last_message_at: r.opt_time("last_message_at")?,
                    unread: u64::try_from(r.i64("unread")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// The unread inbound messages of every conversation `employee` can read.
    pub async fn unread_total(&self, employee: EmployeeId) -> Result<u64> {
        let actor = self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        let readable = readable_clause(&actor, "v.account_id", 2);
        let row = self
            .inner
            .db
            .one(q!(
                format!(
                    "SELECT COUNT(*) AS n FROM messages m JOIN conversations v ON v.id = m.conversation_id
                     WHERE v.workspace_id = $1 AND {readable} AND m.direction = 'in'
                       AND m.id > COALESCE((SELECT r.last_seen_message_id FROM conversation_reads r
                                            WHERE r.employee_id = $2 AND r.conversation_id = v.id), 0)"
                ),
                actor.workspace().0,
                actor.id().0
            ))
            .await?;
        Ok(u64::try_from(row.i64("n")?).unwrap_or(0))
    }

    /// The customer of a conversation target, refusing blocked ones (no processing).
    async fn conversation_customer(&self, conversation: ConversationId) -> Result<Customer> {
        let row = self
            .inner
            .db
            .one(q!(
                format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = (SELECT customer_id FROM conversations WHERE id = $1)"
                ),
                conversation.0
            ))
            .await?;
        customer_from(&row)
    }

    /// A page of a conversation's history, oldest first: the `limit` messages before `before`
    /// (the newest when `None`). Refused with [`InboxErrorKind::Blocked`] while the customer is
    /// blocked. Logged in the processing log.
    pub async fn history(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        before: Option<MessageKey>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>> {
        let actor = self
            .check(
                employee,
                Action::ReadHistory,
                Target::Conversation(conversation),
            )
            .await?;
        let customer = self.conversation_customer(conversation).await?;
        if customer.state == CustomerState::Blocked {
            return Err(InboxError::new(
                InboxErrorKind::Blocked,
                "the customer's data is blocked",
            ));
        }
        let rows = self
            .inner
            .db
            .all(q!(
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 AND ($2 = 0 OR m.id < $2)
                     ORDER BY m.id DESC LIMIT $3"
                ),
                conversation.0,
                before.map_or(0, |b| b.0),
                i64::from(limit.clamp(1, 1000))
            ))
            .await?;
        let mut page = rows.iter().map(message_from).collect::<Result<Vec<_>>>()?;
        page.reverse();
        self.log_processing(
            actor.workspace(),
            Some(actor.id()),
            Some(customer.id),
            Some(customer.account),
            "read_history",
        )
        .await?;
        Ok(page)
    }

    /// One customer (read right on their account).
    pub async fn customer(&self, employee: EmployeeId, customer: CustomerId) -> Result<Customer> {
        self.check(employee, Action::ReadHistory, Target::Customer(customer))
            .await?;
        let row = self
            .inner
            .db
            .one(q!(
                format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"),
                customer.0
            ))
            .await?;
        customer_from(&row)
    }

    /// Messages whose text or caption contains `query` (case-insensitive), on accounts
    /// `employee` can read; blocked customers and anonymised messages are left out. Newest
    /// first.
    pub async fn search(
        &self,
        employee: EmployeeId,
        query: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>> {
        let actor = self
            .check(employee, Action::Search, Target::Workspace)
            .await?;
        let needle = query.trim().to_lowercase();
        if needle.chars().count() < 2 {
            return Err(InboxError::invalid(
                "a search needs at least two characters",
            ));
        }
        let readable = readable_clause(&actor, "m.account_id", 2);
        let rows = self
            .inner
            .db
            .all(q!(
                format!(
                    "SELECT {MESSAGE_COLUMNS}, m.account_id FROM messages m JOIN conversations v ON v.id = m.conversation_id
                     JOIN customers c ON c.id = v.customer_id
                     WHERE m.workspace_id = $1 AND {readable} AND c.state = 'normal' AND m.anonymised = 0
                       AND m.search_text LIKE $3 ESCAPE '\\'
                     ORDER BY m.id DESC LIMIT $4"
                ),
                actor.workspace().0,
                actor.id().0,
                like_pattern(&needle),
                i64::from(limit.clamp(1, 500))
            ))
            .await?;
        let hits = rows
            .iter()
            .map(|r| {
                let message = message_from(r)?;
                Ok(SearchHit {
                    conversation: message.conversation,
                    account: AccountKey(r.i64("account_id")?),
                    message,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.log_processing(actor.workspace(), Some(actor.id()), None, None, "search")
            .await?;
        Ok(hits)
    }

    /// The bytes of a message's media, streamed: inbound media through the account's messenger,
    /// an outbound upload from the outbox. Read right; refused while the customer is blocked.
    pub async fn download_media(
        &self,
        employee: EmployeeId,
        message: MessageKey,
    ) -> Result<(MediaInfo, ByteStream)> {
        let actor = self
            .check(employee, Action::DownloadMedia, Target::Message(message))
            .await?;
        let row = self
            .inner
            .db
            .one(q!(
                format!(
                    "SELECT {MESSAGE_COLUMNS}, m.account_id, v.customer_id FROM messages m
                     JOIN conversations v ON v.id = m.conversation_id WHERE m.id = $1"
                ),
                message.0
            ))
            .await?;
        let stored = message_from(&row)?;
        let account_key = AccountKey(row.i64("account_id")?);
        let customer = CustomerId(row.i64("customer_id")?);
        let state = self
            .inner
            .db
            .one(q!("SELECT state FROM customers WHERE id = $1", customer.0))
            .await?
            .text("state")?;
        if CustomerState::parse(&state)? == CustomerState::Blocked {
            return Err(InboxError::new(
                InboxErrorKind::Blocked,
                "the customer's data is blocked",
            ));
        }
        let media: MediaRef = match stored.content.media() {
            Some(m) if !stored.anonymised => m.clone(),
            _ => return Err(InboxError::not_found("media of this message")),
        };
        let info = MediaInfo {
            mime_type: media.mime_type.clone(),
            size: media.size,
        };
        self.log_processing(
            actor.workspace(),
            Some(actor.id()),
            Some(customer),
            Some(account_key),
            "download_media",
        )
        .await?;
        if let Some(outbox) = media.id.as_str().strip_prefix("outbox:") {
            let id: i64 = outbox
                .parse()
                .map_err(|_| InboxError::storage("a malformed outbox media reference"))?;
            let bytes = self
                .inner
                .db
                .one(q!("SELECT media FROM outbox WHERE id = $1", id))
                .await?
                .opt_bytes("media")?
                .ok_or_else(|| InboxError::not_found("the outbound media"))?;
            let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) });
            return Ok((info, Box::pin(stream)));
        }
        let account = self.account_unchecked(account_key).await?;
        let messenger = self.messenger(&account).await?;
        Ok((info, messenger.download(&media).await?))
    }

    /// Moves `employee`'s last-seen mark in a conversation to `up_to` (the newest message when
    /// `None`). Marks only move forward.
    pub async fn mark_read(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        up_to: Option<MessageKey>,
    ) -> Result<()> {
        let actor = self
            .check(
                employee,
                Action::MarkRead,
                Target::Conversation(conversation),
            )
            .await?;
        let mark = match up_to {
            Some(m) => {
                let row = self
                    .inner
                    .db
                    .opt(q!(
                        "SELECT id FROM messages WHERE id = $1 AND conversation_id = $2",
                        m.0,
                        conversation.0
                    ))
                    .await?;
                if row.is_none() {
                    return Err(InboxError::invalid(
                        "the message is not in this conversation",
                    ));
                }
                m.0
            }
            None => self
                .inner
                .db
                .one(q!(
                    "SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE conversation_id = $1",
                    conversation.0
                ))
                .await?
                .i64("id")?,
        };
        self.inner
            .db
            .exec(q!(
                "INSERT INTO conversation_reads (employee_id, conversation_id, last_seen_message_id) VALUES ($1, $2, $3)
                 ON CONFLICT (employee_id, conversation_id) DO UPDATE SET last_seen_message_id = excluded.last_seen_message_id
                 WHERE conversation_reads.last_seen_message_id < excluded.last_seen_message_id",
                actor.id().0,
                conversation.0,
                mark
            ))
            .await?;
        Ok(())
    }

    /// Assigns a conversation to `assignee` (who must be able to read its account), or
    /// unassigns it. Reply right.
    pub async fn assign(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
        assignee: Option<EmployeeId>,
    ) -> Result<()> {
        let actor = self
            .check(employee, Action::Assign, Target::Conversation(conversation))
            .await?;
        let account = actor
            .account
            .ok_or_else(|| InboxError::not_found("conversation"))?;
        if let Some(a) = assignee {
            let row = self
                .inner
                .db
                .opt(q!(
                    "SELECT id, workspace_id, name, role, active FROM employees WHERE id = $1",
                    a.0
                ))
                .await?;
            let target = match row {
                Some(r) => crate::model::Employee {
                    id: a,
                    workspace: crate::model::WorkspaceId(r.i64("workspace_id")?),
                    name: String::new(),
                    role: Role::parse(&r.text("role")?)?,
                    active: r.bool("active")?,
                },
                None => return Err(InboxError::invalid("no such employee")),
            };
            if !target.active
                || target.workspace != actor.workspace()
                || !self
                    .effective(&target, account)
                    .await?
                    .has(Permission::Read)
            {
                return Err(InboxError::invalid(
                    "the assignee cannot read this conversation's account",
                ));
            }
        }
        self.inner
            .db
            .exec(q!(
                "UPDATE conversations SET assigned_to = $1 WHERE id = $2",
                assignee.map(|a| a.0),
                conversation.0
            ))
            .await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "assign",
            &format!("conversation:{conversation}"),
            "done",
        )
        .await?;
        crate::notify::publish(
            self,
            actor.workspace(),
            Notification::Assigned {
                account,
                conversation,
                assignee,
            },
        )
        .await;
        Ok(())
    }

    /// Opens a conversation with a customer known by `chat_id` who has not written (sends to
    /// them count against the [`UnsolicitedLimit`](crate::UnsolicitedLimit)). Returns the
    /// existing conversation where there is one. Reply right.
    pub async fn start_conversation(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        chat_id: &str,
        display_name: Option<&str>,
    ) -> Result<ConversationId> {
        self.check(
            employee,
            Action::StartConversation,
            Target::Account(account),
        )
        .await?;
        let chat_id = chat_id.trim();
        if chat_id.is_empty() || chat_id.len() > 256 {
            return Err(InboxError::invalid("a chat id is 1 to 256 characters"));
        }
        let account = self.account_unchecked(account).await?;
        let messenger_chat = messenger_core::ChatId::new(chat_id);
        // The id inbound events carry (WhatsApp reports numbers without `+`).
        let canonical = match self.messenger(&account).await {
            Ok(m) => m.canonical_chat(&messenger_chat),
            Err(_) => messenger_chat,
        };
        let mut tx = self.inner.db.begin().await?;
        if let Some(row) = tx
            .opt(q!(
                "SELECT v.id FROM customer_ids i JOIN conversations v ON v.customer_id = i.customer_id
                 WHERE i.account_id = $1 AND i.chat_id = $2",
                account.id.0,
                canonical.as_str()
            ))
            .await?
        {
            return Ok(ConversationId(row.i64("id")?));
        }
        let (_, conversation) = crate::intake::create_customer(
            &mut tx,
            &account,
            canonical.as_str(),
            None,
            display_name.map(str::to_owned),
        )
        .await?;
        tx.commit().await?;
        Ok(conversation)
    }
}

/// The text of a stored message's content, if any (for tests and exports).
pub fn content_text(content: &Content) -> Option<&str> {
    content.text()
}
