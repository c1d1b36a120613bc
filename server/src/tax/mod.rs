//! Tax: the store's jurisdiction rates, where it collects (nexus), its customers' exemption
//! certificates, and the tax of every quoted line per jurisdiction. The engine that computes
//! tax is a provider (`providers::tax`); this module stores what it needs and what it said.

mod config;
mod engine;
mod engine_repo;
mod error;
mod exemptions;
mod export;
mod export_repo;
mod filings;
mod ledger;
mod ledger_repo;
mod lines;
mod repo;
pub mod routes;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use config::{load_config, load_nexus, nexus_bodies, put_nexus, put_rules, rule_bodies};
pub use engine::{Fallback, Quoted, TaxSettings, TaxSettingsInput, put_settings, quote, settings};
pub use error::Error;
pub use exemptions::{create_exemption, list_exemptions, revoke_exemption};
pub use export::{
    ExportFormat, ExportProgress, ExportQuery, ExportStream, GroupBy, JurisdictionReport,
    TaxExport, download_export, list_exports, report, start_export,
};
pub use filings::{Filing, deliver_due as deliver_filings, spawn_filer};
pub use ledger::{
    OrderTax, Settled, TaxMovementLine, TaxTransaction, Trigger, order_tax, retry_filings,
    settle_tax,
};
pub use lines::{TaxContext, context, lines_of, record_lines, snapshot_lines};
pub use routes::admin_router;

use crate::{
    money::MinorUnits,
    providers::tax::{Level, ZeroReason},
    types::{CustomerId, TaxExemptionId},
};

/// One jurisdiction rate as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRuleBody {
    /// ISO 3166-1 alpha-2.
    #[schema(schema_with = crate::address::alpha2_schema)]
    pub country: String,
    /// Subdivision code, or empty for the country's own tax.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9]{0,3}$")]
    pub subdivision: String,
    /// County name, for a county tax (list its `postal_codes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    /// City name, for a city tax (matched against the address's city).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Special district name (list its `postal_codes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// Postal codes covered (`900*` is a prefix); empty: the whole area.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postal_codes: Vec<String>,
    /// Tax code (`general`, `clothing`, `food`, `digital`, `shipping`, …) or `*` for every code.
    #[schema(pattern = "^(\\*|[A-Za-z0-9_-]{1,32})$")]
    pub tax_code: String,
    /// Decimal rate as a string, e.g. `"0.0825"`.
    #[schema(pattern = "^0(\\.[0-9]{1,12})?$", example = "0.0825")]
    pub rate: String,
    /// Whether this `*` rate also taxes shipping (default `false`).
    #[serde(default)]
    pub shipping_taxable: bool,
    /// First day it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// First day it no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
}

/// The store's rates.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxRules {
    /// Rates; every jurisdiction whose area holds the destination adds its rate, and within a
    /// jurisdiction a tax code's own rate beats its `*` rate.
    pub rules: Vec<TaxRuleBody>,
}

/// One place where the store collects tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NexusBody {
    /// ISO 3166-1 alpha-2.
    #[schema(schema_with = crate::address::alpha2_schema)]
    pub country: String,
    /// A subdivision, or none for the whole country.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9]{0,3}$")]
    pub subdivision: Option<String>,
    /// First day the store collects there.
    pub since: NaiveDate,
}

/// Where the store collects tax; anywhere else its lines carry no tax (`reason: no_nexus`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NexusList {
    /// Places.
    pub nexus: Vec<NexusBody>,
}

/// Body of `POST /admin/customers/{id}/tax-exemptions`. Missing fields are refused after the
/// customer is found, so another store's customer is a `404` whatever the body says.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ExemptionInput {
    /// The certificate's number (required).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub certificate_id: String,
    /// Where it exempts: countries (`US`) or subdivisions (`US-CA`, with their local taxes);
    /// 1 to 60 (required).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 60, value_type = Vec<Jurisdiction>)]
    pub jurisdictions: Vec<String>,
    /// Last day it is valid.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
}

/// A customer's exemption certificate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExemptionView {
    /// Id.
    pub id: TaxExemptionId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The certificate's number.
    pub certificate_id: String,
    /// Where it exempts.
    pub jurisdictions: Vec<String>,
    /// Last day it is valid.
    pub expires_on: Option<NaiveDate>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
}

/// One jurisdiction's share of a snapshot line's tax.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxLine {
    /// The snapshot line (`0`: shipping).
    pub line_no: i32,
    /// Jurisdiction key, e.g. `US-CA/city:LOS ANGELES`.
    pub jurisdiction: String,
    /// Its level.
    pub level: Level,
    /// The line's tax code (`shipping` for line 0).
    pub tax_code: String,
    /// Rate applied.
    pub rate: String,
    /// Amount taxed here, minor units.
    #[schema(value_type = i64)]
    pub taxable: MinorUnits,
    /// Amount exempted here, minor units.
    #[schema(value_type = i64)]
    pub exempt: MinorUnits,
    /// Tax, minor units.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// Why there is no tax (`no_nexus`, `exempt`).
    pub reason: Option<ZeroReason>,
    /// The exempting certificate.
    pub certificate_id: Option<String>,
    /// How it was rounded.
    pub rounding: String,
    /// Engine that computed it.
    pub engine: String,
    /// Its version.
    pub engine_version: String,
}

/// A jurisdiction an exemption names: a country (`US`) or a country and subdivision (`US-CA`).
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$", example = "US-CA")]
#[allow(dead_code)] // Only the API document names it; requests carry plain strings.
struct Jurisdiction(String);
