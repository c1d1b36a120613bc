//! What must hold once every crash of a backend's run has been recovered from: the ledger adds
//! up and agrees with the PSP's own, every key answered one way, every event acknowledged was
//! stored once and processed, every credential still opens after the rotations, every
//! shipment agrees with the sandbox carrier's own labels, every interrupted reconciliation run
//! found what a clean run finds.

use std::collections::BTreeMap;

use cassa_tests::{
    ledger::{amount, is_final, ledger_adds_up},
    shop::{Api, Store},
};
use reqwest::Method;
use serde_json::Value;

use crate::{
    Run, Shop,
    waits::{captured_once, reconciliation_done},
};

/// The broken invariants (empty: the run passed), and the figures checked.
pub struct Verdict {
    pub broken: Vec<String>,
    pub intents: usize,
    pub provider_payments: usize,
    pub keys: usize,
    pub events: usize,
    pub credentials: usize,
    pub shipments: usize,
    pub carrier_labels: usize,
}

/// The store's stored webhook events (the newest 100: a shop of the harness has a handful).
pub async fn events(api: &Api, store: &Store) -> Vec<Value> {
    let answer = api
        .send(
            Method::GET,
            "/api/v1/admin/webhooks/events?limit=100",
            &store.key,
            None,
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "webhook events: {}", answer.body);
    answer.json()["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn check(run: &Run) -> Verdict {
    let mut v = Verdict {
        broken: Vec::new(),
        intents: 0,
        provider_payments: 0,
        keys: run.keys.len(),
        events: 0,
        credentials: 0,
        shipments: 0,
        carrier_labels: 0,
    };
    for shop in &run.shops {
        let mut known = BTreeMap::new();
        for order in &shop.orders {
            let payments = run.api.payments(&shop.store, order).await;
            for intent in payments["intents"].as_array().cloned().unwrap_or_default() {
                v.intents += 1;
                ledger_adds_up(&intent, &mut v.broken);
                agrees_with_psp(run, &shop.api_key, &intent, &mut known, &mut v.broken).await;
            }
        }
        v.provider_payments +=
            nothing_unknown_at_psp(run, &shop.api_key, &known, &mut v.broken).await;
        v.events += events_once(run, &shop.store, &mut v.broken).await;
        orders_once(run, shop, &mut v.broken).await;
        credentials_open(run, &shop.store, &mut v.broken).await;
        v.credentials += 1;
        if let Some(carrier_key) = &shop.carrier_key {
            let (shipments, labels) =
                labels_agree(run, &shop.store, carrier_key, &mut v.broken).await;
            v.shipments += shipments;
            v.carrier_labels += labels;
        }
    }
    same_answer_per_key(run, &mut v.broken);
    for (shop, id) in &run.events {
        let stored = events(&run.api, &run.shops[*shop].store).await;
        let found: Vec<&Value> = stored
            .iter()
            .filter(|e| e["provider_event_id"] == id.as_str())
            .collect();
        if found.len() != 1 || found[0]["status"] != "processed" {
            let statuses: Vec<&Value> = found.iter().map(|e| &e["status"]).collect();
            v.broken.push(format!(
                "webhooks: the harness's event {id} is stored as {statuses:?} (once, processed \
                 expected)"
            ));
        }
    }
    rotations_done(run, &mut v.broken).await;
    reconciliations_agree(run, &mut v.broken).await;
    v
}

/// Every reconciliation run a crash interrupted was resumed to its end and found what a run of
/// the same store and period that never crashed finds now: nothing counted twice, nothing
/// skipped.
async fn reconciliations_agree(run: &Run, broken: &mut Vec<String>) {
    for (shop, id, period) in &run.reconciliations {
        let store = &run.shops[*shop].store;
        let crashed = reconciliation_done(&run.api, store, id).await;
        let key = uuid::Uuid::now_v7().to_string();
        let answer = run
            .api
            .send(
                Method::POST,
                "/api/v1/admin/reconciliation/runs",
                &store.key,
                Some(&key),
                Some(period),
            )
            .await;
        let Some(reference) = answer.json()["id"].as_str().map(str::to_owned) else {
            broken.push(format!(
                "reconciliation: no reference run for store {}: {} {}",
                store.id, answer.status, answer.body
            ));
            continue;
        };
        let reference = reconciliation_done(&run.api, store, &reference).await;
        let fields = ["status", "examined", "matched", "exceptions", "totals"];
        let differs: Vec<String> = fields
            .iter()
            .filter(|f| crashed[**f] != reference[**f])
            .map(|f| format!("{f} {} (a clean run: {})", crashed[*f], reference[*f]))
            .collect();
        if crashed["status"] != "completed" || !differs.is_empty() {
            broken.push(format!(
                "reconciliation: run {id} of store {} ended {}: {differs:?}",
                store.id, crashed["status"]
            ));
        }
    }
}

/// The intent's authorized, captured and refunded amounts are the PSP's.
async fn agrees_with_psp(
    run: &Run,
    api_key: &str,
    intent: &Value,
    known: &mut BTreeMap<String, String>,
    broken: &mut Vec<String>,
) {
    let id = intent["id"].as_str().unwrap_or("?");
    let Some(pid) = intent["provider_payment_id"].as_str() else {
        return;
    };
    known.insert(pid.to_owned(), id.to_owned());
    let answer = run
        .api
        .send(
            Method::GET,
            &format!("/sandbox-psp/v1/payments/{pid}"),
            api_key,
            None,
            None,
        )
        .await;
    if answer.status != 200 {
        broken.push(format!(
            "provider: intent {id} names payment {pid}, which the PSP answers {} {}",
            answer.status, answer.body
        ));
        return;
    }
    let payment = answer.json();
    let holds = matches!(payment["status"].as_str(), Some("authorized" | "captured"));
    let pairs = [
        ("authorized_amount", "amount", holds),
        ("captured_amount", "captured_amount", true),
        ("refunded_amount", "refunded_amount", true),
    ];
    for (ours, theirs, compared) in pairs {
        if compared && amount(intent, ours) != amount(&payment, theirs) {
            broken.push(format!(
                "provider: intent {id} has {ours} {} where the PSP's payment {pid} ({}) has {}",
                amount(intent, ours),
                payment["status"],
                amount(&payment, theirs)
            ));
        }
    }
}

/// No payment the PSP holds money for is unknown to the ledger. Returns how many payments
/// the account has at the PSP.
async fn nothing_unknown_at_psp(
    run: &Run,
    api_key: &str,
    known: &BTreeMap<String, String>,
    broken: &mut Vec<String>,
) -> usize {
    let path = "/sandbox-psp/v1/payments?created_gte=2000-01-01T00:00:00Z\
                &created_lt=2200-01-01T00:00:00Z&limit=100";
    let answer = run.api.send(Method::GET, path, api_key, None, None).await;
    if answer.status != 200 {
        broken.push(format!(
            "provider: the PSP's payments: {} {}",
            answer.status, answer.body
        ));
        return 0;
    }
    let payments = answer.json()["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for payment in &payments {
        let pid = payment["id"].as_str().unwrap_or("?");
        let holds = matches!(payment["status"].as_str(), Some("authorized" | "captured"));
        if holds && !known.contains_key(pid) {
            broken.push(format!(
                "provider: the PSP's payment {pid} is {} for {} and no intent knows it",
                payment["status"], payment["amount"]
            ));
        }
    }
    payments.len()
}

/// Each shipment of the store is settled and agrees with the sandbox carrier's own record
/// (its label list): a shipment with a label has exactly one label there, with its tracking
/// number, never voided; a refused purchase has none; and the carrier sold no label that no
/// shipment knows. Returns how many shipments and carrier labels were compared.
async fn labels_agree(
    run: &Run,
    store: &Store,
    carrier_key: &str,
    broken: &mut Vec<String>,
) -> (usize, usize) {
    let shipments = crate::waits::shipments(&run.api, store).await;
    let path = "/sandbox-carrier/v1/labels?limit=100";
    let answer = run
        .api
        .send(Method::GET, path, carrier_key, None, None)
        .await;
    if answer.status != 200 {
        broken.push(format!(
            "carrier: the labels of store {}: {} {}",
            store.id, answer.status, answer.body
        ));
        return (shipments.len(), 0);
    }
    let labels = answer.json()["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for shipment in &shipments {
        let id = shipment["id"].as_str().unwrap_or("?");
        let status = shipment["status"].as_str().unwrap_or("?");
        let theirs: Vec<&Value> = labels.iter().filter(|l| l["reference"] == id).collect();
        match status {
            "purchasing" => broken.push(format!(
                "shipments: shipment {id} is still purchasing ({} labels at the carrier)",
                theirs.len()
            )),
            "purchase_failed" if !theirs.is_empty() => broken.push(format!(
                "shipments: shipment {id}'s purchase failed, yet the carrier sold {} labels \
                 for it",
                theirs.len()
            )),
            "purchase_failed" => {}
            _ if theirs.len() != 1 => broken.push(format!(
                "shipments: shipment {id} is {status} with {} labels at the carrier (one \
                 expected)",
                theirs.len()
            )),
            _ => {
                let order = shipment["order_id"].as_str().unwrap_or_default();
                if !captured_once(&run.api, store, order).await {
                    broken.push(format!(
                        "shipments: shipment {id}'s order {order} is not captured exactly once \
                         (the store captures on shipment)"
                    ));
                }
                let label = theirs[0];
                if label["tracking_number"] != shipment["tracking_number"]
                    || label["status"] != "purchased"
                    || shipment["label"].is_null()
                {
                    broken.push(format!(
                        "shipments: shipment {id} ({status}, tracking {}, label {}) disagrees \
                         with the carrier's label {} ({}, tracking {})",
                        shipment["tracking_number"],
                        shipment["label"],
                        label["id"],
                        label["status"],
                        label["tracking_number"]
                    ));
                }
            }
        }
    }
    for label in &labels {
        if !shipments.iter().any(|s| s["id"] == label["reference"]) {
            broken.push(format!(
                "carrier: label {} (reference {}) of store {} belongs to no shipment",
                label["id"], label["reference"], store.id
            ));
        }
    }
    (shipments.len(), labels.len())
}

/// Every stored event is stored once and processed. Returns how many there are.
async fn events_once(run: &Run, store: &Store, broken: &mut Vec<String>) -> usize {
    let stored = events(&run.api, store).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for event in &stored {
        let id = event["provider_event_id"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        *seen.entry(id.clone()).or_default() += 1;
        if event["status"] != "processed" {
            broken.push(format!(
                "webhooks: event {id} of store {} is {} (processed expected)",
                store.id, event["status"]
            ));
        }
    }
    for (id, n) in seen.into_iter().filter(|(_, n)| *n > 1) {
        broken.push(format!("webhooks: event {id} is stored {n} times"));
    }
    stored.len()
}

/// The store's sandbox credentials still open, and the PSP still knows them.
async fn credentials_open(run: &Run, store: &Store, broken: &mut Vec<String>) {
    let answer = run
        .api
        .send(
            Method::GET,
            "/api/v1/admin/credentials/sandbox/connection",
            &store.key,
            None,
            None,
        )
        .await;
    if answer.status != 200 {
        broken.push(format!(
            "credentials: store {}'s sandbox credentials: {} {}",
            store.id, answer.status, answer.body
        ));
    }
}

/// The store holds exactly the orders the harness placed and heard of: an order whose answer a
/// crash swallowed, placed again under its key, is the one it answers with, never a second.
async fn orders_once(run: &Run, shop: &Shop, broken: &mut Vec<String>) {
    let answer = run
        .api
        .send(
            Method::GET,
            "/api/v1/admin/orders?limit=100",
            &shop.store.key,
            None,
            None,
        )
        .await;
    let mut stored: Vec<String> = answer.json()["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect();
    let mut placed = shop.orders.clone();
    stored.sort();
    placed.sort();
    if answer.status != 200 || stored != placed {
        broken.push(format!(
            "orders: store {} holds {stored:?}, the harness placed {placed:?} ({})",
            shop.store.id, answer.status
        ));
    }
}

/// Once a key got a final answer, every later request with it got that answer, byte for byte;
/// and every key the dead processes took has one now.
fn same_answer_per_key(run: &Run, broken: &mut Vec<String>) {
    for request in &run.keys {
        let answers = &request.answers;
        let Some(first) = answers.iter().position(|a| is_final(a.status, &a.json())) else {
            broken.push(format!(
                "idempotency: {} ({}) never got a final answer: {:?}",
                request.label,
                request.path,
                answers.iter().map(|a| a.gist()).collect::<Vec<_>>()
            ));
            continue;
        };
        // Every label request of the harness buys a label for a paid order of its own.
        if request.path.ends_with("/shipments") && answers[first].status != 201 {
            broken.push(format!(
                "labels: {} bought its label but answered {} {}",
                request.label, answers[first].status, answers[first].body
            ));
        }
        for later in &answers[first + 1..] {
            if later.status != answers[first].status || later.body != answers[first].body {
                broken.push(format!(
                    "idempotency: {} first answered {} {}, later {} {}",
                    request.label,
                    answers[first].status,
                    answers[first].body,
                    later.status,
                    later.body
                ));
            }
        }
    }
}

/// Every rotation completed, and no credential row is left on another version than the
/// primary.
async fn rotations_done(run: &Run, broken: &mut Vec<String>) {
    let answer = run
        .api
        .send(Method::GET, "/api/v1/platform/keys", &run.admin, None, None)
        .await;
    let overview = answer.json();
    for version in overview["versions"].as_array().cloned().unwrap_or_default() {
        if version["status"] != "primary" && amount(&version, "rows") != 0 {
            broken.push(format!(
                "rotation: {} rows are still on version {} ({})",
                version["rows"], version["version"], version["status"]
            ));
        }
    }
    for rotation in overview["rotations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if rotation["status"] != "completed" {
            broken.push(format!(
                "rotation: {} is {} ({} of {} rows)",
                rotation["id"], rotation["status"], rotation["done"], rotation["total"]
            ));
        }
    }
}
