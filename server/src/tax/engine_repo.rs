//! SQL of the tax engine settings and the filings outbox.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, OrderId, StoreId},
};

/// A store's engine settings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettingsRow {
    pub engine: String,
    pub fallback: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn settings(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Option<SettingsRow>, DbError> {
    const SQL: &str = "SELECT engine, fallback, updated_at FROM tax_settings \
        WHERE store_id = $1 AND environment = $2";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_optional(pool).await)?)
}

pub async fn put_settings(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    engine: &str,
    fallback: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO tax_settings (store_id, environment, engine, fallback, \
        updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
        ON CONFLICT (store_id, environment) DO UPDATE SET engine = excluded.engine, \
        fallback = excluded.fallback, updated_by = excluded.updated_by, \
        updated_at = excluded.updated_at";
    on_tx!(tx, conn => sqlx::query(SQL).bind(store).bind(env).bind(engine).bind(fallback)
        .bind(actor).bind(at).execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// A filing to send, written with its tax transaction.
pub struct NewFiling<'a> {
    pub id: Uuid,
    pub store: StoreId,
    pub env: Environment,
    pub order: OrderId,
    pub engine: &'a str,
    pub kind: &'a str,
    pub document: String,
    pub at: DateTime<Utc>,
}

pub async fn insert_filing(tx: &mut Tx, f: &NewFiling<'_>) -> Result<(), DbError> {
    // Numbered under the payment's lock, which the settling transaction holds.
    const SQL: &str = "INSERT INTO tax_engine_calls (id, store_id, environment, order_id, seq, \
        engine, kind, document, status, attempt_count, next_attempt_at, created_at) \
        SELECT $1, $2, $3, $8, COALESCE(MAX(seq), 0) + 1, $4, $5, $6, 'pending', 0, $7, $7 \
        FROM tax_engine_calls WHERE order_id = $8";
    on_tx!(tx, conn => sqlx::query(SQL).bind(f.id).bind(f.store).bind(f.env).bind(f.engine)
        .bind(f.kind).bind(&f.document).bind(f.at).bind(f.order).execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// A claimed filing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub engine: String,
    pub document: String,
    pub attempt_count: i32,
    pub locked_until: DateTime<Utc>,
}

/// Claims up to `limit` due filings (and those whose lease expired), oldest first, none while
/// an earlier filing of its order is pending, in flight or failed. On PostgreSQL `SKIP LOCKED`
/// lets several servers claim at once without sharing a row.
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    const HEAD: &str = "UPDATE tax_engine_calls SET status = 'processing', locked_until = $2, \
        attempt_count = attempt_count + 1 WHERE id IN (SELECT c.id FROM tax_engine_calls c \
        WHERE ((c.status = 'pending' AND c.next_attempt_at <= $1) \
        OR (c.status = 'processing' AND c.locked_until <= $1)) \
        AND NOT EXISTS (SELECT 1 FROM tax_engine_calls p WHERE p.order_id = c.order_id \
        AND p.status IN ('pending', 'processing', 'failed') AND p.seq < c.seq) \
        ORDER BY c.created_at, c.id LIMIT $3";
    const TAIL: &str = ") RETURNING id, store_id, environment, engine, document, attempt_count, \
        locked_until";
    Ok(match db {
        Db::Postgres(pool) => {
            let sql = format!("{HEAD} FOR UPDATE SKIP LOCKED{TAIL}");
            sqlx::query_as(&sql)
                .bind(now)
                .bind(lease)
                .bind(limit)
                .fetch_all(pool)
                .await
        }
        Db::Sqlite(pool) => {
            let sql = format!("{HEAD}{TAIL}");
            sqlx::query_as(&sql)
                .bind(now)
                .bind(lease)
                .bind(limit)
                .fetch_all(pool)
                .await
        }
    }?)
}

/// Where a claimed filing goes next.
pub enum Outcome {
    Sent,
    Retry { error: String, at: DateTime<Utc> },
    Failed { error: String },
}

/// Records a claimed filing's outcome, while the claim is still this worker's.
pub async fn finish(
    db: &Db,
    call: &Claimed,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE tax_engine_calls SET status = $3, locked_until = NULL, \
        last_error = $4, next_attempt_at = $5, sent_at = $6 \
        WHERE id = $1 AND status = 'processing' AND locked_until = $2";
    let (status, error, next, sent) = match outcome {
        Outcome::Sent => ("sent", None, None, Some(now)),
        Outcome::Retry { error, at } => ("pending", Some(error.as_str()), Some(*at), None),
        Outcome::Failed { error } => ("failed", Some(error.as_str()), None, None),
    };
    on_db!(db, pool => sqlx::query(SQL).bind(call.id).bind(call.locked_until).bind(status)
        .bind(error).bind(next).bind(sent).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// A filing's state, as an order's tax shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FilingRow {
    pub id: Uuid,
    pub engine: String,
    pub kind: String,
    pub status: String,
    pub attempt_count: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The filings of an order's tax transactions.
pub async fn order_filings(
    db: &Db,
    order: crate::types::OrderId,
) -> Result<Vec<FilingRow>, DbError> {
    const SQL: &str = "SELECT c.id, c.engine, c.kind, c.status, c.attempt_count, c.last_error, \
        c.sent_at FROM tax_engine_calls c JOIN tax_transactions t ON t.id = c.id \
        WHERE t.order_id = $1";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(order).fetch_all(pool).await)?)
}

/// Puts an order's failed filings back in the queue (a person fixed what made them fail).
pub async fn requeue_failed(db: &Db, order: OrderId, now: DateTime<Utc>) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE tax_engine_calls SET status = 'pending', attempt_count = 0, \
        next_attempt_at = $2 WHERE order_id = $1 AND status = 'failed'";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(order).bind(now).execute(pool).await
        .map(|r| r.rows_affected()))?,
    )
}
