//! SQL of an endpoint's delivery log and of sending deliveries again (portable between SQLite
//! and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DeliveryStatus;
use crate::{
    db::{Db, DbError, Tx, in_list},
    on_db, on_tx,
    types::{OutboundEventId, WebhookDeliveryId, WebhookEndpointId},
};

/// Attempts shown per delivery (the newest).
pub(super) const ATTEMPTS_SHOWN: i64 = 25;

/// A delivery as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct DeliveryRow {
    pub id: WebhookDeliveryId,
    pub event_id: OutboundEventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "d.id, d.event_id, ev.event_type, d.status, d.attempt_count, \
    d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at";

/// An attempt as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct AttemptRow {
    pub delivery_id: WebhookDeliveryId,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// Filters of a page of the log.
pub(super) struct Filter<'a> {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<&'a str>,
    /// The last delivery of the previous page.
    pub after: Option<Uuid>,
    pub limit: i64,
}

/// Up to `filter.limit` deliveries of the endpoint, newest event first, after the delivery
/// `filter.after`. An endpoint has one delivery per event, and event ids follow emission
/// (UUIDv7, monotonic), so they order the log totally; delivery ids do not within a
/// millisecond.
pub(super) async fn page(
    db: &Db,
    endpoint: WebhookEndpointId,
    filter: &Filter<'_>,
) -> Result<Vec<DeliveryRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_deliveries d JOIN outbound_events ev ON ev.id = d.event_id \
         WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.event_id < (SELECT c.event_id \
         FROM webhook_deliveries c WHERE c.id = $2 AND c.endpoint_id = $1)) \
         AND ($3 IS NULL OR d.status = $3) AND ($4 IS NULL OR ev.event_type = $4) \
         ORDER BY d.event_id DESC LIMIT $5"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(endpoint).bind(filter.after)
        .bind(filter.status).bind(filter.event_type).bind(filter.limit)
        .fetch_all(pool).await)?,
    )
}

/// One delivery of the endpoint.
pub(super) async fn find(
    db: &Db,
    endpoint: WebhookEndpointId,
    id: WebhookDeliveryId,
) -> Result<Option<DeliveryRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_deliveries d JOIN outbound_events ev ON ev.id = d.event_id \
         WHERE d.endpoint_id = $1 AND d.id = $2"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(endpoint).bind(id)
        .fetch_optional(pool).await)?,
    )
}

/// The endpoint's delivery of an event.
pub(super) async fn find_by_event(
    db: &Db,
    endpoint: WebhookEndpointId,
    event: OutboundEventId,
) -> Result<Option<DeliveryRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_deliveries d JOIN outbound_events ev ON ev.id = d.event_id \
         WHERE d.endpoint_id = $1 AND d.event_id = $2"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(endpoint).bind(event)
        .fetch_optional(pool).await)?,
    )
}

/// The newest [`ATTEMPTS_SHOWN`] attempts of each of `deliveries` (one query for a page).
pub(super) async fn attempts(
    db: &Db,
    deliveries: &[WebhookDeliveryId],
) -> Result<Vec<AttemptRow>, DbError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT delivery_id, attempted_at, status_code, latency_ms, error, response_body FROM \
         (SELECT a.delivery_id, a.attempted_at, a.status_code, CAST(a.latency_ms AS BIGINT) \
         AS latency_ms, a.error, a.response_body, ROW_NUMBER() OVER (PARTITION BY \
         a.delivery_id ORDER BY a.attempted_at DESC, a.id DESC) AS n \
         FROM webhook_delivery_attempts a WHERE a.delivery_id IN ({})) newest \
         WHERE n <= {ATTEMPTS_SHOWN} ORDER BY delivery_id, attempted_at DESC",
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

/// Queues deliveries of the endpoint again, due at `now` with a fresh schedule: the one `id`,
/// or every one created in `[from, to)`. A delivery being attempted is left alone. Returns how
/// many were queued.
pub(super) async fn requeue(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    which: Which,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    const SET: &str = "UPDATE webhook_deliveries SET status = 'pending', attempt_count = 0, \
        next_attempt_at = $2, locked_until = NULL, delivered_at = NULL \
        WHERE endpoint_id = $1 AND status <> 'delivering'";
    Ok(match which {
        Which::One(id) => {
            let sql = format!("{SET} AND id = $3");
            on_tx!(tx, conn => sqlx::query(&sql).bind(endpoint).bind(now).bind(id)
                .execute(&mut *conn).await.map(|r| r.rows_affected()))?
        }
        Which::Range(from, to) => {
            let sql = format!("{SET} AND created_at >= $3 AND created_at < $4");
            on_tx!(tx, conn => sqlx::query(&sql).bind(endpoint).bind(now).bind(from).bind(to)
                .execute(&mut *conn).await.map(|r| r.rows_affected()))?
        }
    })
}

/// Which deliveries to queue again.
#[derive(Debug, Clone, Copy)]
pub(super) enum Which {
    /// This one.
    One(WebhookDeliveryId),
    /// Those created in `[from, to)`.
    Range(DateTime<Utc>, DateTime<Utc>),
}

/// How many deliveries of the endpoint were created in `[from, to)`.
pub(super) async fn count_in_range(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 \
        AND created_at >= $2 AND created_at < $3";
    Ok(
        on_tx!(tx, conn => sqlx::query_scalar(SQL).bind(endpoint).bind(from).bind(to)
        .fetch_one(&mut *conn).await)?,
    )
}
