//! The read side of payments: the order detail, the ledger list and the dashboard figures.

use chrono::{DateTime, Utc};

use super::{
    LedgerPage, LedgerQuery, OrderPayments,
    machine::IntentStatus,
    repo::{HistoryRow, INTENT_COLUMNS, IntentRow, TXN_COLUMNS, TxnRow},
    service::db,
};
use crate::{
    http::{pagination::PageQuery, problem::ApiError},
    on_db,
    state::AppState,
    types::{Environment, InvalidValue, OrderId, StoreId},
};

/// `GET /api/v1/admin/orders/{id}/payments`: intents, their transactions and the order's
/// status history, in three queries whatever the number of intents.
pub async fn detail(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
) -> Result<OrderPayments, ApiError> {
    const ORDER: &str =
        "SELECT status FROM orders WHERE id = $1 AND store_id = $2 AND environment = $3";
    let status: Option<String> = on_db!(&state.db, pool => {
        sqlx::query_scalar(ORDER).bind(order_id).bind(store).bind(env.as_str()).fetch_optional(pool).await
    })
    .map_err(db)?;
    let order_status = status.ok_or(ApiError::NotFound)?;
    let intents_sql =
        format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE order_id = $1 ORDER BY id");
    let txns_sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1) ORDER BY id"
    );
    const HISTORY: &str = "SELECT subject, payment_intent_id, from_status, to_status, reason, source, \
        actor, correlation_id, created_at FROM order_status_history WHERE order_id = $1 ORDER BY id";
    let (intents, txns, history): (Vec<IntentRow>, Vec<TxnRow>, Vec<HistoryRow>) =
        on_db!(&state.db, pool => {
            async {
                let intents = sqlx::query_as(&intents_sql).bind(order_id).fetch_all(pool).await?;
                let txns = sqlx::query_as(&txns_sql).bind(order_id).fetch_all(pool).await?;
                let history = sqlx::query_as(HISTORY).bind(order_id).fetch_all(pool).await?;
                Ok::<_, sqlx::Error>((intents, txns, history))
            }
            .await
        })
        .map_err(db)?;
    Ok(OrderPayments {
        order_id,
        order_status,
        intents: intents
            .iter()
            .map(|i| super::IntentWithTransactions {
                intent: i.to_api(),
                transactions: txns
                    .iter()
                    .filter(|t| t.payment_intent_id == i.id)
                    .map(TxnRow::to_api)
                    .collect(),
            })
            .collect(),
        status_history: history.into_iter().map(Into::into).collect(),
    })
}

/// `GET /api/v1/admin/payments`: the store's intents, newest first, keyset pages.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &LedgerQuery,
) -> Result<LedgerPage, ApiError> {
    let limit = PageQuery {
        limit: query.limit,
        starting_after: None,
    }
    .limit()?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            IntentStatus::parse(s)
                .ok_or_else(|| InvalidValue::new("status", "not a payment status"))?
                .as_str(),
        ),
    };
    // The cursor is the last id seen; without one, start above every UUID.
    let before = query.starting_after.unwrap_or(uuid::Uuid::max());
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE store_id = $1 AND environment = $2 \
         AND id < $3 AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR created_at >= $5) \
         AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR amount >= $7) \
         AND ($8 IS NULL OR amount <= $8) ORDER BY id DESC LIMIT $9"
    );
    let rows: Vec<IntentRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env.as_str()).bind(before).bind(status)
            .bind(query.created_from).bind(query.created_to).bind(query.min_amount).bind(query.max_amount)
            .bind(i64::from(limit) + 1)
            .fetch_all(pool).await
    })
    .map_err(db)?;
    let has_more = rows.len() > limit as usize;
    Ok(LedgerPage {
        data: rows
            .iter()
            .take(limit as usize)
            .map(IntentRow::to_api)
            .collect(),
        has_more,
    })
}

/// Succeeded captures and refunds per UTC day since `from`: `(day, currency, operation, sum)`.
pub async fn daily_volume(
    state: &AppState,
    store: StoreId,
    env: Environment,
    from: DateTime<Utc>,
) -> Result<Vec<(String, String, String, i64)>, ApiError> {
    let day = state.db.utc_day_sql("created_at");
    let sql = format!(
        "SELECT {day}, currency, operation, CAST(SUM(amount) AS BIGINT) FROM payment_transactions \
         WHERE store_id = $1 AND environment = $2 AND created_at >= $3 AND status = 'succeeded' \
         AND operation IN ('capture', 'refund') GROUP BY 1, 2, 3 ORDER BY 1"
    );
    on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env.as_str()).bind(from).fetch_all(pool).await
    })
    .map_err(db)
}

/// Number of the store's intents per status.
pub async fn status_counts(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<(String, i64)>, ApiError> {
    const SQL: &str = "SELECT status, COUNT(*) FROM payment_intents WHERE store_id = $1 \
        AND environment = $2 GROUP BY status ORDER BY status";
    on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env.as_str()).fetch_all(pool).await
    })
    .map_err(db)
}
