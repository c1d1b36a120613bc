//! `/api/v1/admin/members`: a store's console members.
//!
//! Every change is `policy::manage_members`'s (owners; a key is not a person), the same rule
//! the console's Settings → Team asks.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::users::RoleInput;
use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        idempotency::Secret,
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    tenancy::{
        Member, StoreUser,
        members::{self, Change},
    },
    types::{Email, InvalidValue, UserId},
};

/// Routes of this module (under `/api/v1/admin`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
}

/// Body of `POST /api/v1/admin/members`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMember {
    /// The person's email (their console login); a malformed one is `422 validation_failed`
    /// with `field: email`.
    // Text, parsed by the handler: the JSON decoder's refusal would name no field.
    #[schema(example = "staff@example.com", format = Email)]
    pub email: String,
    /// `owner` or `staff`.
    pub role: RoleInput,
}

/// Body of `PATCH /api/v1/admin/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMember {
    /// The new role, `owner` or `staff`. Required: checked after the member is found, so a
    /// request about another store's member is a 404 whatever its body.
    #[schema(required = true, nullable = false)]
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

/// Adds a person to the caller's store. Owners only.
///
/// Someone without a Cassa account gets one with a generated password, in
/// `generated_password` of this answer only (a replay with the same Idempotency-Key repeats
/// it; it is stored sealed), which they must change at their first sign-in. Someone with an
/// account signs in with their own and the field is absent.
#[utoipa::path(
    post,
    path = "/members",
    tag = "members",
    request_body = AddMember,
    responses(
        (status = 201, description = "Added; `generated_password` when the account is new",
            body = StoreUser),
        (status = 403, description = "Not an owner (a key is not one)", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Already a member of this store", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Not an email address (`field`: `email`), or no or an \
            unknown role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn add_member(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<Secret<(StatusCode, Json<StoreUser>)>, ApiError> {
    policy::manage_members(scope.actor)?;
    let email = Email::parse(&body.email)?;
    let added = members::add(&state, scope.store_id, &email, body.role.into()).await?;
    Ok(Secret((StatusCode::CREATED, Json(added))))
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
