//! Placing and reading orders.

use super::{
    CreateOrder, Error, MAX_LINES, MAX_QUANTITY, Order, OrderFilter, OrderItem, OrderScope,
    OrderStatus, OrderSummary, PriceSource, Search,
    repo::{self, ItemRecord, Keyset, OrderRecord},
};
use crate::{
    catalog,
    fx::{self, FxView},
    idempotency::answer::{self, Reply, Written},
    money::MinorUnits,
    pagination::{Page, PageQuery},
    state::AppState,
    types::{Currency, CustomerId, Environment, InvalidValue, OrderId, ProductId, StoreId},
};

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
///
/// With the request's idempotency `reply`, the answer is stored for the key in that
/// transaction: the order and its answer commit together or not at all.
pub async fn create(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
    input: CreateOrder,
    reply: Option<&Reply<Order>>,
) -> Result<Order, Error> {
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
    let mut found = Vec::with_capacity(wanted.len());
    for (i, (product_id, quantity)) in wanted.into_iter().enumerate() {
        let product = products
            .iter()
            .find(|p| p.id == product_id)
            .ok_or_else(|| {
                InvalidValue::new("items", format!("items[{i}].product_id: no such product"))
            })?;
        // Archived products stay readable (orders keep copies of them) but are no longer
        // sold: a distinct problem, so a storefront with a stale listing can say why.
        if product.archived_at.is_some() {
            return Err(catalog::Error::Archived(format!("items[{i}].product_id")).into());
        }
        found.push((product, quantity));
    }
    let catalogue = found[0].0.currency;
    if found.iter().any(|(p, _)| p.currency != catalogue) {
        return Err(
            InvalidValue::new("items", "all products of an order must share one currency").into(),
        );
    }
    let currency = match input.currency.as_deref() {
        None => catalogue,
        Some(code) => Currency::parse(&code.trim().to_ascii_uppercase())
            .map_err(|_| InvalidValue::new("currency", "must be an ISO 4217 code such as USD"))?,
    };
    let lock = fx::lock_for(state, store_id, environment, catalogue, currency).await?;
    let listed = match lock {
        Some(_) => catalog::prices_in(state, &ids, currency).await?,
        None => Vec::new(),
    };
    let mut items = Vec::with_capacity(found.len());
    for (i, (product, quantity)) in found.into_iter().enumerate() {
        let too_large = || InvalidValue::new("items", format!("items[{i}]: amount too large"));
        let listed = listed.iter().find(|(id, _)| *id == product.id);
        let (unit_amount, price_source) = match (&lock, listed) {
            (None, _) => (product.unit_amount, PriceSource::Catalogue),
            (Some(_), Some((_, price))) => (*price, PriceSource::PriceList),
            (Some(lock), None) => (
                lock.price(product.unit_amount, currency)
                    .map_err(|_| too_large())?,
                PriceSource::Converted,
            ),
        };
        let amount = unit_amount
            .checked_mul(i64::from(quantity))
            .map_err(|_| too_large())?;
        items.push(OrderItem {
            line_no: i32::try_from(i + 1).unwrap_or(i32::MAX),
            product_id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity,
            unit_amount,
            amount,
            tax_code: product.tax_code.clone(),
            weight_grams: product.weight_grams,
            price_includes_tax: product.price_includes_tax,
            price_source,
        });
    }
    let items_amount = MinorUnits::sum(items.iter().map(|i| i.amount))
        .map_err(|_| InvalidValue::new("items", "order total too large"))?;
    let order = Order {
        id: OrderId::new(),
        customer_id,
        status: OrderStatus::Open,
        currency,
        fx: lock.as_ref().map(FxView::of),
        lock,
        shipping_address: address,
        items,
        items_amount,
        revision: 1,
        created_at: state.clock.now(),
    };
    let mut tx = state.db.begin_write().await?;
    // The record goes first: a concurrent request with the same key waits on it and then finds
    // the key taken.
    let written = match reply {
        Some(reply) => match reply.write(&mut tx, &order, state.clock.now()).await? {
            Written::Stored(answer) => Some((&reply.record, answer)),
            Written::Nothing => None,
            Written::Taken => return Err(Error::IdempotencyKeyInUse),
        },
        None => None,
    };
    // Checked again where the order is written: a product archived since the read above
    // must not be sold (the rows stay locked until the order commits).
    let archived = catalog::repo::archived_in(&mut tx, &ids).await?;
    if let Some(i) = ids.iter().position(|id| archived.contains(id)) {
        return Err(catalog::Error::Archived(format!("items[{i}].product_id")).into());
    }
    repo::insert(&mut tx, store_id, environment, &order).await?;
    tx.commit().await?;
    crate::crash_point!("orders.create.after_commit");
    if let Some((record, stored)) = written {
        answer::settled(record, stored);
    }
    Ok(order)
}

/// Reads an order with its lines inside `scope`; anything outside is not found.
pub async fn find(state: &AppState, scope: OrderScope, order_id: OrderId) -> Result<Order, Error> {
    let (order, rows) =
        repo::find_with_items(&state.db, scope.store_id, scope.environment, order_id)
            .await?
            .ok_or(Error::NotFound)?;
    if scope.customer_id.is_some_and(|c| c != order.customer_id) {
        return Err(Error::NotFound);
    }
    view(order, rows)
}

/// The order as the API shows it, from its record and lines.
pub fn view(order: OrderRecord, rows: Vec<ItemRecord>) -> Result<Order, Error> {
    let internal = |e: String| Error::Internal(anyhow::anyhow!(e));
    // Same checked arithmetic as at creation: an overflow is an error, never a clamp.
    let items = rows
        .into_iter()
        .map(|row| {
            Ok(OrderItem {
                line_no: row.line_no,
                product_id: row.product_id,
                amount: row
                    .unit_amount
                    .checked_mul(i64::from(row.quantity))
                    .map_err(|e| internal(e.to_string()))?,
                sku: row.sku,
                name: row.name,
                quantity: row.quantity,
                unit_amount: row.unit_amount,
                tax_code: row.tax_code,
                weight_grams: row.weight_grams,
                price_includes_tax: row.price_includes_tax,
                price_source: row.price_source,
            })
        })
        .collect::<Result<Vec<OrderItem>, Error>>()?;
    Ok(Order {
        id: order.id,
        customer_id: order.customer_id,
        status: order.status,
        currency: order.currency,
        fx: order.lock.as_ref().map(FxView::of),
        lock: order.lock,
        shipping_address: order.shipping_address,
        items_amount: MinorUnits::sum(items.iter().map(|i| i.amount))
            .map_err(|e| internal(e.to_string()))?,
        items,
        revision: order.revision,
        created_at: order.created_at,
    })
}

/// The store's settlement currency: the one the list's amount range is typed in.
pub async fn store_currency(state: &AppState, store_id: StoreId) -> Result<Currency, Error> {
    crate::tenancy::repo::stores::find(&state.db, store_id)
        .await?
        .map(|store| store.currency)
        .ok_or(Error::NotFound)
}

/// What a search box holds: an order id, or an email (matched whole, as emails are stored
/// lower-cased; a fragment would need a scan of every customer). Empty is no search.
pub fn parse_search(text: &str) -> Result<Option<Search>, InvalidValue> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(id) = text.parse::<OrderId>() {
        return Ok(Some(Search::OrderId(id)));
    }
    if text.contains('@') {
        return Ok(Some(Search::Email(text.to_lowercase())));
    }
    Err(InvalidValue::new(
        "q",
        "enter an order id or a customer's whole email",
    ))
}

/// Checks a filter's ranges and pins its amount bounds to a currency: the one asked for, else
/// the store's (minor units of two currencies do not compare).
async fn checked(
    state: &AppState,
    store_id: StoreId,
    mut filter: OrderFilter,
) -> Result<OrderFilter, Error> {
    if let (Some(from), Some(before)) = (filter.created_from, filter.created_before)
        && from >= before
    {
        return Err(InvalidValue::new("created_to", "must be after the start of the range").into());
    }
    if let (Some(min), Some(max)) = (filter.min_amount, filter.max_amount)
        && min > max
    {
        return Err(InvalidValue::new("max_amount", "must not be below the minimum").into());
    }
    if (filter.min_amount.is_some() || filter.max_amount.is_some()) && filter.currency.is_none() {
        filter.currency = Some(store_currency(state, store_id).await?);
    }
    Ok(filter)
}

/// Orders of a store and environment matching `filter`, oldest first (the API's order).
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    filter: OrderFilter,
    page: PageQuery,
) -> Result<Page<OrderSummary>, Error> {
    let limit = page.limit()?;
    let filter = checked(state, store_id, filter).await?;
    let keyset = Keyset {
        after: page.starting_after.map(OrderId),
        newest_first: false,
        limit: i64::from(limit) + 1,
    };
    let orders = repo::search(&state.db, store_id, environment, &filter, &keyset).await?;
    Ok(Page::from_rows(orders, limit))
}

/// Orders of a store and environment matching `filter`, newest first (the console's order),
/// older than `after`.
pub async fn recent(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    filter: OrderFilter,
    after: Option<OrderId>,
    limit: u32,
) -> Result<Page<OrderSummary>, Error> {
    let filter = checked(state, store_id, filter).await?;
    let keyset = Keyset {
        after,
        newest_first: true,
        limit: i64::from(limit) + 1,
    };
    let orders = repo::search(&state.db, store_id, environment, &filter, &keyset).await?;
    Ok(Page::from_rows(orders, limit))
}

/// The filtered orders as CSV, newest first, read from the database a batch at a time while
/// the body is sent. The filter is checked before anything is sent.
pub async fn export_csv(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    filter: OrderFilter,
) -> Result<super::CsvStream, Error> {
    let filter = checked(state, store_id, filter).await?;
    Ok(super::csv::stream(
        state.clone(),
        store_id,
        environment,
        filter,
    ))
}
