//! Shared application state handed to every handler and server function.

use std::sync::Arc;

use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::SharedClock, config::Config, db::Db, keyring::KeyRing, sessions::SessionPolicy,
};

/// Everything a request may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Database pool on the configured backend.
    pub db: Db,
    /// Source of time for every rule and timestamp.
    pub clock: SharedClock,
    /// Resolved configuration.
    pub config: Arc<Config>,
    /// Console rendering options (site root, output name).
    pub leptos: LeptosOptions,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The OpenAPI document, rendered once at start-up.
    pub openapi_json: Arc<str>,
    /// How this server reaches itself (`http://127.0.0.1:<port>`): the default address of the
    /// mounted sandbox PSP.
    pub self_url: Arc<str>,
    /// Master keys for credential encryption (from configuration, never the database).
    pub key_ring: Arc<KeyRing>,
    /// Console session lifetimes and cookie flags.
    pub session_policy: SessionPolicy,
    /// Cancelled when the server starts shutting down; background work watches it.
    pub shutdown: CancellationToken,
    /// Wakes the webhook workers when an event is stored (they also poll).
    pub webhook_wakeup: Arc<tokio::sync::Notify>,
    /// Stores verified inbound deliveries, many per commit under load.
    pub webhook_ingest: crate::webhook_inbox::Ingest,
    /// Wakes the outbound webhook delivery workers when a delivery becomes due (they also
    /// poll).
    pub outbound_wakeup: Arc<tokio::sync::Notify>,
    /// Resolved tokens and decrypted credentials, briefly.
    pub caches: Arc<crate::cache::Caches>,
    /// The guarded client every outbound request goes through, and its rules.
    pub egress: crate::egress::Egress,
    /// Bounded argon2 capacity.
    pub passwords: crate::passwords::Hasher,
    /// Per-address and per-key request limits.
    pub limits: Arc<crate::limits::Limiters>,
    /// What else seals values with the key ring (a rotation rewraps them too).
    pub sealed_elsewhere: Arc<Vec<Arc<dyn crate::keyring::SealedElsewhere>>>,
    /// The payment providers, by name.
    pub payment_providers: Arc<crate::providers::registry::PaymentRegistry>,
    /// Rate-table shipping providers by name (checkout quotes with the one a store's
    /// configuration names).
    pub shipping: Arc<crate::providers::shipping::ShippingRegistry>,
    /// Carriers by name (rates, labels and tracking with a store's credentials).
    pub carriers: Arc<crate::providers::shipping::CarrierRegistry>,
    /// Tax providers by name (checkout taxes with the one a store's configuration names).
    pub tax: Arc<crate::providers::tax::TaxRegistry>,
}

impl AppState {
    /// The account side (credentials, webhook signatures) of the provider called `name`,
    /// whatever it provides: credentials and the inbound webhook pipeline need no more.
    pub fn account_adapter(
        &self,
        name: &str,
    ) -> Option<Arc<dyn crate::providers::account::AccountAdapter>> {
        if let Some(adapter) = self.payment_providers.get(name) {
            return Some(adapter.clone());
        }
        if let Some(adapter) = self.carriers.get(name) {
            return Some(adapter.clone());
        }
        self.tax
            .engine(name)
            .map(|adapter| adapter.clone() as Arc<dyn crate::providers::account::AccountAdapter>)
    }

    /// Every provider account adapter (payment providers, carriers, then tax services).
    pub fn account_adapters(&self) -> Vec<Arc<dyn crate::providers::account::AccountAdapter>> {
        let payments = self
            .payment_providers
            .adapters()
            .map(|a| a.clone() as Arc<dyn crate::providers::account::AccountAdapter>);
        let carriers = self
            .carriers
            .adapters()
            .map(|a| a.clone() as Arc<dyn crate::providers::account::AccountAdapter>);
        let tax = self
            .tax
            .engines()
            .map(|a| a.clone() as Arc<dyn crate::providers::account::AccountAdapter>);
        payments.chain(carriers).chain(tax).collect()
    }
}
