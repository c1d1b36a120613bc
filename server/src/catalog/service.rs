//! Adding, listing and reading products.

use super::{CreateProduct, Error, Product, repo};
use crate::{
    pagination::{Page, PageQuery},
    state::AppState,
    types::{Environment, ProductId, StoreId},
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

/// Products of a store and environment, oldest first (keyset pages).
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    page: PageQuery,
) -> Result<Page<Product>, Error> {
    let limit = page.limit()?;
    let products = repo::list(&state.db, store, env, page, i64::from(limit) + 1).await?;
    Ok(Page::from_rows(products, limit))
}

/// One product of a store and environment.
pub async fn find(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ProductId,
) -> Result<Product, Error> {
    let mut found = find_many(state, store, env, &[id]).await?;
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
