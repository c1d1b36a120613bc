//! Stripe's dispute events (`charge.dispute.created`, `.updated`, `.closed`, and the
//! `.funds_withdrawn` / `.funds_reinstated` that carry the same object): the Dispute object
//! read into the platform's [`ProviderDispute`].

use serde_json::Value;

use crate::{
    money::MinorUnits,
    providers::payment::{DisputeStatus, ProviderDispute, ProviderEvent},
};

/// Whether an event type is about a dispute.
pub(super) fn is_dispute_event(kind: &str) -> bool {
    kind.starts_with("charge.dispute.")
}

/// Stripe's dispute statuses in the platform's words. Inquiries (`warning_…`) are open the
/// same way a chargeback is; a status Stripe adds later is read as open, so it never closes a
/// dispute on a guess and a later `won` or `lost` still lands.
fn status(text: &str) -> DisputeStatus {
    match text {
        "needs_response" | "warning_needs_response" => DisputeStatus::NeedsResponse,
        "won" => DisputeStatus::Won,
        "lost" => DisputeStatus::Lost,
        // An inquiry closed without a chargeback, a dispute prevented before it was filed, or
        // (older API versions) one ended by refunding the charge.
        "warning_closed" | "prevented" | "charge_refunded" => DisputeStatus::Closed,
        _ => DisputeStatus::UnderReview,
    }
}

/// The dispute in `object` (`data.object` of the event). A dispute that names no
/// PaymentIntent (a charge made without one) has nothing of ours to attach to: ignored.
pub(super) fn parse(object: &Value) -> ProviderEvent {
    let text = |key: &str| {
        object[key]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if object["object"].as_str() != Some("dispute") {
        return ProviderEvent::Ignored;
    }
    let (Some(dispute_id), Some(payment), Some(amount), Some(currency)) = (
        text("id"),
        text("payment_intent"),
        object["amount"].as_i64(),
        text("currency"),
    ) else {
        return ProviderEvent::Ignored;
    };
    ProviderEvent::Dispute(ProviderDispute {
        provider_payment_id: payment.to_owned(),
        dispute_id: dispute_id.to_owned(),
        amount: MinorUnits(amount),
        currency: currency.to_ascii_uppercase(),
        reason: text("reason").unwrap_or("general").to_owned(),
        status: status(text("status").unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::providers::{payment::PaymentAdapter, stripe::StripeAdapter};

    /// A Dispute object as Stripe's API reference shows it (version 2024-06-20).
    fn dispute(status: &str) -> Value {
        json!({
            "id": "dp_1MtJUT2eZvKYlo2CNaw2HvEv",
            "object": "dispute",
            "amount": 1000,
            "balance_transactions": [],
            "charge": "ch_1AZtxr2eZvKYlo2CJDX8whov",
            "created": 1_680_651_737,
            "currency": "usd",
            "evidence_details": {"due_by": 1_682_294_399, "has_evidence": false,
                "past_due": false, "submission_count": 0},
            "is_charge_refundable": true,
            "livemode": false,
            "metadata": {},
            "payment_intent": "pi_3MtJUT2eZvKYlo2C1WqbOQ1i",
            "reason": "fraudulent",
            "status": status
        })
    }

    fn event(kind: &str, object: Value) -> ProviderEvent {
        StripeAdapter::default().parse_event(&json!({"id": "evt_1", "object": "event",
            "type": kind, "data": {"object": object}}))
    }

    #[test]
    fn dispute_events_carry_the_dispute_in_provider_units() {
        assert_eq!(
            event("charge.dispute.created", dispute("needs_response")),
            ProviderEvent::Dispute(ProviderDispute {
                provider_payment_id: "pi_3MtJUT2eZvKYlo2C1WqbOQ1i".into(),
                dispute_id: "dp_1MtJUT2eZvKYlo2CNaw2HvEv".into(),
                amount: MinorUnits(1000),
                currency: "USD".into(),
                reason: "fraudulent".into(),
                status: DisputeStatus::NeedsResponse,
            })
        );
        for (kind, stripe, ours) in [
            (
                "charge.dispute.updated",
                "under_review",
                DisputeStatus::UnderReview,
            ),
            (
                "charge.dispute.updated",
                "warning_under_review",
                DisputeStatus::UnderReview,
            ),
            (
                "charge.dispute.created",
                "warning_needs_response",
                DisputeStatus::NeedsResponse,
            ),
            ("charge.dispute.closed", "won", DisputeStatus::Won),
            ("charge.dispute.closed", "lost", DisputeStatus::Lost),
            (
                "charge.dispute.closed",
                "warning_closed",
                DisputeStatus::Closed,
            ),
            (
                "charge.dispute.funds_withdrawn",
                "needs_response",
                DisputeStatus::NeedsResponse,
            ),
            // A status this code does not know stays open.
            (
                "charge.dispute.updated",
                "something_new",
                DisputeStatus::UnderReview,
            ),
        ] {
            match event(kind, dispute(stripe)) {
                ProviderEvent::Dispute(d) => assert_eq!(d.status, ours, "{kind} {stripe}"),
                other => panic!("{kind} {stripe}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_dispute_without_a_payment_intent_or_amount_is_ignored() {
        let mut charge_only = dispute("needs_response");
        charge_only["payment_intent"] = Value::Null;
        assert_eq!(
            event("charge.dispute.created", charge_only),
            ProviderEvent::Ignored
        );
        let mut no_amount = dispute("needs_response");
        no_amount["amount"] = json!("1000");
        assert_eq!(
            event("charge.dispute.created", no_amount),
            ProviderEvent::Ignored
        );
        // Not a dispute object under a dispute type.
        assert_eq!(
            event(
                "charge.dispute.created",
                json!({"object": "charge", "id": "ch_1", "payment_intent": "pi_1",
                    "amount": 1000, "currency": "usd"})
            ),
            ProviderEvent::Ignored
        );
    }
}
