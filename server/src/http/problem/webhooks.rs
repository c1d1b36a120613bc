//! Webhook failures as problems.

use super::ApiError;
use crate::webhooks::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Signature(err) => ApiError::InvalidSignature(err),
            Error::InvalidBody(why) => ApiError::InvalidBody(why),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::NotReplayable(why) => ApiError::InvalidStateTransition(why),
            Error::SecretsUnreadable => {
                ApiError::Internal(anyhow::anyhow!("webhook secrets unreadable"))
            }
            Error::Db(err) => err.into(),
        }
    }
}
