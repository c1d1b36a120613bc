//! What a shipment's change tells the store's endpoints (outbound webhooks): an event per status
//! it reached, with the shipment as the API shows it afterwards, emitted in the transaction
//! that changed it.

use chrono::{DateTime, Utc};

use super::{Error, repo::ShipmentRow, status::ShipmentStatus, view};
use crate::{
    db::Tx,
    outbound::{self, EventType, NewEvent},
};

/// The event of reaching `status` (none for the states a shipment only passes on its way to a
/// label: they are no news to a merchant).
fn reached(status: ShipmentStatus) -> Option<EventType> {
    match status {
        ShipmentStatus::Purchasing => None,
        ShipmentStatus::PreTransit => Some(EventType::ShipmentLabelPurchased),
        ShipmentStatus::PurchaseFailed => Some(EventType::ShipmentPurchaseFailed),
        ShipmentStatus::InTransit => Some(EventType::ShipmentInTransit),
        ShipmentStatus::OutForDelivery => Some(EventType::ShipmentOutForDelivery),
        ShipmentStatus::Delivered => Some(EventType::ShipmentDelivered),
        ShipmentStatus::Failure => Some(EventType::ShipmentException),
        ShipmentStatus::Returned => Some(EventType::ShipmentReturned),
        ShipmentStatus::Cancelled => Some(EventType::ShipmentVoided),
    }
}

/// What moving from `before` to `after` reports. A purchase is always reported as such, and
/// then where the tracking that arrived before it took the shipment.
pub(super) fn events_of(before: ShipmentStatus, after: ShipmentStatus) -> Vec<EventType> {
    if before == after {
        return Vec::new();
    }
    let mut events = Vec::new();
    if before == ShipmentStatus::Purchasing && after.has_label() {
        events.push(EventType::ShipmentLabelPurchased);
    }
    events.extend(reached(after).filter(|e| !events.contains(e)));
    events
}

/// Emits, in `tx`, what moving `shipment` (as it now is, written) from `before` reports;
/// whether it emitted anything (then [`outbound::wake`] the workers once it is committed).
pub(super) async fn changed(
    tx: &mut Tx,
    before: ShipmentStatus,
    shipment: &ShipmentRow,
    at: DateTime<Utc>,
) -> Result<bool, Error> {
    let types = events_of(before, shipment.status);
    if types.is_empty() {
        return Ok(false);
    }
    let (store, env) = (shipment.store_id, shipment.environment);
    let view = view::view_in(tx, shipment.clone()).await?;
    let events = types
        .into_iter()
        .map(|t| NewEvent::of(store, env, t, &view, at))
        .collect::<Result<Vec<_>, _>>()?;
    outbound::emit_all(tx, events).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType as E;
    use ShipmentStatus as S;

    #[test]
    fn each_status_reached_is_reported_once() {
        assert_eq!(
            events_of(S::Purchasing, S::PreTransit),
            [E::ShipmentLabelPurchased]
        );
        // Tracking that came before the purchase's answer: the purchase, then where it is.
        assert_eq!(
            events_of(S::Purchasing, S::Delivered),
            [E::ShipmentLabelPurchased, E::ShipmentDelivered]
        );
        assert_eq!(
            events_of(S::Purchasing, S::PurchaseFailed),
            [E::ShipmentPurchaseFailed]
        );
        assert_eq!(
            events_of(S::PreTransit, S::InTransit),
            [E::ShipmentInTransit]
        );
        assert_eq!(events_of(S::InTransit, S::Failure), [E::ShipmentException]);
        assert_eq!(events_of(S::Failure, S::Returned), [E::ShipmentReturned]);
        assert_eq!(events_of(S::PreTransit, S::Cancelled), [E::ShipmentVoided]);
        // No change, no news.
        for status in S::all() {
            assert!(events_of(status, status).is_empty());
        }
    }
}
