//! What an earlier call did, read from Stripe's state before anything is sent again.
//!
//! Stripe's idempotency layer keeps the answer of a request that started executing, a `500`
//! included, and forgets keys after a day: resending with the same key may replay the failure
//! for a day and act a second time after. So an operation whose answer was lost is looked for
//! first (the PaymentIntent for a capture or a void, the intent's refunds by our reference for
//! a refund, a search by our reference for an old authorization), and sent again only when it
//! is not there. The same search of the intent's refunds says where a refund the ledger recorded
//! as succeeded stands now (Stripe may fail it later: the card was closed, the bank returned it).

use chrono::Duration;
use serde_json::Value;

use super::{
    answer::{released, transaction},
    client::StripeClient,
};
use crate::{
    money::MinorUnits,
    providers::payment::{
        EventOperation, Lookup, ProviderError, ProviderTransaction, RefundStanding,
    },
};

/// While Stripe remembers the key (it keeps keys at least a day) an authorization is looked
/// for by resending it with its key: Stripe replays what it answered, or makes the one the first
/// call never delivered. Resends stop there.
const KEY_REMEMBERED: Duration = Duration::hours(24);

/// From then on the search is asked: an hour after the last possible resend, beyond the
/// search index's lag (about a minute, longer in an incident), an authorization not found
/// there never happened.
const SEARCH_TRUSTED_AFTER: Duration = Duration::hours(25);

/// Pages of an intent's refunds read at most (a hundred each).
const REFUND_PAGES: usize = 10;

impl StripeClient {
    /// See [`crate::providers::payment::PaymentProvider::look_up`]. A read Stripe refuses or
    /// fails says nothing about the operation: the outcome stays unknown, never failed (which
    /// would invite a second refund).
    pub(super) async fn find(
        &self,
        correlation_id: &str,
        lookup: Lookup<'_>,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        let intent = match (lookup.operation, lookup.payment_id) {
            (EventOperation::Authorize, _) => {
                return self.find_authorization(correlation_id, lookup).await;
            }
            (_, None) => return Ok(None),
            (_, Some(id)) => id,
        };
        match lookup.operation {
            EventOperation::Refund => self
                .find_refund(correlation_id, intent, lookup.reference)
                .await?
                .map(|refund| transaction(&refund))
                .transpose(),
            EventOperation::Capture => {
                let now = self.get_intent(correlation_id, intent).await?;
                capture_found(now, lookup.captured_before, lookup.amount)
            }
            EventOperation::Void => {
                let now = self.get_intent(correlation_id, intent).await?;
                if released(&now) {
                    return Ok(Some(now));
                }
                match now.status.as_str() {
                    "authorized" => Ok(None),
                    // Captured in full (outside this platform): nothing was released.
                    "captured" => Err(ProviderError::Rejected {
                        code: "payment_intent_unexpected_state".to_owned(),
                    }),
                    other => Err(ProviderError::UnknownOutcome(format!(
                        "the intent is {other}"
                    ))),
                }
            }
            EventOperation::Authorize => Ok(None),
        }
    }

    async fn get_intent(
        &self,
        correlation_id: &str,
        id: &str,
    ) -> Result<ProviderTransaction, ProviderError> {
        use crate::providers::payment::PaymentProvider;
        self.get_transaction(correlation_id, id)
            .await
            .map_err(unknown)
    }

    async fn find_authorization(
        &self,
        correlation_id: &str,
        lookup: Lookup<'_>,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        let age = lookup.now - lookup.first_sent;
        if age < KEY_REMEMBERED {
            return Ok(None);
        }
        if age < SEARCH_TRUSTED_AFTER {
            return Err(ProviderError::UnknownOutcome(
                "waiting for Stripe's search to see the last resend".to_owned(),
            ));
        }
        let query = format!("metadata['cassa_reference']:'{}'", lookup.reference);
        let path = format!(
            "/v1/payment_intents/search?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("query", &query)
                .finish()
        );
        let found = self
            .get_json("look_up_authorization", &path, correlation_id)
            .await
            .map_err(unknown)?;
        match found["data"].as_array().map(Vec::as_slice) {
            Some([intent]) => transaction(intent).map(Some),
            // Never sent again this late: the customer left long ago, and a charge now
            // would surprise them. Failed, as nothing was authorized.
            Some([]) => Err(ProviderError::Rejected {
                code: "not_found_at_provider".to_owned(),
            }),
            Some(_) => Err(ProviderError::UnknownOutcome(
                "several payment intents carry this reference".to_owned(),
            )),
            None => Err(ProviderError::UnknownOutcome(
                "a search answer without data".to_owned(),
            )),
        }
    }

    /// See [`crate::providers::payment::PaymentProvider::refund_standing`]: our refund among
    /// the intent's, by its reference, as Stripe shows it now.
    pub(super) async fn standing(
        &self,
        correlation_id: &str,
        intent: &str,
        reference: &str,
    ) -> Result<RefundStanding, ProviderError> {
        Ok(self
            .find_refund(correlation_id, intent, reference)
            .await?
            .map_or(RefundStanding::NotFound, |refund| refund_standing(&refund)))
    }

    /// Our refund (the Refund object carrying `reference`) among the intent's refunds.
    async fn find_refund(
        &self,
        correlation_id: &str,
        intent: &str,
        reference: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let mut after: Option<String> = None;
        for _ in 0..REFUND_PAGES {
            let path = refunds_path(intent, after.as_deref());
            let page = self
                .get_json("look_up_refund", &path, correlation_id)
                .await
                .map_err(unknown)?;
            let refunds = page["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(refund) = refunds
                .iter()
                .find(|r| r["metadata"]["cassa_reference"].as_str() == Some(reference))
            {
                return Ok(Some(refund.clone()));
            }
            if page["has_more"] != Value::Bool(true) {
                return Ok(None);
            }
            after = refunds
                .last()
                .and_then(|r| r["id"].as_str())
                .map(str::to_owned);
            if after.is_none() {
                break;
            }
        }
        Err(ProviderError::UnknownOutcome(
            "the intent's refunds could not all be read".to_owned(),
        ))
    }
}

/// Whether the intent shows our capture of `amount`, made after the ledger's `before`.
/// Captures of one intent are made one at a time, so it is there when the intent holds `before`
/// plus it, whatever its status now (a multicapture intent still awaits capture after it, and
/// may have been cancelled since); it was not made when the intent holds `before` (sent again
/// while the intent can still be captured, refused once it cannot). Any other total is a
/// capture made elsewhere, not ours to record.
fn capture_found(
    now: ProviderTransaction,
    before: MinorUnits,
    amount: MinorUnits,
) -> Result<Option<ProviderTransaction>, ProviderError> {
    let with_it = MinorUnits(before.0 + amount.0);
    let terminal = matches!(now.status.as_str(), "captured" | "voided");
    match now.status.as_str() {
        "captured" | "authorized" | "voided" if now.captured == with_it => Ok(Some(now)),
        "authorized" if now.captured == before => Ok(None),
        "voided" if now.captured == before => Err(ProviderError::Rejected {
            code: "payment_intent_canceled".to_owned(),
        }),
        _ if terminal && now.captured == before => Err(ProviderError::Rejected {
            code: "payment_intent_unexpected_state".to_owned(),
        }),
        "captured" | "authorized" | "voided" => Err(ProviderError::UnknownOutcome(format!(
            "the intent was captured for {} rather than {}",
            now.captured.0, with_it.0
        ))),
        other => Err(ProviderError::UnknownOutcome(format!(
            "the intent is {other}"
        ))),
    }
}

/// Where a Stripe Refund stands. Stripe moves a refund from `succeeded` to `failed` when the
/// bank returns it (the card was closed, say), the money going back to the merchant's balance;
/// `canceled` is a refund cancelled before it went out. Both say why in `failure_reason` (a
/// cancelled one may not).
fn refund_standing(refund: &Value) -> RefundStanding {
    match refund["status"].as_str() {
        Some("succeeded") => RefundStanding::Succeeded,
        Some(status @ ("failed" | "canceled")) => RefundStanding::Failed {
            reason: refund["failure_reason"]
                .as_str()
                .map_or_else(|| format!("refund_{status}"), str::to_owned),
        },
        // `pending`, `requires_action`, or a status Stripe adds later: not a failure.
        _ => RefundStanding::Pending,
    }
}

/// A failed read, as what it says about the operation looked for: nothing.
fn unknown(error: ProviderError) -> ProviderError {
    match error {
        ProviderError::UnknownOutcome(_) => error,
        other => ProviderError::UnknownOutcome(format!("looking it up failed: {other}")),
    }
}

/// A page of an intent's refunds (the serializer is not `Send`, so it never lives across an
/// await).
fn refunds_path(intent: &str, after: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("payment_intent", intent)
        .append_pair("limit", "100");
    if let Some(last) = after {
        query.append_pair("starting_after", last);
    }
    format!("/v1/refunds?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(status: &str, amount: i64, captured: i64) -> ProviderTransaction {
        ProviderTransaction {
            id: "pi_1".into(),
            status: status.into(),
            amount: MinorUnits(amount),
            captured: MinorUnits(captured),
            refunded: MinorUnits(0),
            next_action: None,
            multicapture: false,
        }
    }

    #[test]
    fn a_capture_is_found_by_the_total_it_left() {
        let found = |status: &str, amount: i64, captured: i64, before: i64, take: i64| {
            capture_found(
                intent(status, amount, captured),
                MinorUnits(before),
                MinorUnits(take),
            )
        };
        // Made: captured once, one of several (still awaiting the next), or since cancelled.
        assert!(found("captured", 100, 40, 0, 40).unwrap().is_some());
        assert!(found("authorized", 100, 70, 40, 30).unwrap().is_some());
        assert!(found("voided", 100, 70, 40, 30).unwrap().is_some());
        // Not made: sent again while it can be, refused once it cannot.
        assert_eq!(found("authorized", 100, 40, 40, 30), Ok(None));
        assert_eq!(
            found("voided", 100, 40, 40, 30),
            Err(ProviderError::Rejected {
                code: "payment_intent_canceled".into()
            })
        );
        assert_eq!(
            found("captured", 100, 40, 40, 30),
            Err(ProviderError::Rejected {
                code: "payment_intent_unexpected_state".into()
            })
        );
        // Another total: a capture made elsewhere; another state: not known yet.
        for (status, captured) in [("captured", 55), ("authorized", 55), ("voided", 10)] {
            assert!(
                matches!(
                    found(status, 100, captured, 40, 30),
                    Err(ProviderError::UnknownOutcome(_))
                ),
                "{status} {captured}"
            );
        }
        assert!(matches!(
            found("pending", 100, 0, 0, 30),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }

    #[test]
    fn only_a_cancel_or_a_partial_capture_confirms_a_release() {
        assert!(released(&intent("voided", 100, 0)));
        assert!(released(&intent("captured", 100, 40)));
        assert!(!released(&intent("captured", 100, 100)));
        assert!(!released(&intent("authorized", 100, 0)));
        assert!(!released(&intent("pending", 100, 0)));
    }

    #[test]
    fn a_refund_failed_or_cancelled_after_the_fact_reads_as_failed_with_stripes_reason() {
        let refund = |status: &str, reason: Option<&str>| {
            let mut r = serde_json::json!({"object": "refund", "id": "re_1", "status": status,
                "amount": 500});
            if let Some(reason) = reason {
                r["failure_reason"] = serde_json::json!(reason);
            }
            refund_standing(&r)
        };
        assert_eq!(refund("succeeded", None), RefundStanding::Succeeded);
        assert_eq!(
            refund("failed", Some("expired_or_canceled_card")),
            RefundStanding::Failed {
                reason: "expired_or_canceled_card".into()
            }
        );
        assert_eq!(
            refund("canceled", None),
            RefundStanding::Failed {
                reason: "refund_canceled".into()
            }
        );
        assert_eq!(refund("pending", None), RefundStanding::Pending);
        assert_eq!(refund("requires_action", None), RefundStanding::Pending);
        assert_eq!(
            refund_standing(&serde_json::json!({"object": "refund"})),
            RefundStanding::Pending
        );
    }
}
