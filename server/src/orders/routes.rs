//! `/api/v1/me/orders` (customers) and `/api/v1/admin/orders` (stores).

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{CreateOrder, Order, OrderScope, OrderSummary, service};
use crate::{
    auth::principal::{CustomerScope, StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::OrderId,
};

/// Customer routes (under `/api/v1/me`).
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(get_my_order))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
}

/// Places an order for the calling customer, priced from the catalogue.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    request_body = CreateOrder,
    responses(
        (status = 201, description = "Order created", body = Order),
        (status = 422, description = "Invalid item or address; `field` names it", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_order(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let order = service::create(
        &state,
        scope.store_id,
        scope.environment,
        scope.customer_id,
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// One of the calling customer's orders.
#[utoipa::path(
    get,
    path = "/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order of this customer", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_my_order(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<Order>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    Ok(Json(service::find(&state, scope, order_id).await?))
}

/// The store's orders, oldest first (keyset pages).
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    params(PageQuery),
    responses((status = 200, description = "Orders", body = Page<OrderSummary>)),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<OrderSummary>>, ApiError> {
    Ok(Json(
        service::list(&state, scope.store_id, scope.environment, page).await?,
    ))
}

/// One order of the store.
#[utoipa::path(
    get,
    path = "/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<Order>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: None,
    };
    Ok(Json(service::find(&state, scope, order_id).await?))
}
