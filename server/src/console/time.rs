//! Times as a person reads them: in the store's time zone, to the minute, with how long ago
//! when that helps, and the exact instant for a tooltip. Stored times stay UTC; only the
//! console's views are shown in a zone.

use app::backend::Stamp;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use super::context::Signed;
use crate::state::AppState;

/// Relative times are shown up to this many days away; beyond, the date says more.
const RELATIVE_DAYS: i64 = 7;

/// How one page shows times: its zone and the moment it was rendered.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    zone: Tz,
    now: DateTime<Utc>,
}

impl Times {
    /// In UTC, for pages about the platform rather than a store.
    pub fn utc(state: &AppState) -> Self {
        Self {
            zone: Tz::UTC,
            now: state.clock.now(),
        }
    }

    /// In the time zone of the store the console shows (UTC when none is open, or its zone
    /// is not one this build knows).
    pub fn of(state: &AppState, signed: &Signed) -> Self {
        let zone = signed
            .current_store()
            .and_then(|s| s.timezone.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        Self {
            zone,
            now: state.clock.now(),
        }
    }

    /// In `zone`, now (for tests of what depends on the zone alone).
    #[cfg(test)]
    pub fn in_zone(zone: Tz) -> Self {
        Self {
            zone,
            now: Utc::now(),
        }
    }

    /// When the day `date` begins in the store's zone: a date typed in a filter means the
    /// merchant's day, not UTC's. Where the zone skips midnight (a DST change at 00:00), the
    /// day begins at its first instant that exists.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        let mut local = date.and_time(chrono::NaiveTime::MIN);
        for _ in 0..4 {
            if let Some(t) = self.zone.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            local += chrono::Duration::minutes(30);
        }
        date.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// `t` as the console shows it.
    pub fn stamp(&self, t: DateTime<Utc>) -> Stamp {
        let local = t.with_timezone(&self.zone);
        Stamp {
            text: local.format("%Y-%m-%d %H:%M %Z").to_string(),
            relative: relative(self.now.signed_duration_since(t)),
            exact: local.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// `age` (how long before now; negative for the future) in words, or `None` when it is more
/// than a week either way.
fn relative(age: chrono::Duration) -> Option<String> {
    let future = age < chrono::Duration::zero();
    let age = age.abs();
    if age.num_days() > RELATIVE_DAYS {
        return None;
    }
    let amount = if age.num_minutes() < 1 {
        return Some("just now".to_owned());
    } else if age.num_hours() < 1 {
        format!("{} min", age.num_minutes())
    } else if age.num_days() < 1 {
        format!("{} h", age.num_hours())
    } else if age.num_days() == 1 {
        "1 day".to_owned()
    } else {
        format!("{} days", age.num_days())
    };
    Some(if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_day_begins_at_the_stores_midnight() {
        let at = Times::in_zone;
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(
            at(Tz::UTC).day_start(day).to_rfc3339(),
            "2026-07-01T00:00:00+00:00"
        );
        assert_eq!(
            at(chrono_tz::Asia::Tokyo).day_start(day).to_rfc3339(),
            "2026-06-30T15:00:00+00:00"
        );
        assert_eq!(
            at(chrono_tz::America::New_York).day_start(day).to_rfc3339(),
            "2026-07-01T04:00:00+00:00"
        );
        // Santiago's clocks go from 00:00 to 01:00 on its spring-forward day: 00:00 does not
        // exist there, and the day begins at 01:00 local, 04:00 UTC (not at UTC's midnight).
        let skipped = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(
            at(chrono_tz::America::Santiago)
                .day_start(skipped)
                .to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }

    fn times(zone: Tz) -> Times {
        Times {
            zone,
            now: Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn stamps_are_in_the_zone_to_the_minute_with_the_exact_value() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 8, 17, 36).unwrap()
            + Duration::nanoseconds(924_368_688);
        let berlin = times(Tz::Europe__Berlin).stamp(t);
        assert_eq!(berlin.text, "2026-12-04 09:17 CET");
        assert_eq!(berlin.exact, "2026-12-04T09:17:36.924+01:00");
        assert_eq!(berlin.relative.as_deref(), Some("3 h ago"));
        let utc = times(Tz::UTC).stamp(t);
        assert_eq!(utc.text, "2026-12-04 08:17 UTC");
        assert_eq!(utc.exact, "2026-12-04T08:17:36.924Z");
        // Summer time is the zone's own business.
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(
            times(Tz::Europe__Berlin).stamp(july).text,
            "2026-07-01 10:00 CEST"
        );
        assert_eq!(times(Tz::Europe__Berlin).stamp(july).relative, None);
    }

    #[test]
    fn relative_times_in_words_within_a_week() {
        let cases = [
            (Duration::seconds(20), Some("just now")),
            (Duration::minutes(5), Some("5 min ago")),
            (Duration::minutes(-5), Some("in 5 min")),
            (Duration::hours(23), Some("23 h ago")),
            (Duration::hours(30), Some("1 day ago")),
            (Duration::days(7), Some("7 days ago")),
            (Duration::days(-3), Some("in 3 days")),
            (Duration::days(8), None),
        ];
        for (age, words) in cases {
            assert_eq!(relative(age).as_deref(), words, "{age}");
        }
    }
}
