//! What one payment's comparison with the provider's record finds. Pure: the runner feeds it
//! our intent and the provider's record (or none) and stores what it says.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::payments::IntentStatus;

/// What a reconciliation found for one payment or provider record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Both sides agree.
    Matched,
    /// Authorized, captured or refunded amounts differ.
    AmountMismatch,
    /// The currencies differ.
    CurrencyMismatch,
    /// The amounts agree but the states do not (e.g. voided at the provider, authorized here).
    StatusMismatch,
    /// Cassa has a provider payment id the provider does not know.
    MissingAtProvider,
    /// The provider has a payment no intent of the store knows.
    MissingInCassa,
    /// The provider has a second payment for an intent that names another one.
    DuplicateAtProvider,
    /// The outcome has been unknown (or pending) longer than the threshold.
    StaleUnknown,
}

impl ItemKind {
    /// Every kind, matched first.
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Matched,
        ItemKind::AmountMismatch,
        ItemKind::CurrencyMismatch,
        ItemKind::StatusMismatch,
        ItemKind::MissingAtProvider,
        ItemKind::MissingInCassa,
        ItemKind::DuplicateAtProvider,
        ItemKind::StaleUnknown,
    ];

    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Matched => "matched",
            ItemKind::AmountMismatch => "amount_mismatch",
            ItemKind::CurrencyMismatch => "currency_mismatch",
            ItemKind::StatusMismatch => "status_mismatch",
            ItemKind::MissingAtProvider => "missing_at_provider",
            ItemKind::MissingInCassa => "missing_in_cassa",
            ItemKind::DuplicateAtProvider => "duplicate_at_provider",
            ItemKind::StaleUnknown => "stale_unknown",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Our side of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    /// Intent status.
    pub status: IntentStatus,
    /// The provider's payment id, once the provider answered.
    pub provider_payment_id: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Authorized.
    pub authorized: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded.
    pub refunded: i64,
    /// A capture, refund or void is on its way (the provider may already show it): the
    /// payment is as open as an unknown outcome until the resolver settles it.
    pub in_flight: bool,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The provider's record of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theirs {
    /// The provider's id.
    pub id: String,
    /// What the payment was made for (our intent id), when the provider keeps it.
    pub reference: Option<String>,
    /// `pending`, `authorized`, `captured`, `voided` or `failed`.
    pub status: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Authorized.
    pub amount: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded.
    pub refunded: i64,
}

/// The provider status our intent status implies (`None`: still open on our side).
fn expected_status(status: IntentStatus) -> Option<&'static str> {
    match status {
        IntentStatus::RequiresAuthorization | IntentStatus::Pending | IntentStatus::Unknown => None,
        IntentStatus::Authorized => Some("authorized"),
        IntentStatus::PartiallyCaptured
        | IntentStatus::Captured
        | IntentStatus::PartiallyRefunded
        | IntentStatus::Refunded => Some("captured"),
        IntentStatus::Voided => Some("voided"),
        IntentStatus::Failed => Some("failed"),
    }
}

/// Compares a payment with the provider's record of it. `None`: nothing the provider could
/// know about (a payment that failed before reaching it, an open one still within the
/// threshold).
pub fn compare(
    ours: &Ours,
    theirs: Option<&Theirs>,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> Option<ItemKind> {
    let open = expected_status(ours.status).is_none() || ours.in_flight;
    if open {
        return (now - ours.updated_at > stale_after).then_some(ItemKind::StaleUnknown);
    }
    let Some(theirs) = theirs else {
        // A decline may never have reached the provider; anything else it must know.
        return match (ours.status, &ours.provider_payment_id) {
            (IntentStatus::Failed, None) => None,
            _ => Some(ItemKind::MissingAtProvider),
        };
    };
    if !theirs.currency.eq_ignore_ascii_case(&ours.currency) {
        return Some(ItemKind::CurrencyMismatch);
    }
    // A failed authorization authorizes nothing, whatever amount it was asked for.
    let authorized = if ours.status == IntentStatus::Failed {
        theirs.amount
    } else {
        ours.authorized
    };
    if (theirs.amount, theirs.captured, theirs.refunded)
        != (authorized, ours.captured, ours.refunded)
    {
        return Some(ItemKind::AmountMismatch);
    }
    if expected_status(ours.status) != Some(theirs.status.as_str()) {
        return Some(ItemKind::StatusMismatch);
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

    fn ours(status: IntentStatus, captured: i64, refunded: i64) -> Ours {
        Ours {
            status,
            provider_payment_id: Some("pay_1".into()),
            currency: "USD".into(),
            authorized: 1000,
            captured,
            refunded,
            in_flight: false,
            updated_at: at(0),
        }
    }

    fn theirs(status: &str, captured: i64, refunded: i64) -> Theirs {
        Theirs {
            id: "pay_1".into(),
            reference: None,
            status: status.into(),
            currency: "usd".into(),
            amount: 1000,
            captured,
            refunded,
        }
    }

    fn check(o: &Ours, t: Option<&Theirs>) -> Option<ItemKind> {
        compare(o, t, at(10), chrono::Duration::hours(1))
    }

    #[test]
    fn agreeing_sides_match() {
        let o = ours(IntentStatus::PartiallyRefunded, 1000, 300);
        assert_eq!(
            check(&o, Some(&theirs("captured", 1000, 300))),
            Some(ItemKind::Matched)
        );
        let o = ours(IntentStatus::Authorized, 0, 0);
        assert_eq!(
            check(&o, Some(&theirs("authorized", 0, 0))),
            Some(ItemKind::Matched)
        );
    }

    #[test]
    fn a_refund_made_at_the_provider_is_an_amount_mismatch() {
        let o = ours(IntentStatus::Captured, 1000, 0);
        assert_eq!(
            check(&o, Some(&theirs("captured", 1000, 400))),
            Some(ItemKind::AmountMismatch)
        );
    }

    #[test]
    fn states_that_disagree_with_equal_amounts_are_a_status_mismatch() {
        let o = ours(IntentStatus::Authorized, 0, 0);
        assert_eq!(
            check(&o, Some(&theirs("voided", 0, 0))),
            Some(ItemKind::StatusMismatch)
        );
    }

    #[test]
    fn currency_is_checked_before_amounts() {
        let o = ours(IntentStatus::Captured, 1000, 0);
        let mut t = theirs("captured", 900, 0);
        t.currency = "EUR".into();
        assert_eq!(check(&o, Some(&t)), Some(ItemKind::CurrencyMismatch));
    }

    #[test]
    fn a_payment_the_provider_does_not_know_is_missing_there() {
        let o = ours(IntentStatus::Captured, 1000, 0);
        assert_eq!(check(&o, None), Some(ItemKind::MissingAtProvider));
        // A decline that never reached the provider is not.
        let mut failed = ours(IntentStatus::Failed, 0, 0);
        failed.provider_payment_id = None;
        failed.authorized = 0;
        assert_eq!(check(&failed, None), None);
    }

    #[test]
    fn open_outcomes_are_stale_only_after_the_threshold() {
        let mut o = ours(IntentStatus::Unknown, 0, 0);
        assert_eq!(check(&o, None), None);
        o.updated_at = at(-120);
        assert_eq!(check(&o, None), Some(ItemKind::StaleUnknown));
    }

    #[test]
    fn an_operation_on_its_way_is_open_not_a_mismatch() {
        let mut o = ours(IntentStatus::Captured, 1000, 0);
        o.in_flight = true;
        // The provider already shows the refund our open transaction is making.
        assert_eq!(check(&o, Some(&theirs("captured", 1000, 400))), None);
        o.updated_at = at(-120);
        assert_eq!(
            check(&o, Some(&theirs("captured", 1000, 400))),
            Some(ItemKind::StaleUnknown)
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ItemKind::ALL {
            assert_eq!(ItemKind::parse(kind.as_str()), Some(kind));
        }
    }
}
