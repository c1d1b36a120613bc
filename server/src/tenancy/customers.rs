//! A store's customers and the short-lived tokens that let them call `/api/v1/me`.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::{
        principal::{CustomerScope, StoreScope},
        tokens::{self, TokenKind},
    },
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    idempotency::Secret,
    on_db,
    state::AppState,
    types::{CustomerId, Email, Environment, StoreId},
};

/// Default lifetime of a customer token.
const DEFAULT_TOKEN_TTL_SECS: i64 = 3600;
/// Longest lifetime a store may ask for.
const MAX_TOKEN_TTL_SECS: i64 = 24 * 3600;

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

/// A store's customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    /// Customer id.
    pub id: CustomerId,
    /// Environment the customer lives in.
    pub environment: Environment,
    /// Contact email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/admin/customers`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCustomer {
    /// Contact email.
    pub email: Option<Email>,
    /// Display name, 1–200 characters.
    pub name: Option<String>,
}

/// Body of `POST /api/v1/admin/customers/{customer_id}/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateCustomerToken {
    /// Lifetime in seconds, 60–86400 (default 3600).
    pub ttl_seconds: Option<i64>,
}

/// A customer token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerToken {
    /// Send as `Authorization: Bearer <token>` to `/api/v1/me/...`.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

type CustomerRow = (
    CustomerId,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
);

fn from_row(row: CustomerRow) -> Result<Customer, ApiError> {
    let (id, environment, email, name, created_at) = row;
    Ok(Customer {
        id,
        environment: environment
            .parse()
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?,
        email,
        name,
        created_at,
    })
}

/// Finds a customer inside a store and environment; anything else is a 404.
pub async fn find(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
) -> Result<Customer, ApiError> {
    const SQL: &str = "SELECT id, environment, email, name, created_at FROM customers \
                       WHERE id = $1 AND store_id = $2 AND environment = $3";
    let row: Option<CustomerRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL)
            .bind(customer_id)
            .bind(store_id)
            .bind(environment.as_str())
            .fetch_optional(pool)
            .await
    })
    .map_err(DbError::from)?;
    from_row(row.ok_or(ApiError::NotFound)?)
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
    let name = body
        .name
        .as_deref()
        .map(|n| super::parse_name("name", n))
        .transpose()?;
    let customer = Customer {
        id: CustomerId::new(),
        environment: scope.environment,
        email: body.email.map(|e| e.as_str().to_owned()),
        name,
        created_at: state.clock.now(),
    };
    const SQL: &str = "INSERT INTO customers (id, store_id, environment, email, name, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(customer.id)
            .bind(scope.store_id)
            .bind(scope.environment.as_str())
            .bind(&customer.email)
            .bind(&customer.name)
            .bind(customer.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Reads a customer of the caller's store and environment.
#[utoipa::path(
    get,
    path = "/customers/{customer_id}",
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 404, description = "No such customer in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(customer_id): ApiPath<CustomerId>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(
        find(&state, scope.store_id, scope.environment, customer_id).await?,
    ))
}

/// Mints a short-lived token with which this customer calls `/api/v1/me/...`.
#[utoipa::path(
    post,
    path = "/customers/{customer_id}/tokens",
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer id")),
    request_body = CreateCustomerToken,
    responses(
        (status = 201, description = "Token minted; shown once", body = CustomerToken),
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
    let ttl = body.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if !(60..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        return Err(
            crate::types::InvalidValue::new("ttl_seconds", "must be between 60 and 86400").into(),
        );
    }
    let customer = find(&state, scope.store_id, scope.environment, customer_id).await?;
    let now = state.clock.now();
    let expires_at = now + Duration::seconds(ttl);
    let secret = tokens::generate(TokenKind::Customer);
    const SQL: &str = "INSERT INTO customer_tokens \
                       (token_hash, store_id, environment, customer_id, created_at, expires_at) \
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(&secret.hash)
            .bind(scope.store_id)
            .bind(scope.environment.as_str())
            .bind(customer.id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    Ok(Secret((
        StatusCode::CREATED,
        Json(CustomerToken {
            token: tokens::reveal(&secret.plaintext),
            expires_at,
        }),
    )))
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
        find(&state, scope.store_id, scope.environment, scope.customer_id).await?,
    ))
}
