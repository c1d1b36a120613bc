//! Where payments gets a provider client: the one place that asks for it.

use super::error::Error;
use crate::{
    providers::payment::PaymentProvider,
    state::AppState,
    types::{Environment, StoreId},
};

/// The provider client for a store's `provider` (the registry's default for a new payment) in
/// an environment. Flows build it before recording anything, so a store whose client cannot be
/// built gets `ProviderUnavailable` with nothing left behind.
pub(crate) async fn client_for(
    state: &AppState,
    store: StoreId,
    provider: Option<&str>,
    env: Environment,
) -> Result<Box<dyn PaymentProvider>, Error> {
    crate::credentials::payment_client(state, store, provider, env)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "no payment provider client for the store");
            Error::ProviderUnavailable
        })
}
