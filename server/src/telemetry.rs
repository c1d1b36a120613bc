//! Logs (tracing) and metrics (Prometheus).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter, layer::SubscriberExt};

use crate::config::LogFormat;

/// Latency buckets in seconds: fine-grained below 100 ms, where a payments API should live.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the global log subscriber writing to stdout. Later calls are no-ops (tests start
/// many servers in one process), so this never panics.
pub fn init_tracing(format: LogFormat, filter: &str) {
    let _ = tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stdout));
}

/// The log subscriber for `format` and `filter`, writing to `writer`. JSON lines carry the
/// current span's fields (the request id, method and path) on every event.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => {
            Box::new(registry.with(fmt::layer().with_target(true).with_writer(writer)))
        }
        LogFormat::Json => Box::new(
            registry.with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_writer(writer),
            ),
        ),
    }
}

/// The process-wide Prometheus recorder, installed on first use.
///
/// Metrics are process-global by nature; servers started in the same process (tests) share it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_owned()),
                LATENCY_BUCKETS,
            ) {
                Ok(b) => b,
                // Only fails for an empty bucket list, which the constant is not.
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}
