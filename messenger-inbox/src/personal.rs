//! Personal data (152-FZ; the agreement's 2.3, 3.1.4, 5.3–5.7): the workspace is the operator of
//! its customers' data, the service its processor. For one customer: export, anonymise, block
//! and unblock, delete the history, destroy (with an act); for an account or a workspace: purge
//! on deletion or when the instruction is withdrawn; data subjects' requests routed to the
//! owner; the processing log.
//!
//! | operation | what remains |
//! |---|---|
//! | [`anonymise_customer`](Inbox::anonymise_customer) | the customer as `anonymised`, without name or ids; each message's direction, kind, time and status (statistics), content replaced |
//! | [`block_customer`](Inbox::block_customer) | everything, untouched; no reads, no sends; new messages recorded as blocked, without content |
//! | [`delete_history`](Inbox::delete_history) | the customer and their conversation (so an opt-out and a later message still find them); no message |
//! | [`destroy_customer`](Inbox::destroy_customer) | nothing of theirs, opt-out included; an act (ids, categories, counts) |
//! | [`delete_account`](Inbox::delete_account) | nothing of the account's customers; the acceptance records (the agreement's evidence) and an act |
//! | [`purge_workspace`](Inbox::purge_workspace) | nothing of the workspace; the acceptance records and the acts |

use std::collections::BTreeMap;

use messenger_core::Platform;
use serde_json::{Value, json};

use crate::conversations::{CUSTOMER_COLUMNS, MESSAGE_COLUMNS, customer_from, message_from};
use crate::db::{Tx, micros, q};
use crate::error::{InboxError, InboxErrorKind, Result};
use crate::inbox::Inbox;
use crate::model::{
    AccountKey, ActId, Customer, CustomerId, CustomerState, DestructionAct, EmployeeId,
    ProcessingEntry, Role, SubjectRequest, SubjectRequestId, SubjectRequestKind, WorkspaceId,
};
use crate::rights::{Action, Target};

/// The anonymised content of every message: its kind column keeps what it was.
const ANONYMISED: &str = r#"{"kind":"unsupported","platform_kind":"anonymised"}"#;

/// What the service received from a data subject.
#[derive(Debug, Clone)]
pub struct NewSubjectRequest {
    /// The account it concerns, where known.
    pub account: Option<AccountKey>,
    /// The customer, where identified.
    pub customer: Option<CustomerId>,
    /// What they ask.
    pub kind: SubjectRequestKind,
    /// How it arrived (`email`, `letter`, `form`).
    pub channel: String,
    /// What they wrote.
    pub details: String,
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Inbox {
    async fn load_customer(&self, customer: CustomerId) -> Result<Customer> {
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

    async fn chat_ids(&self, customer: CustomerId) -> Result<Vec<String>> {
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT chat_id FROM customer_ids WHERE customer_id = $1 ORDER BY chat_id",
                customer.0
            ))
            .await?;
        rows.iter().map(|r| r.text("chat_id")).collect()
    }

    /// Everything held about a customer, as JSON: the customer, every id they were known by,
    /// their conversation and messages (content included), statuses, outbox rows, blocked
    /// intake, opt-out and first-contact records, their subject requests and the processing log
    /// about them. Owners, and admins with `manage` on the account. Logged.
    pub async fn export_customer(
        &self,
        employee: EmployeeId,
        customer: CustomerId,
    ) -> Result<Value> {
        let actor = self
            .check(employee, Action::ExportCustomer, Target::Customer(customer))
            .await?;
        let db = &self.inner.db;
        let c = self.load_customer(customer).await?;
        let ids = self.chat_ids(customer).await?;
        let account_id = c.account.core_id();
        let platform = c.platform.as_str();
        let conversation = db
            .opt(q!(
                "SELECT id, assigned_to, created_at FROM conversations WHERE customer_id = $1",
                customer.0
            ))
            .await?;
        let mut conversation_json = Value::Null;
        if let Some(v) = &conversation {
            let id = v.i64("id")?;
            let messages = db
                .all(q!(
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 ORDER BY m.id"),
                    id
                ))
                .await?
                .iter()
                .map(message_from)
                .collect::<Result<Vec<_>>>()?;
            let outbox = db
                .all(q!(
                    "SELECT id, state, attempts, created_at FROM outbox WHERE conversation_id = $1 ORDER BY id",
                    id
                ))
                .await?
                .iter()
                .map(|r| {
                    Ok(json!({
                        "id": r.i64("id")?, "state": r.text("state")?, "attempts": r.i64("attempts")?,
                        "created_at": r.time("created_at")?,
                    }))
                })
                .collect::<Result<Vec<_>>>()?;
            conversation_json = json!({
                "id": id,
                "assigned_to": v.opt_i64("assigned_to")?,
                "created_at": v.time("created_at")?,
                "messages": messages,
                "outbox": outbox,
            });
        }
        let mut opt_outs = Vec::new();
        let mut contacts = Vec::new();
        let mut statuses = Vec::new();
        for chat in &ids {
            for r in db
                .all(q!(
                    "SELECT cause, at FROM opt_outs WHERE account = $1 AND platform = $2 AND chat = $3",
                    account_id.as_str(),
                    platform,
                    chat.as_str()
                ))
                .await?
            {
                opt_outs.push(json!({"chat_id": chat, "cause": r.text("cause")?, "at": r.time("at")?}));
            }
            for r in db
                .all(q!(
                    "SELECT at FROM contact_log WHERE account = $1 AND platform = $2 AND chat = $3",
                    account_id.as_str(),
                    platform,
                    chat.as_str()
                ))
                .await?
            {
                contacts.push(json!({"chat_id": chat, "first_contact_at": r.time("at")?}));
            }
            for r in db
                .all(q!(
                    "SELECT message, status, updated_at FROM delivery_statuses WHERE scope = $1 AND platform = $2 AND chat = $3",
                    account_id.as_str(),
                    platform,
                    chat.as_str()
                ))
                .await?
            {
                statuses.push(json!({
                    "chat_id": chat, "message_id": r.text("message")?, "status": r.text("status")?,
                    "updated_at": r.time("updated_at")?,
                }));
            }
        }
        let blocked = db
            .all(q!(
                "SELECT platform_message_id, received_at FROM blocked_intake WHERE customer_id = $1 ORDER BY received_at",
                customer.0
            ))
            .await?
            .iter()
            .map(|r| {
                Ok(json!({"platform_message_id": r.text("platform_message_id")?, "received_at": r.time("received_at")?}))
            })
            .collect::<Result<Vec<_>>>()?;
        let requests = db
            .all(q!(
                "SELECT id, kind, channel, details, state, received_at FROM subject_requests WHERE customer_id = $1 ORDER BY id",
                customer.0
            ))
            .await?
            .iter()
            .map(|r| {
                Ok(json!({
                    "id": r.i64("id")?, "kind": r.text("kind")?, "channel": r.text("channel")?,
                    "details": r.text("details")?, "state": r.text("state")?, "received_at": r.time("received_at")?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let processing = db
            .all(q!(
                "SELECT employee_id, operation, at FROM processing_log WHERE customer_id = $1 ORDER BY id",
                customer.0
            ))
            .await?
            .iter()
            .map(|r| {
                Ok(json!({"employee": r.opt_i64("employee_id")?, "operation": r.text("operation")?, "at": r.time("at")?}))
            })
            .collect::<Result<Vec<_>>>()?;
        let export = json!({
            "format": "messenger-inbox/customer-export/v1",
            "exported_at": crate::db::now(),
            "workspace": actor.workspace(),
            "customer": c,
            "known_ids": ids,
            "conversation": conversation_json,
            "delivery_statuses": statuses,
            "blocked_intake": blocked,
            "opt_outs": opt_outs,
            "first_contacts": contacts,
            "subject_requests": requests,
            "processing_log": processing,
        });
        self.log_processing(
            actor.workspace(),
            Some(actor.id()),
            Some(customer),
            Some(c.account),
            "export",
        )
        .await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "export_customer",
            &format!("customer:{customer}"),
            "done",
        )
        .await?;
        Ok(export)
    }

    /// Blocks processing of a customer's data: no reads of their history, no sends (queued ones
    /// are cancelled), their new messages recorded as blocked without content. Owners, and admins
    /// with `manage`.
    pub async fn block_customer(&self, employee: EmployeeId, customer: CustomerId) -> Result<()> {
        let actor = self
            .check(employee, Action::BlockCustomer, Target::Customer(customer))
            .await?;
        let c = self.load_customer(customer).await?;
        if c.state == CustomerState::Anonymised {
            return Err(InboxError::new(
                InboxErrorKind::Anonymised,
                "an anonymised customer has nothing to block",
            ));
        }
        let mut tx = self.inner.db.begin().await?;
        tx.exec(q!(
            "UPDATE customers SET state = 'blocked' WHERE id = $1",
            customer.0
        ))
        .await?;
        tx.exec(q!(
            "UPDATE outbox SET state = 'cancelled', updated_at = $1
             WHERE state = 'queued' AND conversation_id = (SELECT id FROM conversations WHERE customer_id = $2)",
            crate::db::now(),
            customer.0
        ))
        .await?;
        tx.commit().await?;
        self.finish_pd(&actor, customer, c.account, "block").await
    }

    /// Lifts a block.
    pub async fn unblock_customer(&self, employee: EmployeeId, customer: CustomerId) -> Result<()> {
        let actor = self
            .check(
                employee,
                Action::UnblockCustomer,
                Target::Customer(customer),
            )
            .await?;
        let c = self.load_customer(customer).await?;
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE customers SET state = 'normal' WHERE id = $1 AND state = 'blocked'",
                customer.0
            ))
            .await?;
        if n == 0 {
            return Err(InboxError::new(
                InboxErrorKind::Conflict,
                "the customer is not blocked",
            ));
        }
        self.finish_pd(&actor, customer, c.account, "unblock").await
    }

    async fn finish_pd(
        &self,
        actor: &crate::inbox::Actor,
        customer: CustomerId,
        account: AccountKey,
        operation: &str,
    ) -> Result<()> {
        self.log_processing(
            actor.workspace(),
            Some(actor.id()),
            Some(customer),
            Some(account),
            operation,
        )
        .await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            operation,
            &format!("customer:{customer}"),
            "done",
        )
        .await
    }

    /// Anonymises a customer: name and ids removed, every message's content replaced (its
    /// direction, kind, time and status kept for statistics), queued sends cancelled, and the
    /// core stores' records under their ids dropped (an opt-out is kept: a refusal is honoured).
    /// Owners, and admins with `manage`.
    pub async fn anonymise_customer(
        &self,
        employee: EmployeeId,
        customer: CustomerId,
    ) -> Result<()> {
        let actor = self
            .check(
                employee,
                Action::AnonymiseCustomer,
                Target::Customer(customer),
            )
            .await?;
        let c = self.load_customer(customer).await?;
        let ids = self.chat_ids(customer).await?;
        let mut tx = self.inner.db.begin().await?;
        tx.exec(q!(
            "UPDATE customers SET display_name = NULL, chat_id = NULL, user_id = NULL, state = 'anonymised' WHERE id = $1",
            customer.0
        ))
        .await?;
        let conversation = conversation_of(&mut tx, customer).await?;
        if let Some(conv) = conversation {
            tx.exec(q!(
                "DELETE FROM message_parts WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = $1)",
                conv
            ))
            .await?;
            tx.exec(q!(
                "UPDATE messages SET content = $1, search_text = '', chat_id = '', platform_message_id = NULL, anonymised = 1
                 WHERE conversation_id = $2",
                ANONYMISED,
                conv
            ))
            .await?;
            tx.exec(q!(
                "UPDATE outbox SET draft = '{\"kind\":\"text\",\"text\":\"\"}', media = NULL, chat_id = '',
                        state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END
                 WHERE conversation_id = $1",
                conv
            ))
            .await?;
        }
        tx.exec(q!(
            "DELETE FROM blocked_intake WHERE customer_id = $1",
            customer.0
        ))
        .await?;
        tx.exec(q!(
            "DELETE FROM customer_ids WHERE customer_id = $1",
            customer.0
        ))
        .await?;
        tx.commit().await?;
        self.drop_chat_records(c.account, c.platform, &ids, false)
            .await?;
        self.finish_pd(&actor, customer, c.account, "anonymise")
            .await
    }

    /// Deletes a customer's message history (messages, outbound media, statuses, blocked-intake
    /// records); the customer and their conversation stay. Owners, and admins with `manage`.
    pub async fn delete_history(&self, employee: EmployeeId, customer: CustomerId) -> Result<u64> {
        let actor = self
            .check(employee, Action::DeleteHistory, Target::Customer(customer))
            .await?;
        let c = self.load_customer(customer).await?;
        let ids = self.chat_ids(customer).await?;
        let mut tx = self.inner.db.begin().await?;
        let mut deleted = 0;
        if let Some(conv) = conversation_of(&mut tx, customer).await? {
            deleted = delete_conversation_content(&mut tx, conv).await?.messages;
            tx.exec(q!(
                "UPDATE conversations SET last_message_at = NULL WHERE id = $1",
                conv
            ))
            .await?;
        }
        tx.exec(q!(
            "DELETE FROM blocked_intake WHERE customer_id = $1",
            customer.0
        ))
        .await?;
        tx.commit().await?;
        self.drop_chat_records(c.account, c.platform, &ids, false)
            .await?;
        self.finish_pd(&actor, customer, c.account, "delete_history")
            .await?;
        Ok(deleted)
    }

    /// Destroys everything about a customer (the customer, every id, the conversation, messages,
    /// outbound media, statuses, opt-out and first-contact records, reply windows, seen events),
    /// and records an act (what, when, by whom, on what ground) that holds no personal data.
    /// Owners only.
    pub async fn destroy_customer(
        &self,
        employee: EmployeeId,
        customer: CustomerId,
        ground: &str,
    ) -> Result<DestructionAct> {
        let actor = self
            .check(
                employee,
                Action::DestroyCustomer,
                Target::Customer(customer),
            )
            .await?;
        if ground.trim().is_empty() {
            return Err(InboxError::invalid("a destruction needs its ground"));
        }
        let c = self.load_customer(customer).await?;
        let ids = self.chat_ids(customer).await?;
        let mut what = BTreeMap::new();
        let mut tx = self.inner.db.begin().await?;
        if let Some(conv) = conversation_of(&mut tx, customer).await? {
            let d = delete_conversation_content(&mut tx, conv).await?;
            what.insert("messages".to_owned(), d.messages);
            what.insert("outbox_rows".to_owned(), d.outbox);
            tx.exec(q!(
                "DELETE FROM conversation_reads WHERE conversation_id = $1",
                conv
            ))
            .await?;
            what.insert(
                "conversations".to_owned(),
                tx.exec(q!("DELETE FROM conversations WHERE id = $1", conv))
                    .await?,
            );
        }
        what.insert(
            "blocked_intake".to_owned(),
            tx.exec(q!(
                "DELETE FROM blocked_intake WHERE customer_id = $1",
                customer.0
            ))
            .await?,
        );
        what.insert(
            "customer_ids".to_owned(),
            tx.exec(q!(
                "DELETE FROM customer_ids WHERE customer_id = $1",
                customer.0
            ))
            .await?,
        );
        what.insert(
            "subject_request_links".to_owned(),
            tx.exec(q!(
                "UPDATE subject_requests SET customer_id = NULL WHERE customer_id = $1",
                customer.0
            ))
            .await?,
        );
        what.insert(
            "customers".to_owned(),
            tx.exec(q!("DELETE FROM customers WHERE id = $1", customer.0))
                .await?,
        );
        tx.commit().await?;
        for (k, v) in self
            .drop_chat_records(c.account, c.platform, &ids, true)
            .await?
        {
            what.insert(k, v);
        }
        let act = self
            .record_act(
                actor.workspace(),
                "customer",
                &format!("customer:{customer}"),
                what,
                ground,
                Some(actor.id()),
            )
            .await?;
        self.finish_pd(&actor, customer, c.account, "destroy")
            .await?;
        Ok(act)
    }

    /// Drops the core stores' records under a customer's ids; the opt-out only when `opt_outs`.
    async fn drop_chat_records(
        &self,
        account: AccountKey,
        platform: Platform,
        chats: &[String],
        opt_outs: bool,
    ) -> Result<BTreeMap<String, u64>> {
        let db = &self.inner.db;
        let scope = account.core_id();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for chat in chats {
            let mut tables = vec![
                (
                    "contact_log",
                    "DELETE FROM contact_log WHERE account = $1 AND platform = $2 AND chat = $3",
                ),
                (
                    "reply_windows",
                    "DELETE FROM reply_windows WHERE scope = $1 AND platform = $2 AND chat = $3",
                ),
                (
                    "delivery_statuses",
                    "DELETE FROM delivery_statuses WHERE scope = $1 AND platform = $2 AND chat = $3",
                ),
            ];
            if opt_outs {
                tables.push((
                    "opt_outs",
                    "DELETE FROM opt_outs WHERE account = $1 AND platform = $2 AND chat = $3",
                ));
            }
            for (name, sql) in tables {
                let n = db
                    .exec(q!(sql, scope.as_str(), platform.as_str(), chat.as_str()))
                    .await?;
                *counts.entry(name.to_owned()).or_default() += n;
            }
            // Seen-event keys: `{account}/{platform}:{m|s|c}:{chat}:...` (core's dedup keys).
            let pattern = format!(
                "{}/{}:_:{}:%",
                like_escape(scope.as_str()),
                like_escape(platform.as_str()),
                like_escape(chat)
            );
            let n = db
                .exec(q!(
                    "DELETE FROM seen_events WHERE scope = $1 AND event_key LIKE $2 ESCAPE '\\'",
                    scope.as_str(),
                    pattern
                ))
                .await?;
            *counts.entry("seen_events".to_owned()).or_default() += n;
        }
        Ok(counts)
    }

    async fn record_act(
        &self,
        workspace: WorkspaceId,
        scope: &str,
        subject: &str,
        what: BTreeMap<String, u64>,
        ground: &str,
        by: Option<EmployeeId>,
    ) -> Result<DestructionAct> {
        let at = crate::db::now();
        let id = self
            .inner
            .db
            .one(q!(
                "INSERT INTO destruction_acts (workspace_id, scope, subject, what, ground, by_employee, by_service, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                workspace.0,
                scope,
                subject,
                serde_json::to_string(&what)?,
                ground,
                by.map(|e| e.0),
                by.is_none(),
                at
            ))
            .await?
            .i64("id")?;
        tracing::info!(act = id, scope, "destruction act recorded");
        Ok(DestructionAct {
            id: ActId(id),
            workspace,
            scope: scope.to_owned(),
            subject: subject.to_owned(),
            what,
            ground: ground.to_owned(),
            by_employee: by,
            at,
        })
    }

    /// The workspace's destruction acts (owners).
    pub async fn destruction_acts(&self, employee: EmployeeId) -> Result<Vec<DestructionAct>> {
        let actor = self
            .check(employee, Action::ViewAudit, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT id, workspace_id, scope, subject, what, ground, by_employee, at FROM destruction_acts
                 WHERE workspace_id = $1 ORDER BY id",
                actor.workspace().0
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DestructionAct {
                    id: ActId(r.i64("id")?),
                    workspace: WorkspaceId(r.i64("workspace_id")?),
                    scope: r.text("scope")?,
                    subject: r.text("subject")?,
                    what: serde_json::from_str(&r.text("what")?)?,
                    ground: r.text("ground")?,
                    by_employee: r.opt_i64("by_employee")?.map(EmployeeId),
                    at: r.time("at")?,
                })
            })
            .collect()
    }

    /// Deletes an account and purges everything held for it (history is kept until the account
    /// is deleted, and not longer); records an act. Owners only.
    pub async fn delete_account(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        ground: &str,
    ) -> Result<DestructionAct> {
        let actor = self
            .check(employee, Action::DeleteAccount, Target::Account(account))
            .await?;
        if ground.trim().is_empty() {
            return Err(InboxError::invalid("a deletion needs its ground"));
        }
        let what = self.purge_account(account).await?;
        self.record_act(
            actor.workspace(),
            "account",
            &format!("account:{account}"),
            what,
            ground,
            Some(actor.id()),
        )
        .await
    }

    async fn purge_account(&self, account: AccountKey) -> Result<BTreeMap<String, u64>> {
        let _ = self.inner.consent.deactivate(&account.core_id()).await;
        let scope = account.core_id();
        let mut what = BTreeMap::new();
        let mut tx = self.inner.db.begin().await?;
        for (name, sql) in [
            (
                "conversation_reads",
                "DELETE FROM conversation_reads WHERE conversation_id IN (SELECT id FROM conversations WHERE account_id = $1)",
            ),
            (
                "message_parts",
                "DELETE FROM message_parts WHERE account_id = $1",
            ),
            ("messages", "DELETE FROM messages WHERE account_id = $1"),
            (
                "send_keys",
                "DELETE FROM send_keys WHERE outbox_id IN (SELECT id FROM outbox WHERE account_id = $1)",
            ),
            ("outbox_rows", "DELETE FROM outbox WHERE account_id = $1"),
            (
                "blocked_intake",
                "DELETE FROM blocked_intake WHERE account_id = $1",
            ),
            (
                "conversations",
                "DELETE FROM conversations WHERE account_id = $1",
            ),
            (
                "customer_ids",
                "DELETE FROM customer_ids WHERE account_id = $1",
            ),
            (
                "subject_request_links",
                "UPDATE subject_requests SET customer_id = NULL, account_id = NULL WHERE account_id = $1",
            ),
            ("customers", "DELETE FROM customers WHERE account_id = $1"),
            ("grants", "DELETE FROM grants WHERE account_id = $1"),
            (
                "processing_log_links",
                "UPDATE processing_log SET account_id = NULL WHERE account_id = $1",
            ),
            ("accounts", "DELETE FROM accounts WHERE id = $1"),
        ] {
            what.insert(name.to_owned(), tx.exec(q!(sql, account.0)).await?);
        }
        for (name, sql) in [
            ("opt_outs", "DELETE FROM opt_outs WHERE account = $1"),
            ("contact_log", "DELETE FROM contact_log WHERE account = $1"),
            (
                "reply_windows",
                "DELETE FROM reply_windows WHERE scope = $1",
            ),
            (
                "delivery_statuses",
                "DELETE FROM delivery_statuses WHERE scope = $1",
            ),
            ("seen_events", "DELETE FROM seen_events WHERE scope = $1"),
            (
                "module_states",
                "DELETE FROM module_states WHERE account = $1",
            ),
        ] {
            what.insert(name.to_owned(), tx.exec(q!(sql, scope.as_str())).await?);
        }
        tx.commit().await?;
        self.forget_messenger(account);
        Ok(what)
    }

    /// Purges the whole workspace (the personal account is deleted, or the business withdrew
    /// its instruction to process): every account's data, employees, logs and requests; an act
    /// remains. Owners only; [`purge_workspace_by_service`](Self::purge_workspace_by_service)
    /// is the service's own call.
    pub async fn purge_workspace(
        &self,
        employee: EmployeeId,
        ground: &str,
    ) -> Result<DestructionAct> {
        let actor = self
            .check(employee, Action::PurgeWorkspace, Target::Workspace)
            .await?;
        self.purge_workspace_inner(actor.workspace(), Some(actor.id()), ground)
            .await
    }

    /// [`purge_workspace`](Self::purge_workspace) by the service (the instruction was withdrawn
    /// outside the inbox, or the agreement ended).
    pub async fn purge_workspace_by_service(
        &self,
        workspace: WorkspaceId,
        ground: &str,
    ) -> Result<DestructionAct> {
        self.purge_workspace_inner(workspace, None, ground).await
    }

    async fn purge_workspace_inner(
        &self,
        workspace: WorkspaceId,
        by: Option<EmployeeId>,
        ground: &str,
    ) -> Result<DestructionAct> {
        if ground.trim().is_empty() {
            return Err(InboxError::invalid("a purge needs its ground"));
        }
        let accounts = self
            .inner
            .db
            .all(q!(
                "SELECT id FROM accounts WHERE workspace_id = $1",
                workspace.0
            ))
            .await?;
        let mut what: BTreeMap<String, u64> = BTreeMap::new();
        for r in &accounts {
            for (k, v) in self.purge_account(AccountKey(r.i64("id")?)).await? {
                *what.entry(k).or_default() += v;
            }
        }
        let mut tx = self.inner.db.begin().await?;
        for (name, sql) in [
            (
                "grants",
                "DELETE FROM grants WHERE employee_id IN (SELECT id FROM employees WHERE workspace_id = $1)",
            ),
            (
                "conversation_reads",
                "DELETE FROM conversation_reads WHERE employee_id IN (SELECT id FROM employees WHERE workspace_id = $1)",
            ),
            (
                "subject_requests",
                "DELETE FROM subject_requests WHERE workspace_id = $1",
            ),
            (
                "processing_log",
                "DELETE FROM processing_log WHERE workspace_id = $1",
            ),
            ("audit_log", "DELETE FROM audit_log WHERE workspace_id = $1"),
            (
                "employee_logins",
                "DELETE FROM employee_logins WHERE employee_id IN (SELECT id FROM employees WHERE workspace_id = $1)",
            ),
            (
                "access_tokens",
                "DELETE FROM access_tokens WHERE workspace_id = $1",
            ),
            (
                "send_keys",
                "DELETE FROM send_keys WHERE employee_id IN (SELECT id FROM employees WHERE workspace_id = $1)",
            ),
            ("employees", "DELETE FROM employees WHERE workspace_id = $1"),
            ("workspaces", "DELETE FROM workspaces WHERE id = $1"),
        ] {
            *what.entry(name.to_owned()).or_default() += tx.exec(q!(sql, workspace.0)).await?;
        }
        tx.commit().await?;
        self.record_act(
            workspace,
            "workspace",
            &format!("workspace:{workspace}"),
            what,
            ground,
            by,
        )
        .await
    }

    // ---- data subjects' requests ------------------------------------------------------------

    /// Records a data subject's request that reached the service and forwards it to the
    /// workspace's owner (notified); the service never answers it (the agreement's 5.7): the
    /// owner does, and closes it ([`close_subject_request`](Self::close_subject_request)).
    pub async fn receive_subject_request(
        &self,
        workspace: WorkspaceId,
        request: NewSubjectRequest,
    ) -> Result<SubjectRequest> {
        if request.details.trim().is_empty() || request.channel.trim().is_empty() {
            return Err(InboxError::invalid("a request needs its channel and text"));
        }
        let db = &self.inner.db;
        let owner = db
            .opt(q!(
                "SELECT id FROM employees WHERE workspace_id = $1 AND role = $2 AND active = 1 ORDER BY id LIMIT 1",
                workspace.0,
                Role::Owner.as_str()
            ))
            .await?
            .map(|r| r.i64("id"))
            .transpose()?
            .ok_or_else(|| InboxError::not_found("an owner of the workspace"))?;
        // The account and customer named must be the workspace's.
        if let Some(a) = request.account {
            let ok = db
                .opt(q!(
                    "SELECT id FROM accounts WHERE id = $1 AND workspace_id = $2",
                    a.0,
                    workspace.0
                ))
                .await?
                .is_some();
            if !ok {
                return Err(InboxError::invalid("the account is not the workspace's"));
            }
        }
        if let Some(c) = request.customer {
            let ok = db
                .opt(q!(
                    "SELECT id FROM customers WHERE id = $1 AND workspace_id = $2",
                    c.0,
                    workspace.0
                ))
                .await?
                .is_some();
            if !ok {
                return Err(InboxError::invalid("the customer is not the workspace's"));
            }
        }
        let at = crate::db::now();
        let id = db
            .one(q!(
                "INSERT INTO subject_requests (workspace_id, account_id, customer_id, kind, channel, details, state, forwarded_to, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'forwarded', $7, $8) RETURNING id",
                workspace.0,
                request.account.map(|a| a.0),
                request.customer.map(|c| c.0),
                request.kind.as_str(),
                request.channel.as_str(),
                request.details.as_str(),
                owner,
                at
            ))
            .await?
            .i64("id")?;
        self.audit(
            Some(workspace),
            None,
            "subject_request_forwarded",
            &format!("subject_request:{id}/employee:{owner}"),
            "done",
        )
        .await?;
        crate::notify::publish(
            self,
            workspace,
            crate::model::Notification::SubjectRequest {
                request: SubjectRequestId(id),
            },
        )
        .await;
        Ok(SubjectRequest {
            id: SubjectRequestId(id),
            workspace,
            account: request.account,
            customer: request.customer,
            kind: request.kind,
            channel: request.channel,
            details: request.details,
            state: "forwarded".to_owned(),
            forwarded_to: Some(EmployeeId(owner)),
            received_at: at,
        })
    }

    /// The workspace's subject requests (owners).
    pub async fn subject_requests(&self, employee: EmployeeId) -> Result<Vec<SubjectRequest>> {
        let actor = self
            .check(employee, Action::SubjectRequests, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT id, workspace_id, account_id, customer_id, kind, channel, details, state, forwarded_to, received_at
                 FROM subject_requests WHERE workspace_id = $1 ORDER BY id",
                actor.workspace().0
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SubjectRequest {
                    id: SubjectRequestId(r.i64("id")?),
                    workspace: WorkspaceId(r.i64("workspace_id")?),
                    account: r.opt_i64("account_id")?.map(AccountKey),
                    customer: r.opt_i64("customer_id")?.map(CustomerId),
                    kind: SubjectRequestKind::parse(&r.text("kind")?)?,
                    channel: r.text("channel")?,
                    details: r.text("details")?,
                    state: r.text("state")?,
                    forwarded_to: r.opt_i64("forwarded_to")?.map(EmployeeId),
                    received_at: r.time("received_at")?,
                })
            })
            .collect()
    }

    /// Closes a subject request the owner answered (outside the service).
    pub async fn close_subject_request(
        &self,
        employee: EmployeeId,
        request: SubjectRequestId,
    ) -> Result<()> {
        let actor = self
            .check(
                employee,
                Action::SubjectRequests,
                Target::SubjectRequest(request),
            )
            .await?;
        self.inner
            .db
            .exec(q!(
                "UPDATE subject_requests SET state = 'closed', closed_at = $1, closed_by = $2 WHERE id = $3",
                crate::db::now(),
                actor.id().0,
                request.0
            ))
            .await?;
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "close_subject_request",
            &format!("subject_request:{request}"),
            "done",
        )
        .await
    }

    /// The processing log of the workspace: who read, exported, blocked, anonymised or
    /// destroyed whose data, newest first (owners).
    pub async fn processing_log(
        &self,
        employee: EmployeeId,
        limit: u32,
    ) -> Result<Vec<ProcessingEntry>> {
        let actor = self
            .check(employee, Action::ViewAudit, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT employee_id, customer_id, account_id, operation, at FROM processing_log
                 WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
                actor.workspace().0,
                i64::from(limit.clamp(1, 10_000))
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProcessingEntry {
                    employee: r.opt_i64("employee_id")?.map(EmployeeId),
                    customer: r.opt_i64("customer_id")?.map(CustomerId),
                    account: r.opt_i64("account_id")?.map(AccountKey),
                    operation: r.text("operation")?,
                    at: r.time("at")?,
                })
            })
            .collect()
    }
}

async fn conversation_of(tx: &mut Tx, customer: CustomerId) -> Result<Option<i64>> {
    tx.opt(q!(
        "SELECT id FROM conversations WHERE customer_id = $1",
        customer.0
    ))
    .await?
    .map(|r| r.i64("id"))
    .transpose()
}

struct Deleted {
    messages: u64,
    outbox: u64,
}

async fn delete_conversation_content(tx: &mut Tx, conversation: i64) -> Result<Deleted> {
    tx.exec(q!(
        "DELETE FROM message_parts WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = $1)",
        conversation
    ))
    .await?;
    let messages = tx
        .exec(q!(
            "DELETE FROM messages WHERE conversation_id = $1",
            conversation
        ))
        .await?;
    let outbox = tx
        .exec(q!(
            "DELETE FROM outbox WHERE conversation_id = $1",
            conversation
        ))
        .await?;
    tx.exec(q!(
        "UPDATE conversation_reads SET last_seen_message_id = 0 WHERE conversation_id = $1",
        conversation
    ))
    .await?;
    let _ = micros;
    Ok(Deleted { messages, outbox })
}
