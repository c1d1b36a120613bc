//! Settings → Shipping and Settings → Tax rates: the store's rate tables as editable rows, and
//! the answer to saving them (saved, or refused field by field).

use serde::{Deserialize, Serialize};

use super::FieldError;
#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// One row of the shipping rate table as the form holds it: text as typed, so a refused row
/// comes back exactly as it was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShippingRowForm {
    /// Service name (`standard`, `express`).
    pub service: String,
    /// Destination alpha-2 code, or `*` for anywhere.
    pub country: String,
    /// The band covers parcels up to this many grams.
    pub max_weight_grams: String,
    /// Price in major units (`4.90`).
    pub price: String,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Set (a ticked checkbox) when the row is to be deleted.
    pub remove: Option<String>,
}

/// One row of the tax rate table as the form holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaxRowForm {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Subdivision code; empty for the country's own tax.
    pub subdivision: String,
    /// County name, for a county tax.
    pub county: String,
    /// City name, for a city tax.
    pub city: String,
    /// Special district name.
    pub district: String,
    /// Postal codes covered, separated by spaces (`900*` is a prefix); empty: the whole area.
    pub postal_codes: String,
    /// Tax code or `*`.
    pub tax_code: String,
    /// The rate in percent (`8.25`), as people write it; the API takes a fraction.
    pub rate_percent: String,
    /// Set when this `*` rate also taxes shipping.
    pub shipping_taxable: Option<String>,
    /// First day it applies (`YYYY-MM-DD`), empty: always has.
    pub valid_from: String,
    /// First day it no longer applies, empty: still does.
    pub valid_to: String,
    /// Set (a ticked checkbox) when the row is to be deleted.
    pub remove: Option<String>,
}

/// A rate table as its editor shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesView<Row> {
    /// The stored rows, in order.
    pub rows: Vec<Row>,
    /// The store's currency: the default of new shipping rows.
    pub store_currency: String,
    /// Whether the user may change the table here (the API's policy); else read-only.
    pub can_edit: bool,
    /// The environment the table belongs to (`sandbox` or `production`).
    pub environment: String,
}

/// What saving a table did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RatesOutcome<Row> {
    /// Stored; what to tell the user.
    Saved(String),
    /// Not stored: the rows as sent (the form shows them again) and each refused field, named
    /// `rows[<index in rows>].<field>` (or `rows` about the whole table).
    Refused {
        /// The rows as submitted, removed and blank ones dropped.
        rows: Vec<Row>,
        /// What was refused and why.
        errors: Vec<FieldError>,
    },
}

/// The server's side of the rate editors; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait RatesBackend: Send + Sync {
    /// The current store's shipping rates in the environment shown.
    fn shipping_rates<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<RatesView<ShippingRowForm>>>;
    /// Replaces the shipping rate table (the API's `PUT /api/v1/admin/shipping/rates`).
    fn save_shipping_rates<'a>(
        &'a self,
        req: &'a http::request::Parts,
        rows: Vec<ShippingRowForm>,
    ) -> BoxFuture<'a, ConsoleResult<RatesOutcome<ShippingRowForm>>>;
    /// The current store's tax rates in the environment shown.
    fn tax_rates<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<RatesView<TaxRowForm>>>;
    /// Replaces the tax rate table (the API's `PUT /api/v1/admin/tax/rates`).
    fn save_tax_rates<'a>(
        &'a self,
        req: &'a http::request::Parts,
        rows: Vec<TaxRowForm>,
    ) -> BoxFuture<'a, ConsoleResult<RatesOutcome<TaxRowForm>>>;
}
