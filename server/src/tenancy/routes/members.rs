//! `/api/v1/admin/members`: a store's console members.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::users::RoleInput;
use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{
        Member,
        members::{self, Change},
    },
    types::{InvalidValue, UserId},
};

/// Routes of this module (under `/api/v1/admin`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
}

/// Body of `PATCH /api/v1/admin/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMember {
    /// The new role, `owner` or `staff`. Required: checked after the member is found, so a
    /// request about another store's member is a 404 whatever its body.
    pub role: Option<RoleInput>,
}

/// Members of the caller's store (console users of the store only: keys are not people).
#[utoipa::path(
    get,
    path = "/members",
    tag = "members",
    params(PageQuery),
    responses(
        (status = 200, description = "Members", body = Page<Member>),
        (status = 403, description = "A store key", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_members(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Member>>, ApiError> {
    policy::list_members(scope.actor)?;
    Ok(Json(members::list(&state, scope.store_id, page).await?))
}

/// Changes a member's role. Owners only; the last owner cannot be demoted.
#[utoipa::path(
    patch,
    path = "/members/{user_id}",
    tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")),
    request_body = UpdateMember,
    responses(
        (status = 200, description = "The member with the new role", body = Member),
        (status = 403, description = "Not an owner", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this store", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No or an unknown role", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_member(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<Member>, ApiError> {
    // Found first: another store's member is a 404 for every caller, as a missing one.
    members::find(&state, scope.store_id, user_id).await?;
    policy::manage_members(scope.actor)?;
    let role = body
        .role
        .ok_or_else(|| InvalidValue::new("role", "is required: owner or staff"))?;
    let member = members::apply(&state, scope.store_id, user_id, Change::Role(role.into())).await?;
    member.map(Json).ok_or(ApiError::NotFound)
}

/// Removes a member from the store (their account stays). Owners only; the last owner stays.
#[utoipa::path(
    delete,
    path = "/members/{user_id}",
    tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an owner", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this store", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn remove_member(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    members::find(&state, scope.store_id, user_id).await?;
    policy::manage_members(scope.actor)?;
    members::apply(&state, scope.store_id, user_id, Change::Remove).await?;
    Ok(StatusCode::NO_CONTENT)
}
