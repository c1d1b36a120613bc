//! The dashboard on the payments page: volume per day of the last 30 days and intents per
//! status.

use std::collections::BTreeMap;

use app::backend::{ConsoleResult, DashboardView, VolumeDay};
use axum::http::request::Parts;
use chrono::Duration;

use super::{context::require_signed, shown};
use crate::{
    money::format_amount,
    payments::{
        Operation,
        reports::{self, DayVolume},
    },
    state::AppState,
};

/// Days on the chart.
const CHART_DAYS: i64 = 30;

/// The current store's dashboard; `None` when the user may open no store.
pub async fn dashboard(state: &AppState, req: &Parts) -> ConsoleResult<Option<DashboardView>> {
    let signed = require_signed(state, req).await?;
    let Some(store) = signed.current_store() else {
        return Ok(None);
    };
    let env = signed.environment();
    let today = state.clock.now().date_naive();
    let first = today - Duration::days(CHART_DAYS - 1);
    let from = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let volume = reports::daily_volume(&state.db, store.id, env, from)
        .await
        .map_err(shown)?;
    let counts = reports::status_counts(&state.db, store.id, env)
        .await
        .map_err(shown)?;
    let (days, captured, refunded) = chart(first, &volume);
    Ok(Some(DashboardView {
        store_name: store.name.clone(),
        days,
        captured_total: total(&captured),
        refunded_total: total(&refunded),
        status_counts: counts
            .into_iter()
            .map(|(status, n)| (status.as_str().to_owned(), n))
            .collect(),
    }))
}

type PerCurrency = BTreeMap<String, i64>;

/// Every day from `first` on (days without volume too), and the period's totals per currency.
fn chart(
    first: chrono::NaiveDate,
    volume: &[DayVolume],
) -> (Vec<VolumeDay>, PerCurrency, PerCurrency) {
    let dates: Vec<chrono::NaiveDate> =
        (0..CHART_DAYS).map(|d| first + Duration::days(d)).collect();
    let mut days: Vec<VolumeDay> = dates
        .iter()
        .map(|d| VolumeDay {
            day: d.format("%Y-%m-%d").to_string(),
            captured: 0,
            refunded: 0,
        })
        .collect();
    let mut captured = PerCurrency::new();
    let mut refunded = PerCurrency::new();
    for row in volume {
        let slot = dates
            .iter()
            .position(|d| *d == row.day)
            .and_then(|i| days.get_mut(i));
        let (per_day, totals) = match row.operation {
            Operation::Capture => (slot.map(|d| &mut d.captured), &mut captured),
            _ => (slot.map(|d| &mut d.refunded), &mut refunded),
        };
        if let Some(sum) = per_day {
            *sum += row.amount;
        }
        *totals.entry(row.currency.clone()).or_default() += row.amount;
    }
    (days, captured, refunded)
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
