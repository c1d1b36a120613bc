//! What must hold of a payment ledger as the API shows it, whatever happened before: shared by
//! the simulation (`scripts/simulate`) and the crash harness (`scripts/crash`).

use serde_json::Value;

/// An integer field of an API object (0 when absent).
pub fn amount(value: &Value, field: &str) -> i64 {
    value[field].as_i64().unwrap_or(0)
}

/// An intent's transactions.
pub fn txns(intent: &Value) -> Vec<Value> {
    intent["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An intent's amounts are the sums of its succeeded transactions, refunds never exceed
/// captures, captures never exceed the authorization, and nothing is left open.
pub fn ledger_adds_up(intent: &Value, broken: &mut Vec<String>) {
    let id = intent["id"].as_str().unwrap_or("?");
    let sum = |operation: &str| -> i64 {
        txns(intent)
            .iter()
            .filter(|t| t["operation"] == operation && t["status"] == "succeeded")
            .map(|t| amount(t, "amount"))
            .sum()
    };
    for (field, operation) in [
        ("authorized_amount", "authorize"),
        ("captured_amount", "capture"),
        ("refunded_amount", "refund"),
    ] {
        if amount(intent, field) != sum(operation) {
            broken.push(format!(
                "sums: intent {id} has {field} {} but its succeeded {operation}s add up to {}",
                amount(intent, field),
                sum(operation)
            ));
        }
    }
    let (authorized, captured, refunded) = (
        amount(intent, "authorized_amount"),
        amount(intent, "captured_amount"),
        amount(intent, "refunded_amount"),
    );
    if refunded > captured || captured > authorized || authorized > amount(intent, "amount") {
        broken.push(format!(
            "bounds: intent {id} authorized {authorized}, captured {captured}, refunded {refunded} \
             of {}",
            amount(intent, "amount")
        ));
    }
    for t in txns(intent) {
        if matches!(t["status"].as_str(), Some("pending" | "unknown")) {
            broken.push(format!(
                "open: intent {id} still has a {} {} transaction of {} after the final phase",
                t["status"].as_str().unwrap_or("?"),
                t["operation"].as_str().unwrap_or("?"),
                amount(&t, "amount")
            ));
        }
    }
}

/// Whether an answer is a final one for its key: an answer of the flow (2xx or 4xx), not the
/// key layer's refusal of a concurrent or different request, nor a 5xx, which releases the key.
pub fn is_final(status: u16, body: &Value) -> bool {
    let refusal = matches!(
        body["code"].as_str(),
        Some("idempotency_key_in_use" | "idempotency_key_reused")
    );
    (200..500).contains(&status) && !refusal
}
