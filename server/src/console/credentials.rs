//! The credentials page: the current store's provider credentials, masked, in the current
//! environment.

use app::backend::{ConsoleResult, CredentialRow};
use axum::http::request::Parts;

use super::{context::require_signed, shown, time::Times, told};
use crate::{
    auth::policy,
    credentials::{self, CredentialView},
    state::AppState,
};

fn row(view: CredentialView, times: &Times) -> CredentialRow {
    let masked = view
        .masked
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    CredentialRow {
        provider: view.provider,
        environment: view.environment.as_str().to_owned(),
        masked,
        key_version: view.key_version,
        updated_at: times.stamp(view.updated_at),
    }
}

/// The stored credentials, masked.
pub async fn list(state: &AppState, req: &Parts) -> ConsoleResult<Vec<CredentialRow>> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let rows = credentials::list(state, signed.store()?, signed.environment())
        .await
        .map_err(shown)?;
    Ok(rows.into_iter().map(|r| row(r, &times)).collect())
}

/// Stores or replaces a provider's credentials in the environment the console shows.
pub async fn put(
    state: &AppState,
    req: &Parts,
    provider: String,
    fields: Vec<(String, String)>,
) -> ConsoleResult<CredentialRow> {
    let signed = require_signed(state, req).await?;
    let (store_id, actor) = signed.actor(state).await?;
    let environment = signed.environment();
    policy::manage_credentials(actor, environment, environment).map_err(shown)?;
    if state.account_adapter(&provider).is_none() {
        return Err("Unknown provider.".to_owned());
    }
    let body: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let secrets = credentials::parse(state, &provider, &body.into()).map_err(told)?;
    let view = credentials::put(state, store_id, environment, &secrets)
        .await
        .map_err(shown)?;
    Ok(row(view, &Times::of(state, &signed)))
}
