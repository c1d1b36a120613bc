//! Importing and reading exchange rates (platform admins only) and setting a store's policy.

use cassa_tests::{Backend, both_backends, spawn_app};
use serde_json::{Value, json};

use super::{import_rates, json_of, send};
use crate::support::assert_problem;

async fn get(app: &cassa_tests::TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn platform_admins_import_and_read_rates(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let daily = "Date, USD, JPY, KWD, CYP, \n15 January 2026, 1.0500, 157.50, 0.32340, N/A, \n";
    let summary = json_of(import_rates(&app, "ecb_csv", None, daily).await, 201).await;
    assert_eq!(summary["imported"], 3);
    assert_eq!(summary["already_known"], 0);
    assert_eq!(summary["skipped"].as_array().map(Vec::len), Some(1));
    assert_eq!(summary["latest_as_of"], "2026-01-15T00:00:00Z");
    // The same file again stores nothing new.
    let again = json_of(import_rates(&app, "ecb_csv", None, daily).await, 201).await;
    assert_eq!(
        (again["imported"].as_i64(), again["already_known"].as_i64()),
        (Some(0), Some(3))
    );
    // A JSON feed of another source, long ago: stale.
    let old = r#"{"base": "USD", "date": "2020-01-02", "rates": {"GBP": 0.76}}"#;
    json_of(import_rates(&app, "json", Some("old-feed"), old).await, 201).await;
    assert_problem(
        import_rates(&app, "json", None, old).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        import_rates(&app, "ecb_csv", None, "Day, USD\n").await,
        422,
        "validation_failed",
    )
    .await;

    let latest: Value = json_of(
        get(&app, &admin, "/api/v1/platform/fx-rates/latest").await,
        200,
    )
    .await;
    let rows = latest.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let gbp = rows.iter().find(|r| r["quote"] == "GBP").unwrap();
    assert_eq!(
        (gbp["source"].as_str(), gbp["stale"].as_bool()),
        (Some("old-feed"), Some(true))
    );
    let jpy = rows.iter().find(|r| r["quote"] == "JPY").unwrap();
    assert_eq!(
        (jpy["rate"].as_str(), jpy["stale"].as_bool()),
        (Some("157.5"), Some(false))
    );
    assert_eq!(jpy["age_secs"], 12 * 3600);

    // History: newest first, in pages.
    let page = json_of(
        get(&app, &admin, "/api/v1/platform/fx-rates?limit=2").await,
        200,
    )
    .await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    let before = page["next_before"].as_str().unwrap();
    let rest = json_of(
        get(
            &app,
            &admin,
            &format!("/api/v1/platform/fx-rates?limit=2&before={before}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["next_before"], Value::Null);
    assert_eq!(rest["data"][1]["quote"], "GBP");
    let jpy_only = json_of(
        get(&app, &admin, "/api/v1/platform/fx-rates?quote=jpy").await,
        200,
    )
    .await;
    assert_eq!(jpy_only["data"].as_array().map(Vec::len), Some(1));
    assert!(
        jpy_only["data"][0]["imported_by"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    assert_problem(
        get(&app, &admin, "/api/v1/platform/fx-rates?limit=0").await,
        422,
        "validation_failed",
    )
    .await;

    // A store's key is not a platform admin.
    let store = app.create_store("Shop", "USD").await;
    let response = app
        .client
        .post(app.url("/api/v1/platform/fx-rates/imports"))
        .bearer_auth(&store.sandbox_key)
        .json(&json!({"format": "ecb_csv", "data": daily}))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(response.status().as_u16(), 401 | 403),
        "{}",
        response.status()
    );
    let response = get(&app, &store.sandbox_key, "/api/v1/platform/fx-rates").await;
    assert!(
        matches!(response.status().as_u16(), 401 | 403),
        "{}",
        response.status()
    );
}

async fn a_store_sets_its_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = &store.sandbox_key;
    let default = json_of(get(&app, key, "/api/v1/admin/fx-policy").await, 200).await;
    assert_eq!(default["configured"], false);
    assert_eq!(default["max_rate_age_secs"], 4 * 24 * 3600);
    let put = |body: Value| {
        send(
            &app,
            reqwest::Method::PUT,
            key,
            "/api/v1/admin/fx-policy",
            body,
        )
    };
    let stored = json_of(
        put(json!({"settlement_currency": "usd",
        "presentment_currencies": ["JPY", "kwd", "JPY", "USD"], "markup_bps": 150,
        "rounding": "half_even"}))
        .await,
        200,
    )
    .await;
    assert_eq!(stored["settlement_currency"], "USD");
    assert_eq!(stored["presentment_currencies"], json!(["JPY", "KWD"]));
    assert_eq!(
        (stored["markup_bps"].as_i64(), stored["rounding"].as_str()),
        (Some(150), Some("half_even"))
    );
    for bad in [
        json!({"settlement_currency": "XYZ"}),
        json!({"settlement_currency": "USD", "presentment_currencies": ["XX"]}),
        json!({"settlement_currency": "USD", "markup_bps": 5001}),
        json!({"settlement_currency": "USD", "max_rate_age_secs": 1}),
    ] {
        assert_problem(put(bad).await, 422, "validation_failed").await;
    }
    assert_problem(
        put(json!({"settlement_currency": "USD", "rounding": "sideways"})).await,
        422,
        "invalid_body",
    )
    .await;
    // Production's policy is another policy.
    let owner = app.create_owner(&store, "owner@fx.example").await;
    let live = app.create_live_key(&store, &owner).await;
    let production = json_of(get(&app, &live, "/api/v1/admin/fx-policy").await, 200).await;
    assert_eq!(production["configured"], false);
}

both_backends!(
    platform_admins_import_and_read_rates,
    a_store_sets_its_policy
);
