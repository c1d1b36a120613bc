//! Catalogue: the store's products in the environment shown, searched and paged; creating and
//! changing them, archiving (never deleting) and making them active again. Plain data plus, on
//! the server, the part of the backend that answers it.

use serde::{Deserialize, Serialize};

use super::FieldError;
#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// A product as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRow {
    /// Id.
    pub id: String,
    /// Stock keeping unit.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// The price for people to read, with its currency (`$12.34 USD`).
    pub price: String,
    /// The price in major units as the edit form takes it back (`12.34`).
    pub price_input: String,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Tax category.
    pub tax_code: String,
    /// Shipping weight per unit.
    pub weight_grams: i32,
    /// Packed length, width and height per unit (0: not given).
    pub dimensions_mm: (i32, i32, i32),
    /// Whether the price includes tax.
    pub price_includes_tax: bool,
    /// When it was archived, in the store's zone; none while active.
    pub archived_at: Option<super::Stamp>,
}

/// The Catalogue page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CataloguePageView {
    /// One page of products, oldest first.
    pub products: Vec<ProductRow>,
    /// The search as applied (empty: none).
    pub q: String,
    /// The archived filter as applied: `false` (active), `true` (archived) or `all`.
    pub archived: String,
    /// Cursor of the next page.
    pub next_after: Option<String>,
    /// Whether this is a later page.
    pub paged: bool,
    /// A refused filter (`q`, `archived`, `after`); the list is empty then.
    pub filter_error: Option<FieldError>,
    /// The product opened for editing (`?edit=`).
    pub editing: Option<ProductRow>,
    /// Why the product asked for is not shown (another store's, unknown).
    pub editing_error: Option<String>,
    /// Whether the user may change the catalogue here (the API's policy); else read-only.
    pub can_manage: bool,
    /// The store's currency: new products' default.
    pub store_currency: String,
}

/// The filters and page of the list, and the product opened
/// (`?q=&archived=&after=&edit=`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueQuery {
    /// Name or SKU contains.
    pub q: Option<String>,
    /// `false`, `true` or `all`.
    pub archived: Option<String>,
    /// Last product of the previous page.
    pub after: Option<String>,
    /// The product opened for editing.
    pub edit: Option<String>,
}

/// A product's fields as the form sends them: text, read and checked on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductForm {
    /// Display name.
    pub name: String,
    /// Stock keeping unit.
    pub sku: String,
    /// Price in major units (`12.34`).
    pub price: String,
    /// ISO 4217 code (creation only: a product's currency never changes).
    pub currency: Option<String>,
    /// Tax category (empty: `general`).
    pub tax_code: String,
    /// Grams (empty: 0).
    pub weight_grams: String,
    /// Millimetres (empty: 0).
    pub length_mm: String,
    /// Millimetres (empty: 0).
    pub width_mm: String,
    /// Millimetres (empty: 0).
    pub height_mm: String,
    /// Whether the price includes tax.
    pub price_includes_tax: bool,
}

/// The outcome of the create and edit forms: refused fields are an answer for the form (shown
/// beside each), not a failure of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductOutcome {
    /// Stored; what to tell the user.
    Saved(String),
    /// Fields refused, each with why.
    Refused(Vec<FieldError>),
}

/// The server's answers about the catalogue; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait CatalogueBackend: Send + Sync {
    /// The page: a page of the current store's products in the environment shown, and the one
    /// opened for editing.
    fn catalogue_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        query: CatalogueQuery,
    ) -> BoxFuture<'a, ConsoleResult<CataloguePageView>>;

    /// Adds a product.
    fn create_product<'a>(
        &'a self,
        req: &'a http::request::Parts,
        form: ProductForm,
    ) -> BoxFuture<'a, ConsoleResult<ProductOutcome>>;

    /// Changes a product's fields (not its currency).
    fn update_product<'a>(
        &'a self,
        req: &'a http::request::Parts,
        product_id: String,
        form: ProductForm,
    ) -> BoxFuture<'a, ConsoleResult<ProductOutcome>>;

    /// Archives a product (new orders refuse it) or makes it active again.
    fn set_product_archived<'a>(
        &'a self,
        req: &'a http::request::Parts,
        product_id: String,
        archived: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>>;
}
