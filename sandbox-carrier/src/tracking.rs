//! What happens to a parcel after its label is bought: its scheduled timeline and its tracking
//! number. Pure rules; [`crate::progress`] records the events as their time comes.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// Destination postal code whose parcel ends in an exception.
pub const POSTAL_EXCEPTION: &str = "99901";
/// Destination postal code whose parcel is returned to sender.
pub const POSTAL_RETURNED: &str = "99902";
/// Destination postal code whose label purchase is answered late (after the timeout delay).
pub const POSTAL_SLOW_ANSWER: &str = "99903";
/// Destination postal code the carrier cannot deliver to.
pub const POSTAL_UNDELIVERABLE: &str = "00000";
/// Destination country the carrier does not serve.
pub const COUNTRY_NOT_SERVED: &str = "AQ";

/// The event a void records.
pub const VOIDED: &str = "VOIDED";
/// The first event of every label.
pub const LABEL_CREATED: &str = "LABEL_CREATED";

/// How a parcel's journey ends, decided by its destination postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `DELIVERED`.
    Delivered,
    /// `EXCEPTION` (postal code `99901`).
    Exception,
    /// `RETURNED_TO_SENDER` (postal code `99902`).
    Returned,
}

impl Outcome {
    /// The outcome for a destination postal code.
    pub fn for_postal_code(postal_code: Option<&str>) -> Self {
        match postal_code.map(str::trim) {
            Some(POSTAL_EXCEPTION) => Outcome::Exception,
            Some(POSTAL_RETURNED) => Outcome::Returned,
            _ => Outcome::Delivered,
        }
    }
}

/// One step of a label's timeline as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// 1-based position in the timeline.
    pub sequence: i32,
    /// Raw event code (`IN_TRANSIT`, …).
    pub code: &'static str,
    /// What a person reads.
    pub description: &'static str,
    /// Where it happens, if the carrier says.
    pub location: Option<String>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
}

/// The timeline of a label bought at `created` for a service of `estimated_days`, from
/// `origin` to `destination` (places as shown in events), ending in `outcome`:
///
/// | # | code | due |
/// |---|---|---|
/// | 1 | `LABEL_CREATED` | at purchase |
/// | 2 | `PICKED_UP` | +2 h |
/// | 3 | `IN_TRANSIT` | +12 h |
/// | 4 | `OUT_FOR_DELIVERY` | +(days × 24 − 8) h |
/// | 5 | `DELIVERED`, `EXCEPTION` or `RETURNED_TO_SENDER` | +(days × 24) h |
pub fn schedule(
    created: DateTime<Utc>,
    estimated_days: i32,
    origin: &str,
    destination: &str,
    outcome: Outcome,
) -> Vec<Planned> {
    let hours = |h: i64| created + Duration::hours(h);
    let days = i64::from(estimated_days.max(1));
    let (code, description, location) = match outcome {
        Outcome::Delivered => ("DELIVERED", "Delivered", destination),
        Outcome::Exception => ("EXCEPTION", "Recipient address not accessible", destination),
        Outcome::Returned => ("RETURNED_TO_SENDER", "Returned to sender", origin),
    };
    let steps = [
        (LABEL_CREATED, "Label created", None, created),
        (
            "PICKED_UP",
            "Picked up by the carrier",
            Some(origin),
            hours(2),
        ),
        ("IN_TRANSIT", "In transit", None, hours(12)),
        (
            "OUT_FOR_DELIVERY",
            "Out for delivery",
            Some(destination),
            hours(days * 24 - 8),
        ),
        (code, description, Some(location), hours(days * 24)),
    ];
    steps
        .into_iter()
        .zip(1..)
        .map(
            |((code, description, location, due_at), sequence)| Planned {
                sequence,
                code,
                description,
                location: location.map(str::to_owned),
                due_at,
            },
        )
        .collect()
}

/// A new tracking number: `SC` and 18 random digits (uniqueness is the database's to enforce).
pub fn new_tracking_number() -> String {
    let mut rng = rand::thread_rng();
    let digits: String = (0..18)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect();
    format!("SC{digits}")
}

/// Whether `s` has the shape of a tracking number.
pub fn is_tracking_number(s: &str) -> bool {
    s.len() == 20 && s.starts_with("SC") && s.bytes().skip(2).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_are_sc_and_18_digits() {
        for _ in 0..100 {
            let n = new_tracking_number();
            assert!(is_tracking_number(&n), "{n}");
        }
        assert_ne!(new_tracking_number(), new_tracking_number());
        assert!(!is_tracking_number("SC12345678901234567"));
        assert!(!is_tracking_number("XX123456789012345678"));
        assert!(!is_tracking_number("SC12345678901234567a"));
    }

    #[test]
    fn the_schedule_follows_the_service_days_and_ends_by_postal_code() {
        let t0: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().expect("time");
        let plan = schedule(t0, 5, "Austin, US", "Denver, US", Outcome::Delivered);
        let steps: Vec<_> = plan
            .iter()
            .map(|p| (p.sequence, p.code, (p.due_at - t0).num_hours()))
            .collect();
        assert_eq!(
            steps,
            vec![
                (1, "LABEL_CREATED", 0),
                (2, "PICKED_UP", 2),
                (3, "IN_TRANSIT", 12),
                (4, "OUT_FOR_DELIVERY", 112),
                (5, "DELIVERED", 120),
            ]
        );
        assert_eq!(plan[1].location.as_deref(), Some("Austin, US"));
        assert_eq!(plan[4].location.as_deref(), Some("Denver, US"));

        let overnight = schedule(t0, 1, "a", "b", Outcome::Exception);
        assert_eq!((overnight[3].due_at - t0).num_hours(), 16);
        assert_eq!(overnight[4].code, "EXCEPTION");
        assert_eq!(overnight[4].description, "Recipient address not accessible");
        let returned = schedule(t0, 2, "a", "b", Outcome::Returned);
        assert_eq!(returned[4].code, "RETURNED_TO_SENDER");
        assert_eq!(returned[4].location.as_deref(), Some("a"));
    }

    #[test]
    fn outcomes_by_postal_code() {
        assert_eq!(Outcome::for_postal_code(Some("99901")), Outcome::Exception);
        assert_eq!(Outcome::for_postal_code(Some(" 99902 ")), Outcome::Returned);
        assert_eq!(Outcome::for_postal_code(Some("99903")), Outcome::Delivered);
        assert_eq!(Outcome::for_postal_code(None), Outcome::Delivered);
    }
}
