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
#[tokio::test(flavor = "current_thread")]
async fn json_log_lines_of_a_request_carry_its_request_id() {
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
