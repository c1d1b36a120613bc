//! Retention of the delivery log: the retention job deletes deliveries that succeeded or failed
//! once their event is older than `CASSA_RETENTION_OUTBOUND_WEBHOOKS_DAYS` (30 by default),
//! with their attempts, and the old events no delivery needs; never a pending delivery nor its
//! event, never a recent one; in bounded batches.

use axum::{Router, extract::Path, http::StatusCode, routing::post};
use cassa::{
    outbound::{EventType, NewEvent, deliver_due},
    retention::{BATCH_SIZE, Purged},
    state::AppState,
    types::{Environment, StoreId},
};
use cassa_tests::{Backend, SpawnOptions, TestApp, both_backends, spawn_app_with};
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::json;

use super::{endpoint, get};
use crate::{
    support::{json_of, send},
    webhook_endpoints::ENDPOINTS,
};

/// Receivers mounted in the server: `ok` answers 200, any other name 500.
fn receivers() -> Router<AppState> {
    Router::new().route(
        "/test-hooks/{name}",
        post(|Path(name): Path<String>| async move {
            if name == "ok" {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }),
    )
}

/// A server with the receivers, whose deliveries the test drives with `deliver_due`.
async fn app(backend: Backend) -> (TestApp, String, StoreId) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(receivers()),
            configure: Some(Box::new(|config| config.outbound_webhook_workers = 0)),
            ..SpawnOptions::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    let id = store.id.parse().unwrap();
    (app, store.sandbox_key, id)
}

fn now(app: &TestApp) -> DateTime<Utc> {
    cassa::clock::Clock::now(&app.clock)
}

/// Emits `types` as a domain flow does, now.
async fn emit(app: &TestApp, store: StoreId, types: &[EventType]) {
    let at = now(app);
    let events = types
        .iter()
        .map(|t| NewEvent::of(store, Environment::Sandbox, *t, &json!({"id": "obj"}), at).unwrap())
        .collect();
    let mut tx = app.state.db.begin_write().await.unwrap();
    cassa::outbound::emit_all(&mut tx, events).await.unwrap();
    tx.commit().await.unwrap();
}

/// Rounds of deliveries until nothing is due.
async fn deliver_all(app: &TestApp) {
    while deliver_due(&app.state).await.unwrap() > 0 {}
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// The endpoint's delivery log as the API lists it: (event type, status) per delivery.
async fn log(app: &TestApp, key: &str, endpoint: &str) -> Vec<(String, String)> {
    let page = get(app, key, &format!("{ENDPOINTS}/{endpoint}/deliveries")).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["event_type"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn set_enabled(app: &TestApp, key: &str, endpoint: &str, enabled: bool) {
    let path = format!("{ENDPOINTS}/{endpoint}");
    let body = Some(json!({"enabled": enabled}));
    json_of(send(app, Method::PATCH, key, &path, body).await, 200).await;
}

/// The one delivery of `endpoint`: status and next attempt.
async fn delivery(app: &TestApp, endpoint: &str) -> (String, Option<DateTime<Utc>>) {
    const SQL: &str =
        "SELECT status, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1";
    let id: uuid::Uuid = endpoint.parse().unwrap();
    cassa::on_db!(&app.db, pool => sqlx::query_as(SQL).bind(id).fetch_one(pool).await).unwrap()
}

async fn old_finished_deliveries_go_pending_and_recent_ones_stay(backend: Backend) {
    let (app, key, store) = app(backend).await;
    let hook = |name: &str| app.url(&format!("/api/v1/test-hooks/{name}"));
    let ok = endpoint(
        &app,
        &key,
        json!({"url": hook("ok"), "event_types": ["order.paid"]}),
    )
    .await;
    let down = endpoint(
        &app,
        &key,
        json!({"url": hook("down"), "event_types": ["refund.failed"]}),
    )
    .await;
    let paused = endpoint(
        &app,
        &key,
        json!({"url": hook("ok"), "event_types": ["tax.committed"]}),
    )
    .await;

    // Day 0: one event per endpoint, and one no endpoint subscribes to (history only).
    emit(
        &app,
        store,
        &[
            EventType::OrderPaid,
            EventType::RefundFailed,
            EventType::TaxCommitted,
            EventType::ShipmentDelivered,
        ],
    )
    .await;
    // `paused`'s delivery waits while its endpoint is disabled: pending for good.
    set_enabled(&app, &key, &paused, false).await;
    deliver_all(&app).await;
    assert_eq!(delivery(&app, &ok).await.0, "succeeded");
    // `down` fails through the whole schedule (72 h 35 min): failed for good, and the endpoint
    // is disabled on the way (webhook_endpoint.disabled, which no other endpoint takes).
    loop {
        match delivery(&app, &down).await {
            (status, Some(next)) if status == "pending" => {
                app.clock.set(next.max(now(&app)));
                deliver_all(&app).await;
            }
            (status, _) => {
                assert_eq!(status, "failed");
                break;
            }
        }
    }
    let failed_attempts = 11;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM webhook_delivery_attempts").await,
        1 + failed_attempts
    );

    // Day 20: a recent delivery.
    let day_0 = cassa_tests::test_epoch();
    app.clock.set(day_0 + Duration::days(20));
    emit(&app, store, &[EventType::OrderPaid]).await;
    deliver_all(&app).await;

    // Day 29: nothing is 30 days old yet.
    app.clock.set(day_0 + Duration::days(29));
    let nothing = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(nothing, Purged::default());

    // Day 40: day 0's finished deliveries go with their attempts, and the events nothing
    // needs any more (day 0's three and the endpoint's disabling on day 3); the pending one
    // and its event stay, and so does day 20's.
    app.clock.set(day_0 + Duration::days(40));
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(
        (
            purged.outbound_deliveries,
            purged.outbound_attempts,
            purged.outbound_events
        ),
        (2, 1 + failed_attempts as u64, 4),
        "{purged:?}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM webhook_delivery_attempts").await,
        1
    );
    let kept: Vec<String> = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT event_type FROM outbound_events ORDER BY created_at")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(kept, ["tax.committed", "order.paid"]);
    // The delivery log lists what is left.
    assert_eq!(
        log(&app, &key, &ok).await,
        [("order.paid".to_owned(), "succeeded".to_owned())]
    );
    assert_eq!(log(&app, &key, &down).await, []);
    assert_eq!(
        log(&app, &key, &paused).await,
        [("tax.committed".to_owned(), "pending".to_owned())]
    );
    // A second pass finds nothing more.
    let again = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(again, Purged::default());

    // The kept event is what the waiting delivery sends once its endpoint is back; finished,
    // it is past the period and goes on the next pass, its event with it.
    set_enabled(&app, &key, &paused, true).await;
    deliver_all(&app).await;
    assert_eq!(delivery(&app, &paused).await.0, "succeeded");
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(
        (
            purged.outbound_deliveries,
            purged.outbound_attempts,
            purged.outbound_events
        ),
        (1, 1, 1),
        "{purged:?}"
    );
    assert_eq!(log(&app, &key, &paused).await, []);
    assert_eq!(
        log(&app, &key, &ok).await,
        [("order.paid".to_owned(), "succeeded".to_owned())]
    );
}

/// A backlog larger than a batch is deleted batch by batch within one pass.
async fn a_backlog_goes_in_batches(backend: Backend) {
    let (app, key, store) = app(backend).await;
    let ok = app.url("/api/v1/test-hooks/ok");
    endpoint(
        &app,
        &key,
        json!({"url": ok, "event_types": ["order.paid"]}),
    )
    .await;
    let backlog = BATCH_SIZE as usize + 7;
    emit(&app, store, &vec![EventType::OrderPaid; backlog]).await;
    deliver_all(&app).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'"
        )
        .await,
        backlog as i64
    );
    app.clock.advance(Duration::days(31));
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    let backlog = backlog as u64;
    assert_eq!(
        (
            purged.outbound_deliveries,
            purged.outbound_attempts,
            purged.outbound_events
        ),
        (backlog, backlog, backlog),
        "{purged:?}"
    );
    for table in [
        "webhook_deliveries",
        "webhook_delivery_attempts",
        "outbound_events",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(count(&app, &sql).await, 0, "{table}");
    }
}

/// `0` keeps the log forever.
async fn zero_days_keep_everything(backend: Backend) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|config| {
                config.outbound_webhook_workers = 0;
                config.retention.outbound_webhooks = cassa::config::Retention::days(0);
            })),
            ..SpawnOptions::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    emit(&app, store.id.parse().unwrap(), &[EventType::OrderPaid]).await;
    app.clock.advance(Duration::days(3650));
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(purged.outbound_events, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbound_events").await, 1);
}

both_backends!(
    old_finished_deliveries_go_pending_and_recent_ones_stay,
    a_backlog_goes_in_batches,
    zero_days_keep_everything,
);
