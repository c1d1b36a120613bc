//! Issue #21: a store's profile (name, time zone) read by its callers, changed by its owners,
//! and the console's times shown in its zone.

use cassa_tests::{Backend, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::console::{admin_session, server_fn};
use crate::support::assert_problem;

const STORE: &str = "/api/v1/admin/store";

/// A PATCH as `token`; a console user's token names the store with `Cassa-Store`.
async fn patch(
    app: &cassa_tests::TestApp,
    token: &str,
    store: &str,
    body: Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .patch(app.url(STORE))
        .bearer_auth(token)
        .header("cassa-store", store)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn owners_change_the_name_and_time_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "EUR").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;

    let read: Value = app
        .client
        .get(app.url(STORE))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["id"], store.id.as_str());
    assert_eq!(read["timezone"], "UTC");

    let key = uuid::Uuid::now_v7().to_string();
    let body = json!({"name": "Shop Berlin", "timezone": "Europe/Berlin"});
    let changed = patch(&app, &owner, &store.id, body.clone(), Some(&key)).await;
    let status = changed.status();
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Shop Berlin");
    assert_eq!(changed["timezone"], "Europe/Berlin");
    assert_eq!(changed["currency"], "USD");
    // The same key answers the same way.
    let again: Value = patch(&app, &owner, &store.id, body, Some(&key))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, changed);

    // A key is not an owner; a zone must be one; a mutation needs its key.
    let response = patch(
        &app,
        &store.sandbox_key,
        &store.id,
        json!({"timezone": "UTC"}),
        Some("k-1"),
    )
    .await;
    assert_problem(response, 403, "forbidden").await;
    let response = patch(
        &app,
        &owner,
        &store.id,
        json!({"timezone": "Mars/Olympus"}),
        Some("k-2"),
    )
    .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert!(problem.to_string().contains("timezone"), "{problem}");
    let response = patch(&app, &owner, &store.id, json!({"name": ""}), Some("k-3")).await;
    assert_problem(response, 422, "validation_failed").await;
    let response = patch(&app, &owner, &store.id, json!({"timezone": "UTC"}), None).await;
    assert_problem(response, 400, "idempotency_key_missing").await;

    // Only the caller's store changed.
    let admin = app.admin_token().await;
    let untouched: Value = app
        .client
        .get(app.url(&format!("/api/v1/platform/stores/{}", other.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(untouched["timezone"], "UTC");
    assert_eq!(untouched["name"], "Other");

    // The console shows the store's times in its zone: the test clock's noon UTC is 13:00 in
    // Berlin in January.
    let cookie = admin_session(&app).await;
    let selected = server_fn(&app, "select", &[("store_id", &store.id)], &cookie).await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let keys: Value = server_fn(&app, "api_keys", &[], &cookie)
        .await
        .json()
        .await
        .unwrap();
    let created = &keys[0]["created_at"];
    assert_eq!(created["text"], "2026-01-15 13:00 CET", "{keys}");
    assert_eq!(created["exact"], "2026-01-15T13:00:00.000+01:00", "{keys}");
    assert_eq!(created["relative"], "just now", "{keys}");
}

both_backends!(owners_change_the_name_and_time_zone);
