//! Issue #21, team management: owners add members through `POST /api/v1/admin/members` (a new
//! account's one-time password answered once, replayed sealed) and manage the team from the
//! console's Settings → Team, under the same `policy::manage_members` as the API.

mod api;
mod console;

use cassa_tests::{TestApp, TestStore};
use serde_json::{Value, json};

pub const MEMBERS: &str = "/api/v1/admin/members";
pub const STAFF_PASSWORD: &str = "staff-password-123";
/// `TestApp::create_owner`'s password.
pub const OWNER_PASSWORD: &str = "owner-password-123";

/// Adds `email` to `store` as the platform admin, with a known password; the user id.
pub async fn platform_member(app: &TestApp, store: &TestStore, email: &str, role: &str) -> String {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/platform/stores/{}/users", store.id)))
        .bearer_auth(&admin)
        .json(&json!({"email": email, "role": role, "password": STAFF_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["user_id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/admin/members` as `token` (a console user's, naming `store`, or a key's),
/// with the Idempotency-Key `key` when given.
pub async fn add(
    app: &TestApp,
    token: &str,
    store: &str,
    key: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(MEMBERS))
        .bearer_auth(token)
        .header("cassa-store", store)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

/// How many accounts have `email`.
pub async fn accounts(app: &TestApp, email: &str) -> i64 {
    cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

/// How many members `store` has.
pub async fn members_of(app: &TestApp, store: &TestStore) -> i64 {
    let id: cassa::types::StoreId = store.id.parse().unwrap();
    cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM store_memberships WHERE store_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}
