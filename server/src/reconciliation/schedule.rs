//! Each store's daily reconciliation: when its run of the previous day is queued, and the
//! scheduler that queues the runs that are due.

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Error, repo, service};
use crate::{
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// A time of day, UTC, to the minute (`HH:MM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DailyTime(u16);

impl DailyTime {
    pub const MIDNIGHT: DailyTime = DailyTime(0);

    /// `HH:MM` on a 24-hour clock.
    pub fn parse(text: &str) -> Option<Self> {
        let (h, m) = text.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(DailyTime(h * 60 + m))
    }

    /// From minutes after midnight, as stored.
    pub fn from_minutes(minutes: i32) -> Option<Self> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| *m < 24 * 60)
            .map(DailyTime)
    }

    pub fn minutes(self) -> i32 {
        i32::from(self.0)
    }

    /// The time of day of an instant.
    pub fn of(at: DateTime<Utc>) -> Self {
        // hour() < 24 and minute() < 60: the sum always fits.
        DailyTime((at.hour() * 60 + at.minute()) as u16)
    }
}

impl std::fmt::Display for DailyTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// When the store's daily run is queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Schedule {
    /// `HH:MM`, UTC: from this time each day the previous UTC day's run is queued (at the
    /// scheduler's next tick, `CASSA_RECONCILIATION_INTERVAL_SECS`; a day whose time fell
    /// between the last tick and midnight is queued the day after).
    pub daily_at: String,
    /// Whether the scheduler queues this store's runs at all (on-demand runs always work).
    pub enabled: bool,
    /// Who set it last (absent: the default, midnight and enabled).
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A new schedule.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ScheduleInput {
    /// `HH:MM`, UTC.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "03:30")]
    pub daily_at: String,
    /// Whether the scheduler queues runs (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

pub async fn schedule(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Schedule, Error> {
    Ok(match repo::schedule(&state.db, store, env).await? {
        None => Schedule {
            daily_at: DailyTime::MIDNIGHT.to_string(),
            enabled: true,
            updated_by: None,
            updated_at: None,
        },
        Some(row) => Schedule {
            daily_at: DailyTime::from_minutes(row.daily_at)
                .ok_or_else(|| Error::Corrupt(format!("daily_at {}", row.daily_at)))?
                .to_string(),
            enabled: row.enabled,
            updated_by: Some(row.updated_by),
            updated_at: Some(row.updated_at),
        },
    })
}

pub async fn put_schedule(
    state: &AppState,
    store: StoreId,
    env: Environment,
    actor: &str,
    input: &ScheduleInput,
) -> Result<Schedule, Error> {
    let at = DailyTime::parse(&input.daily_at)
        .ok_or_else(|| InvalidValue::new("daily_at", "a time of day as HH:MM (UTC)"))?;
    let row = repo::ScheduleRow {
        daily_at: at.minutes(),
        enabled: input.enabled,
        updated_by: actor.to_owned(),
        updated_at: state.clock.now(),
    };
    let mut tx = state.db.begin_write().await?;
    repo::put_schedule(&mut tx, store, env, &row).await?;
    tx.commit().await?;
    schedule(state, store, env).await
}

/// Queues yesterday's run (UTC) for every store and environment that had payments or shipments
/// then, whose daily time has come, and that has no run of that day yet; and the day before's,
/// whose time has passed for everyone, when no run of it exists (a daily time late in the day
/// can fall between two ticks of the scheduler and midnight). Returns how many were queued.
pub async fn schedule_due(state: &AppState) -> Result<usize, Error> {
    let now = state.clock.now();
    let today = now.date_naive();
    let (Some(yesterday), Some(before)) = (
        today.pred_opt(),
        today.pred_opt().and_then(|d| d.pred_opt()),
    ) else {
        return Ok(0);
    };
    // Past every daily time: the day before yesterday is due whatever the store's time.
    const ANY_TIME: i32 = 24 * 60;
    let mut queued = 0;
    for (day, next, minute) in [
        (before, yesterday, ANY_TIME),
        (yesterday, today, DailyTime::of(now).minutes()),
    ] {
        let window = (service::day_start(day), service::day_start(next));
        for (store, env) in repo::due_stores(&state.db, window.0, window.1, minute).await? {
            match service::queue(state, store, env, window, "scheduler").await {
                Ok(_) => queued += 1,
                // Another instance's scheduler got there first.
                Err(Error::AlreadyRunning) => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_of_day() {
        assert_eq!(DailyTime::parse("00:00"), Some(DailyTime::MIDNIGHT));
        assert_eq!(DailyTime::parse("02:30").map(DailyTime::minutes), Some(150));
        assert_eq!(
            DailyTime::parse("23:59").map(DailyTime::minutes),
            Some(1439)
        );
        for bad in [
            "24:00", "12:60", "2:30", "02:3", "0230", "", "ab:cd", "-1:00", "02:30:00",
        ] {
            assert_eq!(DailyTime::parse(bad), None, "{bad}");
        }
        assert_eq!(
            DailyTime::parse("07:05").map(|t| t.to_string()).as_deref(),
            Some("07:05")
        );
        assert_eq!(DailyTime::from_minutes(1440), None);
        assert_eq!(DailyTime::from_minutes(-1), None);
    }

    #[test]
    fn the_time_of_an_instant() {
        let at: DateTime<Utc> = "2026-12-03T13:47:59Z".parse().unwrap_or_default();
        assert_eq!(DailyTime::of(at).to_string(), "13:47");
    }
}
