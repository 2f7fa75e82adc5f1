//! Access rights: what each operation needs, checked in one place
//! ([`Inbox::authorize`](crate::Inbox::authorize)).
//!
//! An employee's rights on an account are their grant intersected with their role's cap
//! ([`Role::cap`](crate::Role::cap)); an owner holds every right on every account of the
//! workspace without a grant. A target that does not exist, or belongs to another workspace, is
//! refused the same way as one that is not granted (`Forbidden`), so a refusal tells nothing about
//! what exists elsewhere. Every refusal writes an audit record.

use serde::{Deserialize, Serialize};

use crate::model::{
    AccountKey, ConversationId, CustomerId, EmployeeId, MessageKey, OutboxId, Permission, Role,
    SubjectRequestId,
};

/// Every operation an employee can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// List conversations (filtered to readable accounts).
    ListConversations,
    /// Read a conversation's history.
    ReadHistory,
    /// Search message text (filtered to readable accounts).
    Search,
    /// Download a message's media.
    DownloadMedia,
    /// Move one's last-seen mark.
    MarkRead,
    /// Receive notifications (filtered to readable accounts).
    Subscribe,
    /// Write to a customer (through the outbox).
    Send,
    /// Cancel, dismiss or explicitly resend an outbox row.
    ResolveOutbox,
    /// Assign a conversation.
    Assign,
    /// Open a conversation with a customer who has not written.
    StartConversation,
    /// Rename or deactivate an account.
    ManageAccount,
    /// Activate the module for an account (accept the agreement): owners.
    ActivateAccount,
    /// Delete an account and purge its data: owners.
    DeleteAccount,
    /// Export everything held about a customer.
    ExportCustomer,
    /// Anonymise a customer.
    AnonymiseCustomer,
    /// Block processing of a customer's data.
    BlockCustomer,
    /// Unblock it.
    UnblockCustomer,
    /// Delete a customer's message history.
    DeleteHistory,
    /// Destroy everything about a customer (with an act): owners.
    DestroyCustomer,
    /// Add, change or remove employees and grants.
    ManageEmployees,
    /// Connect a new account.
    AddAccount,
    /// Read the audit log, the processing log and destruction acts: owners.
    ViewAudit,
    /// Read and close data subjects' requests: owners.
    SubjectRequests,
    /// Purge the whole workspace (deletion, or the instruction withdrawn): owners.
    PurgeWorkspace,
}

/// What an [`Action`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any active employee of the workspace (results are filtered by right).
    Member,
    /// A right on the target's account.
    Account(Permission),
    /// A right on the target's account, and the role owner or admin.
    AccountAdmin(Permission),
    /// The role owner or admin.
    Admin,
    /// The role owner.
    Owner,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 24] = [
        Action::ListConversations,
        Action::ReadHistory,
        Action::Search,
        Action::DownloadMedia,
        Action::MarkRead,
        Action::Subscribe,
        Action::Send,
        Action::ResolveOutbox,
        Action::Assign,
        Action::StartConversation,
        Action::ManageAccount,
        Action::ActivateAccount,
        Action::DeleteAccount,
        Action::ExportCustomer,
        Action::AnonymiseCustomer,
        Action::BlockCustomer,
        Action::UnblockCustomer,
        Action::DeleteHistory,
        Action::DestroyCustomer,
        Action::ManageEmployees,
        Action::AddAccount,
        Action::ViewAudit,
        Action::SubjectRequests,
        Action::PurgeWorkspace,
    ];

    /// The snake_case name (in audit records).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ListConversations => "list_conversations",
            Action::ReadHistory => "read_history",
            Action::Search => "search",
            Action::DownloadMedia => "download_media",
            Action::MarkRead => "mark_read",
            Action::Subscribe => "subscribe",
            Action::Send => "send",
            Action::ResolveOutbox => "resolve_outbox",
            Action::Assign => "assign",
            Action::StartConversation => "start_conversation",
            Action::ManageAccount => "manage_account",
            Action::ActivateAccount => "activate_account",
            Action::DeleteAccount => "delete_account",
            Action::ExportCustomer => "export_customer",
            Action::AnonymiseCustomer => "anonymise_customer",
            Action::BlockCustomer => "block_customer",
            Action::UnblockCustomer => "unblock_customer",
            Action::DeleteHistory => "delete_history",
            Action::DestroyCustomer => "destroy_customer",
            Action::ManageEmployees => "manage_employees",
            Action::AddAccount => "add_account",
            Action::ViewAudit => "view_audit",
            Action::SubjectRequests => "subject_requests",
            Action::PurgeWorkspace => "purge_workspace",
        }
    }

    /// What the action needs.
    ///
    /// ```
    /// use messenger_inbox::{Action, Permission, Requirement};
    /// assert_eq!(Action::Send.requirement(), Requirement::Account(Permission::Reply));
    /// assert_eq!(Action::DestroyCustomer.requirement(), Requirement::Owner);
    /// ```
    pub fn requirement(self) -> Requirement {
        use Permission::*;
        match self {
            Action::ListConversations | Action::Search | Action::Subscribe => Requirement::Member,
            Action::ReadHistory | Action::DownloadMedia | Action::MarkRead => {
                Requirement::Account(Read)
            }
            Action::Send | Action::ResolveOutbox | Action::Assign | Action::StartConversation => {
                Requirement::Account(Reply)
            }
            Action::ManageAccount => Requirement::Account(Manage),
            Action::ExportCustomer
            | Action::AnonymiseCustomer
            | Action::BlockCustomer
            | Action::UnblockCustomer
            | Action::DeleteHistory => Requirement::AccountAdmin(Manage),
            Action::ManageEmployees | Action::AddAccount => Requirement::Admin,
            Action::ActivateAccount
            | Action::DeleteAccount
            | Action::DestroyCustomer
            | Action::ViewAudit
            | Action::SubjectRequests
            | Action::PurgeWorkspace => Requirement::Owner,
        }
    }

    /// Whether `role`, holding `effective` rights on the target's account (already capped by
    /// the role), may do this.
    pub fn allowed(self, role: Role, effective: crate::model::Permissions) -> bool {
        match self.requirement() {
            Requirement::Member => true,
            Requirement::Account(p) => role == Role::Owner || effective.has(p),
            Requirement::AccountAdmin(p) => {
                role == Role::Owner || (role == Role::Admin && effective.has(p))
            }
            Requirement::Admin => matches!(role, Role::Owner | Role::Admin),
            Requirement::Owner => role == Role::Owner,
        }
    }
}

/// What an action is done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The acting employee's workspace.
    Workspace,
    /// An account.
    Account(AccountKey),
    /// A conversation.
    Conversation(ConversationId),
    /// A customer.
    Customer(CustomerId),
    /// A message.
    Message(MessageKey),
    /// An outbox row.
    Outbox(OutboxId),
    /// An employee.
    Employee(EmployeeId),
    /// A subject request.
    SubjectRequest(SubjectRequestId),
}

impl Target {
    /// `account:3`, `conversation:17`...: how the audit log names it (ids, never data).
    pub fn label(&self) -> String {
        match self {
            Target::Workspace => "workspace".to_owned(),
            Target::Account(a) => format!("account:{a}"),
            Target::Conversation(c) => format!("conversation:{c}"),
            Target::Customer(c) => format!("customer:{c}"),
            Target::Message(m) => format!("message:{m}"),
            Target::Outbox(o) => format!("outbox:{o}"),
            Target::Employee(e) => format!("employee:{e}"),
            Target::SubjectRequest(r) => format!("subject_request:{r}"),
        }
    }
}
