//! Stores (tenants): created by platform admins, each with a sandbox key from the start.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::api_keys::{self, INSERT_SQL as INSERT_KEY_SQL};
use crate::{
    auth::{principal::PlatformAdmin, tokens},
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    idempotency::Secret,
    on_db,
    state::AppState,
    types::{ApiKeyId, Currency, Environment, StoreId},
};

/// Routes of this module (under `/api/v1/platform`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store))
}

/// A store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Store {
    /// Store id.
    pub id: StoreId,
    /// Display name.
    pub name: String,
    /// Settlement currency (ISO 4217).
    pub currency: Currency,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/platform/stores`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateStore {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Settlement currency, ISO 4217 (e.g. `USD`).
    pub currency: String,
}

/// A new store with its first sandbox key, whose secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedStore {
    /// Store id.
    pub id: StoreId,
    /// The store.
    pub store: Store,
    /// A sandbox secret key (`sk_test_…`) for the store; shown once.
    pub sandbox_secret_key: String,
}

type StoreRow = (StoreId, String, String, DateTime<Utc>);

fn from_row(row: StoreRow) -> Result<Store, ApiError> {
    let (id, name, currency, created_at) = row;
    Ok(Store {
        id,
        name,
        currency: Currency::parse(&currency)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?,
        created_at,
    })
}

/// Creates a store, its first sandbox key and its sandbox credentials in one transaction.
/// Name and currency are validated here, so the API and the console apply the same rule.
pub async fn create(
    state: &AppState,
    name: &str,
    currency: &str,
) -> Result<CreatedStore, ApiError> {
    let name = super::parse_name("name", name)?;
    let currency = Currency::parse(currency.trim())?;
    let store = Store {
        id: StoreId::new(),
        name,
        currency,
        created_at: state.clock.now(),
    };
    let key = api_keys::new_key(Environment::Sandbox);
    // Every store starts with working sandbox credentials, so a first test payment just works.
    // Every new store can take test payments at once with the default provider's generated
    // sandbox credentials (when it can make them).
    let sandbox = match state
        .payment_providers
        .default_adapter()
        .and_then(|a| a.generate_sandbox_credentials())
    {
        Some(credentials) => Some(
            crate::credentials::prepare_new(state, store.id, Environment::Sandbox, credentials)
                .await?,
        ),
        None => None,
    };
    const SQL: &str = "INSERT INTO stores (id, name, currency, created_at) VALUES ($1, $2, $3, $4)";
    let mut tx = state.db.begin_write().await?;
    crate::on_tx!(&mut tx, conn => {
        async {
            sqlx::query(SQL)
                .bind(store.id)
                .bind(&store.name)
                .bind(store.currency.code())
                .bind(store.created_at)
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_KEY_SQL)
                .bind(ApiKeyId::new())
                .bind(store.id)
                .bind(Environment::Sandbox.as_str())
                .bind("Default sandbox key")
                .bind(&key.hash)
                .bind(&key.display_hint)
                .bind(store.created_at)
                .execute(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>(())
        }
        .await
    })
    .map_err(DbError::from)?;
    if let Some(credential) = &sandbox {
        crate::credentials::insert_new(
            &mut tx,
            store.id,
            Environment::Sandbox,
            credential,
            store.created_at,
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(credential) = &sandbox {
        credential
            .announce(state, store.id, Environment::Sandbox)
            .await;
    }
    Ok(CreatedStore {
        id: store.id,
        store,
        sandbox_secret_key: tokens::reveal(&key.plaintext),
    })
}

/// One store by id.
pub async fn find(state: &AppState, store_id: StoreId) -> Result<Store, ApiError> {
    const SQL: &str = "SELECT id, name, currency, created_at FROM stores WHERE id = $1";
    let row: Option<StoreRow> =
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(store_id).fetch_optional(pool).await)
            .map_err(DbError::from)?;
    from_row(row.ok_or(ApiError::NotFound)?)
}

/// Every store, oldest first.
pub async fn list(state: &AppState, page: PageQuery) -> Result<Page<Store>, ApiError> {
    let limit = page.limit()?;
    const SQL: &str =
        "SELECT id, name, currency, created_at FROM stores WHERE id > $1 ORDER BY id LIMIT $2";
    let rows: Vec<StoreRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL)
            .bind(page.after())
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
    })
    .map_err(DbError::from)?;
    let stores = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(stores, limit))
}

/// Creates a store (tenant). The response carries a sandbox secret key, shown once.
#[utoipa::path(
    post,
    path = "/stores",
    tag = "platform",
    request_body = CreateStore,
    responses(
        (status = 201, description = "Store created", body = CreatedStore),
        (status = 403, description = "Not a platform admin", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or currency", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_store(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiJson(body): ApiJson<CreateStore>,
) -> Result<Secret<(StatusCode, Json<CreatedStore>)>, ApiError> {
    let created = create(&state, &body.name, &body.currency).await?;
    tracing::info!(store_id = %created.id, "store created");
    Ok(Secret((StatusCode::CREATED, Json(created))))
}

/// Lists stores, oldest first.
#[utoipa::path(
    get,
    path = "/stores",
    tag = "platform",
    params(PageQuery),
    responses((status = 200, description = "Stores", body = Page<Store>)),
    security(("bearer" = []))
)]
pub async fn list_stores(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Store>>, ApiError> {
    Ok(Json(list(&state, page).await?))
}

/// Reads one store.
#[utoipa::path(
    get,
    path = "/stores/{store_id}",
    tag = "platform",
    params(("store_id" = String, Path, description = "Store id")),
    responses(
        (status = 200, description = "The store", body = Store),
        (status = 404, description = "No such store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_store(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(store_id): ApiPath<StoreId>,
) -> Result<Json<Store>, ApiError> {
    Ok(Json(find(&state, store_id).await?))
}
