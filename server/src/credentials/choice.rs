//! Which registered payment provider a store's new payments use, per environment: one whose
//! credentials the store holds (the server's default when it chose none).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CredentialError, load, repo};
use crate::{
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// The provider new payments use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderChoice {
    /// A registered payment provider (`sandbox`, `stripe`).
    pub provider: String,
    /// `false`: the server's default, the store chose none.
    pub chosen: bool,
    /// Who chose it.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Body of `PUT /api/v1/admin/payment-provider`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProviderChoiceInput {
    /// A registered payment provider whose credentials the store holds in this environment.
    #[serde(default)]
    pub provider: String,
}

/// The provider the store's new payments use in `env`.
pub async fn payment_provider(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<ProviderChoice, CredentialError> {
    Ok(match choice(state, store, env).await? {
        Some(r) => ProviderChoice {
            provider: r.provider,
            chosen: true,
            updated_by: Some(r.updated_by),
            updated_at: Some(r.updated_at),
        },
        None => ProviderChoice {
            provider: state
                .payment_providers
                .default_adapter()
                .map(|a| a.name().to_owned())
                .unwrap_or_default(),
            chosen: false,
            updated_by: None,
            updated_at: None,
        },
    })
}

/// The name of the provider a new payment of the store uses (its choice, else the default).
pub(super) async fn chosen_name(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Option<String>, CredentialError> {
    Ok(choice(state, store, env).await?.map(|r| r.provider))
}

/// The store's choice, from the configuration cache (every payment asks).
async fn choice(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Option<repo::ChoiceRow>, CredentialError> {
    state
        .caches
        .config
        .get_or_load(store, env, || async {
            Ok(repo::choice(&state.db, store, env).await?)
        })
        .await
}

/// Chooses the provider of the store's new payments in `env`: registered, with the store's
/// credentials there (a choice that cannot pay is refused, not stored).
pub async fn choose_payment_provider(
    state: &AppState,
    store: StoreId,
    env: Environment,
    input: &ProviderChoiceInput,
    actor: &str,
) -> Result<ProviderChoice, CredentialError> {
    let provider = input.provider.trim();
    let Some(adapter) = state.payment_providers.get(provider) else {
        return Err(InvalidValue::new("provider", "not a payment provider of this server").into());
    };
    if load(state, store, adapter.name(), env).await?.is_none() {
        return Err(InvalidValue::new(
            "provider",
            format!("store its credentials for this environment first ({provider})"),
        )
        .into());
    }
    let mut tx = state.db.begin_write().await?;
    repo::put_choice(
        &mut tx,
        store,
        env,
        adapter.name(),
        actor,
        state.clock.now(),
    )
    .await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.config.changed();
    committed?;
    tracing::info!(provider, %env, actor, "payment provider chosen");
    payment_provider(state, store, env).await
}
