//! Customers' orders, created from catalogue prices (the client never sends a price).

mod routes;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use routes::{admin_router, me_router};

use crate::{
    address::{Address, AddressInput},
    catalog,
    db::DbError,
    http::problem::ApiError,
    money::MinorUnits,
    on_db,
    state::AppState,
    types::{Currency, CustomerId, Environment, InvalidValue, OrderId, ProductId, StoreId},
};

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
    pub quantity: i32,
}

/// Body of `POST /api/v1/me/orders`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateOrder {
    /// Lines; repeated products are merged.
    pub items: Vec<OrderItemInput>,
    /// Where to ship.
    pub shipping_address: AddressInput,
}

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
}

/// An order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    /// Order id.
    pub id: OrderId,
    /// The customer who placed it.
    pub customer_id: CustomerId,
    /// `open`, `paid` or `cancelled`.
    pub status: String,
    /// Currency of every line.
    pub currency: Currency,
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

fn address_field(field: &'static str) -> &'static str {
    match field {
        "name" => "shipping_address.name",
        "line1" => "shipping_address.line1",
        "city" => "shipping_address.city",
        "subdivision" => "shipping_address.subdivision",
        "postal_code" => "shipping_address.postal_code",
        "country" => "shipping_address.country",
        _ => "shipping_address",
    }
}

/// Creates an order for a customer from catalogue prices, in one transaction.
pub async fn create(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
    input: CreateOrder,
) -> Result<Order, ApiError> {
    let address = input
        .shipping_address
        .normalize()
        .map_err(|e| InvalidValue::new(address_field(e.field), e.message))?;
    if input.items.is_empty() || input.items.len() > MAX_LINES {
        return Err(InvalidValue::new("items", format!("must have 1 to {MAX_LINES} lines")).into());
    }
    // Merge repeated products, keeping first-seen order.
    let mut wanted: Vec<(ProductId, i32)> = Vec::new();
    for (i, item) in input.items.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(InvalidValue::new(
                "items",
                format!("items[{i}].quantity must be 1 to {MAX_QUANTITY}"),
            )
            .into());
        }
        match wanted.iter_mut().find(|(id, _)| *id == item.product_id) {
            Some((_, quantity)) => {
                *quantity = (*quantity + item.quantity).min(MAX_QUANTITY);
            }
            None => wanted.push((item.product_id, item.quantity)),
        }
    }
    let ids: Vec<ProductId> = wanted.iter().map(|(id, _)| *id).collect();
    let products = catalog::find_many(state, store_id, environment, &ids).await?;
    let mut items = Vec::with_capacity(wanted.len());
    for (i, (product_id, quantity)) in wanted.into_iter().enumerate() {
        let product = products
            .iter()
            .find(|p| p.id == product_id)
            .ok_or_else(|| {
                InvalidValue::new("items", format!("items[{i}].product_id: no such product"))
            })?;
        let amount = product
            .unit_amount
            .checked_mul(i64::from(quantity))
            .map_err(|_| InvalidValue::new("items", format!("items[{i}]: amount too large")))?;
        items.push(OrderItem {
            line_no: i32::try_from(i + 1).unwrap_or(i32::MAX),
            product_id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity,
            unit_amount: product.unit_amount,
            amount,
            tax_code: product.tax_code.clone(),
            weight_grams: product.weight_grams,
            price_includes_tax: product.price_includes_tax,
        });
    }
    let currency = products[0].currency;
    if products.iter().any(|p| p.currency != currency) {
        return Err(
            InvalidValue::new("items", "all products of an order must share one currency").into(),
        );
    }
    let items_amount = MinorUnits::sum(items.iter().map(|i| i.amount))
        .map_err(|_| InvalidValue::new("items", "order total too large"))?;
    let order = Order {
        id: OrderId::new(),
        customer_id,
        status: "open".to_owned(),
        currency,
        shipping_address: address,
        items,
        items_amount,
        revision: 1,
        created_at: state.clock.now(),
    };
    insert(state, store_id, environment, &order).await?;
    Ok(order)
}

async fn insert(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    order: &Order,
) -> Result<(), ApiError> {
    const ORDER: &str = "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, \
        shipping_address, revision, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
    // One multi-row insert for the lines.
    let columns = 10;
    let values: Vec<String> = (0..order.items.len())
        .map(|row| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let items_sql = format!(
        "INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_amount, \
         tax_code, weight_grams, price_includes_tax) VALUES {}",
        values.join(", ")
    );
    let address =
        serde_json::to_string(&order.shipping_address).map_err(|e| ApiError::Internal(e.into()))?;
    on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            sqlx::query(ORDER)
                .bind(order.id)
                .bind(store_id)
                .bind(environment.as_str())
                .bind(order.customer_id)
                .bind(&order.status)
                .bind(order.currency.code())
                .bind(&address)
                .bind(order.revision)
                .bind(order.created_at)
                .execute(&mut *tx)
                .await?;
            let mut query = sqlx::query(&items_sql);
            for item in &order.items {
                query = query
                    .bind(order.id)
                    .bind(item.line_no)
                    .bind(item.product_id)
                    .bind(&item.sku)
                    .bind(&item.name)
                    .bind(item.quantity)
                    .bind(item.unit_amount.0)
                    .bind(&item.tax_code)
                    .bind(item.weight_grams)
                    .bind(item.price_includes_tax);
            }
            query.execute(&mut *tx).await?;
            tx.commit().await
        }
        .await
    })
    .map_err(DbError::from)?;
    Ok(())
}

type OrderRow = (
    OrderId,
    CustomerId,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
);
type ItemRow = (i32, ProductId, String, String, i32, i64, String, i32, bool);

/// Reads an order with its lines inside `scope`; anything outside is a 404.
pub async fn find(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
) -> Result<Order, ApiError> {
    const ORDER: &str = "SELECT id, customer_id, status, currency, shipping_address, revision, created_at \
        FROM orders WHERE id = $1 AND store_id = $2 AND environment = $3";
    let row: Option<OrderRow> = on_db!(&state.db, pool => {
        sqlx::query_as(ORDER).bind(order_id).bind(scope.store_id).bind(scope.environment.as_str())
            .fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    let (id, customer_id, status, currency, address, revision, created_at) =
        row.ok_or(ApiError::NotFound)?;
    if scope.customer_id.is_some_and(|c| c != customer_id) {
        return Err(ApiError::NotFound);
    }
    const ITEMS: &str = "SELECT line_no, product_id, sku, name, quantity, unit_amount, tax_code, \
        weight_grams, price_includes_tax FROM order_items WHERE order_id = $1 ORDER BY line_no";
    let rows: Vec<ItemRow> =
        on_db!(&state.db, pool => sqlx::query_as(ITEMS).bind(id).fetch_all(pool).await)
            .map_err(DbError::from)?;
    let internal = |e: String| ApiError::Internal(anyhow::anyhow!(e));
    // Same checked arithmetic as at creation: an overflow is an error, never a clamp.
    let items = rows
        .into_iter()
        .map(|row| {
            let (
                line_no,
                product_id,
                sku,
                name,
                quantity,
                unit_amount,
                tax_code,
                weight_grams,
                price_includes_tax,
            ) = row;
            let unit_amount = MinorUnits(unit_amount);
            Ok(OrderItem {
                line_no,
                product_id,
                sku,
                name,
                quantity,
                unit_amount,
                amount: unit_amount
                    .checked_mul(i64::from(quantity))
                    .map_err(|e| internal(e.to_string()))?,
                tax_code,
                weight_grams,
                price_includes_tax,
            })
        })
        .collect::<Result<Vec<OrderItem>, ApiError>>()?;
    Ok(Order {
        id,
        customer_id,
        status,
        currency: Currency::parse(&currency).map_err(|e| internal(e.to_string()))?,
        shipping_address: serde_json::from_str(&address).map_err(|e| internal(e.to_string()))?,
        items_amount: MinorUnits::sum(items.iter().map(|i| i.amount))
            .map_err(|e| internal(e.to_string()))?,
        items,
        revision,
        created_at,
    })
}

/// An order in a list: no lines, but the amount.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderSummary {
    /// Order id.
    pub id: OrderId,
    /// Customer.
    pub customer_id: CustomerId,
    /// Status.
    pub status: String,
    /// Currency.
    pub currency: String,
    /// Sum of line amounts.
    #[schema(value_type = i64)]
    pub items_amount: MinorUnits,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Orders of a store and environment, oldest first, one query.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    page: crate::http::pagination::PageQuery,
) -> Result<crate::http::pagination::Page<OrderSummary>, ApiError> {
    let limit = page.limit()?;
    const SQL: &str = "SELECT o.id, o.customer_id, o.status, o.currency, \
        CAST(COALESCE((SELECT SUM(i.unit_amount * i.quantity) FROM order_items i WHERE i.order_id = o.id), 0) AS BIGINT), \
        o.created_at FROM orders o WHERE o.store_id = $1 AND o.environment = $2 AND o.id > $3 \
        ORDER BY o.id LIMIT $4";
    let rows: Vec<(OrderId, CustomerId, String, String, i64, DateTime<Utc>)> =
        on_db!(&state.db, pool => {
            sqlx::query_as(SQL)
                .bind(store_id)
                .bind(environment.as_str())
                .bind(page.after())
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })
        .map_err(DbError::from)?;
    let orders = rows
        .into_iter()
        .map(
            |(id, customer_id, status, currency, amount, created_at)| OrderSummary {
                id,
                customer_id,
                status,
                currency,
                items_amount: MinorUnits(amount),
                created_at,
            },
        )
        .collect();
    Ok(crate::http::pagination::Page::from_rows(orders, limit))
}
