//! A store's catalogue: products with prices in minor units, tax code, weight and whether the
//! price includes tax. Orders copy prices from here; clients never send prices.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::principal::StoreScope,
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageQuery},
        problem::{ApiError, Problem},
    },
    money::MinorUnits,
    on_db,
    state::AppState,
    types::{Currency, Environment, InvalidValue, ProductId, StoreId},
};

/// Tax code of products created without one.
pub const DEFAULT_TAX_CODE: &str = "general";

/// `/api/v1/admin` routes of this module.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product))
}

/// A product.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// Whether `unit_amount` already includes tax.
    pub price_includes_tax: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

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
    /// Whether the price includes tax (default false).
    pub price_includes_tax: Option<bool>,
}

impl CreateProduct {
    fn validate(self) -> Result<Product, InvalidValue> {
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
        let name = crate::tenancy::parse_name("name", &self.name)?;
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
        Ok(Product {
            id: ProductId::new(),
            sku,
            name,
            unit_amount: MinorUnits(self.unit_amount),
            currency,
            tax_code,
            weight_grams,
            price_includes_tax: self.price_includes_tax.unwrap_or(false),
            created_at: Utc::now(),
        })
    }
}

type Row = (
    ProductId,
    String,
    String,
    i64,
    String,
    String,
    i32,
    bool,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, sku, name, unit_amount, currency, tax_code, weight_grams, \
                       price_includes_tax, created_at";

fn from_row(row: Row) -> Result<Product, ApiError> {
    let (
        id,
        sku,
        name,
        unit_amount,
        currency,
        tax_code,
        weight_grams,
        price_includes_tax,
        created_at,
    ) = row;
    Ok(Product {
        id,
        sku,
        name,
        unit_amount: MinorUnits(unit_amount),
        currency: Currency::parse(&currency).map_err(|e| ApiError::Internal(e.into()))?,
        tax_code,
        weight_grams,
        price_includes_tax,
        created_at,
    })
}

/// Products of a store and environment by id (for orders); missing ids are simply absent.
pub async fn find_many(
    state: &AppState,
    store: StoreId,
    env: Environment,
    ids: &[ProductId],
) -> Result<Vec<Product>, ApiError> {
    // One query per distinct id set would need a dialect-specific array bind; ids per order are
    // few, so a bounded IN list built from placeholders keeps one portable round trip.
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE store_id = $1 AND environment = $2 AND id IN ({})",
        placeholders.join(", ")
    );
    let rows: Vec<Row> = on_db!(&state.db, pool => {
        let mut query = sqlx::query_as(&sql).bind(store).bind(env.as_str());
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })
    .map_err(DbError::from)?;
    rows.into_iter().map(from_row).collect()
}

/// Adds a product to the caller's store and environment.
#[utoipa::path(
    post,
    path = "/products",
    tag = "catalog",
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Product created", body = Product),
        (status = 409, description = "The SKU exists", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_product(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<CreateProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let mut product = body.validate()?;
    product.created_at = state.clock.now();
    const SQL: &str = "INSERT INTO products (id, store_id, environment, sku, name, unit_amount, \
        currency, tax_code, weight_grams, price_includes_tax, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
        ON CONFLICT (store_id, environment, sku) DO NOTHING";
    let inserted = on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(product.id)
            .bind(scope.store_id)
            .bind(scope.environment.as_str())
            .bind(&product.sku)
            .bind(&product.name)
            .bind(product.unit_amount.0)
            .bind(product.currency.code())
            .bind(&product.tax_code)
            .bind(product.weight_grams)
            .bind(product.price_includes_tax)
            .bind(product.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    if inserted == 0 {
        return Err(ApiError::Conflict("a product with this SKU already exists"));
    }
    Ok((StatusCode::CREATED, Json(product)))
}

/// Lists the caller's products, oldest first (keyset pages).
#[utoipa::path(
    get,
    path = "/products",
    tag = "catalog",
    params(PageQuery),
    responses((status = 200, description = "Products", body = Page<Product>)),
    security(("bearer" = []))
)]
pub async fn list_products(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    let limit = page.limit()?;
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE store_id = $1 AND environment = $2 AND id > $3 \
         ORDER BY id LIMIT $4"
    );
    let rows: Vec<Row> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql)
            .bind(scope.store_id)
            .bind(scope.environment.as_str())
            .bind(page.after())
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
    })
    .map_err(DbError::from)?;
    let products = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_rows(products, limit)))
}

/// Reads one product of the caller's store and environment.
#[utoipa::path(
    get,
    path = "/products/{product_id}",
    tag = "catalog",
    params(("product_id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product in this store", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_product(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(product_id): ApiPath<ProductId>,
) -> Result<Json<Product>, ApiError> {
    let mut found = find_many(&state, scope.store_id, scope.environment, &[product_id]).await?;
    found.pop().map(Json).ok_or(ApiError::NotFound)
}
