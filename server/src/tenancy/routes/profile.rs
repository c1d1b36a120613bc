//! `/api/v1/admin/store`: the caller's own store, read by every member and key, its profile
//! (name, time zone) changed by owners.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::ApiJson,
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{
        Store,
        stores::{self, ProfileChange},
    },
};

/// Routes of this module (under `/api/v1/admin`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_own_store, update_own_store))
}

/// The caller's store.
#[utoipa::path(
    get,
    path = "/store",
    tag = "stores",
    responses((status = 200, description = "The caller's store", body = Store)),
    security(("bearer" = []))
)]
pub async fn get_own_store(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<Store>, ApiError> {
    Ok(Json(stores::find(&state, scope.store_id).await?))
}

/// Changes the store's name or time zone (owners only; the currency stays, since prices and
/// orders are in it).
#[utoipa::path(
    patch,
    path = "/store",
    tag = "stores",
    request_body = ProfileChange,
    responses(
        (status = 200, description = "The store as changed", body = Store),
        (status = 403, description = "Not an owner", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (name, timezone)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_own_store(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<ProfileChange>,
) -> Result<Json<Store>, ApiError> {
    policy::manage_store_profile(scope.actor)?;
    Ok(Json(
        stores::update_profile(&state, scope.store_id, &body).await?,
    ))
}
