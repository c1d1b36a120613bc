//! SQL of `webhook_events` outside the work queue (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{EVENT_COLUMNS, EventStatus, WebhookEvent};
use crate::{
    db::{Db, DbError},
    on_db,
    types::{Environment, StoreId},
};

/// A rejected delivery kept as a sample.
pub(super) struct Rejected<'a> {
    pub store: StoreId,
    pub provider: &'a str,
    pub event_id: &'a str,
    pub payload: &'a str,
    pub reason: String,
    pub now: DateTime<Utc>,
    /// No sample is stored when one was received after this.
    pub sampled_since: DateTime<Utc>,
}

/// Stores the sample unless the store has one newer than `sampled_since`; rows written.
pub(super) async fn insert_rejected_sample(db: &Db, r: &Rejected<'_>) -> Result<u64, DbError> {
    const SQL: &str = "INSERT INTO webhook_events (id, store_id, provider, provider_event_id, \
        event_type, signature_valid, payload, status, attempt_count, last_error, received_at) \
        SELECT $1, $2, $3, $4, 'unverified', $5, $6, 'rejected', 0, $7, $8 \
        WHERE NOT EXISTS (SELECT 1 FROM webhook_events WHERE store_id = $2 AND provider = $3 \
        AND status = 'rejected' AND received_at > $9)";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(Uuid::now_v7()).bind(r.store)
        .bind(r.provider).bind(r.event_id).bind(false).bind(r.payload).bind(&r.reason)
        .bind(r.now).bind(r.sampled_since)
        .execute(pool).await.map(|r| r.rows_affected()))?,
    )
}

/// Events of the environment (and deliveries no secret verified: they belong to none and are
/// never processed).
const IN_ENVIRONMENT: &str = "(environment = $3 OR (environment IS NULL AND NOT signature_valid))";

/// Filters of a page of events.
pub(super) struct Filter<'a> {
    pub status: Option<EventStatus>,
    pub provider: Option<&'a str>,
    pub before: Uuid,
    pub limit: i64,
}

/// Up to `filter.limit` events older than `filter.before`, newest first.
pub(super) async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    filter: &Filter<'_>,
) -> Result<Vec<WebhookEvent>, DbError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE store_id = $1 AND id < $2 \
         AND {IN_ENVIRONMENT} AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR provider = $5) \
         ORDER BY id DESC LIMIT $6"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(filter.before).bind(env)
        .bind(filter.status).bind(filter.provider).bind(filter.limit)
        .fetch_all(pool).await)?,
    )
}

/// One event of the store in the environment.
pub(super) async fn find(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: Uuid,
) -> Result<Option<WebhookEvent>, DbError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE id = $1 AND store_id = $2 \
         AND {IN_ENVIRONMENT}"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// Queues a processed or dead event again, attempts starting over; rows changed.
pub(super) async fn requeue(
    db: &Db,
    store: StoreId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE webhook_events SET status = 'pending', attempt_count = 0, \
        next_attempt_at = $3, locked_until = NULL WHERE id = $1 AND store_id = $2 \
        AND status IN ('processed', 'dead')";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(id).bind(store).bind(now)
        .execute(pool).await.map(|r| r.rows_affected()))?,
    )
}
