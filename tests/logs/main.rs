//! Structured logs: every line written while serving a request carries its request id.
//!
//! A test binary of its own: `tracing` caches per-callsite interest process-wide, so a
//! thread-local capturing subscriber is only reliable without other tests running beside it.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use cassa::config::LogFormat;
use cassa_tests::{Backend, SpawnOptions, spawn_app_with};
use serde_json::Value;

use cassa_tests::probe_routes;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A current-thread runtime keeps the server's tasks on this thread, where the capturing
// subscriber is the default.
/// The tests here install thread-local subscribers; one at a time keeps callsite interest sane.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "current_thread")]
async fn json_log_lines_of_a_request_carry_its_request_id() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(cassa::telemetry::subscriber(
        LogFormat::Json,
        "info",
        captured.clone(),
    ));
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            extra_api: Some(probe_routes()),
            configure: Some(Box::new(|config| {
                config.request_timeout = Duration::from_millis(100);
            })),
            ..Default::default()
        },
    )
    .await;
    let response = app
        .client
        .get(app.url("/api/v1/test/slow"))
        .header("x-request-id", "log-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let about_request: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            matches!(
                l["message"].as_str(),
                Some("request timed out" | "request finished")
            )
        })
        .collect();
    assert_eq!(about_request.len(), 2, "{text}");
    for line in about_request {
        assert_eq!(line["span"]["request_id"], "log-trace-1", "{line}");
        assert_eq!(line["span"]["path"], "/api/v1/test/slow", "{line}");
    }
}

/// A full credentials flow with a known secret: it must appear in no response and no log line,
/// even at debug level.
#[tokio::test(flavor = "current_thread")]
async fn a_known_secret_reaches_no_response_and_no_log_line() {
    const SECRET: &str = "sbx_KNOWN_SECRET_must_never_leak_0123456789";
    const WEBHOOK: &str = "whsec_KNOWN_WEBHOOK_SECRET_never_leaks_abcdef";
    let _serial = ONE_AT_A_TIME.lock().await;
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(cassa::telemetry::subscriber(
        LogFormat::Json,
        "debug",
        captured.clone(),
    ));
    let app = cassa_tests::spawn_app(Backend::Sqlite).await;
    let store = app.create_store("Shop", "USD").await;
    let admin = app.admin_token().await;
    let mut bodies = Vec::new();

    let response = app
        .client
        .put(app.url("/api/v1/admin/credentials/sandbox/sandbox"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", "put-1")
        .json(&serde_json::json!({"api_key": SECRET, "webhook_secret": WEBHOOK}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    bodies.push(response.text().await.unwrap());
    // The idempotent replay too.
    let replay = app
        .client
        .put(app.url("/api/v1/admin/credentials/sandbox/sandbox"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", "put-1")
        .json(&serde_json::json!({"api_key": SECRET, "webhook_secret": WEBHOOK}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    bodies.push(replay.text().await.unwrap());
    for path in ["/api/v1/admin/credentials", "/api/v1/admin/api-keys"] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&store.sandbox_key)
            .send()
            .await
            .unwrap();
        bodies.push(response.text().await.unwrap());
    }
    let response = app
        .client
        .post(app.url("/api/v1/platform/keys/rotations"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"version": 1}))
        .send()
        .await
        .unwrap();
    bodies.push(response.text().await.unwrap());
    cassa::credentials::keys::run_pending_rotation(&app.state)
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/platform/keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    bodies.push(response.text().await.unwrap());
    // The secret is really there, decryptable by the provider layer.
    let loaded = cassa::credentials::load(
        &app.state,
        store.id.parse().unwrap(),
        "sandbox",
        cassa::types::Environment::Sandbox,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(format!("{loaded:?}").contains("sandbox"));
    assert!(
        !format!("{loaded:?}").contains(SECRET),
        "Debug must not show secrets"
    );

    for body in &bodies {
        assert!(
            !body.contains(SECRET) && !body.contains(WEBHOOK),
            "leaked in a response: {body}"
        );
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 5, "expected the flow to log: {logs}");
    assert!(
        !logs.contains(SECRET) && !logs.contains(WEBHOOK),
        "leaked in the logs"
    );
    assert!(
        !logs.contains(
            cassa_tests::TEST_MASTER_KEYS
                .split(',')
                .next()
                .unwrap()
                .split(':')
                .nth(1)
                .unwrap()
        )
    );
}
