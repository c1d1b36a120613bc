//! The API keys page: the current store's secret keys in the current environment.

use app::backend::{ApiKeyView, ConsoleResult, RevealedSecret};
use axum::http::request::Parts;

use super::{context::require_signed, first_page, shown, time::Times};
use crate::{
    auth::policy, http::problem::ApiError, state::AppState, tenancy::api_keys, types::ApiKeyId,
};

/// The keys, masked.
pub async fn list(state: &AppState, req: &Parts) -> ConsoleResult<Vec<ApiKeyView>> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let keys = api_keys::list(state, signed.store()?, signed.environment(), first_page())
        .await
        .map_err(shown)?;
    Ok(keys
        .data
        .into_iter()
        .map(|k| ApiKeyView {
            id: k.id.to_string(),
            name: k.name,
            environment: k.environment.as_str().to_owned(),
            display_hint: k.display_hint,
            created_at: times.stamp(k.created_at),
            last_used_at: k.last_used_at.map(|t| times.stamp(t)),
            revoked: k.revoked_at.is_some(),
        })
        .collect())
}

/// A new key; its secret is shown this once.
pub async fn create(state: &AppState, req: &Parts, name: String) -> ConsoleResult<RevealedSecret> {
    let signed = require_signed(state, req).await?;
    let (store_id, actor) = signed.actor(state).await?;
    policy::create_key(actor).map_err(shown)?;
    let created = api_keys::create(state, store_id, signed.environment(), &name)
        .await
        .map_err(shown)?;
    Ok(RevealedSecret {
        label: created.key.name,
        secret: created.secret,
    })
}

/// Revokes a key of the current store and environment.
pub async fn revoke(state: &AppState, req: &Parts, key_id: String) -> ConsoleResult<()> {
    let signed = require_signed(state, req).await?;
    let (store_id, actor) = signed.actor(state).await?;
    policy::revoke_key(actor, signed.environment()).map_err(shown)?;
    let key_id: ApiKeyId = key_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    api_keys::revoke(state, store_id, signed.environment(), key_id)
        .await
        .map_err(shown)?;
    Ok(())
}
