//! Credential and key failures as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::{
    credentials::CredentialError,
    providers::account::{ClientError, ConnectionError},
};

impl From<CredentialError> for ApiError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::Store(e) => e.into(),
            CredentialError::NotFound => ApiError::NotFound,
            CredentialError::Invalid(invalid) => ApiError::Validation(invalid),
            CredentialError::Conflict(why) => ApiError::Conflict(why),
            CredentialError::InUse { payments } => {
                let (which, state) = match payments {
                    1 => (
                        "1 payment".to_owned(),
                        "holds funds on a card or awaits the provider's outcome; void or settle it",
                    ),
                    n => (
                        format!("{n} payments"),
                        "hold funds on cards or await the provider's outcome; void or settle them",
                    ),
                };
                ApiError::Described {
                    status: StatusCode::CONFLICT,
                    code: "credentials_in_use",
                    title: "Credentials in use",
                    detail: format!(
                        "{which} made through these credentials still {state} first, then the \
                         credentials can be deleted or switched to another account"
                    ),
                }
            }
            // Nothing was sent to a provider: the store cannot pay with it right now.
            CredentialError::Missing { .. } => ApiError::ProviderUnavailable,
            CredentialError::Client(ClientError::Egress(_)) => {
                ApiError::ProviderRejected("egress_refused".to_owned())
            }
            CredentialError::Client(_) => ApiError::ProviderUnavailable,
            CredentialError::Key(e) => ApiError::Internal(e.into()),
            CredentialError::Connection(e) => connection(e),
        }
    }
}

/// A connection check's failure: the merchant's key (`provider_auth_failed`), or the provider
/// out of reach (`provider_unavailable`). Only the provider's reason code is shown.
fn connection(err: ConnectionError) -> ApiError {
    match err {
        ConnectionError::AuthFailed { status, code } => ApiError::Described {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "provider_auth_failed",
            title: "Provider refused the credentials",
            detail: format!(
                "the provider refused these credentials ({status} {code}); check the key and \
                 account id, then store them again"
            ),
        },
        ConnectionError::Rejected(code) => ApiError::ProviderRejected(code),
        ConnectionError::Client(ClientError::Egress(_)) => {
            ApiError::ProviderRejected("egress_refused".to_owned())
        }
        ConnectionError::Unsupported(provider) => ApiError::Described {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "connection_check_unsupported",
            title: "Connection check unsupported",
            detail: format!("the {provider} provider has no way to check a connection"),
        },
        ConnectionError::Unavailable(_) | ConnectionError::Client(_) => ApiError::Described {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "provider_unavailable",
            title: "Provider unavailable",
            detail: "the provider could not be reached or did not answer; try again shortly"
                .to_owned(),
        },
    }
}
