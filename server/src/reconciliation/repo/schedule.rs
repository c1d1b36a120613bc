//! SQL of the stores' daily reconciliation times.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, StoreId},
};

/// A store's schedule as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub daily_at: i32,
    pub enabled: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn schedule(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Option<ScheduleRow>, DbError> {
    const SQL: &str = "SELECT daily_at, enabled, updated_by, updated_at \
        FROM reconciliation_schedules WHERE store_id = $1 AND environment = $2";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_optional(pool).await)?)
}

pub async fn put_schedule(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    row: &ScheduleRow,
) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO reconciliation_schedules (store_id, environment, daily_at, \
        enabled, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
        ON CONFLICT (store_id, environment) DO UPDATE SET daily_at = excluded.daily_at, \
        enabled = excluded.enabled, updated_by = excluded.updated_by, \
        updated_at = excluded.updated_at";
    on_tx!(tx, conn => sqlx::query(SQL).bind(store).bind(env).bind(row.daily_at)
        .bind(row.enabled).bind(&row.updated_by).bind(row.updated_at)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// The stores and environments whose run of `[from, to)` is due: they had payments, shipments
/// or tax transactions then, their
/// schedule is enabled and its time of day (`minute` after midnight, UTC) has come, and no run
/// of that period exists (a failed one included: the scheduler never queues a period again, a
/// person can). One statement, whatever the number of stores.
pub async fn due_stores(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    minute: i32,
) -> Result<Vec<(StoreId, Environment)>, DbError> {
    const SQL: &str = "SELECT p.store_id, p.environment FROM \
        (SELECT store_id, environment FROM payment_intents \
         WHERE created_at >= $1 AND created_at < $2 \
         UNION SELECT store_id, environment FROM shipments \
         WHERE created_at >= $1 AND created_at < $2 \
         UNION SELECT store_id, environment FROM tax_transactions \
         WHERE created_at >= $1 AND created_at < $2) p \
        LEFT JOIN reconciliation_schedules s \
          ON s.store_id = p.store_id AND s.environment = p.environment \
        WHERE COALESCE(s.enabled, TRUE) AND COALESCE(s.daily_at, 0) <= $3 \
        AND NOT EXISTS (SELECT 1 FROM reconciliation_runs r WHERE r.store_id = p.store_id \
          AND r.environment = p.environment AND r.period_from = $1 AND r.period_to = $2)";
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(from).bind(to).bind(minute)
        .fetch_all(pool).await)?,
    )
}
