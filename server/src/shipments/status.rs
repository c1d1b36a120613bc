//! A shipment's status and the one function that moves it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{providers::shipping::carrier::TrackingStatus, types::TextValue};

/// Where a shipment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// The label is being bought (or the carrier's answer was lost and a retry resolves it).
    Purchasing,
    /// The carrier refused the purchase; nothing was bought.
    PurchaseFailed,
    /// Label bought, not yet with the carrier.
    PreTransit,
    /// With the carrier.
    InTransit,
    /// Out for delivery.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// Delivery failed (exception); may still be delivered or returned.
    Failure,
    /// Returned to the sender.
    Returned,
    /// Label voided.
    Cancelled,
}

const ALL: [ShipmentStatus; 9] = [
    ShipmentStatus::Purchasing,
    ShipmentStatus::PurchaseFailed,
    ShipmentStatus::PreTransit,
    ShipmentStatus::InTransit,
    ShipmentStatus::OutForDelivery,
    ShipmentStatus::Delivered,
    ShipmentStatus::Failure,
    ShipmentStatus::Returned,
    ShipmentStatus::Cancelled,
];

impl ShipmentStatus {
    /// Database and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Purchasing => "purchasing",
            ShipmentStatus::PurchaseFailed => "purchase_failed",
            ShipmentStatus::PreTransit => "pre_transit",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::OutForDelivery => "out_for_delivery",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Failure => "failure",
            ShipmentStatus::Returned => "returned",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }

    /// Every status, in the order a shipment usually goes through them.
    pub fn all() -> [ShipmentStatus; 9] {
        ALL
    }

    /// A label exists (bought, and not refused).
    pub fn has_label(self) -> bool {
        !matches!(
            self,
            ShipmentStatus::Purchasing | ShipmentStatus::PurchaseFailed
        )
    }

    /// How far along a parcel is; tracking never moves a shipment to a lower rank.
    fn rank(self) -> u8 {
        match self {
            ShipmentStatus::Purchasing | ShipmentStatus::PurchaseFailed => 0,
            ShipmentStatus::PreTransit => 1,
            ShipmentStatus::InTransit => 2,
            ShipmentStatus::OutForDelivery => 3,
            ShipmentStatus::Failure => 4,
            ShipmentStatus::Delivered | ShipmentStatus::Returned => 5,
            ShipmentStatus::Cancelled => 6,
        }
    }

    /// No tracking event changes it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ShipmentStatus::Delivered
                | ShipmentStatus::Returned
                | ShipmentStatus::Cancelled
                | ShipmentStatus::PurchaseFailed
        )
    }
}

impl TextValue for ShipmentStatus {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        ALL.into_iter().find(|s| s.as_str() == text)
    }
}
crate::text_value_sql!(ShipmentStatus);

impl std::fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change asks of a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The carrier sold the label.
    Purchased,
    /// The carrier refused the purchase.
    PurchaseRefused,
    /// The merchant voided the label and the carrier confirmed.
    Voided,
    /// A tracking event arrived (in any order, possibly twice).
    Tracked(TrackingStatus),
}

/// Why a change does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} shipment cannot be {change}")]
pub struct Refused {
    /// The shipment's status.
    pub from: ShipmentStatus,
    /// What was asked.
    pub change: &'static str,
}

/// The one transition function. Tracking events only ever move a shipment forward: a late,
/// out-of-order or repeated event leaves it where it is (`Ok(current)`), and nothing moves a
/// final status. Purchases and voids are requests: one that does not fit is refused.
pub fn apply(current: ShipmentStatus, change: Change) -> Result<ShipmentStatus, Refused> {
    use ShipmentStatus as S;
    let refused = |change| {
        Err(Refused {
            from: current,
            change,
        })
    };
    match change {
        Change::Purchased => match current {
            S::Purchasing => Ok(S::PreTransit),
            // Already recorded (a retry, or tracking got there first): nothing changes.
            s if s.has_label() => Ok(s),
            _ => refused("purchased"),
        },
        Change::PurchaseRefused => match current {
            S::Purchasing => Ok(S::PurchaseFailed),
            S::PurchaseFailed => Ok(S::PurchaseFailed),
            _ => refused("refused"),
        },
        Change::Voided => match current {
            S::PreTransit | S::Cancelled => Ok(S::Cancelled),
            _ => refused("voided"),
        },
        Change::Tracked(event) => {
            let next = match event {
                TrackingStatus::PreTransit => S::PreTransit,
                TrackingStatus::InTransit => S::InTransit,
                TrackingStatus::OutForDelivery => S::OutForDelivery,
                TrackingStatus::Delivered => S::Delivered,
                TrackingStatus::Failure => S::Failure,
                TrackingStatus::Returned => S::Returned,
                // A carrier's void confirmation: only a label not yet picked up is voided.
                TrackingStatus::Cancelled if current == S::PreTransit => S::Cancelled,
                TrackingStatus::Cancelled | TrackingStatus::Unknown => return Ok(current),
            };
            // Before the purchase is recorded the events wait in the timeline; the purchase
            // then replays them.
            if !current.has_label() || current.is_final() || next.rank() <= current.rank() {
                return Ok(current);
            }
            Ok(next)
        }
    }
}

/// The documented values of a shipment list's `status` filter.
pub fn filter_schema() -> utoipa::openapi::Object {
    crate::types::filter_schema(ALL.map(ShipmentStatus::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShipmentStatus as S;
    use TrackingStatus as T;

    fn track(from: S, events: &[T]) -> S {
        events.iter().fold(from, |s, e| {
            apply(s, Change::Tracked(*e)).expect("tracking never fails")
        })
    }

    #[test]
    fn tracking_moves_forward_only() {
        let delivered = track(
            S::PreTransit,
            &[T::InTransit, T::OutForDelivery, T::Delivered],
        );
        assert_eq!(delivered, S::Delivered);
        // Late and out-of-order events change nothing.
        assert_eq!(
            track(S::OutForDelivery, &[T::InTransit, T::PreTransit]),
            S::OutForDelivery
        );
        assert_eq!(
            track(S::Delivered, &[T::InTransit, T::Failure, T::Returned]),
            S::Delivered
        );
        // A failure can still end delivered or returned.
        assert_eq!(track(S::InTransit, &[T::Failure, T::Returned]), S::Returned);
        assert_eq!(
            track(S::InTransit, &[T::Failure, T::InTransit, T::Delivered]),
            S::Delivered
        );
        // Duplicates are no-ops.
        assert_eq!(
            track(S::InTransit, &[T::InTransit, T::InTransit]),
            S::InTransit
        );
        assert_eq!(track(S::InTransit, &[T::Unknown]), S::InTransit);
    }

    #[test]
    fn tracking_waits_for_the_purchase() {
        assert_eq!(track(S::Purchasing, &[T::InTransit]), S::Purchasing);
        assert_eq!(track(S::PurchaseFailed, &[T::Delivered]), S::PurchaseFailed);
        assert_eq!(track(S::Cancelled, &[T::InTransit]), S::Cancelled);
    }

    #[test]
    fn a_void_applies_only_before_pickup() {
        assert_eq!(apply(S::PreTransit, Change::Voided), Ok(S::Cancelled));
        assert_eq!(apply(S::Cancelled, Change::Voided), Ok(S::Cancelled));
        for from in [S::Purchasing, S::InTransit, S::Delivered, S::PurchaseFailed] {
            assert!(apply(from, Change::Voided).is_err(), "{from}");
        }
        assert_eq!(track(S::PreTransit, &[T::Cancelled]), S::Cancelled);
        assert_eq!(track(S::InTransit, &[T::Cancelled]), S::InTransit);
    }

    #[test]
    fn purchases_resolve_once() {
        assert_eq!(apply(S::Purchasing, Change::Purchased), Ok(S::PreTransit));
        assert_eq!(apply(S::InTransit, Change::Purchased), Ok(S::InTransit));
        assert!(apply(S::PurchaseFailed, Change::Purchased).is_err());
        assert_eq!(
            apply(S::Purchasing, Change::PurchaseRefused),
            Ok(S::PurchaseFailed)
        );
        assert!(apply(S::PreTransit, Change::PurchaseRefused).is_err());
    }

    #[test]
    fn statuses_round_trip_as_text() {
        for status in S::all() {
            assert_eq!(S::from_text(status.as_text()), Some(status));
        }
        assert_eq!(S::from_text("lost"), None);
    }
}
