//! Per-store provider credentials, encrypted with the master key ring (DESIGN §7).
//!
//! Plaintext exists only inside this module and the provider that asks for it: the API and the
//! console get a masked view; nothing secret is logged. Which fields a provider takes, how
//! they are shown masked and what happens when they change is the provider adapter's business
//! (`providers::payment::PaymentAdapter`): nothing here names a provider.

mod choice;
mod connection;
pub mod keys;
mod repo;
mod routes;
mod service;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::keyring::{KeyRing, KeyRingError, Sealed};
pub use crate::providers::account::Credentials;
pub use choice::{ProviderChoice, ProviderChoiceInput, choose_payment_provider, payment_provider};
pub use connection::{ConnectionCheck, check_connection};
pub use routes::{admin_router, platform_router};
pub use service::{
    NewCredential, carrier_client, client_context, delete, insert_new, list, load, load_fresh,
    notify_changed, parse, payment_client, prepare_new, put, rewrap_batch, tax_client,
};

use crate::{
    db::DbError,
    providers::account::{ClientError, ConnectionError},
    types::{Environment, InvalidValue, StoreId},
};

/// Failures of credential storage and use.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Database failure.
    #[error(transparent)]
    Store(#[from] DbError),
    /// Encryption failure (unknown, retired key or tampered data).
    #[error(transparent)]
    Key(#[from] KeyRingError),
    /// No such provider, credential, key version or rotation.
    #[error("not found")]
    NotFound,
    /// A field of the request is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(&'static str),
    /// Payments made through the credentials still need them: `payments` hold funds on a
    /// card or await the provider's outcome, and deleting the credentials (or switching them
    /// to another account) would leave nothing able to settle, void or release them.
    #[error("{payments} payments still need these credentials")]
    InUse {
        /// How many payments.
        payments: i64,
    },
    /// The store has no credentials for the provider in this environment.
    #[error("no {provider} credentials for this store and environment")]
    Missing {
        /// The provider's name.
        provider: String,
    },
    /// The provider's client could not be built from the credentials.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The provider did not confirm the credentials.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

impl From<crate::keyring::ElsewhereError> for CredentialError {
    fn from(e: crate::keyring::ElsewhereError) -> Self {
        match e {
            crate::keyring::ElsewhereError::Db(e) => CredentialError::Store(e),
            crate::keyring::ElsewhereError::Key(e) => CredentialError::Key(e),
        }
    }
}

impl From<sqlx::Error> for CredentialError {
    fn from(e: sqlx::Error) -> Self {
        CredentialError::Store(e.into())
    }
}

/// A credential as the API and console show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialView {
    /// Provider.
    pub provider: String,
    /// Environment.
    pub environment: Environment,
    /// Masked hints per field.
    #[schema(value_type = Object)]
    pub masked: serde_json::Value,
    /// Master key version the blob is encrypted with.
    pub key_version: u32,
    /// First stored.
    pub created_at: DateTime<Utc>,
    /// Last replaced or re-encrypted.
    pub updated_at: DateTime<Utc>,
}

/// Associated data: the ciphertext is valid only in this row, store, provider, environment and
/// key version.
fn aad(id: Uuid, store: StoreId, provider: &str, env: Environment, version: u32) -> Vec<u8> {
    format!(
        "cassa/provider_credentials/v1|{id}|{store}|{}|{}|{version}",
        provider,
        env.as_str()
    )
    .into_bytes()
}
