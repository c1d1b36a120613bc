//! `/api/v1/admin/customers` (stores) and `/api/v1/me` (customers).

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::principal::{CustomerScope, StoreScope},
    http::idempotency::Secret,
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{Customer, CustomerDetail, CustomerToken, customers},
    types::{CustomerId, Email},
};

/// `/api/v1/admin` routes of this module.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer))
        .routes(routes!(get_customer))
        .routes(routes!(create_customer_token))
}

/// `/api/v1/me` routes of this module.
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me))
}

/// Body of `POST /api/v1/admin/customers`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCustomer {
    /// Contact email.
    pub email: Option<Email>,
    /// Display name, 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
}

/// Body of `POST /api/v1/admin/customers/{customer_id}/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateCustomerToken {
    /// Lifetime in seconds, 60–86400 (default 3600).
    #[schema(minimum = 60, maximum = 86400)]
    pub ttl_seconds: Option<i64>,
}

/// Creates a customer in the caller's store and environment.
#[utoipa::path(
    post,
    path = "/customers",
    tag = "customers",
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "Customer created", body = Customer),
        (status = 422, description = "Invalid field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_customer(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let customer = customers::create(
        &state,
        scope.store_id,
        scope.environment,
        body.email,
        body.name.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Reads a customer of the caller's store and environment, with their lifetime value.
#[utoipa::path(
    get,
    path = "/customers/{customer_id}",
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer and what they have paid", body = CustomerDetail),
        (status = 404, description = "No such customer in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(customer_id): ApiPath<CustomerId>,
) -> Result<Json<CustomerDetail>, ApiError> {
    Ok(Json(
        customers::detail(&state, scope.store_id, scope.environment, customer_id).await?,
    ))
}

/// Mints a short-lived token with which this customer calls `/api/v1/me/...`.
///
/// Production's are the owners' (and the store's production key's); staff mint sandbox's.
#[utoipa::path(
    post,
    path = "/customers/{customer_id}/tokens",
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer id")),
    request_body = CreateCustomerToken,
    responses(
        (status = 201, description = "Token minted; shown once", body = CustomerToken),
        (status = 403, description = "The caller's role may not mint tokens here", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_customer_token(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(customer_id): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<CreateCustomerToken>,
) -> Result<Secret<(StatusCode, Json<CustomerToken>)>, ApiError> {
    let token = customers::issue_token(
        &state,
        scope.store_id,
        scope.environment,
        scope.actor,
        customer_id,
        body.ttl_seconds,
    )
    .await?;
    Ok(Secret((StatusCode::CREATED, Json(token))))
}

/// The calling customer.
#[utoipa::path(
    get,
    path = "",
    tag = "me",
    responses(
        (status = 200, description = "The customer the token belongs to", body = Customer),
        (status = 401, description = "Missing, invalid or expired token", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_me(
    State(state): State<AppState>,
    scope: CustomerScope,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(
        customers::find(&state, scope.store_id, scope.environment, scope.customer_id).await?,
    ))
}
