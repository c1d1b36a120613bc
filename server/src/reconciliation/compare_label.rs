//! What one shipment's comparison with its carrier's label record finds. Pure, like the
//! payments' comparison: a label is money the carrier charged the store, so its price and
//! whether it was voided (refunded) must agree with the shipment.

use chrono::{DateTime, Utc};

use super::{ItemKind, compare::Theirs};
use crate::shipments::ShipmentStatus;

/// Our side of a label: the shipment that bought it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurLabel {
    /// The shipment's status.
    pub status: ShipmentStatus,
    /// The carrier's label id, once the carrier answered.
    pub provider_label_id: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// The label's price as we recorded it.
    pub amount: i64,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl OurLabel {
    /// What the store owes the carrier for it: nothing once voided or never bought.
    pub fn charged(&self) -> i64 {
        if self.bought() && self.status != ShipmentStatus::Cancelled {
            self.amount
        } else {
            0
        }
    }

    fn bought(&self) -> bool {
        match self.status {
            ShipmentStatus::Purchasing | ShipmentStatus::PurchaseFailed => false,
            ShipmentStatus::PreTransit
            | ShipmentStatus::InTransit
            | ShipmentStatus::OutForDelivery
            | ShipmentStatus::Delivered
            | ShipmentStatus::Failure
            | ShipmentStatus::Returned
            | ShipmentStatus::Cancelled => true,
        }
    }
}

/// The carrier's record of a label as a run stages it: `status` `purchased` or `voided`,
/// `amount` and `captured` the price, `refunded` the price once voided.
pub fn label_record(
    id: String,
    reference: Option<String>,
    amount: i64,
    currency: String,
    voided: bool,
) -> Theirs {
    Theirs {
        id,
        reference,
        status: if voided { "voided" } else { "purchased" }.to_owned(),
        currency,
        amount,
        captured: amount,
        refunded: if voided { amount } else { 0 },
    }
}

/// Compares a shipment's label with the carrier's record of it. `None`: nothing the carrier
/// could know about (a purchase it refused, one still within the threshold).
pub fn compare_label(
    ours: &OurLabel,
    theirs: Option<&Theirs>,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> Option<ItemKind> {
    match ours.status {
        // The purchase's answer was lost: the shipments' resolver settles it.
        ShipmentStatus::Purchasing => {
            return (now - ours.updated_at > stale_after).then_some(ItemKind::StaleUnknown);
        }
        // Refused: nothing bought (a label the carrier has for it anyway is an orphan).
        ShipmentStatus::PurchaseFailed => return None,
        ShipmentStatus::PreTransit
        | ShipmentStatus::InTransit
        | ShipmentStatus::OutForDelivery
        | ShipmentStatus::Delivered
        | ShipmentStatus::Failure
        | ShipmentStatus::Returned
        | ShipmentStatus::Cancelled => {}
    }
    let Some(theirs) = theirs else {
        return Some(ItemKind::MissingAtProvider);
    };
    // Voided on one side only is the state that differs, whatever the prices; voided on both,
    // nothing is owed and a price or currency difference means nothing.
    let voided_here = ours.status == ShipmentStatus::Cancelled;
    let voided_there = theirs.status == "voided";
    if voided_here != voided_there {
        return Some(ItemKind::StatusMismatch);
    }
    if voided_here {
        return Some(ItemKind::Matched);
    }
    if !theirs.currency.eq_ignore_ascii_case(&ours.currency) {
        return Some(ItemKind::CurrencyMismatch);
    }
    if theirs.amount != ours.amount {
        return Some(ItemKind::AmountMismatch);
    }
    Some(ItemKind::Matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minutes)
    }

    fn ours(status: ShipmentStatus) -> OurLabel {
        OurLabel {
            status,
            provider_label_id: Some("lbl_1".into()),
            currency: "USD".into(),
            amount: 795,
            updated_at: at(0),
        }
    }

    fn theirs(amount: i64, voided: bool) -> Theirs {
        label_record("lbl_1".into(), None, amount, "usd".into(), voided)
    }

    fn check(o: &OurLabel, t: Option<&Theirs>) -> Option<ItemKind> {
        compare_label(o, t, at(10), chrono::Duration::hours(1))
    }

    #[test]
    fn a_label_billed_as_bought_matches() {
        for status in [
            ShipmentStatus::PreTransit,
            ShipmentStatus::InTransit,
            ShipmentStatus::Delivered,
            ShipmentStatus::Returned,
        ] {
            assert_eq!(
                check(&ours(status), Some(&theirs(795, false))),
                Some(ItemKind::Matched)
            );
        }
        assert_eq!(
            check(&ours(ShipmentStatus::Cancelled), Some(&theirs(795, true))),
            Some(ItemKind::Matched)
        );
    }

    #[test]
    fn a_price_changed_at_the_carrier_is_an_amount_mismatch() {
        assert_eq!(
            check(&ours(ShipmentStatus::InTransit), Some(&theirs(995, false))),
            Some(ItemKind::AmountMismatch)
        );
    }

    #[test]
    fn a_void_on_one_side_only_is_a_status_mismatch() {
        assert_eq!(
            check(&ours(ShipmentStatus::PreTransit), Some(&theirs(795, true))),
            Some(ItemKind::StatusMismatch)
        );
        assert_eq!(
            check(&ours(ShipmentStatus::Cancelled), Some(&theirs(795, false))),
            Some(ItemKind::StatusMismatch)
        );
    }

    #[test]
    fn a_void_is_judged_before_the_price() {
        // Voided on both sides: nothing owed, whatever the prices said.
        assert_eq!(
            check(&ours(ShipmentStatus::Cancelled), Some(&theirs(995, true))),
            Some(ItemKind::Matched)
        );
        // Voided on both sides in another currency: nothing owed either.
        let mut euro = theirs(795, true);
        euro.currency = "EUR".into();
        assert_eq!(
            check(&ours(ShipmentStatus::Cancelled), Some(&euro)),
            Some(ItemKind::Matched)
        );
        // Voided at the carrier at another price: the void is what differs.
        assert_eq!(
            check(&ours(ShipmentStatus::InTransit), Some(&theirs(995, true))),
            Some(ItemKind::StatusMismatch)
        );
    }

    #[test]
    fn other_currencies_and_missing_records_are_reported() {
        let mut euro = theirs(795, false);
        euro.currency = "EUR".into();
        assert_eq!(
            check(&ours(ShipmentStatus::InTransit), Some(&euro)),
            Some(ItemKind::CurrencyMismatch)
        );
        assert_eq!(
            check(&ours(ShipmentStatus::InTransit), None),
            Some(ItemKind::MissingAtProvider)
        );
    }

    #[test]
    fn open_and_refused_purchases_are_judged_by_age_or_not_at_all() {
        let mut open = ours(ShipmentStatus::Purchasing);
        assert_eq!(check(&open, None), None);
        open.updated_at = at(-120);
        assert_eq!(check(&open, None), Some(ItemKind::StaleUnknown));
        assert_eq!(check(&ours(ShipmentStatus::PurchaseFailed), None), None);
    }

    #[test]
    fn what_the_store_owes_for_a_label() {
        assert_eq!(ours(ShipmentStatus::Delivered).charged(), 795);
        assert_eq!(ours(ShipmentStatus::Cancelled).charged(), 0);
        assert_eq!(ours(ShipmentStatus::PurchaseFailed).charged(), 0);
    }
}
