//! SQL of the shipments a run compares with the carriers' label records.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{RunRow, in_list};
use crate::{
    db::{Db, DbError},
    on_db,
    types::{Environment, StoreId},
};

/// One of our shipments in a run's period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShipmentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub provider: String,
    pub provider_label_id: Option<String>,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The next page of the period's shipments, by creation (keyset, a row comparison like the
/// payments' so each page starts at its cursor in the index).
pub async fn shipments(
    db: &Db,
    run: &RunRow,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ShipmentRow>, DbError> {
    const SQL: &str = "SELECT id, order_id, provider, provider_label_id, status, amount, \
        currency, created_at, updated_at FROM shipments WHERE store_id = $1 AND environment = $2 \
        AND created_at >= $3 AND created_at < $4 AND created_at < $5 \
        AND (created_at, id) > ($6, $7) ORDER BY created_at, id LIMIT $8";
    let (at, id) = after.unwrap_or((run.period_from, Uuid::nil()));
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(run.store_id).bind(run.environment)
        .bind(run.period_from).bind(run.period_to).bind(run.as_of).bind(at).bind(id)
        .bind(limit).fetch_all(pool).await)?,
    )
}

/// Which of these label ids of `provider` a shipment of the environment names (of any store:
/// stores may share a carrier account).
pub async fn known_label_ids(
    db: &Db,
    env: Environment,
    provider: &str,
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT provider_label_id FROM shipments WHERE environment = $1 AND provider = $2 \
         AND provider_label_id IN ({})",
        in_list(ids.len(), 3)
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_scalar(&sql).persistent(false).bind(env).bind(provider);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// The shipment a label's reference names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LabelOwner {
    pub id: Uuid,
    pub store_id: StoreId,
    pub order_id: Uuid,
    pub provider_label_id: Option<String>,
    pub status: String,
}

/// The shipments of the environment with these ids (of any store).
pub async fn shipment_owners(
    db: &Db,
    env: Environment,
    ids: &[Uuid],
) -> Result<Vec<LabelOwner>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, store_id, order_id, provider_label_id, status FROM shipments \
         WHERE environment = $1 AND id IN ({})",
        in_list(ids.len(), 2)
    );
    Ok(on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).persistent(false).bind(env);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}
