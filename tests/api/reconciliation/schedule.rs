//! The daily scheduler: a store's run of the previous UTC day is queued once its daily time has
//! come, once, and never for a store that turned its schedule off.

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};

use super::{captured, get, recon_shop};
use crate::support::{assert_problem, json_of, send};

async fn put_schedule(shop: &crate::payments::shop::Shop, body: Value) -> reqwest::Response {
    send(
        &shop.app,
        reqwest::Method::PUT,
        &shop.store.sandbox_key,
        "/api/v1/admin/reconciliation/schedule",
        Some(body),
    )
    .await
}

async fn queued(shop: &crate::payments::shop::Shop) -> usize {
    cassa::reconciliation::schedule_due(&shop.app.state)
        .await
        .unwrap()
}

async fn a_store_s_run_is_queued_once_its_daily_time_has_come(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    // The default: midnight, enabled.
    let schedule = get(&shop, "/api/v1/admin/reconciliation/schedule").await;
    assert_eq!(
        (schedule["daily_at"].as_str(), schedule["enabled"].as_bool()),
        (Some("00:00"), Some(true)),
        "{schedule}"
    );
    assert_problem(
        put_schedule(&shop, json!({"daily_at": "25:00"})).await,
        422,
        "validation_failed",
    )
    .await;
    let set = json_of(put_schedule(&shop, json!({"daily_at": "02:30"})).await, 200).await;
    assert_eq!(set["daily_at"], "02:30");
    assert!(set["updated_by"].as_str().unwrap().starts_with("api_key:"));

    // The payment's day is over; the store's time is not there yet.
    let tomorrow = chrono::Utc::now().date_naive().succ_opt().unwrap();
    let at = |h: u32, m: u32| tomorrow.and_hms_opt(h, m, 0).unwrap().and_utc();
    shop.app.clock.set(at(2, 29));
    assert_eq!(queued(&shop).await, 0);
    shop.app.clock.set(at(2, 30));
    assert_eq!(queued(&shop).await, 1);
    // Once only, whoever asks again (another instance's scheduler too).
    assert_eq!(queued(&shop).await, 0);
    let runs = get(&shop, "/api/v1/admin/reconciliation/runs").await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["requested_by"], "scheduler");
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        runs[0]["period_from"].as_str().map(|s| s[..10].to_owned()),
        Some(today.to_string())
    );
}

async fn a_store_that_turned_its_schedule_off_gets_no_scheduled_run(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    let set = json_of(
        put_schedule(&shop, json!({"daily_at": "00:00", "enabled": false})).await,
        200,
    )
    .await;
    assert_eq!(set["enabled"], false);
    let tomorrow = chrono::Utc::now().date_naive().succ_opt().unwrap();
    shop.app
        .clock
        .set(tomorrow.and_hms_opt(12, 0, 0).unwrap().and_utc());
    assert_eq!(queued(&shop).await, 0);
    // Nor the day after, when the day is caught up on.
    shop.app.clock.set(
        tomorrow
            .succ_opt()
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc(),
    );
    assert_eq!(queued(&shop).await, 0);
    let runs = get(&shop, "/api/v1/admin/reconciliation/runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0));
}

async fn a_store_without_a_schedule_is_reconciled_after_midnight(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    let day = chrono::Utc::now().date_naive();
    let tomorrow = day.succ_opt().unwrap();
    shop.app
        .clock
        .set(tomorrow.and_hms_opt(0, 0, 0).unwrap().and_utc());
    assert_eq!(queued(&shop).await, 1);
    let runs = get(&shop, "/api/v1/admin/reconciliation/runs").await;
    assert_eq!(
        runs[0]["period_from"].as_str().map(|s| s[..10].to_owned()),
        Some(day.to_string())
    );
}

async fn a_daily_time_missed_before_midnight_is_caught_up_the_day_after(backend: Backend) {
    let shop = recon_shop(backend, 500).await;
    captured(&shop).await;
    json_of(put_schedule(&shop, json!({"daily_at": "23:59"})).await, 200).await;
    let day = chrono::Utc::now().date_naive();
    let tomorrow = day.succ_opt().unwrap();
    // The scheduler ticked before the store's time, and next after midnight.
    shop.app
        .clock
        .set(tomorrow.and_hms_opt(23, 0, 0).unwrap().and_utc());
    assert_eq!(queued(&shop).await, 0);
    shop.app.clock.set(
        tomorrow
            .succ_opt()
            .unwrap()
            .and_hms_opt(0, 30, 0)
            .unwrap()
            .and_utc(),
    );
    assert_eq!(queued(&shop).await, 1);
    let runs = get(&shop, "/api/v1/admin/reconciliation/runs").await;
    assert_eq!(
        runs[0]["period_from"].as_str().map(|s| s[..10].to_owned()),
        Some(day.to_string())
    );
}

both_backends!(
    a_store_s_run_is_queued_once_its_daily_time_has_come,
    a_store_that_turned_its_schedule_off_gets_no_scheduled_run,
    a_store_without_a_schedule_is_reconciled_after_midnight,
    a_daily_time_missed_before_midnight_is_caught_up_the_day_after,
);
