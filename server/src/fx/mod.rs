//! Multi-currency: exchange rates (imported by platform admins from published feeds), each
//! store's FX policy (settlement currency, presentment currencies, markup, maximum rate age,
//! rounding), and the rate an order is priced with, locked into the order, its snapshots and
//! its payments.
//!
//! A rate is *units of quote per unit of base* in major units. An order in a presentment
//! currency `P` of a store settling in `S` is priced when it is placed: each line's explicit
//! price in `P` (the product's price list) if it has one, else its catalogue price in `S` × the
//! `S`→`P` rate × (1 + markup), rounded by the store's rule. That rate, its source and time are
//! the order's *lock*: its snapshots carry it and convert their totals back to `S` at the same
//! rate without markup (half away from zero), and so do its payments' transactions.

mod convert;
pub mod cross;
mod error;
pub mod feed;
mod repo;
mod routes;
mod service;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use convert::{Rounding, convert, settlement_parts, settlement_step, to_settlement};
pub use error::Error;
pub use routes::{admin_router, platform_router};
pub use service::{
    RateFilter, history, import, latest, lock_for, policy, put_policy, require_fresh,
};

use crate::{
    money::{MinorUnits, Overflow},
    types::{Currency, FxRateId},
};

/// Default of a policy's maximum rate age: four days, so Friday's reference rates (the ECB
/// publishes none at weekends) still price Monday's orders.
pub const DEFAULT_MAX_RATE_AGE_SECS: i64 = 4 * 24 * 3600;

/// The rate an order was priced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Units of the presentment currency per unit of the settlement currency (no markup).
    pub rate: Decimal,
    /// The feed it came from.
    pub source: String,
    /// When the feed fixed it.
    pub as_of: DateTime<Utc>,
    /// Markup on converted prices, basis points.
    pub markup_bps: i32,
    /// Rounding of converted prices.
    pub rounding: Rounding,
    /// What the store is paid in.
    pub settlement_currency: Currency,
}

impl Lock {
    /// A catalogue price (in the settlement currency) in `presentment`: rate × (1 + markup),
    /// rounded by the store's rule.
    pub fn price(&self, amount: MinorUnits, presentment: Currency) -> Result<MinorUnits, Overflow> {
        let markup = Decimal::ONE
            .checked_add(Decimal::new(i64::from(self.markup_bps), 4))
            .ok_or(Overflow)?;
        let rate = self.rate.checked_mul(markup).ok_or(Overflow)?;
        convert(
            amount,
            self.settlement_currency,
            presentment,
            rate,
            self.rounding,
        )
    }

    /// A presentment amount in the settlement currency at the locked rate.
    pub fn settle(
        &self,
        amount: MinorUnits,
        presentment: Currency,
    ) -> Result<MinorUnits, Overflow> {
        to_settlement(amount, presentment, self.settlement_currency, self.rate)
    }

    /// Whether the rate is older than `max_age_secs` at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>, max_age_secs: i64) -> bool {
        (now - self.as_of).num_seconds() > max_age_secs
    }
}

/// A lock as its columns store it (`settlement_currency`, `fx_rate`, `fx_source`, `fx_as_of`,
/// `fx_markup_bps`, `fx_rounding`); all `NULL` when nothing was converted.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct StoredLock {
    pub settlement_currency: Option<Currency>,
    pub fx_rate: Option<String>,
    pub fx_source: Option<String>,
    pub fx_as_of: Option<DateTime<Utc>>,
    pub fx_markup_bps: Option<i32>,
    pub fx_rounding: Option<Rounding>,
}

impl StoredLock {
    /// The columns of `lock`.
    pub fn of(lock: Option<&Lock>) -> Self {
        match lock {
            None => StoredLock::default(),
            Some(l) => StoredLock {
                settlement_currency: Some(l.settlement_currency),
                fx_rate: Some(l.rate.normalize().to_string()),
                fx_source: Some(l.source.clone()),
                fx_as_of: Some(l.as_of),
                fx_markup_bps: Some(l.markup_bps),
                fx_rounding: Some(l.rounding),
            },
        }
    }

    /// The lock the columns hold; an error names a half-written lock.
    pub fn lock(self) -> Result<Option<Lock>, String> {
        match (
            self.settlement_currency,
            self.fx_rate,
            self.fx_source,
            self.fx_as_of,
        ) {
            (None, None, None, None) => Ok(None),
            (Some(settlement_currency), Some(rate), Some(source), Some(as_of)) => Ok(Some(Lock {
                rate: rate.parse().map_err(|_| format!("fx_rate {rate}"))?,
                source,
                as_of,
                markup_bps: self.fx_markup_bps.unwrap_or(0),
                rounding: self.fx_rounding.unwrap_or_default(),
                settlement_currency,
            })),
            _ => Err("a partly stored exchange-rate lock".to_owned()),
        }
    }
}

/// The lock as the API shows it, with the settlement amounts of a snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FxView {
    /// Units of the order's currency per unit of the settlement currency (decimal string).
    pub rate: String,
    /// The rate's feed.
    pub source: String,
    /// When the feed fixed the rate.
    pub as_of: DateTime<Utc>,
    /// Markup applied to converted prices, basis points.
    pub markup_bps: i32,
    /// What the store is paid in.
    #[schema(value_type = String)]
    pub settlement_currency: Currency,
    /// The snapshot's total in the settlement currency (absent on orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub settlement_total: Option<MinorUnits>,
    /// Subtotal, shipping and tax in the settlement currency; they add up to
    /// `settlement_total` exactly (largest remainder). Absent on orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementTotals>,
}

impl FxView {
    /// The view of `lock`, without settlement amounts.
    pub fn of(lock: &Lock) -> Self {
        FxView {
            rate: lock.rate.normalize().to_string(),
            source: lock.source.clone(),
            as_of: lock.as_of,
            markup_bps: lock.markup_bps,
            settlement_currency: lock.settlement_currency,
            settlement_total: None,
            settlement: None,
        }
    }
}

/// A snapshot's totals in the settlement currency.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct SettlementTotals {
    #[schema(value_type = i64)]
    pub subtotal: MinorUnits,
    #[schema(value_type = i64)]
    pub shipping: MinorUnits,
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    #[schema(value_type = i64)]
    pub total: MinorUnits,
}

/// A store's FX policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Policy {
    /// Whether the store set one (without, orders are in their products' currency only).
    pub configured: bool,
    /// What the store is paid in; its products are priced in it.
    #[schema(value_type = Option<String>)]
    pub settlement_currency: Option<Currency>,
    /// Currencies customers may order in besides the settlement currency.
    #[schema(value_type = Vec<String>)]
    pub presentment_currencies: Vec<Currency>,
    /// Markup on converted prices, basis points (0–5000).
    pub markup_bps: i32,
    /// Rates older than this many seconds are refused (`422 fx_rate_stale`).
    pub max_rate_age_secs: i64,
    /// Rounding of converted prices.
    pub rounding: Rounding,
    /// Who set it last.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Body of `PUT /api/v1/admin/fx-policy`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PolicyInput {
    /// ISO 4217 code the store is paid in.
    #[schema(value_type = Currency)]
    pub settlement_currency: String,
    /// ISO 4217 codes customers may order in (at most 50).
    #[serde(default)]
    #[schema(value_type = Vec<Currency>, max_items = 50)]
    pub presentment_currencies: Vec<String>,
    /// 0–5000 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5000)]
    pub markup_bps: i32,
    /// Seconds, 60 to 30 days (default four days).
    #[schema(minimum = 60, maximum = 2592000)]
    pub max_rate_age_secs: Option<i64>,
    /// Default `half_away_from_zero`.
    #[serde(default)]
    pub rounding: Rounding,
}

/// Body of `POST /api/v1/platform/fx-rates/imports`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ImportInput {
    /// `ecb_csv` (the ECB's `eurofxref` daily or history CSV) or `json`.
    pub format: FeedFormat,
    /// The feed's name, recorded with every rate (default `ecb` for `ecb_csv`, else required).
    pub source: Option<String>,
    /// The file's text.
    pub data: String,
}

/// A feed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// `Date, USD, JPY, …` per EUR.
    EcbCsv,
    /// `{"base", "date" | "timestamp", "rates": {…}}`, one or an array.
    Json,
}

/// What an import stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Rates stored.
    pub imported: usize,
    /// Rates of the file already stored (same source, pair and time): an import is idempotent.
    pub already_known: usize,
    /// Columns or entries left out, and why.
    pub skipped: Vec<String>,
    /// The newest rate time in the file.
    pub latest_as_of: Option<DateTime<Utc>>,
}

/// A stored rate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rate {
    pub id: FxRateId,
    pub source: String,
    #[schema(value_type = String)]
    pub base: Currency,
    #[schema(value_type = String)]
    pub quote: Currency,
    /// Units of `quote` per unit of `base`, as published (decimal string).
    pub rate: String,
    pub as_of: DateTime<Utc>,
    pub imported_at: DateTime<Utc>,
    pub imported_by: String,
}

/// A pair's newest rate and its age.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatestRate {
    pub source: String,
    #[schema(value_type = String)]
    pub base: Currency,
    #[schema(value_type = String)]
    pub quote: Currency,
    pub rate: String,
    pub as_of: DateTime<Utc>,
    /// Seconds since `as_of`.
    pub age_secs: i64,
    /// Older than the default maximum age (four days); each store applies its own.
    pub stale: bool,
}
