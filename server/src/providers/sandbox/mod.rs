//! The sandbox payment provider: a simulated remote PSP reached over HTTP.

pub mod client;
pub mod psp;
pub mod psp_webhooks;

use std::time::Duration;

use crate::{
    credentials::{self, CredentialError, Provider, ProviderSecrets},
    state::AppState,
    types::{Environment, StoreId},
};

/// Why no sandbox client could be made for a store.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Reading or decrypting the credentials failed.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The store has no sandbox-provider credentials in this environment.
    #[error("no sandbox provider credentials for this store and environment")]
    Missing,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Provider(#[from] crate::providers::payment::ProviderError),
}

/// The sandbox PSP client for a store and environment, from its encrypted credentials. Without
/// a `base_url` the client calls the PSP mounted in this server.
pub async fn client_for(
    state: &AppState,
    store: StoreId,
    env: Environment,
    timeout: Duration,
) -> Result<client::SandboxClient, ClientError> {
    let secrets = credentials::load(state, store, Provider::Sandbox, env)
        .await?
        .ok_or(ClientError::Missing)?;
    let ProviderSecrets::Sandbox {
        api_key,
        base_url,
        webhook_secret,
    } = secrets
    else {
        return Err(ClientError::Missing);
    };
    let base_url = base_url.unwrap_or_else(|| format!("{}/sandbox-psp", state.self_url));
    Ok(
        client::SandboxClient::new(&base_url, api_key, timeout, state.db.clone(), Some(store))?
            .with_webhook_secret(webhook_secret),
    )
}

/// Registers this server's webhook endpoint for the store with the sandbox PSP account of its
/// credentials, so the PSP's asynchronous outcomes reach `/api/v1/webhooks/sandbox/{store}`.
/// A failure is logged, never fatal: payments still resolve through the resolver job.
pub async fn register_webhooks(state: &AppState, store: StoreId, env: Environment) {
    let result = async {
        let secrets = credentials::load(state, store, Provider::Sandbox, env)
            .await?
            .ok_or(ClientError::Missing)?;
        let ProviderSecrets::Sandbox { webhook_secret, .. } = &secrets else {
            return Err(ClientError::Missing);
        };
        let client = client_for(state, store, env, Duration::from_secs(10)).await?;
        let url = format!("{}/api/v1/webhooks/sandbox/{store}", state.self_url);
        client
            .register_webhook_endpoint(&url, webhook_secret)
            .await?;
        Ok::<_, ClientError>(())
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, %store, "could not register the sandbox webhook endpoint");
    }
}
