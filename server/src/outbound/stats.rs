//! How well a store's endpoints receive their deliveries: per endpoint and UTC day, the
//! attempts made and how many the endpoint answered with a 2xx. The console draws a sparkline
//! from it. One query for every endpoint of the store and environment, whatever their number.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Error;
use crate::{
    db::Db,
    on_db,
    state::AppState,
    types::{Environment, StoreId, WebhookEndpointId},
};

/// Days the console shows (today included).
pub const DAYS: usize = 7;

/// One endpoint's attempts on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHealth {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Attempts made that day.
    pub attempts: i64,
    /// Of them, answered with a 2xx.
    pub succeeded: i64,
}

impl DayHealth {
    /// The share of attempts that succeeded, `None` on a day without attempts (nothing to
    /// rate: the sparkline leaves a gap rather than drawing a 0 % or 100 % that did not happen).
    pub fn ratio(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.succeeded as f64 / self.attempts as f64)
    }
}

/// One endpoint's last [`DAYS`] days, oldest first, one entry per day (days without attempts
/// included, with zeros).
pub type Health = Vec<DayHealth>;

#[derive(Debug, sqlx::FromRow)]
struct BucketRow {
    endpoint_id: WebhookEndpointId,
    day: i64,
    attempts: i64,
    succeeded: i64,
}

/// Start of each of the `days` UTC days ending with the one holding `now`, oldest first, and
/// the start of the next day (the exclusive end).
fn day_starts(now: DateTime<Utc>, days: usize) -> (Vec<DateTime<Utc>>, DateTime<Utc>) {
    let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let starts = (0..days)
        .rev()
        .map(|back| today - Duration::days(back as i64))
        .collect();
    (starts, today + Duration::days(1))
}

/// `CASE` mapping an attempt time to its day's index: the boundaries are parameters (the same
/// text on both databases, where a date function would not be), `$first` the start of day 1.
fn day_index_sql(days: usize, first: usize) -> String {
    if days <= 1 {
        return "0".to_owned();
    }
    let mut sql = String::from("CASE");
    for index in (1..days).rev() {
        sql.push_str(&format!(
            " WHEN a.attempted_at >= ${} THEN {index}",
            first + index - 1
        ));
    }
    sql.push_str(" ELSE 0 END");
    sql
}

/// Per endpoint of the store in `env` with attempts in the period, its attempts grouped by
/// day index.
async fn buckets(
    db: &Db,
    store: StoreId,
    env: Environment,
    starts: &[DateTime<Utc>],
    end: DateTime<Utc>,
) -> Result<Vec<BucketRow>, sqlx::Error> {
    // $1 store, $2 environment, $3 start of the period, $4 its end, $5… the later days' starts.
    // The join keeps it to the store's endpoints; each one's attempts come from
    // `webhook_delivery_attempts_endpoint (endpoint_id, attempted_at)`.
    let sql = format!(
        "SELECT a.endpoint_id AS endpoint_id, CAST({} AS BIGINT) AS day, \
         CAST(COUNT(*) AS BIGINT) AS attempts, \
         CAST(SUM(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS BIGINT) \
         AS succeeded \
         FROM webhook_endpoints e \
         JOIN webhook_delivery_attempts a ON a.endpoint_id = e.id \
         WHERE e.store_id = $1 AND e.environment = $2 \
         AND a.attempted_at >= $3 AND a.attempted_at < $4 \
         GROUP BY 1, 2 ORDER BY 1, 2",
        day_index_sql(starts.len(), 5)
    );
    let first = starts.first().copied().unwrap_or(end);
    on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(store).bind(env).bind(first).bind(end);
        for start in starts.iter().skip(1) {
            query = query.bind(*start);
        }
        query.fetch_all(pool).await
    })
}

/// The last `days` days of every endpoint the store has in `env` (those without attempts get
/// no entry: every day of theirs is empty).
pub async fn health_by_day(
    db: &Db,
    store: StoreId,
    env: Environment,
    now: DateTime<Utc>,
    days: usize,
) -> Result<HashMap<WebhookEndpointId, Health>, Error> {
    let (starts, end) = day_starts(now, days.max(1));
    let rows = buckets(db, store, env, &starts, end).await?;
    Ok(spread(&starts, rows))
}

/// One entry per day for each endpoint that had attempts.
fn spread(starts: &[DateTime<Utc>], rows: Vec<BucketRow>) -> HashMap<WebhookEndpointId, Health> {
    let empty = empty_days(starts);
    let mut by_endpoint: HashMap<WebhookEndpointId, Health> = HashMap::new();
    for row in rows {
        let days = by_endpoint
            .entry(row.endpoint_id)
            .or_insert_with(|| empty.clone());
        if let Some(day) = usize::try_from(row.day).ok().and_then(|i| days.get_mut(i)) {
            day.attempts += row.attempts;
            day.succeeded += row.succeeded;
        }
    }
    by_endpoint
}

/// The last [`DAYS`] days of every endpoint the store has in `env`, as of the state's clock.
pub async fn health(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<HashMap<WebhookEndpointId, Health>, Error> {
    health_by_day(&state.db, store, env, state.clock.now(), DAYS).await
}

/// An endpoint without attempts in the period: every day empty.
pub fn empty_health(now: DateTime<Utc>, days: usize) -> Health {
    empty_days(&day_starts(now, days.max(1)).0)
}

fn empty_days(starts: &[DateTime<Utc>]) -> Health {
    starts
        .iter()
        .map(|s| DayHealth {
            day: s.date_naive(),
            attempts: 0,
            succeeded: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn days_are_utc_days_ending_today() {
        let (starts, end) = day_starts(at("2026-12-04T02:17:15Z"), 3);
        assert_eq!(
            starts,
            vec![
                at("2026-12-02T00:00:00Z"),
                at("2026-12-03T00:00:00Z"),
                at("2026-12-04T00:00:00Z")
            ]
        );
        assert_eq!(end, at("2026-12-05T00:00:00Z"));
    }

    #[test]
    fn the_day_index_counts_boundaries_from_the_newest() {
        assert_eq!(
            day_index_sql(3, 5),
            "CASE WHEN a.attempted_at >= $6 THEN 2 WHEN a.attempted_at >= $5 THEN 1 ELSE 0 END"
        );
        assert_eq!(day_index_sql(1, 5), "0");
    }

    #[test]
    fn a_day_without_attempts_has_no_ratio() {
        let id = WebhookEndpointId::new();
        let (starts, _) = day_starts(at("2026-12-04T12:00:00Z"), 3);
        let by = spread(
            &starts,
            vec![BucketRow {
                endpoint_id: id,
                day: 2,
                attempts: 4,
                succeeded: 3,
            }],
        );
        let days = &by[&id];
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].ratio(), None);
        assert_eq!(days[2].ratio(), Some(0.75));
        assert_eq!(days[2].day, NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert_eq!(empty_health(at("2026-12-04T12:00:00Z"), 3).len(), 3);
    }
}
