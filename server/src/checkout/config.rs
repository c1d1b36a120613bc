//! Per-store configuration of the rate-table shipping provider. Each replacement swaps the
//! whole table in one transaction.

use super::{Error, repo};
use crate::{
    providers::shipping::{ShippingConfig, ShippingRate, TableRateShipping},
    state::AppState,
    types::{Currency, Environment, InvalidValue, StoreId},
};

fn country(field: &'static str, raw: &str, wildcard: bool) -> Result<String, InvalidValue> {
    if wildcard && raw.trim() == "*" {
        return Ok("*".into());
    }
    crate::address::country_code(raw)
        .map(str::to_owned)
        .ok_or_else(|| InvalidValue::new(field, "must be an ISO 3166-1 country"))
}

/// Rows a store's shipping table may hold (as many as its tax rates).
const MAX_RATES: usize = 1000;

fn validate_rates(rates: Vec<ShippingRate>) -> Result<Vec<ShippingRate>, InvalidValue> {
    if rates.len() > MAX_RATES {
        return Err(InvalidValue::new("rates", "at most 1000 rates"));
    }
    rates
        .into_iter()
        .enumerate()
        .map(|(row, r)| validate_rate(r).map_err(|e| e.in_row(row)))
        .collect()
}

fn validate_rate(r: ShippingRate) -> Result<ShippingRate, InvalidValue> {
    let service = r.service.trim().to_lowercase();
    if service.is_empty() || service.chars().count() > 32 {
        return Err(InvalidValue::new(
            "rates.service",
            "must be 1 to 32 characters",
        ));
    }
    let country = country("rates.country", &r.country, true)?;
    if r.max_weight_grams < 0 {
        return Err(InvalidValue::new(
            "rates.max_weight_grams",
            "must be zero or more",
        ));
    }
    if r.amount < 0 {
        return Err(InvalidValue::new("rates.amount", "must be zero or more"));
    }
    let currency = Currency::parse(r.currency.trim())
        .map_err(|_| InvalidValue::new("rates.currency", "must be an ISO 4217 code"))?;
    Ok(ShippingRate {
        service,
        country,
        max_weight_grams: r.max_weight_grams,
        amount: r.amount,
        currency: currency.code().to_owned(),
    })
}

/// The store's shipping configuration. Every store quotes with its own rate table
/// (`table_rate`) until stores can choose a carrier.
pub async fn load_shipping(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<ShippingConfig, Error> {
    state
        .caches
        .config
        .get_or_load(store, env, || async {
            Ok(ShippingConfig {
                provider: TableRateShipping::NAME.to_owned(),
                rates: repo::shipping_rates(&state.db, store, env).await?,
            })
        })
        .await
}

/// Replaces the store's shipping rate table with `rates` once every row is valid.
pub async fn replace_shipping(
    state: &AppState,
    store: StoreId,
    env: Environment,
    rates: Vec<ShippingRate>,
) -> Result<(), Error> {
    let rates = validate_rates(rates)?;
    let mut tx = state.db.begin_write().await?;
    repo::replace_shipping_rates(&mut tx, store, env, &rates).await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.config.changed();
    committed?;
    Ok(())
}
