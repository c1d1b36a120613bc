//! The store dashboard on the overview: a chosen period's volume, payments, authorization rate,
//! refund rate and average order value beside the period before it, and the daily volume as a
//! chart. Amounts arrive formatted; the chart's values also come as minor units to draw bars.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// Periods the dashboard offers, in days.
pub const PERIODS: [u32; 3] = [7, 30, 90];

/// One day of the chart, in the store's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Captured that day, minor units.
    pub captured: i64,
    /// Refunded that day, minor units.
    pub refunded: i64,
    /// The same, for people: `2026-01-15: captured $10.00 USD, refunded $4.00 USD`.
    pub label: String,
}

/// One figure of the period and of the period before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable name (`volume`, `payments`, `authorization_rate`, `refund_rate`, `average_order`).
    pub key: String,
    /// What it is, for people.
    pub label: String,
    /// This period's value, formatted.
    pub current: String,
    /// The previous period's value, formatted.
    pub previous: String,
    /// The change (`+12%`, `−1.5 pts`, `new`); none when both are nothing.
    pub change: Option<String>,
}

/// A tick of the chart's amount axis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    /// Minor units.
    pub value: i64,
    /// Formatted.
    pub label: String,
}

/// The store dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    /// Store name.
    pub store_name: String,
    /// Length of the period, in days (one of [`PERIODS`]).
    pub period_days: u32,
    /// This period's first and last day (`2025-12-17 – 2026-01-15`, UTC days).
    pub period: String,
    /// The period before it.
    pub previous: String,
    /// The currency the metrics and the chart are in (the store's).
    pub currency: String,
    /// The figures, this period beside the one before.
    pub metrics: Vec<Metric>,
    /// Every day of this period, oldest first (days without volume included).
    pub days: Vec<VolumeDay>,
    /// The amount axis, from 0 up to at least the largest bar.
    pub ticks: Vec<Tick>,
    /// Captured this period, every currency, formatted per currency.
    pub captured_total: String,
    /// Refunded this period, every currency.
    pub refunded_total: String,
    /// Volume in other currencies than the store's, which the figures and chart leave out.
    pub other_currencies: Option<String>,
    /// Intents per status (all time).
    pub status_counts: Vec<(String, i64)>,
}

/// The server's side of the dashboard; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait DashboardBackend: Send + Sync {
    /// The current store's dashboard for the last `days` days (30 when not one of
    /// [`PERIODS`]); none when the user may open no store.
    fn dashboard<'a>(
        &'a self,
        req: &'a http::request::Parts,
        days: Option<u32>,
    ) -> BoxFuture<'a, ConsoleResult<Option<DashboardView>>>;
}
