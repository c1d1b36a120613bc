//! `/api/v1/platform/stores/{store_id}/users`: platform admins add console users to stores.

use axum::{Json, extract::State, http::StatusCode};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::principal::{PlatformAdmin, Role},
    http::idempotency::Secret,
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{StoreUser, users},
    types::{Email, StoreId},
};

/// Routes of this module (under `/api/v1/platform`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_store_user))
}

/// Body of `POST /api/v1/platform/stores/{store_id}/users`.
#[derive(Deserialize, ToSchema)]
pub struct CreateStoreUser {
    /// The user's email (their console login).
    pub email: Email,
    /// `owner` or `staff`.
    pub role: RoleInput,
    /// Initial password (at least 12 characters). Omitted: one is generated and returned once,
    /// and the user must change it at first sign-in.
    #[schema(value_type = Option<String>, format = Password, min_length = 12)]
    pub password: Option<SecretString>,
}

/// A role as accepted in requests.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleInput {
    /// Full control of the store.
    Owner,
    /// Day-to-day operations.
    Staff,
}

impl From<RoleInput> for Role {
    fn from(role: RoleInput) -> Role {
        match role {
            RoleInput::Owner => Role::Owner,
            RoleInput::Staff => Role::Staff,
        }
    }
}

/// Creates (or finds, by email) a console user and makes them a member of a store.
#[utoipa::path(
    post,
    path = "/stores/{store_id}/users",
    tag = "platform",
    params(("store_id" = String, Path, description = "Store id")),
    request_body = CreateStoreUser,
    responses(
        (status = 201, description = "Member added", body = StoreUser),
        (status = 404, description = "No such store", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Already a member", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_store_user(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(store_id): ApiPath<StoreId>,
    ApiJson(body): ApiJson<CreateStoreUser>,
) -> Result<Secret<(StatusCode, Json<StoreUser>)>, ApiError> {
    let user = users::add_to_store(
        &state,
        store_id,
        &body.email,
        Role::from(body.role),
        body.password,
    )
    .await?;
    Ok(Secret((StatusCode::CREATED, Json(user))))
}
