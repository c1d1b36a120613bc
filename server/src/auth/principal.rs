//! Who is calling: resolves `Authorization: Bearer …` into a principal and the scope it acts in.
//!
//! Handlers take one of [`StoreScope`] (`/api/v1/admin`), [`PlatformAdmin`] (`/api/v1/platform`)
//! or [`CustomerScope`] (`/api/v1/me`) as an extractor; every query they run is keyed by the
//! store (and environment, and customer) found here, never by anything else in the request.
//! A user who must change their (generated) password gets `403 password_change_required` from
//! all of them; only [`ConsoleUser`] (the password change itself) lets them through.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::{DateTime, Duration, Utc};

use super::tokens::{self, TokenKind};
use crate::{
    cache::CachedPrincipal,
    db::DbError,
    http::problem::ApiError,
    on_db,
    state::AppState,
    types::{ApiKeyId, CustomerId, Environment, StoreId, UserId},
};

/// Header selecting the store when a console user's token calls a store-level endpoint.
pub const STORE_HEADER: &str = "cassa-store";
/// Header selecting the environment for a console user's token (default `sandbox`).
pub const ENVIRONMENT_HEADER: &str = "cassa-environment";

/// `last_used_at` is refreshed at most this often, so a busy key does not cost a write per request.
fn last_used_resolution() -> Duration {
    Duration::seconds(60)
}

/// A console user's role in one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control, including API keys and production credentials.
    Owner,
    /// Day-to-day operations.
    Staff,
}

impl Role {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }

    /// Parses the database spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// Who acts inside a store scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A store secret key.
    ApiKey(ApiKeyId),
    /// A console user with a role (platform admins act as owners).
    User {
        /// The user.
        user_id: UserId,
        /// Their role in the store.
        role: Role,
    },
}

/// A store and environment, resolved from the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreScope {
    /// The store every query is scoped by.
    pub store_id: StoreId,
    /// The environment every query is scoped by.
    pub environment: Environment,
    /// Who acts.
    pub actor: Actor,
}

/// A platform administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformAdmin {
    /// The administrator's user id.
    pub user_id: UserId,
}

/// A customer of one store, acting through a customer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerScope {
    /// The customer's store.
    pub store_id: StoreId,
    /// The environment the customer lives in.
    pub environment: Environment,
    /// The customer.
    pub customer_id: CustomerId,
}

/// Any authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A store secret key.
    StoreKey {
        /// The key.
        key_id: ApiKeyId,
        /// Its store.
        store_id: StoreId,
        /// Its environment.
        environment: Environment,
    },
    /// A console user through a bearer token.
    User {
        /// The user.
        user_id: UserId,
        /// Whether they administer the platform.
        is_platform_admin: bool,
        /// Whether they must choose a new password before anything else.
        must_change_password: bool,
    },
    /// A customer token.
    Customer(CustomerScope),
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Looks up the bearer secret of a request and spends a token of an API key's request bucket
/// (`429 rate_limited` when it is empty).
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    // Resolved (and counted) once per request: the idempotency layer may have done it already.
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(*principal);
    }
    let principal = resolve_uncounted(state, parts).await?;
    if let (Principal::StoreKey { key_id, .. }, Some(limiter)) =
        (&principal, &state.limits.api_keys)
    {
        limiter
            .check(key_id, state.clock.now())
            .map_err(|retry_after| {
                metrics::counter!("api_key_rate_limited_total").increment(1);
                ApiError::RateLimited(retry_after)
            })?;
    }
    Ok(principal)
}

async fn resolve_uncounted(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let secret = bearer(parts).ok_or(ApiError::Unauthorized)?;
    let kind = TokenKind::of(secret).ok_or(ApiError::Unauthorized)?;
    let hash = tokens::hash(secret);
    let now = state.clock.now();
    let cache = &state.caches.principals;
    if let Some(hit) = cache.get(&hash)
        && hit.expires_at.is_none_or(|at| at > now)
    {
        return Ok(hit.principal);
    }
    let generation = cache.generation();
    let (principal, expires_at) = lookup(state, kind, &hash, now).await?;
    cache.insert(
        generation,
        hash,
        CachedPrincipal {
            principal,
            expires_at,
        },
    );
    Ok(principal)
}

/// The principal behind a token's hash, from the database, with the token's expiry.
async fn lookup(
    state: &AppState,
    kind: TokenKind,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(Principal, Option<DateTime<Utc>>), ApiError> {
    match kind {
        TokenKind::SandboxKey | TokenKind::ProductionKey => {
            Ok((resolve_store_key(state, kind, hash, now).await?, None))
        }
        TokenKind::User => {
            const SQL: &str = "SELECT u.id, u.is_platform_admin, u.must_change_password, \
                               t.expires_at FROM user_tokens t \
                               JOIN users u ON u.id = t.user_id \
                               WHERE t.token_hash = $1 AND t.expires_at > $2";
            let row: Option<(UserId, bool, bool, DateTime<Utc>)> = on_db!(&state.db, pool => {
                sqlx::query_as(SQL).bind(hash).bind(now).fetch_optional(pool).await
            })
            .map_err(DbError::from)?;
            let (user_id, is_platform_admin, must_change_password, expires_at) =
                row.ok_or(ApiError::Unauthorized)?;
            let principal = Principal::User {
                user_id,
                is_platform_admin,
                must_change_password,
            };
            Ok((principal, Some(expires_at)))
        }
        TokenKind::Customer => {
            const SQL: &str = "SELECT store_id, environment, customer_id, expires_at \
                               FROM customer_tokens WHERE token_hash = $1 AND expires_at > $2";
            let row: Option<(StoreId, String, CustomerId, DateTime<Utc>)> =
                on_db!(&state.db, pool => {
                    sqlx::query_as(SQL).bind(hash).bind(now).fetch_optional(pool).await
                })
                .map_err(DbError::from)?;
            let (store_id, environment, customer_id, expires_at) =
                row.ok_or(ApiError::Unauthorized)?;
            let principal = Principal::Customer(CustomerScope {
                store_id,
                environment: parse_environment(&environment)?,
                customer_id,
            });
            Ok((principal, Some(expires_at)))
        }
    }
}

async fn resolve_store_key(
    state: &AppState,
    kind: TokenKind,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Principal, ApiError> {
    const SQL: &str = "SELECT id, store_id, environment, last_used_at FROM api_keys \
                       WHERE key_hash = $1 AND revoked_at IS NULL";
    let row: Option<(ApiKeyId, StoreId, String, Option<DateTime<Utc>>)> =
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(hash).fetch_optional(pool).await)
            .map_err(DbError::from)?;
    let (key_id, store_id, environment, last_used_at) = row.ok_or(ApiError::Unauthorized)?;
    let environment = parse_environment(&environment)?;
    // The prefix is part of the hashed secret, so a mismatch means a corrupt row, not a guess.
    let expected = match kind {
        TokenKind::ProductionKey => Environment::Production,
        _ => Environment::Sandbox,
    };
    if environment != expected {
        return Err(ApiError::Unauthorized);
    }
    if last_used_at.is_none_or(|t| now - t >= last_used_resolution()) {
        const TOUCH: &str = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1";
        on_db!(&state.db, pool => sqlx::query(TOUCH).bind(key_id).bind(now).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(DbError::from)?;
    }
    Ok(Principal::StoreKey {
        key_id,
        store_id,
        environment,
    })
}

fn parse_environment(raw: &str) -> Result<Environment, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "unknown environment {raw:?} in the database"
        ))
    })
}

impl Principal {
    /// Whether this is a user who must change their password before anything else.
    pub fn must_change_password(&self) -> bool {
        matches!(
            self,
            Principal::User {
                must_change_password: true,
                ..
            }
        )
    }
}

/// The caller, unless they must change their password first.
async fn resolve_usable(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let principal = resolve(state, parts).await?;
    if principal.must_change_password() {
        return Err(ApiError::PasswordChangeRequired);
    }
    Ok(principal)
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

impl FromRequestParts<AppState> for StoreScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve_usable(state, parts).await? {
            Principal::StoreKey {
                key_id,
                store_id,
                environment,
            } => Ok(StoreScope {
                store_id,
                environment,
                actor: Actor::ApiKey(key_id),
            }),
            Principal::User {
                user_id,
                is_platform_admin,
                ..
            } => {
                let store_id: StoreId = header(parts, STORE_HEADER)
                    .and_then(|v| v.parse().ok())
                    .ok_or(ApiError::Validation(crate::types::InvalidValue::new(
                        "Cassa-Store",
                        "a console user's token needs the Cassa-Store header naming the store",
                    )))?;
                let environment = match header(parts, ENVIRONMENT_HEADER) {
                    None => Environment::Sandbox,
                    Some(v) => v.parse().map_err(|_| {
                        ApiError::Validation(crate::types::InvalidValue::new(
                            "Cassa-Environment",
                            "must be sandbox or production",
                        ))
                    })?,
                };
                let role = membership_role(state, store_id, user_id, is_platform_admin).await?;
                Ok(StoreScope {
                    store_id,
                    environment,
                    actor: Actor::User { user_id, role },
                })
            }
            Principal::Customer(_) => Err(ApiError::Forbidden),
        }
    }
}

/// The user's role in `store_id`; platform admins act as owners of existing stores.
pub async fn membership_role(
    state: &AppState,
    store_id: StoreId,
    user_id: UserId,
    is_platform_admin: bool,
) -> Result<Role, ApiError> {
    const SQL: &str = "SELECT m.role FROM stores s \
                       LEFT JOIN store_memberships m ON m.store_id = s.id AND m.user_id = $2 \
                       WHERE s.id = $1";
    let row: Option<(Option<String>,)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store_id).bind(user_id).fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    match row {
        Some((Some(role),)) => Role::parse(&role)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown role {role:?}"))),
        Some((None,)) if is_platform_admin => Ok(Role::Owner),
        _ => Err(ApiError::Forbidden),
    }
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve_usable(state, parts).await? {
            Principal::User {
                user_id,
                is_platform_admin: true,
                ..
            } => Ok(PlatformAdmin { user_id }),
            _ => Err(ApiError::Forbidden),
        }
    }
}

/// A console user through a bearer token, even one who must change their password: only for
/// the password change itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The user.
    pub user_id: UserId,
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve(state, parts).await? {
            Principal::User { user_id, .. } => Ok(ConsoleUser { user_id }),
            _ => Err(ApiError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for CustomerScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve_usable(state, parts).await? {
            Principal::Customer(scope) => Ok(scope),
            _ => Err(ApiError::Forbidden),
        }
    }
}
