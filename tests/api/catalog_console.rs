//! The console's Catalogue page through its server functions: prices typed in major units
//! (refused beside the field when the currency cannot hold them), the service's refusals per
//! field, archiving only once confirmed, and the API's roles and isolation (staff read
//! production's catalogue; another store's or environment's product is not found).

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::{
    support::{console_answer as answer, console_fn, console_sign_in},
    webhook_endpoints::{Caller, STAFF_PASSWORD, call, member},
};

async fn refusal(response: reqwest::Response) -> String {
    assert!(!response.status().is_success());
    response.text().await.unwrap()
}

async fn page(app: &TestApp, cookie: &str, query: &[(&str, &str)]) -> Value {
    answer(console_fn(app, "catalogue_page", query, Some(cookie)).await).await
}

const MUG: [(&str, &str); 5] = [
    ("name", "Mug"),
    ("sku", "MUG-1"),
    ("price", "12.34"),
    ("weight_grams", "350"),
    ("height_mm", "95"),
];

async fn the_page_reads_and_writes_major_units_under_the_apis_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let foreign = call(
        &app,
        &Caller::key(&other.sandbox_key),
        reqwest::Method::POST,
        "/api/v1/admin/products",
        Some(json!({"sku": "X", "name": "X", "unit_amount": 1, "currency": "USD"})),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;

    // Empty, in sandbox where staff manage the catalogue.
    let empty = page(&app, &cookie, &[]).await;
    assert_eq!(empty["can_manage"], true);
    assert_eq!(empty["store_currency"], "USD");
    assert_eq!(empty["products"].as_array().unwrap().len(), 0);

    // 12.345 USD cannot be charged: refused beside the price, nothing stored.
    let mut form = MUG.to_vec();
    form[2] = ("price", "12.345");
    form[3] = ("weight_grams", "heavy");
    let refused = answer(console_fn(&app, "create_product", &form, Some(&cookie)).await).await;
    let fields: Vec<&str> = refused["Refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["price", "weight_grams"], "{refused}");
    assert_eq!(
        refused["Refused"][0]["message"],
        "USD amounts have 2 decimal place(s)"
    );
    assert_eq!(page(&app, &cookie, &[]).await["products"], json!([]));

    let saved = answer(console_fn(&app, "create_product", &MUG, Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Added Mug (MUG-1).");
    let listed = page(&app, &cookie, &[]).await;
    let mug = &listed["products"][0];
    assert_eq!(mug["price"], "$12.34 USD");
    assert_eq!(mug["price_input"], "12.34");
    assert_eq!(mug["weight_grams"], 350);
    assert_eq!(mug["dimensions_mm"], json!([0, 0, 95]));
    let id = mug["id"].as_str().unwrap().to_owned();
    // Through the API: minor units.
    let api = call(
        &app,
        &Caller::key(&store.sandbox_key),
        reqwest::Method::GET,
        &format!("/api/v1/admin/products/{id}"),
        None,
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(api["unit_amount"], 1234);

    // The service's refusals come back per field too: a taken SKU, a dimension out of range.
    answer(
        console_fn(
            &app,
            "create_product",
            &[("name", "Cup"), ("sku", "CUP"), ("price", "3")],
            Some(&cookie),
        )
        .await,
    )
    .await;
    let mut edit = vec![("product_id", id.as_str())];
    edit.extend(MUG);
    edit[2] = ("sku", "CUP");
    let taken = answer(console_fn(&app, "update_product", &edit, Some(&cookie)).await).await;
    assert_eq!(taken["Refused"][0]["field"], "sku", "{taken}");
    edit[2] = ("sku", "MUG-1");
    edit.push(("length_mm", "20000"));
    let long = answer(console_fn(&app, "update_product", &edit, Some(&cookie)).await).await;
    assert_eq!(long["Refused"][0]["field"], "length_mm", "{long}");
    edit.pop();
    edit[3] = ("price", "15.5");
    let saved = answer(console_fn(&app, "update_product", &edit, Some(&cookie)).await).await;
    assert_eq!(saved["Saved"], "Saved Mug (MUG-1).");
    let opened = page(&app, &cookie, &[("edit", &id)]).await;
    assert_eq!(opened["editing"]["price"], "$15.50 USD");

    // Archiving needs its confirmation; then the product is hidden unless asked for.
    let unconfirmed = refusal(
        console_fn(
            &app,
            "set_product_archived",
            &[("product_id", &id), ("archived", "true")],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert!(unconfirmed.contains("confirmation"), "{unconfirmed}");
    let archived = console_fn(
        &app,
        "set_product_archived",
        &[
            ("product_id", &id),
            ("archived", "true"),
            ("confirm", "yes"),
        ],
        Some(&cookie),
    )
    .await;
    assert!(archived.status().is_success() || archived.status().is_redirection());
    let skus = |page: &Value| -> Vec<String> {
        page["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(skus(&page(&app, &cookie, &[]).await), ["CUP"]);
    let shown = page(&app, &cookie, &[("archived", "true"), ("q", "mug")]).await;
    assert_eq!(skus(&shown), ["MUG-1"]);
    assert!(shown["products"][0]["archived_at"]["text"].is_string());
    let refused = page(&app, &cookie, &[("archived", "maybe")]).await;
    assert_eq!(refused["filter_error"]["field"], "archived");

    // Another store's product is not found, to read or to change.
    let opened = page(&app, &cookie, &[("edit", &foreign)]).await;
    assert_eq!(opened["editing"], Value::Null);
    assert!(
        opened["editing_error"]
            .as_str()
            .unwrap()
            .contains("No such product")
    );
    let text = refusal(
        console_fn(
            &app,
            "set_product_archived",
            &[("product_id", &foreign), ("archived", "false")],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert!(text.contains("No such product"), "{text}");

    // Production: staff read, and are refused changes as the API refuses them; the sandbox
    // product is not production's.
    let selected = console_fn(
        &app,
        "select",
        &[("store_id", &store.id), ("environment", "production")],
        Some(&cookie),
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let production = page(&app, &cookie, &[("edit", &id)]).await;
    assert_eq!(production["can_manage"], false);
    assert_eq!(production["products"], json!([]));
    assert_eq!(production["editing"], Value::Null);
    let text = refusal(console_fn(&app, "create_product", &MUG, Some(&cookie)).await).await;
    assert!(text.contains("not allowed"), "{text}");
}

both_backends!(the_page_reads_and_writes_major_units_under_the_apis_rules);
