//! Operational endpoints: liveness, readiness, metrics and the API description.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{ApiError, Problem};
use crate::state::AppState;

/// Body of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
}

/// Body of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when the database answered.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Liveness: the process is up. Never touches the database.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the database answers within two seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve traffic", body = Readiness),
        (status = 503, description = "The database is unreachable", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    match state.db.probe().await {
        Ok(()) => Ok(Json(Readiness {
            status: "ready",
            database: state.db.backend().as_str(),
        })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness probe failed");
            Err(ApiError::DatabaseUnavailable)
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`CASSA_METRICS_TOKEN` is set and the bearer token is not it",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Served on `CASSA_METRICS_ADDR` instead", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // With a dedicated listener, the public one does not serve metrics at all.
    if state.config.metrics_addr.is_some() {
        return ApiError::NotFound.into_response();
    }
    dedicated_metrics(State(state), headers).await
}

/// `/metrics` on the `CASSA_METRICS_ADDR` listener; with `CASSA_METRICS_TOKEN` set, on either
/// listener, only for `Authorization: Bearer <token>`.
pub async fn dedicated_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let matches: bool = subtle::ConstantTimeEq::ct_eq(
            presented.as_bytes(),
            secrecy::ExposeSecret::expose_secret(expected).as_bytes(),
        )
        .into();
        if !matches {
            return ApiError::Unauthorized.into_response();
        }
    }
    let (size, idle) = state.db.pool_stats();
    let backend = state.db.backend().as_str();
    metrics::gauge!("db_pool_connections", "backend" => backend).set(f64::from(size));
    metrics::gauge!("db_pool_idle_connections", "backend" => backend).set(idle as f64);
    state.metrics.run_upkeep();
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    let mut response = state.openapi_json.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
