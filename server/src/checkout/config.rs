//! Per-store configuration of the built-in providers: the shipping rate table and tax rules.
//! Each `PUT` replaces the whole table in one transaction.

use axum::{Json, extract::State};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::providers::{RulesTax, ShippingRate, TableRateShipping, TaxRule};
use crate::{
    auth::principal::StoreScope,
    db::DbError,
    http::{extract::ApiJson, problem::ApiError},
    on_db,
    state::AppState,
    types::{Currency, Environment, InvalidValue, StoreId},
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_shipping_rates, put_shipping_rates))
        .routes(routes!(get_tax_rules, put_tax_rules))
}

/// The shipping rate table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShippingRates {
    /// Rows; a parcel takes, per service, the smallest band of its country (else `*`).
    pub rates: Vec<ShippingRate>,
}

/// The tax rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxRules {
    /// Rules; the most specific matching rule applies.
    pub rules: Vec<TaxRule>,
}

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

/// The store's shipping table.
pub async fn load_shipping(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<TableRateShipping, ApiError> {
    const SQL: &str = "SELECT service, country, max_weight_grams, amount, currency FROM shipping_rates \
                       WHERE store_id = $1 AND environment = $2 ORDER BY service, country, max_weight_grams";
    let rows: Vec<(String, String, i32, i64, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env.as_str()).fetch_all(pool).await
    })
    .map_err(DbError::from)?;
    Ok(TableRateShipping {
        rates: rows
            .into_iter()
            .map(
                |(service, country, max_weight_grams, amount, currency)| ShippingRate {
                    service,
                    country,
                    max_weight_grams,
                    amount,
                    currency,
                },
            )
            .collect(),
    })
}

/// The store's tax rules.
pub async fn load_tax(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<RulesTax, ApiError> {
    const SQL: &str = "SELECT country, subdivision, tax_code, rate FROM tax_rates \
                       WHERE store_id = $1 AND environment = $2 ORDER BY country, subdivision, tax_code";
    let rows: Vec<(String, String, String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env.as_str()).fetch_all(pool).await
    })
    .map_err(DbError::from)?;
    let rules = rows
        .into_iter()
        .map(|(country, subdivision, tax_code, rate)| {
            let parsed = rate
                .parse()
                .map_err(|e: rust_decimal::Error| ApiError::Internal(e.into()))?;
            Ok((
                TaxRule {
                    country,
                    subdivision,
                    tax_code,
                    rate,
                },
                parsed,
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(RulesTax { rules })
}

/// The shipping rate table of the caller's store and environment.
#[utoipa::path(get, path = "/shipping/rates", tag = "checkout",
    responses((status = 200, description = "Rate table", body = ShippingRates)), security(("bearer" = [])))]
pub async fn get_shipping_rates(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<ShippingRates>, ApiError> {
    let table = load_shipping(&state, scope.store_id, scope.environment).await?;
    Ok(Json(ShippingRates { rates: table.rates }))
}

/// Replaces the shipping rate table.
#[utoipa::path(put, path = "/shipping/rates", tag = "checkout", request_body = ShippingRates,
    responses((status = 200, description = "Stored", body = ShippingRates)), security(("bearer" = [])))]
pub async fn put_shipping_rates(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<ShippingRates>,
) -> Result<Json<ShippingRates>, ApiError> {
    let rates = validate_rates(body.rates)?;
    const DELETE: &str = "DELETE FROM shipping_rates WHERE store_id = $1 AND environment = $2";
    const INSERT: &str = "INSERT INTO shipping_rates (id, store_id, environment, service, country, \
                          max_weight_grams, amount, currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            sqlx::query(DELETE).bind(scope.store_id).bind(scope.environment.as_str()).execute(&mut *tx).await?;
            for r in &rates {
                sqlx::query(INSERT).bind(Uuid::now_v7()).bind(scope.store_id).bind(scope.environment.as_str())
                    .bind(&r.service).bind(&r.country).bind(r.max_weight_grams).bind(r.amount).bind(&r.currency)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await
    })
    .map_err(DbError::from)?;
    get_shipping_rates(State(state), scope).await
}

/// The tax rules of the caller's store and environment.
#[utoipa::path(get, path = "/tax/rates", tag = "checkout",
    responses((status = 200, description = "Tax rules", body = TaxRules)), security(("bearer" = [])))]
pub async fn get_tax_rules(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<TaxRules>, ApiError> {
    let tax = load_tax(&state, scope.store_id, scope.environment).await?;
    Ok(Json(TaxRules {
        rules: tax.rules.into_iter().map(|(r, _)| r).collect(),
    }))
}

/// Replaces the tax rules.
#[utoipa::path(put, path = "/tax/rates", tag = "checkout", request_body = TaxRules,
    responses((status = 200, description = "Stored", body = TaxRules)), security(("bearer" = [])))]
pub async fn put_tax_rules(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<TaxRules>,
) -> Result<Json<TaxRules>, ApiError> {
    let rules = validate_rules(body.rules)?;
    const DELETE: &str = "DELETE FROM tax_rates WHERE store_id = $1 AND environment = $2";
    const INSERT: &str = "INSERT INTO tax_rates (id, store_id, environment, country, subdivision, tax_code, rate) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            sqlx::query(DELETE).bind(scope.store_id).bind(scope.environment.as_str()).execute(&mut *tx).await?;
            for (r, _) in &rules {
                sqlx::query(INSERT).bind(Uuid::now_v7()).bind(scope.store_id).bind(scope.environment.as_str())
                    .bind(&r.country).bind(&r.subdivision).bind(&r.tax_code).bind(&r.rate)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await
    })
    .map_err(DbError::from)?;
    get_tax_rules(State(state), scope).await
}
