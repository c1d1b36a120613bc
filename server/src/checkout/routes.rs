//! `/api/v1/me/checkout` (customers quote and read snapshots) and `/api/v1/admin/shipping/rates`
//! (stores configure their rate table).

use std::sync::Arc;

use axum::{Extension, Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{QuoteRequest, Reply, Snapshot, config};
use crate::{
    auth::{
        policy,
        principal::{CustomerScope, StoreScope},
    },
    checkout,
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    idempotency::{KeyRecord, answer::Answer},
    orders::OrderScope,
    providers::shipping::ShippingRate,
    state::AppState,
    types::SnapshotId,
};

/// Customer routes (under `/api/v1/me`).
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_quote))
        .routes(routes!(get_snapshot))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_shipping_rates, put_shipping_rates))
}

/// The shipping rate table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShippingRates {
    /// Rows; a parcel takes, per service, the smallest band of its country (else `*`).
    pub rates: Vec<ShippingRate>,
}

/// The quote's answer as the idempotency record stores it, byte for byte what is sent: `201`
/// with the snapshot's JSON.
fn created(snapshot: &Snapshot) -> Answer {
    Answer {
        status: StatusCode::CREATED.as_u16(),
        content_type: Some("application/json".to_owned()),
        body: serde_json::to_vec(snapshot).unwrap_or_default(),
        keep: false,
    }
}

/// Prices the customer's order and freezes the result for payment.
#[utoipa::path(
    post,
    path = "/checkout/quote",
    tag = "checkout",
    // The flow holds the key in its own transactions (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
    request_body = QuoteRequest,
    responses(
        (status = 201, description = "Snapshot created", body = Snapshot),
        (status = 404, description = "No such order of this customer", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No shipping option, unknown service, or the store's tax \
            service refused the request (`tax_rejected`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The store's tax service cannot answer and its settings \
            refuse to fall back (`tax_unavailable`)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_quote(
    State(state): State<AppState>,
    scope: CustomerScope,
    record: Option<Extension<KeyRecord>>,
    ApiJson(body): ApiJson<QuoteRequest>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    let reply = record.map(|Extension(record)| Reply {
        record,
        render: Arc::new(created),
    });
    let snapshot = checkout::quote(&state, scope, body, reply.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

/// Reads one of the customer's snapshots.
#[utoipa::path(
    get,
    path = "/checkout/snapshots/{snapshot_id}",
    tag = "checkout",
    params(("snapshot_id" = String, Path, description = "Snapshot id")),
    responses(
        (status = 200, description = "The snapshot", body = Snapshot),
        (status = 404, description = "No such snapshot of this customer", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_snapshot(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(snapshot_id): ApiPath<SnapshotId>,
) -> Result<Json<Snapshot>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    Ok(Json(checkout::find(&state, scope, snapshot_id).await?))
}

/// The shipping rate table of the caller's store and environment.
#[utoipa::path(get, path = "/shipping/rates", tag = "checkout",
    responses((status = 200, description = "Rate table", body = ShippingRates)), security(("bearer" = [])))]
pub async fn get_shipping_rates(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<ShippingRates>, ApiError> {
    let config = config::load_shipping(&state, scope.store_id, scope.environment).await?;
    Ok(Json(ShippingRates {
        rates: config.rates,
    }))
}

/// Replaces the shipping rate table.
#[utoipa::path(put, path = "/shipping/rates", tag = "checkout", request_body = ShippingRates,
    responses(
        (status = 200, description = "Stored", body = ShippingRates),
        (status = 403, description = "A staff member in production", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A row refused; `field` names it (`rates[2].amount`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_shipping_rates(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<ShippingRates>,
) -> Result<Json<ShippingRates>, ApiError> {
    // Production's prices are the owners' (the rate table is what customers pay for shipping).
    policy::manage_shipping(scope.actor, scope.environment)?;
    config::replace_shipping(&state, scope.store_id, scope.environment, body.rates).await?;
    get_shipping_rates(State(state), scope).await
}
