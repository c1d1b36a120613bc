//! `rules`: the store's own tax rules, per country and subdivision, per tax code.

use rust_decimal::Decimal;

use super::{TaxConfig, TaxProvider, TaxableLine, TaxedLine};
use crate::money::{Overflow, exclusive_tax, inclusive_split};

/// Rates per country and subdivision, per tax code; inclusive or exclusive prices.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesTax;

impl RulesTax {
    /// Registry name, recorded in snapshots.
    pub const NAME: &'static str = "rules";
}

/// The most specific rule of `config`: subdivision + code, subdivision + `*`, country + code,
/// country + `*`; none means untaxed.
pub fn rate_for(
    config: &TaxConfig,
    country: &str,
    subdivision: Option<&str>,
    tax_code: &str,
) -> Decimal {
    let sub = subdivision.unwrap_or("");
    let candidates = [(sub, tax_code), (sub, "*"), ("", tax_code), ("", "*")];
    for (want_sub, want_code) in candidates {
        if let Some((_, rate)) = config.rules.iter().find(|(r, _)| {
            r.country == country && r.subdivision == want_sub && r.tax_code == want_code
        }) {
            return *rate;
        }
    }
    Decimal::ZERO
}

impl TaxProvider for RulesTax {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn quote_tax(
        &self,
        config: &TaxConfig,
        country: &str,
        subdivision: Option<&str>,
        lines: &[TaxableLine],
    ) -> Result<Vec<TaxedLine>, Overflow> {
        lines
            .iter()
            .map(|line| {
                let rate = rate_for(config, country, subdivision, &line.tax_code);
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
    use crate::{money::MinorUnits, providers::tax::TaxRule};

    fn rules(list: &[(&str, &str, &str, &str)]) -> TaxConfig {
        TaxConfig {
            provider: RulesTax::NAME.into(),
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
            rate_for(&tax, "US", Some("CA"), "general").to_string(),
            "0.0825"
        );
        assert_eq!(rate_for(&tax, "US", Some("CA"), "food").to_string(), "0");
        assert_eq!(
            rate_for(&tax, "US", Some("NY"), "general").to_string(),
            "0.05"
        );
        assert_eq!(rate_for(&tax, "DE", None, "food").to_string(), "0.07");
        assert_eq!(rate_for(&tax, "FR", None, "general"), Decimal::ZERO);
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
        let taxed = RulesTax.quote_tax(&tax, "DE", None, &lines).unwrap();
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
