//! A store's console members: listed by its users, re-roled and removed by its owners.
//!
//! A store always keeps one owner: the last one can be neither demoted nor removed. The check
//! and the change run in one write transaction that first locks the store's row, so two
//! owners demoting each other at the same moment cannot both pass it.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::users::RoleInput;
use crate::{
    auth::{
        policy,
        principal::{Actor, Role, StoreScope},
    },
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    on_db,
    state::AppState,
    types::{InvalidValue, StoreId, UserId},
};

/// Routes of this module (under `/api/v1/admin`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
}

/// A console user's membership of the caller's store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their email (console login).
    pub email: String,
    /// Their role in the store.
    pub role: Role,
    /// When they joined the store.
    pub created_at: DateTime<Utc>,
}

/// Body of `PATCH /api/v1/admin/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMember {
    /// The new role, `owner` or `staff`. Required: checked after the member is found, so a
    /// request about another store's member is a 404 whatever its body.
    pub role: Option<RoleInput>,
}

type MemberRow = (UserId, String, String, DateTime<Utc>);

fn from_row(row: MemberRow) -> Result<Member, ApiError> {
    let (user_id, email, role, created_at) = row;
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("role {role:?}")))?;
    Ok(Member {
        user_id,
        email,
        role,
        created_at,
    })
}

/// One member of `store_id`; another store's member (or nobody) is a 404.
pub async fn find(
    state: &AppState,
    store_id: StoreId,
    user_id: UserId,
) -> Result<Member, ApiError> {
    const SQL: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM store_memberships m \
                       JOIN users u ON u.id = m.user_id WHERE m.store_id = $1 AND m.user_id = $2";
    let row: Option<MemberRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store_id).bind(user_id).fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    from_row(row.ok_or(ApiError::NotFound)?)
}

/// Members of `store_id`, by user id.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    page: PageQuery,
) -> Result<Page<Member>, ApiError> {
    let limit = page.limit()?;
    const SQL: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM store_memberships m \
                       JOIN users u ON u.id = m.user_id \
                       WHERE m.store_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3";
    let rows: Vec<MemberRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL)
            .bind(store_id)
            .bind(page.after())
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
    })
    .map_err(DbError::from)?;
    let members = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(members, limit))
}

/// What to do to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Give the member this role.
    Role(Role),
    /// Remove the member from the store.
    Remove,
}

/// Applies `change` to `user_id`'s membership of `store_id`: the member afterwards (`None`
/// once removed). Another store's member is a 404; the last owner stays (`409 last_owner`).
pub async fn apply(
    state: &AppState,
    store_id: StoreId,
    user_id: UserId,
    change: Change,
) -> Result<Option<Member>, ApiError> {
    let lock = format!(
        "SELECT id FROM stores WHERE id = $1{}",
        state.db.lock_for_update_sql()
    );
    const MEMBER: &str = "SELECT m.user_id, u.email, m.role, m.created_at \
                          FROM store_memberships m JOIN users u ON u.id = m.user_id \
                          WHERE m.store_id = $1 AND m.user_id = $2";
    const OWNERS: &str =
        "SELECT COUNT(*) FROM store_memberships WHERE store_id = $1 AND role = 'owner'";
    const UPDATE: &str =
        "UPDATE store_memberships SET role = $3 WHERE store_id = $1 AND user_id = $2";
    const DELETE: &str = "DELETE FROM store_memberships WHERE store_id = $1 AND user_id = $2";
    let outcome: Result<Option<MemberRow>, MemberError> = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            sqlx::query(&lock).bind(store_id).fetch_optional(&mut *tx).await?;
            let row: Option<MemberRow> = sqlx::query_as(MEMBER)
                .bind(store_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id, email, role, created_at)) = row else {
                return Err(MemberError::NotFound);
            };
            let stays_owner = change == Change::Role(Role::Owner);
            if role == Role::Owner.as_str() && !stays_owner {
                let owners: i64 = sqlx::query_scalar(OWNERS)
                    .bind(store_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if owners <= 1 {
                    return Err(MemberError::LastOwner);
                }
            }
            let after = match change {
                Change::Role(new) => {
                    sqlx::query(UPDATE)
                        .bind(store_id)
                        .bind(user_id)
                        .bind(new.as_str())
                        .execute(&mut *tx)
                        .await?;
                    Some((id, email, new.as_str().to_owned(), created_at))
                }
                Change::Remove => {
                    sqlx::query(DELETE)
                        .bind(store_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    None
                }
            };
            tx.commit().await?;
            Ok(after)
        }
        .await
    });
    let after = outcome.map_err(|err| match err {
        MemberError::NotFound => ApiError::NotFound,
        MemberError::LastOwner => ApiError::LastOwner,
        MemberError::Db(e) => DbError::from(e).into(),
    })?;
    tracing::info!(%store_id, %user_id, ?change, "store membership changed");
    after.map(from_row).transpose()
}

/// Why a membership change stopped (the transaction rolls back).
enum MemberError {
    NotFound,
    LastOwner,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for MemberError {
    fn from(err: sqlx::Error) -> Self {
        MemberError::Db(err)
    }
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
    if let Actor::ApiKey(_) = scope.actor {
        return Err(ApiError::Forbidden);
    }
    Ok(Json(list(&state, scope.store_id, page).await?))
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
    find(&state, scope.store_id, user_id).await?;
    policy::manage_members(scope.actor)?;
    let role = body
        .role
        .ok_or_else(|| InvalidValue::new("role", "is required: owner or staff"))?;
    let member = apply(&state, scope.store_id, user_id, Change::Role(role.into())).await?;
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
    find(&state, scope.store_id, user_id).await?;
    policy::manage_members(scope.actor)?;
    apply(&state, scope.store_id, user_id, Change::Remove).await?;
    Ok(StatusCode::NO_CONTENT)
}
