//! SQL of the items a run finds and people resolve.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CHUNK, values};
use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, StoreId},
};

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
    pub shipment_id: Option<Uuid>,
    pub subject: String,
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
    resolved_by, resolved_at, created_at, shipment_id, subject";

/// Records a batch's items, a statement per 50; an item found again (a batch redone after a
/// lost lease) is kept once. Returns the ids of the new ones.
pub async fn insert_items(tx: &mut Tx, items: &[ItemRow]) -> Result<Vec<Uuid>, DbError> {
    let mut added = Vec::new();
    for chunk in items.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO reconciliation_items ({ITEM_COLUMNS}) VALUES {} \
             ON CONFLICT (run_id, item_key) DO NOTHING RETURNING id",
            values(chunk.len(), 21, 1)
        );
        let ids: Vec<Uuid> = on_tx!(tx, conn => {
            let mut q = sqlx::query_scalar(&sql).persistent(false);
            for i in chunk {
                q = q.bind(i.id).bind(i.run_id).bind(i.store_id).bind(i.environment)
                    .bind(&i.item_key).bind(&i.kind).bind(i.payment_intent_id).bind(i.order_id)
                    .bind(&i.provider).bind(&i.provider_payment_id).bind(&i.currency)
                    .bind(i.difference).bind(&i.ours).bind(&i.theirs).bind(&i.resolution)
                    .bind(&i.note).bind(&i.resolved_by).bind(i.resolved_at).bind(i.created_at)
                    .bind(i.shipment_id).bind(&i.subject);
            }
            q.fetch_all(&mut *conn).await
        })?;
        added.extend(ids);
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
