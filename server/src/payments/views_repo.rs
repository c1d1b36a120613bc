//! Reads behind the ledger's views: an order's payments (status, transactions, history), the
//! store's list of intents, and the dashboard's volume and status counts. None is part of a
//! payment's flow, so each takes the pool.

use chrono::{DateTime, Utc};

use super::{
    Operation,
    machine::IntentStatus,
    repo::{HistoryRow, INTENT_COLUMNS, IntentRow, TXN_COLUMNS, TxnRow},
};
use crate::{
    db::{Db, DbError},
    on_db,
    types::{Currency, Environment, OrderId, StoreId},
};

/// Succeeded captures or refunds of one currency on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyVolume {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// ISO 4217 code.
    pub currency: String,
    /// `capture` or `refund`.
    pub operation: Operation,
    /// Minor units.
    pub sum: i64,
}

/// Two periods of the same length: the current one from `current` until now, and the one
/// before it from `previous`, cut at `previous_until` inclusive (as far into it as the current
/// one has run), so a period under way is compared with the same span of the one before.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    /// Start of the previous period.
    pub previous: DateTime<Utc>,
    /// Start of the current period (and end of the previous one).
    pub current: DateTime<Utc>,
    /// Where the previous period is cut: now minus the periods' length.
    pub previous_until: DateTime<Utc>,
}

/// Succeeded captures or refunds of one currency in one period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodVolume {
    /// Whether the period is the current one (else the one before it).
    pub in_current: bool,
    /// ISO 4217 code.
    pub currency: String,
    /// `capture` or `refund`.
    pub operation: Operation,
    /// Minor units.
    pub sum: i64,
}

/// A store's intents of one currency created in one period: how many, how many of them were
/// authorized (whatever happened after) or failed, and what the authorized ones came to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodIntents {
    /// Whether the period is the current one (else the one before it).
    pub in_current: bool,
    /// ISO 4217 code.
    pub currency: String,
    /// Intents created.
    pub created: i64,
    /// Of those, authorized at some point (still authorized, captured, refunded or voided).
    pub authorized: i64,
    /// Of those, failed.
    pub failed: i64,
    /// Sum of the authorized intents' amounts, minor units.
    pub authorized_amount: i64,
}

/// How many of a store's intents are in one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusCount {
    /// The status.
    pub status: IntentStatus,
    /// Intents in it.
    pub count: i64,
}

/// Filters of [`list`].
#[derive(Debug, Clone, Copy)]
pub struct IntentFilter {
    /// Only ids below this one (keyset).
    pub before: uuid::Uuid,
    pub status: Option<IntentStatus>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    pub currency: Option<Currency>,
    /// Rows to return at most.
    pub limit: i64,
}

/// An order's status, within a store and environment.
pub async fn order_status(
    db: &Db,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
) -> Result<Option<String>, DbError> {
    const SQL: &str =
        "SELECT status FROM orders WHERE id = $1 AND store_id = $2 AND environment = $3";
    Ok(on_db!(db, pool => {
        sqlx::query_scalar(SQL).bind(order_id).bind(store).bind(env).fetch_optional(pool).await
    })?)
}

/// The transactions of an order's intents, oldest first.
pub async fn order_txns(db: &Db, order_id: OrderId) -> Result<Vec<TxnRow>, DbError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1) ORDER BY id"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(order_id).fetch_all(pool).await)?)
}

/// An order's status history, oldest first.
pub async fn order_history(db: &Db, order_id: OrderId) -> Result<Vec<HistoryRow>, DbError> {
    const SQL: &str = "SELECT subject, payment_intent_id, from_status, to_status, reason, \
        source, actor, correlation_id, created_at FROM order_status_history \
        WHERE order_id = $1 ORDER BY id";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(order_id).fetch_all(pool).await)?)
}

/// A store's intents, newest first.
pub async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    filter: &IntentFilter,
) -> Result<Vec<IntentRow>, DbError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE store_id = $1 AND environment = $2 \
         AND id < $3 AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR created_at >= $5) \
         AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR amount >= $7) \
         AND ($8 IS NULL OR amount <= $8) AND ($10 IS NULL OR currency = $10) \
         ORDER BY id DESC LIMIT $9"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env).bind(filter.before).bind(filter.status)
            .bind(filter.created_from).bind(filter.created_to).bind(filter.min_amount)
            .bind(filter.max_amount).bind(filter.limit).bind(filter.currency.map(Currency::code))
            .fetch_all(pool).await
    })?)
}

/// Succeeded captures and refunds per UTC day since `from`.
pub async fn daily_volume(
    db: &Db,
    store: StoreId,
    env: Environment,
    from: DateTime<Utc>,
) -> Result<Vec<DailyVolume>, DbError> {
    let day = db.utc_day_sql("created_at");
    let sql = format!(
        "SELECT {day} AS day, currency, operation, CAST(SUM(amount) AS BIGINT) AS sum \
         FROM payment_transactions WHERE store_id = $1 AND environment = $2 \
         AND created_at >= $3 AND status = 'succeeded' AND operation IN ('capture', 'refund') \
         GROUP BY 1, 2, 3 ORDER BY 1"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env).bind(from).fetch_all(pool).await
    })?)
}

/// A store's intents created in the previous period (up to its cut) and the current one, per
/// currency, in one scan of the store's creation-time index
/// (`payment_intents_store_created`, from the reconciliation migration).
pub async fn period_intents(
    db: &Db,
    store: StoreId,
    env: Environment,
    periods: Periods,
) -> Result<Vec<PeriodIntents>, DbError> {
    // Derived from the state machine, so a new status is counted (or not) by its own match.
    let authorized_list = IntentStatus::ALL
        .into_iter()
        .filter(|s| s.was_authorized())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let authorized = format!("status IN ({authorized_list})");
    let sql = format!(
        "SELECT (created_at >= $4) AS in_current, currency, COUNT(*) AS created, \
         CAST(SUM(CASE WHEN {authorized} THEN 1 ELSE 0 END) AS BIGINT) AS authorized, \
         CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
         CAST(SUM(CASE WHEN {authorized} THEN amount ELSE 0 END) AS BIGINT) AS authorized_amount \
         FROM payment_intents WHERE store_id = $1 AND environment = $2 AND created_at >= $3 \
         AND (created_at >= $4 OR created_at <= $5) \
         GROUP BY 1, 2 ORDER BY 1, 2"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(store)
            .bind(env)
            .bind(periods.previous)
            .bind(periods.current)
            .bind(periods.previous_until)
            .fetch_all(pool)
            .await
    })?)
}

/// Succeeded captures and refunds of the current period and of the one before it (as far into
/// it as the current one has run), per currency.
pub async fn period_volume(
    db: &Db,
    store: StoreId,
    env: Environment,
    periods: Periods,
) -> Result<Vec<PeriodVolume>, DbError> {
    const SQL: &str = "SELECT (created_at >= $4) AS in_current, currency, operation, \
        CAST(SUM(amount) AS BIGINT) AS sum \
        FROM payment_transactions WHERE store_id = $1 AND environment = $2 \
        AND created_at >= $3 AND (created_at >= $4 OR created_at <= $5) \
        AND status = 'succeeded' AND operation IN ('capture', 'refund') \
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(store)
            .bind(env)
            .bind(periods.previous)
            .bind(periods.current)
            .bind(periods.previous_until)
            .fetch_all(pool)
            .await
    })?)
}

/// Number of a store's intents per status.
pub async fn status_counts(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Vec<StatusCount>, DbError> {
    const SQL: &str = "SELECT status, COUNT(*) AS count FROM payment_intents \
        WHERE store_id = $1 AND environment = $2 GROUP BY status ORDER BY status";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await)?)
}
