//! Jurisdictions: which rates reach a destination on a date, where a store collects (nexus),
//! and which sales a customer's certificate exempts.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Destination;

/// How local a jurisdiction is; parts of a line are listed in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A country (VAT, GST, a federal tax).
    Country,
    /// A state, province or region.
    Subdivision,
    /// A county.
    County,
    /// A city.
    City,
    /// A special district (transit, stadium, …).
    District,
}

impl Level {
    /// Stored and shown spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Country => "country",
            Level::Subdivision => "subdivision",
            Level::County => "county",
            Level::City => "city",
            Level::District => "district",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Level::Country,
            Level::Subdivision,
            Level::County,
            Level::City,
            Level::District,
        ]
        .into_iter()
        .find(|l| l.as_str() == text)
    }
}

/// One rate of one jurisdiction for one tax code, valid for a period. Every value is valid
/// (the tax service parses requests into this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRule {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Subdivision code, or empty for a country's own tax.
    pub subdivision: String,
    /// County name (upper case), for a county tax.
    pub county: Option<String>,
    /// City name (upper case), for a city tax; matched against the address's city.
    pub city: Option<String>,
    /// District name (upper case), for a special district's tax.
    pub district: Option<String>,
    /// Postal codes the rate covers (`900*` is a prefix); empty: all of the area. Counties and
    /// districts always list theirs (an address names no county).
    pub postal_codes: Vec<String>,
    /// Tax code, or `*` for every code.
    pub tax_code: String,
    /// Rate, `0 ≤ rate < 1`.
    pub rate: Decimal,
    /// Whether this `*` rate also taxes shipping.
    pub shipping_taxable: bool,
    /// First day it applies (none: always has).
    pub valid_from: Option<NaiveDate>,
    /// First day it no longer applies (none: still does).
    pub valid_to: Option<NaiveDate>,
}

impl TaxRule {
    /// The most local level the rule names.
    pub fn level(&self) -> Level {
        if self.district.is_some() {
            Level::District
        } else if self.city.is_some() {
            Level::City
        } else if self.county.is_some() {
            Level::County
        } else if !self.subdivision.is_empty() {
            Level::Subdivision
        } else {
            Level::Country
        }
    }

    /// The jurisdiction's key, e.g. `US-CA/county:LOS ANGELES`: rates of one jurisdiction share
    /// it, and reports group by it.
    pub fn jurisdiction(&self) -> String {
        let mut key = self.country.clone();
        if !self.subdivision.is_empty() {
            key.push('-');
            key.push_str(&self.subdivision);
        }
        for (kind, name) in [
            ("county", &self.county),
            ("city", &self.city),
            ("district", &self.district),
        ] {
            if let Some(name) = name {
                key.push_str(&format!("/{kind}:{name}"));
            }
        }
        key
    }

    /// Whether the rate applies on `date`.
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date) && self.valid_to.is_none_or(|to| date < to)
    }

    /// Whether the destination lies in the rule's area.
    pub fn covers(&self, to: &Destination) -> bool {
        if self.country != to.country {
            return false;
        }
        if !self.subdivision.is_empty() && to.subdivision.as_deref() != Some(&self.subdivision) {
            return false;
        }
        if let Some(city) = &self.city
            && jurisdiction_name(&to.city) != *city
        {
            return false;
        }
        self.postal_codes.is_empty() || {
            let postal = jurisdiction_name(&to.postal_code).replace(' ', "");
            self.postal_codes
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => postal.starts_with(prefix),
                    None => postal == *pattern,
                })
        }
    }
}

/// Names and codes compared as a tax authority writes them: trimmed, upper case.
pub fn jurisdiction_name(text: &str) -> String {
    text.trim().to_uppercase()
}

/// Where a store collects tax, since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Nexus {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// A subdivision, or none for the whole country.
    pub subdivision: Option<String>,
    /// First day the store collects there.
    pub since: NaiveDate,
}

impl Nexus {
    /// Whether the store collects the rule's tax on `date`.
    pub fn covers(&self, rule: &TaxRule, date: NaiveDate) -> bool {
        self.since <= date
            && self.country == rule.country
            && self
                .subdivision
                .as_ref()
                .is_none_or(|s| *s == rule.subdivision)
    }
}

/// A customer's exemption certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// The certificate's number.
    pub certificate_id: String,
    /// Where it exempts: countries (`US`) or subdivisions (`US-CA`, with their local taxes).
    pub jurisdictions: Vec<String>,
    /// Last day it is valid (none: until revoked).
    pub expires_on: Option<NaiveDate>,
}

impl Exemption {
    /// Whether the certificate exempts the rule's tax on `date`.
    pub fn covers(&self, rule: &TaxRule, date: NaiveDate) -> bool {
        if self.expires_on.is_some_and(|last| last < date) {
            return false;
        }
        let subdivision = format!("{}-{}", rule.country, rule.subdivision);
        self.jurisdictions
            .iter()
            .any(|j| *j == rule.country || (!rule.subdivision.is_empty() && *j == subdivision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn rule(country: &str, subdivision: &str, rate: &str) -> TaxRule {
        TaxRule {
            country: country.into(),
            subdivision: subdivision.into(),
            county: None,
            city: None,
            district: None,
            postal_codes: Vec::new(),
            tax_code: "*".into(),
            rate: rate.parse().unwrap(),
            shipping_taxable: false,
            valid_from: None,
            valid_to: None,
        }
    }

    fn la() -> Destination {
        Destination {
            country: "US".into(),
            subdivision: Some("CA".into()),
            city: "Los Angeles".into(),
            postal_code: "90012".into(),
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn levels_and_keys_follow_the_most_local_name() {
        let mut r = rule("US", "CA", "0.06");
        assert_eq!(
            (r.level(), r.jurisdiction().as_str()),
            (Level::Subdivision, "US-CA")
        );
        r.county = Some("LOS ANGELES".into());
        assert_eq!(r.level(), Level::County);
        assert_eq!(r.jurisdiction(), "US-CA/county:LOS ANGELES");
        r.city = Some("LOS ANGELES".into());
        assert_eq!(r.level(), Level::City);
        assert_eq!(rule("DE", "", "0.19").level(), Level::Country);
    }

    #[test]
    fn areas_are_matched_by_subdivision_city_and_postal_code() {
        let mut county = rule("US", "CA", "0.0025");
        county.county = Some("LOS ANGELES".into());
        county.postal_codes = vec!["900*".into(), "91001".into()];
        assert!(county.covers(&la()));
        let mut elsewhere = la();
        elsewhere.postal_code = "94105".into();
        assert!(!county.covers(&elsewhere));
        elsewhere.postal_code = "91001".into();
        assert!(county.covers(&elsewhere));
        let mut city = rule("US", "CA", "0.0225");
        city.city = Some("LOS ANGELES".into());
        assert!(city.covers(&la()), "cities compare without case");
        let mut other = la();
        other.city = "Pasadena".into();
        assert!(!city.covers(&other));
        assert!(!rule("US", "NY", "0.04").covers(&la()));
        assert!(rule("US", "", "0.01").covers(&la()));
    }

    #[test]
    fn validity_is_from_inclusive_to_exclusive() {
        let mut r = rule("DE", "", "0.16");
        r.valid_from = Some(day("2020-07-01"));
        r.valid_to = Some(day("2021-01-01"));
        assert!(!r.valid_on(day("2020-06-30")));
        assert!(r.valid_on(day("2020-07-01")));
        assert!(r.valid_on(day("2020-12-31")));
        assert!(!r.valid_on(day("2021-01-01")));
    }

    #[test]
    fn nexus_and_exemptions_cover_their_jurisdictions_from_and_until_their_dates() {
        let state = rule("US", "CA", "0.06");
        let nexus = Nexus {
            country: "US".into(),
            subdivision: Some("CA".into()),
            since: day("2026-01-01"),
        };
        assert!(nexus.covers(&state, day("2026-01-01")));
        assert!(!nexus.covers(&state, day("2025-12-31")));
        assert!(!nexus.covers(&rule("US", "NY", "0.04"), day("2026-06-01")));
        assert!(!nexus.covers(&rule("US", "", "0.01"), day("2026-06-01")));
        let exemption = Exemption {
            certificate_id: "CA-123".into(),
            jurisdictions: vec!["US-CA".into()],
            expires_on: Some(day("2026-12-31")),
        };
        assert!(exemption.covers(&state, day("2026-12-31")));
        assert!(!exemption.covers(&state, day("2027-01-01")));
        assert!(!exemption.covers(&rule("US", "NY", "0.04"), day("2026-06-01")));
        assert!(!exemption.covers(&rule("US", "", "0.01"), day("2026-06-01")));
    }
}
