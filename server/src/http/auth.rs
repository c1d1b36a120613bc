//! The principals as extractors: `auth::principal` resolves, this answers with problems.
//!
//! A request's principal is resolved (and its API key's request bucket spent) once: the
//! idempotency layer may have done it already and left it in the request's extensions.

use axum::{extract::FromRequestParts, http::request::Parts};

use super::problem::ApiError;
use crate::{
    auth::principal::{self, ConsoleUser, CustomerScope, PlatformAdmin, Principal, StoreScope},
    state::AppState,
};

/// The caller of a request, resolved once per request.
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(*principal);
    }
    Ok(principal::resolve(state, &parts.headers).await?)
}

/// The caller, unless they must change their password first.
async fn resolve_usable(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    Ok(principal::usable(resolve(state, parts).await?)?)
}

impl FromRequestParts<AppState> for StoreScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = resolve_usable(state, parts).await?;
        Ok(principal::store_scope(state, caller, &parts.headers).await?)
    }
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(principal::platform_admin(
            resolve_usable(state, parts).await?,
        )?)
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(principal::console_user(resolve(state, parts).await?)?)
    }
}

impl FromRequestParts<AppState> for CustomerScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(principal::customer_scope(
            resolve_usable(state, parts).await?,
        )?)
    }
}
