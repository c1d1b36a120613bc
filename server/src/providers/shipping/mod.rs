//! Shipping providers. Two kinds, each behind a registry:
//!
//! - rate tables ([`ShippingProvider`], in the [`ShippingRegistry`]): what a parcel costs per
//!   service from the store's own configuration, offline (`table_rate`, built in);
//! - carriers ([`carrier::CarrierAdapter`], in the [`CarrierRegistry`]): rates, labels and
//!   tracking from a carrier's API with the store's credentials (`sandbox_carrier`, Cassa's
//!   simulated carrier; a real carrier plugs in the same way).

pub mod carrier;
pub mod sandbox_carrier;
mod table_rate;

use std::{collections::BTreeMap, sync::Arc};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use table_rate::TableRateShipping;

use crate::{money::MinorUnits, types::Currency};

/// What is shipped where.
#[derive(Debug, Clone)]
pub struct Parcel {
    /// Destination, ISO 3166-1 alpha-2.
    pub country: String,
    /// Total weight.
    pub weight_grams: i64,
    /// Currency the rate must be in.
    pub currency: Currency,
}

/// One shipping option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RateQuote {
    /// Service name (e.g. `standard`).
    pub service: String,
    /// Price, minor units.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
}

/// One row of a store's rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippingRate {
    /// Service name, 1–32 characters.
    #[schema(min_length = 1, max_length = 32, pattern = "\\S")]
    pub service: String,
    /// Destination alpha-2 code, or `*` for anywhere.
    #[schema(schema_with = crate::address::alpha2_or_anywhere_schema)]
    pub country: String,
    /// The band covers parcels up to this weight.
    #[schema(minimum = 0)]
    pub max_weight_grams: i32,
    /// Price, minor units.
    #[schema(minimum = 0)]
    pub amount: i64,
    /// ISO 4217 currency.
    #[schema(value_type = crate::types::Currency)]
    pub currency: String,
}

/// A store's shipping configuration: the provider it uses and its rate table.
#[derive(Debug, Clone, Default)]
pub struct ShippingConfig {
    /// Name of the provider in the [`ShippingRegistry`].
    pub provider: String,
    /// The store's rate table (what `table_rate` quotes from).
    pub rates: Vec<ShippingRate>,
}

/// Quotes shipping for a parcel.
pub trait ShippingProvider: Send + Sync {
    /// Provider name: its key in the registry, recorded in snapshots.
    fn name(&self) -> &'static str;
    /// Options for the parcel under a store's configuration, cheapest first.
    fn quote_rates(&self, config: &ShippingConfig, parcel: &Parcel) -> Vec<RateQuote>;
}

/// The shipping providers this process knows, by name. Built at start-up, held by the state.
#[derive(Clone, Default)]
pub struct ShippingRegistry {
    providers: BTreeMap<&'static str, Arc<dyn ShippingProvider>>,
}

impl ShippingRegistry {
    /// A registry with no provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a provider under its name.
    pub fn register(mut self, provider: Arc<dyn ShippingProvider>) -> Self {
        self.providers.insert(provider.name(), provider);
        self
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ShippingProvider>> {
        self.providers.get(name)
    }
}

impl std::fmt::Debug for ShippingRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

/// The carriers this server knows, by name. Built at start-up (tests may register their own).
#[derive(Clone, Default)]
pub struct CarrierRegistry {
    adapters: BTreeMap<&'static str, Arc<dyn carrier::CarrierAdapter>>,
}

impl CarrierRegistry {
    /// A registry with no carrier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a carrier under its name.
    pub fn register(mut self, adapter: Arc<dyn carrier::CarrierAdapter>) -> Self {
        self.adapters.insert(adapter.name(), adapter);
        self
    }

    /// The carrier called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn carrier::CarrierAdapter>> {
        self.adapters.get(name)
    }

    /// Every carrier, by name.
    pub fn adapters(&self) -> impl Iterator<Item = &Arc<dyn carrier::CarrierAdapter>> {
        self.adapters.values()
    }
}

impl std::fmt::Debug for CarrierRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.adapters.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_finds_providers_by_name() {
        assert!(
            ShippingRegistry::new()
                .get(TableRateShipping::NAME)
                .is_none()
        );
        let registry = ShippingRegistry::new().register(Arc::new(TableRateShipping));
        let found = registry.get("table_rate").map(|p| p.name());
        assert_eq!(found, Some("table_rate"));
        assert!(registry.get("carrier").is_none());
    }
}
