//! `/api/v1/me/orders` (customers) and `/api/v1/admin/orders` (stores).

use std::sync::Arc;

use axum::{Extension, Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{CreateOrder, Order, OrderFilter, OrderScope, OrderStatus, OrderSummary, service};
use crate::{
    auth::principal::{CustomerScope, StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    idempotency::{
        KeyRecord,
        answer::{Answer, Reply},
    },
    money::MinorUnits,
    state::AppState,
    types::{Currency, InvalidValue, OrderId, TextValue},
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

/// The answer stored for the key with the order: what the handler sends.
fn created(order: &Order) -> Answer {
    Answer {
        status: StatusCode::CREATED.as_u16(),
        content_type: Some("application/json".to_owned()),
        body: serde_json::to_vec(order).unwrap_or_default(),
        keep: false,
    }
}

/// Places an order for the calling customer, priced from the catalogue.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    // The flow holds the key in its own transaction (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
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
    record: Option<Extension<KeyRecord>>,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let reply = record.map(|Extension(record)| Reply {
        record,
        render: Arc::new(created),
    });
    let order = service::create(
        &state,
        scope.store_id,
        scope.environment,
        scope.customer_id,
        body,
        reply.as_ref(),
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

/// Filters of `GET /api/v1/admin/orders`; every one is optional and they all apply.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// `open`, `paid` or `cancelled`.
    #[param(schema_with = order_status_filter)]
    pub status: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339, exclusive).
    pub created_to: Option<DateTime<Utc>>,
    /// Only this customer's orders.
    pub customer_id: Option<uuid::Uuid>,
    /// Only orders in this currency (ISO 4217). The amount bounds are in it; without it they
    /// are in the store's currency, and orders in other currencies are left out.
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
    /// Items amount at least, minor units.
    pub min_amount: Option<i64>,
    /// Items amount at most, minor units.
    pub max_amount: Option<i64>,
    /// An order id, or a customer's whole email (case-insensitive).
    pub q: Option<String>,
}

impl OrderListQuery {
    /// The filter the query asks for; a value it cannot be is a `422` naming the parameter.
    pub fn filter(self) -> Result<OrderFilter, InvalidValue> {
        Ok(OrderFilter {
            status: self
                .status
                .filter(|s| !s.is_empty())
                .map(|s| {
                    OrderStatus::from_text(&s).ok_or_else(|| {
                        InvalidValue::new("status", "must be open, paid or cancelled")
                    })
                })
                .transpose()?,
            created_from: self.created_from,
            created_before: self.created_to,
            customer_id: self.customer_id.map(crate::types::CustomerId),
            currency: self.currency.map(|c| Currency::parse(&c)).transpose()?,
            min_amount: self.min_amount.map(MinorUnits),
            max_amount: self.max_amount.map(MinorUnits),
            search: match self.q {
                Some(q) => service::parse_search(&q)?,
                None => None,
            },
        })
    }
}

/// The store's orders, oldest first (keyset pages), optionally filtered; each with its
/// customer's email.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    params(PageQuery, OrderListQuery),
    responses(
        (status = 200, description = "Orders", body = Page<OrderSummary>),
        (status = 422, description = "A filter is invalid; `field` names it", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> Result<Json<Page<OrderSummary>>, ApiError> {
    let filter = query.filter().map_err(super::Error::from)?;
    Ok(Json(
        service::list(&state, scope.store_id, scope.environment, filter, page).await?,
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

fn order_status_filter() -> utoipa::openapi::Object {
    use crate::types::TextValue;
    crate::types::filter_schema(
        [OrderStatus::Open, OrderStatus::Paid, OrderStatus::Cancelled].map(|s| s.as_text()),
    )
}
