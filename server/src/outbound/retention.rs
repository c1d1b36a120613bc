//! How long the delivery log and the outbox are kept (`CASSA_RETENTION_OUTBOUND_WEBHOOKS_DAYS`,
//! run by the retention job).
//!
//! - A delivery goes once it is finished (`succeeded` or `failed`) and its event is older than
//!   the period, its attempts with it. One still `pending` or `delivering` is never deleted,
//!   however old: it is waiting for its endpoint (a disabled one keeps it until enabled) or is
//!   being attempted, and a person may have just resent it.
//! - An event goes once it is older than the period and no delivery is left for it: an event
//!   is the body its deliveries send, so it stays as long as one of them may still send it.
//!
//! The age is the event's, not the last attempt's (Stripe keeps 30 days of events the same
//! way): a delivery resent by hand near the end of the period is removed soon after it
//! succeeds.

mod repo;

use chrono::{DateTime, Utc};

use crate::db::{Db, DbError};

/// Rows one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Finished deliveries.
    pub deliveries: u64,
    /// Their attempts.
    pub attempts: u64,
    /// Events no delivery needed any more.
    pub events: u64,
}

/// Removes finished deliveries (with their attempts) of events emitted before `cutoff`, then
/// the events before `cutoff` left without deliveries: `batch` rows per statement (each batch
/// of deliveries one short transaction), at most `max_batches` batches per table, so a large
/// backlog is worked off over several passes without holding locks for long.
pub async fn purge(
    db: &Db,
    cutoff: DateTime<Utc>,
    batch: i64,
    max_batches: u32,
) -> Result<Purged, DbError> {
    let mut purged = Purged::default();
    for _ in 0..max_batches {
        let mut tx = db.begin_write().await?;
        let removed = repo::delete_finished_deliveries(&mut tx, cutoff, batch).await?;
        tx.commit().await?;
        purged.deliveries += removed.deliveries;
        purged.attempts += removed.attempts;
        if removed.deliveries < batch as u64 {
            break;
        }
    }
    for _ in 0..max_batches {
        let removed = repo::delete_unneeded_events(db, cutoff, batch).await?;
        purged.events += removed;
        if removed < batch as u64 {
            break;
        }
    }
    Ok(purged)
}
