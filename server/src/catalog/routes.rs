//! `/api/v1/admin/products`: the caller's catalogue.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{CreateProduct, PricesInput, Product, ProductQuery, UpdateProduct, service};
use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::Page,
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::ProductId,
};

/// `/api/v1/admin` routes of this module.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product))
        .routes(routes!(put_prices))
}

/// Creating, changing, archiving and pricing products are the owners' in production (and the
/// store's own production key's); staff manage the sandbox catalogue. Reading is every
/// member's.
fn may_manage(scope: &StoreScope) -> Result<(), ApiError> {
    Ok(policy::manage_catalogue(scope.actor, scope.environment)?)
}

/// Adds a product to the caller's store and environment.
#[utoipa::path(
    post,
    path = "/products",
    tag = "catalog",
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Product created", body = Product),
        (status = 403, description = "Production's catalogue is the owners'", body = Problem,
            content_type = "application/problem+json"),
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
    may_manage(&scope)?;
    let product = service::create(&state, scope.store_id, scope.environment, body).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Lists the caller's products, oldest first (keyset pages): the active ones, unless
/// `archived` asks for the archived ones (`true`) or both (`all`); `q` keeps those whose name
/// or SKU contains it.
#[utoipa::path(
    get,
    path = "/products",
    tag = "catalog",
    params(ProductQuery),
    responses(
        (status = 200, description = "Products", body = Page<Product>),
        (status = 422, description = "Invalid limit, q or archived", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_products(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<ProductQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    Ok(Json(
        service::list(&state, scope.store_id, scope.environment, &query).await?,
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

/// Changes the product's fields (absent ones keep their value; the currency never changes),
/// archives it (`archived: true`: it stays readable, and new orders refuse it with
/// `product_archived`) or makes it active again (`archived: false`).
#[utoipa::path(
    patch,
    path = "/products/{product_id}",
    tag = "catalog",
    params(("product_id" = String, Path, description = "Product id")),
    request_body = UpdateProduct,
    responses(
        (status = 200, description = "The product as changed", body = Product),
        (status = 403, description = "Production's catalogue is the owners'", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such product in this store", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another product has the SKU", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_product(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(product_id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<UpdateProduct>,
) -> Result<Json<Product>, ApiError> {
    may_manage(&scope)?;
    Ok(Json(
        service::update(&state, scope.store_id, scope.environment, product_id, body).await?,
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
        (status = 403, description = "Production's catalogue is the owners'", body = Problem,
            content_type = "application/problem+json"),
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
    may_manage(&scope)?;
    Ok(Json(
        service::put_prices(&state, scope.store_id, scope.environment, product_id, body).await?,
    ))
}
