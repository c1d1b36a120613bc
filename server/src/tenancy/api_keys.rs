//! Store secret keys: shown once, stored as a hash, listed masked, revocable.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::{
        policy,
        principal::StoreScope,
        tokens::{self, NewSecret, TokenKind},
    },
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    idempotency::Secret,
    on_db,
    state::AppState,
    types::{ApiKeyId, Environment, StoreId},
};

/// Inserts a key row; shared with store creation, which issues the first sandbox key.
pub(crate) const INSERT_SQL: &str = "INSERT INTO api_keys \
    (id, store_id, environment, name, key_hash, display_hint, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// A store secret key as listed: never the secret itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    /// Key id.
    pub id: ApiKeyId,
    /// Label given at creation.
    pub name: String,
    /// `sandbox` (`sk_test_`) or `production` (`sk_live_`).
    pub environment: Environment,
    /// Masked form for recognition, e.g. `sk_test_Ab12…9xYz`.
    pub display_hint: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful use (refreshed at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked keys are rejected.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly created key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key as it will be listed.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: store it now, it cannot be shown again.
    pub secret: String,
}

/// Body of `POST /api/v1/admin/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKey {
    /// Label, 1–200 characters.
    pub name: String,
}

type KeyRow = (
    ApiKeyId,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn from_row(row: KeyRow) -> Result<ApiKey, ApiError> {
    let (id, name, environment, display_hint, created_at, last_used_at, revoked_at) = row;
    Ok(ApiKey {
        id,
        name,
        environment: environment
            .parse()
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?,
        display_hint,
        created_at,
        last_used_at,
        revoked_at,
    })
}

/// Generates a key for `environment` (the caller inserts it with [`INSERT_SQL`]).
pub(crate) fn new_key(environment: Environment) -> NewSecret {
    tokens::generate(match environment {
        Environment::Sandbox => TokenKind::SandboxKey,
        Environment::Production => TokenKind::ProductionKey,
    })
}

/// Creates a key for the scope's store and environment; `name` is validated here, so the API
/// and the console apply the same rule.
pub async fn create(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    name: &str,
) -> Result<CreatedApiKey, ApiError> {
    let name = super::parse_name("name", name)?;
    let id = ApiKeyId::new();
    let now = state.clock.now();
    let secret = new_key(environment);
    on_db!(&state.db, pool => {
        sqlx::query(INSERT_SQL)
            .bind(id)
            .bind(store_id)
            .bind(environment.as_str())
            .bind(&name)
            .bind(&secret.hash)
            .bind(&secret.display_hint)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    Ok(CreatedApiKey {
        key: ApiKey {
            id,
            name,
            environment,
            display_hint: secret.display_hint,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        },
        secret: tokens::reveal(&secret.plaintext),
    })
}

/// Keys of the scope's store and environment, oldest first.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    page: PageQuery,
) -> Result<Page<ApiKey>, ApiError> {
    let limit = page.limit()?;
    const SQL: &str = "SELECT id, name, environment, display_hint, created_at, last_used_at, \
                       revoked_at FROM api_keys \
                       WHERE store_id = $1 AND environment = $2 AND id > $3 ORDER BY id LIMIT $4";
    let rows: Vec<KeyRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL)
            .bind(store_id)
            .bind(environment.as_str())
            .bind(page.after())
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
    })
    .map_err(DbError::from)?;
    let keys = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(keys, limit))
}

/// Revokes a key of the scope; another store's (or environment's) key is a 404.
pub async fn revoke(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    key_id: ApiKeyId,
) -> Result<ApiKey, ApiError> {
    let now = state.clock.now();
    // COALESCE keeps the first revocation time when revoking twice.
    const SQL: &str = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $4) \
                       WHERE id = $1 AND store_id = $2 AND environment = $3 \
                       RETURNING id, name, environment, display_hint, created_at, last_used_at, \
                       revoked_at";
    let row: Option<KeyRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL)
            .bind(key_id)
            .bind(store_id)
            .bind(environment.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await
    })
    .map_err(DbError::from)?;
    // A revoked key stops working here at once (elsewhere within the cache's lifetime).
    state.caches.principals.clear();
    from_row(row.ok_or(ApiError::NotFound)?)
}

/// Lists the secret keys of the caller's store and environment (masked).
#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "api keys",
    params(PageQuery),
    responses(
        (status = 200, description = "Keys, masked", body = Page<ApiKey>),
        (status = 401, description = "Missing or invalid credential", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    Ok(Json(
        list(&state, scope.store_id, scope.environment, page).await?,
    ))
}

/// Creates a secret key for the caller's store and environment. Owners only (console users);
/// the secret is in this response and never again.
#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "api keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "Key created; `secret` is shown once", body = CreatedApiKey),
        (status = 403, description = "Not a store owner", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_key(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<Secret<(StatusCode, Json<CreatedApiKey>)>, ApiError> {
    policy::create_key(scope.actor)?;
    let created = create(&state, scope.store_id, scope.environment, &body.name).await?;
    Ok(Secret((StatusCode::CREATED, Json(created))))
}

/// Revokes a secret key of the caller's store and environment. Any key may revoke a key of its
/// environment (a leaked key can be killed by the key itself); console users revoke production
/// keys as owners only; only owners create keys.
#[utoipa::path(
    delete,
    path = "/api-keys/{key_id}",
    tag = "api keys",
    params(("key_id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "Key revoked", body = ApiKey),
        (status = 403, description = "A staff member and a production key", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such key in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(key_id): ApiPath<ApiKeyId>,
) -> Result<Json<ApiKey>, ApiError> {
    policy::revoke_key(scope.actor, scope.environment)?;
    Ok(Json(
        revoke(&state, scope.store_id, scope.environment, key_id).await?,
    ))
}
