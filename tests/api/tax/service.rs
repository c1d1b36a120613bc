//! A tax service (`taxapi`) behind the same registry as the store's own rates: it quotes when
//! the store's settings name it, its failures follow the store's fallback policy, and every tax
//! transaction it quoted is filed with it exactly once, through retries and lost answers.

use std::time::Duration;

use cassa::clock::Clock;

use cassa_tests::{Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{act, authorize, fake_service, order_tax, put, quote, shop};
use crate::support::{assert_problem, json_of, send};

async fn service_shop(backend: Backend) -> (TestApp, TestStore, fake_service::Shared) {
    let books = fake_service::Shared::default();
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(fake_service::router(books.clone())),
            ..Default::default()
        },
    )
    .await;
    let store = shop(&app).await;
    let base_url = app.url(&format!("/api/v1{}", fake_service::MOUNT));
    let response = send(
        &app,
        reqwest::Method::PUT,
        &store.sandbox_key,
        "/api/v1/admin/credentials/taxapi/sandbox",
        Some(json!({"api_key": fake_service::API_KEY, "base_url": base_url})),
    )
    .await;
    json_of(response, 200).await;
    (app, store, books)
}

async fn use_service(app: &TestApp, store: &TestStore, fallback: &str) -> Value {
    put(
        app,
        store,
        "/api/v1/admin/tax/settings",
        json!({"engine": "taxapi", "fallback": fallback}),
    )
    .await
}

fn engines(snapshot: &Value) -> Vec<(String, String)> {
    snapshot["tax_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["engine"].as_str().unwrap().to_owned(),
                l["engine_version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn the_store_s_tax_service_quotes_and_its_lines_say_so(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    // The store's own rates until it chooses otherwise: 7.25 + 0.25 + 2.25 % and taxed shipping.
    let own = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    assert_eq!(own["totals"]["tax"], 1048);
    assert_eq!(own["provider"]["tax"], "rules");

    let settings = use_service(&app, &store, "refuse").await;
    assert_eq!(
        (settings["engine"].as_str(), settings["fallback"].as_str()),
        (Some("taxapi"), Some("refuse"))
    );
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    // The service's rates: 6 % state + 3.5 % city, shipping untaxed.
    assert_eq!(snapshot["totals"]["tax"], 950);
    assert_eq!(snapshot["totals"]["shipping_tax"], 0);
    assert_eq!(snapshot["provider"]["tax"], "taxapi");
    assert_eq!(
        super::parts(&snapshot, 1),
        [
            ("US-CA".to_owned(), 600, None),
            ("US-CA/city:LOS ANGELES".to_owned(), 350, None),
        ]
    );
    assert!(
        engines(&snapshot)
            .iter()
            .all(|(e, v)| e == "taxapi" && v == fake_service::VERSION),
        "{snapshot}"
    );
    assert_eq!(books.lock().unwrap().quotes, 1);

    // The other environment keeps its own settings.
    let owner = app.create_owner(&store, "owner@tax.example").await;
    let live_key = app.create_live_key(&store, &owner).await;
    let production = json_of(
        send(
            &app,
            reqwest::Method::GET,
            &live_key,
            "/api/v1/admin/tax/settings",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(production["engine"], "rules");
}

async fn settings_name_only_offered_engines_with_credentials(backend: Backend) {
    let books = fake_service::Shared::default();
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(fake_service::router(books)),
            ..Default::default()
        },
    )
    .await;
    let store = shop(&app).await;
    let defaults = json_of(
        send(
            &app,
            reqwest::Method::GET,
            &store.sandbox_key,
            "/api/v1/admin/tax/settings",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (defaults["engine"].as_str(), defaults["fallback"].as_str()),
        (Some("rules"), Some("refuse"))
    );
    assert_eq!(defaults["engines"], json!(["rules", "taxapi"]));
    assert!(defaults["updated_at"].is_null());

    let set = |body: Value| {
        send(
            &app,
            reqwest::Method::PUT,
            &store.sandbox_key,
            "/api/v1/admin/tax/settings",
            Some(body),
        )
    };
    assert_problem(
        set(json!({"engine": "avalanche"})).await,
        422,
        "validation_failed",
    )
    .await;
    // A service without credentials in this environment would refuse every quote.
    assert_problem(
        set(json!({"engine": "taxapi"})).await,
        422,
        "validation_failed",
    )
    .await;
    // A store cannot point the service at a private address.
    let response = send(
        &app,
        reqwest::Method::PUT,
        &store.sandbox_key,
        "/api/v1/admin/credentials/taxapi/sandbox",
        Some(json!({"api_key": fake_service::API_KEY, "base_url": "http://10.0.0.7/tax"})),
    )
    .await;
    assert_problem(response, 422, "validation_failed").await;
    assert_problem(
        set(json!({"engine": "rules", "fallback": "guess"})).await,
        422,
        "invalid_body",
    )
    .await;
    let back = json_of(
        set(json!({"engine": "rules", "fallback": "rules"})).await,
        200,
    )
    .await;
    assert_eq!(back["fallback"], "rules");
    assert!(back["updated_at"].is_string());
}

async fn a_service_that_cannot_answer_follows_the_fallback_policy(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    use_service(&app, &store, "refuse").await;
    let order_quote = |postal: &'static str| {
        let (app, store, token) = (&app, &store, token.clone());
        async move {
            let product = crate::catalog::create_product(
                app,
                &store.sandbox_key,
                json!({"sku": format!("LAMP-{}", Uuid::now_v7()), "name": "Lamp",
                    "unit_amount": 10000, "currency": "USD", "weight_grams": 900}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap();
            let order = json_of(
                send(
                    app,
                    reqwest::Method::POST,
                    &token,
                    "/api/v1/me/orders",
                    Some(json!({
                        "items": [{"product_id": product["id"], "quantity": 1}],
                        "shipping_address": {"name": "Ada", "line1": "1 Main St",
                            "city": "Los Angeles", "subdivision": "CA", "postal_code": postal,
                            "country": "US"},
                    })),
                )
                .await,
                201,
            )
            .await;
            send(
                app,
                reqwest::Method::POST,
                &token,
                "/api/v1/me/checkout/quote",
                Some(json!({"order_id": order["id"]})),
            )
            .await
        }
    };

    // Down, and the store refuses to guess: 503, nothing stored.
    books.lock().unwrap().mode = fake_service::Mode::Down;
    assert_problem(order_quote("90012").await, 503, "tax_unavailable").await;
    // An answer that does not add up is the service failing too, never tax to charge.
    books.lock().unwrap().mode = fake_service::Mode::Garbage;
    assert_problem(order_quote("90012").await, 503, "tax_unavailable").await;
    // A refusal of the request itself is the customer's to fix: no fallback hides it.
    books.lock().unwrap().mode = fake_service::Mode::Up;
    assert_problem(order_quote("00000").await, 422, "tax_rejected").await;

    // With the store's rates as fallback the quote goes through and says how it was taxed.
    use_service(&app, &store, "rules").await;
    books.lock().unwrap().mode = fake_service::Mode::Down;
    let snapshot = json_of(order_quote("90012").await, 201).await;
    assert_eq!(snapshot["totals"]["tax"], 1048);
    assert_eq!(snapshot["provider"]["tax"], "fallback");
    assert!(
        engines(&snapshot)
            .iter()
            .all(|(e, v)| e == "fallback" && v == "2"),
        "{snapshot}"
    );
}

/// Delivers filings until every transaction of the order is filed, moving the clock past the
/// backoff between rounds (the server's own filer may take some rounds: any order is fine).
async fn file_all(app: &TestApp, store: &TestStore, order: &str) -> Value {
    for _ in 0..30 {
        cassa::tax::deliver_filings(&app.state).await.unwrap();
        let tax = order_tax(app, store, order).await;
        let filed = tax["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["filing"]["status"] == "sent");
        if filed {
            return tax;
        }
        app.clock.advance(chrono::Duration::hours(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the filings were never sent: {}",
        order_tax(app, store, order).await
    );
}

async fn tax_transactions_are_filed_with_the_service_once_through_failures(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    use_service(&app, &store, "refuse").await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let intent = authorize(&app, &token, &snapshot).await;
    assert_eq!(books.lock().unwrap().posts, 0, "authorizing files nothing");

    // The service is down when the capture commits the tax, and its first answer after that
    // is lost: the filing waits in the outbox and is sent again under the same key.
    {
        let mut b = books.lock().unwrap();
        b.mode = fake_service::Mode::Down;
        b.lose_answers = 1;
    }
    act(&app, &store, &intent, "capture", None).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 950);
    assert_eq!(tax["transactions"][0]["filing"]["engine"], "taxapi");
    assert_eq!(tax["transactions"][0]["filing"]["kind"], "commit");
    for _ in 0..3 {
        cassa::tax::deliver_filings(&app.state).await.unwrap();
        app.clock.advance(chrono::Duration::hours(2));
    }
    assert!(books.lock().unwrap().documents.is_empty());
    let failed = order_tax(&app, &store, &order).await;
    let filing = &failed["transactions"][0]["filing"];
    // Waiting for its next attempt (or in one: the server's own filer runs too).
    assert!(
        filing["status"] == "pending" || filing["status"] == "processing",
        "{filing}"
    );
    assert!(filing["attempts"].as_i64().unwrap() >= 1, "{filing}");
    books.lock().unwrap().mode = fake_service::Mode::Up;
    file_all(&app, &store, &order).await;

    // Refunds in two steps reverse at the service what they reverse in Cassa.
    act(&app, &store, &intent, "refund", Some(total / 3)).await;
    act(&app, &store, &intent, "refund", Some(total - total / 3)).await;
    let tax = file_all(&app, &store, &order).await;
    assert_eq!(tax["net"], 0);
    let b = books.lock().unwrap();
    assert_eq!(
        b.net[&order], 0,
        "the service's books agree with the ledger"
    );
    let ids: Vec<&str> = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(b.documents.len(), ids.len(), "each transaction filed once");
    let kinds: Vec<&str> = ids
        .iter()
        .map(|id| b.documents[*id]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["commit", "refund", "refund"]);
    assert!(
        b.posts > 3,
        "the lost answer was sent again: {} posts",
        b.posts
    );
    let reversed: i64 = ids[1..]
        .iter()
        .map(|id| {
            b.documents[*id]["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["tax"].as_i64().unwrap())
                .sum::<i64>()
        })
        .sum();
    assert_eq!(reversed, 950);
}

async fn a_void_after_finalization_is_filed_as_a_void(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    use_service(&app, &store, "refuse").await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    let response = send(
        &app,
        reqwest::Method::POST,
        &store.sandbox_key,
        &format!("/api/v1/admin/orders/{order}/tax/finalize"),
        None,
    )
    .await;
    json_of(response, 200).await;
    act(&app, &store, &intent, "void", None).await;
    let tax = file_all(&app, &store, &order).await;
    assert_eq!(
        (tax["committed"].as_i64(), tax["net"].as_i64()),
        (Some(950), Some(0))
    );
    let b = books.lock().unwrap();
    let kinds: Vec<&str> = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            b.documents[t["id"].as_str().unwrap()]["kind"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(kinds, ["commit", "void"]);
    assert_eq!(b.net[&order], 0);
}

async fn a_refused_filing_holds_the_order_s_later_ones_until_retried(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    use_service(&app, &store, "refuse").await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let intent = authorize(&app, &token, &snapshot).await;
    books.lock().unwrap().mode = fake_service::Mode::RefuseFilings;
    act(&app, &store, &intent, "capture", None).await;
    act(&app, &store, &intent, "refund", Some(total / 2)).await;
    for _ in 0..3 {
        cassa::tax::deliver_filings(&app.state).await.unwrap();
        app.clock.advance(chrono::Duration::hours(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tax = order_tax(&app, &store, &order).await;
    let statuses: Vec<&str> = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["filing"]["status"].as_str().unwrap())
        .collect();
    // The refused commit is final; the refund waits behind it instead of reaching a service
    // that never recorded the commit.
    assert_eq!(statuses, ["failed", "pending"], "{tax}");
    assert!(books.lock().unwrap().documents.is_empty());

    // Fixed at the service: a retry sends both, in order.
    books.lock().unwrap().mode = fake_service::Mode::Up;
    let path = format!("/api/v1/admin/orders/{order}/tax/filings/retry");
    let retried = json_of(
        send(&app, reqwest::Method::POST, &store.sandbox_key, &path, None).await,
        200,
    )
    .await;
    assert_ne!(retried["transactions"][0]["filing"]["status"], "failed");
    let tax = file_all(&app, &store, &order).await;
    {
        let b = books.lock().unwrap();
        assert_eq!(b.net[&order], tax["net"].as_i64().unwrap());
        assert_eq!(b.documents.len(), 2);
    }
    // Another store's order is not found.
    let other = app.create_store("Other", "USD").await;
    assert_problem(
        send(&app, reqwest::Method::POST, &other.sandbox_key, &path, None).await,
        404,
        "not_found",
    )
    .await;
}

async fn the_store_s_own_rates_file_nothing(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    act(&app, &store, &intent, "capture", None).await;
    cassa::tax::deliver_filings(&app.state).await.unwrap();
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 1048);
    assert!(tax["transactions"][0]["filing"].is_null());
    assert_eq!(books.lock().unwrap().posts, 0);
}

/// Reconciliation compares each filed tax transaction with its filing: the tax the service
/// booked matches, a commit it refused is missing there (the whole tax as the difference).
async fn a_reconciliation_finds_the_tax_a_service_never_booked(backend: Backend) {
    let (app, store, books) = service_shop(backend).await;
    let (_, token) = app.create_customer(&store).await;
    use_service(&app, &store, "refuse").await;
    let first_day = app.clock.now().date_naive();
    let filed = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let filed_order = filed["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &filed).await;
    act(&app, &store, &intent, "capture", None).await;
    file_all(&app, &store, &filed_order).await;

    let refused = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let refused_order = refused["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &refused).await;
    books.lock().unwrap().mode = fake_service::Mode::RefuseFilings;
    act(&app, &store, &intent, "capture", None).await;
    for _ in 0..3 {
        cassa::tax::deliver_filings(&app.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tax = order_tax(&app, &store, &refused_order).await;
    assert_eq!(
        tax["transactions"][0]["filing"]["status"], "failed",
        "{tax}"
    );
    let committed = tax["transactions"][0]["tax"].as_i64().unwrap();
    assert!(committed > 0);

    app.clock.advance(chrono::Duration::minutes(1));
    let period = json!({"from": first_day.pred_opt().unwrap(),
        "to": app.clock.now().date_naive()});
    let run = json_of(
        send(
            &app,
            reqwest::Method::POST,
            &store.sandbox_key,
            "/api/v1/admin/reconciliation/runs",
            Some(period),
        )
        .await,
        202,
    )
    .await;
    let path = format!(
        "/api/v1/admin/reconciliation/runs/{}",
        run["id"].as_str().unwrap()
    );
    let mut finished = Value::Null;
    for _ in 0..100 {
        cassa::reconciliation::run_due(&app.state).await.unwrap();
        let run = json_of(
            send(&app, reqwest::Method::GET, &store.sandbox_key, &path, None).await,
            200,
        )
        .await;
        if run["status"] == "completed" {
            finished = run;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "completed", "{finished}");
    let items = json_of(
        send(
            &app,
            reqwest::Method::GET,
            &store.sandbox_key,
            &format!("{path}/items?limit=500"),
            None,
        )
        .await,
        200,
    )
    .await;
    let tax_items: Vec<&Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["subject"] == "tax")
        .collect();
    assert_eq!(tax_items.len(), 1, "{items}");
    let item = tax_items[0];
    assert_eq!(item["kind"], "missing_at_provider");
    assert_eq!(item["order_id"], refused_order.as_str());
    assert_eq!(item["provider"], "taxapi");
    assert_eq!(item["difference"], -committed);
    assert_eq!(item["theirs"]["filing"], "failed");
    // A tax item is not settled from the payment provider.
    let apply = send(
        &app,
        reqwest::Method::POST,
        &store.sandbox_key,
        &format!(
            "/api/v1/admin/reconciliation/items/{}/apply",
            item["id"].as_str().unwrap()
        ),
        Some(json!({"note": "file it"})),
    )
    .await;
    assert_problem(apply, 409, "nothing_to_apply").await;
    // Nothing about the order whose tax the service booked: its filing matched (two payments
    // and one filing).
    assert_eq!(finished["matched"], 3, "{finished}");
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["order_id"] != filed_order.as_str()),
        "{items}"
    );
}

both_backends!(
    a_reconciliation_finds_the_tax_a_service_never_booked,
    the_store_s_tax_service_quotes_and_its_lines_say_so,
    settings_name_only_offered_engines_with_credentials,
    a_service_that_cannot_answer_follows_the_fallback_policy,
    tax_transactions_are_filed_with_the_service_once_through_failures,
    a_void_after_finalization_is_filed_as_a_void,
    a_refused_filing_holds_the_order_s_later_ones_until_retried,
    the_store_s_own_rates_file_nothing,
);
