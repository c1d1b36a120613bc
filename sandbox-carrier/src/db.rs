//! The carrier's storage: a pool over SQLite or PostgreSQL, and the schema it owns.
//!
//! Queries are written once in the portable SQL subset (`$1` placeholders, `RETURNING` with
//! explicit columns, `ON CONFLICT`, partial indexes) and run on whichever pool is active
//! through `on_db!`. Timestamps are `TEXT` (RFC 3339, as sqlx stores them) on SQLite and
//! `timestamptz` on PostgreSQL; JSON documents are `text` on both.

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
pub enum CarrierDb {
    /// SQLite (WAL, full durability, busy timeout when [`CarrierDb::connect`] opened it).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool `$db` holds (type-checked for both).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::CarrierDb::Sqlite($pool) => $body,
            $crate::db::CarrierDb::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// The schema, with `{money}` and `{time}` standing for each engine's spelling.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_rates (
        id              text PRIMARY KEY,
        account         text NOT NULL,
        service         text NOT NULL,
        amount          {money} NOT NULL CHECK (amount > 0),
        currency        text NOT NULL,
        estimated_days  integer NOT NULL,
        from_address    text NOT NULL,
        to_address      text NOT NULL,
        packages        text NOT NULL,
        created_at      {time} NOT NULL,
        expires_at      {time} NOT NULL,
        label_id        text
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_carrier_rates_expires ON sandbox_carrier_rates (expires_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_labels (
        id               text PRIMARY KEY,
        account          text NOT NULL,
        rate_id          text NOT NULL UNIQUE,
        reference        text,
        service          text NOT NULL,
        amount           {money} NOT NULL,
        currency         text NOT NULL,
        tracking_number  text NOT NULL UNIQUE,
        status           text NOT NULL CHECK (status IN ('purchased', 'voided')),
        packages         integer NOT NULL,
        created_at       {time} NOT NULL,
        void_deadline    {time} NOT NULL,
        updated_at       {time} NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_carrier_labels_account ON sandbox_carrier_labels (account, id)",
    // A label's timeline: scheduled rows (`occurred_at` NULL) become events when recorded.
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_events (
        label_id     text NOT NULL,
        sequence     integer NOT NULL,
        code         text NOT NULL,
        description  text NOT NULL,
        location     text,
        due_at       {time} NOT NULL,
        occurred_at  {time},
        PRIMARY KEY (label_id, sequence)
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_carrier_events_due ON sandbox_carrier_events (due_at) \
     WHERE occurred_at IS NULL",
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_requests (
        account          text NOT NULL,
        idempotency_key  text NOT NULL,
        request_hash     text NOT NULL,
        response_status  integer NOT NULL,
        response_body    text NOT NULL,
        created_at       {time} NOT NULL,
        PRIMARY KEY (account, idempotency_key)
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_carrier_requests_created ON sandbox_carrier_requests (created_at)",
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_endpoints (
        id          text PRIMARY KEY,
        account     text NOT NULL UNIQUE,
        url         text NOT NULL,
        secret      text NOT NULL,
        created_at  {time} NOT NULL
    )",
    // The webhook outbox: one row per event, retried until delivered or out of attempts.
    "CREATE TABLE IF NOT EXISTS sandbox_carrier_deliveries (
        id               text PRIMARY KEY,
        account          text NOT NULL,
        event_type       text NOT NULL,
        body             text NOT NULL,
        status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
        attempts         integer NOT NULL,
        next_attempt_at  {time} NOT NULL,
        created_at       {time} NOT NULL,
        updated_at       {time} NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sandbox_carrier_deliveries_due ON sandbox_carrier_deliveries \
     (next_attempt_at) WHERE status = 'pending'",
];

/// Key of the PostgreSQL advisory lock that serializes concurrent [`CarrierDb::ensure_schema`]
/// calls: two `CREATE TABLE IF NOT EXISTS` racing can both pass the check and one then fails.
const SCHEMA_LOCK: i64 = 0x5343_5253_4348; // "SCRSCH"

fn statements(money: &str, time: &str) -> impl Iterator<Item = String> {
    SCHEMA
        .iter()
        .map(move |s| s.replace("{money}", money).replace("{time}", time))
}

impl CarrierDb {
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
            Ok(CarrierDb::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(CarrierDb::Postgres(pool))
        } else {
            Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres:".into(),
            ))
        }
    }

    /// Creates the carrier's tables and indexes where missing, in one transaction. Idempotent;
    /// a host sharing its database with the carrier calls it at start-up (the tables are the
    /// carrier's alone, no migration of the host's creates them).
    pub async fn ensure_schema(&self) -> Result<(), sqlx::Error> {
        match self {
            CarrierDb::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for statement in statements("INTEGER", "TEXT") {
                    sqlx::query(&statement).execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            CarrierDb::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SCHEMA_LOCK)
                    .execute(&mut *tx)
                    .await?;
                for statement in statements("bigint", "timestamptz") {
                    sqlx::query(&statement).execute(&mut *tx).await?;
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
            CarrierDb::Sqlite(_) => "BEGIN IMMEDIATE",
            CarrierDb::Postgres(_) => "BEGIN",
        }
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}
