//! The rules engine against documented fixtures (see the README's tax section: examples, not
//! legal truth) and properties that hold for any amounts and rates.

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::providers::tax::{Exemption, Nexus};

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn rule(country: &str, subdivision: &str, code: &str, rate: &str) -> TaxRule {
    TaxRule {
        country: country.into(),
        subdivision: subdivision.into(),
        county: None,
        city: None,
        district: None,
        postal_codes: Vec::new(),
        tax_code: code.into(),
        rate: rate.parse().unwrap(),
        shipping_taxable: false,
        valid_from: None,
        valid_to: None,
    }
}

/// A US state + county + city stack (California, Los Angeles County, the City of Los Angeles).
fn los_angeles() -> Vec<TaxRule> {
    let state = rule("US", "CA", "*", "0.0725");
    let mut county = rule("US", "CA", "*", "0.0025");
    county.county = Some("LOS ANGELES".into());
    county.postal_codes = vec!["900*".into()];
    let mut city = rule("US", "CA", "*", "0.0225");
    city.city = Some("LOS ANGELES".into());
    let mut groceries = rule("US", "CA", "food", "0");
    groceries.valid_from = Some(day("2000-01-01"));
    vec![city, groceries, county, state]
}

fn la() -> Destination {
    Destination {
        country: "US".into(),
        subdivision: Some("CA".into()),
        city: "Los Angeles".into(),
        postal_code: "90012".into(),
    }
}

fn nexus(country: &str, subdivision: Option<&str>) -> Nexus {
    Nexus {
        country: country.into(),
        subdivision: subdivision.map(str::to_owned),
        since: day("2020-01-01"),
    }
}

fn line(amount: i64, code: &str, inclusive: bool) -> TaxableLine {
    TaxableLine {
        line_no: 1,
        amount: MinorUnits(amount),
        tax_code: code.into(),
        inclusive,
    }
}

fn quote(
    rules: Vec<TaxRule>,
    to: &Destination,
    date: &str,
    lines: &[TaxableLine],
    nexus: &[Nexus],
    exemptions: &[Exemption],
) -> Vec<TaxedLine> {
    let config = TaxConfig {
        provider: RulesTax::NAME.into(),
        rules,
    };
    let request = TaxRequest {
        date: day(date),
        currency: "USD",
        destination: to,
        lines,
        nexus,
        exemptions,
    };
    RulesTax.compute(&config, &request).unwrap()
}

fn part_taxes(line: &TaxedLine) -> Vec<(String, i64)> {
    line.parts
        .iter()
        .map(|p| (p.jurisdiction.clone(), p.tax.0))
        .collect()
}

#[test]
fn a_state_county_and_city_stack_adds_up_and_splits_by_largest_remainder() {
    let ca = [nexus("US", Some("CA"))];
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &[line(10000, "general", false)],
        &ca,
        &[],
    );
    assert_eq!((taxed[0].net.0, taxed[0].tax.0), (10000, 975));
    assert_eq!(
        part_taxes(&taxed[0]),
        [
            ("US-CA".to_owned(), 725),
            ("US-CA/county:LOS ANGELES".to_owned(), 25),
            ("US-CA/city:LOS ANGELES".to_owned(), 225),
        ]
    );
    // 9.99 × 9.75 % = 0.974025 → 0.97, split 72.13 / 2.49 / 22.38 → 72 / 3 / 22 (the county
    // has the largest remainder).
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &[line(999, "general", false)],
        &ca,
        &[],
    );
    assert_eq!(taxed[0].tax.0, 97);
    let taxes: Vec<i64> = taxed[0].parts.iter().map(|p| p.tax.0).collect();
    assert_eq!(taxes, [72, 3, 22]);
    // Outside the county's postal codes and the city, only the state collects.
    let mut sf = la();
    sf.city = "San Francisco".into();
    sf.postal_code = "94105".into();
    let taxed = quote(
        los_angeles(),
        &sf,
        "2026-06-01",
        &[line(10000, "general", false)],
        &ca,
        &[],
    );
    assert_eq!(part_taxes(&taxed[0]), [("US-CA".to_owned(), 725)]);
}

#[test]
fn a_code_rule_beats_the_wildcard_in_its_own_jurisdiction_only() {
    let ca = [nexus("US", Some("CA"))];
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &[line(10000, "food", false)],
        &ca,
        &[],
    );
    // The state exempts groceries; county and city taxes still apply to them here.
    assert_eq!(taxed[0].tax.0, 250);
    assert_eq!(taxed[0].parts[0].rate, Decimal::ZERO);
    assert_eq!(taxed[0].parts[0].tax_code, "food");
}

#[test]
fn a_rate_change_applies_from_its_date() {
    // Germany's temporary VAT cut: 19 % → 16 % from 2020-07-01 to 2020-12-31.
    let mut before = rule("DE", "", "*", "0.19");
    before.valid_to = Some(day("2020-07-01"));
    let mut cut = rule("DE", "", "*", "0.16");
    cut.valid_from = Some(day("2020-07-01"));
    cut.valid_to = Some(day("2021-01-01"));
    let mut after = rule("DE", "", "*", "0.19");
    after.valid_from = Some(day("2021-01-01"));
    let rules = vec![before, cut, after];
    let berlin = Destination {
        country: "DE".into(),
        subdivision: None,
        city: "Berlin".into(),
        postal_code: "10115".into(),
    };
    let de = [nexus("DE", None)];
    let gross = [line(11900, "general", true)];
    let tax = |date| {
        quote(rules.clone(), &berlin, date, &gross, &de, &[])[0]
            .tax
            .0
    };
    assert_eq!(tax("2020-06-30"), 1900);
    assert_eq!(tax("2020-07-01"), 1641); // 119.00 × 0.16 / 1.16 = 16.41
    assert_eq!(tax("2021-01-01"), 1900);
}

#[test]
fn without_nexus_nothing_is_collected_and_the_line_says_why() {
    let ny_only = [nexus("US", Some("NY"))];
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &[line(10000, "general", false)],
        &ny_only,
        &[],
    );
    assert_eq!(taxed[0].tax.0, 0);
    assert!(
        taxed[0]
            .parts
            .iter()
            .all(|p| p.reason == Some(ZeroReason::NoNexus))
    );
    // Nexus starts later than the tax date.
    let later = [Nexus {
        since: day("2027-01-01"),
        ..nexus("US", Some("CA"))
    }];
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &[line(10000, "general", false)],
        &later,
        &[],
    );
    assert_eq!(taxed[0].tax.0, 0);
    // No rule for the destination at all: still marked.
    let taxed = quote(
        Vec::new(),
        &la(),
        "2026-06-01",
        &[line(10000, "general", false)],
        &[],
        &[],
    );
    assert_eq!(taxed[0].parts.len(), 1);
    assert_eq!(taxed[0].parts[0].jurisdiction, "US-CA");
    assert_eq!(taxed[0].parts[0].reason, Some(ZeroReason::NoNexus));
    // With nexus and no rule: untaxed, nothing to explain.
    let ca = [nexus("US", Some("CA"))];
    let taxed = quote(
        Vec::new(),
        &la(),
        "2026-06-01",
        &[line(10000, "general", false)],
        &ca,
        &[],
    );
    assert!(taxed[0].parts.is_empty());
}

#[test]
fn an_exemption_certificate_zeroes_its_jurisdictions_until_it_expires() {
    let ca = [nexus("US", Some("CA"))];
    let certificate = [Exemption {
        certificate_id: "CA-RESALE-1".into(),
        jurisdictions: vec!["US-CA".into()],
        expires_on: Some(day("2026-12-31")),
    }];
    let lines = [line(10000, "general", false)];
    let taxed = quote(
        los_angeles(),
        &la(),
        "2026-06-01",
        &lines,
        &ca,
        &certificate,
    );
    assert_eq!(taxed[0].tax.0, 0);
    for part in &taxed[0].parts {
        assert_eq!(part.reason, Some(ZeroReason::Exempt));
        assert_eq!(part.exempt.0, 10000);
        assert_eq!(part.certificate_id.as_deref(), Some("CA-RESALE-1"));
    }
    let taxed = quote(
        los_angeles(),
        &la(),
        "2027-01-01",
        &lines,
        &ca,
        &certificate,
    );
    assert_eq!(
        taxed[0].tax.0, 975,
        "an expired certificate exempts nothing"
    );
}

#[test]
fn shipping_is_taxed_only_where_a_jurisdiction_says_so() {
    let ca = [nexus("US", Some("CA"))];
    let shipping = [TaxableLine {
        line_no: 0,
        ..line(1000, SHIPPING_TAX_CODE, false)
    }];
    let taxed = quote(los_angeles(), &la(), "2026-06-01", &shipping, &ca, &[]);
    assert_eq!(taxed[0].tax.0, 0);
    let mut rules = los_angeles();
    rules
        .iter_mut()
        .for_each(|r| r.shipping_taxable = r.county.is_none() && r.city.is_none());
    let taxed = quote(rules.clone(), &la(), "2026-06-01", &shipping, &ca, &[]);
    assert_eq!(part_taxes(&taxed[0]), [("US-CA".to_owned(), 73)]);
    rules.push(rule("US", "CA", SHIPPING_TAX_CODE, "0.01"));
    let taxed = quote(rules, &la(), "2026-06-01", &shipping, &ca, &[]);
    assert_eq!(taxed[0].tax.0, 10, "the shipping code's own rate wins");
}

#[test]
fn a_gst_country_taxes_inclusive_prices_exactly() {
    // Australia: 10 % GST, prices shown with tax.
    let rules = vec![rule("AU", "", "*", "0.10")];
    let sydney = Destination {
        country: "AU".into(),
        subdivision: Some("NSW".into()),
        city: "Sydney".into(),
        postal_code: "2000".into(),
    };
    let au = [nexus("AU", None)];
    let taxed = quote(
        rules,
        &sydney,
        "2026-06-01",
        &[line(1100, "general", true)],
        &au,
        &[],
    );
    assert_eq!((taxed[0].net.0, taxed[0].tax.0), (1000, 100));
}

fn arbitrary_rate() -> impl Strategy<Value = Decimal> {
    (0u32..2000).prop_map(|bp| Decimal::new(i64::from(bp), 4))
}

proptest! {
    #[test]
    fn lines_and_parts_always_add_up(
        amount in 0i64..10_000_000,
        rates in proptest::collection::vec(arbitrary_rate(), 1..5),
        inclusive in any::<bool>(),
        reversed in any::<bool>(),
    ) {
        let mut rules: Vec<TaxRule> = rates
            .iter()
            .enumerate()
            .map(|(i, rate)| {
                let mut r = rule("US", "CA", "*", &rate.to_string());
                if i > 0 {
                    r.district = Some(format!("D{i}"));
                }
                r
            })
            .collect();
        if reversed {
            rules.reverse();
        }
        let ca = [nexus("US", Some("CA"))];
        let lines = [line(amount, "general", inclusive)];
        let taxed = quote(rules, &la(), "2026-06-01", &lines, &ca, &[]);
        let l = &taxed[0];
        let total_rate: Decimal = rates.iter().copied().sum();
        if inclusive {
            prop_assert_eq!(l.net.0 + l.tax.0, amount);
        } else {
            prop_assert_eq!(l.net.0, amount);
            prop_assert_eq!(l.tax, exclusive_tax(MinorUnits(amount), total_rate).unwrap());
        }
        prop_assert_eq!(l.parts.iter().map(|p| p.tax.0).sum::<i64>(), l.tax.0);
        prop_assert!(l.parts.iter().all(|p| p.tax.0 >= 0));
        // The same input in any stored order gives the same output.
        let ordered: Vec<_> = l.parts.iter().map(|p| p.jurisdiction.clone()).collect();
        let mut sorted = ordered.clone();
        sorted.sort();
        prop_assert_eq!(ordered, sorted);
    }
}
