//! The rate between two currencies from stored rates: the pair itself, its inverse, or a cross
//! rate through a base both were published against (the ECB publishes everything per EUR).
//!
//! Precision: inverses and cross rates are computed in 28-digit decimal arithmetic and rounded
//! to [`SIGNIFICANT_DIGITS`] significant digits (half to even); published rates are used as
//! written. A feed's rates are only ever combined with rates of the same source and instant.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::types::Currency;

/// Significant digits kept of a derived rate: far beyond the five or six feeds publish.
pub const SIGNIFICANT_DIGITS: u32 = 12;

/// A stored rate, as the lookup reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub source: String,
    pub base: Currency,
    pub quote: Currency,
    pub rate: Decimal,
    pub as_of: DateTime<Utc>,
}

/// A rate of `to` per unit of `from`, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub rate: Decimal,
    pub source: String,
    pub as_of: DateTime<Utc>,
}

fn round(rate: Decimal) -> Option<Decimal> {
    rate.round_sf_with_strategy(SIGNIFICANT_DIGITS, RoundingStrategy::MidpointNearestEven)
        .map(|r| r.normalize())
        .filter(|r| *r > Decimal::ZERO)
}

/// `to` per `from` from one source's rates of one instant, if they allow it.
fn within(group: &[&Quote], from: Currency, to: Currency) -> Option<Decimal> {
    if let Some(q) = group.iter().find(|q| q.base == from && q.quote == to) {
        return Some(q.rate);
    }
    if let Some(q) = group.iter().find(|q| q.base == to && q.quote == from) {
        return Decimal::ONE.checked_div(q.rate).and_then(round);
    }
    group.iter().filter(|q| q.quote == to).find_map(|to_rate| {
        let from_rate = group
            .iter()
            .find(|q| q.base == to_rate.base && q.quote == from)?;
        to_rate.rate.checked_div(from_rate.rate).and_then(round)
    })
}

/// The most recent rate of `to` per `from` among `quotes`: the newest instant (then source
/// name, for a stable answer) whose rates give the pair.
pub fn derive(quotes: &[Quote], from: Currency, to: Currency) -> Option<Derived> {
    if from == to {
        return None;
    }
    let mut groups: Vec<(&str, DateTime<Utc>)> = quotes
        .iter()
        .map(|q| (q.source.as_str(), q.as_of))
        .collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    groups.dedup();
    groups.into_iter().find_map(|(source, as_of)| {
        let group: Vec<&Quote> = quotes
            .iter()
            .filter(|q| q.source == source && q.as_of == as_of)
            .collect();
        within(&group, from, to).map(|rate| Derived {
            rate,
            source: source.to_owned(),
            as_of,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn q(source: &str, base: &str, quote: &str, rate: &str, day: u32) -> Quote {
        Quote {
            source: source.into(),
            base: c(base),
            quote: c(quote),
            rate: rate.parse().unwrap(),
            as_of: format!("2026-12-{day:02}T00:00:00Z").parse().unwrap(),
        }
    }

    #[test]
    fn direct_inverse_and_cross() {
        let rates = [
            q("ecb", "EUR", "USD", "1.0512", 3),
            q("ecb", "EUR", "JPY", "158.42", 3),
            q("ecb", "EUR", "KWD", "0.32311", 3),
        ];
        let at = |f, t| derive(&rates, c(f), c(t)).map(|d| d.rate.to_string());
        assert_eq!(at("EUR", "JPY").as_deref(), Some("158.42"));
        // 1 / 1.0512 = 0.951293759512937… → 12 significant digits.
        assert_eq!(at("USD", "EUR").as_deref(), Some("0.951293759513"));
        // 158.42 / 1.0512 = 150.7039573820395…
        assert_eq!(at("USD", "JPY").as_deref(), Some("150.703957382"));
        // 0.32311 / 1.0512 = 0.30737252663622…
        assert_eq!(at("USD", "KWD").as_deref(), Some("0.307372526636"));
        assert_eq!(at("USD", "GBP"), None);
        assert_eq!(at("USD", "USD"), None);
    }

    #[test]
    fn the_newest_instant_that_gives_the_pair_wins() {
        let rates = [
            q("ecb", "EUR", "USD", "1.04", 1),
            q("ecb", "EUR", "JPY", "150", 1),
            q("ecb", "EUR", "USD", "1.05", 2),
            // Day 3 has no JPY: day 2 neither, so day 1's cross rate is the answer.
            q("ecb", "EUR", "USD", "1.06", 3),
            // Another source's JPY is never crossed with the ECB's USD.
            q("other", "EUR", "JPY", "160", 3),
        ];
        let d = derive(&rates, c("USD"), c("JPY")).unwrap();
        assert_eq!(d.as_of.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(d.rate.to_string(), "144.230769231");
        assert_eq!(d.source, "ecb");
    }
}
