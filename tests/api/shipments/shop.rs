//! The shipments tests' shop: a store with the sandbox carrier's credentials and a ship-from
//! address, a customer, and the steps from an order to a label.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use cassa_tests::{Backend, SpawnOptions, TestApp, TestStore, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{json_of, send};

const SECRET_BYTES: [u8; 32] = [7; 32];

pub struct Shop {
    pub app: TestApp,
    pub store: TestStore,
    pub token: String,
    pub carrier_key: String,
}

pub fn webhook_secret() -> String {
    format!("whsec_{}", STANDARD.encode(SECRET_BYTES))
}

pub async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    send(app, reqwest::Method::POST, token, path, Some(body)).await
}

pub async fn shop_with(backend: Backend, provider_timeout: Duration) -> Shop {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| {
                c.provider_timeout = provider_timeout;
                c.sandbox_carrier_timeout_delay = Duration::from_millis(1500);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Parcels", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let carrier_key = format!("scr_{}", Uuid::now_v7().simple());
    let response = send(
        &app,
        reqwest::Method::PUT,
        &store.sandbox_key,
        "/api/v1/admin/credentials/sandbox_carrier/sandbox",
        Some(json!({"api_key": carrier_key, "webhook_secret": webhook_secret()})),
    )
    .await;
    json_of(response, 200).await;
    let settings = json!({
        "ship_from": {"name": "Parcels Inc", "line1": "500 Congress Ave", "city": "Austin",
                      "subdivision": "TX", "postal_code": "78701", "country": "US"},
    });
    let response = send(
        &app,
        reqwest::Method::PUT,
        &store.sandbox_key,
        "/api/v1/admin/shipping/settings",
        Some(settings),
    )
    .await;
    json_of(response, 200).await;
    Shop {
        app,
        store,
        token,
        carrier_key,
    }
}

pub async fn shop(backend: Backend) -> Shop {
    shop_with(backend, Duration::from_secs(5)).await
}

impl Shop {
    /// A new order of the customer (two tees and a snack) to `postal_code` in California.
    pub async fn order_to(&self, postal_code: &str) -> String {
        let product = |sku: &str, amount: i64, weight: i64| {
            json!({"sku": format!("{sku}-{}", Uuid::now_v7()), "name": sku, "unit_amount": amount,
                   "currency": "USD", "weight_grams": weight})
        };
        let tee = json_of(
            post(
                &self.app,
                &self.store.sandbox_key,
                "/api/v1/admin/products",
                product("TEE", 1999, 200),
            )
            .await,
            201,
        )
        .await;
        let snack = json_of(
            post(
                &self.app,
                &self.store.sandbox_key,
                "/api/v1/admin/products",
                product("SNACK", 1190, 100),
            )
            .await,
            201,
        )
        .await;
        let order = json_of(
            post(
                &self.app,
                &self.token,
                "/api/v1/me/orders",
                json!({
                    "items": [{"product_id": tee["id"], "quantity": 2},
                              {"product_id": snack["id"], "quantity": 1}],
                    "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town",
                        "subdivision": "CA", "postal_code": postal_code, "country": "US"},
                }),
            )
            .await,
            201,
        )
        .await;
        order["id"].as_str().unwrap().to_owned()
    }

    pub async fn rates(&self, order: &str) -> Value {
        let response = post(
            &self.app,
            &self.token,
            &format!("/api/v1/me/orders/{order}/shipping/rates"),
            json!({}),
        )
        .await;
        json_of(response, 200).await
    }

    pub fn carrier_rate<'a>(rates: &'a Value, service: &str) -> &'a Value {
        rates["rates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["provider"] == "sandbox_carrier" && r["service"] == service)
            .unwrap_or_else(|| panic!("no sandbox_carrier {service} rate in {rates}"))
    }

    /// Quotes with `rate` (or the rate table when `None`) and authorizes: the snapshot.
    pub async fn pay(&self, order: &str, rate: Option<&str>) -> Value {
        let mut quote = json!({"order_id": order});
        if let Some(rate) = rate {
            quote["shipping_rate_id"] = json!(rate);
        }
        let response = post(&self.app, &self.token, "/api/v1/me/checkout/quote", quote).await;
        let snapshot = json_of(response, 201).await;
        let response = post(
            &self.app,
            &self.token,
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            json!({"snapshot_id": snapshot["snapshot_id"], "payment_method": "pm_card_visa"}),
        )
        .await;
        json_of(response, 201).await;
        snapshot
    }

    pub async fn buy(&self, order: &str, body: Value) -> reqwest::Response {
        post(
            &self.app,
            &self.store.sandbox_key,
            &format!("/api/v1/admin/orders/{order}/shipments"),
            body,
        )
        .await
    }

    pub async fn shipment(&self, id: &str) -> Value {
        let response = self
            .app
            .client
            .get(self.app.url(&format!("/api/v1/admin/shipments/{id}")))
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap();
        json_of(response, 200).await
    }

    /// A new order to `postal_code`, paid (authorized) at the carrier's ground rate: the order
    /// and its checkout snapshot.
    pub async fn paid_order(&self, postal_code: &str) -> (String, Value) {
        let order = self.order_to(postal_code).await;
        let rates = self.rates(&order).await;
        let ground = Shop::carrier_rate(&rates, "ground").clone();
        let snapshot = self.pay(&order, ground["id"].as_str()).await;
        (order, snapshot)
    }

    /// Turns the store's capture on shipment on (the ship-from address stays).
    pub async fn capture_on_shipment(&self) {
        let settings = json!({
            "ship_from": {"name": "Parcels Inc", "line1": "500 Congress Ave", "city": "Austin",
                          "subdivision": "TX", "postal_code": "78701", "country": "US"},
            "capture_on_shipment": true,
        });
        let path = "/api/v1/admin/shipping/settings";
        let key = &self.store.sandbox_key;
        json_of(
            send(&self.app, reqwest::Method::PUT, key, path, Some(settings)).await,
            200,
        )
        .await;
    }

    /// `POST /admin/orders/{order}/shipments` under `key`.
    pub async fn buy_with_key(&self, order: &str, key: &str) -> reqwest::Response {
        self.app
            .client
            .post(
                self.app
                    .url(&format!("/api/v1/admin/orders/{order}/shipments")),
            )
            .bearer_auth(&self.store.sandbox_key)
            .header("idempotency-key", key)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
    }

    /// The order's payments (`GET /admin/orders/{order}/payments`).
    pub async fn payments(&self, order: &str) -> Value {
        let path = format!("/api/v1/admin/orders/{order}/payments");
        let response = self
            .app
            .client
            .get(self.app.url(&path))
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap();
        json_of(response, 200).await
    }

    /// The carrier's labels of the store's account.
    pub async fn carrier_labels(&self) -> Vec<Value> {
        let response = self
            .app
            .client
            .get(self.app.url("/sandbox-carrier/v1/labels?limit=100"))
            .bearer_auth(&self.carrier_key)
            .send()
            .await
            .unwrap();
        json_of(response, 200).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Moves the carrier's label of `tracking_number` one event on.
    pub async fn advance(&self, tracking_number: &str) {
        let labels = self.carrier_labels().await;
        let label = labels
            .iter()
            .find(|l| l["tracking_number"] == tracking_number)
            .expect("the carrier has the label");
        let response = self
            .app
            .client
            .post(self.app.url(&format!(
                "/sandbox-carrier/v1/labels/{}/advance",
                label["id"].as_str().unwrap()
            )))
            .bearer_auth(&self.carrier_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        json_of(response, 200).await;
    }

    /// Voids the shipment's label.
    pub async fn void(&self, id: &str) -> reqwest::Response {
        post(
            &self.app,
            &self.store.sandbox_key,
            &format!("/api/v1/admin/shipments/{id}/void"),
            json!({}),
        )
        .await
    }

    /// Waits until the shipment reaches `status` (webhooks are asynchronous).
    pub async fn wait_for(&self, id: &str, status: &str) -> Value {
        for _ in 0..100 {
            let shipment = self.shipment(id).await;
            if shipment["status"] == status {
                return shipment;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "shipment {id} never became {status}: {}",
            self.shipment(id).await
        );
    }
}
