//! SQL of reconciliation runs, the provider records they stage and the items they find.

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

/// Ends a run while `held` is still its lease.
pub async fn finish(
    db: &Db,
    id: Uuid,
    held: DateTime<Utc>,
    e: &Ending<'_>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE reconciliation_runs SET status = $3, summary = $4, \
        last_error = $5, completed_at = $6, duration_ms = $7, locked_until = NULL \
        WHERE id = $1 AND status = 'running' AND locked_until = $2";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(held).bind(e.status)
        .bind(e.summary).bind(e.error).bind(e.at).bind(e.duration_ms).execute(pool).await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

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

/// `$first, …` for an `IN` list of `count` parameters.
fn in_list(count: usize, first: usize) -> String {
    (0..count)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $n), (…)` for `rows` rows of `width` parameters from `$first`.
fn values(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement (parameters stay far below both databases' limits).
const CHUNK: usize = 50;

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
            let mut q = sqlx::query(&sql);
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
        let mut q = sqlx::query_as(&sql).bind(run).bind(provider);
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
                let mut q = sqlx::query(&sql).bind(run).bind(provider);
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
        let mut q = sqlx::query_as(&sql).bind(env);
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
        let mut q = sqlx::query_scalar(&sql).bind(env);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// An item as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: Uuid,
    pub run_id: Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub item_key: String,
    pub kind: String,
    pub payment_intent_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub currency: String,
    pub difference: i64,
    pub ours: Option<String>,
    pub theirs: Option<String>,
    pub resolution: String,
    pub note: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const ITEM_COLUMNS: &str = "id, run_id, store_id, environment, item_key, kind, payment_intent_id, \
    order_id, provider, provider_payment_id, currency, difference, ours, theirs, resolution, note, \
    resolved_by, resolved_at, created_at";

/// Records a batch's items, a statement per 50; an item found again (a batch redone after a
/// lost lease) is kept once. Returns how many were new.
pub async fn insert_items(tx: &mut Tx, items: &[ItemRow]) -> Result<i64, DbError> {
    let mut added = 0;
    for chunk in items.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO reconciliation_items ({ITEM_COLUMNS}) VALUES {} \
             ON CONFLICT (run_id, item_key) DO NOTHING",
            values(chunk.len(), 19, 1)
        );
        added += on_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for i in chunk {
                q = q.bind(i.id).bind(i.run_id).bind(i.store_id).bind(i.environment)
                    .bind(&i.item_key).bind(&i.kind).bind(i.payment_intent_id).bind(i.order_id)
                    .bind(&i.provider).bind(&i.provider_payment_id).bind(&i.currency)
                    .bind(i.difference).bind(&i.ours).bind(&i.theirs).bind(&i.resolution)
                    .bind(&i.note).bind(&i.resolved_by).bind(i.resolved_at).bind(i.created_at);
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })? as i64;
    }
    Ok(added)
}

/// A run's items, by kind then id, after `after` (keyset), optionally of one kind and
/// resolution.
pub async fn items(
    db: &Db,
    run: Uuid,
    kind: Option<&str>,
    resolution: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ItemRow>, DbError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM reconciliation_items WHERE run_id = $1 \
         AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR resolution = $3) \
         AND ($4 IS NULL OR id > $4) ORDER BY id LIMIT $5"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(run).bind(kind).bind(resolution)
        .bind(after).bind(limit).fetch_all(pool).await)?,
    )
}

/// Exceptions per kind and currency of a run: count and summed difference.
pub async fn summary(db: &Db, run: Uuid) -> Result<Vec<(String, String, i64, i64)>, DbError> {
    const SQL: &str = "SELECT kind, currency, COUNT(*), CAST(COALESCE(SUM(difference), 0) AS BIGINT) \
        FROM reconciliation_items WHERE run_id = $1 GROUP BY kind, currency ORDER BY kind, currency";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(run).fetch_all(pool).await)?)
}

/// An item of the store and environment.
pub async fn item(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: Uuid,
) -> Result<Option<ItemRow>, DbError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM reconciliation_items WHERE id = $1 AND store_id = $2 \
         AND environment = $3"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// Records a person's resolution of an item.
pub async fn resolve(
    db: &Db,
    id: Uuid,
    resolution: &str,
    note: &str,
    who: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE reconciliation_items SET resolution = $2, note = $3, \
        resolved_by = $4, resolved_at = $5 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(resolution).bind(note).bind(who).bind(at)
        .execute(pool).await.map(|_| ()))?;
    Ok(())
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
        let mut q = sqlx::query_as(&sql);
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
        let mut q = sqlx::query_as(&sql).bind(run);
        for r in references {
            q = q.bind(r);
        }
        q.fetch_all(pool).await
    })?)
}

/// Records why a run's last attempt stopped (best effort; the run is retried after its lease).
pub async fn note_error(db: &Db, id: Uuid, error: &str) -> Result<(), DbError> {
    const SQL: &str = "UPDATE reconciliation_runs SET last_error = $2 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(error).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Whether a run of this store, environment and period exists (a failed one too: the
/// scheduler never queues a period again that failed; a person can).
pub async fn has_run(
    db: &Db,
    store: StoreId,
    env: Environment,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM reconciliation_runs WHERE store_id = $1 \
        AND environment = $2 AND period_from = $3 AND period_to = $4";
    let n: i64 = on_db!(db, pool => sqlx::query_scalar(SQL).bind(store).bind(env).bind(from)
        .bind(to).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// Stores and environments with payments created in a period.
pub async fn stores_with_payments(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(StoreId, Environment)>, DbError> {
    const SQL: &str = "SELECT DISTINCT store_id, environment FROM payment_intents \
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
        let mut q = sqlx::query_scalar(&sql);
        for id in ids {
            q = q.bind(id);
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
