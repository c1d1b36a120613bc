//! The payment providers this server knows, by name. Built at start-up (and by tests, which may
//! register their own); a capability asks it for the adapter an object names.

use std::{collections::BTreeMap, sync::Arc};

use super::payment::PaymentAdapter;

/// Payment providers by name, and the one new payments use.
#[derive(Clone)]
pub struct PaymentRegistry {
    adapters: BTreeMap<&'static str, Arc<dyn PaymentAdapter>>,
    default: &'static str,
}

impl PaymentRegistry {
    /// An empty registry whose new payments go to `default` (register it too).
    pub fn new(default: &'static str) -> Self {
        Self {
            adapters: BTreeMap::new(),
            default,
        }
    }

    /// Adds (or replaces) an adapter under its name.
    pub fn register(mut self, adapter: Arc<dyn PaymentAdapter>) -> Self {
        self.adapters.insert(adapter.name(), adapter);
        self
    }

    /// The adapter called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn PaymentAdapter>> {
        self.adapters.get(name)
    }

    /// The adapter new payments use.
    pub fn default_adapter(&self) -> Option<&Arc<dyn PaymentAdapter>> {
        self.get(self.default)
    }

    /// Every adapter, by name.
    pub fn adapters(&self) -> impl Iterator<Item = &Arc<dyn PaymentAdapter>> {
        self.adapters.values()
    }
}

impl std::fmt::Debug for PaymentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRegistry")
            .field("providers", &self.adapters.keys().collect::<Vec<_>>())
            .field("default", &self.default)
            .finish()
    }
}
