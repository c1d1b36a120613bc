//! A client's side of the HTTP API (the simulation's and the crash harness's): a store set up for payments by the simulated
//! provider, orders and quotes, and requests whose answers are kept per Idempotency-Key.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use uuid::Uuid;

/// An answer as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub status: u16,
    pub body: String,
    /// The server said it replayed a stored answer.
    pub replayed: bool,
}

impl Answered {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The problem code of an error answer, or the status of a payment's view.
    pub fn gist(&self) -> String {
        let body = self.json();
        let what = body["code"]
            .as_str()
            .or_else(|| body["status"].as_str())
            .unwrap_or("-");
        format!("{} {what}", self.status)
    }
}

/// A store of the simulation: its secret key and one customer.
#[derive(Clone, Debug)]
pub struct Store {
    pub id: String,
    pub key: String,
    pub customer: String,
    pub product: String,
}

/// The HTTP client of the simulation, without the test client's 30-second budget: a call the
/// provider holds waits for the driver however long the machine takes.
#[derive(Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
    /// Requests sent so far (by every clone).
    sent: Arc<AtomicU64>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(3600))
            .pool_max_idle_per_host(16)
            .build()
            .expect("http client");
        Api {
            base: base.to_owned(),
            client,
            sent: Arc::default(),
        }
    }

    /// Requests sent so far through this client and its clones.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends a request; a transport failure is a 599 so the caller records it like any answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Answered {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let replayed = response.headers().contains_key("idempotent-replayed");
                let body = response.text().await.unwrap_or_default();
                Answered {
                    status,
                    body,
                    replayed,
                }
            }
            Err(err) => Answered {
                status: 599,
                body: err.to_string(),
                replayed: false,
            },
        }
    }

    /// Delivers a signed Standard Webhooks event.
    pub async fn send_webhook(
        &self,
        path: &str,
        id: &str,
        timestamp: i64,
        signature: &str,
        body: String,
    ) -> Answered {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) => Answered {
                status: response.status().as_u16(),
                replayed: false,
                body: response.text().await.unwrap_or_default(),
            },
            Err(err) => Answered {
                status: 599,
                body: err.to_string(),
                replayed: false,
            },
        }
    }

    async fn must(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
        want: u16,
    ) -> Value {
        let key = Uuid::now_v7().to_string();
        let answer = self
            .send(method, path, token, Some(&key), Some(&body))
            .await;
        assert_eq!(answer.status, want, "{path}: {}", answer.body);
        answer.json()
    }

    /// A bearer token for a console user.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let body = json!({"email": email, "password": password});
        let answer = self
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/token",
                "",
                None,
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 201, "sign-in: {}", answer.body);
        answer.json()["token"].as_str().expect("token").to_owned()
    }

    /// A new store (whose sandbox credentials are the simulated provider's, its registry's
    /// default), shipping to the US, with one product and one customer.
    pub async fn store(&self, admin: &str) -> Store {
        use reqwest::Method;
        let store = self
            .must(
                Method::POST,
                "/api/v1/platform/stores",
                admin,
                json!({"name": "Simulated shop", "currency": "USD"}),
                201,
            )
            .await;
        let id = store["id"].as_str().expect("store id").to_owned();
        let key = store["sandbox_secret_key"]
            .as_str()
            .expect("key")
            .to_owned();
        let rates = json!({"rates": [
            {"service": "standard", "country": "US", "max_weight_grams": 100000,
             "amount": 500, "currency": "USD"},
        ]});
        self.must(
            Method::PUT,
            "/api/v1/admin/shipping/rates",
            &key,
            rates,
            200,
        )
        .await;
        let product = self
            .must(
                Method::POST,
                "/api/v1/admin/products",
                &key,
                json!({"sku": "SIM-1", "name": "Widget", "unit_amount": 1999,
                    "currency": "USD", "weight_grams": 200}),
                201,
            )
            .await;
        let customer = self
            .must(
                Method::POST,
                "/api/v1/admin/customers",
                &key,
                json!({"name": "Simulated customer"}),
                201,
            )
            .await;
        let customer_id = customer["id"].as_str().expect("customer id");
        let token = self
            .must(
                Method::POST,
                &format!("/api/v1/admin/customers/{customer_id}/tokens"),
                &key,
                // The longest: a seed moves the clock hours ahead, and the housekeeping job
                // purges tokens expired by it.
                json!({"ttl_seconds": 86_400}),
                201,
            )
            .await;
        Store {
            id,
            key,
            customer: token["token"].as_str().expect("token").to_owned(),
            product: product["id"].as_str().expect("product id").to_owned(),
        }
    }

    /// A new order of `quantity` widgets: its id.
    pub async fn order(&self, store: &Store, quantity: i64) -> String {
        let body = json!({
            "items": [{"product_id": store.product, "quantity": quantity}],
            "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town",
                "subdivision": "CA", "postal_code": "90001", "country": "US"},
        });
        let order = self
            .must(
                reqwest::Method::POST,
                "/api/v1/me/orders",
                &store.customer,
                body,
                201,
            )
            .await;
        order["id"].as_str().expect("order id").to_owned()
    }

    /// A fresh snapshot of an order: its id and total (`None`: the order is paid).
    pub async fn quote(&self, store: &Store, order: &str) -> Option<(String, i64)> {
        let key = Uuid::now_v7().to_string();
        let answer = self
            .send(
                reqwest::Method::POST,
                "/api/v1/me/checkout/quote",
                &store.customer,
                Some(&key),
                Some(&json!({"order_id": order})),
            )
            .await;
        if answer.status == 409 {
            return None;
        }
        assert_eq!(answer.status, 201, "quote: {}", answer.body);
        let quote = answer.json();
        Some((
            quote["snapshot_id"].as_str().expect("snapshot").to_owned(),
            quote["totals"]["total"].as_i64().expect("total"),
        ))
    }

    /// The order's payments as the merchant sees them.
    pub async fn payments(&self, store: &Store, order: &str) -> Value {
        let answer = self
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/admin/orders/{order}/payments"),
                &store.key,
                None,
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "payments of {order}: {}", answer.body);
        answer.json()
    }
}
