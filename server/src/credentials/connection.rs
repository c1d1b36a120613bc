//! Checking a store's stored credentials with their provider: who the key belongs to, asked
//! without moving money, so a wrong key shows before a customer pays.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CredentialError, client_context, load_fresh};
use crate::{
    providers::account::ProviderAccount,
    state::AppState,
    types::{Environment, StoreId},
};

/// What the provider says about the credentials of a store in one environment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionCheck {
    /// The provider asked.
    pub provider: String,
    /// The environment whose credentials were used.
    pub environment: Environment,
    /// The account they belong to.
    pub account: ProviderAccount,
    /// When the provider answered.
    pub checked_at: DateTime<Utc>,
}

/// Asks `provider` who the store's credentials in `env` belong to. Only that store's row in
/// that environment is ever used: none is `NotFound`, never another's.
pub async fn check_connection(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
    correlation_id: &str,
) -> Result<ConnectionCheck, CredentialError> {
    let adapter = state
        .account_adapter(provider)
        .ok_or(CredentialError::NotFound)?;
    // Fresh: a merchant checks right after replacing a key, possibly on another instance.
    let credentials = load_fresh(state, store, adapter.name(), env)
        .await?
        .ok_or(CredentialError::NotFound)?;
    let ctx = client_context(state, store, env);
    let checked = adapter
        .check_connection(&ctx, &credentials, correlation_id)
        .await;
    match checked {
        Ok(account) => {
            tracing::info!(provider = adapter.name(), %env, account = %account.id,
                "provider connection checked");
            Ok(ConnectionCheck {
                provider: adapter.name().to_owned(),
                environment: env,
                account,
                checked_at: state.clock.now(),
            })
        }
        Err(err) => {
            // The error names the provider's reason code, never a key.
            tracing::warn!(provider = adapter.name(), %env, error = %err,
                "provider connection check failed");
            Err(err.into())
        }
    }
}
