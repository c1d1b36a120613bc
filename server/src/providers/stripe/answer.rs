//! Reading Stripe's answers: a PaymentIntent or Refund as our transaction, an error as what
//! the caller may do next, and an answer as the audit keeps it (no secrets, no card details).

use serde_json::Value;

use crate::{
    money::MinorUnits,
    providers::{
        payment::{ProviderError, ProviderTransaction},
        transport::Answer,
    },
};

/// Fields of Stripe's answers never kept, wherever they are nested (an error's
/// `payment_intent`, a declined intent's `last_payment_error`, search results and lists): the
/// intent's `client_secret` (it completes the payment from a browser) and the customer's and
/// card's details.
const NEVER_KEPT: [&str; 8] = [
    "client_secret",
    "receipt_email",
    "receipt_url",
    "shipping",
    "billing_details",
    "payment_method_details",
    "fraud_details",
    "card",
];

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, field| {
                // A payment method's id is kept; the expanded object (card, owner) is not.
                let expanded_method = key == "payment_method" && field.is_object();
                !(NEVER_KEPT.contains(&key.as_str()) || expanded_method)
            });
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// An answer as the audit keeps it.
pub(super) fn redact(text: &str) -> String {
    let Ok(mut body) = serde_json::from_str::<Value>(text) else {
        return text.to_owned();
    };
    strip(&mut body);
    body.to_string()
}

/// Our status of a PaymentIntent's.
fn status_of(intent: &Value) -> &'static str {
    match intent["status"].as_str().unwrap_or_default() {
        "requires_capture" => "authorized",
        "succeeded" => "captured",
        "canceled" => "voided",
        // Declined on confirmation: Stripe hands the intent back for another method.
        "requires_payment_method" => "failed",
        // 3-D Secure and friends, or still processing: settled later (webhook, resolver).
        "requires_action" | "requires_confirmation" | "processing" => "pending",
        _ => "unknown",
    }
}

fn minor(value: &Value) -> MinorUnits {
    MinorUnits(value.as_i64().unwrap_or(0))
}

/// A PaymentIntent or a Refund, as our transaction.
pub(super) fn transaction(body: &Value) -> Result<ProviderTransaction, ProviderError> {
    match body["object"].as_str() {
        Some("payment_intent") => Ok(ProviderTransaction {
            id: body["id"].as_str().unwrap_or_default().to_owned(),
            status: status_of(body).to_owned(),
            amount: minor(&body["amount"]),
            captured: minor(&body["amount_received"]),
            // Only an expanded charge says what was refunded.
            refunded: minor(&body["latest_charge"]["amount_refunded"]),
            next_action: (status_of(body) == "pending")
                .then(|| body["next_action"].clone())
                .filter(|a| !a.is_null()),
            // Said by the authorization's charge (expanded), for the card it was made with.
            multicapture: body["latest_charge"]["payment_method_details"]["card"]["multicapture"]["status"]
                == "available",
        }),
        Some("refund") => match body["status"].as_str() {
            None => Err(ProviderError::UnknownOutcome(
                "a refund without a status".to_owned(),
            )),
            Some("failed" | "canceled") => Err(ProviderError::Rejected {
                code: body["failure_reason"]
                    .as_str()
                    .unwrap_or("refund_failed")
                    .to_owned(),
            }),
            Some(status) => Ok(ProviderTransaction {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                status: match status {
                    "succeeded" => "refunded",
                    // `pending`, `requires_action`: on its way to the bank, not yet done.
                    _ => "pending",
                }
                .to_owned(),
                amount: minor(&body["amount"]),
                captured: MinorUnits::ZERO,
                refunded: minor(&body["amount"]),
                next_action: None,
                multicapture: false,
            }),
        },
        _ => Err(ProviderError::UnknownOutcome(
            "an answer that is neither a payment intent nor a refund".to_owned(),
        )),
    }
}

/// Whether the intent shows the uncaptured rest released: cancelled, or captured for less
/// than it authorized (a capture without multicapture releases the rest). A full capture
/// released nothing, so it never confirms a void.
pub(super) fn released(intent: &ProviderTransaction) -> bool {
    match intent.status.as_str() {
        "voided" => true,
        "captured" => intent.captured < intent.amount,
        _ => false,
    }
}

/// Stripe's answer about one PaymentIntent or Refund, classified by what the caller may do
/// next.
pub(super) fn classify(answer: Answer<'_>) -> Result<ProviderTransaction, ProviderError> {
    read(answer).and_then(|body| transaction(&body))
}

/// Stripe's answer: its body when it succeeded, else the error classified.
pub(super) fn read(answer: Answer<'_>) -> Result<Value, ProviderError> {
    let body: Value = serde_json::from_str(answer.text).unwrap_or(Value::Null);
    let error = &body["error"];
    let code = || {
        error["decline_code"]
            .as_str()
            .or(error["code"].as_str())
            .unwrap_or("unknown")
            .to_owned()
    };
    let kind = error["type"].as_str().unwrap_or_default();
    match (answer.status, kind) {
        (200..=299, _) => Ok(body),
        // A key reused with other parameters, or still in use: what the first request did is
        // not known from here.
        (_, "idempotency_error") => Err(ProviderError::UnknownOutcome(code())),
        (402, _) | (_, "card_error") => Err(ProviderError::Declined { code: code() }),
        (429, _) => Err(ProviderError::Retryable("rate_limited".to_owned())),
        (_, _) if code() == "lock_timeout" => Err(ProviderError::Retryable(code())),
        (401 | 403 | 404, _) => Err(ProviderError::Refused {
            status: answer.status,
            code: code(),
        }),
        // A conflict with another request on the same object (or key): whether ours acted is
        // not known from here.
        (409, _) => Err(ProviderError::UnknownOutcome(code())),
        (300..=499, _) => Err(ProviderError::Rejected { code: code() }),
        // Stripe may have acted before failing: only the intent's state will tell.
        _ => Err(ProviderError::UnknownOutcome(format!(
            "stripe answered {}",
            answer.status
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(status: u16, body: &Value) -> Result<ProviderTransaction, ProviderError> {
        let text = body.to_string();
        classify(Answer {
            status,
            text: &text,
        })
    }

    #[test]
    fn payment_intents_read_as_our_transactions() {
        let intent = json!({"object": "payment_intent", "id": "pi_1", "status": "requires_capture",
            "amount": 6018, "amount_received": 0});
        let t = answer(200, &intent).unwrap();
        assert_eq!(
            (t.status.as_str(), t.amount, t.captured),
            ("authorized", MinorUnits(6018), MinorUnits(0))
        );
        let captured = json!({"object": "payment_intent", "id": "pi_1", "status": "succeeded",
            "amount": 6018, "amount_received": 1000,
            "latest_charge": {"object": "charge", "amount_refunded": 500}});
        let t = answer(200, &captured).unwrap();
        assert_eq!(
            (t.status.as_str(), t.captured, t.refunded),
            ("captured", MinorUnits(1000), MinorUnits(500))
        );
        for (stripe, ours) in [
            ("canceled", "voided"),
            ("requires_payment_method", "failed"),
            ("requires_action", "pending"),
            ("processing", "pending"),
            ("mystery", "unknown"),
        ] {
            let body = json!({"object": "payment_intent", "id": "pi_1", "status": stripe});
            assert_eq!(answer(200, &body).unwrap().status, ours, "{stripe}");
        }
        // Multicapture is the card's, said on the expanded charge; absent means captured once.
        assert!(!t.multicapture);
        let multicapture = |status: &str| {
            let body = json!({"object": "payment_intent", "id": "pi_1",
                "status": "requires_capture", "amount": 6018, "amount_received": 0,
                "latest_charge": {"object": "charge", "payment_method_details":
                    {"card": {"multicapture": {"status": status}}}}});
            answer(200, &body).unwrap().multicapture
        };
        assert!(multicapture("available"));
        assert!(!multicapture("unavailable"));
        let refund =
            json!({"object": "refund", "id": "re_1", "status": "succeeded", "amount": 500});
        assert_eq!(answer(200, &refund).unwrap().id, "re_1");
        let failed = json!({"object": "refund", "id": "re_2", "status": "failed",
            "failure_reason": "expired_or_canceled_card"});
        assert_eq!(
            answer(200, &failed),
            Err(ProviderError::Rejected {
                code: "expired_or_canceled_card".into()
            })
        );
        assert!(matches!(
            answer(200, &json!({"object": "charge"})),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }

    #[test]
    fn answers_are_audited_without_secrets_or_card_details() {
        let answer = json!({"object": "payment_intent", "id": "pi_1", "client_secret": "pi_1_secret_x",
            "amount": 100, "shipping": {"name": "Ada"},
            "latest_charge": {"object": "charge", "amount_refunded": 0,
                "billing_details": {"email": "ada@example.com"},
                "payment_method_details": {"card": {"last4": "4242"}}}});
        let kept = redact(&answer.to_string());
        for gone in ["pi_1_secret_x", "ada@example.com", "4242", "Ada"] {
            assert!(!kept.contains(gone), "{kept}");
        }
        assert!(kept.contains("\"amount\":100"), "{kept}");
        assert_eq!(redact("not json"), "not json");
        // Nested in a decline: the intent (with its secret) and the expanded payment method.
        let decline = json!({"error": {"type": "card_error", "code": "card_declined",
            "payment_intent": {"id": "pi_2", "client_secret": "pi_2_secret_y",
                "last_payment_error": {"payment_method": {"id": "pm_1",
                    "billing_details": {"name": "Ada"}, "card": {"last4": "0002"}}}},
            "payment_method": {"id": "pm_1", "card": {"last4": "0002"}}}});
        let kept = redact(&decline.to_string());
        for gone in ["pi_2_secret_y", "Ada", "0002"] {
            assert!(!kept.contains(gone), "{kept}");
        }
        assert!(
            kept.contains("card_declined") && kept.contains("pi_2"),
            "{kept}"
        );
    }

    #[test]
    fn each_error_class_says_what_may_be_done_next() {
        let error = |kind: &str, code: &str| json!({"error": {"type": kind, "code": code}});
        let declined = json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds"}});
        assert_eq!(
            answer(402, &declined),
            Err(ProviderError::Declined {
                code: "insufficient_funds".into()
            })
        );
        assert_eq!(
            answer(
                400,
                &error("invalid_request_error", "parameter_invalid_integer")
            ),
            Err(ProviderError::Rejected {
                code: "parameter_invalid_integer".into()
            })
        );
        assert!(matches!(
            answer(400, &error("idempotency_error", "idempotency_key_in_use")),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(429, &error("invalid_request_error", "rate_limit")),
            Err(ProviderError::Retryable(_))
        ));
        assert!(matches!(
            answer(409, &error("invalid_request_error", "lock_timeout")),
            Err(ProviderError::Retryable(_))
        ));
        assert_eq!(
            answer(404, &error("invalid_request_error", "resource_missing")),
            Err(ProviderError::Refused {
                status: 404,
                code: "resource_missing".into()
            })
        );
        assert!(matches!(
            answer(401, &error("invalid_request_error", "")),
            Err(ProviderError::Refused { status: 401, .. })
        ));
        assert!(matches!(
            answer(500, &error("api_error", "")),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(503, &Value::Null),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(409, &error("invalid_request_error", "resource_conflict")),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }
}
