//! Console users: the bootstrapped platform admin and merchant users of stores.

use axum::{Json, extract::State, http::StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::principal::{PlatformAdmin, Role},
    db::{Db, DbError},
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    idempotency::Secret,
    on_db, passwords,
    state::AppState,
    types::{Email, StoreId, UserId},
};

/// Email of the generated first admin when none is configured.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@cassa.local";

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
    #[schema(value_type = Option<String>, format = Password)]
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

/// A user's membership in a store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreUser {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The store.
    pub store_id: StoreId,
    /// Their role in the store.
    pub role: Role,
    /// The generated password when none was given (existing users keep theirs); shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
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
    super::stores::find(&state, store_id).await?;
    let role = Role::from(body.role);
    let (user_id, generated_password) = match find_user_id(&state.db, &body.email).await? {
        Some(id) => (id, None),
        None => {
            let (password, generated) = match body.password {
                Some(p) => (p, None),
                None => {
                    let p = passwords::generate();
                    let shown = p.expose_secret().to_owned();
                    (p, Some(shown))
                }
            };
            // A generated password travelled in an answer: its owner must replace it.
            let must_change = generated.is_some();
            let id = create_user(&state, &body.email, password, false, must_change).await?;
            (id, generated)
        }
    };
    const SQL: &str = "INSERT INTO store_memberships (store_id, user_id, role, created_at) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (store_id, user_id) DO NOTHING";
    let inserted = on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(store_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(state.clock.now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    if inserted == 0 {
        return Err(ApiError::Conflict(
            "this user is already a member of the store",
        ));
    }
    Ok(Secret((
        StatusCode::CREATED,
        Json(StoreUser {
            user_id,
            email: body.email.as_str().to_owned(),
            store_id,
            role,
            generated_password,
        }),
    )))
}

async fn find_user_id(db: &Db, email: &Email) -> Result<Option<UserId>, ApiError> {
    const SQL: &str = "SELECT id FROM users WHERE email = $1";
    let row: Option<(UserId,)> =
        on_db!(db, pool => sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await)
            .map_err(DbError::from)?;
    Ok(row.map(|r| r.0))
}

/// Inserts a user with an argon2id hash of `password`. An existing email is a 409.
/// `must_change_password` makes every API call and console page but the password change
/// refuse them until they choose their own.
pub async fn create_user(
    state: &AppState,
    email: &Email,
    password: SecretString,
    is_platform_admin: bool,
    must_change_password: bool,
) -> Result<UserId, ApiError> {
    let hash = state.passwords.hash(password).await?;
    let id = UserId::new();
    const SQL: &str = "INSERT INTO users (id, email, password_hash, is_platform_admin, \
                       must_change_password, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING";
    let inserted = on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(id)
            .bind(email.as_str())
            .bind(&hash)
            .bind(is_platform_admin)
            .bind(must_change_password)
            .bind(state.clock.now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    if inserted == 0 {
        return Err(ApiError::Conflict("a user with this email already exists"));
    }
    Ok(id)
}

/// Creates the first platform admin when none exists: from the configured email and password,
/// or with a generated password printed once in the log so a first run leads into the console.
pub async fn bootstrap_admin(
    state: &AppState,
    email: Option<&str>,
    password: Option<SecretString>,
) -> Result<(), ApiError> {
    const SQL: &str = "SELECT COUNT(*) FROM users WHERE is_platform_admin = TRUE";
    let admins: i64 = on_db!(&state.db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await)
        .map_err(DbError::from)?;
    if admins > 0 {
        return Ok(());
    }
    let email = Email::parse(email.unwrap_or(DEFAULT_ADMIN_EMAIL))?;
    match password {
        Some(password) => {
            create_user(state, &email, password, true, false).await?;
            tracing::info!(email = %email, "created the platform admin from CASSA_ADMIN_EMAIL");
        }
        None => {
            let password = passwords::generate();
            let shown = password.expose_secret().to_owned();
            // It went to the log: the admin must replace it at first sign-in.
            create_user(state, &email, password, true, true).await?;
            // Printed once, on the first run only: the newcomer's way into the console.
            tracing::warn!(
                email = %email,
                password = %shown,
                "created the first platform admin with a generated password; sign in and choose \
                 a new one (required at first sign-in; set CASSA_ADMIN_EMAIL and \
                 CASSA_ADMIN_PASSWORD to choose them)"
            );
        }
    }
    Ok(())
}
