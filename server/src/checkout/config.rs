//! Per-store configuration of the shipping and tax providers: the rate table and the tax
//! rules. Each replacement swaps the whole table in one transaction.

use rust_decimal::Decimal;

use super::{Error, repo};
use crate::{
    providers::{
        shipping::{ShippingConfig, ShippingRate, TableRateShipping},
        tax::{RulesTax, TaxConfig, TaxRule},
    },
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

fn validate_rates(rates: Vec<ShippingRate>) -> Result<Vec<ShippingRate>, InvalidValue> {
    rates
        .into_iter()
        .map(|r| {
            let service = r.service.trim().to_lowercase();
            if service.is_empty() || service.len() > 32 {
                return Err(InvalidValue::new(
                    "rates.service",
                    "must be 1 to 32 characters",
                ));
            }
            if r.max_weight_grams < 0 || r.amount < 0 {
                return Err(InvalidValue::new(
                    "rates.amount",
                    "amounts and weights must be zero or more",
                ));
            }
            Ok(ShippingRate {
                service,
                country: country("rates.country", &r.country, true)?,
                max_weight_grams: r.max_weight_grams,
                amount: r.amount,
                currency: Currency::parse(r.currency.trim())
                    .map_err(|_| InvalidValue::new("rates.currency", "must be an ISO 4217 code"))?
                    .code()
                    .to_owned(),
            })
        })
        .collect()
}

fn parse_rate(raw: &str) -> Result<Decimal, InvalidValue> {
    raw.trim()
        .parse::<Decimal>()
        .ok()
        .filter(|r| *r >= Decimal::ZERO && *r < Decimal::ONE)
        .ok_or_else(|| {
            InvalidValue::new(
                "rules.rate",
                "must be a decimal string from 0 to below 1, e.g. \"0.0825\"",
            )
        })
}

fn validate_rules(rules: Vec<TaxRule>) -> Result<Vec<(TaxRule, Decimal)>, InvalidValue> {
    rules
        .into_iter()
        .map(|r| {
            let rate = parse_rate(&r.rate)?;
            let subdivision = r.subdivision.trim().to_uppercase();
            if subdivision.len() > 3 || !subdivision.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(InvalidValue::new(
                    "rules.subdivision",
                    "must be a code of up to 3 letters or digits",
                ));
            }
            let tax_code = match r.tax_code.trim() {
                "*" => "*".to_owned(),
                code if !code.is_empty() && code.len() <= 32 => code.to_lowercase(),
                _ => {
                    return Err(InvalidValue::new(
                        "rules.tax_code",
                        "must be a tax code or *",
                    ));
                }
            };
            Ok((
                TaxRule {
                    country: country("rules.country", &r.country, false)?,
                    subdivision,
                    tax_code,
                    rate: rate.normalize().to_string(),
                },
                rate,
            ))
        })
        .collect()
}

/// The store's shipping configuration. Every store quotes with its own rate table
/// (`table_rate`) until stores can choose a carrier.
pub async fn load_shipping(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<ShippingConfig, Error> {
    Ok(ShippingConfig {
        provider: TableRateShipping::NAME.to_owned(),
        rates: repo::shipping_rates(&state.db, store, env).await?,
    })
}

/// The store's tax configuration. Every store taxes with its own rules (`rules`) until stores
/// can choose a tax service.
pub async fn load_tax(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<TaxConfig, Error> {
    Ok(TaxConfig {
        provider: RulesTax::NAME.to_owned(),
        rules: repo::tax_rules(&state.db, store, env).await?,
    })
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
    tx.commit().await?;
    Ok(())
}

/// Replaces the store's tax rules with `rules` once every rule is valid.
pub async fn replace_tax(
    state: &AppState,
    store: StoreId,
    env: Environment,
    rules: Vec<TaxRule>,
) -> Result<(), Error> {
    let rules: Vec<TaxRule> = validate_rules(rules)?.into_iter().map(|(r, _)| r).collect();
    let mut tx = state.db.begin_write().await?;
    repo::replace_tax_rules(&mut tx, store, env, &rules).await?;
    tx.commit().await?;
    Ok(())
}
