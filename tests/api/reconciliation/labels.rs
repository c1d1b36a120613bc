//! Label charges reconciled like payments: the sandbox carrier's billing record of each label
//! drifts the ways a carrier's does (a price adjusted, a void the store did not make, a label it
//! lost, a label bought outside Cassa) and a run finds exactly that, payments all matched.

use std::collections::BTreeMap;

use cassa_tests::{Backend, both_backends};
use uuid::Uuid;

use super::{captured, finish, items, recon_shop, start};
use crate::payments::shop::Shop;

/// The carrier's id of a shipment's label.
async fn label_id(shop: &Shop, shipment: &serde_json::Value) -> String {
    let id = Uuid::parse_str(shipment["id"].as_str().unwrap()).unwrap();
    let label: Option<String> = cassa::on_db!(&shop.app.db, pool => sqlx::query_scalar(
        "SELECT provider_label_id FROM shipments WHERE id = $1").bind(id).fetch_one(pool).await)
    .unwrap();
    label.expect("a bought label")
}

/// Changes the carrier's record of a label (the sandbox carrier keeps its tables beside ours).
async fn carrier_sql(shop: &Shop, statement: &str, label: &str) {
    cassa::on_db!(&shop.app.db, pool => sqlx::query(statement).bind(label).execute(pool).await
        .map(|r| assert_eq!(r.rows_affected(), 1, "{statement}")))
    .unwrap();
}

async fn a_run_finds_each_label_drift_and_nothing_else(backend: Backend) {
    let shop = recon_shop(backend, 2).await;
    let key = shop.store.sandbox_key.clone();
    let mut shipments = Vec::new();
    for n in 0..4 {
        let (order, _) = captured(&shop).await;
        let shipment = if n == 0 {
            crate::shipments::ship_paid_order(&shop.app, &key, &order).await
        } else {
            crate::shipments::buy_label(&shop.app, &key, &order).await
        };
        shipments.push((order, label_id(&shop, &shipment).await));
    }
    let [matched, adjusted, voided, lost] = [0, 1, 2, 3].map(|i| shipments[i].clone());
    carrier_sql(
        &shop,
        "UPDATE sandbox_carrier_labels SET amount = amount + 150 WHERE id = $1",
        &adjusted.1,
    )
    .await;
    carrier_sql(
        &shop,
        "UPDATE sandbox_carrier_labels SET status = 'voided' WHERE id = $1",
        &voided.1,
    )
    .await;
    // A label bought in the carrier's dashboard: no shipment of ours names it.
    carrier_sql(
        &shop,
        "INSERT INTO sandbox_carrier_labels (id, account, rate_id, reference, service, amount, \
         currency, tracking_number, status, packages, created_at, void_deadline, updated_at) \
         SELECT 'lbl_stray', account, rate_id || '_stray', NULL, service, amount, currency, \
         tracking_number || 'S', status, packages, created_at, void_deadline, updated_at \
         FROM sandbox_carrier_labels WHERE id = $1",
        &matched.1,
    )
    .await;
    carrier_sql(
        &shop,
        "DELETE FROM sandbox_carrier_labels WHERE id = $1",
        &lost.1,
    )
    .await;
    shop.app.clock.advance(chrono::Duration::minutes(1));

    let run = finish(&shop, &start(&shop).await).await;
    let items = items(&shop, &run).await;
    let found: BTreeMap<String, String> = items
        .iter()
        .map(|i| {
            let who = i["order_id"]
                .as_str()
                .or(i["provider_payment_id"].as_str())
                .unwrap();
            (who.to_owned(), i["kind"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        (adjusted.0.clone(), "amount_mismatch"),
        (voided.0.clone(), "status_mismatch"),
        (lost.0.clone(), "missing_at_provider"),
        ("lbl_stray".to_owned(), "missing_in_cassa"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(found, expected, "{items:?}");
    // Every payment and the one untouched label agree; nothing else was found.
    assert_eq!(run["matched"], 5, "{run}");
    assert_eq!(run["exceptions"], 4, "{run}");
    for item in &items {
        assert_eq!(item["provider"], "sandbox_carrier", "{item}");
        assert_eq!(item["subject"], "label", "{item}");
        assert_eq!(item["payment_intent_id"], serde_json::Value::Null);
        let difference = item["difference"].as_i64().unwrap();
        match item["kind"].as_str().unwrap() {
            "amount_mismatch" => assert_eq!(difference, 150),
            "status_mismatch" | "missing_at_provider" => assert!(difference < 0, "{item}"),
            "missing_in_cassa" => assert!(difference > 0, "{item}"),
            other => panic!("unexpected {other}"),
        }
        if item["kind"] != "missing_in_cassa" {
            assert!(item["shipment_id"].is_string(), "{item}");
        }
    }
    // A second run of the period finds the same, nothing more.
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let again = finish(&shop, &start(&shop).await).await;
    assert_eq!(again["exceptions"], run["exceptions"], "{again}");
}

both_backends!(a_run_finds_each_label_drift_and_nothing_else);
