//! SQL of the rests the ledger still holds after a capture at a provider that captures once
//! (`PaymentAdapter::captures_once`): the provider released the uncaptured rest with the
//! capture, but the ledger's release of it was never recorded (it failed, or the process
//! stopped before it), so the card looks held here while it is not. The resolver's sweep
//! releases them again.

use chrono::{DateTime, Utc};

use super::repo::TxnRow;
use crate::{
    db::{Db, DbError},
    on_db,
};

/// The capture of an intent whose rest is still held, and how many releases of it were tried
/// (and refused: one open or succeeded would have cleared the rest or be in flight).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct HeldRest {
    /// The intent's succeeded capture (its key derives the release's).
    #[sqlx(flatten)]
    pub capture: TxnRow,
    /// Releases tried so far.
    pub releases: i64,
}

/// What the sweep takes.
pub(super) struct Sweep<'a> {
    /// Providers that capture once.
    pub providers: &'a [&'a str],
    /// Captures settled after this are left to the flow that settled them (it releases next).
    pub settled_before: DateTime<Utc>,
    /// A release refused after this is not tried again yet.
    pub refused_before: DateTime<Utc>,
    /// Rests whose releases were refused this many times are left to the merchant's void.
    pub attempts: i64,
    /// Rows at most.
    pub limit: i64,
}

/// Up to `limit` held rests, by intent. The partial index `payment_intents_held` holds only
/// intents with an uncaptured rest (migration 0032), so the cost follows them, not history.
pub(super) async fn held_rests(db: &Db, sweep: &Sweep<'_>) -> Result<Vec<HeldRest>, DbError> {
    if sweep.providers.is_empty() {
        return Ok(Vec::new());
    }
    let providers = (0..sweep.providers.len())
        .map(|n| format!("${}", n + 5))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT c.*, (SELECT COUNT(*) FROM payment_transactions v \
           WHERE v.payment_intent_id = i.id AND v.operation = 'void') AS releases \
         FROM payment_intents i \
         JOIN payment_transactions c ON c.payment_intent_id = i.id \
           AND c.operation = 'capture' AND c.status = 'succeeded' \
         WHERE i.provider IN ({providers}) \
           AND i.authorized_amount > i.captured_amount + i.released_amount \
           AND i.multicapture = $1 AND i.capture_reserved = 0 AND i.void_pending = $1 \
           AND c.updated_at <= $2 \
           AND NOT EXISTS (SELECT 1 FROM payment_transactions v \
             WHERE v.payment_intent_id = i.id AND v.operation = 'void' \
               AND (v.status <> 'failed' OR v.updated_at > $3)) \
           AND (SELECT COUNT(*) FROM payment_transactions v \
             WHERE v.payment_intent_id = i.id AND v.operation = 'void') < $4 \
         ORDER BY i.id LIMIT {}",
        sweep.limit
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql)
            .bind(false)
            .bind(sweep.settled_before)
            .bind(sweep.refused_before)
            .bind(sweep.attempts);
        for provider in sweep.providers {
            query = query.bind(*provider);
        }
        query.fetch_all(pool).await
    })?)
}
