//! Customers' orders, created from catalogue prices (the client never sends a price).

mod csv;
mod error;
pub mod repo;
mod routes;
pub mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use csv::{COLUMNS as CSV_COLUMNS, CsvStream};
pub use error::Error;
pub use routes::{admin_router, me_router};
pub use service::{create, export_csv, find, list, recent, view};

use crate::{
    address::{Address, AddressInput},
    fx::{FxView, Lock},
    money::MinorUnits,
    types::{Currency, CustomerId, Environment, OrderId, ProductId, StoreId, TextValue},
};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Placed, not paid: it can be quoted and paid.
    Open,
    /// A payment was authorized for it.
    Paid,
    /// Given up.
    Cancelled,
}

impl OrderStatus {
    /// Database and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl TextValue for OrderStatus {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        match text {
            "open" => Some(OrderStatus::Open),
            "paid" => Some(OrderStatus::Paid),
            "cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }
}
crate::text_value_sql!(OrderStatus);

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most lines per order.
const MAX_LINES: usize = 100;
/// Most units per line.
const MAX_QUANTITY: i32 = 1000;

/// One requested line.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrderItemInput {
    /// A product of the store.
    pub product_id: ProductId,
    /// Units, 1–1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i32,
}

/// Body of `POST /api/v1/me/orders`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateOrder {
    /// Lines (1–100); repeated products are merged.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<OrderItemInput>,
    /// Where to ship.
    pub shipping_address: AddressInput,
    /// ISO 4217 currency to price the order in (default: the products' currency). Another
    /// currency must be one the store's FX policy offers: lines are priced from the product's
    /// price list in it, else converted at the current rate (see `fx` on the order).
    #[schema(value_type = Option<Currency>)]
    pub currency: Option<String>,
}

/// Where a line's price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The product's price, in its own currency.
    Catalogue,
    /// The product's explicit price in the order's currency.
    PriceList,
    /// The product's price converted at the order's locked rate, with the store's markup.
    Converted,
}

impl TextValue for PriceSource {
    fn as_text(&self) -> &'static str {
        match self {
            PriceSource::Catalogue => "catalogue",
            PriceSource::PriceList => "price_list",
            PriceSource::Converted => "converted",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            PriceSource::Catalogue,
            PriceSource::PriceList,
            PriceSource::Converted,
        ]
        .into_iter()
        .find(|s| s.as_text() == text)
    }
}
crate::text_value_sql!(PriceSource);

/// An order line, priced from the catalogue at order time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItem {
    /// Position, from 1.
    pub line_no: i32,
    /// The product.
    pub product_id: ProductId,
    /// Its SKU then.
    pub sku: String,
    /// Its name then.
    pub name: String,
    /// Units.
    pub quantity: i32,
    /// Price per unit then, minor units.
    #[schema(value_type = i64)]
    pub unit_amount: MinorUnits,
    /// `unit_amount × quantity`.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Tax category.
    pub tax_code: String,
    /// Weight per unit.
    pub weight_grams: i32,
    /// Whether the price includes tax.
    pub price_includes_tax: bool,
    /// Where `unit_amount` came from.
    pub price_source: PriceSource,
}

/// An order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    /// Order id.
    pub id: OrderId,
    /// The customer who placed it.
    pub customer_id: CustomerId,
    /// `open`, `paid` or `cancelled`.
    #[schema(value_type = String)]
    pub status: OrderStatus,
    /// Currency of every line (the presentment currency).
    pub currency: Currency,
    /// The exchange rate the order was priced with, when it is in another currency than its
    /// products' (`null` otherwise). Its snapshots and payments keep it.
    pub fx: Option<FxView>,
    /// The same lock, for the code that prices and pays the order.
    #[serde(skip)]
    pub lock: Option<Lock>,
    /// Normalized shipping address.
    pub shipping_address: Address,
    /// Lines.
    pub items: Vec<OrderItem>,
    /// Sum of line amounts (before shipping and exclusive tax).
    #[schema(value_type = i64)]
    pub items_amount: MinorUnits,
    /// Grows with every change; checkout snapshots record it.
    pub revision: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Who may see an order: a store and environment, and for `/me` also the customer.
#[derive(Debug, Clone, Copy)]
pub struct OrderScope {
    /// Store.
    pub store_id: StoreId,
    /// Environment.
    pub environment: Environment,
    /// Customer, for customer tokens.
    pub customer_id: Option<CustomerId>,
}

/// An order in a list: no lines, but the amount, the number of units and the customer's email
/// (read in the same query).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderSummary {
    /// Order id.
    pub id: OrderId,
    /// Customer.
    pub customer_id: CustomerId,
    /// The customer's email, when they gave one.
    pub customer_email: Option<String>,
    /// Status.
    #[schema(value_type = String)]
    pub status: OrderStatus,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Sum of line amounts.
    #[schema(value_type = i64)]
    pub items_amount: MinorUnits,
    /// Units ordered (the lines' quantities added up).
    pub item_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// What an order search looks for: an order by its id, or a customer's orders by their email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// That order only.
    OrderId(OrderId),
    /// Orders of the customers with this email (lower-cased, as emails are stored).
    Email(String),
}

/// Filters of an order list or export; every one is optional and they all apply together.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (exclusive, so a day's end needs no 23:59:59.999).
    pub created_before: Option<DateTime<Utc>>,
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Only orders in this currency. Set by the service whenever an amount bound is: amounts
    /// of different currencies do not compare.
    pub currency: Option<Currency>,
    /// Items amount at least (minor units of `currency`).
    pub min_amount: Option<MinorUnits>,
    /// Items amount at most (minor units of `currency`).
    pub max_amount: Option<MinorUnits>,
    /// An order id or a customer email.
    pub search: Option<Search>,
}
