//! `cassa demo`: seeds a demo store with products, customers and a few hundred sandbox payments
//! in varied states spread over the last 30 days, so a newcomer's console has something real.
//!
//! It runs a private instance of the server on a loopback port with a clock it moves back in
//! time, and drives the public API like a storefront and a merchant would (the sandbox PSP
//! answers over HTTP as usual). Nothing is written that the API could not have written.

use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    clock::ManualClock,
    config::Config,
    on_db,
    startup::{Application, BuildOptions},
    tenancy::stores,
};

/// Name of the seeded store; a database that has it is not seeded again.
pub const DEMO_STORE: &str = "Demo Shop";

/// What one seeded payment ends as.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    Captured,
    PartiallyCaptured,
    PartiallyRefunded,
    Refunded,
    Authorized,
    Voided,
    Declined,
    InsufficientFunds,
    Pending,
}

/// A deterministic mix: mostly successful captures, some refunds, voids and declines.
fn scenario(i: usize) -> Scenario {
    match i % 20 {
        0..=8 => Scenario::Captured,
        9 => Scenario::PartiallyCaptured,
        10 | 11 => Scenario::PartiallyRefunded,
        12 => Scenario::Refunded,
        13 | 14 => Scenario::Authorized,
        15 => Scenario::Voided,
        16 | 17 => Scenario::Declined,
        18 => Scenario::InsufficientFunds,
        _ => Scenario::Pending,
    }
}

/// Seeds the demo store into the configured database unless it is there already. Returns
/// whether it seeded.
pub async fn seed(mut config: Config, payments: usize) -> anyhow::Result<bool> {
    // A private instance: loopback, any port, a clock the seeding moves.
    config.listen_addr = ([127, 0, 0, 1], 0).into();
    let clock = ManualClock::new(Utc::now() - Duration::days(30));
    let app = Application::build_with(
        config,
        BuildOptions {
            payment_providers: None,
            carriers: None,
            clock: Some(Arc::new(clock.clone())),
            extra_api: None,
        },
    )
    .await?;
    let state = app.state().clone();
    const EXISTS: &str = "SELECT COUNT(*) FROM stores WHERE name = $1";
    let existing: i64 = on_db!(&state.db, pool => {
        sqlx::query_scalar(EXISTS).bind(DEMO_STORE).fetch_one(pool).await
    })?;
    if existing > 0 {
        tracing::info!("the demo store exists already; nothing to seed");
        state.db.close().await;
        return Ok(false);
    }
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let created = stores::create(&state, DEMO_STORE, "USD")
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo store: {e}"))?;
    let seeder = Seeder {
        http: reqwest::Client::new(),
        base,
        key: created.sandbox_secret_key,
        clock,
    };
    let result = seeder.run(payments).await;
    let _ = stop.send(());
    server.await.context("demo server task")??;
    result?;
    tracing::info!(payments, store = DEMO_STORE, "demo data seeded");
    Ok(true)
}

struct Seeder {
    http: reqwest::Client,
    base: String,
    key: String,
    clock: ManualClock,
}

impl Seeder {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("idempotency-key", uuid::Uuid::now_v7().to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.call(method, path, token, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {body}");
        }
        Ok(body)
    }

    async fn run(&self, payments: usize) -> anyhow::Result<()> {
        use reqwest::Method;
        let key = self.key.as_str();
        self.expect(Method::PUT, "/api/v1/admin/shipping/rates", key, Some(json!({"rates": [
            {"service": "standard", "country": "US", "max_weight_grams": 2000, "amount": 599, "currency": "USD"},
            {"service": "standard", "country": "US", "max_weight_grams": 20000, "amount": 1299, "currency": "USD"},
            {"service": "express", "country": "*", "max_weight_grams": 20000, "amount": 2999, "currency": "USD"},
        ]}))).await?;
        self.expect(
            Method::PUT,
            "/api/v1/admin/tax/rates",
            key,
            Some(json!({"rules": [
                // Documented fixtures (README, Tax), not legal truth: a US state + county +
                // city stack, a state that exempts groceries, an EU VAT with a reduced
                // rate, and a GST country.
                {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0725", "shipping_taxable": true},
                {"country": "US", "subdivision": "CA", "county": "Los Angeles", "postal_codes": ["900*", "901*"], "tax_code": "*", "rate": "0.0025"},
                {"country": "US", "subdivision": "CA", "city": "Los Angeles", "tax_code": "*", "rate": "0.0225"},
                {"country": "US", "subdivision": "NY", "tax_code": "*", "rate": "0.04"},
                {"country": "US", "subdivision": "NY", "tax_code": "food", "rate": "0"},
                {"country": "DE", "tax_code": "*", "rate": "0.19", "shipping_taxable": true},
                {"country": "DE", "tax_code": "food", "rate": "0.07"},
                {"country": "AU", "tax_code": "*", "rate": "0.10", "shipping_taxable": true},
            ]})),
        )
        .await?;
        self.expect(
            Method::PUT,
            "/api/v1/admin/tax/nexus",
            key,
            Some(json!({"nexus": [
                {"country": "US", "subdivision": "CA", "since": "2020-01-01"},
                {"country": "US", "subdivision": "NY", "since": "2020-01-01"},
                {"country": "DE", "since": "2020-01-01"},
            ]})),
        )
        .await?;
        let catalogue = [
            ("TEE-01", "Organic tee", 2400, "general", 180),
            ("MUG-01", "Stoneware mug", 1800, "general", 450),
            ("BAG-01", "Canvas tote", 3200, "general", 300),
            ("CAP-01", "Wool cap", 2900, "general", 120),
            ("TEA-01", "Loose-leaf tea", 1450, "food", 250),
            ("HON-01", "Wildflower honey", 1100, "food", 500),
        ];
        let mut products = Vec::new();
        for (sku, name, amount, tax_code, weight) in catalogue {
            let p = self
                .expect(
                    Method::POST,
                    "/api/v1/admin/products",
                    key,
                    Some(json!({
                        "sku": sku, "name": name, "unit_amount": amount, "currency": "USD",
                        "tax_code": tax_code, "weight_grams": weight,
                    })),
                )
                .await?;
            products.push(p["id"].clone());
        }
        let names = [
            "Ada Lovelace",
            "Alan Turing",
            "Grace Hopper",
            "Edsger Dijkstra",
            "Barbara Liskov",
            "Ken Thompson",
            "Margaret Hamilton",
            "Donald Knuth",
            "Frances Allen",
            "John Backus",
        ];
        let mut customers = Vec::new();
        for name in names {
            let c = self
                .expect(
                    Method::POST,
                    "/api/v1/admin/customers",
                    key,
                    Some(json!({"name": name})),
                )
                .await?;
            customers.push((name, c["id"].as_str().unwrap_or_default().to_owned()));
        }
        let start = crate::clock::Clock::now(&self.clock);
        for i in 0..payments {
            // Spread over 30 days, a little later each time within the day.
            let at = start
                + Duration::minutes((i as i64 * 30 * 24 * 60) / payments.max(1) as i64)
                + Duration::seconds(i as i64 % 50);
            self.clock.set(at);
            let (name, customer) = &customers[i % customers.len()];
            self.payment(i, name, customer, &products).await?;
        }
        self.clock.set(Utc::now());
        Ok(())
    }

    async fn payment(
        &self,
        i: usize,
        name: &str,
        customer: &str,
        products: &[Value],
    ) -> anyhow::Result<()> {
        use reqwest::Method;
        let key = self.key.as_str();
        let token = self
            .expect(
                Method::POST,
                &format!("/api/v1/admin/customers/{customer}/tokens"),
                key,
                Some(json!({})),
            )
            .await?;
        let token = token["token"].as_str().unwrap_or_default().to_owned();
        let items: Vec<Value> = (0..1 + i % 3)
            .map(|k| json!({"product_id": products[(i + k * 2) % products.len()], "quantity": 1 + (i + k) % 2}))
            .collect();
        let (subdivision, postal) = if i.is_multiple_of(2) {
            ("CA", "94110")
        } else {
            ("NY", "10001")
        };
        let order = self
            .expect(Method::POST, "/api/v1/me/orders", &token, Some(json!({
                "items": items,
                "shipping_address": {"name": name, "line1": format!("{} Market St", 10 + i),
                    "city": "Springfield", "subdivision": subdivision, "postal_code": postal, "country": "US"},
            })))
            .await?;
        let order_id = order["id"].as_str().unwrap_or_default().to_owned();
        let quote = self
            .expect(
                Method::POST,
                "/api/v1/me/checkout/quote",
                &token,
                Some(json!({"order_id": order_id})),
            )
            .await?;
        let total = quote["totals"]["total"].as_i64().unwrap_or(0);
        let s = scenario(i);
        let method = match s {
            Scenario::Declined => "pm_card_declined",
            Scenario::InsufficientFunds => "pm_card_insufficient_funds",
            Scenario::Pending => "pm_card_async",
            _ => "pm_card_visa",
        };
        let (status, intent) = self
            .call(
                Method::POST,
                &format!("/api/v1/me/orders/{order_id}/payments/authorize"),
                &token,
                Some(json!({"snapshot_id": quote["snapshot_id"], "payment_method": method})),
            )
            .await?;
        if status >= 300 {
            // Declines are part of the story; anything else is not.
            if status != 402 {
                bail!("authorize answered {status}: {intent}");
            }
            return Ok(());
        }
        let intent_id = intent["id"].as_str().unwrap_or_default().to_owned();
        let op =
            |op: &'static str| format!("/api/v1/admin/orders/{order_id}/payments/{intent_id}/{op}");
        let (capture_path, refund_path) = (op("capture"), op("refund"));
        let capture = |amount: i64| {
            self.expect(
                Method::POST,
                &capture_path,
                key,
                Some(json!({"amount": amount})),
            )
        };
        let refund = |amount: i64, reason: &'static str| {
            self.expect(
                Method::POST,
                &refund_path,
                key,
                Some(json!({"amount": amount, "reason": reason})),
            )
        };
        match s {
            Scenario::Captured => {
                capture(total).await?;
            }
            Scenario::PartiallyCaptured => {
                capture(total / 2).await?;
            }
            Scenario::PartiallyRefunded => {
                capture(total).await?;
                refund(total / 3, "item returned").await?;
            }
            Scenario::Refunded => {
                capture(total).await?;
                refund(total, "order cancelled").await?;
            }
            Scenario::Voided => {
                self.expect(Method::POST, &op("void"), key, Some(json!({})))
                    .await?;
            }
            Scenario::Authorized
            | Scenario::Pending
            | Scenario::Declined
            | Scenario::InsufficientFunds => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_has_every_scenario() {
        let kinds: std::collections::HashSet<String> =
            (0..20).map(|i| format!("{:?}", scenario(i))).collect();
        assert_eq!(kinds.len(), 9);
    }
}
