//! The sandbox payment provider: a simulated remote PSP reached over HTTP.

pub mod client;
pub mod psp_host;

use std::time::Duration;

use crate::{
    config::RunMode,
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
    /// The stored `base_url` is not allowed (stored before the rule, or the allow-list
    /// changed since): no request is made.
    #[error("base_url refused: {0}")]
    Egress(#[from] crate::providers::egress::EgressError),
    /// Production does not mount the in-process PSP, and the credentials name no other.
    #[error("the sandbox PSP is not mounted in production; set a base_url")]
    NotMounted,
}

/// The sandbox PSP client for a store and environment, from its encrypted credentials. Without
/// a `base_url` the client calls the PSP mounted in this server; a stored one is checked
/// against the allow-list again here (it may predate the rule or a narrower list).
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
    let base_url = match base_url {
        Some(url) => {
            state.egress.check_provider_url(&url)?;
            url
        }
        None if state.config.run_mode == RunMode::Production => {
            return Err(ClientError::NotMounted);
        }
        None => format!("{}/sandbox-psp", state.self_url),
    };
    Ok(client::SandboxClient::new(
        state.egress.clone(),
        &base_url,
        api_key,
        timeout,
        state.db.clone(),
        Some(store),
    )?
    .with_webhook_secret(webhook_secret))
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
        let url = own_webhook_url(state, store);
        client
            .register_webhook_endpoint(&url, webhook_secret)
            .await?;
        Ok::<_, ClientError>(())
    }
    .await;
    match result {
        Ok(()) => {}
        // No PSP to register with; payments with these credentials are refused the same way.
        Err(ClientError::NotMounted) => {}
        Err(err) => {
            tracing::warn!(error = %err, %store, "could not register the sandbox webhook endpoint");
        }
    }
}

/// This server's webhook URL for `store`: the only URL the in-process PSP delivers to.
pub fn own_webhook_url(state: &AppState, store: StoreId) -> String {
    webhook_url_at(&state.self_url, store)
}

fn webhook_url_at(self_url: &str, store: StoreId) -> String {
    format!("{self_url}/api/v1/webhooks/sandbox/{store}")
}

/// Whether `url` is this server's sandbox webhook URL of some store.
pub fn is_own_webhook_url(state: &AppState, url: &str) -> bool {
    is_own_webhook_url_at(&state.self_url, url)
}

/// [`is_own_webhook_url`] for the server reachable at `self_url`.
pub fn is_own_webhook_url_at(self_url: &str, url: &str) -> bool {
    url.strip_prefix(self_url)
        .and_then(|rest| rest.strip_prefix("/api/v1/webhooks/sandbox/"))
        .and_then(|store| store.parse::<StoreId>().ok())
        .is_some_and(|store| webhook_url_at(self_url, store) == url)
}
