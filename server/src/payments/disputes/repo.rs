//! The `payment_disputes` table: typed rows and every statement on it (portable between
//! SQLite and PostgreSQL).

use chrono::{DateTime, Utc};

use super::{Dispute, DisputeStatus};
use crate::{
    db::{Db, DbError, Tx},
    money::MinorUnits,
    on_db, on_tx,
    types::{Environment, OrderId, PaymentIntentId, StoreId},
};

/// Columns of [`DisputeRow`], in order; the order comes from the intent (`d` is the dispute).
const COLUMNS: &str = "d.id, d.store_id, d.environment, d.payment_intent_id, \
    (SELECT i.order_id FROM payment_intents i WHERE i.id = d.payment_intent_id) AS order_id, \
    d.provider, d.provider_dispute_id, d.amount, d.currency, d.reason, d.status, d.created_at, \
    d.updated_at";

/// A `payment_disputes` row, with its intent's order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisputeRow {
    pub id: uuid::Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub payment_intent_id: PaymentIntentId,
    pub order_id: OrderId,
    pub provider: String,
    pub provider_dispute_id: String,
    /// ISO minor units.
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: DisputeStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DisputeRow> for Dispute {
    fn from(row: DisputeRow) -> Self {
        Dispute {
            id: row.id,
            payment_intent_id: row.payment_intent_id,
            order_id: row.order_id,
            provider: row.provider,
            provider_dispute_id: row.provider_dispute_id,
            amount: MinorUnits(row.amount),
            currency: row.currency,
            reason: row.reason,
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The intent a provider payment id names, as a dispute needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRef {
    pub id: PaymentIntentId,
    pub order_id: OrderId,
}

/// Filters of [`list`].
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    /// Only ids below this one (keyset).
    pub before: uuid::Uuid,
    pub status: Option<DisputeStatus>,
    /// Rows to return at most.
    pub limit: i64,
}

/// The intent of a store's environment that `provider` knows as `provider_payment_id`
/// (the newest, should a provider ever reuse one).
pub async fn intent_by_provider_payment(
    db: &Db,
    store: StoreId,
    env: Environment,
    provider: &str,
    provider_payment_id: &str,
) -> Result<Option<IntentRef>, DbError> {
    const SQL: &str = "SELECT id, order_id FROM payment_intents WHERE store_id = $1 \
        AND provider_payment_id = $2 AND environment = $3 AND provider = $4 \
        ORDER BY id DESC LIMIT 1";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL).bind(store).bind(provider_payment_id).bind(env).bind(provider)
            .fetch_optional(pool).await
    })?)
}

/// A store's dispute by the provider's id, read to be updated in the same transaction
/// (locked on PostgreSQL, so two workers with events about it queue).
pub async fn lock(
    tx: &mut Tx,
    store: StoreId,
    provider: &str,
    provider_dispute_id: &str,
) -> Result<Option<DisputeRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_disputes d WHERE d.store_id = $1 AND d.provider = $2 \
         AND d.provider_dispute_id = $3{}",
        tx.lock_for_update_sql()
    );
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(store).bind(provider).bind(provider_dispute_id)
            .fetch_optional(conn).await
    })?)
}

/// Inserts a dispute. `Ok(false)`: the store already has this provider dispute (another
/// worker recorded it first).
pub async fn insert(tx: &mut Tx, row: &DisputeRow) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO payment_disputes (id, store_id, environment, \
        payment_intent_id, provider, provider_dispute_id, amount, currency, reason, status, \
        created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
        ON CONFLICT (store_id, provider, provider_dispute_id) DO NOTHING";
    let inserted = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(row.id).bind(row.store_id).bind(row.environment).bind(row.payment_intent_id)
            .bind(&row.provider).bind(&row.provider_dispute_id).bind(row.amount)
            .bind(&row.currency).bind(&row.reason).bind(row.status).bind(row.created_at)
            .execute(conn).await.map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Writes a dispute's amount, reason and status.
pub async fn update(tx: &mut Tx, row: &DisputeRow) -> Result<(), DbError> {
    const SQL: &str = "UPDATE payment_disputes SET amount = $2, currency = $3, reason = $4, \
        status = $5, updated_at = $6 WHERE id = $1";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(row.id).bind(row.amount).bind(&row.currency).bind(&row.reason)
            .bind(row.status).bind(row.updated_at)
            .execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// The disputes of an order's intents, oldest first: one query for the whole order.
pub async fn of_order(db: &Db, order_id: OrderId) -> Result<Vec<DisputeRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_disputes d WHERE d.payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1) ORDER BY d.id"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(order_id).fetch_all(pool).await)?)
}

/// A store's disputes in an environment, newest first.
pub async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    filter: &Filter,
) -> Result<Vec<DisputeRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_disputes d WHERE d.store_id = $1 AND d.environment = $2 \
         AND d.id < $3 AND ($4 IS NULL OR d.status = $4) ORDER BY d.id DESC LIMIT $5"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env).bind(filter.before).bind(filter.status)
            .bind(filter.limit)
            .fetch_all(pool).await
    })?)
}
