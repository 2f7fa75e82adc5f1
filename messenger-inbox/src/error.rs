//! The inbox's one error type, with a [`kind()`](InboxError::kind) callers (and the server's
//! HTTP mapping) branch on.
//!
//! Messages never carry message content, names, chat ids or SQL values: a database error is
//! reduced to its class (and, for a unique violation, the constraint's name).

use std::fmt;

use messenger_core::{Delivery, ErrorKind};
use serde::{Deserialize, Serialize};

/// A `Result` with [`InboxError`].
pub type Result<T, E = InboxError> = std::result::Result<T, E>;

/// What went wrong, as callers branch on it.
///
/// ```
/// use messenger_inbox::{InboxError, InboxErrorKind};
/// let err = InboxError::forbidden("read_history");
/// assert_eq!(err.kind(), InboxErrorKind::Forbidden);
/// assert_eq!(err.kind().as_str(), "forbidden");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboxErrorKind {
    /// The acting employee may not do this (an audit record was written).
    Forbidden,
    /// The thing does not exist.
    NotFound,
    /// The request is malformed (an empty name, a secret given in clear, a bad id).
    InvalidInput,
    /// A concurrent change got there first, or a unique value is taken.
    Conflict,
    /// The customer's data is blocked: no processing, no sends.
    Blocked,
    /// The customer was anonymised or destroyed: nobody can be written to any more.
    Anonymised,
    /// The guard against unsolicited mass messaging refused a send to a customer who never wrote.
    UnsolicitedLimit,
    /// The messenger module is not active for the account (never activated, deactivated, or a
    /// new agreement edition needs a fresh activation).
    ModuleInactive,
    /// The service operator suspended the platform.
    PlatformSuspended,
    /// The service operator suspended the account.
    AccountSuspended,
    /// The customer opted out of this account's messages.
    OptedOut,
    /// A connector failed; see [`InboxError::messenger_error`].
    Messenger,
    /// The database failed or was unreachable; nothing was changed by the failed statement.
    Storage,
}

impl InboxErrorKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxErrorKind::Forbidden => "forbidden",
            InboxErrorKind::NotFound => "not_found",
            InboxErrorKind::InvalidInput => "invalid_input",
            InboxErrorKind::Conflict => "conflict",
            InboxErrorKind::Blocked => "blocked",
            InboxErrorKind::Anonymised => "anonymised",
            InboxErrorKind::UnsolicitedLimit => "unsolicited_limit",
            InboxErrorKind::ModuleInactive => "module_inactive",
            InboxErrorKind::PlatformSuspended => "platform_suspended",
            InboxErrorKind::AccountSuspended => "account_suspended",
            InboxErrorKind::OptedOut => "opted_out",
            InboxErrorKind::Messenger => "messenger",
            InboxErrorKind::Storage => "storage",
        }
    }
}

impl fmt::Display for InboxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inbox's error: a [`kind`](Self::kind), a message without personal data, and the
/// connector's error where one caused it.
#[derive(thiserror::Error)]
pub struct InboxError {
    kind: InboxErrorKind,
    message: String,
    #[source]
    core: Option<Box<messenger_core::Error>>,
}

impl InboxError {
    /// An error of `kind`.
    pub fn new(kind: InboxErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            core: None,
        }
    }

    /// [`InboxErrorKind::Forbidden`] for `action`.
    pub fn forbidden(action: &str) -> Self {
        Self::new(
            InboxErrorKind::Forbidden,
            format!("the acting employee may not {action} here"),
        )
    }

    /// [`InboxErrorKind::NotFound`].
    pub fn not_found(what: &str) -> Self {
        Self::new(InboxErrorKind::NotFound, format!("{what} not found"))
    }

    /// [`InboxErrorKind::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(InboxErrorKind::InvalidInput, message)
    }

    /// [`InboxErrorKind::Storage`].
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(InboxErrorKind::Storage, message)
    }

    /// The class of the error.
    pub fn kind(&self) -> InboxErrorKind {
        self.kind
    }

    /// The description (never content).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The connector's error, for [`InboxErrorKind::Messenger`] (and for the rule kinds that
    /// came from the core gate).
    pub fn messenger_error(&self) -> Option<&messenger_core::Error> {
        self.core.as_deref()
    }

    /// Whether a failed send may have gone out (from the connector's error; `NotSent` for
    /// everything the inbox refused itself).
    pub fn delivery(&self) -> Delivery {
        self.core
            .as_ref()
            .map_or(Delivery::NotSent, |e| e.delivery())
    }

    /// The core [`ErrorKind`] this corresponds to, where core has one (`Forbidden`, `Blocked`,
    /// `Anonymised`, `UnsolicitedLimit` and `AccountSuspended` have none).
    pub fn core_kind(&self) -> Option<ErrorKind> {
        if let Some(core) = &self.core {
            return Some(core.kind());
        }
        Some(match self.kind {
            InboxErrorKind::NotFound => ErrorKind::NotFound,
            InboxErrorKind::InvalidInput => ErrorKind::InvalidInput,
            InboxErrorKind::Conflict => ErrorKind::Conflict,
            InboxErrorKind::ModuleInactive => ErrorKind::ModuleInactive,
            InboxErrorKind::PlatformSuspended => ErrorKind::PlatformSuspended,
            InboxErrorKind::OptedOut => ErrorKind::OptedOut,
            InboxErrorKind::Storage => ErrorKind::Storage,
            _ => return None,
        })
    }
}

impl fmt::Display for InboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(core) = &self.core {
            write!(f, " ({core})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for InboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("core", &self.core)
            .finish()
    }
}

impl From<messenger_core::Error> for InboxError {
    fn from(e: messenger_core::Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::ModuleInactive => InboxErrorKind::ModuleInactive,
            ErrorKind::PlatformSuspended => InboxErrorKind::PlatformSuspended,
            ErrorKind::OptedOut => InboxErrorKind::OptedOut,
            ErrorKind::Storage => InboxErrorKind::Storage,
            ErrorKind::InvalidInput => InboxErrorKind::InvalidInput,
            _ => InboxErrorKind::Messenger,
        };
        Self {
            kind,
            message: e.message().to_owned(),
            core: Some(Box::new(e)),
        }
    }
}

impl From<InboxError> for messenger_core::Error {
    /// For the core store traits: the inbox's error as a core error of the nearest kind
    /// (a database failure is [`ErrorKind::Storage`], a unique violation [`ErrorKind::Conflict`]).
    fn from(e: InboxError) -> Self {
        if let Some(core) = e.core {
            return *core;
        }
        let kind = e.core_kind().unwrap_or(ErrorKind::Storage);
        messenger_core::Error::new(kind, e.message)
    }
}

impl From<sqlx::Error> for InboxError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::new(
                InboxErrorKind::Conflict,
                format!(
                    "a unique value is taken ({})",
                    db.constraint().unwrap_or("unique constraint")
                ),
            ),
            sqlx::Error::Database(db) => Self::storage(format!(
                "the database refused a statement (code {})",
                db.code().as_deref().unwrap_or("?")
            )),
            sqlx::Error::RowNotFound => Self::not_found("row"),
            sqlx::Error::PoolTimedOut => {
                Self::storage("timed out waiting for a database connection")
            }
            sqlx::Error::PoolClosed => Self::storage("the database pool is closed"),
            sqlx::Error::Io(io) => Self::storage(format!("database I/O error: {}", io.kind())),
            sqlx::Error::ColumnDecode { index, .. } => Self::storage(format!(
                "a stored value could not be decoded (column {index})"
            )),
            sqlx::Error::ColumnNotFound(c) => Self::storage(format!("column {c} not found")),
            other => Self::storage(format!("database error: {}", error_class(other))),
        }
    }
}

fn error_class(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Configuration(_) => "configuration",
        sqlx::Error::Tls(_) => "tls",
        sqlx::Error::Protocol(_) => "protocol",
        sqlx::Error::TypeNotFound { .. } => "type not found",
        sqlx::Error::Decode(_) => "decode",
        sqlx::Error::WorkerCrashed => "worker crashed",
        _ => "other",
    }
}

impl From<serde_json::Error> for InboxError {
    fn from(e: serde_json::Error) -> Self {
        // The body is never quoted (it is content): only the class.
        Self::storage(format!(
            "stored JSON could not be read ({:?} at line {})",
            e.classify(),
            e.line()
        ))
    }
}
