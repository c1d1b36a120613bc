//! Stores (tenants): created by platform admins, each with a sandbox key from the start.

use super::{CreatedStore, Error, Store, api_keys, repo};
use crate::{
    auth::tokens,
    credentials::{Provider, ProviderSecrets},
    pagination::{Page, PageQuery},
    state::AppState,
    types::{ApiKeyId, Currency, Environment, StoreId, parse_name},
};

/// Creates a store, its first sandbox key and its sandbox credentials in one transaction.
/// Name and currency are validated here, so the API and the console apply the same rule.
pub async fn create(state: &AppState, name: &str, currency: &str) -> Result<CreatedStore, Error> {
    let name = parse_name("name", name)?;
    let currency = Currency::parse(currency.trim())?;
    let store = Store {
        id: StoreId::new(),
        name,
        currency,
        created_at: state.clock.now(),
    };
    let key = api_keys::new_key(Environment::Sandbox);
    // Every store starts with working sandbox credentials, so a first test payment just works.
    let sandbox = ProviderSecrets::generated_sandbox();
    let credential =
        crate::credentials::prepare_new(state, store.id, Environment::Sandbox, &sandbox).await?;
    let mut tx = state.db.begin_write().await?;
    repo::stores::insert(&mut tx, &store).await?;
    repo::api_keys::insert(
        &mut tx,
        repo::api_keys::NewKey {
            id: ApiKeyId::new(),
            store_id: store.id,
            environment: Environment::Sandbox,
            name: "Default sandbox key",
            hash: &key.hash,
            display_hint: &key.display_hint,
            created_at: store.created_at,
        },
    )
    .await?;
    repo::stores::insert_credential(
        &mut tx,
        store.id,
        Provider::Sandbox,
        Environment::Sandbox,
        &credential,
        store.created_at,
    )
    .await?;
    tx.commit().await?;
    crate::providers::sandbox::register_webhooks(state, store.id, Environment::Sandbox).await;
    Ok(CreatedStore {
        id: store.id,
        store,
        sandbox_secret_key: tokens::reveal(&key.plaintext),
    })
}

/// One store by id.
pub async fn find(state: &AppState, store_id: StoreId) -> Result<Store, Error> {
    repo::stores::find(&state.db, store_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Every store, oldest first.
pub async fn list(state: &AppState, page: PageQuery) -> Result<Page<Store>, Error> {
    let limit = page.limit()?;
    let stores = repo::stores::list(&state.db, page, i64::from(limit) + 1).await?;
    Ok(Page::from_rows(stores, limit))
}
