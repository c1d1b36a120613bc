//! Tax exports: they add up to the ledger, stay in their store, and download again byte for
//! byte.

use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::Value;

use super::{act, authorize, order_tax, quote, shop};
use crate::support::{assert_problem, json_of};

async fn get(app: &TestApp, store: &TestStore, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
}

/// CSV rows (header excluded) as maps from column to value.
fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn sum(rows: &[std::collections::HashMap<String, String>], column: &str) -> i64 {
    rows.iter().map(|r| r[column].parse::<i64>().unwrap()).sum()
}

async fn exports_add_up_to_the_ledger_and_download_again_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    // Two Los Angeles orders (one refunded by a third) and one to New York (no nexus).
    let mut orders = Vec::new();
    for (city, subdivision, postal) in [
        ("Los Angeles", "CA", "90012"),
        ("Los Angeles", "CA", "90012"),
        ("New York", "NY", "10001"),
    ] {
        let snapshot = quote(&app, &store, &token, city, subdivision, postal).await;
        let intent = authorize(&app, &token, &snapshot).await;
        act(&app, &store, &intent, "capture", None).await;
        orders.push((snapshot, intent));
    }
    let third = orders[0].0["totals"]["total"].as_i64().unwrap() / 3;
    act(&app, &store, &orders[0].1, "refund", Some(third)).await;
    let mut ledger_net = 0;
    let mut ledger_reversed = 0;
    let mut ledger_lines = 0;
    for (snapshot, _) in &orders {
        let tax = order_tax(&app, &store, snapshot["order_id"].as_str().unwrap()).await;
        ledger_net += tax["net"].as_i64().unwrap();
        ledger_reversed += tax["reversed"].as_i64().unwrap();
        for t in tax["transactions"].as_array().unwrap() {
            ledger_lines += t["lines"].as_array().unwrap().len();
        }
    }
    assert_eq!(ledger_net, 2 * 1048 - 349);
    // Exports read what was committed before they started, less the settle window (5 s).
    app.clock.advance(chrono::Duration::seconds(10));

    let path = "/api/v1/admin/tax/reports/export?from=2026-01-15&to=2026-01-15";
    let response = get(&app, &store, path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let export_id = response.headers()["cassa-export-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let first = response.bytes().await.unwrap();
    let rows = csv_rows(std::str::from_utf8(&first).unwrap());
    let ca: Vec<_> = rows
        .iter()
        .filter(|r| r["jurisdiction"] == "US-CA")
        .collect();
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0]["commits"], "2");
    assert_eq!(ca[0]["reversals"], "1");
    assert_eq!(sum(&rows, "net"), ledger_net, "{rows:?}");
    assert_eq!(sum(&rows, "tax_reversed"), ledger_reversed);
    // Where the store has no nexus nothing was taxed, so nothing is filed.
    assert!(
        rows.iter().all(|r| r["jurisdiction"] != "US-NY"),
        "{rows:?}"
    );

    // Per transaction line, as CSV and as JSON: the same sums.
    let path =
        "/api/v1/admin/tax/reports/export?from=2026-01-01&to=2026-01-31&group_by=transaction";
    let text = get(&app, &store, path).await.text().await.unwrap();
    let lines = csv_rows(&text);
    assert_eq!(lines.len(), ledger_lines);
    let signed: i64 = lines
        .iter()
        .map(|l| l["tax"].parse::<i64>().unwrap() * if l["kind"] == "commit" { 1 } else { -1 })
        .sum();
    assert_eq!(signed, ledger_net);
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-01&to=2026-01-31&format=json";
    let json: Value = get(&app, &store, path).await.json().await.unwrap();
    let net: i64 = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["net"].as_i64().unwrap())
        .sum();
    assert_eq!(net, ledger_net);
    // Another period holds nothing.
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-16&to=2026-01-31";
    assert_eq!(
        csv_rows(&get(&app, &store, path).await.text().await.unwrap()).len(),
        0
    );
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-16&to=2026-01-15";
    assert_problem(get(&app, &store, path).await, 422, "validation_failed").await;

    // Recorded, and the same bytes again, even after more tax was committed.
    let exports = json_of(get(&app, &store, "/api/v1/admin/tax/exports").await, 200).await;
    assert_eq!(exports.as_array().unwrap().len(), 4);
    let recorded = exports
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == export_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(recorded["status"], "completed");
    assert_eq!(recorded["rows"], rows.len());
    use sha2::Digest;
    let digest = format!("{:x}", sha2::Sha256::digest(&first));
    assert_eq!(recorded["sha256"], digest.as_str());
    act(&app, &store, &orders[1].1, "refund", Some(third)).await;
    let again = get(
        &app,
        &store,
        &format!("/api/v1/admin/tax/exports/{export_id}/download"),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), first);

    let other = app.create_store("Other", "USD").await;
    let response = get(
        &app,
        &other,
        &format!("/api/v1/admin/tax/exports/{export_id}/download"),
    )
    .await;
    assert_problem(response, 404, "not_found").await;
}

/// An export by transaction line records how many transactions its window holds as its first
/// page streams, and how many it wrote; the console shows the percentage.
async fn a_running_export_by_transaction_line_reports_its_progress(backend: Backend) {
    use futures::StreamExt;

    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    for _ in 0..3 {
        let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
        let intent = authorize(&app, &token, &snapshot).await;
        act(&app, &store, &intent, "capture", None).await;
    }
    app.clock.advance(chrono::Duration::seconds(10));
    let query = cassa::tax::ExportQuery {
        from: "2026-01-01".parse().unwrap(),
        to: "2026-01-31".parse().unwrap(),
        format: None,
        group_by: Some(cassa::tax::GroupBy::Transaction),
    };
    let (export, mut file) = cassa::tax::start_export(
        &app.state,
        store.id.parse().unwrap(),
        cassa::types::Environment::Sandbox,
        "test",
        &query,
    )
    .await
    .unwrap();
    let id = export.id.to_string();
    let progress = || {
        let (app, store, id) = (&app, &store, id.clone());
        async move {
            let exports = json_of(get(app, store, "/api/v1/admin/tax/exports").await, 200).await;
            exports
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id.as_str())
                .cloned()
                .unwrap()
        }
    };
    assert!(progress().await["progress"].is_null(), "not started");
    file.next().await.unwrap().unwrap(); // the header
    file.next().await.unwrap().unwrap(); // the first page
    let running = progress().await;
    assert_eq!(running["status"], "running");
    assert_eq!(running["progress"]["total"], 3);
    assert!(running["progress"]["percent"].as_i64().unwrap() <= 100);
    while let Some(chunk) = file.next().await {
        chunk.unwrap();
    }
    let done = progress().await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["progress"],
        serde_json::json!({"done": 3, "total": 3, "percent": 100})
    );
}

both_backends!(
    exports_add_up_to_the_ledger_and_download_again_byte_for_byte,
    a_running_export_by_transaction_line_reports_its_progress,
);
