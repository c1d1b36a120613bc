//! Settings → Shipping rates and Settings → Tax rates through the console's server functions:
//! prices in major units and rates in percent, every refusal named by row and field (and the
//! rows sent kept), removed and blank rows left out, and the API's roles: staff change sandbox's
//! tables, only owners production's, through the console and the API alike.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::{
    support::{console_answer as answer, console_fn, console_sign_in},
    webhook_endpoints::{Caller, STAFF_PASSWORD, call, member},
};

/// A rate table as the API answers it to the store's key.
async fn api_table(app: &TestApp, key: &str, path: &str) -> Value {
    call(app, &Caller::key(key), reqwest::Method::GET, path, None)
        .await
        .json()
        .await
        .unwrap()
}

/// The row of `list` whose `key` is `value` (tables come back in the store's order).
fn row<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {list}"))
}

fn fields(refused: &Value) -> Vec<String> {
    refused["Refused"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("not refused: {refused}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn select_production(app: &TestApp, cookie: &str, store: &str) {
    let selected = console_fn(
        app,
        "select",
        &[("store_id", store), ("environment", "production")],
        Some(cookie),
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
}

async fn shipping_rows_are_read_in_major_units_and_refused_by_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;

    let empty = answer(console_fn(&app, "shipping_rates", &[], Some(&cookie)).await).await;
    assert_eq!(empty["rows"], json!([]));
    assert_eq!(empty["can_edit"], true);
    assert_eq!(empty["store_currency"], "USD");

    // Row 1 is blank (left out), so the refused rows are numbered as sent back: the bad price
    // and country are row 1 of the answer.
    let form = [
        ("rows[0][service]", "standard"),
        ("rows[0][country]", "*"),
        ("rows[0][max_weight_grams]", "5000"),
        ("rows[0][price]", "4.90"),
        ("rows[0][currency]", ""),
        ("rows[1][service]", ""),
        ("rows[1][country]", ""),
        ("rows[1][max_weight_grams]", ""),
        ("rows[1][price]", ""),
        ("rows[2][service]", "express"),
        ("rows[2][country]", "Narnia"),
        ("rows[2][max_weight_grams]", "1000"),
        ("rows[2][price]", "12.345"),
    ];
    let refused = answer(console_fn(&app, "save_shipping_rates", &form, Some(&cookie)).await).await;
    assert_eq!(fields(&refused), ["rows[1].price"], "{refused}");
    assert_eq!(refused["Refused"]["rows"][1]["price"], "12.345");
    assert_eq!(refused["Refused"]["rows"].as_array().unwrap().len(), 2);

    // With the price fixed, the service refuses the country, named as the form's input.
    let mut fixed = form.to_vec();
    fixed[12] = ("rows[2][price]", "12.50");
    let refused =
        answer(console_fn(&app, "save_shipping_rates", &fixed, Some(&cookie)).await).await;
    assert_eq!(fields(&refused), ["rows[1].country"], "{refused}");
    let stored = answer(console_fn(&app, "shipping_rates", &[], Some(&cookie)).await).await;
    assert_eq!(
        stored["rows"],
        json!([]),
        "nothing stored while a row is refused"
    );

    fixed[10] = ("rows[2][country]", "de");
    let saved = answer(console_fn(&app, "save_shipping_rates", &fixed, Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Saved 2 shipping rates for sandbox.");
    let api = api_table(&app, &store.sandbox_key, "/api/v1/admin/shipping/rates").await;
    let standard = row(&api["rates"], "service", "standard");
    assert_eq!(standard["amount"], 490);
    assert_eq!(standard["currency"], "USD");
    let express = row(&api["rates"], "service", "express");
    assert_eq!(express["amount"], 1250);
    assert_eq!(express["country"], "DE");
    let shown = answer(console_fn(&app, "shipping_rates", &[], Some(&cookie)).await).await;
    assert_eq!(row(&shown["rows"], "service", "standard")["price"], "4.90");

    // A ticked remove box drops the row; an empty form clears the table.
    let removed = [
        ("rows[0][service]", "standard"),
        ("rows[0][country]", "*"),
        ("rows[0][max_weight_grams]", "5000"),
        ("rows[0][price]", "4.90"),
        ("rows[0][remove]", "on"),
        ("rows[1][service]", "express"),
        ("rows[1][country]", "DE"),
        ("rows[1][max_weight_grams]", "1000"),
        ("rows[1][price]", "12.50"),
    ];
    let saved =
        answer(console_fn(&app, "save_shipping_rates", &removed, Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Saved 1 shipping rates for sandbox.");
    let saved = answer(console_fn(&app, "save_shipping_rates", &[], Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Saved 0 shipping rates for sandbox.");
}

async fn tax_rows_are_read_in_percent_and_refused_by_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;
    let mut form = vec![
        ("rows[0][country]", "US"),
        ("rows[0][subdivision]", "CA"),
        ("rows[0][tax_code]", "*"),
        ("rows[0][rate_percent]", "7.25"),
        ("rows[0][shipping_taxable]", "on"),
        ("rows[0][valid_from]", "2026-01-01"),
        ("rows[1][country]", "US"),
        ("rows[1][subdivision]", "CA"),
        ("rows[1][county]", "Los Angeles"),
        ("rows[1][postal_codes]", ""),
        ("rows[1][tax_code]", "*"),
        ("rows[1][rate_percent]", "150"),
        ("rows[1][valid_to]", "31/12/2026"),
    ];
    let refused = answer(console_fn(&app, "save_tax_rates", &form, Some(&cookie)).await).await;
    assert_eq!(
        fields(&refused),
        ["rows[1].rate_percent", "rows[1].valid_to"],
        "{refused}"
    );
    form[11] = ("rows[1][rate_percent]", "2.25");
    form[12] = ("rows[1][valid_to]", "");
    // The service's own rule: a county lists its postal codes.
    let refused = answer(console_fn(&app, "save_tax_rates", &form, Some(&cookie)).await).await;
    assert_eq!(fields(&refused), ["rows[1].postal_codes"], "{refused}");
    form[9] = ("rows[1][postal_codes]", "900*, 91001");
    let saved = answer(console_fn(&app, "save_tax_rates", &form, Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Saved 2 tax rates for sandbox.");

    let api = api_table(&app, &store.sandbox_key, "/api/v1/admin/tax/rates").await;
    let state = row(&api["rules"], "rate", "0.0725");
    assert_eq!(state["shipping_taxable"], true);
    let county = row(&api["rules"], "rate", "0.0225");
    assert_eq!(county["postal_codes"], json!(["900*", "91001"]));
    let shown = answer(console_fn(&app, "tax_rates", &[], Some(&cookie)).await).await;
    let state = row(&shown["rows"], "rate_percent", "7.25");
    assert_eq!(state["shipping_taxable"], "on");
    assert_eq!(state["valid_from"], "2026-01-01");
    assert_eq!(
        row(&shown["rows"], "rate_percent", "2.25")["county"],
        "LOS ANGELES"
    );

    // Two rates of one jurisdiction and code on the same days: the later row is named.
    let overlapping = [
        ("rows[0][country]", "DE"),
        ("rows[0][tax_code]", "*"),
        ("rows[0][rate_percent]", "19"),
        ("rows[1][country]", "DE"),
        ("rows[1][tax_code]", "*"),
        ("rows[1][rate_percent]", "7"),
    ];
    let refused =
        answer(console_fn(&app, "save_tax_rates", &overlapping, Some(&cookie)).await).await;
    assert_eq!(fields(&refused), ["rows[1].valid_from"], "{refused}");
}

async fn staff_change_sandbox_rates_and_only_owners_production(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let staff = member(&app, &store, "staff@shop.test", "staff").await;
    let owner = member(&app, &store, "owner@shop.test", "owner").await;
    let rate = json!({"rates": [{"service": "standard", "country": "*", "max_weight_grams": 5000, "amount": 490, "currency": "USD"}]});
    let rule = json!({"rules": [{"country": "US", "tax_code": "*", "rate": "0.05"}]});

    // The API: before this rule, staff could replace production's shipping prices.
    for (caller, status) in [
        (Caller::user(&staff, &store, "production"), 403),
        (Caller::user(&staff, &store, "sandbox"), 200),
        (Caller::user(&owner, &store, "production"), 200),
    ] {
        let response = call(
            &app,
            &caller,
            reqwest::Method::PUT,
            "/api/v1/admin/shipping/rates",
            Some(rate.clone()),
        )
        .await;
        assert_eq!(response.status(), status, "{:?}", caller.scope);
        let response = call(
            &app,
            &caller,
            reqwest::Method::PUT,
            "/api/v1/admin/tax/rates",
            Some(rule.clone()),
        )
        .await;
        assert_eq!(response.status(), status, "{:?}", caller.scope);
    }

    // The console: staff read production's tables and cannot save them.
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;
    select_production(&app, &cookie, &store.id).await;
    for (read, save) in [
        ("shipping_rates", "save_shipping_rates"),
        ("tax_rates", "save_tax_rates"),
    ] {
        let shown = answer(console_fn(&app, read, &[], Some(&cookie)).await).await;
        assert_eq!(shown["can_edit"], false);
        assert_eq!(shown["environment"], "production");
        assert_eq!(shown["rows"].as_array().unwrap().len(), 1, "{shown}");
        let response = console_fn(&app, save, &[], Some(&cookie)).await;
        assert!(!response.status().is_success());
        let kept = answer(console_fn(&app, read, &[], Some(&cookie)).await).await;
        assert_eq!(kept["rows"].as_array().unwrap().len(), 1, "{read}: {kept}");
    }
    let owner_cookie = console_sign_in(&app, "owner@shop.test", STAFF_PASSWORD).await;
    select_production(&app, &owner_cookie, &store.id).await;
    let shown = answer(console_fn(&app, "shipping_rates", &[], Some(&owner_cookie)).await).await;
    assert_eq!(shown["can_edit"], true);
    assert_eq!(shown["rows"][0]["price"], "4.90");
}

async fn another_stores_rates_are_not_shown_or_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "EUR").await;
    call(
        &app,
        &Caller::key(&other.sandbox_key),
        reqwest::Method::PUT,
        "/api/v1/admin/shipping/rates",
        Some(json!({"rates": [{"service": "standard", "country": "*", "max_weight_grams": 5000, "amount": 700, "currency": "EUR"}]})),
    )
    .await;
    member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;
    let shown = answer(console_fn(&app, "shipping_rates", &[], Some(&cookie)).await).await;
    assert_eq!(shown["rows"], json!([]));
    answer(console_fn(&app, "save_shipping_rates", &[], Some(&cookie)).await).await;
    let theirs = api_table(&app, &other.sandbox_key, "/api/v1/admin/shipping/rates").await;
    assert_eq!(theirs["rates"][0]["amount"], 700);
}

both_backends!(
    shipping_rows_are_read_in_major_units_and_refused_by_row,
    tax_rows_are_read_in_percent_and_refused_by_row,
    staff_change_sandbox_rates_and_only_owners_production,
    another_stores_rates_are_not_shown_or_changed,
);
