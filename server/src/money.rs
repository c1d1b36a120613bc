//! Money: integer minor units in an ISO 4217 currency, and the rounding rules of tax math.
//!
//! No floats anywhere near money. Rates are `Decimal`s. Every rounding to minor units uses
//! [`ROUNDING`]: half away from zero ("commercial rounding"), the rule most tax authorities
//! publish, applied per line.

use std::{fmt, ops::Neg};

use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::types::Currency;

/// The one rounding mode for money: half away from zero.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// An amount in minor units (cents for USD, yen for JPY, fils for KWD).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct MinorUnits(pub i64);

/// Arithmetic left the range of `i64` minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount out of range")]
pub struct Overflow;

impl MinorUnits {
    /// Zero.
    pub const ZERO: MinorUnits = MinorUnits(0);

    /// `self + other`, or [`Overflow`].
    pub fn checked_add(self, other: MinorUnits) -> Result<MinorUnits, Overflow> {
        self.0.checked_add(other.0).map(MinorUnits).ok_or(Overflow)
    }

    /// `self - other`, or [`Overflow`].
    pub fn checked_sub(self, other: MinorUnits) -> Result<MinorUnits, Overflow> {
        self.0.checked_sub(other.0).map(MinorUnits).ok_or(Overflow)
    }

    /// `self * quantity`, or [`Overflow`].
    pub fn checked_mul(self, quantity: i64) -> Result<MinorUnits, Overflow> {
        self.0.checked_mul(quantity).map(MinorUnits).ok_or(Overflow)
    }

    /// Sum of many amounts, or [`Overflow`].
    pub fn sum(amounts: impl IntoIterator<Item = MinorUnits>) -> Result<MinorUnits, Overflow> {
        amounts
            .into_iter()
            .try_fold(MinorUnits::ZERO, MinorUnits::checked_add)
    }

    fn to_decimal(self) -> Decimal {
        Decimal::from(self.0)
    }

    fn from_decimal(value: Decimal) -> Result<MinorUnits, Overflow> {
        value
            .round_dp_with_strategy(0, ROUNDING)
            .to_i64()
            .map(MinorUnits)
            .ok_or(Overflow)
    }
}

impl Neg for MinorUnits {
    type Output = MinorUnits;
    fn neg(self) -> MinorUnits {
        MinorUnits(-self.0)
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An amount with its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Money {
    /// Minor units.
    pub amount: MinorUnits,
    /// ISO 4217 currency.
    pub currency: Currency,
}

impl Money {
    /// `amount` in `currency`.
    pub fn new(amount: MinorUnits, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// The amount as a decimal in major units (1099 USD cents → 10.99), for display.
    pub fn major(&self) -> Decimal {
        Decimal::new(self.amount.0, u32::from(self.currency.exponent()))
    }
}

/// Tax on a tax-exclusive net amount: `round(net × rate)`.
pub fn exclusive_tax(net: MinorUnits, rate: Decimal) -> Result<MinorUnits, Overflow> {
    let tax = net.to_decimal().checked_mul(rate).ok_or(Overflow)?;
    MinorUnits::from_decimal(tax)
}

/// Splits a tax-inclusive gross amount: `tax = round(gross × r / (1 + r))`, `net = gross − tax`,
/// so `net + tax == gross` exactly.
pub fn inclusive_split(
    gross: MinorUnits,
    rate: Decimal,
) -> Result<(MinorUnits, MinorUnits), Overflow> {
    let divisor = Decimal::ONE.checked_add(rate).ok_or(Overflow)?;
    if divisor.is_zero() {
        return Err(Overflow);
    }
    let tax = gross
        .to_decimal()
        .checked_mul(rate)
        .and_then(|x| x.checked_div(divisor))
        .ok_or(Overflow)?;
    let tax = MinorUnits::from_decimal(tax)?;
    Ok((gross.checked_sub(tax)?, tax))
}

/// Splits `total` into parts proportional to `weights` by the largest-remainder method: parts
/// are floored, then the leftover units go to the largest remainders (earliest first on ties),
/// so the parts always sum exactly to `total`. Used for jurisdiction parts of one tax amount.
pub fn split_largest_remainder(
    total: MinorUnits,
    weights: &[Decimal],
) -> Result<Vec<MinorUnits>, Overflow> {
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    let sum: Decimal = weights
        .iter()
        .try_fold(Decimal::ZERO, |acc, w| acc.checked_add(*w))
        .ok_or(Overflow)?;
    if sum.is_zero() || weights.iter().any(|w| w.is_sign_negative()) {
        // Nothing to weigh by: everything to the first part.
        let mut parts = vec![MinorUnits::ZERO; weights.len()];
        parts[0] = total;
        return Ok(parts);
    }
    let negative = total.0 < 0;
    let magnitude = total.to_decimal().abs();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, weight) in weights.iter().enumerate() {
        let exact = magnitude
            .checked_mul(*weight)
            .and_then(|x| x.checked_div(sum))
            .ok_or(Overflow)?;
        let floor = exact.floor();
        parts.push(floor.to_i64().ok_or(Overflow)?);
        remainders.push((exact - floor, i));
    }
    let assigned: i64 = parts.iter().sum();
    let leftover = magnitude.to_i64().ok_or(Overflow)? - assigned;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders
        .into_iter()
        .take(usize::try_from(leftover).unwrap_or(0))
    {
        parts[i] += 1;
    }
    Ok(parts
        .into_iter()
        .map(|p| MinorUnits(if negative { -p } else { p }))
        .collect())
}

/// Why an amount a person typed is not one of `currency`'s. The text is shown beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountInputError {
    /// Empty, a sign, letters, or a grouping that is not thousands.
    #[error("enter an amount such as {example}")]
    NotAnAmount {
        /// An amount in the currency's shape (`12.34`, `1234`, `12.345`).
        example: String,
    },
    /// More decimals than the currency has minor units.
    #[error("{currency} amounts have {exponent} decimal place(s)")]
    TooPrecise {
        /// The currency's code.
        currency: &'static str,
        /// Its minor-unit digits.
        exponent: u16,
    },
    /// Beyond what an amount can hold.
    #[error("the amount is too large")]
    TooLarge,
}

/// An amount typed in major units (`12.34` USD → 1234, `1,234` JPY → 1234, `1.5` KWD → 1500),
/// refused when the currency cannot represent it (`12.345` USD, `1.5` JPY). Accepts a `.`
/// decimal mark and `,` grouping by thousands where it cannot be read as a decimal comma
/// (`1,234.50`, but not `1,500` in USD); never a sign, so refunds and captures stay positive
/// by construction.
pub fn parse_major_amount(raw: &str, currency: Currency) -> Result<MinorUnits, AmountInputError> {
    let exponent = currency.exponent();
    let not_an_amount = || AmountInputError::NotAnAmount {
        example: Money::new(MinorUnits(1234), currency).major().to_string(),
    };
    let text = raw.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let grouped_ok = whole.split(',').enumerate().all(|(i, group)| {
        let digits = !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit());
        digits && (i == 0 && group.len() <= 3 || i > 0 && group.len() == 3 || !whole.contains(','))
    });
    // `1,500` is fifteen hundred to some and one and a half to others (the console shows EUR
    // as `€1.500,00`): a comma is taken as grouping only where it cannot be a decimal mark,
    // beside a `.` decimal part or in a currency without minor units.
    let ambiguous = whole.contains(',') && fraction.is_none() && exponent > 0;
    if ambiguous
        || !grouped_ok
        || fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(not_an_amount());
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > usize::from(exponent) {
        return Err(AmountInputError::TooPrecise {
            currency: currency.code(),
            exponent,
        });
    }
    let digits = format!(
        "{}{fraction}{}",
        whole.replace(',', ""),
        "0".repeat(usize::from(exponent) - fraction.len())
    );
    digits
        .parse::<i64>()
        .map(MinorUnits)
        .map_err(|_| AmountInputError::TooLarge)
}

/// An amount for people to read: the currency's symbol, digit grouping and decimal mark (as
/// `rusty-money` knows them), then its code: `1099` USD → `$10.99 USD`, `1099` JPY →
/// `¥1,099 JPY`, `123456` EUR → `€1.234,56 EUR`. The code stays because a symbol alone is
/// ambiguous (`$` is also CAD, AUD, …; `¥` also CNY). An unknown code shows the minor units as
/// given. Not for files machines read: exports write plain minor units.
pub fn format_amount(minor: i64, currency: &str) -> String {
    use rusty_money::{Formatter, LocalFormat, Params, Position};

    let Ok(ours) = Currency::parse(currency) else {
        return format!("{minor} {currency}");
    };
    let money = Money::new(MinorUnits(minor), ours);
    let Some(iso) = rusty_money::iso::find(ours.code()) else {
        return format!("{} {}", money.major(), ours.code());
    };
    let local = LocalFormat::from_locale(iso.locale);
    // The library glues a trailing symbol to the digits (`12,50kr`), and a few currencies'
    // symbol is their code (RON, funds): a space before a trailing symbol, and a code said once.
    let positions: &[Position] = match (iso.symbol == iso.iso_alpha_code, iso.symbol_first) {
        (true, _) => &[
            Position::Sign,
            Position::Amount,
            Position::Space,
            Position::Code,
        ],
        (false, true) => &[
            Position::Sign,
            Position::Symbol,
            Position::Amount,
            Position::Space,
            Position::Code,
        ],
        (false, false) => &[
            Position::Sign,
            Position::Amount,
            Position::Space,
            Position::Symbol,
            Position::Space,
            Position::Code,
        ],
    };
    let params = Params {
        digit_separator: local.digit_separator,
        exponent_separator: local.exponent_separator,
        separator_pattern: local.digit_separator_pattern,
        positions,
        // Minor units count in our exponent (ISO 4217's); the library's table disagrees for a
        // few currencies (HUF, MGA, MRU), and its exponent would move the decimal point.
        rounding: Some(u32::from(ours.exponent())),
        symbol: Some(iso.symbol),
        code: Some(ours.code()),
    };
    Formatter::money(
        &rusty_money::Money::from_decimal(money.major(), iso),
        params,
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rate(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn exclusive_tax_rounds_half_away_from_zero() {
        // 1050 × 0.05 = 52.5 → 53; 1010 × 0.05 = 50.5 → 51; 999 × 0.0825 = 82.4175 → 82.
        assert_eq!(
            exclusive_tax(MinorUnits(1050), rate("0.05")).unwrap(),
            MinorUnits(53)
        );
        assert_eq!(
            exclusive_tax(MinorUnits(1010), rate("0.05")).unwrap(),
            MinorUnits(51)
        );
        assert_eq!(
            exclusive_tax(MinorUnits(999), rate("0.0825")).unwrap(),
            MinorUnits(82)
        );
        assert_eq!(
            exclusive_tax(MinorUnits(-1050), rate("0.05")).unwrap(),
            MinorUnits(-53)
        );
    }

    #[test]
    fn inclusive_split_matches_the_published_formula() {
        // 1190 incl. 19% → tax = round(1190 × 0.19 / 1.19) = 190, net 1000.
        assert_eq!(
            inclusive_split(MinorUnits(1190), rate("0.19")).unwrap(),
            (MinorUnits(1000), MinorUnits(190))
        );
        // 1000 incl. 20% → 166.67 → 167, net 833.
        assert_eq!(
            inclusive_split(MinorUnits(1000), rate("0.2")).unwrap(),
            (MinorUnits(833), MinorUnits(167))
        );
        assert_eq!(
            inclusive_split(MinorUnits(0), rate("0.2")).unwrap(),
            (MinorUnits(0), MinorUnits(0))
        );
    }

    #[test]
    fn largest_remainder_sums_exactly() {
        let parts =
            split_largest_remainder(MinorUnits(100), &[rate("1"), rate("1"), rate("1")]).unwrap();
        assert_eq!(parts, vec![MinorUnits(34), MinorUnits(33), MinorUnits(33)]);
        let parts =
            split_largest_remainder(MinorUnits(825), &[rate("0.0625"), rate("0.02")]).unwrap();
        assert_eq!(MinorUnits::sum(parts.clone()).unwrap(), MinorUnits(825));
        assert_eq!(parts, vec![MinorUnits(625), MinorUnits(200)]);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(
            MinorUnits(i64::MAX).checked_add(MinorUnits(1)),
            Err(Overflow)
        );
        assert_eq!(MinorUnits(i64::MAX / 2 + 1).checked_mul(2), Err(Overflow));
    }

    #[test]
    fn major_units_follow_iso_exponents() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(
            Money::new(MinorUnits(1099), usd).major().to_string(),
            "10.99"
        );
        assert_eq!(
            Money::new(MinorUnits(1099), jpy).major().to_string(),
            "1099"
        );
        assert_eq!(
            Money::new(MinorUnits(1099), kwd).major().to_string(),
            "1.099"
        );
    }

    #[test]
    fn typed_amounts_parse_in_the_currencys_exponent() {
        let c = |code| Currency::parse(code).unwrap();
        assert_eq!(parse_major_amount("12.34", c("USD")), Ok(MinorUnits(1234)));
        assert_eq!(parse_major_amount(" 12 ", c("USD")), Ok(MinorUnits(1200)));
        assert_eq!(parse_major_amount("12.3", c("USD")), Ok(MinorUnits(1230)));
        assert_eq!(
            parse_major_amount("1,234.50", c("USD")),
            Ok(MinorUnits(123_450))
        );
        assert_eq!(parse_major_amount("1,234", c("JPY")), Ok(MinorUnits(1234)));
        assert_eq!(parse_major_amount("1.5", c("KWD")), Ok(MinorUnits(1500)));
        assert_eq!(parse_major_amount("0.001", c("KWD")), Ok(MinorUnits(1)));
        assert_eq!(
            parse_major_amount("12.345", c("USD")),
            Err(AmountInputError::TooPrecise {
                currency: "USD",
                exponent: 2
            })
        );
        assert_eq!(
            parse_major_amount("1.5", c("JPY")),
            Err(AmountInputError::TooPrecise {
                currency: "JPY",
                exponent: 0
            })
        );
        for bad in [
            "", "-1", "+1", "1e3", "12.", ".5", "1,23", "12,34.5", "1,,234", "abc", "1 234",
            "12.3.4", "1,500", "12,34",
        ] {
            assert!(
                matches!(
                    parse_major_amount(bad, c("USD")),
                    Err(AmountInputError::NotAnAmount { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_major_amount("99999999999999999999", c("USD")),
            Err(AmountInputError::TooLarge)
        );
        assert_eq!(
            parse_major_amount("x", c("USD")).unwrap_err().to_string(),
            "enter an amount such as 12.34"
        );
    }

    #[test]
    fn amounts_show_symbol_separators_exponent_and_code() {
        assert_eq!(format_amount(1099, "USD"), "$10.99 USD");
        assert_eq!(format_amount(0, "USD"), "$0.00 USD");
        assert_eq!(format_amount(123_456_789, "USD"), "$1,234,567.89 USD");
        // No minor digits: yen are whole.
        assert_eq!(format_amount(1099, "JPY"), "¥1,099 JPY");
        // Three: fils.
        assert_eq!(format_amount(1099, "KWD"), "د.ك1.099 KWD");
        assert_eq!(format_amount(123_456, "EUR"), "€1.234,56 EUR");
        // A symbol after the amount stands apart from it.
        assert_eq!(format_amount(123_456, "SEK"), "1 234,56 kr SEK");
        // A currency whose symbol is its code says it once.
        assert_eq!(format_amount(123_456, "RON"), "1.234,56 RON");
        // The library counts forints in whole units; ISO 4217 (and our minor units) in fillér.
        assert_eq!(format_amount(123_456, "HUF"), "1 234,56 Ft HUF");
    }

    #[test]
    fn negative_amounts_carry_the_sign_first() {
        assert_eq!(format_amount(-1099, "USD"), "-$10.99 USD");
        assert_eq!(format_amount(-5, "EUR"), "-€0,05 EUR");
    }

    #[test]
    fn unknown_codes_fall_back_to_minor_units() {
        assert_eq!(format_amount(1099, "ZZZ"), "1099 ZZZ");
        assert_eq!(format_amount(-7, "usd"), "-7 usd");
        assert_eq!(format_amount(1, ""), "1 ");
    }

    fn rates() -> impl Strategy<Value = Decimal> {
        // 0.0000 to 0.3000 in steps of 0.0001 (four decimal places, as rates are published).
        (0u32..=3000).prop_map(|bp| Decimal::new(i64::from(bp), 4))
    }

    proptest! {
        #[test]
        fn inclusive_net_plus_tax_is_gross(gross in -10_000_000_000i64..10_000_000_000, r in rates()) {
            let (net, tax) = inclusive_split(MinorUnits(gross), r).unwrap();
            prop_assert_eq!(net.0 + tax.0, gross);
            prop_assert!(tax.0.abs() <= gross.abs());
        }

        #[test]
        fn inclusive_and_exclusive_agree_within_a_unit(net in 0i64..1_000_000_000, r in rates()) {
            // Grossing up exclusive net and splitting it back recovers the tax within rounding.
            let tax = exclusive_tax(MinorUnits(net), r).unwrap();
            let (net_back, tax_back) = inclusive_split(MinorUnits(net + tax.0), r).unwrap();
            prop_assert!((tax_back.0 - tax.0).abs() <= 1);
            prop_assert_eq!(net_back.0 + tax_back.0, net + tax.0);
        }

        #[test]
        fn largest_remainder_parts_sum_to_total(
            total in -1_000_000_000i64..1_000_000_000,
            weights in proptest::collection::vec(1u32..10_000, 1..8),
        ) {
            let weights: Vec<Decimal> = weights.into_iter().map(|w| Decimal::new(i64::from(w), 4)).collect();
            let parts = split_largest_remainder(MinorUnits(total), &weights).unwrap();
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(MinorUnits::sum(parts.clone()).unwrap(), MinorUnits(total));
            // No part is off its exact share by a whole unit or more.
            let sum: Decimal = weights.iter().sum();
            for (part, weight) in parts.iter().zip(&weights) {
                let exact = Decimal::from(total) * weight / sum;
                prop_assert!((Decimal::from(part.0) - exact).abs() < Decimal::ONE);
            }
        }
    }
}
