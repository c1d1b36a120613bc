//! Reconciliation on both databases: the sandbox PSP is made to drift in every way a processor
//! drifts (a refund in its dashboard, a settlement adjustment, a lapsed authorization, a lost
//! record, another currency, a stray payment, a second payment for one of our operations, a
//! payment whose webhook never came), and a run finds exactly that; a run stopped mid-way
//! resumes without counting twice; two runners never work one run; items stay in their store.
//! The daily scheduler is in `schedule.rs`.

mod labels;
mod schedule;

use std::{collections::BTreeMap, time::Duration};

use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app_with};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    payments::shop::{Shop, TOTAL, amounts},
    support::{assert_problem, json_of, send},
};

pub(super) async fn recon_shop(backend: Backend, batch: i64) -> Shop {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| {
                c.webhook_workers = 0;
                c.provider_timeout = Duration::from_secs(5);
                c.reconciliation_batch = batch;
                // Runs are worked by the test, one claim at a time.
                c.reconciliation_interval = Duration::ZERO;
                c.reconciliation_runners = 0;
            })),
            ..Default::default()
        },
    )
    .await;
    // The PSP keeps the wall clock (it plays another company's system) and lists payments by
    // its own creation times: the server's clock starts at the same instant.
    app.clock.set(chrono::Utc::now());
    let store = app.create_store("Shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    Shop { app, store, token }
}

/// A store API read that must succeed.
pub(super) async fn get(shop: &Shop, path: &str) -> Value {
    json_of(
        send(
            &shop.app,
            reqwest::Method::GET,
            &shop.store.sandbox_key,
            path,
            None,
        )
        .await,
        200,
    )
    .await
}

/// Calls a drift operation of the sandbox PSP with the store's own account.
async fn drift(shop: &Shop, path: &str, body: Value) -> Value {
    let secrets = shop.sandbox_secrets().await;
    let key = secrets.get("api_key").unwrap().expose_secret().to_owned();
    let response = shop
        .app
        .client
        .post(shop.app.url(&format!("/sandbox-psp/v1/test{path}")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

pub(super) async fn captured(shop: &Shop) -> (String, Value) {
    let (order, intent) = shop.authorized().await;
    amounts(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    (order, intent)
}

fn provider_id(intent: &Value) -> String {
    intent["provider_payment_id"].as_str().unwrap().to_owned()
}

async fn sql(shop: &Shop, statement: &str, id: &str) {
    cassa::on_db!(&shop.app.db, pool => sqlx::query(statement).bind(id).execute(pool).await.map(|_| ()))
        .unwrap();
}

/// Yesterday to tomorrow (UTC): today's payments, whatever the time of day.
fn period() -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({"from": today.pred_opt().unwrap(), "to": today.succ_opt().unwrap()})
}

pub(super) async fn start(shop: &Shop) -> Value {
    let response = send(
        &shop.app,
        reqwest::Method::POST,
        &shop.store.sandbox_key,
        "/api/v1/admin/reconciliation/runs",
        Some(period()),
    )
    .await;
    json_of(response, 202).await
}

pub(super) async fn finish(shop: &Shop, run: &Value) -> Value {
    while cassa::reconciliation::run_due(&shop.app.state)
        .await
        .unwrap()
    {}
    let path = format!(
        "/api/v1/admin/reconciliation/runs/{}",
        run["id"].as_str().unwrap()
    );
    let run = get(shop, &path).await;
    assert_eq!(run["status"], "completed", "{run}");
    run
}

pub(super) async fn items(shop: &Shop, run: &Value) -> Vec<Value> {
    let path = format!(
        "/api/v1/admin/reconciliation/runs/{}/items?limit=500",
        run["id"].as_str().unwrap()
    );
    get(shop, &path).await.as_array().unwrap().clone()
}

/// Kinds found, by our order (or the provider's id for what has no order).
fn found(items: &[Value]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| {
            let who = i["order_id"]
                .as_str()
                .or(i["provider_payment_id"].as_str())
                .unwrap()
                .to_owned();
            (who, i["kind"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The authorization's transaction id of an intent: what the PSP keeps as its reference.
async fn authorize_reference(shop: &Shop, order: &str) -> String {
    let detail = shop.detail(order).await;
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if map.get("operation") == Some(&json!("authorize")) {
                    out.push(map["id"].as_str().unwrap().to_owned());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut ids = Vec::new();
    walk(&detail, &mut ids);
    ids.pop().unwrap()
}

async fn a_run_finds_each_kind_of_drift_and_nothing_else(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    let mut expected = BTreeMap::new();

    // Agrees on both sides.
    let (matched, matched_intent) = captured(&shop).await;
    // Refunded in the processor's dashboard.
    let (refunded, intent) = captured(&shop).await;
    drift(
        &shop,
        &format!("/payments/{}/refund", provider_id(&intent)),
        json!({"amount": 1000}),
    )
    .await;
    expected.insert(refunded.clone(), "amount_mismatch".to_owned());
    // Adjusted at settlement.
    let (adjusted, intent) = captured(&shop).await;
    drift(
        &shop,
        &format!("/payments/{}/settlement", provider_id(&intent)),
        json!({"captured": TOTAL - 100}),
    )
    .await;
    expected.insert(adjusted.clone(), "amount_mismatch".to_owned());
    // Lapsed at the processor, still authorized here.
    let (lapsed, intent) = shop.authorized().await;
    drift(
        &shop,
        &format!("/payments/{}/expire", provider_id(&intent)),
        json!({}),
    )
    .await;
    expected.insert(lapsed, "status_mismatch".to_owned());
    // Lost by the processor.
    let (lost, intent) = captured(&shop).await;
    sql(
        &shop,
        "DELETE FROM sandbox_psp_payments WHERE id = $1",
        &provider_id(&intent),
    )
    .await;
    expected.insert(lost, "missing_at_provider".to_owned());
    // Settled in another currency.
    let (foreign, intent) = captured(&shop).await;
    sql(
        &shop,
        "UPDATE sandbox_psp_payments SET currency = 'EUR' WHERE id = $1",
        &provider_id(&intent),
    )
    .await;
    expected.insert(foreign, "currency_mismatch".to_owned());
    // Its webhook never came: pending here long after.
    drift(&shop, "/drop_webhooks", json!({"count": 5})).await;
    let (order, snapshot) = shop.quoted_order().await;
    let response = shop
        .authorize_with(
            &order,
            &snapshot,
            "pm_card_async",
            &Uuid::now_v7().to_string(),
        )
        .await;
    assert_eq!(response.status(), 202);
    expected.insert(order, "stale_unknown".to_owned());
    // A payment nobody asked for, and a second one made for our matched payment's operation.
    let stray = drift(
        &shop,
        "/payments",
        json!({"amount": 4321, "currency": "USD"}),
    )
    .await;
    expected.insert(
        stray["id"].as_str().unwrap().to_owned(),
        "missing_in_cassa".to_owned(),
    );
    let reference = authorize_reference(&shop, &matched).await;
    let dup = drift(
        &shop,
        "/payments",
        json!({"amount": TOTAL, "currency": "USD", "reference": reference}),
    )
    .await;

    // Past the stale threshold, then the run.
    shop.app.clock.advance(chrono::Duration::hours(2));
    let run = start(&shop).await;
    assert_eq!(run["status"], "queued");
    let run = finish(&shop, &run).await;
    let items = items(&shop, &run).await;
    let mut found = found(&items);
    // The duplicate names our order.
    assert_eq!(
        found.remove(&matched).as_deref(),
        Some("duplicate_at_provider")
    );
    let duplicate = items
        .iter()
        .find(|i| i["kind"] == "duplicate_at_provider")
        .unwrap();
    assert_eq!(duplicate["provider_payment_id"], dup["id"]);
    // Money taken on top of ours: all of it is the difference.
    assert_eq!(duplicate["difference"], TOTAL);
    assert_eq!(duplicate["payment_intent_id"], matched_intent["id"]);
    assert_eq!(duplicate["subject"], "payment");
    assert_eq!(found, expected, "{items:#?}");
    assert_eq!(run["matched"], 1, "{run}");
    assert_eq!(run["exceptions"], 8, "{run}");
    assert_eq!(run["match_rate"], "11.11");
    let refund_item = items
        .iter()
        .find(|i| i["order_id"] == refunded.as_str())
        .unwrap();
    assert_eq!(refund_item["difference"], -1000);
    assert_eq!(refund_item["theirs"]["refunded"], 1000);
    assert_eq!(refund_item["ours"]["refunded"], 0);
    let totals: i64 = run["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_i64().unwrap())
        .sum();
    assert_eq!(totals, 8);

    // The same items as CSV, streamed.
    let path = format!(
        "/api/v1/admin/reconciliation/runs/{}/items/export",
        run["id"].as_str().unwrap()
    );
    let csv = send(
        &shop.app,
        reqwest::Method::GET,
        &shop.store.sandbox_key,
        &path,
        None,
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("item_id,kind,order_id"));
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(",amount_mismatch,"))
            .count(),
        2
    );

    // A person acknowledges, then resolves, with a note; the ledger is untouched.
    let path = format!(
        "/api/v1/admin/reconciliation/items/{}/resolve",
        refund_item["id"].as_str().unwrap()
    );
    let resolve = |body: Value| {
        send(
            &shop.app,
            reqwest::Method::POST,
            &shop.store.sandbox_key,
            &path,
            Some(body),
        )
    };
    assert_problem(
        resolve(json!({"resolution": "resolved", "note": " "})).await,
        422,
        "validation_failed",
    )
    .await;
    let done = json_of(
        resolve(
            json!({"resolution": "resolved", "note": "refunded by support in the PSP dashboard"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["resolution"], "resolved");
    assert!(
        done["resolved_by"]
            .as_str()
            .unwrap()
            .starts_with("api_key:")
    );
    let open = format!(
        "/api/v1/admin/reconciliation/runs/{}/items?resolution=open&kind=amount_mismatch",
        run["id"].as_str().unwrap()
    );
    let open = get(&shop, &open).await;
    assert_eq!(open.as_array().unwrap().len(), 1);

    // Another store sees none of it.
    let other = shop.app.create_store("Other", "USD").await;
    let run_path = format!(
        "/api/v1/admin/reconciliation/runs/{}",
        run["id"].as_str().unwrap()
    );
    assert_problem(
        send(
            &shop.app,
            reqwest::Method::GET,
            &other.sandbox_key,
            &run_path,
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(
            &shop.app,
            reqwest::Method::POST,
            &other.sandbox_key,
            &path,
            Some(json!({"resolution": "acknowledged", "note": "x"})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // The platform sees every store's runs.
    let admin = shop.app.admin_token().await;
    let all = json_of(
        send(
            &shop.app,
            reqwest::Method::GET,
            &admin,
            "/api/v1/platform/reconciliation/runs",
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(all.as_array().unwrap().iter().any(|r| r["id"] == run["id"]));
    assert_eq!(
        send(
            &shop.app,
            reqwest::Method::GET,
            &shop.store.sandbox_key,
            "/api/v1/platform/reconciliation/runs",
            None
        )
        .await
        .status(),
        403
    );
}

async fn a_run_stopped_mid_way_resumes_without_counting_twice(backend: Backend) {
    // Two payments per batch: the run takes several commits.
    let shop = recon_shop(backend, 2).await;
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(captured(&shop).await.0);
    }
    let (drifted, intent) = captured(&shop).await;
    drift(
        &shop,
        &format!("/payments/{}/refund", provider_id(&intent)),
        json!({"amount": 500}),
    )
    .await;
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let run = start(&shop).await;
    // Starting the same period again while it is queued is refused.
    let again = send(
        &shop.app,
        reqwest::Method::POST,
        &shop.store.sandbox_key,
        "/api/v1/admin/reconciliation/runs",
        Some(period()),
    )
    .await;
    assert_problem(again, 409, "reconciliation_running").await;

    // A runner works three batches and dies holding the claim.
    assert!(
        cassa::reconciliation::run_some(&shop.app.state, 3)
            .await
            .unwrap()
    );
    // While its lease holds, nobody else takes the run.
    assert!(
        !cassa::reconciliation::run_due(&shop.app.state)
            .await
            .unwrap()
    );
    shop.app.clock.advance(chrono::Duration::minutes(5));
    let run = finish(&shop, &run).await;
    assert_eq!(run["attempts"], 2);
    assert_eq!(
        (run["matched"].as_i64(), run["exceptions"].as_i64()),
        (Some(5), Some(1)),
        "{run}"
    );
    let items = items(&shop, &run).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["order_id"], drifted.as_str());
}

async fn two_runners_never_work_one_run(backend: Backend) {
    let shop = recon_shop(backend, 2).await;
    for _ in 0..4 {
        captured(&shop).await;
    }
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let run = start(&shop).await;
    let state = shop.app.state.clone();
    let (a, b) = tokio::join!(
        cassa::reconciliation::run_due(&state),
        cassa::reconciliation::run_due(&shop.app.state)
    );
    // Exactly one claimed it.
    assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1);
    let run = finish(&shop, &run).await;
    assert_eq!(
        (run["matched"].as_i64(), run["exceptions"].as_i64()),
        (Some(4), Some(0)),
        "{run}"
    );
    assert_eq!(run["attempts"], 1);
}

async fn a_store_sharing_a_provider_account_sees_none_of_the_other_s_payments(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    // Store B uses store A's PSP account.
    let b = shop.app.create_store("B", "USD").await;
    crate::checkout::configure(&shop.app, &b).await;
    let secrets = shop.sandbox_secrets().await;
    let response = send(
        &shop.app,
        reqwest::Method::PUT,
        &b.sandbox_key,
        "/api/v1/admin/credentials/sandbox/sandbox",
        Some(json!({
            "api_key": secrets.get("api_key").unwrap().expose_secret(),
            "webhook_secret": secrets.get("webhook_secret").unwrap().expose_secret(),
        })),
    )
    .await;
    json_of(response, 200).await;
    let (_, token_b) = shop.app.create_customer(&b).await;
    let (order_b, intent_b) = shop.authorized_in(&b, &token_b).await;
    let path = format!(
        "/api/v1/admin/orders/{order_b}/payments/{}/capture",
        intent_b["id"].as_str().unwrap()
    );
    json_of(
        send(
            &shop.app,
            reqwest::Method::POST,
            &b.sandbox_key,
            &path,
            Some(json!({})),
        )
        .await,
        200,
    )
    .await;
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let run = finish(&shop, &start(&shop).await).await;
    // A's list held B's payment: neither reported nor shown to A.
    assert_eq!(
        (run["matched"].as_i64(), run["exceptions"].as_i64()),
        (Some(1), Some(0)),
        "{run}"
    );
    assert!(items(&shop, &run).await.is_empty());
}

async fn applying_an_item_settles_its_payment_through_the_ledger_with_history(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    // The PSP authorizes an asynchronous payment, and its webhook is lost.
    drift(&shop, "/drop_webhooks", json!({"count": 5})).await;
    let (order, snapshot) = shop.quoted_order().await;
    let response = shop
        .authorize_with(
            &order,
            &snapshot,
            "pm_card_async",
            &Uuid::now_v7().to_string(),
        )
        .await;
    assert_eq!(response.status(), 202);
    let intent: Value = response.json().await.unwrap();
    let psp = cassa::http::sandbox_psp::state(&shop.app.state);
    assert!(
        cassa_sandbox_psp::settle(&psp, &provider_id(&intent), true)
            .await
            .unwrap()
    );
    shop.app.clock.advance(chrono::Duration::hours(2));
    let run = finish(&shop, &start(&shop).await).await;
    let items = items(&shop, &run).await;
    assert_eq!(
        found(&items),
        BTreeMap::from([(order.clone(), "stale_unknown".to_owned())])
    );

    let path = format!(
        "/api/v1/admin/reconciliation/items/{}/apply",
        items[0]["id"].as_str().unwrap()
    );
    let apply = |note: &str| {
        send(
            &shop.app,
            reqwest::Method::POST,
            &shop.store.sandbox_key,
            &path,
            Some(json!({"note": note})),
        )
    };
    assert_problem(apply("").await, 422, "validation_failed").await;
    let applied = json_of(apply("webhook lost; settled from the PSP").await, 200).await;
    assert_eq!(applied["resolution"], "resolved");
    assert!(
        applied["note"]
            .as_str()
            .unwrap()
            .contains("1 operation(s) settled")
    );
    // The ledger moved through the transition function, and the history says who and why.
    let detail = shop.detail(&order).await;
    assert!(
        detail.to_string().contains("\"status\":\"authorized\""),
        "{detail}"
    );
    let order_id = Uuid::parse_str(&order).unwrap();
    let rows: i64 = cassa::on_db!(&shop.app.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM order_status_history WHERE order_id = $1 AND source = 'reconciliation'")
        .bind(order_id).fetch_one(pool).await)
    .unwrap();
    assert!(rows >= 1);
    // Nothing is open any more.
    assert_problem(apply("again").await, 409, "nothing_to_apply").await;
}

async fn a_run_asked_for_twice_with_one_key_is_queued_once(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    let ask = || async {
        shop.app
            .client
            .post(shop.app.url("/api/v1/admin/reconciliation/runs"))
            .bearer_auth(&shop.store.sandbox_key)
            .header("idempotency-key", "recon-once")
            .json(&period())
            .send()
            .await
            .unwrap()
    };
    let first = json_of(ask().await, 202).await;
    let again = ask().await;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again = json_of(again, 202).await;
    assert_eq!(first["id"], again["id"]);
    let runs = get(&shop, "/api/v1/admin/reconciliation/runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
}

both_backends!(
    a_run_asked_for_twice_with_one_key_is_queued_once,
    a_run_finds_each_kind_of_drift_and_nothing_else,
    applying_an_item_settles_its_payment_through_the_ledger_with_history,
    a_store_sharing_a_provider_account_sees_none_of_the_other_s_payments,
    a_run_stopped_mid_way_resumes_without_counting_twice,
    two_runners_never_work_one_run,
);
