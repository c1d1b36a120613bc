//! Where payments gets a provider client: the one place that knows which provider serves a
//! store's environment.

use super::error::Error;
use crate::{
    providers::sandbox::{self, client::SandboxClient},
    state::AppState,
    types::{Environment, StoreId},
};

/// The provider client for a store's environment. Flows build it before recording anything,
/// so a store whose client cannot be built gets `ProviderUnavailable` with nothing left behind.
pub(crate) async fn client_for(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<SandboxClient, Error> {
    sandbox::client_for(state, store, env, state.config.provider_timeout)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "no payment provider client for the store");
            Error::ProviderUnavailable
        })
}
