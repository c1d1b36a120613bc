//! Server functions of Settings → Shipping and Settings → Tax rates.

use leptos::prelude::*;

use crate::backend::rates::{RatesOutcome, RatesView, ShippingRowForm, TaxRowForm};

#[cfg(feature = "ssr")]
use super::server;

/// The store's shipping rate table.
#[server(prefix = "/console/fn", endpoint = "shipping_rates")]
pub async fn get_shipping_rates() -> Result<RatesView<ShippingRowForm>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.shipping_rates(&parts).await)
}

/// Replaces the shipping rate table with the form's rows (`rows[0][service]=…`); an empty form
/// sends no rows at all, which clears the table.
#[server(prefix = "/console/fn", endpoint = "save_shipping_rates")]
pub async fn save_shipping_rates(
    #[server(default)] rows: Vec<ShippingRowForm>,
) -> Result<RatesOutcome<ShippingRowForm>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.save_shipping_rates(&parts, rows).await)
}

/// The store's tax rate table.
#[server(prefix = "/console/fn", endpoint = "tax_rates")]
pub async fn get_tax_rates() -> Result<RatesView<TaxRowForm>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.tax_rates(&parts).await)
}

/// Replaces the tax rate table with the form's rows.
#[server(prefix = "/console/fn", endpoint = "save_tax_rates")]
pub async fn save_tax_rates(
    #[server(default)] rows: Vec<TaxRowForm>,
) -> Result<RatesOutcome<TaxRowForm>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.save_tax_rates(&parts, rows).await)
}
