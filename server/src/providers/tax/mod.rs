//! Tax providers: the tax of each priced line for a destination. The checkout asks the
//! [`TaxRegistry`] for the provider a store's configuration names; `rules` (the store's own
//! rate rules) is built in, tax services plug in behind the same trait.

mod rules;

use std::{collections::BTreeMap, sync::Arc};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use rules::RulesTax;

use crate::money::{MinorUnits, Overflow};

/// A priced line to tax.
#[derive(Debug, Clone)]
pub struct TaxableLine {
    /// Amount as priced (gross when inclusive, net when exclusive).
    pub amount: MinorUnits,
    /// Tax category.
    pub tax_code: String,
    /// Whether `amount` includes tax.
    pub inclusive: bool,
}

/// A taxed line: `net + tax` is what the customer pays for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxedLine {
    /// Amount without tax.
    pub net: MinorUnits,
    /// Tax.
    pub tax: MinorUnits,
    /// Rate applied.
    pub rate: Decimal,
}

/// One rule of a store's tax table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRule {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Subdivision code, or empty for the whole country.
    #[serde(default)]
    pub subdivision: String,
    /// Tax code, or `*` for every code.
    pub tax_code: String,
    /// Decimal rate as a string, e.g. `"0.0825"`.
    pub rate: String,
}

/// A store's tax configuration: the provider it uses and its rules.
#[derive(Debug, Clone, Default)]
pub struct TaxConfig {
    /// Name of the provider in the [`TaxRegistry`].
    pub provider: String,
    /// The store's rules with their parsed rates (what `rules` taxes with).
    pub rules: Vec<(TaxRule, Decimal)>,
}

/// Computes tax per line for a destination.
pub trait TaxProvider: Send + Sync {
    /// Provider name: its key in the registry, recorded in snapshots.
    fn name(&self) -> &'static str;
    /// Taxes each line for the destination under a store's configuration.
    fn quote_tax(
        &self,
        config: &TaxConfig,
        country: &str,
        subdivision: Option<&str>,
        lines: &[TaxableLine],
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
