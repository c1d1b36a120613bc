//! SQL of the tax transactions a run compares with their filings at a tax service.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::RunRow;
use crate::{
    db::{Db, DbError},
    on_db,
};

/// A tax transaction of a run's period that was filed with a tax service, and its filing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FilingRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub payment_intent_id: Uuid,
    pub kind: String,
    pub currency: String,
    pub tax: i64,
    pub created_at: DateTime<Utc>,
    pub engine: String,
    pub status: String,
    pub attempt_count: i32,
    pub last_error: Option<String>,
}

/// The next page of the period's filed tax transactions, by creation (keyset on the tax
/// transactions' period index; those taxed by the store's own rates file nothing and are
/// skipped by the join).
pub async fn filings(
    db: &Db,
    run: &RunRow,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FilingRow>, DbError> {
    const SQL: &str = "SELECT t.id, t.order_id, t.payment_intent_id, t.kind, t.currency, t.tax, \
        t.created_at, c.engine, c.status, c.attempt_count, c.last_error \
        FROM tax_transactions t JOIN tax_engine_calls c ON c.id = t.id \
        WHERE t.store_id = $1 AND t.environment = $2 \
        AND t.created_at >= $3 AND t.created_at < $4 AND t.created_at < $5 \
        AND (t.created_at, t.id) > ($6, $7) ORDER BY t.created_at, t.id LIMIT $8";
    let (at, id) = after.unwrap_or((run.period_from, Uuid::nil()));
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(run.store_id).bind(run.environment)
        .bind(run.period_from).bind(run.period_to).bind(run.as_of).bind(at).bind(id)
        .bind(limit).fetch_all(pool).await)?,
    )
}
