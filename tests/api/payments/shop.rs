//! The payment tests' shop: a store with checkout configured, a customer, and helpers to quote,
//! authorize, operate on intents and check the ledger invariants against the PSP.

use std::time::Duration;

use cassa::{
    credentials::{self, Credentials},
    types::{Environment, StoreId},
};
use cassa_tests::{Backend, SpawnOptions, TestApp, TestStore, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

/// Tee 2 × 1999 + snack 1190 (inclusive, untaxed) + shipping 500 + tax 330.
pub(crate) const TOTAL: i64 = 6018;

pub struct Shop {
    pub app: TestApp,
    pub store: TestStore,
    pub token: String,
}

pub(crate) async fn shop(backend: Backend) -> Shop {
    // Generous: under a loaded CI machine only `pm_card_timeout` should time out.
    shop_with_timeout(backend, Duration::from_secs(5)).await
}

/// The race tests load two cores with dozens of requests: a generous provider timeout keeps
/// their outcomes known (an unknown one would hold its reservation, which is correct but
/// makes the expected counts vary).
pub async fn shop_with_timeout(backend: Backend, timeout: Duration) -> Shop {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| {
                // Webhooks from the PSP are stored but not processed here: these tests pin
                // down the API's own path (tests/api/webhooks.rs covers the other).
                c.webhook_workers = 0;
                c.provider_timeout = timeout;
                c.sandbox_psp_timeout_delay = Duration::from_millis(1500);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    Shop { app, store, token }
}

impl Shop {
    pub(crate) async fn post(
        &self,
        token: &str,
        path: &str,
        key: &str,
        body: Value,
    ) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A new order and a fresh snapshot of it: (order id, snapshot id).
    pub async fn quoted_order(&self) -> (String, String) {
        self.quoted_order_in(&self.store, &self.token).await
    }

    /// A new order of another store's customer and a fresh snapshot of it.
    pub async fn quoted_order_in(&self, store: &TestStore, token: &str) -> (String, String) {
        let order = crate::checkout::order_for(&self.app, store, token, "US", "CA").await;
        let order_id = order["id"].as_str().unwrap().to_owned();
        let snapshot = self.quote_in(token, &order_id).await;
        (order_id, snapshot)
    }

    /// A fresh snapshot of an existing order: (order id, snapshot id).
    pub async fn quoted_order_of(&self, order: &str) -> (String, String) {
        (order.to_owned(), self.quote_in(&self.token, order).await)
    }

    async fn quote_in(&self, token: &str, order_id: &str) -> String {
        let quote: Value = self
            .post(
                token,
                "/api/v1/me/checkout/quote",
                &Uuid::now_v7().to_string(),
                json!({"order_id": order_id}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(quote["totals"]["total"], TOTAL);
        quote["snapshot_id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn authorize_with(
        &self,
        order: &str,
        snapshot: &str,
        method: &str,
        key: &str,
    ) -> reqwest::Response {
        self.post(
            &self.token,
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            key,
            json!({"snapshot_id": snapshot, "payment_method": method}),
        )
        .await
    }

    /// An authorized intent of a new order: (order id, intent).
    pub async fn authorized(&self) -> (String, Value) {
        self.authorized_in(&self.store, &self.token).await
    }

    /// An authorized intent of a new order of another store's customer.
    pub async fn authorized_in(&self, store: &TestStore, token: &str) -> (String, Value) {
        let (order, snapshot) = self.quoted_order_in(store, token).await;
        let response = self
            .post(
                token,
                &format!("/api/v1/me/orders/{order}/payments/authorize"),
                &Uuid::now_v7().to_string(),
                json!({"snapshot_id": snapshot, "payment_method": "pm_card_visa"}),
            )
            .await;
        assert_eq!(response.status(), 201);
        (order, response.json().await.unwrap())
    }

    pub(crate) async fn op(
        &self,
        order: &str,
        intent: &Value,
        op: &str,
        body: Value,
    ) -> reqwest::Response {
        self.op_with_key(order, intent, op, body, &Uuid::now_v7().to_string())
            .await
    }

    pub(crate) async fn op_with_key(
        &self,
        order: &str,
        intent: &Value,
        op: &str,
        body: Value,
        key: &str,
    ) -> reqwest::Response {
        let path = format!(
            "/api/v1/admin/orders/{order}/payments/{}/{op}",
            intent["id"].as_str().unwrap()
        );
        self.post(&self.store.sandbox_key, &path, key, body).await
    }

    pub(crate) async fn detail(&self, order: &str) -> Value {
        let response = self
            .app
            .client
            .get(
                self.app
                    .url(&format!("/api/v1/admin/orders/{order}/payments")),
            )
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub(crate) async fn scalar(&self, sql: &str, id: &str) -> i64 {
        cassa::on_db!(&self.app.db, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)
            .unwrap()
    }

    pub(crate) async fn scalar_text(&self, sql: &str) -> String {
        cassa::on_db!(&self.app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
    }

    /// The store's sandbox credentials as stored (read past the cache).
    pub(crate) async fn sandbox_secrets(&self) -> Credentials {
        credentials::load_fresh(
            &self.app.state,
            self.store_id(),
            "sandbox",
            Environment::Sandbox,
        )
        .await
        .unwrap()
        .unwrap()
    }

    /// Replaces the store's sandbox credentials.
    pub(crate) async fn put_secrets(&self, secrets: &Credentials) {
        credentials::put(
            &self.app.state,
            self.store_id(),
            Environment::Sandbox,
            secrets,
        )
        .await
        .unwrap();
    }

    fn store_id(&self) -> StoreId {
        self.store.id.parse().unwrap()
    }

    /// The same credentials with another API key and/or address.
    pub(crate) fn altered(
        secrets: &Credentials,
        api_key: Option<&str>,
        base_url: Option<&str>,
    ) -> Credentials {
        let kept = |field: &str| secrets.setting(field).map(str::to_owned);
        Credentials::new("sandbox")
            .with(
                "api_key",
                api_key.map(str::to_owned).or_else(|| kept("api_key")),
            )
            .with("webhook_secret", kept("webhook_secret"))
            .with(
                "base_url",
                base_url.map(str::to_owned).or_else(|| kept("base_url")),
            )
    }

    /// One resolver pass over everything open, whatever its age.
    pub(crate) async fn resolve(&self) -> usize {
        cassa::payments::resolve_open(&self.app.state, chrono::Duration::zero())
            .await
            .unwrap()
    }

    /// Forgets every HTTP idempotency record (as if they had expired).
    pub(crate) async fn forget_http_records(&self) {
        cassa::on_db!(&self.app.db, pool => {
            sqlx::query("DELETE FROM idempotency_keys").execute(pool).await.map(|_| ())
        })
        .unwrap();
    }

    /// The PSP's row of a payment: (status, captured, refunded, released).
    pub(crate) async fn psp_row(&self, provider_id: &str) -> (String, i64, i64, i64) {
        const SQL: &str =
            "SELECT status, captured, refunded, released FROM sandbox_psp_payments WHERE id = $1";
        cassa::on_db!(&self.app.db, pool => {
            sqlx::query_as(SQL).bind(provider_id).fetch_one(pool).await
        })
        .unwrap()
    }

    /// The PSP's own view of a payment: (status, captured, refunded).
    pub(crate) async fn psp(&self, provider_id: &str) -> (String, i64, i64) {
        const SQL: &str =
            "SELECT status, captured, refunded FROM sandbox_psp_payments WHERE id = $1";
        cassa::on_db!(&self.app.db, pool => {
            sqlx::query_as(SQL).bind(provider_id).fetch_one(pool).await
        })
        .unwrap()
    }

    /// The ledger invariants of every intent of `order`: captured within authorized, refunded
    /// within captured, each amount the sum of its succeeded transactions. Returns the order's
    /// payments.
    pub(crate) async fn ledger_invariants(&self, order: &str) -> Value {
        let detail = self.detail(order).await;
        for intent in detail["intents"].as_array().unwrap() {
            let sum = |op: &str| -> i64 {
                intent["transactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| t["operation"] == op && t["status"] == "succeeded")
                    .map(|t| t["amount"].as_i64().unwrap())
                    .sum()
            };
            let (authorized, captured, refunded) = (
                intent["authorized_amount"].as_i64().unwrap(),
                intent["captured_amount"].as_i64().unwrap(),
                intent["refunded_amount"].as_i64().unwrap(),
            );
            assert!(captured <= authorized, "{intent}");
            assert!(refunded <= captured, "{intent}");
            assert_eq!(authorized, sum("authorize"), "{intent}");
            assert_eq!(captured, sum("capture"), "{intent}");
            assert_eq!(refunded, sum("refund"), "{intent}");
            if intent["status"] == "voided" {
                assert_eq!(captured, 0);
            }
        }
        detail
    }

    /// The ledger invariants of every intent of `order`, and agreement with the PSP.
    pub async fn check_invariants(&self, order: &str) -> Value {
        let detail = self.ledger_invariants(order).await;
        for intent in detail["intents"].as_array().unwrap() {
            let (captured, refunded) = (
                intent["captured_amount"].as_i64().unwrap(),
                intent["refunded_amount"].as_i64().unwrap(),
            );
            if let Some(pid) = intent["provider_payment_id"].as_str() {
                let (status, psp_captured, psp_refunded) = self.psp(pid).await;
                assert_eq!(
                    (psp_captured, psp_refunded),
                    (captured, refunded),
                    "{intent}"
                );
                if intent["status"] == "voided" {
                    assert_eq!(status, "voided");
                }
            }
        }
        detail
    }
}

pub(crate) async fn amounts(response: reqwest::Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(code, status, "{body}");
    body
}

/// A response's status and JSON body.
pub(crate) async fn status_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}
