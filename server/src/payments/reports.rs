//! The dashboard's figures: succeeded volume per day and intents per status.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Operation, machine::IntentStatus};
use crate::{
    db::{Db, DbError},
    on_db,
    types::{Environment, StoreId},
};

/// Succeeded captures or refunds of one currency on one UTC day.
pub struct DayVolume {
    /// The UTC day.
    pub day: NaiveDate,
    /// ISO 4217 code.
    pub currency: String,
    /// `Capture` or `Refund`.
    pub operation: Operation,
    /// Sum in minor units.
    pub amount: i64,
}

/// Succeeded captures and refunds per UTC day since `from`, oldest day first.
pub async fn daily_volume(
    db: &Db,
    store: StoreId,
    env: Environment,
    from: DateTime<Utc>,
) -> Result<Vec<DayVolume>, DbError> {
    let day = db.utc_day_sql("created_at");
    let sql = format!(
        "SELECT {day}, currency, operation, CAST(SUM(amount) AS BIGINT) FROM payment_transactions \
         WHERE store_id = $1 AND environment = $2 AND created_at >= $3 AND status = 'succeeded' \
         AND operation IN ('capture', 'refund') GROUP BY 1, 2, 3 ORDER BY 1"
    );
    let rows: Vec<(String, String, String, i64)> = on_db!(db, pool => {
        sqlx::query_as(&sql).bind(store).bind(env).bind(from).fetch_all(pool).await
    })?;
    rows.into_iter()
        .map(|(day, currency, operation, amount)| {
            Ok(DayVolume {
                day: NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_err(|_| unknown("day", &day))?,
                currency,
                operation: Operation::parse(&operation)
                    .ok_or_else(|| unknown("operation", &operation))?,
                amount,
            })
        })
        .collect()
}

/// Number of the store's intents per status, by status.
pub async fn status_counts(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Vec<(IntentStatus, i64)>, DbError> {
    const SQL: &str = "SELECT status, COUNT(*) FROM payment_intents WHERE store_id = $1 \
        AND environment = $2 GROUP BY status ORDER BY status";
    let rows: Vec<(String, i64)> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await
    })?;
    rows.into_iter()
        .map(|(status, count)| {
            let status = IntentStatus::parse(&status).ok_or_else(|| unknown("status", &status))?;
            Ok((status, count))
        })
        .collect()
}

/// A value the code cannot interpret is an error, never a default.
fn unknown(what: &str, text: &str) -> DbError {
    DbError::Query(sqlx::Error::Decode(
        format!("unknown {what} {text:?}").into(),
    ))
}
