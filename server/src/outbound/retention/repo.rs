//! SQL of the delivery log's retention (portable between SQLite and PostgreSQL). The
//! statuses are spelled as in the partial index `webhook_deliveries_finished` (migration 0036),
//! which SQLite uses only for a query repeating its condition term for term.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx, in_list},
    on_db, on_tx,
};

/// What one batch of deliveries removed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Removed {
    pub deliveries: u64,
    pub attempts: u64,
}

/// Deletes up to `limit` finished deliveries created before `cutoff`, oldest first, and their
/// attempts, in the caller's transaction.
pub(super) async fn delete_finished_deliveries(
    tx: &mut Tx,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Removed, DbError> {
    // PostgreSQL: the chosen rows stay locked until the commit, so a resend (which makes one
    // pending again) waits and then finds it gone, rather than reviving a delivery whose
    // attempts were just deleted; rows a resend holds are skipped for the next pass. SQLite
    // runs one writer at a time, so the transaction alone is enough.
    let lock = match tx {
        Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Tx::Sqlite(_) => "",
    };
    let select = format!(
        "SELECT id FROM webhook_deliveries \
         WHERE status IN ('succeeded', 'failed') AND created_at < $1 \
         ORDER BY created_at, id LIMIT $2{lock}"
    );
    let ids: Vec<Uuid> = on_tx!(tx, conn => sqlx::query_scalar(&select).bind(cutoff).bind(limit)
        .fetch_all(&mut *conn).await)?;
    if ids.is_empty() {
        return Ok(Removed {
            deliveries: 0,
            attempts: 0,
        });
    }
    // Explicitly rather than through the foreign key's cascade: counted, and bounded by the
    // batch like every other retention statement.
    let attempts = format!(
        "DELETE FROM webhook_delivery_attempts WHERE delivery_id IN ({})",
        in_list(ids.len(), 1)
    );
    let deliveries = format!(
        "DELETE FROM webhook_deliveries WHERE id IN ({})",
        in_list(ids.len(), 1)
    );
    let attempts = on_tx!(tx, conn => {
        let mut query = sqlx::query(&attempts).persistent(false);
        for id in &ids {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    let deliveries = on_tx!(tx, conn => {
        let mut query = sqlx::query(&deliveries).persistent(false);
        for id in &ids {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(Removed {
        deliveries,
        attempts,
    })
}

/// Deletes up to `limit` events created before `cutoff` that have no delivery left, oldest
/// first. Nothing adds a delivery to an existing event (fan-out happens with the event's own
/// insert), so one without deliveries stays without.
pub(super) async fn delete_unneeded_events(
    db: &Db,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, DbError> {
    const SQL: &str = "DELETE FROM outbound_events WHERE id IN (SELECT e.id FROM outbound_events e \
        WHERE e.created_at < $1 \
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) \
        ORDER BY e.created_at LIMIT $2)";
    Ok(on_db!(db, pool => sqlx::query(SQL).bind(cutoff).bind(limit)
        .execute(pool).await.map(|r| r.rows_affected()))?)
}
