//! Recording tracking events: all that are due per the carrier's clock ([`run_due`], what the
//! ticker runs), or a label's next one at once ([`advance`], the test helper). Each event is
//! recorded together with its webhook in the outbox.

use chrono::{DateTime, Utc};

use crate::{
    db::on_db,
    error::{CarrierError, Error},
    model::{Label, TrackingEvent},
    state::CarrierState,
    store::load_label,
    webhooks::{self, About, TRACKER_UPDATED, enqueue},
};

/// Events recorded per transaction.
const BATCH: i64 = 200;

/// A scheduled event with the label it belongs to: label id, sequence, code, description,
/// location, due, account, tracking number, reference.
type Due = (
    String,
    i32,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    String,
    String,
    Option<String>,
);

/// Records every scheduled event whose time has come (per the carrier's clock), each stamped
/// with its scheduled time, and queues its webhook. Returns how many were recorded.
///
/// Safe to run from several processes on one database: an event is recorded by a
/// compare-and-set on its row, once.
pub async fn run_due(state: &CarrierState) -> Result<u64, Error> {
    const DUE: &str = "SELECT e.label_id, e.sequence, e.code, e.description, e.location, \
        e.due_at, l.account, l.tracking_number, l.reference FROM sandbox_carrier_events e \
        JOIN sandbox_carrier_labels l ON l.id = e.label_id \
        WHERE e.occurred_at IS NULL AND e.due_at <= $1 \
        ORDER BY e.due_at, e.label_id, e.sequence LIMIT $2";
    const RECORD: &str = "UPDATE sandbox_carrier_events SET occurred_at = due_at \
        WHERE label_id = $1 AND sequence = $2 AND occurred_at IS NULL";
    // Checked before any write transaction: the ticker asks every second, and on SQLite a write
    // transaction takes the one writer lock the host's own requests need.
    const ANY_DUE: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM sandbox_carrier_events \
        WHERE occurred_at IS NULL AND due_at <= $1 LIMIT 1) due";
    let any: i64 = on_db!(&state.db, pool => {
        sqlx::query_scalar(ANY_DUE).bind(state.now()).fetch_one(pool).await
    })?;
    if any == 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let now = state.now();
        let (found, recorded) = on_db!(&state.db, pool => {
            async {
                let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
                let due: Vec<Due> = sqlx::query_as(DUE).bind(now).bind(BATCH)
                    .fetch_all(&mut *tx).await?;
                let mut recorded = 0u64;
                for (label_id, sequence, code, description, location, due_at, account, tracking_number, reference) in &due {
                    let done = sqlx::query(RECORD).bind(label_id).bind(sequence)
                        .execute(&mut *tx).await?.rows_affected();
                    if done != 1 {
                        continue;
                    }
                    let event = TrackingEvent {
                        sequence: *sequence,
                        code: code.clone(),
                        description: description.clone(),
                        occurred_at: *due_at,
                        location: location.clone(),
                    };
                    let about = About {
                        account,
                        label_id,
                        tracking_number,
                        reference: reference.as_deref(),
                    };
                    let notice = webhooks::notice(&about, TRACKER_UPDATED, &event, now);
                    enqueue!(tx, &notice, now).await?;
                    recorded += 1;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>((due.len(), recorded))
            }
            .await
        })?;
        total += recorded;
        if i64::try_from(found).unwrap_or(i64::MAX) < BATCH {
            break;
        }
    }
    if total > 0 {
        state.wakeup.notify_one();
    }
    Ok(total)
}

/// Records the next scheduled event of `account`'s label `id` now, whatever its time (stamped
/// with the earlier of now and its scheduled time, so the timeline stays in order), and
/// queues its webhook. A label with nothing left to happen is returned unchanged.
pub(crate) async fn advance(
    state: &CarrierState,
    account: &str,
    id: &str,
) -> Result<Label, CarrierError> {
    const NEXT: &str = "SELECT sequence, code, description, location, due_at \
        FROM sandbox_carrier_events WHERE label_id = $1 AND occurred_at IS NULL \
        ORDER BY sequence LIMIT 1";
    const RECORD: &str = "UPDATE sandbox_carrier_events SET occurred_at = $3 \
        WHERE label_id = $1 AND sequence = $2 AND occurred_at IS NULL";
    type Next = (i32, String, String, Option<String>, DateTime<Utc>);
    let now = state.now();
    let (label, recorded) = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            let Some(before) = load_label!(tx, account, id).await? else {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>((None, false));
            };
            let next: Option<Next> = sqlx::query_as(NEXT).bind(id).fetch_optional(&mut *tx).await?;
            let Some((sequence, code, description, location, due_at)) = next else {
                tx.rollback().await?;
                return Ok((Some(before), false));
            };
            let occurred_at = due_at.min(now);
            sqlx::query(RECORD).bind(id).bind(sequence).bind(occurred_at)
                .execute(&mut *tx).await?;
            let event = TrackingEvent { sequence, code, description, occurred_at, location };
            let about = About {
                account,
                label_id: &before.id,
                tracking_number: &before.tracking_number,
                reference: before.reference.as_deref(),
            };
            let notice = webhooks::notice(&about, TRACKER_UPDATED, &event, now);
            enqueue!(tx, &notice, now).await?;
            let after = load_label!(tx, account, id).await?;
            tx.commit().await?;
            Ok((after, true))
        }
        .await
    })?;
    if recorded {
        state.wakeup.notify_one();
    }
    label.ok_or_else(crate::api::label_not_found)
}
