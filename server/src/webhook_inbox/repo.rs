//! SQL of verified deliveries (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError},
    on_db,
    types::{Environment, StoreId},
};

/// A verified delivery to store.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The row's id.
    pub id: Uuid,
    /// The store it was sent to.
    pub store: StoreId,
    /// The provider that signed it.
    pub provider: &'static str,
    /// The provider's event id (unique per store and provider).
    pub event_id: String,
    /// The event's type, as the provider names it.
    pub event_type: String,
    /// The body as received.
    pub payload: String,
    /// The environment whose secret verified it.
    pub environment: Environment,
    /// When it was received.
    pub now: DateTime<Utc>,
}

/// Stores the verified deliveries (one statement) except those whose provider event id was
/// stored before, or appears earlier in `events`; returns the ids of the rows written.
pub(super) async fn insert_verified(db: &Db, events: &[&Verified]) -> Result<Vec<Uuid>, DbError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // In key order: two processes inserting overlapping batches then take the unique index's
    // locks in the same order and cannot deadlock each other.
    let mut events = events.to_vec();
    events.sort_by(|a, b| {
        (a.store, a.provider, &a.event_id).cmp(&(b.store, b.provider, &b.event_id))
    });
    let sql = format!(
        "INSERT INTO webhook_events (id, store_id, provider, provider_event_id, event_type, \
         signature_valid, payload, status, attempt_count, next_attempt_at, received_at, \
         environment) VALUES {} \
         ON CONFLICT (store_id, provider, provider_event_id) WHERE signature_valid DO NOTHING \
         RETURNING id",
        rows(events.len())
    );
    Ok(on_db!(db, pool => {
        // Batch sizes vary with the load: only the single row is worth a prepared statement.
        let mut query = sqlx::query_scalar(&sql).persistent(events.len() == 1);
        for e in &events {
            query = query.bind(e.id).bind(e.store).bind(e.provider).bind(&e.event_id)
                .bind(&e.event_type).bind(true).bind(&e.payload).bind(e.now).bind(e.environment);
        }
        query.fetch_all(pool).await
    })?)
}

/// `VALUES` rows of [`insert_verified`]: 9 parameters each, the status and attempt count fixed,
/// the time twice (due now, received now).
fn rows(n: usize) -> String {
    (0..n)
        .map(|r| {
            let p = |c: usize| format!("${}", r * 9 + c);
            format!(
                "({}, {}, {}, {}, {}, {}, {}, 'pending', 0, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(8),
                p(9)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_row_has_nine_parameters_with_the_time_twice() {
        assert_eq!(
            super::rows(2),
            "($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, $9), \
             ($10, $11, $12, $13, $14, $15, $16, 'pending', 0, $17, $17, $18)"
        );
    }
}
