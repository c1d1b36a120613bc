//! The dashboard on the overview: a chosen period's figures beside the period before it, and
//! the period's daily volume with an amount axis. Figures and chart are in the store's currency
//! (adding amounts of different currencies means nothing); volume in others is named apart.
//! Days are UTC days.

use std::collections::BTreeMap;

use app::backend::{
    BoxFuture, ConsoleResult,
    dashboard::{DashboardBackend, DashboardView, Metric, PERIODS, Tick, VolumeDay},
};
use axum::http::request::Parts;
use chrono::{Duration, NaiveDate, NaiveTime};

use super::{ServerBackend, context::require_signed, shown};
use crate::{money::format_amount, payments, state::AppState, tenancy};

/// The period when none (or one not offered) is asked for.
const DEFAULT_DAYS: u32 = 30;

/// Sums per currency.
type PerCurrency = BTreeMap<String, i64>;

/// What one period adds up to, in the store's currency.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Figures {
    captured: i64,
    refunded: i64,
    created: i64,
    authorized: i64,
    failed: i64,
    authorized_amount: i64,
}

/// A share as a percentage with one decimal, in tenths of a percent; none of nothing.
fn permille(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (part * 1000 + whole / 2) / whole)
}

fn percent(permille: Option<i64>) -> String {
    permille.map_or_else(|| "—".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// How a count or an amount moved: `+12%`, `−5%`, `new` (from nothing), none when both are 0.
fn change(current: i64, previous: i64) -> Option<String> {
    match (current, previous) {
        (0, 0) => None,
        (_, 0) => Some("new".to_owned()),
        _ => {
            // Rounded half away from zero, the same way up and down.
            let moved = (current - previous) * 100;
            let pct = if moved >= 0 {
                (moved + previous / 2) / previous
            } else {
                -((-moved + previous / 2) / previous)
            };
            Some(match pct {
                0 => "±0%".to_owned(),
                p if p > 0 => format!("+{p}%"),
                p => format!("−{}%", -p),
            })
        }
    }
}

/// How a rate moved, in percentage points.
fn points(current: Option<i64>, previous: Option<i64>) -> Option<String> {
    let (c, p) = (current?, previous?);
    let d = c - p;
    let sign = if d > 0 {
        "+"
    } else if d < 0 {
        "−"
    } else {
        "±"
    };
    Some(format!("{sign}{}.{} pts", d.abs() / 10, d.abs() % 10))
}

/// The smallest 1, 2 or 5 × 10ⁿ minor units at least `raw`.
fn nice_step(raw: i64) -> i64 {
    let mut magnitude = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * magnitude >= raw {
                return m * magnitude;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// The amount axis: 0 and four or five even steps up to at least `max`; none for an empty
/// chart.
fn ticks(max: i64, currency: &str) -> Vec<Tick> {
    if max <= 0 {
        return Vec::new();
    }
    let step = nice_step((max + 3) / 4);
    (0..)
        .map(|i| i * step)
        .take_while(|v| *v < max + step)
        .map(|value| Tick {
            value,
            label: format_amount(value, currency),
        })
        .collect()
}

fn total(per_currency: &PerCurrency) -> String {
    if per_currency.is_empty() {
        return "0".to_owned();
    }
    per_currency
        .iter()
        .map(|(currency, sum)| format_amount(*sum, currency))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn metrics(current: Figures, previous: Figures, currency: &str) -> Vec<Metric> {
    let money = |v: i64| format_amount(v, currency);
    let average = |f: Figures| {
        (f.authorized > 0).then(|| (f.authorized_amount + f.authorized / 2) / f.authorized)
    };
    let auth_rate = |f: Figures| permille(f.authorized, f.authorized + f.failed);
    let refund_rate = |f: Figures| permille(f.refunded, f.captured);
    let metric = |key: &str, label: &str, current: String, previous: String, change| Metric {
        key: key.to_owned(),
        label: label.to_owned(),
        current,
        previous,
        change,
    };
    vec![
        metric(
            "volume",
            "Captured volume",
            money(current.captured),
            money(previous.captured),
            change(current.captured, previous.captured),
        ),
        metric(
            "payments",
            "Payments",
            current.created.to_string(),
            previous.created.to_string(),
            change(current.created, previous.created),
        ),
        metric(
            "authorization_rate",
            "Authorization rate",
            percent(auth_rate(current)),
            percent(auth_rate(previous)),
            points(auth_rate(current), auth_rate(previous)),
        ),
        metric(
            "refund_rate",
            "Refund rate",
            percent(refund_rate(current)),
            percent(refund_rate(previous)),
            points(refund_rate(current), refund_rate(previous)),
        ),
        metric(
            "average_order",
            "Average order value",
            average(current).map_or_else(|| "—".to_owned(), money),
            average(previous).map_or_else(|| "—".to_owned(), money),
            average(current)
                .zip(average(previous))
                .and_then(|(c, p)| change(c, p)),
        ),
    ]
}

fn span(first: NaiveDate, days: u32) -> String {
    let last = first + Duration::days(i64::from(days) - 1);
    format!("{first} – {last}")
}

/// The current store's dashboard; `None` when the user may open no store.
async fn dashboard(
    state: &AppState,
    req: &Parts,
    days: Option<u32>,
) -> ConsoleResult<Option<DashboardView>> {
    let signed = require_signed(state, req).await?;
    let Some(store) = signed.current_store() else {
        return Ok(None);
    };
    let env = signed.environment();
    let days = days.filter(|d| PERIODS.contains(d)).unwrap_or(DEFAULT_DAYS);
    let span_days = i64::from(days);
    let first = state.clock.now().date_naive() - Duration::days(span_days - 1);
    let previous_first = first - Duration::days(span_days);
    let from = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    let currency = tenancy::stores::find(state, store.id)
        .await
        .map_err(shown)?
        .currency
        .code()
        .to_owned();
    let now = state.clock.now();
    let periods = payments::Periods {
        previous: from(previous_first),
        current: from(first),
        previous_until: now - Duration::days(span_days),
    };
    let volume = payments::daily_volume(state, store.id, env, from(first))
        .await
        .map_err(shown)?;
    let totals = payments::period_volume(state, store.id, env, periods)
        .await
        .map_err(shown)?;
    let intents = payments::period_intents(state, store.id, env, periods)
        .await
        .map_err(shown)?;
    let status_counts = payments::status_counts(state, store.id, env)
        .await
        .map_err(shown)?;

    let mut chart: Vec<(String, i64, i64)> = (0..span_days)
        .map(|d| {
            (
                (first + Duration::days(d)).format("%Y-%m-%d").to_string(),
                0,
                0,
            )
        })
        .collect();
    for payments::DailyVolume {
        day,
        currency: code,
        operation,
        sum,
    } in volume
    {
        let Some(d) = chart.iter_mut().find(|d| d.0 == day) else {
            continue;
        };
        match (code == currency, operation) {
            (false, _) => {}
            (true, payments::Operation::Capture) => d.1 += sum,
            (true, _) => d.2 += sum,
        }
    }
    let (mut now_f, mut before) = (Figures::default(), Figures::default());
    let (mut captured_all, mut refunded_all, mut others) =
        (PerCurrency::new(), PerCurrency::new(), PerCurrency::new());
    for payments::PeriodVolume {
        in_current,
        currency: code,
        operation,
        sum,
    } in totals
    {
        let is_capture = matches!(operation, payments::Operation::Capture);
        if in_current {
            let all = if is_capture {
                &mut captured_all
            } else {
                &mut refunded_all
            };
            *all.entry(code.clone()).or_default() += sum;
            if code != currency {
                *others.entry(code.clone()).or_default() += sum;
            }
        }
        if code != currency {
            continue;
        }
        let f = if in_current { &mut now_f } else { &mut before };
        let slot = if is_capture {
            &mut f.captured
        } else {
            &mut f.refunded
        };
        *slot += sum;
    }
    for row in intents.into_iter().filter(|r| r.currency == currency) {
        let f = if row.in_current {
            &mut now_f
        } else {
            &mut before
        };
        f.created += row.created;
        f.authorized += row.authorized;
        f.failed += row.failed;
        f.authorized_amount += row.authorized_amount;
    }
    let max = chart.iter().map(|d| d.1.max(d.2)).max().unwrap_or(0);
    Ok(Some(DashboardView {
        store_name: store.name.clone(),
        period_days: days,
        period: span(first, days),
        previous: span(previous_first, days),
        metrics: metrics(now_f, before, &currency),
        days: chart
            .into_iter()
            .map(|(day, captured, refunded)| VolumeDay {
                label: format!(
                    "{day}: captured {}, refunded {}",
                    format_amount(captured, &currency),
                    format_amount(refunded, &currency)
                ),
                day,
                captured,
                refunded,
            })
            .collect(),
        ticks: ticks(max, &currency),
        captured_total: total(&captured_all),
        refunded_total: total(&refunded_all),
        other_currencies: (!others.is_empty()).then(|| total(&others)),
        currency,
        status_counts: status_counts
            .into_iter()
            .map(|c| (c.status.as_str().to_owned(), c.count))
            .collect(),
    }))
}

impl DashboardBackend for ServerBackend {
    fn dashboard<'a>(
        &'a self,
        req: &'a Parts,
        days: Option<u32>,
    ) -> BoxFuture<'a, ConsoleResult<Option<DashboardView>>> {
        Box::pin(dashboard(&self.state, req, days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_rates_read_as_people_say_them() {
        assert_eq!(change(0, 0), None);
        assert_eq!(change(5, 0).as_deref(), Some("new"));
        assert_eq!(change(112, 100).as_deref(), Some("+12%"));
        assert_eq!(change(95, 100).as_deref(), Some("−5%"));
        assert_eq!(change(0, 100).as_deref(), Some("−100%"));
        assert_eq!(change(100, 100).as_deref(), Some("±0%"));
        assert_eq!(percent(permille(2, 3)), "66.7%");
        assert_eq!(percent(permille(0, 0)), "—");
        assert_eq!(points(Some(923), Some(900)).as_deref(), Some("+2.3 pts"));
        assert_eq!(points(Some(900), Some(923)).as_deref(), Some("−2.3 pts"));
        assert_eq!(points(None, Some(900)), None);
    }

    #[test]
    fn the_amount_axis_takes_even_steps_past_the_largest_bar() {
        assert!(ticks(0, "USD").is_empty());
        let values: Vec<i64> = ticks(1000, "USD").iter().map(|t| t.value).collect();
        assert_eq!(values, [0, 500, 1000]);
        let values: Vec<i64> = ticks(1234, "USD").iter().map(|t| t.value).collect();
        assert_eq!(values, [0, 500, 1000, 1500]);
        assert_eq!(ticks(1000, "USD")[2].label, "$10.00 USD");
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(3), 5);
        assert_eq!(nice_step(301), 500);
    }

    #[test]
    fn figures_compare_the_period_with_the_one_before() {
        let now = Figures {
            captured: 10_000,
            refunded: 1_000,
            created: 4,
            authorized: 3,
            failed: 1,
            authorized_amount: 30_000,
        };
        let before = Figures {
            captured: 8_000,
            created: 2,
            authorized: 2,
            authorized_amount: 8_000,
            ..Figures::default()
        };
        let m = metrics(now, before, "USD");
        let get = |k: &str| m.iter().find(|x| x.key == k).unwrap().clone();
        assert_eq!(get("volume").current, "$100.00 USD");
        assert_eq!(get("volume").change.as_deref(), Some("+25%"));
        assert_eq!(get("payments").change.as_deref(), Some("+100%"));
        assert_eq!(get("authorization_rate").current, "75.0%");
        assert_eq!(get("authorization_rate").previous, "100.0%");
        assert_eq!(
            get("authorization_rate").change.as_deref(),
            Some("−25.0 pts")
        );
        assert_eq!(get("refund_rate").current, "10.0%");
        assert_eq!(get("average_order").current, "$100.00 USD");
        assert_eq!(get("average_order").previous, "$40.00 USD");
    }
}
