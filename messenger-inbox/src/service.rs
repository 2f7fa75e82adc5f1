//! What a server of the module needs besides the employees' operations: one conversation's
//! summary, an employee's own record and effective rights, account secrets set after a
//! connection flow, the list of every account (for pollers), a readiness probe and outbox
//! figures (for metrics).

use std::collections::BTreeMap;

use crate::db::q;
use crate::error::{InboxError, Result};
use crate::inbox::{ACCOUNT_COLUMNS, Inbox, account_from, employee_from};
use crate::model::{
    Account, AccountKey, ConversationId, ConversationSummary, CustomerId, CustomerState, Employee,
    EmployeeId, Grant, Permissions,
};
use crate::rights::{Action, Target};
use crate::secrets::SecretRef;

/// How many outbox rows are in one state (with one error kind), across every workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxCount {
    /// `queued`, `sending`, `sent`, `failed`, `maybe_sent` or `cancelled`.
    pub state: String,
    /// The error class of the last failure (`None` for rows that never failed).
    pub error_kind: Option<String>,
    /// How many rows.
    pub count: u64,
}

impl Inbox {
    /// One conversation as the employee's list shows it (read right on its account).
    pub async fn conversation(
        &self,
        employee: EmployeeId,
        conversation: ConversationId,
    ) -> Result<ConversationSummary> {
        let actor = self
            .check(
                employee,
                Action::ReadHistory,
                Target::Conversation(conversation),
            )
            .await?;
        let r = self
            .inner
            .db
            .one(q!(
                "SELECT v.id, v.account_id, a.platform, v.customer_id, c.display_name, c.state, v.assigned_to, v.last_message_at,
                   (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id AND m.direction = 'in'
                      AND m.id > COALESCE((SELECT r.last_seen_message_id FROM conversation_reads r
                                           WHERE r.employee_id = $2 AND r.conversation_id = v.id), 0)) AS unread,
                   (SELECT COUNT(*) FROM opt_outs o WHERE o.account = CAST(v.account_id AS TEXT)
                      AND o.platform = a.platform AND o.chat = c.chat_id) AS opted_out
                 FROM conversations v JOIN accounts a ON a.id = v.account_id JOIN customers c ON c.id = v.customer_id
                 WHERE v.id = $1",
                conversation.0,
                actor.id().0
            ))
            .await?;
        Ok(ConversationSummary {
            id: ConversationId(r.i64("id")?),
            account: AccountKey(r.i64("account_id")?),
            platform: r
                .text("platform")?
                .parse()
                .map_err(|_| InboxError::storage("unknown platform stored"))?,
            customer: CustomerId(r.i64("customer_id")?),
            customer_name: r.opt_text("display_name")?,
            customer_state: CustomerState::parse(&r.text("state")?)?,
            opted_out: r.i64("opted_out")? > 0,
            assigned_to: r.opt_i64("assigned_to")?.map(crate::model::EmployeeId),
            last_message_at: r.opt_time("last_message_at")?,
            unread: u64::try_from(r.i64("unread")?).unwrap_or(0),
        })
    }

    /// The acting employee's own record (any active employee).
    pub async fn me(&self, employee: EmployeeId) -> Result<Employee> {
        Ok(self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?
            .employee)
    }

    /// The rights `employee` holds on `account` (grant capped by their role; everything for an
    /// owner). An account of another workspace is refused.
    pub async fn permissions(
        &self,
        employee: EmployeeId,
        account: AccountKey,
    ) -> Result<Permissions> {
        let actor = self
            .check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        let ws = self
            .inner
            .db
            .opt(q!(
                "SELECT workspace_id FROM accounts WHERE id = $1",
                account.0
            ))
            .await?
            .map(|r| r.i64("workspace_id"))
            .transpose()?;
        if ws != Some(actor.workspace().0) {
            return Err(self
                .deny(
                    Some(actor.workspace()),
                    employee,
                    Action::ListConversations,
                    &Target::Account(account),
                )
                .await);
        }
        self.effective(&actor.employee, account).await
    }

    /// The grants of the workspace's employees (owners and admins).
    pub async fn grants(&self, employee: EmployeeId) -> Result<Vec<Grant>> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT g.employee_id, g.account_id, g.can_read, g.can_reply, g.can_manage FROM grants g
                 JOIN employees e ON e.id = g.employee_id WHERE e.workspace_id = $1 ORDER BY g.employee_id, g.account_id",
                actor.workspace().0
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Grant {
                    employee: EmployeeId(r.i64("employee_id")?),
                    account: AccountKey(r.i64("account_id")?),
                    permissions: Permissions {
                        read: r.bool("can_read")?,
                        reply: r.bool("can_reply")?,
                        manage: r.bool("can_manage")?,
                    },
                })
            })
            .collect()
    }

    /// One employee of the actor's workspace (owners and admins).
    pub async fn employee(&self, employee: EmployeeId, target: EmployeeId) -> Result<Employee> {
        self.check(employee, Action::ManageEmployees, Target::Employee(target))
            .await?;
        let row = self
            .inner
            .db
            .one(q!(
                "SELECT id, workspace_id, name, role, active FROM employees WHERE id = $1",
                target.0
            ))
            .await?;
        employee_from(&row)
    }

    /// Sets (or replaces) one credential reference of an account (manage right), e.g. the
    /// refresh token a connection flow obtained and the server put in its secret store.
    pub async fn set_account_secret(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        key: &str,
        reference: SecretRef,
    ) -> Result<()> {
        let actor = self
            .check(employee, Action::ManageAccount, Target::Account(account))
            .await?;
        if !self.inner.resolver.accepts(&reference) {
            return Err(InboxError::invalid(format!(
                "the secret resolver cannot read {} references",
                reference.scheme()
            )));
        }
        if key.trim().is_empty() || key.len() > 64 {
            return Err(InboxError::invalid("a credential key is 1 to 64 bytes"));
        }
        let mut tx = self.inner.db.begin().await?;
        let row = tx
            .one(q!("SELECT secrets FROM accounts WHERE id = $1", account.0))
            .await?;
        let mut secrets: BTreeMap<String, SecretRef> = serde_json::from_str(&row.text("secrets")?)?;
        secrets.insert(key.to_owned(), reference);
        tx.exec(q!(
            "UPDATE accounts SET secrets = $1, updated_at = $2 WHERE id = $3",
            serde_json::to_string(&secrets)?,
            crate::db::now(),
            account.0
        ))
        .await?;
        tx.commit().await?;
        self.forget_messenger(account);
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "set_account_secret",
            &format!("account:{account}"),
            "done",
        )
        .await
    }

    /// Replaces an account's settings and credential references at once (manage right): a
    /// server whose configuration file names the account keeps it as configured. Settings
    /// must not be credentials, and every reference must be one the resolver reads.
    pub async fn reconfigure_account(
        &self,
        employee: EmployeeId,
        account: AccountKey,
        settings: BTreeMap<String, String>,
        secrets: BTreeMap<String, SecretRef>,
    ) -> Result<()> {
        let actor = self
            .check(employee, Action::ManageAccount, Target::Account(account))
            .await?;
        for k in settings.keys() {
            if crate::inbox::looks_secret(k) {
                return Err(InboxError::invalid(format!(
                    "`{k}` is a credential: give it as a secret reference"
                )));
            }
        }
        for r in secrets.values() {
            if !self.inner.resolver.accepts(r) {
                return Err(InboxError::invalid(format!(
                    "the secret resolver cannot read {} references",
                    r.scheme()
                )));
            }
        }
        self.inner
            .db
            .exec(q!(
                "UPDATE accounts SET settings = $1, secrets = $2, updated_at = $3 WHERE id = $4",
                serde_json::to_string(&settings)?,
                serde_json::to_string(&secrets)?,
                crate::db::now(),
                account.0
            ))
            .await?;
        self.forget_messenger(account);
        self.audit(
            Some(actor.workspace()),
            Some(actor.id()),
            "reconfigure_account",
            &format!("account:{account}"),
            "done",
        )
        .await
    }

    /// Every account of every workspace (the service's own use: pollers, webhook routing).
    pub async fn accounts_unchecked(&self) -> Result<Vec<Account>> {
        let rows = self
            .inner
            .db
            .all(q!(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
            )))
            .await?;
        rows.iter().map(account_from).collect()
    }

    /// Whether the database answers (a readiness probe).
    pub async fn ping(&self) -> Result<()> {
        self.inner
            .db
            .one(q!("SELECT CAST(1 AS BIGINT) AS one"))
            .await?
            .i64("one")?;
        Ok(())
    }

    /// Outbox rows by state and error kind, across every workspace (the service's metrics).
    pub async fn outbox_counts(&self) -> Result<Vec<OutboxCount>> {
        let rows = self
            .inner
            .db
            .all(q!(
                "SELECT state, error_kind, COUNT(*) AS n FROM outbox GROUP BY state, error_kind ORDER BY state, error_kind"
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxCount {
                    state: r.text("state")?,
                    error_kind: r.opt_text("error_kind")?,
                    count: u64::try_from(r.i64("n")?).unwrap_or(0),
                })
            })
            .collect()
    }
}
