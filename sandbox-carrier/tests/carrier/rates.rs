//! `POST /v1/rates`: the documented tariff, by hand-computed examples, and its refusals.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    both_backends,
    support::{Carrier, START, TestDb, address, carrier, parcel},
};

/// `(service, amount, estimated_days)` of each rate, in the order given.
fn summary(rates: &Value) -> Vec<(String, i64, i64)> {
    rates["rates"]
        .as_array()
        .expect("rates")
        .iter()
        .map(|r| {
            (
                r["service"].as_str().expect("service").to_owned(),
                r["amount"].as_i64().expect("amount"),
                r["estimated_days"].as_i64().expect("days"),
            )
        })
        .collect()
}

async fn quote(app: &Carrier, from: Value, to: Value, packages: Value, currency: &str) -> Value {
    let body = json!({"from": from, "to": to, "packages": packages, "currency": currency});
    let answer = app.call(Method::POST, "/v1/rates", None, Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    answer.json()
}

fn owned(rows: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    rows.iter()
        .map(|(s, a, d)| ((*s).to_owned(), *a, *d))
        .collect()
}

async fn the_schema_is_ensured_idempotently(db: TestDb) {
    db.db.ensure_schema().await.expect("first");
    db.db.ensure_schema().await.expect("again: a no-op");
    let app = carrier(db, |s| s).await;
    app.rate_id("80202").await;
}

async fn prices_follow_the_documented_tariff(db: TestDb) {
    let app = carrier(db, |s| s).await;

    // Zone 1, dimensional weight wins: 300 × 200 × 100 mm = 6,000,000 / 5000 = 1200 g billable
    // (over the actual 1000 g), so 3 steps of 500 g.
    let rates = quote(
        &app,
        address("Austin", "78701", "US"),
        address("Denver", "80202", "US"),
        json!([parcel(1000, 300, 200, 100)]),
        "USD",
    )
    .await;
    assert_eq!(
        summary(&rates),
        owned(&[
            ("ground", 500 + 150 * 3, 5),
            ("express", 1200 + 300 * 3, 2),
            ("overnight", 2500 + 500 * 3, 1),
        ])
    );
    let first = &rates["rates"][0];
    assert_eq!(first["currency"], "USD");
    let id = first["id"].as_str().expect("id");
    assert!(id.starts_with("rate_") && id.len() == 5 + 32, "{id}");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(first["expires_at"].clone()).expect("time");
    let start: chrono::DateTime<chrono::Utc> = START.parse().expect("start");
    assert_eq!(expires - start, chrono::Duration::hours(24));

    // Zone 2 (both in the EU), two packages priced one by one, ×1.5 each: 1000 g is 2 steps,
    // 2600 g is 6 steps; currencies are accepted in any case and answered upper-case.
    let rates = quote(
        &app,
        address("Berlin", "10115", "DE"),
        address("Paris", "75001", "FR"),
        json!([parcel(1000, 100, 100, 100), parcel(2600, 100, 100, 100)]),
        "eur",
    )
    .await;
    assert_eq!(
        summary(&rates),
        owned(&[
            ("ground", (500 + 300) * 3 / 2 + (500 + 900) * 3 / 2, 7),
            ("express", (1200 + 600) * 3 / 2 + (1200 + 1800) * 3 / 2, 3),
            (
                "overnight",
                (2500 + 1000) * 3 / 2 + (2500 + 3000) * 3 / 2,
                2
            ),
        ])
    );
    assert_eq!(rates["rates"][0]["currency"], "EUR");
    // Zone 2 within North America too.
    let rates = quote(
        &app,
        address("Austin", "78701", "US"),
        address("Toronto", "M5H 2N2", "CA"),
        json!([parcel(500, 100, 100, 100)]),
        "CAD",
    )
    .await;
    assert_eq!(summary(&rates)[0], ("ground".to_owned(), 650 * 3 / 2, 7));

    // Zone 3, ×2.5, no overnight: 501 g starts a second step.
    let rates = quote(
        &app,
        address("Austin", "78701", "US"),
        address("Munich", "80331", "DE"),
        json!([parcel(501, 10, 10, 10)]),
        "GBP",
    )
    .await;
    assert_eq!(
        summary(&rates),
        owned(&[
            ("ground", (500 + 150 * 2) * 5 / 2, 10),
            ("express", (1200 + 300 * 2) * 5 / 2, 5),
        ])
    );
    // Rates are kept for the purchase: three, three, three and two of them.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sandbox_carrier_rates")
            .await,
        11
    );
}

async fn refusals_name_what_is_wrong(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let refused = |to: Value, packages: Value, currency: &str| {
        let body = json!({
            "from": address("Austin", "78701", "US"),
            "to": to,
            "packages": packages,
            "currency": currency,
        });
        app.call(Method::POST, "/v1/rates", None, Some(body))
    };
    let box1 = json!([parcel(1000, 100, 100, 100)]);
    let cases = [
        (
            address("Nowhere", "00000", "US"),
            box1.clone(),
            "USD",
            "address_undeliverable",
        ),
        (
            address("McMurdo", "12345", "AQ"),
            box1.clone(),
            "USD",
            "country_not_served",
        ),
        (
            address("Denver", "80202", "US"),
            box1.clone(),
            "JPY",
            "currency_not_supported",
        ),
        (
            address("Denver", "80202", "US"),
            json!([]),
            "USD",
            "invalid_packages",
        ),
        (
            address("Denver", "80202", "US"),
            json!(vec![parcel(1, 1, 1, 1); 51]),
            "USD",
            "invalid_packages",
        ),
        (
            address("Denver", "80202", "US"),
            json!([parcel(0, 100, 100, 100)]),
            "USD",
            "invalid_packages",
        ),
        (
            address("Denver", "80202", "US"),
            json!([parcel(10, 100, -1, 100)]),
            "USD",
            "invalid_packages",
        ),
        (
            address("Denver", "80202", "US"),
            json!([parcel(10, i64::MAX, i64::MAX, 2)]),
            "USD",
            "invalid_packages",
        ),
        (
            address("Denver", "80202", "us"),
            box1.clone(),
            "USD",
            "invalid_address",
        ),
        (
            address("", "80202", "US"),
            box1.clone(),
            "USD",
            "invalid_address",
        ),
    ];
    for (to, packages, currency, code) in cases {
        let answer = refused(to, packages, currency).await;
        let body = answer.json();
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code}: {body}"
        );
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["type"], "invalid_request");
        assert!(body["error"]["message"].is_string());
    }
    let missing = app
        .call(
            Method::POST,
            "/v1/rates",
            None,
            Some(json!({"currency": "USD"})),
        )
        .await;
    assert_eq!(
        missing.error(),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body".to_owned())
    );
    let request = axum::http::Request::post("/v1/rates")
        .header("authorization", format!("Bearer {}", crate::support::KEY))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let garbled = crate::support::send(&app.router, request).await;
    assert_eq!(
        garbled.error(),
        (StatusCode::BAD_REQUEST, "invalid_json".to_owned())
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sandbox_carrier_rates")
            .await,
        0
    );
}

both_backends!(
    the_schema_is_ensured_idempotently,
    prices_follow_the_documented_tariff,
    refusals_name_what_is_wrong,
);
