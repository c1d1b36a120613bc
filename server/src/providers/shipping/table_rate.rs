//! `table_rate`: the store's own rate table, by destination country and weight band.

use super::{Parcel, RateQuote, ShippingConfig, ShippingProvider, ShippingRate};
use crate::money::MinorUnits;

/// Rates by destination country and weight band, from the store's configured table.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableRateShipping;

impl TableRateShipping {
    /// Registry name, recorded in snapshots.
    pub const NAME: &'static str = "table_rate";
}

impl ShippingProvider for TableRateShipping {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Per service: the rows for this country (else `*`) in the parcel's currency, and among
    /// them the smallest weight band that holds the parcel.
    fn quote_rates(&self, config: &ShippingConfig, parcel: &Parcel) -> Vec<RateQuote> {
        let rates = &config.rates;
        let mut services: Vec<&str> = rates.iter().map(|r| r.service.as_str()).collect();
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
                let exact: Vec<&ShippingRate> = rates
                    .iter()
                    .filter(fits)
                    .filter(|r| r.country == parcel.country)
                    .collect();
                let candidates = if exact.is_empty() {
                    rates
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Currency;

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
        let table = ShippingConfig {
            provider: TableRateShipping::NAME.into(),
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
            TableRateShipping.quote_rates(&table, &parcel("US", 800)),
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
            TableRateShipping.quote_rates(&table, &parcel("US", 1200))[0].amount,
            MinorUnits(900)
        );
        assert_eq!(
            TableRateShipping.quote_rates(&table, &parcel("DE", 1200))[0].amount,
            MinorUnits(2500)
        );
        // Too heavy for express, and for everything.
        assert_eq!(
            TableRateShipping
                .quote_rates(&table, &parcel("DE", 3000))
                .len(),
            1
        );
        assert!(
            TableRateShipping
                .quote_rates(&table, &parcel("DE", 9000))
                .is_empty()
        );
        let eur = Parcel {
            country: "US".into(),
            weight_grams: 1,
            currency: Currency::parse("EUR").unwrap(),
        };
        assert!(
            TableRateShipping.quote_rates(&table, &eur).is_empty(),
            "rates only in their currency"
        );
    }
}
