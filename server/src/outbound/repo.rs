//! SQL of the outbox's write side: events and their fan-out to subscribed endpoints.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{DbError, Tx, Writes, in_list, values},
    types::{Environment, OutboundEventId, StoreId},
};

/// Events per insert: a statement on SQLite, a part of the held writes on PostgreSQL (seven
/// parameters each). All parts share one statement's 65,535 parameters there, so one change
/// emits at most a few thousand events (the largest caller, reconciliation, 500 a batch).
pub(super) const CHUNK: usize = 50;

/// An event as stored.
#[derive(Debug, Clone)]
pub(super) struct EventRow {
    pub id: OutboundEventId,
    pub store_id: StoreId,
    pub environment: Environment,
    pub event_type: &'static str,
    pub api_version: &'static str,
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

const INSERT_EVENTS: &str = "INSERT INTO outbound_events (id, store_id, environment, event_type, \
    api_version, payload, created_at) VALUES";

const INSERT_DELIVERIES: &str = "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, \
    store_id, status, attempt_count, next_attempt_at, created_at)";

// Delivery ids are made in the statement that fans out (one per endpoint it finds): UUIDv7
// with the event's millisecond and random bits, so they sort by time like every other id.
// An endpoint's order within a millisecond is its events' order (event ids are monotonic).
pub(super) const SQLITE_DELIVERY_ID: &str = "unhex(substr(hex(ev.id), 1, 12) || '7' || \
    substr(hex(randomblob(2)), 2) || substr('89AB', 1 + (random() & 3), 1) || \
    substr(hex(randomblob(8)), 2))";
pub(super) const POSTGRES_DELIVERY_ID: &str = "(substr(replace(ev.id::text, '-', ''), 1, 12) || '7' || \
    substr(replace(gen_random_uuid()::text, '-', ''), 14, 19))::uuid";

/// Whether endpoint `e` subscribes to event `ev`'s type (or to every type, `*`).
pub(super) fn subscribed(sqlite: bool) -> &'static str {
    if sqlite {
        "EXISTS (SELECT 1 FROM json_each(e.event_types) t WHERE t.value IN (ev.event_type, '*'))"
    } else {
        "e.event_types::jsonb ?| ARRAY[ev.event_type, '*']"
    }
}

/// Which endpoints get a delivery.
fn audience(sqlite: bool, endpoint_param: Option<usize>) -> String {
    match (endpoint_param, sqlite) {
        // Asked for by a person: that endpoint, whatever it subscribes to.
        (Some(n), _) => format!("e.id = ${n}"),
        (None, true) => format!("e.enabled <> 0 AND {}", subscribed(true)),
        (None, false) => format!("e.enabled AND {}", subscribed(false)),
    }
}

/// Binds one event row's seven parameters, in [`INSERT_EVENTS`]'s order.
macro_rules! bind_event {
    ($query:expr, $row:expr) => {{
        let r = $row;
        $query
            .bind(r.id)
            .bind(r.store_id)
            .bind(r.environment)
            .bind(r.event_type)
            .bind(r.api_version)
            .bind(&r.payload)
            .bind(r.created_at)
    }};
}

/// The fan-out's join on PostgreSQL, from the inserted events `ev`. The endpoints are locked
/// as the deliveries' foreign keys will be: an endpoint being deleted is waited for and then
/// skipped. Without it, the foreign-key check would wait for the delete and then fail the
/// whole transaction, a payment's settlement included.
fn postgres_fan_out(events: &str, endpoint_param: Option<usize>) -> String {
    format!(
        "{INSERT_DELIVERIES} SELECT {POSTGRES_DELIVERY_ID}, ev.id, e.id, e.store_id, \
         'pending', 0, ev.created_at, ev.created_at \
         FROM {events} ev JOIN webhook_endpoints e \
         ON e.store_id = ev.store_id AND e.environment = ev.environment \
         WHERE {} FOR KEY SHARE OF e",
        audience(false, endpoint_param)
    )
}

const RETURNING_EVENTS: &str = "RETURNING id, store_id, environment, event_type, created_at";

/// [`insert_fanned_out`] to every subscribed endpoint, as two of `writes` on PostgreSQL (the
/// events, then the deliveries selected from them).
pub(super) async fn insert_fanned_out_in(
    tx: &mut Tx,
    writes: &mut Writes,
    rows: &[EventRow],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Tx::Sqlite(_) = tx {
        return insert_fanned_out(tx, rows, None).await;
    }
    let events = writes.next_name();
    let sql = format!(
        "{INSERT_EVENTS} {} {RETURNING_EVENTS}",
        values(rows.len(), 7, 1)
    );
    // The few shapes a change emits (one to a few events) are kept prepared.
    let part = writes.part(sql).kept(rows.len() <= 4);
    rows.iter().fold(part, |q, r| bind_event!(q, r)).end();
    let fan_out = format!("{} RETURNING 1", postgres_fan_out(&events, None));
    writes.part(fan_out).end();
    Ok(())
}

/// Inserts `rows` and their deliveries: to `endpoint` alone when given, else to every enabled
/// endpoint of each event's store and environment subscribed to its type or `*`. One statement
/// on PostgreSQL (the deliveries are selected from the inserted events), two on SQLite.
pub(super) async fn insert_fanned_out(
    tx: &mut Tx,
    rows: &[EventRow],
    endpoint: Option<Uuid>,
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let events = format!("{INSERT_EVENTS} {}", values(rows.len(), 7, 1));
    let endpoint_param = endpoint.map(|_| rows.len() * 7 + 1);
    // The few shapes a change emits (one to a few events) are prepared once per connection;
    // the rare large batches are not kept.
    let cached = rows.len() <= 4;
    match tx {
        Tx::Sqlite(tx) => {
            let mut q = sqlx::query(&events).persistent(cached);
            for r in rows {
                q = bind_event!(q, r);
            }
            q.execute(&mut **tx).await?;
            let ids = in_list(rows.len(), 1);
            let fan_out = format!(
                "{INSERT_DELIVERIES} SELECT {SQLITE_DELIVERY_ID}, ev.id, e.id, e.store_id, \
                 'pending', 0, ev.created_at, ev.created_at \
                 FROM outbound_events ev JOIN webhook_endpoints e \
                 ON e.store_id = ev.store_id AND e.environment = ev.environment \
                 WHERE ev.id IN ({ids}) AND {}",
                audience(true, endpoint.map(|_| rows.len() + 1))
            );
            let mut q = sqlx::query(&fan_out).persistent(cached);
            for r in rows {
                q = q.bind(r.id);
            }
            if let Some(endpoint) = endpoint {
                q = q.bind(endpoint);
            }
            q.execute(&mut **tx).await?;
        }
        Tx::Postgres(tx) => {
            let sql = format!(
                "WITH ev AS ({events} {RETURNING_EVENTS}) {}",
                postgres_fan_out("ev", endpoint_param)
            );
            let mut q = sqlx::query(&sql).persistent(cached);
            for r in rows {
                q = bind_event!(q, r);
            }
            if let Some(endpoint) = endpoint {
                q = q.bind(endpoint);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}
