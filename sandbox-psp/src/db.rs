//! The PSP's storage: a pool over SQLite or PostgreSQL, and the schema it owns.
//!
//! Queries are written once in the portable SQL subset (`$1` placeholders, `RETURNING` with
//! explicit columns, `ON CONFLICT`) and run on whichever pool is active through `on_db!`.

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

/// How long SQLite waits on a locked database before reporting `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection pool on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub enum PspDb {
    /// SQLite (WAL, full durability, busy timeout when [`PspDb::connect`] opened it).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool `$db` holds (type-checked for both).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::PspDb::Sqlite($pool) => $body,
            $crate::db::PspDb::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// The schema on SQLite: what Cassa's migrations 0008, 0011, 0012 and 0014 created, column for
/// column and index for index, so that on a database they migrated every statement is a no-op.
const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sandbox_psp_payments (
        id              text PRIMARY KEY,
        account         text NOT NULL,
        amount          INTEGER NOT NULL CHECK (amount > 0),
        currency        text NOT NULL,
        payment_method  text NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
        failure_code    text,
        captured        INTEGER NOT NULL DEFAULT 0,
        refunded        INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        reference       text,
        released        INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_payments_account ON sandbox_psp_payments (account, id)",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_payments_updated ON sandbox_psp_payments (updated_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_psp_requests (
        account          text NOT NULL,
        idempotency_key  text NOT NULL,
        request_hash     text NOT NULL,
        response_status  integer NOT NULL,
        response_body    text NOT NULL,
        created_at       TEXT NOT NULL,
        PRIMARY KEY (account, idempotency_key)
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_requests_created ON sandbox_psp_requests (created_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_psp_endpoints (
        account     text PRIMARY KEY,
        url         text NOT NULL,
        secret      text NOT NULL,
        updated_at  TEXT NOT NULL
    )",
];

/// The same schema on PostgreSQL (`bigint` money, `timestamptz` times).
const POSTGRES_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sandbox_psp_payments (
        id              text PRIMARY KEY,
        account         text NOT NULL,
        amount          bigint NOT NULL CHECK (amount > 0),
        currency        text NOT NULL,
        payment_method  text NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
        failure_code    text,
        captured        bigint NOT NULL DEFAULT 0,
        refunded        bigint NOT NULL DEFAULT 0,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL,
        reference       text,
        released        bigint NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_payments_account ON sandbox_psp_payments (account, id)",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_payments_updated ON sandbox_psp_payments (updated_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_psp_requests (
        account          text NOT NULL,
        idempotency_key  text NOT NULL,
        request_hash     text NOT NULL,
        response_status  integer NOT NULL,
        response_body    text NOT NULL,
        created_at       timestamptz NOT NULL,
        PRIMARY KEY (account, idempotency_key)
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_psp_requests_created ON sandbox_psp_requests (created_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_psp_endpoints (
        account     text PRIMARY KEY,
        url         text NOT NULL,
        secret      text NOT NULL,
        updated_at  timestamptz NOT NULL
    )",
];

/// Key of the PostgreSQL advisory lock that serializes concurrent [`PspDb::ensure_schema`]
/// calls: two `CREATE TABLE IF NOT EXISTS` racing can both pass the check and one then fails.
const SCHEMA_LOCK: i64 = 0x5053_5053_4348; // "PSPSCH"

impl PspDb {
    /// Opens a pool for `url` (`sqlite://path` or `postgres://…`). A SQLite file and its folder
    /// are created if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let folder = options.get_filename().parent().map(ToOwned::to_owned);
            if let Some(folder) = folder.filter(|f| !f.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder)?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(PspDb::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(PspDb::Postgres(pool))
        } else {
            Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres:".into(),
            ))
        }
    }

    /// Creates the PSP's tables and indexes where missing, in one transaction. Idempotent, and
    /// a no-op on a database whose tables Cassa's migrations created.
    pub async fn ensure_schema(&self) -> Result<(), sqlx::Error> {
        match self {
            PspDb::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for statement in SQLITE_SCHEMA {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            PspDb::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SCHEMA_LOCK)
                    .execute(&mut *tx)
                    .await?;
                for statement in POSTGRES_SCHEMA {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                tx.commit().await
            }
        }
    }

    /// The statement that opens a transaction which will write. SQLite needs `BEGIN IMMEDIATE`:
    /// a deferred transaction that reads first cannot upgrade to a writer once another writer
    /// committed (`SQLITE_BUSY` at once, the busy timeout does not apply).
    pub(crate) fn begin_write_sql(&self) -> &'static str {
        match self {
            PspDb::Sqlite(_) => "BEGIN IMMEDIATE",
            PspDb::Postgres(_) => "BEGIN",
        }
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}
