//! `/api/v1/admin/products`: the caller's catalogue.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{CreateProduct, PricesInput, Product, service};
use crate::{
    auth::principal::StoreScope,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::ProductId,
};

/// `/api/v1/admin` routes of this module.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product))
        .routes(routes!(put_prices))
}

/// Adds a product to the caller's store and environment.
#[utoipa::path(
    post,
    path = "/products",
    tag = "catalog",
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Product created", body = Product),
        (status = 409, description = "The SKU exists", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_product(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<CreateProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let product = service::create(&state, scope.store_id, scope.environment, body).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Lists the caller's products, oldest first (keyset pages).
#[utoipa::path(
    get,
    path = "/products",
    tag = "catalog",
    params(PageQuery),
    responses((status = 200, description = "Products", body = Page<Product>)),
    security(("bearer" = []))
)]
pub async fn list_products(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    Ok(Json(
        service::list(&state, scope.store_id, scope.environment, page).await?,
    ))
}

/// Reads one product of the caller's store and environment.
#[utoipa::path(
    get,
    path = "/products/{product_id}",
    tag = "catalog",
    params(("product_id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_product(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(product_id): ApiPath<ProductId>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        service::find(&state, scope.store_id, scope.environment, product_id).await?,
    ))
}

/// Replaces the product's explicit prices in other currencies: an order in one of them is
/// priced with it instead of converting the product's price (see the store's FX policy).
#[utoipa::path(
    put,
    path = "/products/{product_id}/prices",
    tag = "catalog",
    params(("product_id" = String, Path, description = "Product id")),
    request_body = PricesInput,
    responses(
        (status = 200, description = "The product with its prices", body = Product),
        (status = 404, description = "No such product in this store", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid price", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put_prices(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(product_id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<PricesInput>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        service::put_prices(&state, scope.store_id, scope.environment, product_id, body).await?,
    ))
}
