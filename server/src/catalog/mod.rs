//! A store's catalogue: products with prices in minor units, tax code, weight and whether the
//! price includes tax. Orders copy prices from here; clients never send prices.

mod error;
pub mod repo;
mod routes;
pub mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use error::Error;
pub use routes::admin_router;
pub use service::{find_many, prices_in};

use crate::{
    money::MinorUnits,
    pagination::PageQuery,
    types::{Currency, InvalidValue, ProductId, parse_name},
};

/// Tax code of products created without one.
pub const DEFAULT_TAX_CODE: &str = "general";

/// A product.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Product {
    /// Product id.
    pub id: ProductId,
    /// Stock keeping unit, unique per store and environment.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Price per unit in minor units of `currency`.
    #[schema(value_type = i64)]
    pub unit_amount: MinorUnits,
    /// ISO 4217 currency of the price.
    pub currency: Currency,
    /// Tax category used by tax rules (e.g. `general`, `food`).
    pub tax_code: String,
    /// Shipping weight per unit.
    pub weight_grams: i32,
    /// Packed length per unit (0: not given).
    pub length_mm: i32,
    /// Packed width per unit (0: not given).
    pub width_mm: i32,
    /// Packed height per unit (0: not given).
    pub height_mm: i32,
    /// Whether `unit_amount` already includes tax.
    pub price_includes_tax: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the product was archived: it stays readable but cannot be put in new orders
    /// (null: active).
    pub archived_at: Option<DateTime<Utc>>,
    /// Explicit prices in other currencies: an order in one of them is priced with it, never
    /// by conversion.
    #[sqlx(skip)]
    pub prices: Vec<Price>,
}

/// A product's explicit price in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Price {
    /// ISO 4217 code.
    #[schema(value_type = Currency)]
    pub currency: Currency,
    /// Price per unit in minor units of `currency` (inclusive of tax when the product's price
    /// is).
    #[schema(value_type = i64, minimum = 0)]
    pub unit_amount: MinorUnits,
}

/// Body of `PUT /api/v1/admin/products/{product_id}/prices`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PricesInput {
    /// The product's whole price list (replaces the one it has; empty removes it), at most
    /// [`MAX_PRICES`] currencies, none the product's own.
    #[serde(default)]
    pub prices: Vec<Price>,
}

/// Most explicit prices per product.
pub const MAX_PRICES: usize = 50;

/// Body of `POST /api/v1/admin/products`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProduct {
    /// 1–64 characters, unique in the store and environment.
    #[schema(pattern = "^[^\\s\\x00-\\x1f\\x7f-\\x9f]{1,64}$")]
    pub sku: String,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Price per unit in minor units (non-negative).
    #[schema(minimum = 0)]
    pub unit_amount: i64,
    /// ISO 4217 currency.
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Tax category (default `general`).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub tax_code: Option<String>,
    /// Shipping weight per unit in grams (default 0).
    #[schema(minimum = 0)]
    pub weight_grams: Option<i32>,
    /// Packed dimensions per unit in millimetres, 0–10000 each (default 0: not given; packing
    /// then counts the unit by weight only).
    #[schema(minimum = 0, maximum = 10000)]
    pub length_mm: Option<i32>,
    /// See `length_mm`.
    #[schema(minimum = 0, maximum = 10000)]
    pub width_mm: Option<i32>,
    /// See `length_mm`.
    #[schema(minimum = 0, maximum = 10000)]
    pub height_mm: Option<i32>,
    /// Whether the price includes tax (default false).
    pub price_includes_tax: Option<bool>,
}

/// A SKU: trimmed, 1–64 characters, no spaces or control characters.
fn parse_sku(raw: &str) -> Result<String, InvalidValue> {
    let sku = raw.trim().to_owned();
    if sku.is_empty()
        || sku.chars().count() > 64
        || sku.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(InvalidValue::new(
            "sku",
            "must be 1 to 64 characters without spaces",
        ));
    }
    Ok(sku)
}

fn parse_unit_amount(amount: i64) -> Result<MinorUnits, InvalidValue> {
    if amount < 0 {
        return Err(InvalidValue::new(
            "unit_amount",
            "must be zero or more minor units",
        ));
    }
    Ok(MinorUnits(amount))
}

/// A tax code, lower-cased; empty is [`DEFAULT_TAX_CODE`].
fn parse_tax_code(raw: Option<&str>) -> Result<String, InvalidValue> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_TAX_CODE.to_owned()),
        Some(code)
            if code.len() <= 32
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(code.to_lowercase())
        }
        Some(_) => Err(InvalidValue::new(
            "tax_code",
            "must be up to 32 letters, digits, '_' or '-'",
        )),
    }
}

fn parse_weight(grams: i32) -> Result<i32, InvalidValue> {
    if grams < 0 {
        return Err(InvalidValue::new("weight_grams", "must be zero or more"));
    }
    Ok(grams)
}

fn parse_dimension(field: &'static str, mm: i32) -> Result<i32, InvalidValue> {
    if (0..=10_000).contains(&mm) {
        Ok(mm)
    } else {
        Err(InvalidValue::new(field, "must be 0 to 10000 millimetres"))
    }
}

impl CreateProduct {
    /// The product this asks for, created at `now`; the first invalid field is the error.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Product, InvalidValue> {
        let sku = parse_sku(&self.sku)?;
        let name = parse_name("name", &self.name)?;
        let unit_amount = parse_unit_amount(self.unit_amount)?;
        let currency = Currency::parse(self.currency.trim())?;
        let tax_code = parse_tax_code(self.tax_code.as_deref())?;
        let weight_grams = parse_weight(self.weight_grams.unwrap_or(0))?;
        let length_mm = parse_dimension("length_mm", self.length_mm.unwrap_or(0))?;
        let width_mm = parse_dimension("width_mm", self.width_mm.unwrap_or(0))?;
        let height_mm = parse_dimension("height_mm", self.height_mm.unwrap_or(0))?;
        Ok(Product {
            id: ProductId::new(),
            length_mm,
            width_mm,
            height_mm,
            sku,
            name,
            unit_amount,
            currency,
            tax_code,
            weight_grams,
            price_includes_tax: self.price_includes_tax.unwrap_or(false),
            created_at: now,
            archived_at: None,
            prices: Vec::new(),
        })
    }
}

/// Body of `PATCH /api/v1/admin/products/{product_id}`: the fields to change, each as in
/// [`CreateProduct`]; absent fields keep their value. The currency is not among them: the
/// product's price list is relative to it, and orders already copied prices in it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    /// 1–64 characters, unique in the store and environment.
    #[schema(pattern = "^[^\\s\\x00-\\x1f\\x7f-\\x9f]{1,64}$")]
    pub sku: Option<String>,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// Price per unit in minor units of the product's currency (non-negative).
    #[schema(minimum = 0)]
    pub unit_amount: Option<i64>,
    /// Tax category (`""`: `general`).
    #[schema(pattern = "^[A-Za-z0-9_-]{0,32}$")]
    pub tax_code: Option<String>,
    /// Shipping weight per unit in grams.
    #[schema(minimum = 0)]
    pub weight_grams: Option<i32>,
    /// Packed length per unit in millimetres, 0–10000 (0: not given).
    #[schema(minimum = 0, maximum = 10000)]
    pub length_mm: Option<i32>,
    /// See `length_mm`.
    #[schema(minimum = 0, maximum = 10000)]
    pub width_mm: Option<i32>,
    /// See `length_mm`.
    #[schema(minimum = 0, maximum = 10000)]
    pub height_mm: Option<i32>,
    /// Whether the price includes tax.
    pub price_includes_tax: Option<bool>,
    /// `true` archives the product (it stays readable but new orders refuse it), `false`
    /// makes it active again. Archiving an archived product keeps its first `archived_at`.
    pub archived: Option<bool>,
}

impl UpdateProduct {
    /// `product` with the changes applied at `now`; the first invalid field is the error.
    pub fn apply(self, mut product: Product, now: DateTime<Utc>) -> Result<Product, InvalidValue> {
        if let Some(sku) = &self.sku {
            product.sku = parse_sku(sku)?;
        }
        if let Some(name) = &self.name {
            product.name = parse_name("name", name)?;
        }
        if let Some(amount) = self.unit_amount {
            product.unit_amount = parse_unit_amount(amount)?;
        }
        if let Some(code) = &self.tax_code {
            product.tax_code = parse_tax_code(Some(code))?;
        }
        if let Some(grams) = self.weight_grams {
            product.weight_grams = parse_weight(grams)?;
        }
        if let Some(mm) = self.length_mm {
            product.length_mm = parse_dimension("length_mm", mm)?;
        }
        if let Some(mm) = self.width_mm {
            product.width_mm = parse_dimension("width_mm", mm)?;
        }
        if let Some(mm) = self.height_mm {
            product.height_mm = parse_dimension("height_mm", mm)?;
        }
        if let Some(included) = self.price_includes_tax {
            product.price_includes_tax = included;
        }
        product.archived_at = match (self.archived, product.archived_at) {
            (None, kept) | (Some(true), kept @ Some(_)) => kept,
            (Some(true), None) => Some(now),
            (Some(false), _) => None,
        };
        Ok(product)
    }
}

/// Which products a list shows, by archived state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchivedFilter {
    /// Active products only (the default: what can be sold).
    #[default]
    Active,
    /// Archived products only.
    Archived,
    /// Both.
    All,
}

impl ArchivedFilter {
    /// `false` (or absent), `true` or `all`.
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidValue> {
        match raw.map(str::trim) {
            None | Some("") | Some("false") => Ok(Self::Active),
            Some("true") => Ok(Self::Archived),
            Some("all") => Ok(Self::All),
            Some(_) => Err(InvalidValue::new(
                "archived",
                "must be false (active products), true (archived ones) or all",
            )),
        }
    }
}

/// Longest search text.
pub const MAX_QUERY_CHARS: usize = 100;

/// Query of `GET /api/v1/admin/products`: a keyset page, a search and the archived filter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Return products after this id (the last id of the previous page).
    pub starting_after: Option<uuid::Uuid>,
    /// Only products whose name or SKU contains this text (case-insensitive, up to 100
    /// characters).
    pub q: Option<String>,
    /// `false` (default): active products; `true`: archived ones; `all`: both.
    #[param(schema_with = archived_filter)]
    pub archived: Option<String>,
}

impl ProductQuery {
    /// The page part.
    pub fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            starting_after: self.starting_after,
        }
    }

    /// The search text, trimmed; `None` when empty.
    pub fn search(&self) -> Result<Option<String>, InvalidValue> {
        match self.q.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => Err(InvalidValue::new(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            )),
            Some(q) => Ok(Some(q.to_owned())),
        }
    }
}

fn archived_filter() -> utoipa::openapi::Object {
    crate::types::filter_schema(["false", "true", "all"])
}
