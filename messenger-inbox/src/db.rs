//! The storage layer: one SQL dialect subset, run on either backend.
//!
//! [`Db`] is SQLite (a file or memory: WAL, `BEGIN IMMEDIATE` write transactions, a busy
//! timeout, foreign keys on) or PostgreSQL (a pool shared by any number of processes). Every
//! query of the crate is written once, with `$1`-style parameters (both backends accept them),
//! integer timestamps (microseconds since the Unix epoch) and integer flags, so that the same
//! text runs on both; the few statements that differ (the outbox claim's `FOR UPDATE SKIP
//! LOCKED`, `NOTIFY`) ask [`Db::backend`]. Queries are built at run time: no database is needed
//! at build time.
//!
//! Migrations are SQL files embedded with `include_str!` and applied on open by a small
//! versioned runner (table `inbox_migrations`), in one transaction that takes the write lock up
//! front (SQLite) or an advisory lock (PostgreSQL), so two processes opening one database at
//! once apply each migration once.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Row as _, Sqlite, Transaction};

use crate::error::{InboxError, Result};

/// Binds every argument of a [`Q`] to an sqlx query, for either backend.
macro_rules! bind {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args.iter() {
            query = match arg {
                Arg::I64(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_deref()),
                Arg::Bytes(v) => query.bind(v.as_deref()),
            };
        }
        query
    }};
}

/// Which database engine a [`Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (embedded; one process writes at a time).
    Sqlite,
    /// PostgreSQL (shared by several processes).
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the inbox keeps its data.
///
/// ```
/// use messenger_inbox::DbConfig;
/// let memory = DbConfig::sqlite_memory();
/// let file = DbConfig::sqlite_file("/var/lib/crm/inbox.db");
/// let shared = DbConfig::postgres("postgres://crm:secret@127.0.0.1/crm").schema("inbox");
/// assert!(!format!("{shared:?}").contains("secret"));
/// # let _ = (memory, file);
/// ```
#[derive(Clone)]
pub struct DbConfig {
    target: Target,
    busy_timeout: Duration,
    max_connections: u32,
    acquire_timeout: Duration,
}

#[derive(Clone)]
enum Target {
    SqliteMemory,
    SqliteFile(std::path::PathBuf),
    Postgres { url: String, schema: Option<String> },
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::SqliteMemory => "sqlite::memory:".to_owned(),
            Target::SqliteFile(_) => "sqlite file".to_owned(),
            // The URL can hold a password: never shown.
            Target::Postgres { schema, .. } => format!("postgres (schema {schema:?})"),
        };
        f.debug_struct("DbConfig")
            .field("target", &target)
            .field("busy_timeout", &self.busy_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DbConfig {
    fn new(target: Target) -> Self {
        Self {
            target,
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    /// An in-memory SQLite database (one connection; gone when the inbox is dropped).
    pub fn sqlite_memory() -> Self {
        Self::new(Target::SqliteMemory)
    }

    /// A SQLite file (created if missing), in WAL mode.
    pub fn sqlite_file(path: impl Into<std::path::PathBuf>) -> Self {
        Self::new(Target::SqliteFile(path.into()))
    }

    /// A PostgreSQL database (`postgres://user:password@host:port/db`). TLS is not built in:
    /// use loopback, a Unix socket or a trusted network.
    pub fn postgres(url: impl Into<String>) -> Self {
        Self::new(Target::Postgres {
            url: url.into(),
            schema: None,
        })
    }

    /// A database from a URL: `sqlite::memory:`, `sqlite:<path>` / `sqlite://<path>`, or
    /// `postgres://...` / `postgresql://...`.
    pub fn from_url(url: &str) -> Result<Self> {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            Ok(Self::sqlite_memory())
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(InboxError::invalid("a sqlite URL needs a path"));
            }
            Ok(Self::sqlite_file(path))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::postgres(url))
        } else {
            Err(InboxError::invalid(
                "a database URL starts with sqlite: or postgres://",
            ))
        }
    }

    /// PostgreSQL only: keep every table in `schema` (created if missing); the default is the
    /// role's `search_path`. Notifications are scoped to the schema too.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        if let Target::Postgres { schema: s, .. } = &mut self.target {
            *s = Some(schema.into());
        }
        self
    }

    /// How long a SQLite writer waits for the lock before failing (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The most connections in the pool (default 8; an in-memory SQLite database has one).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// The backend this configuration opens.
    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Postgres { .. } => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

fn valid_schema(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 48
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
}

/// A pool on either backend; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// The PostgreSQL notification channel (scoped to the schema).
    channel: String,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating where needed) and migrates the database.
    pub async fn open(config: &DbConfig) -> Result<Self> {
        let db = match &config.target {
            Target::SqliteMemory | Target::SqliteFile(_) => {
                let memory = matches!(config.target, Target::SqliteMemory);
                let mut options = if let Target::SqliteFile(path) = &config.target {
                    SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                } else {
                    SqliteConnectOptions::from_str("sqlite::memory:")?
                };
                options = options
                    .busy_timeout(config.busy_timeout)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    // An in-memory database lives in its one connection: keep it forever.
                    .max_connections(if memory { 1 } else { config.max_connections })
                    .min_connections(if memory { 1 } else { 0 })
                    .idle_timeout(if memory {
                        None
                    } else {
                        Some(Duration::from_secs(600))
                    })
                    .max_lifetime(if memory {
                        None
                    } else {
                        Some(Duration::from_secs(3600))
                    })
                    .acquire_timeout(config.acquire_timeout)
                    .connect_with(options)
                    .await?;
                Db {
                    pool: Pool::Sqlite(pool),
                    channel: String::new(),
                }
            }
            Target::Postgres { url, schema } => {
                let mut options = PgConnectOptions::from_str(url)
                    .map_err(|_| InboxError::invalid("the PostgreSQL URL is malformed"))?
                    .application_name("messenger-inbox")
                    .disable_statement_logging();
                if let Some(schema) = schema {
                    if !valid_schema(schema) {
                        return Err(InboxError::invalid(
                            "a schema name is lowercase letters, digits and _ (at most 48)",
                        ));
                    }
                    // Create it with a plain connection first, then pin the pool to it.
                    let mut conn = options.clone().connect().await?;
                    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                        .execute(&mut conn)
                        .await
                        .or_else(|e| match &e {
                            // Two processes creating it at once: the loser sees a duplicate.
                            sqlx::Error::Database(d) if d.is_unique_violation() => {
                                Ok(sqlx::postgres::PgQueryResult::default())
                            }
                            _ => Err(e),
                        })?;
                    drop(conn);
                    options = options.options([("search_path", schema.as_str())]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect_with(options)
                    .await?;
                let channel = format!("messenger_inbox_{}", schema.as_deref().unwrap_or("public"));
                Db {
                    pool: Pool::Postgres(pool),
                    channel,
                }
            }
        };
        crate::migrate::run(&db).await?;
        Ok(db)
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// Closes the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken up
    /// front, so two writers never deadlock on a lock upgrade), `BEGIN` on PostgreSQL.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Runs a statement; returns the rows affected.
    pub(crate) async fn exec(&self, q: Q) -> Result<u64> {
        match &self.pool {
            Pool::Sqlite(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .execute(p)
                .await?
                .rows_affected()),
            Pool::Postgres(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .execute(p)
                .await?
                .rows_affected()),
        }
    }

    /// The rows of a query.
    pub(crate) async fn all(&self, q: Q) -> Result<Vec<Row>> {
        match &self.pool {
            Pool::Sqlite(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(Row::S)
                .collect()),
            Pool::Postgres(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(Row::P)
                .collect()),
        }
    }

    /// The first row of a query, if any.
    pub(crate) async fn opt(&self, q: Q) -> Result<Option<Row>> {
        match &self.pool {
            Pool::Sqlite(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_optional(p)
                .await?
                .map(Row::S)),
            Pool::Postgres(p) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_optional(p)
                .await?
                .map(Row::P)),
        }
    }

    /// The one row of a query (`NotFound` when none).
    pub(crate) async fn one(&self, q: Q) -> Result<Row> {
        self.opt(q)
            .await?
            .ok_or_else(|| InboxError::not_found("row"))
    }
}

/// A write transaction on either backend. Dropped without [`commit`](Tx::commit), it rolls
/// back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn exec(&mut self, q: Q) -> Result<u64> {
        match self {
            Tx::Sqlite(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .execute(&mut **t)
                .await?
                .rows_affected()),
            Tx::Postgres(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .execute(&mut **t)
                .await?
                .rows_affected()),
        }
    }

    pub(crate) async fn all(&mut self, q: Q) -> Result<Vec<Row>> {
        match self {
            Tx::Sqlite(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::S)
                .collect()),
            Tx::Postgres(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::P)
                .collect()),
        }
    }

    pub(crate) async fn opt(&mut self, q: Q) -> Result<Option<Row>> {
        match self {
            Tx::Sqlite(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_optional(&mut **t)
                .await?
                .map(Row::S)),
            Tx::Postgres(t) => Ok(bind!(sqlx::query(&q.sql), &q.args)
                .fetch_optional(&mut **t)
                .await?
                .map(Row::P)),
        }
    }

    pub(crate) async fn one(&mut self, q: Q) -> Result<Row> {
        self.opt(q)
            .await?
            .ok_or_else(|| InboxError::not_found("row"))
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// One bound value. `Debug` shows the type only (values can be content).
#[derive(Clone)]
pub(crate) enum Arg {
    I64(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// A query: SQL text (with `$1`... parameters) and its arguments, for either backend.
#[derive(Clone)]
pub(crate) struct Q {
    sql: String,
    args: Vec<Arg>,
}

impl fmt::Debug for Q {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Q")
            .field("sql", &self.sql)
            .field("args", &self.args.len())
            .finish()
    }
}

/// Anything bindable.
pub(crate) trait IntoArg {
    fn into_arg(self) -> Arg;
}
impl IntoArg for i64 {
    fn into_arg(self) -> Arg {
        Arg::I64(Some(self))
    }
}
impl IntoArg for Option<i64> {
    fn into_arg(self) -> Arg {
        Arg::I64(self)
    }
}
impl IntoArg for bool {
    fn into_arg(self) -> Arg {
        Arg::I64(Some(i64::from(self)))
    }
}
impl IntoArg for &str {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self.to_owned()))
    }
}
impl IntoArg for String {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self))
    }
}
impl IntoArg for &String {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self.clone()))
    }
}
impl IntoArg for Option<String> {
    fn into_arg(self) -> Arg {
        Arg::Text(self)
    }
}
impl IntoArg for Option<&str> {
    fn into_arg(self) -> Arg {
        Arg::Text(self.map(str::to_owned))
    }
}
impl IntoArg for Option<Vec<u8>> {
    fn into_arg(self) -> Arg {
        Arg::Bytes(self)
    }
}
impl IntoArg for DateTime<Utc> {
    fn into_arg(self) -> Arg {
        Arg::I64(Some(micros(self)))
    }
}
impl IntoArg for Option<DateTime<Utc>> {
    fn into_arg(self) -> Arg {
        Arg::I64(self.map(micros))
    }
}

impl Q {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    pub(crate) fn bind(mut self, arg: impl IntoArg) -> Self {
        self.args.push(arg.into_arg());
        self
    }
}

/// Shorthand: `q!("SQL", a, b)`.
macro_rules! q {
    ($sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::db::Q::new($sql)$(.bind($arg))*
    };
}
pub(crate) use q;

/// A row from either backend, read by column name.
pub(crate) enum Row {
    S(SqliteRow),
    P(PgRow),
}

impl Row {
    pub(crate) fn i64(&self, col: &str) -> Result<i64> {
        Ok(match self {
            Row::S(r) => r.try_get::<i64, _>(col)?,
            Row::P(r) => r.try_get::<i64, _>(col)?,
        })
    }
    pub(crate) fn opt_i64(&self, col: &str) -> Result<Option<i64>> {
        Ok(match self {
            Row::S(r) => r.try_get::<Option<i64>, _>(col)?,
            Row::P(r) => r.try_get::<Option<i64>, _>(col)?,
        })
    }
    pub(crate) fn bool(&self, col: &str) -> Result<bool> {
        Ok(self.i64(col)? != 0)
    }
    pub(crate) fn text(&self, col: &str) -> Result<String> {
        Ok(match self {
            Row::S(r) => r.try_get::<String, _>(col)?,
            Row::P(r) => r.try_get::<String, _>(col)?,
        })
    }
    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(match self {
            Row::S(r) => r.try_get::<Option<String>, _>(col)?,
            Row::P(r) => r.try_get::<Option<String>, _>(col)?,
        })
    }
    pub(crate) fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>> {
        Ok(match self {
            Row::S(r) => r.try_get::<Option<Vec<u8>>, _>(col)?,
            Row::P(r) => r.try_get::<Option<Vec<u8>>, _>(col)?,
        })
    }
    pub(crate) fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        from_micros(self.i64(col)?)
    }
    pub(crate) fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.opt_i64(col)?.map(from_micros).transpose()
    }
}

/// Microseconds since the Unix epoch: how every timestamp is stored.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored timestamp back to a time; a value out of range is a storage error, not a panic.
pub(crate) fn from_micros(v: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_micros(v)
        .single()
        .ok_or_else(|| InboxError::storage("a stored timestamp is out of range"))
}

/// Now, truncated to whole microseconds (what the database keeps).
pub(crate) fn now() -> DateTime<Utc> {
    from_micros(micros(Utc::now())).unwrap_or_else(|_| Utc::now())
}

/// `LIKE` pattern for a substring, escaping `%`, `_` and `\` (used with `ESCAPE '\'`).
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
