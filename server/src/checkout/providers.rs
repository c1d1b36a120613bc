//! The built-in providers that make a quote complete: table-rate shipping and rules tax. They
//! are the first implementations of `ShippingProvider` and `TaxProvider`; carriers and tax
//! services plug in behind the same traits.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    money::{MinorUnits, Overflow, exclusive_tax, inclusive_split},
    types::Currency,
};

/// What is shipped where.
#[derive(Debug, Clone)]
pub struct Parcel {
    /// Destination, ISO 3166-1 alpha-2.
    pub country: String,
    /// Total weight.
    pub weight_grams: i64,
    /// Currency the rate must be in.
    pub currency: Currency,
}

/// One shipping option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RateQuote {
    /// Service name (e.g. `standard`).
    pub service: String,
    /// Price, minor units.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
}

/// Quotes shipping for a parcel.
pub trait ShippingProvider {
    /// Provider name recorded in snapshots.
    fn name(&self) -> &'static str;
    /// Options for the parcel, cheapest first.
    fn quote_rates(&self, parcel: &Parcel) -> Vec<RateQuote>;
}

/// One row of a store's rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippingRate {
    /// Service name.
    pub service: String,
    /// Destination alpha-2 code, or `*` for anywhere.
    pub country: String,
    /// The band covers parcels up to this weight.
    pub max_weight_grams: i32,
    /// Price, minor units.
    pub amount: i64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// Rates by destination country and weight band, configured per store.
#[derive(Debug, Clone, Default)]
pub struct TableRateShipping {
    /// The table.
    pub rates: Vec<ShippingRate>,
}

impl ShippingProvider for TableRateShipping {
    fn name(&self) -> &'static str {
        "table_rate"
    }

    /// Per service: the rows for this country (else `*`) in the parcel's currency, and among
    /// them the smallest weight band that holds the parcel.
    fn quote_rates(&self, parcel: &Parcel) -> Vec<RateQuote> {
        let mut services: Vec<&str> = self.rates.iter().map(|r| r.service.as_str()).collect();
        services.sort_unstable();
        services.dedup();
        let mut quotes: Vec<RateQuote> = services
            .into_iter()
            .filter_map(|service| {
                let fits = |r: &&ShippingRate| {
                    r.service == service
                        && r.currency == parcel.currency.code()
                        && i64::from(r.max_weight_grams) >= parcel.weight_grams
                };
                let exact: Vec<&ShippingRate> = self
                    .rates
                    .iter()
                    .filter(fits)
                    .filter(|r| r.country == parcel.country)
                    .collect();
                let candidates = if exact.is_empty() {
                    self.rates
                        .iter()
                        .filter(fits)
                        .filter(|r| r.country == "*")
                        .collect()
                } else {
                    exact
                };
                candidates
                    .into_iter()
                    .min_by_key(|r| (r.max_weight_grams, r.amount))
                    .map(|r| RateQuote {
                        service: service.to_owned(),
                        amount: MinorUnits(r.amount),
                    })
            })
            .collect();
        quotes.sort_by(|a, b| a.amount.cmp(&b.amount).then(a.service.cmp(&b.service)));
        quotes
    }
}

/// A priced line to tax.
#[derive(Debug, Clone)]
pub struct TaxableLine {
    /// Amount as priced (gross when inclusive, net when exclusive).
    pub amount: MinorUnits,
    /// Tax category.
    pub tax_code: String,
    /// Whether `amount` includes tax.
    pub inclusive: bool,
}

/// A taxed line: `net + tax` is what the customer pays for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxedLine {
    /// Amount without tax.
    pub net: MinorUnits,
    /// Tax.
    pub tax: MinorUnits,
    /// Rate applied.
    pub rate: Decimal,
}

/// Computes tax per line for a destination.
pub trait TaxProvider {
    /// Provider name recorded in snapshots.
    fn name(&self) -> &'static str;
    /// Taxes each line for the destination.
    fn quote_tax(
        &self,
        country: &str,
        subdivision: Option<&str>,
        lines: &[TaxableLine],
    ) -> Result<Vec<TaxedLine>, Overflow>;
}

/// One rule of a store's tax table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRule {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Subdivision code, or empty for the whole country.
    #[serde(default)]
    pub subdivision: String,
    /// Tax code, or `*` for every code.
    pub tax_code: String,
    /// Decimal rate as a string, e.g. `"0.0825"`.
    pub rate: String,
}

/// Rates per country and subdivision, per tax code; inclusive or exclusive prices.
#[derive(Debug, Clone, Default)]
pub struct RulesTax {
    /// Parsed rules.
    pub rules: Vec<(TaxRule, Decimal)>,
}

impl RulesTax {
    /// The most specific rule: subdivision + code, subdivision + `*`, country + code,
    /// country + `*`; none means untaxed.
    pub fn rate_for(&self, country: &str, subdivision: Option<&str>, tax_code: &str) -> Decimal {
        let sub = subdivision.unwrap_or("");
        let candidates = [(sub, tax_code), (sub, "*"), ("", tax_code), ("", "*")];
        for (want_sub, want_code) in candidates {
            if let Some((_, rate)) = self.rules.iter().find(|(r, _)| {
                r.country == country && r.subdivision == want_sub && r.tax_code == want_code
            }) {
                return *rate;
            }
        }
        Decimal::ZERO
    }
}

impl TaxProvider for RulesTax {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn quote_tax(
        &self,
        country: &str,
        subdivision: Option<&str>,
        lines: &[TaxableLine],
    ) -> Result<Vec<TaxedLine>, Overflow> {
        lines
            .iter()
            .map(|line| {
                let rate = self.rate_for(country, subdivision, &line.tax_code);
                let (net, tax) = if line.inclusive {
                    inclusive_split(line.amount, rate)?
                } else {
                    (line.amount, exclusive_tax(line.amount, rate)?)
                };
                Ok(TaxedLine { net, tax, rate })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn rate(service: &str, country: &str, max: i32, amount: i64) -> ShippingRate {
        ShippingRate {
            service: service.into(),
            country: country.into(),
            max_weight_grams: max,
            amount,
            currency: "USD".into(),
        }
    }

    #[test]
    fn table_rates_pick_the_country_and_weight_band() {
        let table = TableRateShipping {
            rates: vec![
                rate("standard", "US", 1000, 500),
                rate("standard", "US", 5000, 900),
                rate("standard", "*", 5000, 2500),
                rate("express", "*", 2000, 3000),
            ],
        };
        let parcel = |country: &str, weight| Parcel {
            country: country.into(),
            weight_grams: weight,
            currency: usd(),
        };
        assert_eq!(
            table.quote_rates(&parcel("US", 800)),
            vec![
                RateQuote {
                    service: "standard".into(),
                    amount: MinorUnits(500)
                },
                RateQuote {
                    service: "express".into(),
                    amount: MinorUnits(3000)
                },
            ]
        );
        assert_eq!(
            table.quote_rates(&parcel("US", 1200))[0].amount,
            MinorUnits(900)
        );
        assert_eq!(
            table.quote_rates(&parcel("DE", 1200))[0].amount,
            MinorUnits(2500)
        );
        // Too heavy for express, and for everything.
        assert_eq!(table.quote_rates(&parcel("DE", 3000)).len(), 1);
        assert!(table.quote_rates(&parcel("DE", 9000)).is_empty());
        let eur = Parcel {
            country: "US".into(),
            weight_grams: 1,
            currency: Currency::parse("EUR").unwrap(),
        };
        assert!(
            table.quote_rates(&eur).is_empty(),
            "rates only in their currency"
        );
    }

    fn rules(list: &[(&str, &str, &str, &str)]) -> RulesTax {
        RulesTax {
            rules: list
                .iter()
                .map(|(c, s, code, r)| {
                    (
                        TaxRule {
                            country: (*c).into(),
                            subdivision: (*s).into(),
                            tax_code: (*code).into(),
                            rate: (*r).into(),
                        },
                        r.parse().unwrap(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let tax = rules(&[
            ("US", "", "*", "0.05"),
            ("US", "CA", "*", "0.0825"),
            ("US", "CA", "food", "0"),
            ("DE", "", "*", "0.19"),
            ("DE", "", "food", "0.07"),
        ]);
        assert_eq!(
            tax.rate_for("US", Some("CA"), "general").to_string(),
            "0.0825"
        );
        assert_eq!(tax.rate_for("US", Some("CA"), "food").to_string(), "0");
        assert_eq!(
            tax.rate_for("US", Some("NY"), "general").to_string(),
            "0.05"
        );
        assert_eq!(tax.rate_for("DE", None, "food").to_string(), "0.07");
        assert_eq!(tax.rate_for("FR", None, "general"), Decimal::ZERO);
    }

    #[test]
    fn inclusive_and_exclusive_lines_are_taxed_per_line() {
        let tax = rules(&[("DE", "", "*", "0.19")]);
        let lines = [
            TaxableLine {
                amount: MinorUnits(1190),
                tax_code: "general".into(),
                inclusive: true,
            },
            TaxableLine {
                amount: MinorUnits(1000),
                tax_code: "general".into(),
                inclusive: false,
            },
        ];
        let taxed = tax.quote_tax("DE", None, &lines).unwrap();
        assert_eq!(
            (taxed[0].net, taxed[0].tax),
            (MinorUnits(1000), MinorUnits(190))
        );
        assert_eq!(
            (taxed[1].net, taxed[1].tax),
            (MinorUnits(1000), MinorUnits(190))
        );
    }
}
