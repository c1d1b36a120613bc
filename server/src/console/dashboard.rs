//! The dashboard on the payments page: volume per day of the last 30 days and intents per
//! status.

use std::collections::BTreeMap;

use app::backend::{ConsoleResult, DashboardView, VolumeDay};
use axum::http::request::Parts;
use chrono::{Duration, NaiveDate, NaiveTime};

use super::{context::require_signed, shown};
use crate::{money::format_amount, payments, state::AppState};

/// Days on the chart.
const CHART_DAYS: i64 = 30;

/// Sums per currency.
type PerCurrency = BTreeMap<String, i64>;

/// The current store's dashboard; `None` when the user may open no store.
pub async fn dashboard(state: &AppState, req: &Parts) -> ConsoleResult<Option<DashboardView>> {
    let signed = require_signed(state, req).await?;
    let Some(store) = signed.current_store() else {
        return Ok(None);
    };
    let env = signed.environment();
    let first = state.clock.now().date_naive() - Duration::days(CHART_DAYS - 1);
    let from = first.and_time(NaiveTime::MIN).and_utc();
    let volume = payments::daily_volume(state, store.id, env, from)
        .await
        .map_err(shown)?;
    let status_counts = payments::status_counts(state, store.id, env)
        .await
        .map_err(shown)?;
    let mut days = chart_days(first);
    let mut captured = PerCurrency::new();
    let mut refunded = PerCurrency::new();
    for payments::DailyVolume {
        day,
        currency,
        operation,
        sum,
    } in volume
    {
        let slot = days.iter_mut().find(|d| d.day == day);
        let (per_day, totals) = match operation {
            payments::Operation::Capture => (slot.map(|d| &mut d.captured), &mut captured),
            _ => (slot.map(|d| &mut d.refunded), &mut refunded),
        };
        if let Some(per_day) = per_day {
            *per_day += sum;
        }
        *totals.entry(currency).or_default() += sum;
    }
    Ok(Some(DashboardView {
        store_name: store.name.clone(),
        days,
        captured_total: total(&captured),
        refunded_total: total(&refunded),
        status_counts: status_counts
            .into_iter()
            .map(|c| (c.status.as_str().to_owned(), c.count))
            .collect(),
    }))
}

/// Every day of the chart from `first` on, days without volume included.
fn chart_days(first: NaiveDate) -> Vec<VolumeDay> {
    (0..CHART_DAYS)
        .map(|d| VolumeDay {
            day: (first + Duration::days(d)).format("%Y-%m-%d").to_string(),
            captured: 0,
            refunded: 0,
        })
        .collect()
}

/// The period's total, one term per currency.
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
