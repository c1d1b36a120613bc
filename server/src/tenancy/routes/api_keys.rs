//! `/api/v1/admin/api-keys`: a store's secret keys.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::{policy, principal::StoreScope},
    http::idempotency::Secret,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{ApiKey, CreatedApiKey, api_keys},
    types::ApiKeyId,
};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// Body of `POST /api/v1/admin/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKey {
    /// Label, 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
}

/// Lists the secret keys of the caller's store and environment (masked).
#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "api keys",
    params(PageQuery),
    responses(
        (status = 200, description = "Keys, masked", body = Page<ApiKey>),
        (status = 401, description = "Missing or invalid credential", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    Ok(Json(
        api_keys::list(&state, scope.store_id, scope.environment, page).await?,
    ))
}

/// Creates a secret key for the caller's store and environment. Owners only (console users);
/// the secret is in this response and never again.
#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "api keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "Key created; `secret` is shown once", body = CreatedApiKey),
        (status = 403, description = "Not a store owner", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_key(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<Secret<(StatusCode, Json<CreatedApiKey>)>, ApiError> {
    policy::create_key(scope.actor)?;
    let created = api_keys::create(&state, scope.store_id, scope.environment, &body.name).await?;
    Ok(Secret((StatusCode::CREATED, Json(created))))
}

/// Revokes a secret key of the caller's store and environment. Any key may revoke a key of its
/// environment (a leaked key can be killed by the key itself); console users revoke production
/// keys as owners only; only owners create keys.
#[utoipa::path(
    delete,
    path = "/api-keys/{key_id}",
    tag = "api keys",
    params(("key_id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "Key revoked", body = ApiKey),
        (status = 403, description = "A staff member and a production key", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such key in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(key_id): ApiPath<ApiKeyId>,
) -> Result<Json<ApiKey>, ApiError> {
    policy::revoke_key(scope.actor, scope.environment)?;
    Ok(Json(
        api_keys::revoke(&state, scope.store_id, scope.environment, key_id).await?,
    ))
}
