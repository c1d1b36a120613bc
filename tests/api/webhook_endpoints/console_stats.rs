//! The console's Developers → Webhooks page: the endpoints' health it draws
//! (`outbound::stats`: per UTC day, the attempts made and how many were answered 2xx, for every
//! endpoint of the store and environment in one query; days without attempts stay empty, older
//! attempts and other environments count nowhere), and its server functions' roles and
//! isolation (the API's policy; another store's or environment's endpoint is not found).

use cassa::{
    outbound::{EventType, stats},
    types::{Environment, WebhookEndpointId},
};
use cassa_tests::{Backend, both_backends};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{STAFF_PASSWORD, delivery::by_hand, member, receiver::Reply, receiver::url};
use crate::support::{console_fn, console_sign_in};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// (day, attempts, succeeded) of each day.
fn days(health: &stats::Health) -> Vec<(NaiveDate, i64, i64)> {
    health
        .iter()
        .map(|d| (d.day, d.attempts, d.succeeded))
        .collect()
}

async fn health_counts_each_days_attempts_and_successes(backend: Backend) {
    let h = by_hand(backend).await;
    let (erp, _) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let (shop, _) = h.endpoint("shop", &["order.paid"], json!({})).await;
    let (quiet, _) = h.endpoint("quiet", &["refund.succeeded"], json!({})).await;
    // The 7th, before the window of the 8th to the 11th: both succeed.
    h.app.clock.set(at("2030-01-07T12:00:00Z"));
    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 2);
    // Two seconds before midnight on the 8th erp fails, and its retry succeeds on the 9th.
    h.app.clock.set(at("2030-01-08T23:59:58Z"));
    h.receiver.script("erp", &[Reply::Status(500)]);
    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 2);
    h.app.clock.advance(Duration::seconds(6));
    assert_eq!(h.deliver_all().await, 1);
    // Nothing on the 10th; on the 11th erp answers 503 (its retry is not yet due) and shop 200.
    h.app.clock.set(at("2030-01-11T10:00:00Z"));
    h.receiver.script("erp", &[Reply::Status(503)]);
    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 2);

    let now = h.app.state.clock.now();
    let health = stats::health_by_day(&h.app.db, h.store_id(), Environment::Sandbox, now, 4)
        .await
        .unwrap();
    let erp: WebhookEndpointId = erp.parse().unwrap();
    let shop: WebhookEndpointId = shop.parse().unwrap();
    let quiet: WebhookEndpointId = quiet.parse().unwrap();
    assert_eq!(
        days(&health[&erp]),
        [
            (day("2030-01-08"), 1, 0),
            (day("2030-01-09"), 1, 1),
            (day("2030-01-10"), 0, 0),
            (day("2030-01-11"), 1, 0),
        ]
    );
    assert_eq!(
        days(&health[&shop]),
        [
            (day("2030-01-08"), 1, 1),
            (day("2030-01-09"), 0, 0),
            (day("2030-01-10"), 0, 0),
            (day("2030-01-11"), 1, 1),
        ]
    );
    assert_eq!(health[&erp][2].ratio(), None);
    assert!(!health.contains_key(&quiet), "no attempts, no entry");
    assert_eq!(stats::empty_health(now, 4).len(), 4);

    // One day: only today's attempts.
    let today = stats::health_by_day(&h.app.db, h.store_id(), Environment::Sandbox, now, 1)
        .await
        .unwrap();
    assert_eq!(days(&today[&erp]), [(day("2030-01-11"), 1, 0)]);
    // A 5-day window reaches the 7th.
    let wider = stats::health_by_day(&h.app.db, h.store_id(), Environment::Sandbox, now, 5)
        .await
        .unwrap();
    assert_eq!(days(&wider[&shop])[0], (day("2030-01-07"), 1, 1));
    assert_eq!(days(&wider[&erp])[0], (day("2030-01-07"), 1, 1));
    // Production shows none of the sandbox's attempts.
    let production = stats::health_by_day(&h.app.db, h.store_id(), Environment::Production, now, 7)
        .await
        .unwrap();
    assert!(production.is_empty());
}

/// A server function's JSON answer, which must succeed.
async fn answer(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A server function's refusal text.
async fn refusal(response: reqwest::Response) -> String {
    assert!(!response.status().is_success());
    response.text().await.unwrap()
}

async fn the_page_applies_the_apis_roles_and_isolation(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, secret) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let other = h.app.create_store("Other", "USD").await;
    let other_endpoint = super::create(
        &h.app,
        &super::Caller::key(&other.sandbox_key),
        json!({"url": url(&h.app, "other"), "event_types": ["*"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    member(&h.app, &h.store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&h.app, "staff@shop.test", STAFF_PASSWORD).await;
    let cookie = Some(cookie.as_str());
    let page = |endpoint: String| {
        let app = &h.app;
        async move {
            answer(
                console_fn(
                    app,
                    "webhook_endpoints_page",
                    &[("endpoint", &endpoint)],
                    cookie,
                )
                .await,
            )
            .await
        }
    };

    // Sandbox: staff manage it; the page lists the endpoint, opens its log, never its secret.
    let shown = page(endpoint.clone()).await;
    assert_eq!(shown["can_manage"], true);
    assert_eq!(shown["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(shown["selected"]["endpoint"]["id"], endpoint.as_str());
    assert_eq!(
        shown["endpoints"][0]["health"].as_array().unwrap().len(),
        stats::DAYS
    );
    assert!(!shown.to_string().contains(&secret));
    let pinged = console_fn(
        &h.app,
        "ping_webhook_endpoint",
        &[("endpoint_id", &endpoint)],
        cookie,
    )
    .await;
    assert!(
        answer(pinged)
            .await
            .as_str()
            .unwrap()
            .starts_with("Test event evt_")
    );
    // An endpoint Cassa disabled after failures says so, and one action enables it again.
    let id: uuid::Uuid = endpoint.parse().unwrap();
    cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE webhook_endpoints SET enabled = $1, disabled_reason = 'failing' WHERE id = $2")
            .bind(false)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .unwrap();
    let failing = page(endpoint.clone()).await;
    assert_eq!(failing["endpoints"][0]["enabled"], false);
    assert_eq!(failing["endpoints"][0]["disabled_reason"], "failing");
    let enabled = console_fn(
        &h.app,
        "set_webhook_endpoint_enabled",
        &[("endpoint_id", &endpoint), ("enabled", "true")],
        cookie,
    )
    .await;
    assert!(
        answer(enabled)
            .await
            .as_str()
            .unwrap()
            .starts_with("Enabled")
    );
    let back = page(endpoint.clone()).await;
    assert_eq!(back["endpoints"][0]["enabled"], true);
    assert_eq!(back["endpoints"][0]["disabled_reason"], Value::Null);
    // Another store's endpoint is not found, for reading and for changing.
    let foreign = page(other_endpoint.clone()).await;
    assert_eq!(foreign["selected"], Value::Null);
    assert!(
        foreign["selected_error"]
            .as_str()
            .unwrap()
            .contains("No such webhook endpoint"),
        "{foreign}"
    );
    let text = refusal(
        console_fn(
            &h.app,
            "ping_webhook_endpoint",
            &[("endpoint_id", &other_endpoint)],
            cookie,
        )
        .await,
    )
    .await;
    assert!(text.contains("does not exist"), "{text}");

    // Production: staff read, and are refused changes as the API refuses them.
    let selected = console_fn(
        &h.app,
        "select",
        &[("store_id", &h.store.id), ("environment", "production")],
        cookie,
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let production = page(endpoint.clone()).await;
    assert_eq!(production["can_manage"], false);
    assert_eq!(production["endpoints"].as_array().unwrap().len(), 0);
    // The sandbox endpoint is not production's.
    assert!(
        production["selected_error"]
            .as_str()
            .unwrap()
            .contains("No such webhook endpoint")
    );
    let text = refusal(
        console_fn(
            &h.app,
            "create_webhook_endpoint",
            &[
                ("url", "https://hooks.example.com/cassa"),
                ("every_type", "*"),
            ],
            cookie,
        )
        .await,
    )
    .await;
    assert!(text.contains("not allowed"), "{text}");
}

both_backends!(
    health_counts_each_days_attempts_and_successes,
    the_page_applies_the_apis_roles_and_isolation
);
