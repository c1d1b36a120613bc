//! Handlers that exercise the HTTP edge before any capability endpoint needs them.

use std::time::Duration;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};
use cassa::{http::extract::ApiJson, state::AppState};
use serde_json::Value;

/// Routes mounted under `/api/v1/test` so the edge (extractors, limits, timeout, panics) can be
/// exercised before any capability endpoint takes a body.
pub fn probe_routes() -> Router<AppState> {
    #[derive(serde::Deserialize)]
    struct Echo {
        message: String,
        count: u32,
    }

    async fn echo(ApiJson(body): ApiJson<Echo>) -> axum::Json<Value> {
        axum::Json(serde_json::json!({ "message": body.message, "count": body.count }))
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(600)).await;
        "done"
    }

    async fn boom() -> StatusCode {
        panic!("probe handler panicked on purpose")
    }

    Router::new()
        .route("/test/echo", post(echo))
        .route("/test/slow", get(slow))
        .route("/test/panic", get(boom))
}
