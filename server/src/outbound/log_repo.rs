//! SQL of an endpoint's delivery log and of sending deliveries again (portable between SQLite
//! and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DeliveryStatus, repo};
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

/// A delivery a worker holds right now (its lease has not run out) is left alone; one whose
/// worker died is not.
const NOT_HELD: &str = "NOT (status = 'delivering' AND locked_until > $2)";

/// Queues deliveries of the endpoint again, due at `now` with a fresh schedule: the one `id`,
/// or those created in `[from, to)` that did not succeed (or all of them with
/// `include_succeeded`). Returns how many were queued.
pub(super) async fn requeue(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    which: Which,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let set = format!(
        "UPDATE webhook_deliveries SET status = 'pending', attempt_count = 0, \
         next_attempt_at = $2, locked_until = NULL, delivered_at = NULL \
         WHERE endpoint_id = $1 AND {NOT_HELD}"
    );
    Ok(match which {
        Which::One(id) => {
            let sql = format!("{set} AND id = $3");
            on_tx!(tx, conn => sqlx::query(&sql).bind(endpoint).bind(now).bind(id)
                .execute(&mut *conn).await.map(|r| r.rows_affected()))?
        }
        Which::Range(range) => {
            let sql = format!("{set} AND {}", in_range(range.include_succeeded));
            on_tx!(tx, conn => sqlx::query(&sql).bind(endpoint).bind(now).bind(range.from)
                .bind(range.to).execute(&mut *conn).await.map(|r| r.rows_affected()))?
        }
    })
}

/// A time range of an endpoint's deliveries to send again.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub include_succeeded: bool,
    /// Events older than this are never taken as missed: retention may have deleted their
    /// deliveries, so "no delivery" no longer means "never sent".
    pub kept_since: DateTime<Utc>,
}

/// Which deliveries to queue again.
#[derive(Debug, Clone, Copy)]
pub(super) enum Which {
    /// This one.
    One(WebhookDeliveryId),
    /// Those created in the range.
    Range(Range),
}

/// The deliveries of a range bound as `$3`, `$4`.
fn in_range(include_succeeded: bool) -> &'static str {
    if include_succeeded {
        "created_at >= $3 AND created_at < $4"
    } else {
        "created_at >= $3 AND created_at < $4 AND status <> 'succeeded'"
    }
}

/// Events of the endpoint's store and environment in the range, emitted since the endpoint
/// was created, of a type it subscribes to now, that it never got a delivery of (it was
/// disabled then, or subscribed since), within the retention period. A ping is for the
/// endpoint it was sent to only. Bound: endpoint `$1`, range `$3`, `$4`, retention `$5`.
fn missed(sqlite: bool) -> String {
    format!(
        "FROM outbound_events ev JOIN webhook_endpoints e ON e.id = $1 \
         AND e.store_id = ev.store_id AND e.environment = ev.environment \
         WHERE ev.created_at >= $3 AND ev.created_at < $4 AND ev.created_at >= e.created_at \
         AND ev.created_at >= $5 \
         AND ev.event_type <> 'test.ping' AND {} \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id \
         AND d.endpoint_id = e.id)",
        repo::subscribed(sqlite)
    )
}

/// How many deliveries a bulk resend of `range` would queue: existing ones not held by a
/// worker, and missed events.
pub(super) async fn count_in_range(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    range: Range,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND {NOT_HELD} \
         AND {}) + (SELECT COUNT(*) {})",
        in_range(range.include_succeeded),
        missed(sqlite)
    );
    Ok(
        on_tx!(tx, conn => sqlx::query_scalar(&sql).bind(endpoint).bind(now).bind(range.from)
        .bind(range.to).bind(range.kept_since).fetch_one(&mut *conn).await)?,
    )
}

/// Creates the deliveries of the range's missed events, due at `now`; how many.
pub(super) async fn insert_missed(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    range: Range,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let id = if sqlite {
        repo::SQLITE_DELIVERY_ID
    } else {
        repo::POSTGRES_DELIVERY_ID
    };
    // Created at the event's time, so the log and an ordered endpoint's queue keep the
    // events' order.
    let sql = format!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, store_id, status, \
         attempt_count, next_attempt_at, created_at) \
         SELECT {id}, ev.id, e.id, e.store_id, 'pending', 0, $2, ev.created_at {} \
         ON CONFLICT (event_id, endpoint_id) DO NOTHING",
        missed(sqlite)
    );
    Ok(
        on_tx!(tx, conn => sqlx::query(&sql).bind(endpoint).bind(now).bind(range.from)
        .bind(range.to).bind(range.kept_since).execute(&mut *conn).await
        .map(|r| r.rows_affected()))?,
    )
}
