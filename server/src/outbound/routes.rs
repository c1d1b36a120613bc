//! `/api/v1/admin/webhook-endpoints`: a store's outbound webhook endpoints in the caller's
//! environment, their signing secrets and their delivery log.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Delivery, DeliveryPage, DeliveryQuery, Endpoint, EndpointPage, EndpointPatch,
    EndpointWithSecret, NewEndpoint, ResendRange, Resent, RotateSecret,
};
use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        idempotency::Secret,
        pagination::PageQuery,
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::{WebhookDeliveryId, WebhookEndpointId},
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(resend_delivery))
        .routes(routes!(resend_range))
        .routes(routes!(ping))
}

/// Creating, changing, deleting and resending are the owners' in production (and the store's
/// own production key's); staff manage sandbox endpoints. Reading is every member's.
fn may_manage(scope: &StoreScope) -> Result<(), ApiError> {
    Ok(policy::manage_webhook_endpoints(
        scope.actor,
        scope.environment,
    )?)
}

/// Creates an endpoint in the caller's environment. The answer carries its signing secret
/// (`whsec_…`), shown this once.
#[utoipa::path(
    post,
    path = "/webhook-endpoints",
    tag = "outbound webhooks",
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Created; `secret` is shown only now", body = EndpointWithSecret),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`webhook_endpoint_limit`: the store has 20 endpoints in this environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`webhook_url_refused` (the detail says why: not https in production, \
            credentials in the URL, a loopback, private, link-local or metadata address, an internal name); \
            `validation_failed` (event types, description)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_endpoint(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<NewEndpoint>,
) -> Result<Secret<(StatusCode, Json<EndpointWithSecret>)>, ApiError> {
    may_manage(&scope)?;
    let created = super::create(&state, scope.store_id, scope.environment, &body).await?;
    Ok(Secret((StatusCode::CREATED, Json(created))))
}

/// The store's endpoints in the caller's environment, oldest first (keyset pages).
#[utoipa::path(
    get,
    path = "/webhook-endpoints",
    tag = "outbound webhooks",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = EndpointPage),
        (status = 422, description = "Invalid page size", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_endpoints(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<EndpointPage>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment, &page).await?,
    ))
}

/// One endpoint: its settings, whether Cassa disabled it, and when its secrets were created
/// and expire (never their values).
#[utoipa::path(
    get,
    path = "/webhook-endpoints/{endpoint_id}",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_endpoint(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(
        super::get(&state, scope.store_id, scope.environment, endpoint_id).await?,
    ))
}

/// Changes an endpoint's URL, event types, description, ordering, or enables or disables it
/// (`enabled: true` also re-enables an endpoint Cassa disabled, and its waiting deliveries
/// go out).
#[utoipa::path(
    patch,
    path = "/webhook-endpoints/{endpoint_id}",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    request_body = EndpointPatch,
    responses(
        (status = 200, description = "Changed", body = Endpoint),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`webhook_url_refused`, `validation_failed`", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_endpoint(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    ApiJson(body): ApiJson<EndpointPatch>,
) -> Result<Json<Endpoint>, ApiError> {
    may_manage(&scope)?;
    Ok(Json(
        super::update(
            &state,
            scope.store_id,
            scope.environment,
            endpoint_id,
            &body,
        )
        .await?,
    ))
}

/// Deletes an endpoint with its secrets and delivery log; nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/webhook-endpoints/{endpoint_id}",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<StatusCode, ApiError> {
    may_manage(&scope)?;
    super::delete(&state, scope.store_id, scope.environment, endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret. The new one is in the answer, shown this once; the previous
/// ones keep signing for `overlap_seconds` (default 24 hours, at most 7 days), so during the
/// overlap every delivery carries one signature per secret.
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{endpoint_id}/rotate-secret",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    request_body = RotateSecret,
    responses(
        (status = 200, description = "Rotated; `secret` is shown only now", body = EndpointWithSecret),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: overlap out of range", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Secret<Json<EndpointWithSecret>>, ApiError> {
    may_manage(&scope)?;
    Ok(Secret(Json(
        super::rotate_secret(
            &state,
            scope.store_id,
            scope.environment,
            endpoint_id,
            &body,
        )
        .await?,
    )))
}

/// The endpoint's delivery log, newest first: each event's delivery with its status, when it
/// is tried next, and its newest attempts (status code, latency, error, first KiB of the
/// answer). Keyset pages; filters by status and event type.
#[utoipa::path(
    get,
    path = "/webhook-endpoints/{endpoint_id}/deliveries",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id"), DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown status or event type, page size", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    Ok(Json(
        super::list_deliveries(
            &state,
            scope.store_id,
            scope.environment,
            endpoint_id,
            &query,
        )
        .await?,
    ))
}

/// Sends one delivery again at once, whatever its outcome so far (the same event and
/// `webhook-id`; the retry schedule starts over).
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend",
    tag = "outbound webhooks",
    params(
        ("endpoint_id" = String, Path, description = "Endpoint id"),
        ("delivery_id" = String, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Queued", body = Delivery),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint or delivery in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`delivery_in_progress`: an attempt is under way; \
            `webhook_endpoint_disabled`: enable the endpoint first", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn resend_delivery(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath((endpoint_id, delivery_id)): ApiPath<(WebhookEndpointId, WebhookDeliveryId)>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    may_manage(&scope)?;
    let delivery = super::resend(
        &state,
        scope.store_id,
        scope.environment,
        endpoint_id,
        delivery_id,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// Sends again what the endpoint did not get of the events from `from` (inclusive) to `to`
/// (exclusive): deliveries that failed for good or still wait (with `include_succeeded`, the
/// acknowledged ones too), and events it subscribes to that were emitted while it was
/// disabled; at most 1000 at once. Answers how many were queued (deliveries a worker is
/// attempting right now are left alone).
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{endpoint_id}/resend",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    request_body = ResendRange,
    responses(
        (status = 202, description = "Queued", body = Resent),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`webhook_endpoint_disabled`: enable the endpoint first", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`resend_range_too_large`: more than 1000 deliveries in the range; \
            `validation_failed`: `to` not after `from`", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn resend_range(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    ApiJson(body): ApiJson<ResendRange>,
) -> Result<(StatusCode, Json<Resent>), ApiError> {
    may_manage(&scope)?;
    let resent = super::resend_range(
        &state,
        scope.store_id,
        scope.environment,
        endpoint_id,
        &body,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(resent)))
}

/// Sends a `test.ping` event to this endpoint alone, signed like every other.
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{endpoint_id}/ping",
    tag = "outbound webhooks",
    params(("endpoint_id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 202, description = "Queued; its delivery", body = Delivery),
        (status = 403, description = "Staff may not manage production endpoints", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`webhook_endpoint_disabled`: enable the endpoint first", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn ping(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    may_manage(&scope)?;
    let delivery = super::ping(&state, scope.store_id, scope.environment, endpoint_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
