//! Who is calling: resolves a bearer secret into a principal and the scope it acts in.
//!
//! The edge turns these into extractors (`http::auth`): handlers take one of [`StoreScope`]
//! (`/api/v1/admin`), [`PlatformAdmin`] (`/api/v1/platform`) or [`CustomerScope`]
//! (`/api/v1/me`); every query they run is keyed by the store (and environment, and customer)
//! found here, never by anything else in the request. A user who must change their (generated)
//! password is refused by all of them; only [`ConsoleUser`] (the password change itself) lets
//! them through.

use ::http::{HeaderMap, header::AUTHORIZATION};
use chrono::{DateTime, Duration, Utc};

pub use crate::identity::{Actor, CustomerScope, Principal, Role};

use super::{
    Error, repo,
    tokens::{self, TokenKind},
};
use crate::{
    cache::CachedPrincipal,
    state::AppState,
    types::{Environment, InvalidValue, StoreId, UserId},
};

/// Header selecting the store when a console user's token calls a store-level endpoint.
pub const STORE_HEADER: &str = "cassa-store";
/// Header selecting the environment for a console user's token (default `sandbox`).
pub const ENVIRONMENT_HEADER: &str = "cassa-environment";

/// `last_used_at` is refreshed at most this often, so a busy key does not cost a write per request.
fn last_used_resolution() -> Duration {
    Duration::seconds(60)
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

/// A console user through a bearer token, even one who must change their password: only for
/// the password change itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The user.
    pub user_id: UserId,
}

/// The secret of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Looks up the bearer secret of a request's headers and spends a token of an API key's
/// request bucket ([`Error::RateLimited`] when it is empty). Call it once per request.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Principal, Error> {
    let secret = bearer(headers).ok_or(Error::Unauthorized)?;
    let principal = resolve_secret(state, secret).await?;
    if let (Principal::StoreKey { key_id, .. }, Some(limiter)) =
        (&principal, &state.limits.api_keys)
    {
        limiter
            .check(key_id, state.clock.now())
            .map_err(|retry_after| {
                metrics::counter!("api_key_rate_limited_total").increment(1);
                Error::RateLimited(retry_after)
            })?;
    }
    Ok(principal)
}

/// The principal behind a bearer secret, through the principal cache; nothing is counted.
pub async fn resolve_secret(state: &AppState, secret: &str) -> Result<Principal, Error> {
    let kind = TokenKind::of(secret).ok_or(Error::Unauthorized)?;
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
) -> Result<(Principal, Option<DateTime<Utc>>), Error> {
    match kind {
        TokenKind::SandboxKey | TokenKind::ProductionKey => {
            Ok((resolve_store_key(state, kind, hash, now).await?, None))
        }
        TokenKind::User => {
            let row = repo::find_user_token(&state.db, hash, now)
                .await?
                .ok_or(Error::Unauthorized)?;
            let principal = Principal::User {
                user_id: row.user_id,
                is_platform_admin: row.is_platform_admin,
                must_change_password: row.must_change_password,
            };
            Ok((principal, Some(row.expires_at)))
        }
        TokenKind::Customer => {
            let row = repo::find_customer_token(&state.db, hash, now)
                .await?
                .ok_or(Error::Unauthorized)?;
            let principal = Principal::Customer(CustomerScope {
                store_id: row.store_id,
                environment: row.environment,
                customer_id: row.customer_id,
            });
            Ok((principal, Some(row.expires_at)))
        }
    }
}

async fn resolve_store_key(
    state: &AppState,
    kind: TokenKind,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Principal, Error> {
    let key = repo::find_api_key(&state.db, hash)
        .await?
        .ok_or(Error::Unauthorized)?;
    // The prefix is part of the hashed secret, so a mismatch means a corrupt row, not a guess.
    let expected = match kind {
        TokenKind::ProductionKey => Environment::Production,
        _ => Environment::Sandbox,
    };
    if key.environment != expected {
        return Err(Error::Unauthorized);
    }
    if key
        .last_used_at
        .is_none_or(|t| now - t >= last_used_resolution())
    {
        repo::touch_api_key(&state.db, key.id, now).await?;
    }
    Ok(Principal::StoreKey {
        key_id: key.id,
        store_id: key.store_id,
        environment: key.environment,
    })
}

/// The principal, unless it is a user who must change their password first.
pub fn usable(principal: Principal) -> Result<Principal, Error> {
    if principal.must_change_password() {
        return Err(Error::PasswordChangeRequired);
    }
    Ok(principal)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The store and environment `principal` acts in: a key's own, or the ones a console user's
/// token names in the `Cassa-Store` and `Cassa-Environment` headers (as a member, or as a
/// platform admin). Customers have no store scope.
pub async fn store_scope(
    state: &AppState,
    principal: Principal,
    headers: &HeaderMap,
) -> Result<StoreScope, Error> {
    match principal {
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
            let store_id: StoreId = header(headers, STORE_HEADER)
                .and_then(|v| v.parse().ok())
                .ok_or(InvalidValue::new(
                    "Cassa-Store",
                    "a console user's token needs the Cassa-Store header naming the store",
                ))?;
            let environment = match header(headers, ENVIRONMENT_HEADER) {
                None => Environment::Sandbox,
                Some(v) => v.parse().map_err(|_| {
                    InvalidValue::new("Cassa-Environment", "must be sandbox or production")
                })?,
            };
            let role = membership_role(state, store_id, user_id, is_platform_admin).await?;
            Ok(StoreScope {
                store_id,
                environment,
                actor: Actor::User { user_id, role },
            })
        }
        Principal::Customer(_) => Err(Error::Forbidden),
    }
}

/// The user's role in `store_id`; platform admins act as owners of existing stores.
pub async fn membership_role(
    state: &AppState,
    store_id: StoreId,
    user_id: UserId,
    is_platform_admin: bool,
) -> Result<Role, Error> {
    match repo::membership_role(&state.db, store_id, user_id).await? {
        Some(Some(role)) => Ok(role),
        Some(None) if is_platform_admin => Ok(Role::Owner),
        _ => Err(Error::Forbidden),
    }
}

/// A platform admin, or [`Error::Forbidden`].
pub fn platform_admin(principal: Principal) -> Result<PlatformAdmin, Error> {
    match principal {
        Principal::User {
            user_id,
            is_platform_admin: true,
            ..
        } => Ok(PlatformAdmin { user_id }),
        _ => Err(Error::Forbidden),
    }
}

/// A console user (whatever their password state), or [`Error::Forbidden`].
pub fn console_user(principal: Principal) -> Result<ConsoleUser, Error> {
    match principal {
        Principal::User { user_id, .. } => Ok(ConsoleUser { user_id }),
        _ => Err(Error::Forbidden),
    }
}

/// A customer, or [`Error::Forbidden`].
pub fn customer_scope(principal: Principal) -> Result<CustomerScope, Error> {
    match principal {
        Principal::Customer(scope) => Ok(scope),
        _ => Err(Error::Forbidden),
    }
}
