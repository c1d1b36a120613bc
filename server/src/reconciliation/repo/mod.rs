//! SQL of reconciliation runs (queue, claims, leases); the provider records they stage and
//! the items they find are in `staging` and `items`.

mod filings;
mod items;
mod labels;
mod schedule;
mod staging;

pub use filings::*;
pub use items::*;
pub use labels::*;
pub use schedule::*;
pub use staging::*;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, StoreId},
};

/// A run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub status: String,
    pub phase: String,
    pub cursor: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub examined: i64,
    pub matched: i64,
    pub exceptions: i64,
    pub summary: Option<String>,
    pub last_error: Option<String>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

const RUN_COLUMNS: &str = "id, store_id, environment, period_from, period_to, as_of, status, \
    phase, cursor, locked_until, attempts, examined, matched, exceptions, summary, last_error, \
    requested_by, created_at, started_at, completed_at, duration_ms";

/// Queues a run unless one for the same store, environment and period is active (`false`).
pub async fn insert_run(db: &Db, run: &RunRow) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO reconciliation_runs (id, store_id, environment, period_from, \
        period_to, as_of, status, phase, requested_by, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, 'queued', 'provider', $7, $8) ON CONFLICT DO NOTHING";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(run.id).bind(run.store_id)
        .bind(run.environment).bind(run.period_from).bind(run.period_to).bind(run.as_of)
        .bind(&run.requested_by).bind(run.created_at).execute(pool).await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A run (of the store and environment when given).
pub async fn run(
    db: &Db,
    scope: Option<(StoreId, Environment)>,
    id: Uuid,
) -> Result<Option<RunRow>, DbError> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM reconciliation_runs WHERE id = $1 \
         AND ($2 IS NULL OR (store_id = $2 AND environment = $3))"
    );
    let (store, env) = match scope {
        Some((s, e)) => (Some(s), Some(e)),
        None => (None, None),
    };
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// Runs newest first, before `before` (keyset), of the store and environment when given.
pub async fn runs(
    db: &Db,
    scope: Option<(StoreId, Environment)>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RunRow>, DbError> {
    let (store, env) = match scope {
        Some((s, e)) => (Some(s), Some(e)),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM reconciliation_runs \
         WHERE ($1 IS NULL OR (store_id = $1 AND environment = $2)) AND ($3 IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(env).bind(before).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// Claims the oldest queued run, or a running one whose lease expired.
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
) -> Result<Option<RunRow>, DbError> {
    let pick = "SELECT id FROM reconciliation_runs WHERE status = 'queued' \
        OR (status = 'running' AND locked_until <= $1) ORDER BY created_at, id LIMIT 1";
    let sql = |lock: &str| {
        format!(
            "UPDATE reconciliation_runs SET status = 'running', locked_until = $2, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $1) \
             WHERE id IN ({pick}{lock}) RETURNING {RUN_COLUMNS}"
        )
    };
    Ok(match db {
        Db::Postgres(pool) => {
            sqlx::query_as(&sql(" FOR UPDATE SKIP LOCKED"))
                .bind(now)
                .bind(lease)
                .fetch_optional(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(&sql(""))
                .bind(now)
                .bind(lease)
                .fetch_optional(pool)
                .await
        }
    }?)
}

/// What one batch moved a run to.
pub struct Advance<'a> {
    pub phase: &'a str,
    pub cursor: Option<String>,
    pub examined: i64,
    pub matched: i64,
    pub exceptions: i64,
    pub lease: DateTime<Utc>,
}

/// Moves a run on, in the batch's transaction, while `held` is still its lease (`false`: the
/// lease was lost to another runner, and the batch must not commit).
pub async fn advance(
    tx: &mut Tx,
    id: Uuid,
    held: DateTime<Utc>,
    a: &Advance<'_>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE reconciliation_runs SET phase = $3, cursor = $4, \
        examined = examined + $5, matched = matched + $6, exceptions = exceptions + $7, \
        locked_until = $8 WHERE id = $1 AND status = 'running' AND locked_until = $2";
    let n = on_tx!(tx, conn => sqlx::query(SQL).bind(id).bind(held).bind(a.phase)
        .bind(&a.cursor).bind(a.examined).bind(a.matched).bind(a.exceptions).bind(a.lease)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// How a run ended.
pub struct Ending<'a> {
    /// `completed` or `failed`.
    pub status: &'a str,
    /// Exceptions per kind and currency (completed).
    pub summary: Option<&'a str>,
    /// Why it failed.
    pub error: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub duration_ms: i64,
}

/// Extends a run's lease while `held` is still it (`false`: another runner has the run).
pub async fn renew(
    db: &Db,
    id: Uuid,
    held: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE reconciliation_runs SET locked_until = $3 \
        WHERE id = $1 AND status = 'running' AND locked_until = $2";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(held).bind(until).execute(pool)
        .await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Ends a run in `tx` while `held` is still its lease, and drops what it staged (its items keep
/// both sides' values): the staging table holds only the runs in progress. The run as it ended,
/// or `None` when another runner holds it.
pub async fn finish(
    tx: &mut Tx,
    id: Uuid,
    held: DateTime<Utc>,
    e: &Ending<'_>,
) -> Result<Option<RunRow>, DbError> {
    let sql = format!(
        "UPDATE reconciliation_runs SET status = $3, summary = $4, last_error = $5, \
         completed_at = $6, duration_ms = $7, locked_until = NULL \
         WHERE id = $1 AND status = 'running' AND locked_until = $2 RETURNING {RUN_COLUMNS}"
    );
    const DROP: &str = "DELETE FROM reconciliation_provider_records WHERE run_id = $1";
    let ended: Option<RunRow> = on_tx!(&mut *tx, conn => sqlx::query_as(&sql).bind(id).bind(held)
        .bind(e.status).bind(e.summary).bind(e.error).bind(e.at).bind(e.duration_ms)
        .fetch_optional(&mut *conn).await)?;
    if ended.is_some() {
        on_tx!(tx, conn => sqlx::query(DROP).bind(id).execute(&mut *conn).await.map(|_| ()))?;
    }
    Ok(ended)
}

/// Refreshes the planner's statistics of the staging table once a run has staged its lists
/// (PostgreSQL): planned while the table was nearly empty, the lookups by id would filter every
/// staged record of the run instead of using the index (measured: 0.5 s per batch at 50,000
/// records, quadratic over a run). SQLite plans `IN` lists on the index without statistics.
pub async fn analyze_staging(db: &Db) -> Result<(), DbError> {
    if let Db::Postgres(pool) = db {
        sqlx::query("ANALYZE reconciliation_provider_records")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Records why a run's last attempt stopped (best effort; the run is retried after its lease).
pub async fn note_error(db: &Db, id: Uuid, error: &str) -> Result<(), DbError> {
    const SQL: &str = "UPDATE reconciliation_runs SET last_error = $2 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(error).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Stores and environments with payments, shipments or tax transactions created in a period.
pub async fn stores_with_activity(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(StoreId, Environment)>, DbError> {
    const SQL: &str = "SELECT store_id, environment FROM payment_intents \
        WHERE created_at >= $1 AND created_at < $2 \
        UNION SELECT store_id, environment FROM shipments \
        WHERE created_at >= $1 AND created_at < $2 \
        UNION SELECT store_id, environment FROM tax_transactions \
        WHERE created_at >= $1 AND created_at < $2";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(from).bind(to).fetch_all(pool).await)?)
}

/// Which of these stores exist.
pub async fn existing_stores(db: &Db, ids: &[StoreId]) -> Result<Vec<StoreId>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(ids.len(), 1);
    let sql = format!("SELECT id FROM stores WHERE id IN ({})", placeholders);
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_scalar(&sql).persistent(false);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

pub(super) use crate::db::{in_list, values};

/// Rows per multi-row statement (parameters stay far below both databases' limits).
pub(super) const CHUNK: usize = 50;
