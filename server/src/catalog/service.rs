//! Adding, listing and reading products.

use super::{
    ArchivedFilter, CreateProduct, Error, MAX_PRICES, Price, PricesInput, Product, ProductQuery,
    UpdateProduct, repo,
};
use crate::{
    money::MinorUnits,
    pagination::Page,
    state::AppState,
    types::{Currency, Environment, InvalidValue, ProductId, StoreId},
};

/// Adds a product to a store and environment; its SKU must be new there.
pub async fn create(
    state: &AppState,
    store: StoreId,
    env: Environment,
    input: CreateProduct,
) -> Result<Product, Error> {
    let product = input.validate(state.clock.now())?;
    if !repo::insert(&state.db, store, env, &product).await? {
        return Err(Error::SkuTaken);
    }
    Ok(product)
}

/// Products of a store and environment, oldest first (keyset pages): active ones unless the
/// query asks for archived ones, optionally only those whose name or SKU contains `q`.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &ProductQuery,
) -> Result<Page<Product>, Error> {
    let page = query.page();
    let limit = page.limit()?;
    let filter = ArchivedFilter::parse(query.archived.as_deref())?;
    let search = query.search()?;
    let mut products = repo::list(
        &state.db,
        store,
        env,
        filter,
        search.as_deref(),
        page,
        i64::from(limit) + 1,
    )
    .await?;
    with_prices(state, &mut products).await?;
    Ok(Page::from_rows(products, limit))
}

/// Changes a product's fields, archives it or makes it active again.
pub async fn update(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ProductId,
    input: UpdateProduct,
) -> Result<Product, Error> {
    // Read and written in one transaction with the row locked: two changes of different fields
    // at once both land (each read-then-write alone would let the later erase the earlier).
    let mut tx = state.db.begin_write().await?;
    let current = repo::find_for_update(&mut tx, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    let product = input.apply(current, state.clock.now())?;
    if !repo::update(&mut tx, store, env, &product).await? {
        return Err(Error::SkuTaken);
    }
    tx.commit().await?;
    let mut changed = vec![product];
    with_prices(state, &mut changed).await?;
    changed.pop().ok_or(Error::NotFound)
}

/// Fills in the products' price lists: one query for all of them.
async fn with_prices(state: &AppState, products: &mut [Product]) -> Result<(), Error> {
    let ids: Vec<ProductId> = products.iter().map(|p| p.id).collect();
    for row in repo::prices(&state.db, &ids, None).await? {
        if let Some(product) = products.iter_mut().find(|p| p.id == row.product_id) {
            product.prices.push(Price {
                currency: row.currency,
                unit_amount: row.unit_amount,
            });
        }
    }
    Ok(())
}

/// Replaces a product's price list.
pub async fn put_prices(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ProductId,
    input: PricesInput,
) -> Result<Product, Error> {
    let product = find(state, store, env, id).await?;
    if input.prices.len() > MAX_PRICES {
        return Err(InvalidValue::new("prices", format!("at most {MAX_PRICES} currencies")).into());
    }
    let mut seen: Vec<Currency> = Vec::new();
    for (i, price) in input.prices.iter().enumerate() {
        if price.currency == product.currency {
            return Err(InvalidValue::new(
                "prices",
                format!("prices[{i}]: the product's own currency is its unit_amount"),
            )
            .into());
        }
        if seen.contains(&price.currency) {
            return Err(InvalidValue::new(
                "prices",
                format!("prices[{i}]: {} is listed twice", price.currency.code()),
            )
            .into());
        }
        if price.unit_amount < MinorUnits::ZERO {
            return Err(InvalidValue::new(
                "prices",
                format!("prices[{i}].unit_amount must be zero or more minor units"),
            )
            .into());
        }
        seen.push(price.currency);
    }
    let mut tx = state.db.begin_write().await?;
    repo::put_prices(&mut tx, id, &input.prices, state.clock.now()).await?;
    tx.commit().await?;
    find(state, store, env, id).await
}

/// The explicit prices in `currency` of the given products (for pricing an order in it).
pub async fn prices_in(
    state: &AppState,
    ids: &[ProductId],
    currency: Currency,
) -> Result<Vec<(ProductId, MinorUnits)>, Error> {
    Ok(repo::prices(&state.db, ids, Some(currency))
        .await?
        .into_iter()
        .map(|row| (row.product_id, row.unit_amount))
        .collect())
}

/// One product of a store and environment.
pub async fn find(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ProductId,
) -> Result<Product, Error> {
    let mut found = find_many(state, store, env, &[id]).await?;
    with_prices(state, &mut found).await?;
    found.pop().ok_or(Error::NotFound)
}

/// Products of a store and environment by id (for orders); missing ids are simply absent.
pub async fn find_many(
    state: &AppState,
    store: StoreId,
    env: Environment,
    ids: &[ProductId],
) -> Result<Vec<Product>, Error> {
    Ok(repo::find_many(&state.db, store, env, ids).await?)
}
