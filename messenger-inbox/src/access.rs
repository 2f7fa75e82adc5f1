//! Who may use the inbox from outside: employees' sign-in logins (a password hash made by the
//! server, never the password) and bearer tokens (sessions, API keys, one-use tickets), kept
//! as the SHA-256 of the token only. The server of the module hashes and checks passwords and
//! makes tokens; the inbox keeps them and decides who may set or issue them, like every other
//! right ([`Action::ManageEmployees`]; only an owner touches an owner's).
//!
//! A token is valid while it is not revoked, not expired and its employee is active: removing
//! an employee ends every session and key of theirs at once.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Row, q};
use crate::error::{InboxError, InboxErrorKind, Result};
use crate::inbox::Inbox;
use crate::model::{EmployeeId, Role, WorkspaceId};
use crate::rights::{Action, Target};

/// What a bearer token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An employee's sign-in session.
    Session,
    /// A machine's key, acting as one employee.
    ApiKey,
    /// A short-lived, one-use ticket (opening an event stream where a header cannot be set).
    Ticket,
}

impl TokenKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::ApiKey => "api_key",
            TokenKind::Ticket => "ticket",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "session" => TokenKind::Session,
            "api_key" => TokenKind::ApiKey,
            "ticket" => TokenKind::Ticket,
            _ => return Err(InboxError::storage("unknown token kind stored")),
        })
    }
}

/// A stored bearer token (never the token itself).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Its id.
    pub id: i64,
    /// What it is.
    pub kind: TokenKind,
    /// The employee it acts as.
    pub employee: EmployeeId,
    /// Their workspace.
    pub workspace: WorkspaceId,
    /// A name given to an API key.
    pub name: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working (`None`: an API key, until revoked).
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("employee", &self.employee)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

const TOKEN_COLUMNS: &str = "t.id, t.kind, t.employee_id, t.workspace_id, t.name, t.created_at, t.expires_at, t.last_used_at";

fn token_from(r: &Row) -> Result<AccessToken> {
    Ok(AccessToken {
        id: r.i64("id")?,
        kind: TokenKind::parse(&r.text("kind")?)?,
        employee: EmployeeId(r.i64("employee_id")?),
        workspace: WorkspaceId(r.i64("workspace_id")?),
        name: r.opt_text("name")?,
        created_at: r.time("created_at")?,
        expires_at: r.opt_time("expires_at")?,
        last_used_at: r.opt_time("last_used_at")?,
    })
}

/// A login: 3 to 64 characters, lowercase letters, digits, `.`, `_`, `-`, `@`.
fn valid_login(login: &str) -> bool {
    (3..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b))
}

/// A token hash as the server stores it: 64 lowercase hex digits.
fn valid_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Inbox {
    /// Checks that `employee` may manage `target`'s access: themselves, or an owner or admin of
    /// their workspace (only an owner for an owner).
    async fn check_access_manager(&self, employee: EmployeeId, target: EmployeeId) -> Result<()> {
        if employee == target {
            self.check(employee, Action::ListConversations, Target::Workspace)
                .await?;
            return Ok(());
        }
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Employee(target))
            .await?;
        let role = self
            .inner
            .db
            .one(q!("SELECT role FROM employees WHERE id = $1", target.0))
            .await?
            .text("role")?;
        if Role::parse(&role)? == Role::Owner && actor.employee.role != Role::Owner {
            return Err(self
                .deny(
                    Some(actor.workspace()),
                    employee,
                    Action::ManageEmployees,
                    &Target::Employee(target),
                )
                .await);
        }
        Ok(())
    }

    /// Sets `target`'s sign-in login and password hash (replacing earlier ones): the employee
    /// themselves, or an owner or admin of their workspace (only an owner for an owner). The
    /// hash is the server's (an argon2 PHC string); the inbox never sees a password. A login
    /// taken by someone else is [`InboxErrorKind::Conflict`].
    pub async fn set_login(
        &self,
        employee: EmployeeId,
        target: EmployeeId,
        login: &str,
        password_hash: &str,
    ) -> Result<()> {
        self.check_access_manager(employee, target).await?;
        self.write_login(target, login, password_hash).await?;
        let ws = self.workspace_of(target).await?;
        self.audit(
            Some(ws),
            Some(employee),
            "set_login",
            &format!("employee:{target}"),
            "done",
        )
        .await
    }

    /// [`set_login`](Self::set_login) by the service (bootstrapping the first owner).
    pub async fn set_login_by_service(
        &self,
        target: EmployeeId,
        login: &str,
        password_hash: &str,
    ) -> Result<()> {
        self.write_login(target, login, password_hash).await
    }

    async fn write_login(
        &self,
        target: EmployeeId,
        login: &str,
        password_hash: &str,
    ) -> Result<()> {
        if !valid_login(login) {
            return Err(InboxError::invalid(
                "a login is 3 to 64 lowercase letters, digits, `.`, `_`, `-` or `@`",
            ));
        }
        if !password_hash.starts_with('$') || password_hash.len() > 512 {
            return Err(InboxError::invalid(
                "a password hash is a PHC string ($argon2id$...), never a password",
            ));
        }
        self.inner
            .db
            .exec(q!(
                "INSERT INTO employee_logins (employee_id, login, password_hash, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (employee_id) DO UPDATE SET login = excluded.login, password_hash = excluded.password_hash,
                                                         updated_at = excluded.updated_at",
                target.0,
                login,
                password_hash,
                crate::db::now()
            ))
            .await
            .map_err(|e| {
                if e.kind() == InboxErrorKind::Conflict {
                    InboxError::new(InboxErrorKind::Conflict, "the login is taken")
                } else {
                    e
                }
            })?;
        Ok(())
    }

    /// The employee signing in with `login` and their password hash, if the login exists and
    /// its employee is active (the service's own use: sign-in).
    pub async fn login_credentials(&self, login: &str) -> Result<Option<(EmployeeId, String)>> {
        let row = self
            .inner
            .db
            .opt(q!(
                "SELECT l.employee_id, l.password_hash FROM employee_logins l JOIN employees e ON e.id = l.employee_id
                 WHERE l.login = $1 AND e.active = 1",
                login
            ))
            .await?;
        row.map(|r| Ok((EmployeeId(r.i64("employee_id")?), r.text("password_hash")?)))
            .transpose()
    }

    /// The login and password hash of an employee, if they have one (the service's own use:
    /// checking the current password before a change).
    pub async fn login_of(&self, employee: EmployeeId) -> Result<Option<(String, String)>> {
        let row = self
            .inner
            .db
            .opt(q!(
                "SELECT login, password_hash FROM employee_logins WHERE employee_id = $1",
                employee.0
            ))
            .await?;
        row.map(|r| Ok((r.text("login")?, r.text("password_hash")?)))
            .transpose()
    }

    async fn workspace_of(&self, employee: EmployeeId) -> Result<WorkspaceId> {
        Ok(WorkspaceId(
            self.inner
                .db
                .one(q!(
                    "SELECT workspace_id FROM employees WHERE id = $1",
                    employee.0
                ))
                .await?
                .i64("workspace_id")?,
        ))
    }

    async fn insert_token(
        &self,
        employee: EmployeeId,
        kind: TokenKind,
        token_hash: &str,
        name: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<AccessToken> {
        if !valid_hash(token_hash) {
            return Err(InboxError::invalid(
                "a token is kept as its SHA-256 in lowercase hex",
            ));
        }
        let workspace = self.workspace_of(employee).await?;
        let now = crate::db::now();
        let id = self
            .inner
            .db
            .one(q!(
                "INSERT INTO access_tokens (token_hash, kind, employee_id, workspace_id, name, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                token_hash,
                kind.as_str(),
                employee.0,
                workspace.0,
                name,
                now,
                expires_at
            ))
            .await?
            .i64("id")?;
        Ok(AccessToken {
            id,
            kind,
            employee,
            workspace,
            name: name.map(str::to_owned),
            created_at: now,
            expires_at,
            last_used_at: None,
        })
    }

    /// Issues a session or a ticket to `employee`, who the server has just authenticated (the
    /// service's own use: a sign-in, a ticket asked for with a session). The employee must be
    /// active. API keys are made with [`create_api_key`](Self::create_api_key).
    pub async fn issue_token(
        &self,
        employee: EmployeeId,
        kind: TokenKind,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<AccessToken> {
        if kind == TokenKind::ApiKey {
            return Err(InboxError::invalid(
                "API keys are created by an owner or admin",
            ));
        }
        self.check(employee, Action::ListConversations, Target::Workspace)
            .await?;
        self.insert_token(employee, kind, token_hash, None, Some(expires_at))
            .await
    }

    /// Creates an API key acting as `target` (an owner or admin of the workspace; only an
    /// owner for an owner). The key itself is shown once by the server; here only its hash.
    pub async fn create_api_key(
        &self,
        employee: EmployeeId,
        target: EmployeeId,
        token_hash: &str,
        name: &str,
    ) -> Result<AccessToken> {
        if employee == target {
            self.check(employee, Action::ManageEmployees, Target::Employee(target))
                .await?;
        }
        self.check_access_manager(employee, target).await?;
        if name.trim().is_empty() || name.len() > 128 {
            return Err(InboxError::invalid(
                "an API key needs a name (at most 128 bytes)",
            ));
        }
        let token = self
            .insert_token(target, TokenKind::ApiKey, token_hash, Some(name), None)
            .await?;
        self.audit(
            Some(token.workspace),
            Some(employee),
            "create_api_key",
            &format!("employee:{target}"),
            "done",
        )
        .await?;
        Ok(token)
    }

    /// The workspace's API keys that are not revoked (owners and admins).
    pub async fn api_keys(&self, employee: EmployeeId) -> Result<Vec<AccessToken>> {
        let actor = self
            .check(employee, Action::ManageEmployees, Target::Workspace)
            .await?;
        let rows = self
            .inner
            .db
            .all(q!(
                format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.workspace_id = $1 AND t.kind = 'api_key' AND t.revoked = 0 ORDER BY t.id"
                ),
                actor.workspace().0
            ))
            .await?;
        rows.iter().map(token_from).collect()
    }

    /// Revokes an API key of the workspace (owners and admins; only an owner an owner's).
    pub async fn revoke_api_key(&self, employee: EmployeeId, id: i64) -> Result<()> {
        let row = self
            .inner
            .db
            .opt(q!(
                "SELECT employee_id FROM access_tokens WHERE id = $1 AND kind = 'api_key'",
                id
            ))
            .await?;
        let Some(row) = row else {
            // Refused like any target that is not the actor's to see.
            self.check(employee, Action::ManageEmployees, Target::Workspace)
                .await?;
            return Err(InboxError::not_found("API key"));
        };
        let target = EmployeeId(row.i64("employee_id")?);
        if employee == target {
            self.check(employee, Action::ManageEmployees, Target::Employee(target))
                .await?;
        }
        self.check_access_manager(employee, target).await?;
        self.inner
            .db
            .exec(q!("UPDATE access_tokens SET revoked = 1 WHERE id = $1", id))
            .await?;
        let ws = self.workspace_of(target).await?;
        self.audit(
            Some(ws),
            Some(employee),
            "revoke_api_key",
            &format!("employee:{target}"),
            "done",
        )
        .await
    }

    /// The token with hash `token_hash` if it is of one of `kinds`, not revoked, not expired,
    /// and its employee active (the service's own use: authenticating a request). Its last use
    /// is recorded, at most once a minute.
    pub async fn authenticate(
        &self,
        token_hash: &str,
        kinds: &[TokenKind],
    ) -> Result<Option<AccessToken>> {
        if !valid_hash(token_hash) {
            return Ok(None);
        }
        let now = crate::db::now();
        let row = self
            .inner
            .db
            .opt(q!(
                format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens t JOIN employees e ON e.id = t.employee_id
                     WHERE t.token_hash = $1 AND t.revoked = 0 AND e.active = 1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
                ),
                token_hash,
                now
            ))
            .await?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from(&row)?;
        if !kinds.contains(&token.kind) {
            return Ok(None);
        }
        if token
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::seconds(60))
        {
            self.inner
                .db
                .exec(q!(
                    "UPDATE access_tokens SET last_used_at = $1 WHERE id = $2",
                    now,
                    token.id
                ))
                .await?;
        }
        Ok(Some(token))
    }

    /// Uses a ticket up: the first call with a valid ticket gets it, every later one `None`
    /// (the service's own use: opening an event stream).
    pub async fn consume_ticket(&self, token_hash: &str) -> Result<Option<AccessToken>> {
        let Some(token) = self.authenticate(token_hash, &[TokenKind::Ticket]).await? else {
            return Ok(None);
        };
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE access_tokens SET revoked = 1 WHERE id = $1 AND revoked = 0",
                token.id
            ))
            .await?;
        Ok((n == 1).then_some(token))
    }

    /// Revokes the token with hash `token_hash` (its holder signing out).
    pub async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        self.inner
            .db
            .exec(q!(
                "UPDATE access_tokens SET revoked = 1 WHERE token_hash = $1",
                token_hash
            ))
            .await?;
        Ok(())
    }

    /// Deletes expired and revoked sessions and tickets (API keys stay listed until revoked,
    /// then go too); returns how many rows went.
    pub async fn purge_expired_tokens(&self) -> Result<u64> {
        self.inner
            .db
            .exec(q!(
                "DELETE FROM access_tokens WHERE revoked = 1 OR (expires_at IS NOT NULL AND expires_at <= $1)",
                crate::db::now()
            ))
            .await
    }
}
