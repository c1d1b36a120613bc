//! SQL of the provider records a run stages and of the payments it compares them with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CHUNK, RunRow, in_list, values};
use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, StoreId},
};

/// A provider's record, staged for a run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub provider: String,
    pub provider_payment_id: String,
    pub reference: Option<String>,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
}

/// Stages a page of the provider's records, a statement per 50 (a page staged again changes
/// nothing).
pub async fn stage(tx: &mut Tx, run: Uuid, records: &[RecordRow]) -> Result<(), DbError> {
    for chunk in records.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO reconciliation_provider_records (run_id, provider, provider_payment_id, \
             reference, status, currency, amount, captured, refunded) VALUES {} \
             ON CONFLICT DO NOTHING",
            values(chunk.len(), 9, 1)
        );
        on_tx!(tx, conn => {
            let mut q = sqlx::query(&sql).persistent(false);
            for r in chunk {
                q = q.bind(run).bind(&r.provider).bind(&r.provider_payment_id)
                    .bind(&r.reference).bind(&r.status).bind(&r.currency).bind(r.amount)
                    .bind(r.captured).bind(r.refunded);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// One of our payments in a run's period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub status: String,
    pub currency: String,
    pub authorized_amount: i64,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub capture_reserved: i64,
    pub refund_reserved: i64,
    pub void_pending: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The next page of the period's payments, by creation (keyset). The cursor is a row
/// comparison so the index range starts at it (an `OR` of comparisons rescans from the period's
/// start on every page: measured quadratic on 250,000 payments).
pub async fn intents(
    db: &Db,
    run: &RunRow,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<IntentRow>, DbError> {
    const SQL: &str = "SELECT id, order_id, provider, provider_payment_id, status, currency, \
        authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, \
        void_pending, created_at, updated_at \
        FROM payment_intents WHERE store_id = $1 AND environment = $2 \
        AND created_at >= $3 AND created_at < $4 AND created_at < $5 \
        AND (created_at, id) > ($6, $7) \
        ORDER BY created_at, id LIMIT $8";
    // From the period's first instant: every id is above the nil one.
    let (at, id) = after.unwrap_or((run.period_from, Uuid::nil()));
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(run.store_id).bind(run.environment)
        .bind(run.period_from).bind(run.period_to).bind(run.as_of).bind(at).bind(id)
        .bind(limit).fetch_all(pool).await)?,
    )
}

/// The staged records of `provider` with these ids.
pub async fn records_by_id(
    db: &Db,
    run: Uuid,
    provider: &str,
    ids: &[String],
) -> Result<Vec<RecordRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(ids.len(), 3);
    let sql = format!(
        "SELECT provider, provider_payment_id, reference, status, currency, amount, captured, \
         refunded FROM reconciliation_provider_records WHERE run_id = $1 AND provider = $2 \
         AND provider_payment_id IN ({})",
        placeholders
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).persistent(false).bind(run).bind(provider);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// Marks staged records as belonging to a payment of ours (a statement per provider and 500
/// ids).
pub async fn mark_seen(tx: &mut Tx, run: Uuid, seen: &[(String, String)]) -> Result<(), DbError> {
    let mut by_provider: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (provider, id) in seen {
        by_provider.entry(provider).or_default().push(id);
    }
    for (provider, ids) in by_provider {
        for chunk in ids.chunks(500) {
            let placeholders = in_list(chunk.len(), 3);
            let sql = format!(
                "UPDATE reconciliation_provider_records SET seen = TRUE WHERE run_id = $1 \
                 AND provider = $2 AND provider_payment_id IN ({})",
                placeholders
            );
            on_tx!(tx, conn => {
                let mut q = sqlx::query(&sql).persistent(false).bind(run).bind(provider);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *conn).await.map(|_| ())
            })?;
        }
    }
    Ok(())
}

/// The next page of staged records no payment in the period claimed, by provider and id.
pub async fn unseen(
    db: &Db,
    run: Uuid,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<Vec<RecordRow>, DbError> {
    const SQL: &str = "SELECT provider, provider_payment_id, reference, status, currency, \
        amount, captured, refunded FROM reconciliation_provider_records \
        WHERE run_id = $1 AND seen = FALSE \
        AND (provider, provider_payment_id) > ($2, $3) \
        ORDER BY provider, provider_payment_id LIMIT $4";
    let (provider, id) = after.unwrap_or_default();
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(run).bind(provider).bind(id).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// Which intent, if any, a provider record belongs to: the intent whose transaction its
/// reference names (of any store: stores may share a provider account).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Owner {
    pub store_id: StoreId,
    pub intent_id: Uuid,
    pub order_id: Uuid,
    pub provider_payment_id: Option<String>,
}

/// The owners of records in the environment, by the transaction ids their references name.
pub async fn owners_by_reference(
    db: &Db,
    env: Environment,
    references: &[Uuid],
) -> Result<Vec<(Uuid, Owner)>, DbError> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(references.len(), 2);
    let sql = format!(
        "SELECT t.id AS reference, i.store_id, i.id AS intent_id, i.order_id, \
         i.provider_payment_id FROM payment_transactions t \
         JOIN payment_intents i ON i.id = t.payment_intent_id \
         WHERE t.environment = $1 AND t.id IN ({})",
        placeholders
    );
    #[derive(sqlx::FromRow)]
    struct Found {
        reference: Uuid,
        store_id: StoreId,
        intent_id: Uuid,
        order_id: Uuid,
        provider_payment_id: Option<String>,
    }
    let found: Vec<Found> = on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).persistent(false).bind(env);
        for r in references {
            q = q.bind(r);
        }
        q.fetch_all(pool).await
    })?;
    Ok(found
        .into_iter()
        .map(|f| {
            (
                f.reference,
                Owner {
                    store_id: f.store_id,
                    intent_id: f.intent_id,
                    order_id: f.order_id,
                    provider_payment_id: f.provider_payment_id,
                },
            )
        })
        .collect())
}

/// Which of these provider payment ids some intent of the environment names (of any store:
/// stores may share a provider account).
pub async fn known_payment_ids(
    db: &Db,
    env: Environment,
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(ids.len(), 2);
    let sql = format!(
        "SELECT provider_payment_id FROM payment_intents WHERE environment = $1 \
         AND provider_payment_id IN ({})",
        placeholders
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_scalar(&sql).persistent(false).bind(env);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// The transactions of these intents: `(transaction id, intent id)`.
pub async fn transaction_ids(db: &Db, intents: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, DbError> {
    if intents.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(intents.len(), 1);
    let sql = format!(
        "SELECT id, payment_intent_id FROM payment_transactions WHERE payment_intent_id IN ({})",
        placeholders
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).persistent(false);
        for id in intents {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// The staged records whose reference is one of these.
pub async fn records_by_reference(
    db: &Db,
    run: Uuid,
    references: &[String],
) -> Result<Vec<RecordRow>, DbError> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = in_list(references.len(), 2);
    let sql = format!(
        "SELECT provider, provider_payment_id, reference, status, currency, amount, captured, \
         refunded FROM reconciliation_provider_records WHERE run_id = $1 AND reference IN ({})",
        placeholders
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).persistent(false).bind(run);
        for r in references {
            q = q.bind(r);
        }
        q.fetch_all(pool).await
    })?)
}

/// The transactions of an intent whose outcome is still open, oldest first.
pub async fn open_transactions(db: &Db, intent: Uuid) -> Result<Vec<Uuid>, DbError> {
    const SQL: &str = "SELECT id FROM payment_transactions WHERE payment_intent_id = $1 \
        AND status IN ('pending', 'unknown') ORDER BY created_at, id";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).bind(intent).fetch_all(pool).await)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_row_values_number_every_parameter_once() {
        assert_eq!(super::values(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(1, 2, 3), "($3, $4)");
    }
}
