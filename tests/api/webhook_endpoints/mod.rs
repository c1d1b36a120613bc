//! Outbound webhooks: a store's endpoints (isolation, roles, idempotency, URL refusals,
//! secrets and their rotation) and the delivery of its events (signatures, retries, ordering,
//! auto-disable, concurrent workers, the delivery log).

mod console_stats;
mod crud;
mod deletion;
mod delivery;
mod log;
mod receiver;

use cassa_tests::{TestApp, TestStore};
use serde_json::Value;
use uuid::Uuid;

pub const ENDPOINTS: &str = "/api/v1/admin/webhook-endpoints";
pub const STAFF_PASSWORD: &str = "staff-password-123";

/// Who calls: a store key, or a console user's token for a store and environment.
#[derive(Clone)]
pub struct Caller {
    pub token: String,
    pub scope: Option<(String, &'static str)>,
}

impl Caller {
    pub fn key(secret: &str) -> Self {
        Self {
            token: secret.to_owned(),
            scope: None,
        }
    }

    pub fn user(token: &str, store: &TestStore, environment: &'static str) -> Self {
        Self {
            token: token.to_owned(),
            scope: Some((store.id.clone(), environment)),
        }
    }
}

/// A request with a fresh Idempotency-Key (or `key`), and a JSON body when given.
pub async fn call_with_key(
    app: &TestApp,
    caller: &Caller,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    key: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&caller.token)
        .header("idempotency-key", key);
    if let Some((store, environment)) = &caller.scope {
        request = request
            .header("cassa-store", store)
            .header("cassa-environment", *environment);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn call(
    app: &TestApp,
    caller: &Caller,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let key = Uuid::now_v7().to_string();
    call_with_key(app, caller, method, path, body, &key).await
}

/// Creates an endpoint; returns the answer (with its secret).
pub async fn create(app: &TestApp, caller: &Caller, body: Value) -> Value {
    let response = call(app, caller, reqwest::Method::POST, ENDPOINTS, Some(body)).await;
    crate::support::json_of(response, 201).await
}

/// Adds a member with [`STAFF_PASSWORD`]; returns their token.
pub async fn member(app: &TestApp, store: &TestStore, email: &str, role: &str) -> String {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/platform/stores/{}/users", store.id)))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"email": email, "role": role, "password": STAFF_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    app.user_token(email, STAFF_PASSWORD).await
}
