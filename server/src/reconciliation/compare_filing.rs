//! What one tax transaction's filing with a tax service finds. Pure: the tax the ledger
//! committed (or reversed) must have reached the service that quoted it; a filing the service
//! refused, or one still not through after the threshold, is an exception.

use chrono::{DateTime, Utc};

use super::ItemKind;

/// Where a filing stands, as the outbox records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingState {
    /// Waiting for its turn or a retry.
    Pending,
    /// Being sent.
    Processing,
    /// The service took it.
    Sent,
    /// The service refused it (it never booked the tax).
    Failed,
}

impl FilingState {
    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(FilingState::Pending),
            "processing" => Some(FilingState::Processing),
            "sent" => Some(FilingState::Sent),
            "failed" => Some(FilingState::Failed),
            _ => None,
        }
    }
}

/// Compares a filing with what the ledger committed. `None`: still on its way within the
/// threshold.
pub fn compare_filing(
    state: FilingState,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> Option<ItemKind> {
    match state {
        FilingState::Sent => Some(ItemKind::Matched),
        FilingState::Failed => Some(ItemKind::MissingAtProvider),
        FilingState::Pending | FilingState::Processing => {
            (now - created_at > stale_after).then_some(ItemKind::StaleUnknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minutes)
    }

    fn check(state: FilingState, age_minutes: i64) -> Option<ItemKind> {
        compare_filing(state, at(-age_minutes), at(0), chrono::Duration::hours(1))
    }

    #[test]
    fn a_filing_the_service_took_matches_and_a_refused_one_is_missing_there() {
        assert_eq!(check(FilingState::Sent, 5), Some(ItemKind::Matched));
        assert_eq!(
            check(FilingState::Failed, 5),
            Some(ItemKind::MissingAtProvider)
        );
    }

    #[test]
    fn a_filing_on_its_way_is_judged_by_its_age() {
        for state in [FilingState::Pending, FilingState::Processing] {
            assert_eq!(check(state, 30), None);
            assert_eq!(check(state, 90), Some(ItemKind::StaleUnknown));
        }
    }

    #[test]
    fn stored_spellings() {
        assert_eq!(FilingState::parse("sent"), Some(FilingState::Sent));
        assert_eq!(FilingState::parse("delivered"), None);
    }
}
