//! `POST /api/v1/webhooks/{provider}/{store_id}` (public, signed) and the admin views.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{EventPage, EventQuery, Received, WebhookEvent};
use crate::{
    auth::principal::StoreScope,
    http::{
        extract::{ApiPath, ApiQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::StoreId,
};

/// The public receiving endpoint (under `/api/v1`).
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(replay_event))
}

/// Receives a provider's webhook: verified, stored, answered.
///
/// `200` once the event is stored (or was stored before: `duplicate: true`); processing happens
/// afterwards. A bad or stale signature is `401 invalid_signature` and missing signature headers
/// `400 invalid_signature`; such deliveries are counted, sampled for the console (one a minute
/// per store) and never processed.
#[utoipa::path(
    post,
    path = "/webhooks/{provider}/{store_id}",
    tag = "webhooks",
    params(
        ("provider" = String, Path, description = "`sandbox` (Standard Webhooks) or `stripe`"),
        ("store_id" = String, Path, description = "The store whose provider account sends it"),
    ),
    request_body(content = String, description = "The provider's event, as signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored", body = Received),
        (status = 400, description = "Missing signature headers", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid or stale signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath((provider_name, store_id)): ApiPath<(String, StoreId)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, ApiError> {
    Ok(Json(
        super::receive(&state, &provider_name, store_id, &headers, &body).await?,
    ))
}

/// The store's webhook events, newest first; `status=dead` is the dead-letter queue.
#[utoipa::path(
    get,
    path = "/webhooks/events",
    tag = "webhooks",
    params(EventQuery),
    responses((status = 200, description = "A page of events", body = EventPage)),
    security(("bearer" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment, &query).await?,
    ))
}

/// One webhook event of the store.
#[utoipa::path(
    get,
    path = "/webhooks/events/{event_id}",
    tag = "webhooks",
    params(("event_id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = WebhookEvent),
        (status = 404, description = "No such event in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_event(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
) -> Result<Json<WebhookEvent>, ApiError> {
    Ok(Json(
        super::find(&state, scope.store_id, scope.environment, event_id).await?,
    ))
}

/// Replays an event.
#[utoipa::path(
    post,
    path = "/webhooks/events/{event_id}/replay",
    tag = "webhooks",
    params(("event_id" = String, Path, description = "Event id")),
    responses(
        (status = 202, description = "Queued again", body = WebhookEvent),
        (status = 404, description = "No such event in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not processed or dead, or never verified", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn replay_event(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
) -> Result<(StatusCode, Json<WebhookEvent>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(super::replay(&state, scope.store_id, scope.environment, event_id).await?),
    ))
}
