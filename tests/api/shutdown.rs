//! Graceful shutdown: stop accepting, finish what is in flight.

use std::time::Duration;

use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app_with};

use crate::support::probe_routes;

async fn in_flight_requests_finish_after_shutdown_begins(backend: Backend) {
    let mut app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(probe_routes()),
            ..Default::default()
        },
    )
    .await;
    let slow = {
        let client = app.client.clone();
        let url = app.url("/api/v1/test/slow");
        tokio::spawn(async move { client.get(url).send().await })
    };
    // Let the slow request reach its handler before the signal.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let server = app.begin_shutdown().expect("server running");

    let response = slow.await.unwrap().expect("in-flight request completed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");

    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stopped within the grace period")
        .unwrap()
        .unwrap();
    let refused = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a stopped server must not accept requests"
    );
}

both_backends!(in_flight_requests_finish_after_shutdown_begins);
