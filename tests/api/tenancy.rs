//! Stores, users, keys, customers and tokens: who may do what, and nothing crosses stores.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::support::assert_problem;

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn platform_admin_creates_lists_and_reads_stores(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let response = post(
        &app,
        "/api/v1/platform/stores",
        &admin,
        json!({"name": "  Acme  ", "currency": "EUR"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["store"]["name"], "Acme");
    assert_eq!(created["store"]["currency"], "EUR");
    let key = created["sandbox_secret_key"].as_str().unwrap();
    assert!(key.starts_with("sk_test_") && key.len() >= 8 + 22, "{key}");

    let store: Value = get(&app, &format!("/api/v1/platform/stores/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(store["id"], id.as_str());
    assert!(store.get("sandbox_secret_key").is_none());

    for name in ["B", "C"] {
        app.create_store(name, "USD").await;
    }
    let page: Value = get(&app, "/api/v1/platform/stores?limit=2", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    let last = page["data"][1]["id"].as_str().unwrap();
    let next: Value = get(
        &app,
        &format!("/api/v1/platform/stores?limit=2&starting_after={last}"),
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(next["data"].as_array().unwrap().len(), 1);
    assert_eq!(next["has_more"], false);
}

async fn store_input_is_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    for (body, field) in [
        (json!({"name": "A", "currency": "usd"}), "currency"),
        (json!({"name": "A", "currency": "XXX"}), "currency"),
        (json!({"name": "   ", "currency": "USD"}), "name"),
    ] {
        let response = post(&app, "/api/v1/platform/stores", &admin, body).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["field"], field);
    }
    let response = app
        .client
        .get(app.url("/api/v1/platform/stores?limit=0"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
}

async fn credentials_are_checked_and_roles_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    // No credential, a malformed one, an unknown one: 401.
    let response = app.get("/api/v1/platform/stores").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, 401, "unauthorized").await;
    for token in [
        "nonsense",
        "sk_test_unknownunknownunknownunknown",
        "ut_forged",
    ] {
        let response = get(&app, "/api/v1/admin/api-keys", token).await;
        assert_problem(response, 401, "unauthorized").await;
    }
    // A store key is valid but not a platform admin: 403.
    let response = get(&app, "/api/v1/platform/stores", &store.sandbox_key).await;
    assert_problem(response, 403, "forbidden").await;
    // A store key may not mint keys; only owners may.
    let response = post(
        &app,
        "/api/v1/admin/api-keys",
        &store.sandbox_key,
        json!({"name": "x"}),
    )
    .await;
    assert_problem(response, 403, "forbidden").await;
}

async fn owner_manages_keys_and_revoked_keys_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;

    let response = app
        .client
        .post(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(&owner)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .header("cassa-store", &store.id)
        .json(&json!({"name": "checkout"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_"));
    assert_eq!(created["environment"], "sandbox");

    // The new key works and gets its last use recorded.
    assert_eq!(
        get(&app, "/api/v1/admin/api-keys", &secret).await.status(),
        200
    );
    let listed: Value = get(&app, "/api/v1/admin/api-keys", &store.sandbox_key)
        .await
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(
        !text.contains(&secret),
        "a listing must never contain a secret"
    );
    assert!(!text.contains(&store.sandbox_key));
    let keys = listed["data"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let mine = keys.iter().find(|k| k["id"] == created["id"]).unwrap();
    assert!(mine["last_used_at"].is_string(), "{mine}");
    assert!(
        mine["display_hint"]
            .as_str()
            .unwrap()
            .starts_with("sk_test_")
    );

    // Revoke it; it is rejected from then on.
    let response = app
        .client
        .delete(app.url(&format!(
            "/api/v1/admin/api-keys/{}",
            created["id"].as_str().unwrap()
        )))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    let response = get(&app, "/api/v1/admin/api-keys", &secret).await;
    assert_problem(response, 401, "unauthorized").await;
}

async fn customers_get_tokens_that_only_work_on_me(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let response = post(
        &app,
        "/api/v1/admin/customers",
        &store.sandbox_key,
        json!({"email": " Ada@Example.com ", "name": "Ada"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let customer: Value = response.json().await.unwrap();
    assert_eq!(customer["email"], "ada@example.com");
    let id = customer["id"].as_str().unwrap();

    let response = post(
        &app,
        &format!("/api/v1/admin/customers/{id}/tokens"),
        &store.sandbox_key,
        json!({"ttl_seconds": 600}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let token: Value = response.json().await.unwrap();
    let ct = token["token"].as_str().unwrap().to_owned();
    assert!(ct.starts_with("ct_"));

    let me: Value = get(&app, "/api/v1/me", &ct).await.json().await.unwrap();
    assert_eq!(me["id"], id);
    // Customer tokens are not store credentials, and store keys are not customer tokens.
    assert_problem(
        get(&app, "/api/v1/admin/api-keys", &ct).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        get(&app, "/api/v1/me", &store.sandbox_key).await,
        403,
        "forbidden",
    )
    .await;

    // Tokens expire.
    app.clock.advance(chrono::Duration::seconds(601));
    assert_problem(get(&app, "/api/v1/me", &ct).await, 401, "unauthorized").await;
}

async fn sandbox_and_production_data_do_not_mix(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live_key = app.create_live_key(&store, &owner).await;

    let sandbox_customer: Value = post(
        &app,
        "/api/v1/admin/customers",
        &store.sandbox_key,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let live_customer: Value = post(&app, "/api/v1/admin/customers", &live_key, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live_customer["environment"], "production");
    let path = |c: &Value| format!("/api/v1/admin/customers/{}", c["id"].as_str().unwrap());
    assert_problem(
        get(&app, &path(&sandbox_customer), &live_key).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        get(&app, &path(&live_customer), &store.sandbox_key).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        get(&app, &path(&live_customer), &live_key).await.status(),
        200
    );
    // Key listings are per environment too.
    let listed: Value = get(&app, "/api/v1/admin/api-keys", &live_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

async fn user_tokens_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    assert_eq!(
        get(&app, "/api/v1/platform/stores", &admin).await.status(),
        200
    );
    app.clock.advance(chrono::Duration::minutes(61));
    assert_problem(
        get(&app, "/api/v1/platform/stores", &admin).await,
        401,
        "unauthorized",
    )
    .await;
}

both_backends!(
    platform_admin_creates_lists_and_reads_stores,
    store_input_is_validated,
    credentials_are_checked_and_roles_enforced,
    owner_manages_keys_and_revoked_keys_stop_working,
    customers_get_tokens_that_only_work_on_me,
    sandbox_and_production_data_do_not_mix,
    user_tokens_expire,
);

async fn housekeeping_purges_expired_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let customer: Value = post(
        &app,
        "/api/v1/admin/customers",
        &store.sandbox_key,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let path = format!(
        "/api/v1/admin/customers/{}/tokens",
        customer["id"].as_str().unwrap()
    );
    let token: Value = post(&app, &path, &store.sandbox_key, json!({"ttl_seconds": 60}))
        .await
        .json()
        .await
        .unwrap();
    let ct = token["token"].as_str().unwrap();

    let purged = cassa::jobs::purge_expired(&app.state).await.unwrap();
    assert_eq!(purged.customer_tokens, 0, "nothing has expired yet");
    assert_eq!(get(&app, "/api/v1/me", ct).await.status(), 200);

    app.clock.advance(chrono::Duration::minutes(61));
    let purged = cassa::jobs::purge_expired(&app.state).await.unwrap();
    assert_eq!(purged.customer_tokens, 1);
    // The admin token from `create_store` (1 h) is gone too.
    assert!(purged.user_tokens >= 1);
}

both_backends!(housekeeping_purges_expired_tokens);
