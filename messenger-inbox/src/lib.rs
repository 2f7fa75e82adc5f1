//! # messenger-inbox
//!
//! The CRM side of the messenger module, as a library: history, employees and access rights,
//! notifications, personal-data operations and a durable outbox, on SQLite (embedded, the
//! default) or PostgreSQL (several processes on one database). The server of the module
//! (`messenger-server`) runs on it; a CRM backend can embed it directly.
//!
//! - [`Inbox`]: every operation; an employee's take their [`EmployeeId`] and are checked in one
//!   place ([`Inbox::authorize`], [`rights`]). A refusal is [`InboxErrorKind::Forbidden`] plus
//!   an audit record.
//! - Intake: [`Inbox::ingest`] (idempotent; opt-outs, contact changes, relinking, statuses).
//! - Sending: [`Inbox::send`] → the durable [`outbox`], sent by [`OutboxWorker`]s.
//! - [`Inbox::subscribe`]: a [`NotificationStream`] per employee, filtered by rights; across
//!   processes by PostgreSQL `LISTEN`/`NOTIFY`.
//! - [`personal`]: export, anonymise, block, delete, destroy (with an act), purge, subject
//!   requests, the processing log.
//! - [`stores`]: persistent implementations of every `messenger-core` store trait.
//! - [`secrets`]: credentials are references ([`SecretRef`]) resolved outside the database.
//! - [`db`]: the two backends, migrations embedded and applied on open.
//! - For a server of the module: [`access`] (sign-in logins and bearer tokens, kept as hashes),
//!   [`lease`] (one holder per name across processes), [`service`] (readiness, metrics, the
//!   account list of pollers), and [`Inbox::send_idempotent`] (a client's idempotency key).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use chrono::Utc;
//! use messenger_core::consent::{AcceptanceKey, AgreementEdition};
//! use messenger_core::redact::Secret;
//! use messenger_core::{Content, InboundEvent, MessageEvent, Platform};
//! use messenger_inbox::{
//!     ConversationFilter, DbConfig, Inbox, MemoryResolver, NewAccount, Permissions, Role,
//! };
//! use std::sync::Arc;
//!
//! let key = AcceptanceKey::new(Secret::new(vec![9; 32])).unwrap(); // from the secret store
//! let secrets = Arc::new(MemoryResolver::new());
//! let inbox = Inbox::builder(DbConfig::sqlite_memory(), key)
//!     .secret_resolver(secrets.clone())
//!     .open()
//!     .await
//!     .unwrap();
//! inbox
//!     .publish_edition(AgreementEdition::new(
//!         "2026-05",
//!         Utc::now(),
//!         "https://crm.example/agreement".parse().unwrap(),
//!         "the text",
//!     ))
//!     .await
//!     .unwrap();
//! let (_, owner) = inbox.create_workspace("Shop", "Anna").await.unwrap();
//! let bot = inbox
//!     .add_account(
//!         owner.id,
//!         NewAccount::new(Platform::Telegram, "Shop bot").secret("token", secrets.insert("bot", "123:ABC")),
//!     )
//!     .await
//!     .unwrap();
//! inbox.activate_account(owner.id, bot.id, "2026-05", "ticked the box").await.unwrap();
//! let agent = inbox.add_employee(owner.id, "Boris", Role::Agent).await.unwrap();
//! inbox.grant(owner.id, agent.id, bot.id, Permissions::REPLY).await.unwrap();
//!
//! let hello = InboundEvent::Message(MessageEvent {
//!     platform: Platform::Telegram, chat_id: "42".into(), message_id: "1".into(), sender: None,
//!     timestamp: Utc::now(), reply_to: None, edited: false,
//!     content: Content::Text { text: "hello".into() },
//! });
//! inbox.ingest(bot.id, &[hello.clone()]).await.unwrap();
//! let again = inbox.ingest(bot.id, &[hello]).await.unwrap(); // a redelivered webhook
//! assert_eq!(again.duplicates, 1);
//! let list = inbox.conversations(agent.id, ConversationFilter::default()).await.unwrap();
//! assert_eq!(list[0].unread, 1);
//! # });
//! ```

#![warn(missing_docs)]

pub mod access;
pub mod conversations;
pub mod db;
pub mod error;
pub mod inbox;
pub mod intake;
pub mod lease;
mod migrate;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod personal;
pub mod rights;
pub mod secrets;
pub mod service;
pub mod stores;

pub use access::{AccessToken, TokenKind};
pub use conversations::{ConversationFilter, MediaInfo, SearchHit};
pub use db::{Backend, Db, DbConfig};
pub use error::{InboxError, InboxErrorKind, Result};
pub use inbox::{
    Inbox, InboxBuilder, MessengerProvider, OutboxConfig, StackProvider, UnsolicitedLimit,
};
pub use intake::IngestReport;
pub use lease::Lease;
pub use migrate::latest_version;
pub use model::{
    Account, AccountKey, AccountState, ActId, AuditRecord, ConversationId, ConversationSummary,
    Customer, CustomerId, CustomerState, DestructionAct, Direction, Draft, DraftMedia, Employee,
    EmployeeId, Grant, MessageKey, NewAccount, Notification, OutboxEntry, OutboxId, OutboxState,
    Permission, Permissions, ProcessingEntry, Role, StoredMessage, SubjectRequest,
    SubjectRequestId, SubjectRequestKind, Workspace, WorkspaceId,
};
pub use notify::NotificationStream;
pub use outbox::{OutboxWorker, PassReport};
pub use personal::NewSubjectRequest;
pub use rights::{Action, Requirement, Target};
pub use secrets::{EnvFileResolver, MemoryResolver, SecretRef, SecretResolver};
pub use service::OutboxCount;
