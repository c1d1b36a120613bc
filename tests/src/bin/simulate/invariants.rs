//! What must hold after a seed, once the final phase has run with a reachable provider: the
//! ledger adds up, agrees with the provider's truth operation by operation, holds nothing
//! open; a key's answers never change once one is final; every delivered event was stored
//! once and processed.

use std::collections::BTreeMap;

use cassa::types::StoreId;
use cassa_tests::{
    ledger::{amount, is_final, ledger_adds_up, txns},
    shop::Store,
};
use serde_json::Value;

use crate::driver::{Harness, Outcome};

/// The broken invariants, each with what broke it (empty: the seed passed).
pub async fn check(h: &Harness, store: &Store, outcome: &Outcome) -> Vec<String> {
    let mut broken = Vec::new();
    let mut intents = Vec::new();
    for order in &outcome.orders {
        let payments = h.api.payments(store, &order.id).await;
        for intent in payments["intents"].as_array().cloned().unwrap_or_default() {
            intents.push(intent);
        }
    }
    for intent in &intents {
        ledger_adds_up(intent, &mut broken);
    }
    agrees_with_provider(&intents, outcome, &mut broken);
    same_answer_per_key(outcome, &mut broken);
    webhooks_processed_once(h, store, outcome, &mut broken).await;
    broken
}

/// The ledger and the provider agree: each payment's captured and refunded amounts, each
/// capture, refund and void one for one (by our reference), and no money the provider holds
/// or moved for a payment the ledger does not know.
fn agrees_with_provider(intents: &[Value], outcome: &Outcome, broken: &mut Vec<String>) {
    let truth = outcome.world.truth();
    let mut known = BTreeMap::new();
    for intent in intents {
        let id = intent["id"].as_str().unwrap_or("?");
        let Some(pid) = intent["provider_payment_id"].as_str() else {
            continue;
        };
        known.insert(pid.to_owned(), id.to_owned());
        let Some(payment) = truth.payments.get(pid) else {
            broken.push(format!(
                "provider: intent {id} names payment {pid} the provider never had"
            ));
            continue;
        };
        let authorized = amount(intent, "authorized_amount");
        if matches!(payment.status, "authorized" | "captured") && authorized != payment.amount {
            broken.push(format!(
                "provider: payment {pid} is {} for {} but intent {id} has {authorized} authorized \
                 (status {})",
                payment.status,
                payment.amount,
                intent["status"].as_str().unwrap_or("?")
            ));
        }
        for (field, theirs) in [
            ("captured_amount", payment.captured),
            ("refunded_amount", payment.refunded),
        ] {
            if amount(intent, field) != theirs {
                broken.push(format!(
                    "provider: intent {id} has {field} {} where the provider's payment {pid} has \
                     {theirs}",
                    amount(intent, field)
                ));
            }
        }
        let ledger: BTreeMap<String, Value> = txns(intent)
            .into_iter()
            .filter_map(|t| Some((t["id"].as_str()?.to_owned(), t)))
            .collect();
        for (operation, applied, reference) in &payment.applied {
            if *operation == "authorize" {
                continue;
            }
            let Some(txn) = reference.as_ref().and_then(|r| ledger.get(r)) else {
                // A release the platform made on its own (after a final capture, of a wrong
                // amount): its reference is no transaction of this intent.
                if *operation != "void" {
                    broken.push(format!(
                        "provider: a {operation} of {applied} on {pid} matches no transaction \
                         of intent {id}"
                    ));
                }
                continue;
            };
            let same_amount = *operation == "void" || amount(txn, "amount") == *applied;
            if txn["operation"] != *operation || txn["status"] != "succeeded" || !same_amount {
                broken.push(format!(
                    "provider: the provider applied a {operation} of {applied} on {pid}; the \
                     ledger has that transaction as a {} {} of {}",
                    txn["status"].as_str().unwrap_or("?"),
                    txn["operation"].as_str().unwrap_or("?"),
                    amount(txn, "amount")
                ));
            }
        }
        for (tid, txn) in &ledger {
            let op = txn["operation"].as_str().unwrap_or("?");
            if txn["status"] != "succeeded" || op == "authorize" {
                continue;
            }
            let applied = payment
                .applied
                .iter()
                .filter(|(o, _, r)| *o == op && r.as_deref() == Some(tid.as_str()))
                .count();
            if applied != 1 {
                broken.push(format!(
                    "provider: intent {id}'s succeeded {op} of {} was applied {applied} times at \
                     the provider",
                    amount(txn, "amount")
                ));
            }
        }
    }
    for payment in truth.payments.values() {
        let holds = matches!(payment.status, "authorized" | "captured");
        if holds && !known.contains_key(&payment.id) {
            broken.push(format!(
                "provider: payment {} is {} for {} (captured {}) and no intent knows it",
                payment.id, payment.status, payment.amount, payment.captured
            ));
        }
    }
}

/// Once a key got a final answer, every later request with it got that answer, byte for byte.
fn same_answer_per_key(outcome: &Outcome, broken: &mut Vec<String>) {
    for (i, answers) in outcome.answers.iter().enumerate() {
        let Some(first) = answers.iter().position(|a| is_final(a.status, &a.json())) else {
            continue;
        };
        for later in &answers[first + 1..] {
            let same = later.status == answers[first].status && later.body == answers[first].body;
            if !same {
                broken.push(format!(
                    "idempotency: request {i} ({}) first answered {} {}, later {} {}",
                    outcome.sent[i].label,
                    answers[first].status,
                    answers[first].body,
                    later.status,
                    later.body
                ));
            }
        }
    }
}

/// Every event delivered at least once is stored once and processed.
async fn webhooks_processed_once(
    h: &Harness,
    store: &Store,
    outcome: &Outcome,
    broken: &mut Vec<String>,
) {
    let Ok(store_id) = store.id.parse::<StoreId>() else {
        broken.push(format!(
            "webhooks: the store id {} does not parse",
            store.id
        ));
        return;
    };
    let rows: Vec<(String, String)> = cassa::on_db!(&h.state.db, pool => {
        sqlx::query_as(
            "SELECT provider_event_id, status FROM webhook_events \
             WHERE store_id = $1 AND signature_valid",
        )
        .bind(store_id)
        .fetch_all(pool)
        .await
    })
    .unwrap_or_default();
    let mut stored: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, status) in &rows {
        stored.entry(id).or_default().push(status);
    }
    for id in &outcome.delivered {
        match stored.get(id.as_str()).map(Vec::as_slice) {
            Some(["processed"]) => {}
            Some(statuses) => broken.push(format!(
                "webhooks: event {id} is stored as {statuses:?} (once, processed expected)"
            )),
            None => broken.push(format!("webhooks: delivered event {id} was not stored")),
        }
    }
}
