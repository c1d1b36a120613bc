//! `/api/v1/admin/credentials` (stores) and `/api/v1/platform/keys` (platform admins).

use axum::{Extension, Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ConnectionCheck, CredentialView, ProviderChoice, ProviderChoiceInput, keys};
use crate::{
    auth::{
        policy,
        principal::{PlatformAdmin, StoreScope},
    },
    http::{
        extract::{ApiJson, ApiPath},
        middleware::RequestId,
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::Environment,
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_credentials))
        .routes(routes!(put_credentials, delete_credentials))
        .routes(routes!(check_connection))
        .routes(routes!(get_payment_provider, put_payment_provider))
}

/// The payment provider the store's new payments use in the caller's environment.
#[utoipa::path(get, path = "/payment-provider", tag = "credentials",
    responses((status = 200, description = "The provider", body = ProviderChoice)),
    security(("bearer" = [])))]
pub async fn get_payment_provider(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<ProviderChoice>, ApiError> {
    Ok(Json(
        super::payment_provider(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Chooses the payment provider of the store's new payments in the caller's environment
/// (`sandbox` or `stripe`): its credentials must be stored first. Payments already made keep
/// their provider.
#[utoipa::path(put, path = "/payment-provider", tag = "credentials",
    request_body = ProviderChoiceInput,
    responses(
        (status = 200, description = "Chosen", body = ProviderChoice),
        (status = 403, description = "This credential may not manage that environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Not a payment provider, or no credentials for it", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_payment_provider(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<ProviderChoiceInput>,
) -> Result<Json<ProviderChoice>, ApiError> {
    may_manage(&scope, scope.environment)?;
    Ok(Json(
        super::choose_payment_provider(
            &state,
            scope.store_id,
            scope.environment,
            &body,
            &scope.actor.audit_name(),
        )
        .await?,
    ))
}

/// Platform routes (under `/api/v1/platform`).
pub fn platform_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_keys))
        .routes(routes!(start_rotation))
        .routes(routes!(get_rotation))
        .routes(routes!(retire_key))
}

/// A `sk_test_` key manages sandbox credentials only and a `sk_live_` key production ones;
/// console users may manage sandbox credentials, and production ones as owners.
fn may_manage(scope: &StoreScope, env: Environment) -> Result<(), ApiError> {
    Ok(policy::manage_credentials(
        scope.actor,
        scope.environment,
        env,
    )?)
}

/// A provider this server does not know, like an unknown environment, is a 404.
fn parse_path<'a>(
    state: &AppState,
    provider: &'a str,
    environment: &str,
) -> Result<(&'a str, Environment), ApiError> {
    if state.account_adapter(provider).is_none() {
        return Err(ApiError::NotFound);
    }
    let environment = environment.parse().map_err(|_| ApiError::NotFound)?;
    Ok((provider, environment))
}

/// Masked credentials of the caller's store in the caller's environment.
#[utoipa::path(
    get,
    path = "/credentials",
    tag = "credentials",
    responses((status = 200, description = "Masked credentials", body = Vec<CredentialView>)),
    security(("bearer" = []))
)]
pub async fn list_credentials(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<Vec<CredentialView>>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Stores or replaces a provider's credentials. Sandbox provider: `{"api_key",
/// "webhook_secret", "base_url"?}`; Stripe: `{"secret_key", "webhook_secret", "account_id"?,
/// "multicapture"?}`.
/// The answer is masked; the secrets are never shown again. A new key for the same account is
/// always accepted; another account only while no payment still needs the stored one.
#[utoipa::path(
    put,
    path = "/credentials/{provider}/{environment}",
    tag = "credentials",
    params(
        ("provider" = String, Path, description = "A registered provider: `sandbox`, `stripe`, `sandbox_carrier`"),
        ("environment" = String, Path, description = "`sandbox` or `production`"),
    ),
    request_body(content = Object, description = "The provider's fields"),
    responses(
        (status = 200, description = "Stored; masked view", body = CredentialView),
        (status = 403, description = "This credential may not manage that environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`credentials_in_use`: they name another account (a changed \
            `account_id`) while payments made through the stored one still hold funds or await \
            their outcome; void or settle them first", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put_credentials(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath((provider, environment)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<CredentialView>, ApiError> {
    let (provider, environment) = parse_path(&state, &provider, &environment)?;
    may_manage(&scope, environment)?;
    let credentials = super::parse(&state, provider, &body)?;
    let view = super::put(&state, scope.store_id, environment, &credentials).await?;
    tracing::info!(provider, %environment, "provider credentials stored");
    Ok(Json(view))
}

/// Deletes a provider's credentials, unless payments made through them still hold funds or
/// await their outcome.
#[utoipa::path(
    delete,
    path = "/credentials/{provider}/{environment}",
    tag = "credentials",
    params(
        ("provider" = String, Path, description = "A registered provider: `sandbox`, `stripe`, `sandbox_carrier`"),
        ("environment" = String, Path, description = "`sandbox` or `production`"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "None stored", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`credentials_in_use`: payments made through them still hold \
            funds or await their outcome; void or settle them first", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_credentials(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath((provider, environment)): ApiPath<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    let (provider, environment) = parse_path(&state, &provider, &environment)?;
    may_manage(&scope, environment)?;
    super::delete(&state, scope.store_id, provider, environment).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Asks the provider who the store's credentials in the caller's environment belong to (no
/// money moves): the account's id, name, country, default currency and whether it may take
/// payments. Stripe: `GET /v1/account` (of the Connect account when one is stored).
#[utoipa::path(
    get,
    path = "/credentials/{provider}/connection",
    tag = "credentials",
    params(
        ("provider" = String, Path, description = "A registered provider: `sandbox`, `stripe`"),
    ),
    responses(
        (status = 200, description = "The provider confirmed the credentials", body = ConnectionCheck),
        (status = 403, description = "This credential may not use that environment's secrets", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No credentials for this provider in this store and environment", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`provider_auth_failed`: the provider refused the credentials; \
            `provider_rejected`: it refused the request; `connection_check_unsupported`", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "`provider_unavailable`: the provider could not be reached", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn check_connection(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(provider): ApiPath<String>,
    request_id: Option<Extension<RequestId>>,
) -> Result<Json<ConnectionCheck>, ApiError> {
    policy::check_credentials(scope.actor, scope.environment)?;
    let correlation_id = request_id
        .map(|Extension(id)| id.as_str().to_owned())
        .unwrap_or_default();
    Ok(Json(
        super::check_connection(
            &state,
            scope.store_id,
            &provider,
            scope.environment,
            &correlation_id,
        )
        .await?,
    ))
}

/// Master key versions and recent rotations.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOverview {
    /// Versions known to the database.
    pub versions: Vec<keys::KeyVersion>,
    /// Recent rotations, newest first.
    pub rotations: Vec<keys::Rotation>,
}

/// Master key versions (never the keys) and rotation progress.
#[utoipa::path(
    get,
    path = "/keys",
    tag = "platform",
    responses((status = 200, description = "Key versions and rotations", body = KeyOverview)),
    security(("bearer" = []))
)]
pub async fn get_keys(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
) -> Result<Json<KeyOverview>, ApiError> {
    Ok(Json(KeyOverview {
        versions: keys::list_versions(&state).await?,
        rotations: keys::list_rotations(&state).await?,
    }))
}

/// Body of `POST /api/v1/platform/keys/rotations`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartRotation {
    /// The configured version to make primary.
    pub version: u32,
}

/// Makes a configured version primary and re-encrypts every credential onto it in the
/// background (batches, resumable after a restart).
#[utoipa::path(
    post,
    path = "/keys/rotations",
    tag = "platform",
    request_body = StartRotation,
    responses(
        (status = 202, description = "Rotation started", body = keys::Rotation),
        (status = 409, description = "A rotation is running, or the version is retired", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn start_rotation(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiJson(body): ApiJson<StartRotation>,
) -> Result<(axum::http::StatusCode, Json<keys::Rotation>), ApiError> {
    let rotation = keys::start_and_run(&state, body.version).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(rotation)))
}

/// Progress of one rotation.
#[utoipa::path(
    get,
    path = "/keys/rotations/{rotation_id}",
    tag = "platform",
    params(("rotation_id" = String, Path, description = "Rotation id")),
    responses((status = 200, description = "The rotation", body = keys::Rotation)),
    security(("bearer" = []))
)]
pub async fn get_rotation(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(rotation_id): ApiPath<Uuid>,
) -> Result<Json<keys::Rotation>, ApiError> {
    Ok(Json(keys::find_rotation(&state, rotation_id).await?))
}

/// Retires a version no row uses any more: it never encrypts or decrypts again.
#[utoipa::path(
    post,
    path = "/keys/{version}/retire",
    tag = "platform",
    params(("version" = u32, Path, description = "Key version")),
    responses(
        (status = 200, description = "Retired", body = keys::KeyVersion),
        (status = 409, description = "Primary, or still in use", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn retire_key(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(version): ApiPath<u32>,
) -> Result<Json<keys::KeyVersion>, ApiError> {
    Ok(Json(keys::retire(&state, version).await?))
}
