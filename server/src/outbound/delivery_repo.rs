//! SQL of the delivery queue: claiming due deliveries under a lease, what a claimed delivery
//! needs, and recording an attempt's outcome (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DeliveryStatus;
use crate::{
    db::{Db, DbError, Tx, in_list, values},
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
/// next one waits until it succeeds or fails for good) while no other delivery of it is being
/// attempted under a live lease: an event committed after a newer one had been claimed (its
/// time is read before its transaction's locks) waits for that attempt, so an ordered
/// endpoint never has two requests in flight. Emission order is the events' time, then their
/// ids (UUIDv7, monotonic within a process); delivery ids are random within a millisecond, so
/// they cannot break a tie.
const DUE: &str = "((d.status = 'pending' AND d.next_attempt_at <= $1) \
    OR (d.status = 'delivering' AND d.locked_until <= $1)) \
    AND e.enabled \
    AND (NOT e.ordered OR NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
        WHERE o.endpoint_id = d.endpoint_id AND o.id <> d.id \
        AND ((o.status IN ('pending', 'delivering') \
            AND (o.created_at < d.created_at \
                OR (o.created_at = d.created_at AND o.event_id < d.event_id))) \
        OR (o.status = 'delivering' AND o.locked_until > $1))))";

fn claim_sql(db: &Db, excluded: usize) -> String {
    // PostgreSQL: rows another claimer holds are skipped, never waited for or taken twice;
    // SQLite runs one writer at a time, so the statement alone is atomic.
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE OF d SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let skip = if excluded == 0 {
        String::new()
    } else {
        format!(" AND d.endpoint_id NOT IN ({})", in_list(excluded, 4))
    };
    format!(
        "UPDATE webhook_deliveries SET status = 'delivering', locked_until = $2, \
         attempt_count = attempt_count + 1 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE {DUE}{skip} \
         ORDER BY d.next_attempt_at, d.id LIMIT $3{lock}) \
         RETURNING id, event_id, endpoint_id, attempt_count, locked_until"
    )
}

/// Claims up to `limit` due deliveries until `lease`, none of the `excluded` endpoints'.
pub(super) async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
    limit: i64,
    excluded: &[WebhookEndpointId],
) -> Result<Vec<Claimed>, DbError> {
    let sql = claim_sql(db, excluded.len());
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(now).bind(lease).bind(limit);
        for endpoint in excluded {
            query = query.bind(*endpoint);
        }
        query.fetch_all(pool).await
    })?)
}

/// Gives claimed deliveries back unattempted (their endpoint has no free slot in this process):
/// as they were before the claim, due again at once. Only while the claim's lease holds.
pub(super) async fn release(
    db: &Db,
    deliveries: &[Claimed],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut leases: Vec<DateTime<Utc>> = deliveries.iter().map(|c| c.locked_until).collect();
    leases.sort();
    leases.dedup();
    for lease in leases {
        let ids: Vec<WebhookDeliveryId> = deliveries
            .iter()
            .filter(|c| c.locked_until == lease)
            .map(|c| c.id)
            .collect();
        for chunk in ids.chunks(RELEASE_CHUNK) {
            let sql = format!(
                "UPDATE webhook_deliveries SET status = 'pending', locked_until = NULL, \
                 attempt_count = attempt_count - 1, \
                 next_attempt_at = COALESCE(next_attempt_at, $2) \
                 WHERE status = 'delivering' AND locked_until = $1 AND id IN ({})",
                in_list(chunk.len(), 3)
            );
            on_db!(db, pool => {
                let mut query = sqlx::query(&sql).persistent(false).bind(lease).bind(now);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(pool).await.map(|_| ())
            })?;
        }
    }
    Ok(())
}

/// Deliveries released per statement.
const RELEASE_CHUNK: usize = 200;

/// Pushes an endpoint's due, unclaimed deliveries to `until` (its slots in this process are
/// held by slow attempts): they stay out of the front of the queue, which every claim reads,
/// instead of being skipped by each claim. They are not attempted, so nothing else changes.
pub(super) async fn defer(
    db: &Db,
    endpoint: WebhookEndpointId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE webhook_deliveries SET next_attempt_at = $3 \
        WHERE status = 'pending' AND next_attempt_at <= $2 AND endpoint_id = $1";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(endpoint).bind(now).bind(until)
        .execute(pool).await.map(|r| r.rows_affected()))?,
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

/// Attempts per statement (eight parameters each).
const ATTEMPT_CHUNK: usize = 100;

/// Records attempts (whether or not their leases still hold: they happened), a hundred per
/// statement.
pub(super) async fn insert_attempts(tx: &mut Tx, rows: &[AttemptRow<'_>]) -> Result<(), DbError> {
    for chunk in rows.chunks(ATTEMPT_CHUNK) {
        let sql = format!(
            "INSERT INTO webhook_delivery_attempts (id, delivery_id, endpoint_id, \
             attempted_at, status_code, latency_ms, error, response_body) VALUES {}",
            values(chunk.len(), 8, 1)
        );
        on_tx!(tx, conn => {
            let mut query = sqlx::query(&sql).persistent(chunk.len() <= 4);
            for a in chunk {
                query = query
                    .bind(Uuid::now_v7()).bind(a.delivery.id).bind(a.delivery.endpoint_id)
                    .bind(a.attempted_at).bind(a.status_code).bind(a.latency_ms).bind(a.error)
                    .bind(a.response_body);
            }
            query.execute(&mut *conn).await.map(|_| ())
        })?;
    }
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

/// Deliveries settled per statement (seven parameters each).
const SETTLE_CHUNK: usize = 100;

/// Writes the deliveries' states, each only while the claimer's lease on it still holds (one
/// statement per hundred); the ids whose state was written.
pub(super) async fn settle_many(
    tx: &mut Tx,
    settled: &[(&Claimed, Settled<'_>)],
) -> Result<Vec<WebhookDeliveryId>, DbError> {
    let mut written = Vec::with_capacity(settled.len());
    for chunk in settled.chunks(SETTLE_CHUNK) {
        // PostgreSQL types the VALUES from the casts; SQLite compares the stored text as bound.
        let rows = match tx {
            Tx::Postgres(_) => (0..chunk.len())
                .map(|r| {
                    let p = |c: usize| 1 + r * 7 + c;
                    format!(
                        "(${}::uuid, ${}::timestamptz, ${}::text, ${}::timestamptz, ${}::int4, \
                         ${}::text, ${}::timestamptz)",
                        p(0),
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            Tx::Sqlite(_) => values(chunk.len(), 7, 1),
        };
        let sql = format!(
            "WITH v (id, lease, status, next_at, code, error, delivered) AS (VALUES {rows}) \
             UPDATE webhook_deliveries SET status = v.status, next_attempt_at = v.next_at, \
             locked_until = NULL, last_status_code = v.code, last_error = v.error, \
             delivered_at = COALESCE(v.delivered, webhook_deliveries.delivered_at) \
             FROM v WHERE webhook_deliveries.id = v.id \
             AND webhook_deliveries.status = 'delivering' \
             AND webhook_deliveries.locked_until = v.lease \
             RETURNING webhook_deliveries.id"
        );
        let ids: Vec<WebhookDeliveryId> = on_tx!(tx, conn => {
            let mut query = sqlx::query_scalar(&sql).persistent(chunk.len() <= 4);
            for (delivery, s) in chunk {
                query = query
                    .bind(delivery.id).bind(delivery.locked_until).bind(s.status)
                    .bind(s.next_attempt_at).bind(s.last_status_code).bind(s.last_error)
                    .bind(s.delivered_at);
            }
            query.fetch_all(&mut *conn).await
        })?;
        written.extend(ids);
    }
    Ok(written)
}

/// Successes of several endpoints: each is healthy again (one statement).
pub(super) async fn endpoints_succeeded(
    tx: &mut Tx,
    endpoints: &[WebhookEndpointId],
) -> Result<(), DbError> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE webhook_endpoints SET failing_since = NULL \
         WHERE failing_since IS NOT NULL AND id IN ({})",
        in_list(endpoints.len(), 1)
    );
    on_tx!(tx, conn => {
        let mut query = sqlx::query(&sql);
        for endpoint in endpoints {
            query = query.bind(*endpoint);
        }
        query.execute(&mut *conn).await.map(|_| ())
    })?;
    Ok(())
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
