//! Settings → Shipping and Settings → Tax rates: the store's rate tables edited row by row,
//! through the same services and policy as `PUT /api/v1/admin/shipping/rates` and
//! `PUT /api/v1/admin/tax/rates`. People type prices in major units and rates in percent; the
//! services keep minor units and fractions. A refusal names the row and field it is about, so
//! the page shows it beside that input and keeps what was typed.

use std::str::FromStr;

use app::backend::{
    BoxFuture, ConsoleResult, FieldError,
    rates::{RatesBackend, RatesOutcome, RatesView, ShippingRowForm, TaxRowForm},
};
use axum::http::request::Parts;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{ServerBackend, context::require_signed, shown};
use crate::{
    auth::policy,
    checkout::{self, config as shipping},
    money::{MinorUnits, Money, parse_major_amount},
    providers::shipping::ShippingRate,
    state::AppState,
    tax::{self, TaxRuleBody},
    tenancy,
    types::{Currency, InvalidValue},
};

/// A refusal of row `row`'s `field`, as the page looks it up.
fn refused(row: usize, field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: format!("rows[{row}].{field}"),
        message: message.into(),
    }
}

/// The service's refusal, named as the form's field: the services name their JSON fields
/// (`rates[2].amount`), the form its inputs (`rows[2].price`).
fn from_service(invalid: &InvalidValue, input_of: fn(&str) -> &str) -> FieldError {
    let field = invalid
        .field
        .split_once('.')
        .map_or(invalid.field, |(_, field)| field);
    match invalid.row {
        Some(row) => refused(row, input_of(field), invalid.message.clone()),
        None => FieldError {
            field: "rows".to_owned(),
            message: invalid.message.clone(),
        },
    }
}

/// The rows to store: ticked for removal and untouched blank rows (the editor offers a few
/// for adding) are left out.
fn kept<R>(rows: Vec<R>, removed: fn(&R) -> bool, blank: fn(&R) -> bool) -> Vec<R> {
    rows.into_iter()
        .filter(|r| !removed(r) && !blank(r))
        .collect()
}

fn shipping_blank(r: &ShippingRowForm) -> bool {
    [&r.service, &r.country, &r.max_weight_grams, &r.price]
        .iter()
        .all(|f| f.trim().is_empty())
}

fn shipping_input(field: &str) -> &str {
    match field {
        "amount" => "price",
        other => other,
    }
}

/// One shipping row read from the form; refusals of its own fields go to `errors`.
fn shipping_rate(
    row: usize,
    form: &ShippingRowForm,
    store_currency: Currency,
    errors: &mut Vec<FieldError>,
) -> Option<ShippingRate> {
    let currency = match form.currency.trim() {
        "" => Some(store_currency),
        code => Currency::parse(&code.to_uppercase())
            .map_err(|_| errors.push(refused(row, "currency", "must be an ISO 4217 code")))
            .ok(),
    };
    let weight = form
        .max_weight_grams
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|w| *w >= 0);
    if weight.is_none() {
        errors.push(refused(
            row,
            "max_weight_grams",
            "a whole number of grams, 0 or more",
        ));
    }
    let amount = currency.and_then(|c| {
        parse_major_amount(&form.price, c)
            .map_err(|e| errors.push(refused(row, "price", e.to_string())))
            .ok()
    });
    Some(ShippingRate {
        service: form.service.clone(),
        country: form.country.clone(),
        max_weight_grams: weight?,
        amount: amount?.0,
        currency: currency?.code().to_owned(),
    })
}

fn shipping_form(rate: &ShippingRate) -> ShippingRowForm {
    let price = Currency::parse(&rate.currency).map_or_else(
        |_| rate.amount.to_string(),
        |c| Money::new(MinorUnits(rate.amount), c).major().to_string(),
    );
    ShippingRowForm {
        service: rate.service.clone(),
        country: rate.country.clone(),
        max_weight_grams: rate.max_weight_grams.to_string(),
        price,
        currency: rate.currency.clone(),
        remove: None,
    }
}

fn tax_blank(r: &TaxRowForm) -> bool {
    [
        &r.country,
        &r.subdivision,
        &r.county,
        &r.city,
        &r.district,
        &r.postal_codes,
        &r.tax_code,
        &r.rate_percent,
        &r.valid_from,
        &r.valid_to,
    ]
    .iter()
    .all(|f| f.trim().is_empty())
}

fn tax_input(field: &str) -> &str {
    match field {
        "rate" => "rate_percent",
        other => other,
    }
}

/// A percentage as typed (`8.25`, `8.25 %`) as the fraction the API takes (`0.0825`); exact,
/// in decimal.
fn fraction_of_percent(raw: &str) -> Option<String> {
    let text = raw.trim().trim_end_matches('%').trim();
    let percent = Decimal::from_str(text).ok()?;
    (percent >= Decimal::ZERO && percent < Decimal::ONE_HUNDRED)
        .then(|| (percent / Decimal::ONE_HUNDRED).normalize().to_string())
}

fn percent_of_fraction(raw: &str) -> String {
    Decimal::from_str(raw).map_or_else(
        |_| raw.to_owned(),
        |f| (f * Decimal::ONE_HUNDRED).normalize().to_string(),
    )
}

fn day(row: usize, field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| errors.push(refused(row, field, "a date such as 2027-01-31")))
        .ok()
}

fn optional(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// One tax row read from the form; refusals of its own fields go to `errors`.
fn tax_rule(row: usize, form: &TaxRowForm, errors: &mut Vec<FieldError>) -> TaxRuleBody {
    let rate = fraction_of_percent(&form.rate_percent).unwrap_or_else(|| {
        errors.push(refused(
            row,
            "rate_percent",
            "a percentage from 0 up to (not including) 100, such as 8.25",
        ));
        String::new()
    });
    TaxRuleBody {
        country: form.country.clone(),
        subdivision: form.subdivision.trim().to_owned(),
        county: optional(&form.county),
        city: optional(&form.city),
        district: optional(&form.district),
        postal_codes: form
            .postal_codes
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        tax_code: form.tax_code.clone(),
        rate,
        shipping_taxable: form.shipping_taxable.is_some(),
        valid_from: day(row, "valid_from", &form.valid_from, errors),
        valid_to: day(row, "valid_to", &form.valid_to, errors),
    }
}

fn tax_form(rule: &TaxRuleBody) -> TaxRowForm {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    TaxRowForm {
        country: rule.country.clone(),
        subdivision: rule.subdivision.clone(),
        county: rule.county.clone().unwrap_or_default(),
        city: rule.city.clone().unwrap_or_default(),
        district: rule.district.clone().unwrap_or_default(),
        postal_codes: rule.postal_codes.join(" "),
        tax_code: rule.tax_code.clone(),
        rate_percent: percent_of_fraction(&rule.rate),
        shipping_taxable: rule.shipping_taxable.then(|| "on".to_owned()),
        valid_from: date(rule.valid_from),
        valid_to: date(rule.valid_to),
        remove: None,
    }
}

async fn store_currency(state: &AppState, store: crate::types::StoreId) -> ConsoleResult<Currency> {
    Ok(tenancy::stores::find(state, store)
        .await
        .map_err(shown)?
        .currency)
}

async fn shipping_rates(
    state: &AppState,
    req: &Parts,
) -> ConsoleResult<RatesView<ShippingRowForm>> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    let config = shipping::load_shipping(state, store, env)
        .await
        .map_err(shown)?;
    Ok(RatesView {
        rows: config.rates.iter().map(shipping_form).collect(),
        store_currency: store_currency(state, store).await?.code().to_owned(),
        can_edit: policy::manage_shipping(actor, env).is_ok(),
        environment: env.as_str().to_owned(),
    })
}

async fn save_shipping_rates(
    state: &AppState,
    req: &Parts,
    rows: Vec<ShippingRowForm>,
) -> ConsoleResult<RatesOutcome<ShippingRowForm>> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_shipping).await?;
    let currency = store_currency(state, store).await?;
    let rows = kept(rows, |r| r.remove.is_some(), shipping_blank);
    let mut errors = Vec::new();
    let rates: Vec<ShippingRate> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| shipping_rate(i, r, currency, &mut errors))
        .collect();
    if errors.is_empty() {
        match shipping::replace_shipping(state, store, env, rates).await {
            Ok(()) => {
                return Ok(RatesOutcome::Saved(format!(
                    "Saved {} shipping rates for {env}.",
                    rows.len()
                )));
            }
            Err(checkout::Error::Invalid(invalid)) => {
                errors.push(from_service(&invalid, shipping_input));
            }
            Err(other) => return Err(shown(other)),
        }
    }
    Ok(RatesOutcome::Refused { rows, errors })
}

async fn tax_rates(state: &AppState, req: &Parts) -> ConsoleResult<RatesView<TaxRowForm>> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    let rules = tax::rule_bodies(state, store, env).await.map_err(shown)?;
    Ok(RatesView {
        rows: rules.iter().map(tax_form).collect(),
        store_currency: store_currency(state, store).await?.code().to_owned(),
        can_edit: policy::manage_tax(actor, env).is_ok(),
        environment: env.as_str().to_owned(),
    })
}

async fn save_tax_rates(
    state: &AppState,
    req: &Parts,
    rows: Vec<TaxRowForm>,
) -> ConsoleResult<RatesOutcome<TaxRowForm>> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_tax).await?;
    let rows = kept(rows, |r| r.remove.is_some(), tax_blank);
    let mut errors = Vec::new();
    let bodies: Vec<TaxRuleBody> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| tax_rule(i, r, &mut errors))
        .collect();
    if errors.is_empty() {
        match tax::put_rules(state, store, env, &bodies).await {
            Ok(saved) => {
                return Ok(RatesOutcome::Saved(format!(
                    "Saved {} tax rates for {env}.",
                    saved.len()
                )));
            }
            Err(tax::Error::Invalid(invalid)) => errors.push(from_service(&invalid, tax_input)),
            Err(other) => return Err(shown(other)),
        }
    }
    Ok(RatesOutcome::Refused { rows, errors })
}

impl RatesBackend for ServerBackend {
    fn shipping_rates<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<RatesView<ShippingRowForm>>> {
        Box::pin(shipping_rates(&self.state, req))
    }

    fn save_shipping_rates<'a>(
        &'a self,
        req: &'a Parts,
        rows: Vec<ShippingRowForm>,
    ) -> BoxFuture<'a, ConsoleResult<RatesOutcome<ShippingRowForm>>> {
        Box::pin(save_shipping_rates(&self.state, req, rows))
    }

    fn tax_rates<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<RatesView<TaxRowForm>>> {
        Box::pin(tax_rates(&self.state, req))
    }

    fn save_tax_rates<'a>(
        &'a self,
        req: &'a Parts,
        rows: Vec<TaxRowForm>,
    ) -> BoxFuture<'a, ConsoleResult<RatesOutcome<TaxRowForm>>> {
        Box::pin(save_tax_rates(&self.state, req, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_exact_fractions_and_back() {
        assert_eq!(fraction_of_percent("8.25").as_deref(), Some("0.0825"));
        assert_eq!(fraction_of_percent(" 19 % ").as_deref(), Some("0.19"));
        assert_eq!(fraction_of_percent("0").as_deref(), Some("0"));
        assert_eq!(fraction_of_percent("7.125").as_deref(), Some("0.07125"));
        for bad in ["", "-1", "100", "abc", "1e2"] {
            assert_eq!(fraction_of_percent(bad), None, "{bad}");
        }
        assert_eq!(percent_of_fraction("0.0825"), "8.25");
        assert_eq!(percent_of_fraction("0.19"), "19");
    }

    #[test]
    fn a_shipping_row_is_read_in_major_units_and_refused_field_by_field() {
        let usd = Currency::parse("USD").unwrap();
        let form = ShippingRowForm {
            service: "standard".into(),
            country: "US".into(),
            max_weight_grams: "1000".into(),
            price: "4.90".into(),
            currency: String::new(),
            remove: None,
        };
        let mut errors = Vec::new();
        let rate = shipping_rate(0, &form, usd, &mut errors).unwrap();
        assert!(errors.is_empty());
        assert_eq!((rate.amount, rate.currency.as_str()), (490, "USD"));
        let jpy = ShippingRowForm {
            price: "4.90".into(),
            currency: "jpy".into(),
            max_weight_grams: "heavy".into(),
            ..form
        };
        assert!(shipping_rate(3, &jpy, usd, &mut errors).is_none());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["rows[3].max_weight_grams", "rows[3].price"]);
    }

    #[test]
    fn service_refusals_name_the_form_input() {
        let invalid = InvalidValue::new("rates.amount", "must be zero or more").in_row(2);
        assert_eq!(
            from_service(&invalid, shipping_input).field,
            "rows[2].price"
        );
        let whole = InvalidValue::new("rules", "at most 1000 rates");
        assert_eq!(from_service(&whole, tax_input).field, "rows");
        let rate = InvalidValue::new("rules.rate", "x").in_row(0);
        assert_eq!(from_service(&rate, tax_input).field, "rows[0].rate_percent");
    }

    #[test]
    fn removed_and_blank_rows_are_left_out() {
        let filled = ShippingRowForm {
            service: "standard".into(),
            ..Default::default()
        };
        let removed = ShippingRowForm {
            remove: Some("on".into()),
            ..filled.clone()
        };
        let rows = kept(
            vec![filled.clone(), ShippingRowForm::default(), removed],
            |r| r.remove.is_some(),
            shipping_blank,
        );
        assert_eq!(rows, vec![filled]);
    }
}
