//! `/api/v1/platform/stores`: platform admins create, list and read stores.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::principal::PlatformAdmin,
    http::idempotency::Secret,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{CreatedStore, Store, stores},
    types::StoreId,
};

/// Routes of this module (under `/api/v1/platform`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store))
}

/// Body of `POST /api/v1/platform/stores`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateStore {
    /// Display name, 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Settlement currency, ISO 4217 (e.g. `USD`).
    #[schema(value_type = crate::types::Currency)]
    pub currency: String,
}

/// Creates a store (tenant). The response carries a sandbox secret key, shown once.
#[utoipa::path(
    post,
    path = "/stores",
    tag = "platform",
    request_body = CreateStore,
    responses(
        (status = 201, description = "Store created", body = CreatedStore),
        (status = 403, description = "Not a platform admin", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or currency", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_store(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiJson(body): ApiJson<CreateStore>,
) -> Result<Secret<(StatusCode, Json<CreatedStore>)>, ApiError> {
    let created = stores::create(&state, &body.name, &body.currency).await?;
    tracing::info!(store_id = %created.id, "store created");
    Ok(Secret((StatusCode::CREATED, Json(created))))
}

/// Lists stores, oldest first.
#[utoipa::path(
    get,
    path = "/stores",
    tag = "platform",
    params(PageQuery),
    responses((status = 200, description = "Stores", body = Page<Store>)),
    security(("bearer" = []))
)]
pub async fn list_stores(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Store>>, ApiError> {
    Ok(Json(stores::list(&state, page).await?))
}

/// Reads one store.
#[utoipa::path(
    get,
    path = "/stores/{store_id}",
    tag = "platform",
    params(("store_id" = String, Path, description = "Store id")),
    responses(
        (status = 200, description = "The store", body = Store),
        (status = 404, description = "No such store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_store(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(store_id): ApiPath<StoreId>,
) -> Result<Json<Store>, ApiError> {
    Ok(Json(stores::find(&state, store_id).await?))
}
