//! Tracking events from carriers' verified webhooks: stored once per position in the carrier's
//! timeline, and applied through the transition function (which never moves a shipment back).

use super::{
    Error, notify,
    repo::{self, EventRow},
    status::{Change, ShipmentStatus, apply},
};
use crate::{
    outbound,
    providers::shipping::carrier::TrackingUpdate,
    state::AppState,
    types::{Environment, ShipmentId, StoreId},
};

/// Records a carrier's tracking event for one of the store's shipments (in the environment
/// whose secret signed it). The shipment is found by the carrier's label id, or by our id the
/// carrier echoes (an event can arrive before the purchase's answer was recorded). An event
/// for no known shipment is an error, so the webhook pipeline retries it.
pub async fn record_event(
    state: &AppState,
    store: StoreId,
    env: Environment,
    provider: &str,
    provider_label_id: &str,
    reference: Option<&str>,
    update: &TrackingUpdate,
) -> Result<(), Error> {
    let mut shipment = repo::by_label(&state.db, store, env, provider, provider_label_id).await?;
    if shipment.is_none()
        && let Some(id) = reference.and_then(|r| r.parse::<ShipmentId>().ok())
    {
        shipment = repo::find(&state.db, store, env, id)
            .await?
            .filter(|s| s.provider == provider && s.provider_label_id.is_none());
    }
    let shipment = shipment.ok_or(Error::NotFound)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    // The row lock first, then the timeline: every writer of a shipment takes them in this
    // order (the insert's foreign key check would otherwise share-lock the row first, and two
    // writers upgrading their share locks deadlock).
    let mut current = repo::lock(&mut tx, shipment.id).await?;
    if !repo::insert_tracking(&mut tx, shipment.id, update, now).await? {
        // Delivered twice: already in the timeline, already applied.
        return Ok(());
    }
    let next = apply(current.status, Change::Tracked(update.status))?;
    let mut emitted = false;
    if next != current.status {
        let before = current.status;
        let detail = format!(
            "{} → {} ({} #{})",
            current.status, next, update.raw_code, update.sequence
        );
        current.status = next;
        if next == ShipmentStatus::Cancelled {
            // Voided at the carrier: a capture on shipment still due is not made.
            current.capture_due = false;
        }
        current.updated_at = now;
        repo::update(&mut tx, &current).await?;
        repo::insert_event(
            &mut tx,
            &EventRow {
                id: uuid::Uuid::now_v7(),
                shipment_id: shipment.id,
                kind: "status_changed".to_owned(),
                actor: format!("webhook:{provider}"),
                detail,
                created_at: now,
            },
        )
        .await?;
        emitted = notify::changed(&mut tx, before, &current, now).await?;
    }
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    Ok(())
}
