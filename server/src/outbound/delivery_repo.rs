//! SQL of the delivery queue: claiming due deliveries under a lease, what a claimed delivery
//! needs, and recording an attempt's outcome (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DeliveryStatus;
use crate::{
    db::{Db, DbError, Tx, in_list},
    on_db, on_tx,
    types::{Environment, OutboundEventId, StoreId, WebhookDeliveryId, WebhookEndpointId},
};

/// A claimed delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Claimed {
    pub id: WebhookDeliveryId,
    pub event_id: OutboundEventId,
    pub endpoint_id: WebhookEndpointId,
    /// Attempts including this one.
    pub attempt_count: i32,
    /// The lease: the outcome is recorded only while it is unchanged.
    pub locked_until: DateTime<Utc>,
}

/// What an attempt sends and where.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Target {
    pub id: WebhookDeliveryId,
    pub url: String,
    pub environment: Environment,
    pub payload: String,
}

/// Due: pending and its time has come, or claimed by a worker whose lease ran out; of an
/// enabled endpoint; and for an ordered endpoint, its oldest delivery not yet finished (the
/// next one waits until it succeeds or fails for good). Emission order is the events' time,
/// then their ids (UUIDv7, monotonic within a process); delivery ids are random within a
/// millisecond, so they cannot break a tie.
const DUE: &str = "((d.status = 'pending' AND d.next_attempt_at <= $1) \
    OR (d.status = 'delivering' AND d.locked_until <= $1)) \
    AND e.enabled \
    AND (NOT e.ordered OR NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
        WHERE o.endpoint_id = d.endpoint_id AND o.status IN ('pending', 'delivering') \
        AND (o.created_at < d.created_at \
            OR (o.created_at = d.created_at AND o.event_id < d.event_id))))";

fn claim_sql(db: &Db) -> String {
    // PostgreSQL: rows another claimer holds are skipped, never waited for or taken twice;
    // SQLite runs one writer at a time, so the statement alone is atomic.
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE OF d SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    format!(
        "UPDATE webhook_deliveries SET status = 'delivering', locked_until = $2, \
         attempt_count = attempt_count + 1 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE {DUE} \
         ORDER BY d.next_attempt_at, d.id LIMIT $3{lock}) \
         RETURNING id, event_id, endpoint_id, attempt_count, locked_until"
    )
}

/// Claims up to `limit` due deliveries until `lease`.
pub(super) async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let sql = claim_sql(db);
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(now).bind(lease).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// The URL, environment and payload of each claimed delivery (one query for a round).
pub(super) async fn targets(
    db: &Db,
    deliveries: &[WebhookDeliveryId],
) -> Result<Vec<Target>, DbError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, e.url, e.environment, ev.payload FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         JOIN outbound_events ev ON ev.id = d.event_id WHERE d.id IN ({})",
        in_list(deliveries.len(), 1)
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql);
        for id in deliveries {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?)
}

/// One attempt as recorded.
pub(super) struct AttemptRow<'a> {
    pub delivery: &'a Claimed,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub response_body: Option<&'a str>,
}

/// Records an attempt (whether or not the lease still holds: it happened).
pub(super) async fn insert_attempt(tx: &mut Tx, a: &AttemptRow<'_>) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO webhook_delivery_attempts (id, delivery_id, endpoint_id, \
        attempted_at, status_code, latency_ms, error, response_body) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_tx!(tx, conn => sqlx::query(SQL)
        .bind(Uuid::now_v7()).bind(a.delivery.id).bind(a.delivery.endpoint_id)
        .bind(a.attempted_at).bind(a.status_code).bind(a.latency_ms).bind(a.error)
        .bind(a.response_body)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// A delivery's state after an attempt.
pub(super) struct Settled<'a> {
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<&'a str>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Writes the delivery's state if this worker's lease still holds; whether it did.
pub(super) async fn settle(
    tx: &mut Tx,
    delivery: &Claimed,
    settled: &Settled<'_>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, \
        locked_until = NULL, last_status_code = $5, last_error = $6, \
        delivered_at = COALESCE($7, delivered_at) \
        WHERE id = $1 AND status = 'delivering' AND locked_until = $2";
    let written = on_tx!(tx, conn => sqlx::query(SQL)
        .bind(delivery.id).bind(delivery.locked_until).bind(settled.status)
        .bind(settled.next_attempt_at).bind(settled.last_status_code).bind(settled.last_error)
        .bind(settled.delivered_at)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(written == 1)
}

/// A success: the endpoint is healthy again.
pub(super) async fn endpoint_succeeded(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE webhook_endpoints SET failing_since = NULL \
        WHERE id = $1 AND failing_since IS NOT NULL";
    on_tx!(tx, conn => sqlx::query(SQL).bind(endpoint)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// A failure at `at`: the endpoint is failing since then unless it already was; when it has
/// been failing since `cutoff` or earlier it is disabled. Returns the store and environment
/// of an endpoint this disabled.
pub(super) async fn endpoint_failed(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    at: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Result<Option<(StoreId, Environment)>, DbError> {
    const FAILING: &str = "UPDATE webhook_endpoints SET failing_since = $2 \
        WHERE id = $1 AND failing_since IS NULL";
    const DISABLE: &str = "UPDATE webhook_endpoints SET enabled = $4, disabled_reason = 'failing', \
        version = version + 1, updated_at = $3 \
        WHERE id = $1 AND enabled AND failing_since <= $2 \
        RETURNING store_id, environment";
    Ok(on_tx!(tx, conn => {
        async {
            sqlx::query(FAILING).bind(endpoint).bind(at).execute(&mut *conn).await?;
            sqlx::query_as(DISABLE).bind(endpoint).bind(cutoff).bind(at).bind(false)
                .fetch_optional(&mut *conn).await
        }.await
    })?)
}
