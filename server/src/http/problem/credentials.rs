//! Credential and key failures as problems.

use super::ApiError;
use crate::{credentials::CredentialError, providers::account::ClientError};

impl From<CredentialError> for ApiError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::Store(e) => e.into(),
            CredentialError::NotFound => ApiError::NotFound,
            CredentialError::Invalid(invalid) => ApiError::Validation(invalid),
            CredentialError::Conflict(why) => ApiError::Conflict(why),
            // Nothing was sent to a provider: the store cannot pay with it right now.
            CredentialError::Missing { .. } => ApiError::ProviderUnavailable,
            CredentialError::Client(ClientError::Egress(_)) => {
                ApiError::ProviderRejected("egress_refused".to_owned())
            }
            CredentialError::Client(_) => ApiError::ProviderUnavailable,
            CredentialError::Key(e) => ApiError::Internal(e.into()),
        }
    }
}
