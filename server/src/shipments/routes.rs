//! Shipping endpoints: rates for customers and stores, labels, shipments and tracking.

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    BuyRequest, CustomerShipment, RateList, SettingsInput, Shipment, ShipmentFilter,
    ShippingSettings,
};
use crate::{
    auth::{
        policy,
        principal::{CustomerScope, StoreScope},
    },
    checkout,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        middleware::RequestId,
        problem::{ApiError, Problem},
    },
    orders::OrderScope,
    pagination::{Page, PageQuery},
    payments::Caller,
    providers::shipping::carrier::LabelFormat,
    state::AppState,
    types::{OrderId, ShipmentId},
};

/// Customer routes (under `/api/v1/me`).
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer_rates))
        .routes(routes!(customer_tracking))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(store_rates))
        .routes(routes!(buy_label))
        .routes(routes!(list_shipments))
        .routes(routes!(get_shipment))
        .routes(routes!(get_label))
        .routes(routes!(void_shipment))
        .routes(routes!(get_settings, put_settings))
}

async fn rates(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
) -> Result<RateList, ApiError> {
    // The store's own rate table is priced beside the carriers.
    let table = checkout::config::load_shipping(state, scope.store_id, scope.environment).await?;
    Ok(super::offer_rates(state, scope, order_id, Some(&table)).await?)
}

/// Rates from every carrier the store ships with (and its rate table) for the order's packages.
/// Pass a rate's id as `shipping_rate_id` in the quote to freeze it.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/shipping/rates",
    tag = "shipping",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Rates, cheapest first", body = RateList),
        (status = 404, description = "No such order of this customer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`address_undeliverable`, `package_too_large`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn customer_rates(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<RateList>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    Ok(Json(rates(&state, scope, order_id).await?))
}

/// Rates for one of the store's orders (to buy a label at a newer price).
#[utoipa::path(
    post,
    path = "/orders/{order_id}/shipping/rates",
    tag = "shipping",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Rates, cheapest first", body = RateList),
        (status = 404, description = "No such order in this store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`address_undeliverable`, `package_too_large`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn store_rates(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<RateList>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: None,
    };
    Ok(Json(rates(&state, scope, order_id).await?))
}

fn caller(scope: &StoreScope, request_id: Option<Extension<RequestId>>) -> Caller {
    let request_id = request_id.map(|Extension(id)| id.as_str().to_owned());
    Caller::of_store(scope.actor, request_id.as_deref())
}

/// Buys the label for a paid order at the rate its payment's snapshot froze (or a newer one
/// with `accept_price_change`). With the store's `capture_on_shipment`, the authorization is
/// captured once the label is bought. `502 carrier_outcome_unknown`: retry with the same
/// Idempotency-Key; the label is never bought twice.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/shipments",
    tag = "shipping",
    params(("order_id" = String, Path, description = "Order id")),
    request_body = BuyRequest,
    responses(
        (status = 201, description = "Label bought", body = Shipment),
        (status = 403, description = "Staff buying production labels", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order or rate in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`shipment_exists`, `shipping_price_changed`, `order_not_paid`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`shipping_rate_expired`, `address_undeliverable`, `shipping_rate_not_purchasable`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`carrier_outcome_unknown`: retry with the same key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`carrier_unavailable`: nothing was bought", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn buy_label(
    State(state): State<AppState>,
    scope: StoreScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    ApiPath(order_id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<BuyRequest>,
) -> Result<(StatusCode, Json<Shipment>), ApiError> {
    policy::buy_labels(scope.actor, scope.environment)?;
    // The edge refused a request without one: the key is what a retry is recognised by.
    let key = crate::http::idempotency::key_from_headers(&headers)
        .map_err(|_| ApiError::IdempotencyKeyMissing)?;
    let caller = caller(&scope, request_id);
    let shipment = crate::fulfilment::ship(
        &state,
        scope.store_id,
        scope.environment,
        order_id,
        body,
        &caller,
        key.as_str(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(shipment)))
}

/// The store's shipments, oldest first (keyset pages), by status and carrier.
#[utoipa::path(
    get,
    path = "/shipments",
    tag = "shipping",
    params(ShipmentFilter, PageQuery),
    responses(
        (status = 200, description = "A page of shipments", body = Page<Shipment>),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_shipments(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(filter): ApiQuery<ShipmentFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Shipment>>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment, &filter, page).await?,
    ))
}

/// One shipment with its packages, label links and tracking timeline.
#[utoipa::path(
    get,
    path = "/shipments/{shipment_id}",
    tag = "shipping",
    params(("shipment_id" = String, Path, description = "Shipment id")),
    responses(
        (status = 200, description = "The shipment", body = Shipment),
        (status = 404, description = "No such shipment in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_shipment(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(id): ApiPath<ShipmentId>,
) -> Result<Json<Shipment>, ApiError> {
    Ok(Json(
        super::find(&state, scope.store_id, scope.environment, id).await?,
    ))
}

/// Query of the label download.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// `pdf` (4×6 in, default) or `zpl`.
    pub format: Option<LabelFormat>,
}

/// The label document of a shipment.
#[utoipa::path(
    get,
    path = "/shipments/{shipment_id}/label",
    tag = "shipping",
    params(("shipment_id" = String, Path, description = "Shipment id"), LabelQuery),
    responses(
        (status = 200, description = "The label (application/pdf or ZPL text)", content_type = "application/pdf"),
        (status = 404, description = "No such shipment, or no label yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_label(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(id): ApiPath<ShipmentId>,
    ApiQuery(query): ApiQuery<LabelQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.unwrap_or(LabelFormat::Pdf);
    let bytes =
        super::label_document(&state, scope.store_id, scope.environment, id, format).await?;
    Ok(label_response(id, format, bytes))
}

/// A label document as a response: its type, and a file name for saving it.
pub fn label_response(id: ShipmentId, format: LabelFormat, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "inline; filename=\"label-{id}.{}\"",
        format.as_str()
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// Voids a shipment's label before pickup, within the carrier's window (the carrier refunds it).
#[utoipa::path(
    post,
    path = "/shipments/{shipment_id}/void",
    tag = "shipping",
    params(("shipment_id" = String, Path, description = "Shipment id")),
    responses(
        (status = 200, description = "Voided", body = Shipment),
        (status = 404, description = "No such shipment in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_state_transition`: already picked up", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`void_window_closed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn void_shipment(
    State(state): State<AppState>,
    scope: StoreScope,
    request_id: Option<Extension<RequestId>>,
    ApiPath(id): ApiPath<ShipmentId>,
) -> Result<Json<Shipment>, ApiError> {
    policy::buy_labels(scope.actor, scope.environment)?;
    let caller = caller(&scope, request_id);
    Ok(Json(
        super::void(&state, scope.store_id, scope.environment, id, &caller.actor).await?,
    ))
}

/// The customer's shipments of an order with their tracking timelines.
#[utoipa::path(
    get,
    path = "/orders/{order_id}/shipping/tracking",
    tag = "shipping",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Shipments of the order", body = Vec<CustomerShipment>),
        (status = 404, description = "No such order of this customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn customer_tracking(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<Vec<CustomerShipment>>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    let shipments = super::of_order(&state, scope, order_id).await?;
    Ok(Json(shipments.into_iter().map(Into::into).collect()))
}

/// The store's shipping settings (ship-from address, boxes, capture on shipment).
#[utoipa::path(
    get,
    path = "/shipping/settings",
    tag = "shipping",
    responses((status = 200, description = "Settings", body = ShippingSettings)),
    security(("bearer" = []))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<ShippingSettings>, ApiError> {
    Ok(Json(
        super::load_settings(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Replaces the store's shipping settings.
#[utoipa::path(
    put,
    path = "/shipping/settings",
    tag = "shipping",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "Stored", body = ShippingSettings),
        (status = 403, description = "Staff changing production settings", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid address or boxes", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put_settings(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<SettingsInput>,
) -> Result<Json<ShippingSettings>, ApiError> {
    policy::manage_shipping(scope.actor, scope.environment)?;
    Ok(Json(
        super::put_settings(&state, scope.store_id, scope.environment, body).await?,
    ))
}
