//! The carrier's HTTP API (`/v1/…`).

mod endpoints;
mod extract;
mod labels;
mod rates;

use axum::{
    Router,
    extract::{Request, State},
    middleware::Next,
    response::Response,
    routing::{delete, get, post},
};

pub use extract::{API_KEY_PREFIX, OUTAGE_ACCOUNT_PREFIX};

use crate::{error::CarrierError, state::CarrierState};

/// The carrier's routes (`/v1/…`) with `state` applied, ready to serve or to nest in a host's
/// router of any state type (e.g. at `/sandbox-carrier`).
pub fn router<S: Clone + Send + Sync + 'static>(state: CarrierState) -> Router<S> {
    Router::new()
        .route("/v1/rates", post(rates::create))
        .route("/v1/labels", post(labels::purchase).get(labels::list))
        .route("/v1/labels/{id}", get(labels::get))
        .route("/v1/labels/{id}/document", get(labels::document))
        .route("/v1/labels/{id}/void", post(labels::void))
        .route("/v1/labels/{id}/advance", post(labels::advance))
        .route("/v1/webhook_endpoints", post(endpoints::register))
        .route("/v1/webhook_endpoints/{id}", delete(endpoints::remove))
        .layer(axum::middleware::from_fn_with_state(state.clone(), latency))
        .with_state(state)
}

/// The simulated network: every answer waits the configured latency first.
async fn latency(State(state): State<CarrierState>, req: Request, next: Next) -> Response {
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    next.run(req).await
}

/// The answer for a label this account does not have.
pub(crate) fn label_not_found() -> CarrierError {
    CarrierError::not_found("label_not_found", "no such label")
}
