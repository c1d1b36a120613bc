//! Tax providers: the tax of each priced line for a destination, split per jurisdiction. The
//! checkout asks the [`TaxRegistry`] for the provider a store's configuration names; `rules`
//! (the store's own jurisdiction rates) is built in, tax services plug in behind the same trait.

mod jurisdiction;
mod rules;

use std::{collections::BTreeMap, sync::Arc};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use jurisdiction::{Exemption, Level, Nexus, TaxRule, jurisdiction_name};
pub use rules::RulesTax;

use crate::money::{MinorUnits, Overflow};

/// The tax code shipping is taxed under. A jurisdiction taxes shipping with a rule for this
/// code, or with its `*` rule when that rule says `shipping_taxable`.
pub const SHIPPING_TAX_CODE: &str = "shipping";

/// How a line's tax is rounded, recorded on every tax line: the line's tax is rounded half
/// away from zero to the minor unit, then split across jurisdictions by largest remainder.
pub const ROUNDING_RULE: &str = "line_half_up_largest_remainder";

/// Where the goods go, as far as tax cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Upper-case subdivision code, when the address has one.
    pub subdivision: Option<String>,
    /// City, as written on the address.
    pub city: String,
    /// Postal code, as written on the address.
    pub postal_code: String,
}

/// A priced line to tax.
#[derive(Debug, Clone)]
pub struct TaxableLine {
    /// The order line (`0` for shipping).
    pub line_no: i32,
    /// Amount as priced (gross when inclusive, net when exclusive).
    pub amount: MinorUnits,
    /// Tax category.
    pub tax_code: String,
    /// Whether `amount` includes tax.
    pub inclusive: bool,
}

/// What to tax: the lines, where and when, under whose nexus and exemption.
#[derive(Debug, Clone)]
pub struct TaxRequest<'a> {
    /// The tax date: rates valid on it apply.
    pub date: NaiveDate,
    /// Destination.
    pub destination: &'a Destination,
    /// Lines (shipping as a line with [`SHIPPING_TAX_CODE`]).
    pub lines: &'a [TaxableLine],
    /// Where the store collects.
    pub nexus: &'a [Nexus],
    /// The customer's exemption certificates.
    pub exemptions: &'a [Exemption],
}

/// Why a jurisdiction's part carries no tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZeroReason {
    /// The store does not collect there.
    NoNexus,
    /// The customer's certificate exempts the sale.
    Exempt,
}

impl ZeroReason {
    /// Stored and shown spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ZeroReason::NoNexus => "no_nexus",
            ZeroReason::Exempt => "exempt",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [ZeroReason::NoNexus, ZeroReason::Exempt]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// One jurisdiction's share of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxPart {
    /// Jurisdiction key, e.g. `US-CA` or `US-CA/city:LOS ANGELES`.
    pub jurisdiction: String,
    /// Its level.
    pub level: Level,
    /// The line's tax code.
    pub tax_code: String,
    /// Its rate.
    pub rate: Decimal,
    /// Amount taxed here.
    pub taxable: MinorUnits,
    /// Amount exempted here.
    pub exempt: MinorUnits,
    /// Tax collected here.
    pub tax: MinorUnits,
    /// Why there is no tax, when there is none for a reason.
    pub reason: Option<ZeroReason>,
    /// The certificate that exempted it.
    pub certificate_id: Option<String>,
}

/// A taxed line: `net + tax` is what the customer pays for it; the parts' taxes sum to `tax`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxedLine {
    /// The order line (`0` for shipping).
    pub line_no: i32,
    /// Amount without tax.
    pub net: MinorUnits,
    /// Tax.
    pub tax: MinorUnits,
    /// Combined rate collected.
    pub rate: Decimal,
    /// Per jurisdiction, in level order.
    pub parts: Vec<TaxPart>,
}

/// A store's tax configuration: the provider it uses and its rules.
#[derive(Debug, Clone, Default)]
pub struct TaxConfig {
    /// Name of the provider in the [`TaxRegistry`].
    pub provider: String,
    /// The store's jurisdiction rates.
    pub rules: Vec<TaxRule>,
}

/// Computes tax per line and jurisdiction.
pub trait TaxProvider: Send + Sync {
    /// Provider name: its key in the registry, recorded on every tax line.
    fn name(&self) -> &'static str;
    /// Engine version, recorded on every tax line (a rule change is traceable to it).
    fn version(&self) -> &'static str;
    /// Taxes each line of the request under a store's configuration.
    fn quote_tax(
        &self,
        config: &TaxConfig,
        request: &TaxRequest<'_>,
    ) -> Result<Vec<TaxedLine>, Overflow>;
}

/// The tax providers this process knows, by name. Built at start-up, held by the state.
#[derive(Clone, Default)]
pub struct TaxRegistry {
    providers: BTreeMap<&'static str, Arc<dyn TaxProvider>>,
}

impl TaxRegistry {
    /// A registry with no provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a provider under its name.
    pub fn register(mut self, provider: Arc<dyn TaxProvider>) -> Self {
        self.providers.insert(provider.name(), provider);
        self
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn TaxProvider>> {
        self.providers.get(name)
    }
}

impl std::fmt::Debug for TaxRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_finds_providers_by_name() {
        assert!(TaxRegistry::new().get(RulesTax::NAME).is_none());
        let registry = TaxRegistry::new().register(Arc::new(RulesTax));
        assert_eq!(registry.get("rules").map(|p| p.name()), Some("rules"));
        assert!(registry.get("tax_service").is_none());
    }
}
