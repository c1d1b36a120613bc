//! Where payments gets a provider client: the one place that asks for it.

use super::error::Error;
use crate::{
    credentials::CredentialError,
    providers::payment::PaymentProvider,
    state::AppState,
    types::{Environment, StoreId},
};

/// The provider client for a store's `provider` (the registry's default for a new payment) in
/// an environment. Flows build it before recording anything, so a store whose client cannot be
/// built gets `ProviderUnavailable` with nothing left behind (or the database's error, when
/// the credentials could not be read).
pub(crate) async fn client_for(
    state: &AppState,
    store: StoreId,
    provider: Option<&str>,
    env: Environment,
) -> Result<Box<dyn PaymentProvider>, Error> {
    crate::credentials::payment_client(state, store, provider, env)
        .await
        .map_err(unavailable)
}

/// Why no client could be had, as the payment's error. The database failing while the
/// credentials are read is the database's error (`503 database_unavailable`: retry with the same
/// key), never `provider_unavailable`, which tells the client to use a new key: a retried
/// request whose first attempt already recorded a transaction would then pay twice.
fn unavailable(err: CredentialError) -> Error {
    match err {
        CredentialError::Store(db) => Error::Db(db),
        err => {
            tracing::warn!(error = %err, "no payment provider client for the store");
            Error::ProviderUnavailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbError;

    #[test]
    fn a_database_failure_is_not_a_provider_failure() {
        let down = CredentialError::Store(DbError::Unavailable(sqlx::Error::PoolTimedOut));
        assert!(matches!(
            unavailable(down),
            Error::Db(DbError::Unavailable(_))
        ));
        assert!(matches!(
            unavailable(CredentialError::NotFound),
            Error::ProviderUnavailable
        ));
    }
}
