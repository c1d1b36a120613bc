//! A store's catalogue: products with prices in minor units, tax code, weight and whether the
//! price includes tax. Orders copy prices from here; clients never send prices.

mod error;
pub mod repo;
mod routes;
pub mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use error::Error;
pub use routes::admin_router;
pub use service::{find_many, prices_in};

use crate::{
    money::MinorUnits,
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
    /// Explicit prices in other currencies: an order in one of them is priced with it, never
    /// by conversion.
    #[sqlx(skip)]
    pub prices: Vec<Price>,
}

/// A product's explicit price in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Price {
    /// ISO 4217 code.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Price per unit in minor units of `currency` (inclusive of tax when the product's price
    /// is).
    #[schema(value_type = i64)]
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
    pub sku: String,
    /// 1–200 characters.
    pub name: String,
    /// Price per unit in minor units (non-negative).
    pub unit_amount: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Tax category (default `general`).
    pub tax_code: Option<String>,
    /// Shipping weight per unit in grams (default 0).
    pub weight_grams: Option<i32>,
    /// Packed dimensions per unit in millimetres, 0–10000 each (default 0: not given; packing
    /// then counts the unit by weight only).
    pub length_mm: Option<i32>,
    /// See `length_mm`.
    pub width_mm: Option<i32>,
    /// See `length_mm`.
    pub height_mm: Option<i32>,
    /// Whether the price includes tax (default false).
    pub price_includes_tax: Option<bool>,
}

impl CreateProduct {
    /// The product this asks for, created at `now`; the first invalid field is the error.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Product, InvalidValue> {
        let sku = self.sku.trim().to_owned();
        if sku.is_empty()
            || sku.len() > 64
            || sku.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidValue::new(
                "sku",
                "must be 1 to 64 characters without spaces",
            ));
        }
        let name = parse_name("name", &self.name)?;
        if self.unit_amount < 0 {
            return Err(InvalidValue::new(
                "unit_amount",
                "must be zero or more minor units",
            ));
        }
        let currency = Currency::parse(self.currency.trim())?;
        let tax_code = match self.tax_code.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_TAX_CODE.to_owned(),
            Some(code)
                if code.len() <= 32
                    && code
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                code.to_lowercase()
            }
            Some(_) => {
                return Err(InvalidValue::new(
                    "tax_code",
                    "must be up to 32 letters, digits, '_' or '-'",
                ));
            }
        };
        let weight_grams = self.weight_grams.unwrap_or(0);
        if weight_grams < 0 {
            return Err(InvalidValue::new("weight_grams", "must be zero or more"));
        }
        let dimension = |field: &'static str, value: Option<i32>| {
            let value = value.unwrap_or(0);
            if (0..=10_000).contains(&value) {
                Ok(value)
            } else {
                Err(InvalidValue::new(field, "must be 0 to 10000 millimetres"))
            }
        };
        let length_mm = dimension("length_mm", self.length_mm)?;
        let width_mm = dimension("width_mm", self.width_mm)?;
        let height_mm = dimension("height_mm", self.height_mm)?;
        Ok(Product {
            id: ProductId::new(),
            length_mm,
            width_mm,
            height_mm,
            sku,
            name,
            unit_amount: MinorUnits(self.unit_amount),
            currency,
            tax_code,
            weight_grams,
            price_includes_tax: self.price_includes_tax.unwrap_or(false),
            created_at: now,
            prices: Vec::new(),
        })
    }
}
