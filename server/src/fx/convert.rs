//! Converting minor units between currencies at a rate: ISO 4217 exponents on both sides, the
//! store's rounding rule for prices, half away from zero for settlement, and splits whose parts
//! add up to the converted total.

use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    money::{MinorUnits, Overflow, ROUNDING, split_largest_remainder},
    types::{Currency, TextValue},
};

/// How a converted price is rounded to the presentment currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half away from zero (commercial rounding).
    #[default]
    HalfAwayFromZero,
    /// Half to even (banker's rounding).
    HalfEven,
    /// Always up (a converted price never undercuts the rate).
    Up,
    /// Always down.
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfAwayFromZero => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Up => RoundingStrategy::AwayFromZero,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

impl TextValue for Rounding {
    fn as_text(&self) -> &'static str {
        match self {
            Rounding::HalfAwayFromZero => "half_away_from_zero",
            Rounding::HalfEven => "half_even",
            Rounding::Up => "up",
            Rounding::Down => "down",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            Rounding::HalfAwayFromZero,
            Rounding::HalfEven,
            Rounding::Up,
            Rounding::Down,
        ]
        .into_iter()
        .find(|r| r.as_text() == text)
    }
}
crate::text_value_sql!(Rounding);

/// `10^n` as a decimal (n ≤ 28).
fn pow10(n: u32) -> Decimal {
    Decimal::from_i128_with_scale(10i128.pow(n), 0)
}

/// The exact value of `amount` of `from` in minor units of `to`, at `rate` units of `to` per
/// unit of `from` (major units): `amount × rate × 10^(e_to − e_from)`.
fn exact(
    amount: MinorUnits,
    from: Currency,
    to: Currency,
    rate: Decimal,
) -> Result<Decimal, Overflow> {
    let (e_from, e_to) = (u32::from(from.exponent()), u32::from(to.exponent()));
    let value = Decimal::from(amount.0).checked_mul(rate).ok_or(Overflow)?;
    if e_to >= e_from {
        value.checked_mul(pow10(e_to - e_from))
    } else {
        value.checked_div(pow10(e_from - e_to))
    }
    .ok_or(Overflow)
}

fn to_minor(value: Decimal, strategy: RoundingStrategy) -> Result<MinorUnits, Overflow> {
    value
        .round_dp_with_strategy(0, strategy)
        .to_i64()
        .map(MinorUnits)
        .ok_or(Overflow)
}

/// `amount` of `from` in `to` at `rate` (`to` per `from`), rounded by `rounding`. Monotonic in
/// `amount` for every rule, which is what keeps cumulative conversions ordered (see
/// [`settlement_step`]).
pub fn convert(
    amount: MinorUnits,
    from: Currency,
    to: Currency,
    rate: Decimal,
    rounding: Rounding,
) -> Result<MinorUnits, Overflow> {
    to_minor(exact(amount, from, to, rate)?, rounding.strategy())
}

/// The settlement value of a presentment amount at the locked `rate` (presentment per
/// settlement unit): half away from zero, like every other rounding of money here.
pub fn to_settlement(
    amount: MinorUnits,
    presentment: Currency,
    settlement: Currency,
    rate: Decimal,
) -> Result<MinorUnits, Overflow> {
    if rate <= Decimal::ZERO {
        return Err(Overflow);
    }
    // Dividing rather than multiplying by a rounded inverse keeps the result exact to 28 digits.
    let value = Decimal::from(amount.0).checked_div(rate).ok_or(Overflow)?;
    let (e_p, e_s) = (
        u32::from(presentment.exponent()),
        u32::from(settlement.exponent()),
    );
    let value = if e_s >= e_p {
        value.checked_mul(pow10(e_s - e_p))
    } else {
        value.checked_div(pow10(e_p - e_s))
    }
    .ok_or(Overflow)?;
    to_minor(value, ROUNDING)
}

/// The settlement amount of one operation that moves a running presentment total from
/// `before` to `after` (captures, refunds): the difference of the totals' conversions. The
/// operations' settlement amounts then always add up to the conversion of their sum, so the
/// refunded settlement of a payment never exceeds its captured settlement.
pub fn settlement_step(
    before: MinorUnits,
    after: MinorUnits,
    presentment: Currency,
    settlement: Currency,
    rate: Decimal,
) -> Result<MinorUnits, Overflow> {
    to_settlement(after, presentment, settlement, rate)?.checked_sub(to_settlement(
        before,
        presentment,
        settlement,
        rate,
    )?)
}

/// Converts `total` and splits the result over `parts` in proportion to them (largest
/// remainder), so the converted parts add up to exactly the converted total.
pub fn settlement_parts(
    parts: &[MinorUnits],
    presentment: Currency,
    settlement: Currency,
    rate: Decimal,
) -> Result<(MinorUnits, Vec<MinorUnits>), Overflow> {
    let total = MinorUnits::sum(parts.iter().copied())?;
    let converted = to_settlement(total, presentment, settlement, rate)?;
    let weights: Vec<Decimal> = parts.iter().map(|p| Decimal::from(p.0)).collect();
    Ok((converted, split_largest_remainder(converted, &weights)?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn exponents_on_both_sides() {
        // 10.99 USD at 150.25 JPY/USD = 1651.2475 JPY → 1651 yen.
        assert_eq!(
            convert(
                MinorUnits(1099),
                c("USD"),
                c("JPY"),
                d("150.25"),
                Rounding::HalfAwayFromZero
            ),
            Ok(MinorUnits(1651))
        );
        // 10.99 USD at 0.3075 KWD/USD = 3.379425 KWD → 3.379 KWD = 3379 fils.
        assert_eq!(
            convert(
                MinorUnits(1099),
                c("USD"),
                c("KWD"),
                d("0.3075"),
                Rounding::HalfAwayFromZero
            ),
            Ok(MinorUnits(3379))
        );
        // 1651 JPY back at 150.25: 10.98835… USD → 10.99.
        assert_eq!(
            to_settlement(MinorUnits(1651), c("JPY"), c("USD"), d("150.25")),
            Ok(MinorUnits(1099))
        );
        // 3379 fils back at 0.3075: 10.98861… USD → 10.99.
        assert_eq!(
            to_settlement(MinorUnits(3379), c("KWD"), c("USD"), d("0.3075")),
            Ok(MinorUnits(1099))
        );
    }

    #[test]
    fn rounding_rules() {
        // 1.005 EUR-cents → 100.5 in a 2-decimal currency at rate 1.005 on 100.
        let at = |r| convert(MinorUnits(100), c("EUR"), c("USD"), d("1.005"), r);
        assert_eq!(at(Rounding::HalfAwayFromZero), Ok(MinorUnits(101)));
        assert_eq!(at(Rounding::HalfEven), Ok(MinorUnits(100)));
        assert_eq!(at(Rounding::Up), Ok(MinorUnits(101)));
        assert_eq!(at(Rounding::Down), Ok(MinorUnits(100)));
        let up = |r| convert(MinorUnits(100), c("EUR"), c("USD"), d("1.0001"), r);
        assert_eq!(up(Rounding::Up), Ok(MinorUnits(101)));
        assert_eq!(up(Rounding::HalfAwayFromZero), Ok(MinorUnits(100)));
    }

    #[test]
    fn rounding_rules_read_back() {
        for r in [
            Rounding::HalfAwayFromZero,
            Rounding::HalfEven,
            Rounding::Up,
            Rounding::Down,
        ] {
            assert_eq!(Rounding::from_text(r.as_text()), Some(r));
        }
        assert_eq!(Rounding::from_text("nearest"), None);
    }

    #[test]
    fn a_zero_rate_is_refused_not_divided_by() {
        assert_eq!(
            to_settlement(MinorUnits(1), c("JPY"), c("USD"), Decimal::ZERO),
            Err(Overflow)
        );
    }

    #[test]
    fn a_result_too_large_for_minor_units_is_refused_not_wrapped() {
        // Found by the round-trip property: ¥930,780,426,490 at 9,909.29 BHD per JPY is
        // 9.2 × 10¹⁸ fils, beyond what an amount can hold.
        let rate = Decimal::new(9_909_288_780, 6);
        let amount = MinorUnits(930_780_426_490);
        assert_eq!(
            convert(amount, c("JPY"), c("BHD"), rate, Rounding::HalfAwayFromZero),
            Err(Overflow)
        );
        let smaller = MinorUnits(930_780_426);
        assert!(
            convert(
                smaller,
                c("JPY"),
                c("BHD"),
                rate,
                Rounding::HalfAwayFromZero
            )
            .is_ok()
        );
    }

    fn currencies() -> impl Strategy<Value = Currency> {
        prop_oneof![
            Just(c("USD")),
            Just(c("JPY")),
            Just(c("KWD")),
            Just(c("EUR")),
            Just(c("BHD")),
            Just(c("ISK")),
        ]
    }

    fn rates() -> impl Strategy<Value = Decimal> {
        // 0.000001 to 10,000 with six decimals, as feeds publish them.
        (1i64..10_000_000_000).prop_map(|r| Decimal::new(r, 6))
    }

    /// One minor unit of `a`, in minor units of `b`, at `rate` (`a` per `b`): the granularity a
    /// round trip through `a` can lose, as a bound.
    fn unit_of(a: Currency, b: Currency, rate: Decimal) -> Decimal {
        let e_a = i64::from(a.exponent());
        let e_b = i64::from(b.exponent());
        let scale = if e_b >= e_a {
            pow10(u32::try_from(e_b - e_a).unwrap())
        } else {
            Decimal::ONE / pow10(u32::try_from(e_a - e_b).unwrap())
        };
        scale / rate
    }

    proptest! {
        #[test]
        fn round_trips_stay_within_one_minor_unit(
            amount in 0i64..1_000_000_000_000,
            s in currencies(),
            p in currencies(),
            rate in rates(),
        ) {
            let presented = match convert(MinorUnits(amount), s, p, rate, Rounding::HalfAwayFromZero) {
                Ok(presented) => presented,
                // Refused only when the exact result cannot be held in minor units at all.
                Err(Overflow) => {
                    let exact = Decimal::from(amount) * rate / unit_of(p, s, Decimal::ONE);
                    prop_assert!(exact.abs() > Decimal::from(i64::MAX) - Decimal::ONE,
                        "{amount} {s:?} → {p:?} at {rate} refused though it fits: {exact}");
                    return Ok(());
                }
            };
            let back = to_settlement(presented, p, s, rate).unwrap();
            // Off by at most half a presentment unit (in settlement units) plus half a
            // settlement unit: within one minor unit of the coarser side.
            let bound = unit_of(p, s, rate) / Decimal::TWO + Decimal::new(5, 1);
            prop_assert!(Decimal::from((back.0 - amount).abs()) <= bound.max(Decimal::ONE),
                "{amount} {s:?}→{presented:?} {p:?}→{back:?} at {rate}");
        }

        #[test]
        fn converted_parts_add_up_to_the_converted_total(
            parts in proptest::collection::vec(0i64..100_000_000, 1..10),
            p in currencies(),
            s in currencies(),
            rate in rates(),
        ) {
            let parts: Vec<MinorUnits> = parts.into_iter().map(MinorUnits).collect();
            let (total, converted) = settlement_parts(&parts, p, s, rate).unwrap();
            prop_assert_eq!(MinorUnits::sum(converted.iter().copied()).unwrap(), total);
            let sum = MinorUnits::sum(parts.iter().copied()).unwrap();
            prop_assert_eq!(total, to_settlement(sum, p, s, rate).unwrap());
        }

        #[test]
        fn refunds_never_exceed_captures_in_settlement(
            captures in proptest::collection::vec(1i64..1_000_000, 1..6),
            refund_shares in proptest::collection::vec(1i64..1_000_000, 1..12),
            p in currencies(),
            s in currencies(),
            rate in rates(),
        ) {
            let mut captured = MinorUnits::ZERO;
            let mut captured_settled = MinorUnits::ZERO;
            for amount in captures {
                let after = captured.checked_add(MinorUnits(amount)).unwrap();
                captured_settled = captured_settled
                    .checked_add(settlement_step(captured, after, p, s, rate).unwrap()).unwrap();
                captured = after;
            }
            // Refund in arbitrary pieces until everything captured is refunded.
            let mut refunded = MinorUnits::ZERO;
            let mut refunded_settled = MinorUnits::ZERO;
            for share in refund_shares.into_iter().chain(std::iter::once(i64::MAX)) {
                let left = captured.checked_sub(refunded).unwrap();
                if left == MinorUnits::ZERO { break; }
                let piece = MinorUnits(share.min(left.0));
                let after = refunded.checked_add(piece).unwrap();
                let step = settlement_step(refunded, after, p, s, rate).unwrap();
                prop_assert!(step.0 >= 0);
                refunded_settled = refunded_settled.checked_add(step).unwrap();
                refunded = after;
                prop_assert!(refunded_settled <= captured_settled);
            }
            prop_assert_eq!(refunded_settled, captured_settled);
        }
    }
}
