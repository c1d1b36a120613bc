//! The carrier's tariff: zones, billable weight and prices per service. Pure rules, documented
//! in the crate docs; amounts are minor units of the requested currency.

use serde::Serialize;

/// Currencies the carrier quotes in. The numbers are the same in each (a sandbox, not an
/// exchange).
pub const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "CAD", "AUD"];

/// The European Union's member states (ISO 3166-1 alpha-2): shipments among them are zone 2.
pub const EU: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// North America's trade area: shipments among these are zone 2.
pub const NORTH_AMERICA: &[&str] = &["US", "CA", "MX"];

/// Grams of billable weight per cubic millimetre divisor (the dimensional factor).
pub const DIM_DIVISOR: i64 = 5000;

/// A price step: each started 500 g of billable weight.
pub const STEP_GRAMS: i64 = 500;

/// The zone of a shipment from `from` to `to` (alpha-2 codes): 1 domestic, 2 within the EU or
/// within US/CA/MX, 3 anything else.
pub fn zone(from: &str, to: &str) -> u8 {
    let both_in = |set: &[&str]| set.contains(&from) && set.contains(&to);
    if from == to {
        1
    } else if both_in(EU) || both_in(NORTH_AMERICA) {
        2
    } else {
        3
    }
}

/// A parcel's size and weight, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parcel {
    /// Actual weight.
    pub weight_grams: i64,
    /// Length.
    pub length_mm: i64,
    /// Width.
    pub width_mm: i64,
    /// Height.
    pub height_mm: i64,
}

/// A computation that would overflow: the parcel is too large to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the package is too large to price")]
pub struct TooLarge;

/// `max(weight, ceil(length × width × height / 5000))`.
pub fn billable_grams(p: Parcel) -> Result<i64, TooLarge> {
    let volume = p
        .length_mm
        .checked_mul(p.width_mm)
        .and_then(|v| v.checked_mul(p.height_mm))
        .ok_or(TooLarge)?;
    let dimensional = ceil_div(volume, DIM_DIVISOR);
    Ok(p.weight_grams.max(dimensional))
}

/// `ceil(a / b)` for `a >= 0`, `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// A shipping service the carrier sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Cheapest, slowest.
    Ground,
    /// Faster.
    Express,
    /// Next day (zones 1 and 2 only).
    Overnight,
}

impl Service {
    /// Every service, cheapest first.
    pub const ALL: [Service; 3] = [Service::Ground, Service::Express, Service::Overnight];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ground => "ground",
            Service::Express => "express",
            Service::Overnight => "overnight",
        }
    }

    /// Price of a package before the zone multiplier.
    fn base(self) -> i64 {
        match self {
            Service::Ground => 500,
            Service::Express => 1200,
            Service::Overnight => 2500,
        }
    }

    /// Price of each started 500 g of billable weight.
    fn per_step(self) -> i64 {
        match self {
            Service::Ground => 150,
            Service::Express => 300,
            Service::Overnight => 500,
        }
    }

    /// Days in transit to `zone`; `None` where the service is not offered.
    pub fn estimated_days(self, zone: u8) -> Option<i32> {
        match (self, zone) {
            (Service::Ground, 1) => Some(5),
            (Service::Ground, 2) => Some(7),
            (Service::Ground, _) => Some(10),
            (Service::Express, 1) => Some(2),
            (Service::Express, 2) => Some(3),
            (Service::Express, _) => Some(5),
            (Service::Overnight, 1) => Some(1),
            (Service::Overnight, 2) => Some(2),
            (Service::Overnight, _) => None,
        }
    }
}

/// `x` times the zone's multiplier (×1, ×1.5, ×2.5), in integers, halves rounded up.
pub fn apply_zone(x: i64, zone: u8) -> Result<i64, TooLarge> {
    let (numerator, denominator) = match zone {
        1 => (1, 1),
        2 => (3, 2),
        _ => (5, 2),
    };
    let scaled = x.checked_mul(numerator).ok_or(TooLarge)?;
    // Adding half the divisor (rounded down) before dividing rounds .5 up for positive values.
    Ok((scaled + denominator / 2) / denominator)
}

/// One package's price with `service` in `zone`.
pub fn package_price(service: Service, zone: u8, parcel: Parcel) -> Result<i64, TooLarge> {
    let steps = ceil_div(billable_grams(parcel)?, STEP_GRAMS);
    let price = steps
        .checked_mul(service.per_step())
        .and_then(|p| p.checked_add(service.base()))
        .ok_or(TooLarge)?;
    apply_zone(price, zone)
}

/// A quote: service, amount (sum over the packages) and days in transit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// The service.
    pub service: Service,
    /// Minor units.
    pub amount: i64,
    /// Days in transit.
    pub estimated_days: i32,
}

/// Every service offered from `from` to `to` for `parcels`, cheapest first.
pub fn quotes(from: &str, to: &str, parcels: &[Parcel]) -> Result<Vec<Quote>, TooLarge> {
    let zone = zone(from, to);
    let mut quotes = Vec::new();
    for service in Service::ALL {
        let Some(estimated_days) = service.estimated_days(zone) else {
            continue;
        };
        let mut amount: i64 = 0;
        for parcel in parcels {
            amount = amount
                .checked_add(package_price(service, zone, *parcel)?)
                .ok_or(TooLarge)?;
        }
        quotes.push(Quote {
            service,
            amount,
            estimated_days,
        });
    }
    // Stable: equal amounts keep the services' order.
    quotes.sort_by_key(|q| q.amount);
    Ok(quotes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parcel(weight_grams: i64, l: i64, w: i64, h: i64) -> Parcel {
        Parcel {
            weight_grams,
            length_mm: l,
            width_mm: w,
            height_mm: h,
        }
    }

    #[test]
    fn zones() {
        assert_eq!(zone("US", "US"), 1);
        assert_eq!(zone("DE", "DE"), 1);
        assert_eq!(zone("DE", "FR"), 2);
        assert_eq!(zone("US", "MX"), 2);
        assert_eq!(zone("CA", "US"), 2);
        assert_eq!(zone("US", "DE"), 3);
        assert_eq!(zone("GB", "FR"), 3, "not a member");
        assert_eq!(zone("CH", "DE"), 3);
        assert_eq!(EU.len(), 27);
    }

    #[test]
    fn billable_weight_is_the_larger_of_actual_and_dimensional() {
        // 400 × 300 × 200 = 24,000,000 mm³ / 5000 = 4800 g.
        assert_eq!(billable_grams(parcel(1000, 400, 300, 200)), Ok(4800));
        assert_eq!(billable_grams(parcel(6000, 400, 300, 200)), Ok(6000));
        // 10 × 10 × 10 = 1000 / 5000 = 0.2, rounded up to 1.
        assert_eq!(billable_grams(parcel(0, 10, 10, 10)), Ok(1));
        assert_eq!(billable_grams(parcel(1, i64::MAX, 2, 1)), Err(TooLarge));
    }

    #[test]
    fn zone_multipliers_round_halves_up() {
        assert_eq!(apply_zone(950, 1), Ok(950));
        assert_eq!(apply_zone(950, 2), Ok(1425));
        assert_eq!(apply_zone(950, 3), Ok(2375));
        assert_eq!(apply_zone(651, 2), Ok(977), "976.5");
        assert_eq!(apply_zone(651, 3), Ok(1628), "1627.5");
        assert_eq!(apply_zone(i64::MAX, 3), Err(TooLarge));
    }

    #[test]
    fn package_prices() {
        // 2000 g actual, small box: 4 steps.
        let p = parcel(2000, 100, 100, 100);
        assert_eq!(package_price(Service::Ground, 1, p), Ok(500 + 150 * 4));
        assert_eq!(package_price(Service::Express, 1, p), Ok(1200 + 300 * 4));
        assert_eq!(package_price(Service::Overnight, 1, p), Ok(2500 + 500 * 4));
        // 2001 g: a fifth step is started.
        let p = parcel(2001, 100, 100, 100);
        assert_eq!(package_price(Service::Ground, 1, p), Ok(500 + 150 * 5));
    }

    #[test]
    fn quotes_sum_packages_and_drop_overnight_beyond_zone_2() {
        let parcels = [parcel(1000, 100, 100, 100), parcel(2500, 100, 100, 100)];
        let q = quotes("US", "US", &parcels).expect("prices");
        let amounts: Vec<_> = q
            .iter()
            .map(|q| (q.service, q.amount, q.estimated_days))
            .collect();
        assert_eq!(
            amounts,
            vec![
                (Service::Ground, (500 + 300) + (500 + 750), 5),
                (Service::Express, (1200 + 600) + (1200 + 1500), 2),
                (Service::Overnight, (2500 + 1000) + (2500 + 2500), 1),
            ]
        );
        let q = quotes("US", "JP", &parcels).expect("prices");
        assert_eq!(q.len(), 2);
        assert!(q.iter().all(|q| q.service != Service::Overnight));
        assert_eq!(q[0].estimated_days, 10);
    }
}
