//! The harness's API client and the seeding of a store, its customers and orders.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use uuid::Uuid;

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, WEBHOOK_SECRET};

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let response = r.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{path}: {status} {value}"))
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Result<Value, String> {
        let key = Uuid::now_v7().to_string();
        self.send(reqwest::Method::POST, path, token, Some(&key), Some(&body))
            .await
    }
}

pub struct Seeded {
    pub key: String,
    pub store_id: String,
    pub tokens: Vec<String>,
    pub orders: Mutex<Vec<(String, usize)>>,
}

pub async fn seed(api: &Api, orders: usize, concurrency: usize) -> Result<Arc<Seeded>, String> {
    let login: Value = api
        .http
        .post(format!("{}/api/v1/auth/token", api.base))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let admin = login["token"].as_str().ok_or("no admin token")?.to_owned();
    let store = api
        .post(
            "/api/v1/platform/stores",
            &admin,
            json!({"name": "Bench", "currency": "USD"}),
        )
        .await?;
    let key = store["sandbox_secret_key"]
        .as_str()
        .ok_or("no store key")?
        .to_owned();
    let store_id = store["id"].as_str().ok_or("no store id")?.to_owned();
    api.send(
        reqwest::Method::PUT,
        "/api/v1/admin/credentials/sandbox/sandbox",
        &key,
        Some(&Uuid::now_v7().to_string()),
        Some(&json!({"api_key": format!("sbx_bench_{}", Uuid::now_v7().simple()), "webhook_secret": WEBHOOK_SECRET})),
    )
    .await?;
    api.send(reqwest::Method::PUT, "/api/v1/admin/shipping/rates", &key, Some(&Uuid::now_v7().to_string()),
        Some(&json!({"rates": [{"service": "standard", "country": "US", "max_weight_grams": 100000, "amount": 500, "currency": "USD"}]}))).await?;
    api.send(reqwest::Method::PUT, "/api/v1/admin/tax/rates", &key, Some(&Uuid::now_v7().to_string()),
        Some(&json!({"rules": [{"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0825"}]}))).await?;
    api.send(
        reqwest::Method::PUT,
        "/api/v1/admin/tax/nexus",
        &key,
        Some(&Uuid::now_v7().to_string()),
        Some(&json!({"nexus": [{"country": "US", "subdivision": "CA", "since": "2020-01-01"}]})),
    )
    .await?;
    let product = api
        .post("/api/v1/admin/products", &key, json!({"sku": "BENCH-1", "name": "Bench item", "unit_amount": 2500, "currency": "USD", "weight_grams": 300}))
        .await?;
    let mut tokens = Vec::new();
    for i in 0..concurrency.max(1) {
        let c = api
            .post(
                "/api/v1/admin/customers",
                &key,
                json!({"name": format!("Customer {i}")}),
            )
            .await?;
        let id = c["id"].as_str().ok_or("no customer id")?;
        let t = api
            .post(
                &format!("/api/v1/admin/customers/{id}/tokens"),
                &key,
                json!({}),
            )
            .await?;
        tokens.push(t["token"].as_str().ok_or("no token")?.to_owned());
    }
    let seeded = Arc::new(Seeded {
        key,
        store_id,
        tokens,
        orders: Mutex::new(Vec::new()),
    });
    // Orders are placed before the clock starts: a payment is quote + authorize + capture.
    let per = orders.div_ceil(concurrency.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency.max(1) {
        let api = Api {
            http: api.http.clone(),
            base: api.base.clone(),
        };
        let seeded = seeded.clone();
        let product = product["id"].clone();
        tasks.spawn(async move {
            let token = seeded.tokens[w].clone();
            let mut mine = Vec::new();
            for _ in 0..per {
                let order = api.post("/api/v1/me/orders", &token, json!({
                    "items": [{"product_id": product, "quantity": 1}],
                    "shipping_address": {"name": "Bench", "line1": "1 Main St", "city": "Town",
                        "subdivision": "CA", "postal_code": "90001", "country": "US"},
                })).await?;
                mine.push((order["id"].as_str().unwrap_or_default().to_owned(), w));
            }
            if let Ok(mut all) = seeded.orders.lock() {
                all.extend(mine);
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(seeded)
}
