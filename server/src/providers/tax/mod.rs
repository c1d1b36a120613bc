//! Tax providers: the tax of each priced line for a destination, split per jurisdiction. The
//! checkout asks the [`TaxRegistry`] for the engine a store's settings name; `rules` (the
//! store's own jurisdiction rates) is built in, tax services (`taxapi`) plug in behind the same
//! trait through an [`TaxEngineAdapter`] that builds a client from the store's credentials.

mod engine;
mod jurisdiction;
mod remote;
mod rules;

use std::{collections::BTreeMap, sync::Arc};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use engine::{DocumentKind, DocumentLine, TaxDocument, TaxEngineAdapter, TaxEngineError};
pub use jurisdiction::{Exemption, Level, Nexus, TaxRule, jurisdiction_name};
pub use remote::TaxApiAdapter;
pub use rules::RulesTax;

use crate::{money::MinorUnits, providers::account::BoxFuture};

/// What tax lines say computed them when the store's tax service failed and its settings fall
/// back on its own rates.
pub const FALLBACK_ENGINE: &str = "fallback";

/// Whether lines computed by `engine` were computed here (nothing to tell a tax service when
/// they are committed or reversed).
pub fn is_built_in(engine: &str) -> bool {
    engine == RulesTax::NAME || engine == FALLBACK_ENGINE
}

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
    /// ISO 4217 code of every amount (what a minor unit is).
    pub currency: &'a str,
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

/// An engine's answer: every line taxed, and the engine version that taxed them (recorded on
/// every tax line, so a rule change is traceable to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxQuote {
    /// Engine version.
    pub version: String,
    /// The lines, in the request's order.
    pub lines: Vec<TaxedLine>,
}

/// Computes tax per line and jurisdiction, and (for a tax service) records what was filed.
pub trait TaxProvider: Send + Sync {
    /// Provider name: its key in the registry, recorded on every tax line.
    fn name(&self) -> &'static str;
    /// Taxes each line of the request under a store's configuration.
    fn quote_tax<'a>(
        &'a self,
        config: &'a TaxConfig,
        request: &'a TaxRequest<'a>,
    ) -> BoxFuture<'a, Result<TaxQuote, TaxEngineError>>;
    /// Tells the engine about a committed, refunded or voided tax transaction. The built-in
    /// engine keeps no books of its own (Cassa's tax ledger is the record).
    fn record<'a>(
        &'a self,
        _document: &'a TaxDocument,
    ) -> BoxFuture<'a, Result<(), TaxEngineError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The tax providers this process knows, by name: built-in engines, and tax services whose
/// clients are built per store from its credentials. Built at start-up, held by the state.
#[derive(Clone, Default)]
pub struct TaxRegistry {
    providers: BTreeMap<&'static str, Arc<dyn TaxProvider>>,
    engines: BTreeMap<&'static str, Arc<dyn TaxEngineAdapter>>,
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

    /// Adds (or replaces) a tax service under its name.
    pub fn register_engine(mut self, adapter: Arc<dyn TaxEngineAdapter>) -> Self {
        self.engines.insert(adapter.name(), adapter);
        self
    }

    /// The built-in provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn TaxProvider>> {
        self.providers.get(name)
    }

    /// The tax service called `name`.
    pub fn engine(&self, name: &str) -> Option<&Arc<dyn TaxEngineAdapter>> {
        self.engines.get(name)
    }

    /// Every tax service.
    pub fn engines(&self) -> impl Iterator<Item = &Arc<dyn TaxEngineAdapter>> {
        self.engines.values()
    }

    /// Whether a store's settings may name `name`.
    pub fn knows(&self, name: &str) -> bool {
        self.providers.contains_key(name) || self.engines.contains_key(name)
    }
}

impl std::fmt::Debug for TaxRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxRegistry")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("engines", &self.engines.keys().collect::<Vec<_>>())
            .finish()
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
        assert!(!registry.knows("taxapi"));
        let registry = registry.register_engine(Arc::new(TaxApiAdapter));
        assert!(registry.knows("taxapi") && registry.knows("rules"));
        assert_eq!(registry.engine("taxapi").map(|e| e.name()), Some("taxapi"));
    }

    #[test]
    fn only_lines_computed_here_are_built_in() {
        assert!(is_built_in("rules") && is_built_in(FALLBACK_ENGINE));
        assert!(!is_built_in("taxapi"));
    }
}
