//! What a run tells the store's endpoints (outbound webhooks): each exception as a batch opens
//! it, and the run once it completed, as the API shows them, emitted in the transaction that
//! records them (a batch whose lease was lost commits neither).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Error,
    repo::{ItemRow, RunRow},
    service,
};
use crate::{
    db::Tx,
    outbound::{self, EventType, NewEvent},
};

/// Emits `reconciliation.exception_opened` for the items of `items` whose ids are in `added`
/// (the ones this batch recorded; an item found again was reported the first time). Once the
/// transaction commits, the caller wakes the delivery workers ([`outbound::wake`]) when `added`
/// is not empty.
pub(super) async fn exceptions_opened(
    tx: &mut Tx,
    items: &[ItemRow],
    added: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let added: HashSet<&Uuid> = added.iter().collect();
    let events = items
        .iter()
        .filter(|i| added.contains(&i.id))
        .map(|i| {
            let item = service::item_view(i.clone())?;
            let event_type = EventType::ReconciliationExceptionOpened;
            Ok(NewEvent::of(
                i.store_id,
                i.environment,
                event_type,
                &item,
                at,
            )?)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    outbound::emit_all(tx, events).await?;
    Ok(())
}

/// Emits `reconciliation.run_completed` for a run that just ended, when it completed; whether
/// it did (then wake the workers once committed).
pub(super) async fn run_ended(tx: &mut Tx, run: &RunRow, at: DateTime<Utc>) -> Result<bool, Error> {
    if run.status != "completed" {
        return Ok(false);
    }
    let view = service::run_view(run)?;
    let event_type = EventType::ReconciliationRunCompleted;
    let event = NewEvent::of(run.store_id, run.environment, event_type, &view, at)?;
    outbound::emit(tx, event).await?;
    Ok(true)
}
