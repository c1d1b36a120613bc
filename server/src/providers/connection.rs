//! A connection check's failures read from the shared transport's: a refused key is the
//! merchant's to fix, anything else passes or is the provider's refusal of the request. Apart
//! from `account.rs` (which `payment.rs` builds on) so neither file needs the other.

use super::{account::ConnectionError, payment::ProviderError};

impl From<ProviderError> for ConnectionError {
    fn from(err: ProviderError) -> Self {
        use ProviderError as E;
        match err {
            E::Refused {
                status: status @ (401 | 403),
                code,
            } => ConnectionError::AuthFailed { status, code },
            // A rate limit says nothing about the key: try again later.
            E::Refused { status: 429, code } => ConnectionError::Unavailable(code),
            E::Refused { code, .. } | E::Rejected { code } | E::Declined { code } => {
                ConnectionError::Rejected(code)
            }
            E::Retryable(why) | E::UnknownOutcome(why) => ConnectionError::Unavailable(why),
        }
    }
}
