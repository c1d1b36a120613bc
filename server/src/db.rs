//! Storage: one pool type over SQLite or PostgreSQL, chosen at run time, with one code path.
//!
//! Queries are written once in the portable SQL subset (`$1` placeholders, `RETURNING` with
//! explicit columns, `ON CONFLICT`) and run on whichever pool is active through [`on_db!`],
//! which type-checks the body against both drivers. Where the dialects really differ, a named
//! method on [`Db`] hides the difference.

pub mod held;
mod primary;
mod writes;

use std::{path::Path, str::FromStr, time::Duration};

pub use crate::pg_url::{PgTargets, PgUrlError, SessionAttrs};
use primary::Failover;
use sqlx::{
    migrate::Migrator,
    postgres::{PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
pub use writes::{Counts, Part, Slot, Writes};

use crate::{
    config::{Backend, DatabaseConfig},
    secret::DatabaseUrl,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// How long SQLite waits on a locked database before reporting `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled PostgreSQL connection idle this long is pinged before it is handed out (one that
/// died meanwhile, in a restart or a failover, is replaced instead of failing a request). One
/// busy under load is not: sqlx's default pings on every acquire, a round trip per statement
/// outside a transaction, about a third of a payment's round trips.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Pings `conn` when it has been idle for [`IDLE_BEFORE_PING`] (see there); an error drops it.
fn ping_if_idle(
    conn: &mut sqlx::PgConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= IDLE_BEFORE_PING {
            sqlx::Connection::ping(conn).await?;
        }
        Ok(true)
    })
}

/// A connection pool on the configured backend.
#[derive(Clone, Debug)]
pub enum Db {
    /// Embedded SQLite file (WAL, foreign keys, busy timeout, full durability).
    Sqlite(SqlitePool),
    /// PostgreSQL server.
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool `$db` holds.
///
/// ```ignore
/// let n: i64 = on_db!(&db, pool => sqlx::query_scalar("SELECT 1").fetch_one(pool).await)?;
/// ```
///
/// On PostgreSQL `$pool` is a connection: the request's held one (see [`held`]) or a new one,
/// kept for the request's next statement when this one succeeded. The body therefore runs one
/// statement (several belong in a [`Tx`]) and returns a `Result` whose error converts from
/// `sqlx::Error`. For what is not a statement, match on [`Db`].
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres(pool) => match $crate::db::held::acquire(pool).await {
                Ok(mut conn) => {
                    let result = {
                        let $pool = &mut *conn;
                        $body
                    };
                    $crate::db::held::keep_after(conn, &result);
                    result
                }
                Err(err) => Err(err.into()),
            },
        }
    };
}

/// An open database transaction on the configured backend. Flows open one with
/// [`Db::begin_write`] (or [`Db::begin_read`]) and hand `&mut Tx` to repository functions, so a
/// flow's statements share one transaction without knowing which driver runs them.
#[derive(Debug)]
pub enum Tx {
    /// A SQLite transaction.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A PostgreSQL transaction, on the request's held connection when it holds one.
    Postgres(held::PgTx),
}

/// Runs the same expression against the connection of whichever transaction `$tx` holds:
/// `$conn` is a `&mut` connection of that driver (reborrow it with `&mut *conn` to use it
/// more than once). Only repository code uses it.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls the transaction back (dropping it does the same, later).
    pub async fn rollback(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// See [`Db::lock_for_update_sql`].
    pub fn lock_for_update_sql(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }
}

/// Failures of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be reached at start-up.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL, password masked.
        url: DatabaseUrl,
        /// What the driver reported.
        source: sqlx::Error,
    },
    /// The folder for the SQLite file could not be created.
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: String,
        /// What the OS reported.
        source: std::io::Error,
    },
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database is unreachable or the pool is exhausted: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// SQLite's write lock stayed with another connection or process past the busy timeout
    /// (`SQLITE_BUSY`, `SQLITE_LOCKED`): nothing was written; worth retrying shortly.
    #[error("database busy: {0}")]
    Busy(#[source] sqlx::Error),
    /// The database has no room left (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`): the
    /// statement's transaction is rolled back, nothing was written; retry once space is freed.
    #[error("database storage full: {0}")]
    Full(#[source] sqlx::Error),
    /// A query failed for another reason.
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(err),
            sqlx::Error::Database(ref db) => match storage_condition(db.as_ref()) {
                Some(StorageCondition::Busy) => DbError::Busy(err),
                Some(StorageCondition::Full) => DbError::Full(err),
                Some(StorageCondition::Gone) => DbError::Unavailable(err),
                None => DbError::Query(err),
            },
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    /// Whether a unique index refused the statement's row.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Query(sqlx::Error::Database(err)) if err.is_unique_violation())
    }
}

/// A write's result with a row a unique index refused as `None`: for writes whose duplicate
/// is an answer (the same key raced us, the SKU is taken), not a failure.
pub fn unless_duplicate<T, E: Into<DbError>>(result: Result<T, E>) -> Result<Option<T>, DbError> {
    match result.map_err(Into::into) {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_unique_violation() => Ok(None),
        Err(err) => Err(err),
    }
}

/// A database error that says the storage, not the statement, is the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageCondition {
    Busy,
    Full,
    /// The server is shutting down, starting up, unreachable, or no longer the primary.
    Gone,
}

/// SQLite reports extended result codes (the primary code in the low byte: `SQLITE_BUSY` 5,
/// `SQLITE_LOCKED` 6, `SQLITE_FULL` 13); PostgreSQL a SQLSTATE (`53100` disk_full). Which
/// driver answered decides how the code reads: a SQLSTATE can be all digits too.
///
/// PostgreSQL also says so when it goes away under a running query: class `08` (connection
/// exception), `57P01`-`57P03` (shutdown, crash, still starting) and `25006` (a write on a
/// server that has become a standby). Those are outages, answered `503` and retried like a
/// dropped connection, not statement errors.
fn storage_condition(err: &dyn sqlx::error::DatabaseError) -> Option<StorageCondition> {
    let code = err.code()?;
    if err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return match code.parse::<i32>().ok()? & 0xff {
            5 | 6 => Some(StorageCondition::Busy),
            13 => Some(StorageCondition::Full),
            _ => None,
        };
    }
    match &*code {
        "53100" => Some(StorageCondition::Full),
        "57P01" | "57P02" | "57P03" | "25006" => Some(StorageCondition::Gone),
        c if c.starts_with("08") => Some(StorageCondition::Gone),
        _ => None,
    }
}

impl Db {
    /// Opens a pool for `config`. For SQLite the file and its folder are created if missing.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbError> {
        let connect_err = |source| DbError::Connect {
            url: config.url.clone(),
            source,
        };
        match config.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(config.url.expose())
                    .map_err(connect_err)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                if let Some(parent) = options.get_filename().parent() {
                    create_dir(parent)?;
                }
                // The file does not hang up: a ping on every acquire would only cost a trip
                // to the connection's worker thread.
                let pool = SqlitePoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Ok(Db::Sqlite(pool))
            }
            Backend::Postgres => {
                let targets = PgTargets::parse(config.url.expose())
                    .map_err(|e| connect_err(sqlx::Error::Configuration(e.into())))?;
                let pool_options = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .test_before_acquire(false);
                if targets.is_plain() {
                    let options = targets.hosts[0].options.clone();
                    let pool = pool_options
                        .before_acquire(ping_if_idle)
                        .connect_with(options)
                        .await
                        .map_err(connect_err)?;
                    return Ok(Db::Postgres(pool));
                }
                // A host list or a condition on the server: start on the first host that
                // qualifies, and follow the primary from then on.
                let failover = Failover::new(targets);
                let deadline = std::time::Instant::now() + config.acquire_timeout;
                let (index, monitor) = failover
                    .find_until(deadline)
                    .await
                    .map_err(|e| connect_err(sqlx::Error::Configuration(e.into())))?;
                failover.start_at(index);
                let options = failover.host_options(index);
                let pool = failover
                    .guard(pool_options)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                failover.spawn_watcher(pool.clone(), monitor);
                Ok(Db::Postgres(pool))
            }
        }
    }

    /// Which engine this pool talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations of this backend's folder.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Number of migrations this binary knows for its backend.
    pub fn known_migrations(&self) -> usize {
        match self {
            Db::Sqlite(_) => SQLITE_MIGRATIONS.iter().count(),
            Db::Postgres(_) => POSTGRES_MIGRATIONS.iter().count(),
        }
    }

    /// Number of migrations applied successfully to the database.
    pub async fn applied_migrations(&self) -> Result<i64, DbError> {
        const SQL: &str = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE";
        let count: i64 = on_db!(self, pool => sqlx::query_scalar(SQL).fetch_one(pool).await)?;
        Ok(count)
    }

    /// The statement that opens a transaction which will write. SQLite needs `BEGIN IMMEDIATE`:
    /// a deferred transaction that reads first cannot upgrade to a writer once another writer
    /// committed (`SQLITE_BUSY` at once, the busy timeout does not apply).
    pub fn begin_write_sql(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        }
    }

    /// Opens a transaction that will write (see [`Db::begin_write_sql`]).
    pub async fn begin_write(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with(self.begin_write_sql()).await?),
            Db::Postgres(pool) => {
                Tx::Postgres(held::PgTx::begin(pool, self.begin_write_sql()).await?)
            }
        })
    }

    /// Opens a transaction that only reads (a consistent snapshot on PostgreSQL).
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(held::PgTx::begin(pool, "BEGIN").await?),
        })
    }

    /// Suffix of a `SELECT` that reads a row the same transaction will update. PostgreSQL
    /// takes the row lock now (`FOR UPDATE`), so concurrent writers queue instead of failing
    /// their compare-and-set; SQLite's `BEGIN IMMEDIATE` already serializes writers.
    pub fn lock_for_update_sql(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE",
        }
    }

    /// An expression for the UTC calendar day (`YYYY-MM-DD`) of a timestamp column.
    pub fn utc_day_sql(&self, column: &str) -> String {
        match self {
            // sqlx stores SQLite timestamps as RFC 3339 text in UTC: the day is its prefix.
            Db::Sqlite(_) => format!("substr({column}, 1, 10)"),
            Db::Postgres(_) => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// How long the readiness probe waits before declaring the database unreachable, so a hung
    /// database turns readiness red instead of hanging the probe.
    pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

    /// The readiness probe: [`Db::ping`] within [`Db::PROBE_TIMEOUT`].
    pub async fn probe(&self) -> Result<(), DbError> {
        match tokio::time::timeout(Self::PROBE_TIMEOUT, self.ping()).await {
            Ok(result) => result,
            Err(_) => Err(DbError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Round-trips a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Connections currently open and idle, for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Db::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Db::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

fn create_dir(path: &Path) -> Result<(), DbError> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|source| DbError::DataDir {
        path: path.display().to_string(),
        source,
    })
}

/// `text` as a `LIKE` pattern that matches it anywhere, its own `%`, `_` and backslash taken
/// literally (the query says `ESCAPE` backslash), lower-cased like the column it is compared
/// with. SQLite's `lower()` folds ASCII only, so there a non-ASCII letter matches its own case.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `$first, …` for an `IN` list of `count` parameters.
pub fn in_list(count: usize, first: usize) -> String {
    (0..count)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sql` with each parameter `$n` renumbered `$(n + by)`: a statement written on its own,
/// placed after `by` other parameters (one of several parts of a single statement). Every
/// `$` followed by digits is renumbered, inside quotes too: the parts must not hold such text.
pub fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            digits.push(d);
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// `($1, …, $n), (…)` for `rows` rows of `width` parameters from `$first`.
pub fn values(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_shift_by_their_number_not_their_text() {
        assert_eq!(
            shift_placeholders("VALUES ($1, $2, 'a$', $10, $9)", 16),
            "VALUES ($17, $18, 'a$', $26, $25)"
        );
        assert_eq!(shift_placeholders("no parameters", 3), "no parameters");
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |m: &Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        let sqlite = versions(&SQLITE_MIGRATIONS);
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite,
            versions(&POSTGRES_MIGRATIONS),
            "migrations/sqlite and migrations/postgres must have the same versions and names"
        );
    }

    #[tokio::test]
    async fn text_values_round_trip_and_unknown_text_is_an_error() {
        use crate::types::Environment;
        let db = Db::connect(&DatabaseConfig::from_url("sqlite::memory:".to_owned()).unwrap())
            .await
            .unwrap();
        let mut tx = db.begin_read().await.unwrap();
        let back: Environment = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT $1")
            .bind(Environment::Production)
            .fetch_one(&mut *conn)
            .await)
        .unwrap();
        assert_eq!(back, Environment::Production);
        let unknown: Result<Environment, _> = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT 'staging'")
            .fetch_one(&mut *conn)
            .await);
        assert!(unknown.is_err(), "unknown text must not decode");
        tx.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn sqlite_file_is_created_with_wal_and_foreign_keys() {
        let dir = std::env::temp_dir().join(format!("cassa-store-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}", dir.join("nested/cassa.db").display());
        let db = Db::connect(&DatabaseConfig::from_url(url).unwrap())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db.ping().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            panic!("expected sqlite")
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(
            db.applied_migrations().await.unwrap(),
            db.known_migrations() as i64
        );
        db.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
