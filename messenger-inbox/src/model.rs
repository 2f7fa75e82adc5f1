//! The inbox's data: workspaces, accounts, employees, customers, conversations, messages, the
//! outbox, notifications and the personal-data records.
//!
//! Every type that can hold a customer's data (names, chat ids, message content) implements
//! `Debug` by hand and shows fingerprints or lengths only.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use messenger_core::model::fingerprint;
use messenger_core::redact::TextLen;
use messenger_core::{AccountHealth, ContentKind, DeliveryStatus, MediaId, Platform, StatusError};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{InboxError, Result};
use crate::secrets::SecretRef;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InboxError;
            fn from_str(s: &str) -> Result<Self> {
                s.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map($name)
                    .ok_or_else(|| InboxError::invalid(concat!("malformed ", $what, " id")))
            }
        }
    };
}

id_type!(
    /// A workspace: one business.
    WorkspaceId,
    "workspace"
);
id_type!(
    /// A connected messenger account. Its [`core_id`](AccountKey::core_id) is the
    /// [`messenger_core::AccountId`] the layers and consent stores know it by.
    AccountKey,
    "account"
);
id_type!(
    /// An employee of a workspace.
    EmployeeId,
    "employee"
);
id_type!(
    /// A customer (a data subject) of one account.
    CustomerId,
    "customer"
);
id_type!(
    /// A conversation: one customer of one account.
    ConversationId,
    "conversation"
);
id_type!(
    /// A stored message (either direction).
    MessageKey,
    "message"
);
id_type!(
    /// A row of the outbox.
    OutboxId,
    "outbox"
);
id_type!(
    /// A data subject's request.
    SubjectRequestId,
    "subject request"
);
id_type!(
    /// An act of destruction.
    ActId,
    "act"
);

impl AccountKey {
    /// The id the core layers and stores use for this account (its number in decimal).
    pub fn core_id(self) -> messenger_core::AccountId {
        messenger_core::AccountId::new(self.0.to_string())
    }
}

/// An employee's role in the workspace.
///
/// | role | account rights (with a grant) | workspace rights |
/// |---|---|---|
/// | owner | everything, on every account, without grants | everything: employees, accounts, activation, personal data, destruction, audit, subject requests |
/// | admin | read, reply, manage | employees (not owners), grants, new accounts |
/// | agent | read, reply | none |
/// | viewer | read | none |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The account owner of the business: the operator of its customers' data.
    Owner,
    /// Administers employees, grants and accounts; account rights come from grants.
    Admin,
    /// Answers customers on granted accounts.
    Agent,
    /// Reads granted accounts.
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Agent, Role::Viewer];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            "viewer" => Ok(Role::Viewer),
            _ => Err(InboxError::storage("unknown role stored")),
        }
    }

    /// The most a grant can give this role (a viewer granted `manage` still only reads).
    pub fn cap(self) -> Permissions {
        match self {
            Role::Owner | Role::Admin => Permissions::ALL,
            Role::Agent => Permissions {
                read: true,
                reply: true,
                manage: false,
            },
            Role::Viewer => Permissions::READ,
        }
    }
}

/// One right on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See conversations, history, media; receive notifications.
    Read,
    /// Write to customers, assign conversations.
    Reply,
    /// Change the account, run personal-data operations (admins).
    Manage,
}

/// The rights an employee holds on one account.
///
/// ```
/// use messenger_inbox::{Permission, Permissions, Role};
/// let granted = Permissions::ALL;
/// let effective = granted.intersect(Role::Agent.cap());
/// assert!(effective.has(Permission::Reply));
/// assert!(!effective.has(Permission::Manage));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Permissions {
    /// [`Permission::Read`].
    pub read: bool,
    /// [`Permission::Reply`].
    pub reply: bool,
    /// [`Permission::Manage`].
    pub manage: bool,
}

impl Permissions {
    /// No rights.
    pub const NONE: Permissions = Permissions {
        read: false,
        reply: false,
        manage: false,
    };
    /// Read only.
    pub const READ: Permissions = Permissions {
        read: true,
        reply: false,
        manage: false,
    };
    /// Read and reply.
    pub const REPLY: Permissions = Permissions {
        read: true,
        reply: true,
        manage: false,
    };
    /// Every right.
    pub const ALL: Permissions = Permissions {
        read: true,
        reply: true,
        manage: true,
    };

    /// Whether `p` is held.
    pub fn has(self, p: Permission) -> bool {
        match p {
            Permission::Read => self.read,
            Permission::Reply => self.reply,
            Permission::Manage => self.manage,
        }
    }

    /// The rights held in both.
    pub fn intersect(self, other: Permissions) -> Permissions {
        Permissions {
            read: self.read && other.read,
            reply: self.reply && other.reply,
            manage: self.manage && other.manage,
        }
    }

    /// Whether no right is held.
    pub fn is_empty(self) -> bool {
        !(self.read || self.reply || self.manage)
    }
}

/// The state of a connected account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// The owner activated the module (accepted the agreement): sends and intake work.
    Active,
    /// The service operator suspended the account: nothing is sent or taken in.
    Suspended,
    /// Never activated, or deactivated by the owner: nothing is sent or taken in.
    Deactivated,
}

impl AccountState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Suspended => "suspended",
            AccountState::Deactivated => "deactivated",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(AccountState::Active),
            "suspended" => Ok(AccountState::Suspended),
            "deactivated" => Ok(AccountState::Deactivated),
            _ => Err(InboxError::storage("unknown account state stored")),
        }
    }
}

/// A workspace (a business).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// Its id.
    pub id: WorkspaceId,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    /// Their id.
    pub id: EmployeeId,
    /// Their workspace.
    pub workspace: WorkspaceId,
    /// Their name (an employee's, not a customer's).
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Whether they can act (a removed employee cannot).
    pub active: bool,
}

/// A grant of rights on one account to one employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The employee.
    pub employee: EmployeeId,
    /// The account.
    pub account: AccountKey,
    /// The rights granted (capped by the employee's role when used).
    pub permissions: Permissions,
}

/// A connected messenger account, as stored. Credentials are references only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountKey,
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// Its platform.
    pub platform: Platform,
    /// Its name in the CRM.
    pub display_name: String,
    /// Active, suspended or deactivated.
    pub state: AccountState,
    /// Settings that are not secret (`base_url`, `group_id`, `phone_number_id`...).
    pub settings: BTreeMap<String, String>,
    /// Credential references by credential key (`token` → `env:TELEGRAM_TOKEN`).
    pub secrets: BTreeMap<String, SecretRef>,
    /// The last health the platform reported.
    pub health: Option<AccountHealth>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("workspace", &self.workspace)
            .field("platform", &self.platform)
            .field("state", &self.state)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

/// What a new account is made of.
///
/// ```
/// use messenger_core::Platform;
/// use messenger_inbox::{NewAccount, SecretRef};
/// let account = NewAccount::new(Platform::Telegram, "Shop bot")
///     .secret("token", SecretRef::parse("env:SHOP_TELEGRAM_TOKEN").unwrap())
///     .setting("base_url", "https://api.telegram.org");
/// assert_eq!(account.secrets.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The platform.
    pub platform: Platform,
    /// The account's name in the CRM.
    pub display_name: String,
    /// Settings that are not secret.
    pub settings: BTreeMap<String, String>,
    /// Credential references.
    pub secrets: BTreeMap<String, SecretRef>,
}

impl NewAccount {
    /// An account on `platform` named `display_name`, without settings or secrets yet.
    pub fn new(platform: Platform, display_name: impl Into<String>) -> Self {
        Self {
            platform,
            display_name: display_name.into(),
            settings: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// Adds a setting that is not secret.
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Adds a credential by reference.
    pub fn secret(mut self, key: impl Into<String>, reference: SecretRef) -> Self {
        self.secrets.insert(key.into(), reference);
        self
    }
}

/// What the inbox holds about a customer's relation to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerState {
    /// Processed as usual.
    Normal,
    /// Processing is blocked (152-FZ): no sends, intake recorded without content.
    Blocked,
    /// Identifying data and content were replaced; statistics remain.
    Anonymised,
}

impl CustomerState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerState::Normal => "normal",
            CustomerState::Blocked => "blocked",
            CustomerState::Anonymised => "anonymised",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "normal" => Ok(CustomerState::Normal),
            "blocked" => Ok(CustomerState::Blocked),
            "anonymised" => Ok(CustomerState::Anonymised),
            _ => Err(InboxError::storage("unknown customer state stored")),
        }
    }
}

/// A customer: a data subject of one account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Their id.
    pub id: CustomerId,
    /// The account.
    pub account: AccountKey,
    /// The platform.
    pub platform: Platform,
    /// Their current conversation id on the platform (`None` once anonymised).
    pub chat_id: Option<String>,
    /// Their platform user id, where known.
    pub user_id: Option<String>,
    /// Their display name, where the platform gave one.
    pub display_name: Option<String>,
    /// Normal, blocked or anonymised.
    pub state: CustomerState,
    /// When they first wrote (`None`: they never did).
    pub first_inbound_at: Option<DateTime<Utc>>,
    /// When they last wrote.
    pub last_inbound_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("platform", &self.platform)
            .field("chat_id", &self.chat_id.as_deref().map(fingerprint))
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A conversation as an employee's list shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// Its id.
    pub id: ConversationId,
    /// The account.
    pub account: AccountKey,
    /// The platform.
    pub platform: Platform,
    /// The customer.
    pub customer: CustomerId,
    /// The customer's display name (`None` when unknown or anonymised).
    pub customer_name: Option<String>,
    /// The customer's state.
    pub customer_state: CustomerState,
    /// Whether the customer opted out of the account's messages.
    pub opted_out: bool,
    /// The employee it is assigned to.
    pub assigned_to: Option<EmployeeId>,
    /// When its last message was sent or received.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Inbound messages after the employee's last-seen mark.
    pub unread: u64,
}

impl fmt::Debug for ConversationSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConversationSummary")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("customer", &self.customer)
            .field("unread", &self.unread)
            .finish_non_exhaustive()
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer.
    Outbound,
}

impl Direction {
    /// `in` or `out`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "in" => Ok(Direction::Inbound),
            "out" => Ok(Direction::Outbound),
            _ => Err(InboxError::storage("unknown direction stored")),
        }
    }
}

/// A message in a conversation's history.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Its id (increasing in the order messages were stored).
    pub id: MessageKey,
    /// The conversation.
    pub conversation: ConversationId,
    /// Which way.
    pub direction: Direction,
    /// The platform's id (of the first part, for outbound).
    pub platform_message_id: Option<String>,
    /// The content, in the core's JSON model (`{"kind":"text","text":...}`); media as
    /// references (an outbound upload is `outbox:<id>`).
    pub content: messenger_core::Content,
    /// The employee who wrote it (outbound).
    pub sender_employee: Option<EmployeeId>,
    /// Its delivery status (outbound), applied monotonically.
    pub status: Option<DeliveryStatus>,
    /// Why it failed, for `failed`.
    pub status_error: Option<StatusError>,
    /// The outbox row of an outbound message.
    pub outbox: Option<OutboxId>,
    /// When it was sent (the platform's time for inbound).
    pub sent_at: DateTime<Utc>,
    /// Whether the customer edited it.
    pub edited: bool,
    /// Whether its content was anonymised.
    pub anonymised: bool,
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("id", &self.id)
            .field("conversation", &self.conversation)
            .field("direction", &self.direction)
            .field("content", &self.content)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Outbound content, as the outbox persists it: text, or media as bytes (kept in the outbox row
/// until sent), a public URL or a platform media id.
#[derive(Clone, PartialEq, Eq)]
pub enum Draft {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// Media with an optional caption.
    Media {
        /// Image, file, voice, audio or video.
        kind: ContentKind,
        /// The media.
        media: DraftMedia,
        /// The caption.
        caption: Option<String>,
    },
}

/// The media of a [`Draft`].
#[derive(Clone, PartialEq, Eq)]
pub enum DraftMedia {
    /// Bytes to upload.
    Bytes {
        /// The bytes.
        data: Vec<u8>,
        /// Their MIME type.
        mime_type: String,
        /// The file name the customer sees.
        file_name: String,
    },
    /// A public URL the platform fetches (or the planner sends as a link).
    Url(Url),
    /// Media the platform already holds.
    Id(MediaId),
}

impl fmt::Debug for DraftMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DraftMedia::Bytes {
                data, mime_type, ..
            } => f
                .debug_struct("Bytes")
                .field("len", &data.len())
                .field(
                    "mime_type",
                    &messenger_core::redact::mime_essence(mime_type),
                )
                .finish_non_exhaustive(),
            DraftMedia::Url(u) => write!(f, "Url({})", u.host_str().unwrap_or("?")),
            DraftMedia::Id(id) => f.debug_tuple("Id").field(id).finish(),
        }
    }
}

impl Draft {
    /// A text draft.
    pub fn text(text: impl Into<String>) -> Self {
        Draft::Text { text: text.into() }
    }

    /// A media draft; `InvalidInput` for a kind that cannot be sent (sticker, location...).
    pub fn media(kind: ContentKind, media: DraftMedia, caption: Option<String>) -> Result<Self> {
        if !ContentKind::SENDABLE.contains(&kind) || kind == ContentKind::Text {
            return Err(InboxError::invalid(format!(
                "{kind} cannot be sent as media"
            )));
        }
        Ok(Draft::Media {
            kind,
            media,
            caption,
        })
    }

    /// The content kind.
    pub fn kind(&self) -> ContentKind {
        match self {
            Draft::Text { .. } => ContentKind::Text,
            Draft::Media { kind, .. } => *kind,
        }
    }
}

impl fmt::Debug for Draft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Draft::Text { text } => f
                .debug_struct("Text")
                .field("text", &TextLen(text))
                .finish(),
            Draft::Media {
                kind,
                media,
                caption,
            } => f
                .debug_struct("Media")
                .field("kind", kind)
                .field(
                    "media",
                    &match media {
                        DraftMedia::Bytes { data, .. } => format!("<{} bytes>", data.len()),
                        DraftMedia::Url(u) => format!("url({})", u.host_str().unwrap_or("?")),
                        DraftMedia::Id(_) => "id".to_owned(),
                    },
                )
                .field("caption", &caption.as_deref().map(TextLen))
                .finish(),
        }
    }
}

/// Where an outbox row is.
///
/// `queued` → `sending` (persisted before the request leaves) → `sent`; or `failed` (certainly
/// not sent), or `maybe_sent` (the request may have gone out and the platform does not drop
/// repeats: shown to the employee, never resent by itself); `cancelled` by an employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for a worker (maybe for a retry time).
    Queued,
    /// Claimed by a worker; the request may be in flight.
    Sending,
    /// The platform accepted it.
    Sent,
    /// Certainly not sent (refused, or out of attempts before any request left).
    Failed,
    /// May have been sent; resent only by an employee's explicit decision.
    MaybeSent,
    /// Withdrawn by an employee before it went out (or dismissed after `maybe_sent`).
    Cancelled,
}

impl OutboxState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::MaybeSent => "maybe_sent",
            OutboxState::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => OutboxState::Queued,
            "sending" => OutboxState::Sending,
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            "maybe_sent" => OutboxState::MaybeSent,
            "cancelled" => OutboxState::Cancelled,
            _ => return Err(InboxError::storage("unknown outbox state stored")),
        })
    }

    /// Whether the row will not change by itself any more.
    pub fn is_final(self) -> bool {
        !matches!(self, OutboxState::Queued | OutboxState::Sending)
    }
}

/// An outbox row, as an employee sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Its id.
    pub id: OutboxId,
    /// The account.
    pub account: AccountKey,
    /// The conversation.
    pub conversation: ConversationId,
    /// The stored outbound message.
    pub message: MessageKey,
    /// Where it is.
    pub state: OutboxState,
    /// Attempts made.
    pub attempts: i64,
    /// Whether the platform drops a repeat under the row's key (so a resend is safe).
    pub dedup: bool,
    /// The error class of the last failure (`interrupted` for a worker that died mid-send).
    pub error_kind: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// A notification to an employee. It carries ids only: the content is fetched by right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Notification {
    /// A customer wrote.
    NewMessage {
        /// The account.
        account: AccountKey,
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageKey,
    },
    /// An outbound message's status advanced (or its outbox row changed state).
    Status {
        /// The account.
        account: AccountKey,
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageKey,
        /// The status now (`sent`, `delivered`, `read`, `failed`).
        status: DeliveryStatus,
    },
    /// A send may have gone out and was not confirmed: the employee decides.
    MaybeSent {
        /// The account.
        account: AccountKey,
        /// The conversation.
        conversation: ConversationId,
        /// The outbox row.
        outbox: OutboxId,
    },
    /// A conversation was assigned.
    Assigned {
        /// The account.
        account: AccountKey,
        /// The conversation.
        conversation: ConversationId,
        /// The employee it is assigned to (`None`: unassigned).
        assignee: Option<EmployeeId>,
    },
    /// A customer's opt-out state or id changed.
    ContactChanged {
        /// The account.
        account: AccountKey,
        /// The conversation.
        conversation: ConversationId,
    },
    /// A data subject's request arrived (owners only).
    SubjectRequest {
        /// The request.
        request: SubjectRequestId,
    },
    /// The employee's rights changed; lists must be re-read.
    GrantsChanged {
        /// The employee.
        employee: EmployeeId,
    },
    /// Notifications may have been missed (a lost database connection, a slow consumer): re-read
    /// conversations and unread counts.
    Resync,
}

impl Notification {
    /// The account the notification concerns, if one.
    pub fn account(&self) -> Option<AccountKey> {
        match self {
            Notification::NewMessage { account, .. }
            | Notification::Status { account, .. }
            | Notification::MaybeSent { account, .. }
            | Notification::Assigned { account, .. }
            | Notification::ContactChanged { account, .. } => Some(*account),
            _ => None,
        }
    }
}

/// An audit record: who did or was refused what, on which internal id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its sequence number.
    pub id: i64,
    /// The workspace.
    pub workspace: Option<WorkspaceId>,
    /// The acting employee (`None`: the service).
    pub employee: Option<EmployeeId>,
    /// The operation (`read_history`, `send`...).
    pub action: String,
    /// Its target (`account:3`, `conversation:17`...).
    pub target: String,
    /// `allowed`, `denied` or `done`.
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An entry of the processing log: who read or exported whose data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingEntry {
    /// The employee (`None`: the service).
    pub employee: Option<EmployeeId>,
    /// The customer.
    pub customer: Option<CustomerId>,
    /// The account.
    pub account: Option<AccountKey>,
    /// What was done (`read_history`, `export`, `download_media`, `anonymise`...).
    pub operation: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An act of destruction. It holds no personal data: internal ids, categories and counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestructionAct {
    /// Its id.
    pub id: ActId,
    /// The workspace.
    pub workspace: WorkspaceId,
    /// `customer`, `account` or `workspace`.
    pub scope: String,
    /// The internal id destroyed (`customer:12`).
    pub subject: String,
    /// What was destroyed: category → count of records.
    pub what: BTreeMap<String, u64>,
    /// On what ground (the business's instruction, the subject's request, account deletion...).
    pub ground: String,
    /// By whom (`None`: the service).
    pub by_employee: Option<EmployeeId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a data subject asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectRequestKind {
    /// To see the data held about them.
    Access,
    /// To correct it.
    Rectify,
    /// To have it deleted or destroyed.
    Erase,
    /// To stop processing (withdraw consent).
    Withdraw,
    /// Anything else.
    Other,
}

impl SubjectRequestKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SubjectRequestKind::Access => "access",
            SubjectRequestKind::Rectify => "rectify",
            SubjectRequestKind::Erase => "erase",
            SubjectRequestKind::Withdraw => "withdraw",
            SubjectRequestKind::Other => "other",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "access" => SubjectRequestKind::Access,
            "rectify" => SubjectRequestKind::Rectify,
            "erase" => SubjectRequestKind::Erase,
            "withdraw" => SubjectRequestKind::Withdraw,
            "other" => SubjectRequestKind::Other,
            _ => return Err(InboxError::storage("unknown request kind stored")),
        })
    }
}

/// A data subject's request, as received by the service and forwarded to the workspace owner.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRequest {
    /// Its id.
    pub id: SubjectRequestId,
    /// The workspace (the operator who answers).
    pub workspace: WorkspaceId,
    /// The account, where known.
    pub account: Option<AccountKey>,
    /// The customer, where identified.
    pub customer: Option<CustomerId>,
    /// What they asked.
    pub kind: SubjectRequestKind,
    /// How it reached the service (`email`, `letter`...).
    pub channel: String,
    /// What they wrote (personal data; shown to the owner only).
    pub details: String,
    /// `forwarded` (to the owner) or `closed` (the owner answered).
    pub state: String,
    /// The owner it was forwarded to.
    pub forwarded_to: Option<EmployeeId>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

impl fmt::Debug for SubjectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectRequest")
            .field("id", &self.id)
            .field("workspace", &self.workspace)
            .field("kind", &self.kind)
            .field("details", &TextLen(&self.details))
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

pub(crate) fn status_str(s: &DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Read => "read",
        DeliveryStatus::Failed => "failed",
        _ => "pending",
    }
}

pub(crate) fn parse_status(s: &str) -> Result<DeliveryStatus> {
    Ok(match s {
        "pending" => DeliveryStatus::Pending,
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        _ => return Err(InboxError::storage("unknown delivery status stored")),
    })
}

pub(crate) fn health_str(h: AccountHealth) -> &'static str {
    match h {
        AccountHealth::Connected => "connected",
        AccountHealth::Unauthorized => "unauthorized",
        AccountHealth::RateLimited => "rate_limited",
        AccountHealth::Suspended => "suspended",
        AccountHealth::Unavailable => "unavailable",
        _ => "unavailable",
    }
}

pub(crate) fn parse_health(s: &str) -> Option<AccountHealth> {
    Some(match s {
        "connected" => AccountHealth::Connected,
        "unauthorized" => AccountHealth::Unauthorized,
        "rate_limited" => AccountHealth::RateLimited,
        "suspended" => AccountHealth::Suspended,
        "unavailable" => AccountHealth::Unavailable,
        _ => return None,
    })
}
