//! Stores (tenants): created by platform admins, each with a sandbox key from the start.

use super::{CreatedStore, Error, Store, api_keys, repo};
use crate::{
    auth::tokens,
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
    // Every new store can take test payments at once with the default provider's generated
    // sandbox credentials (when it can make them). Carriers are the merchant's choice: a store
    // ships with the carriers it stores credentials for.
    let generated = state
        .payment_providers
        .default_adapter()
        .and_then(|a| a.generate_sandbox_credentials());
    let mut sandbox = Vec::new();
    if let Some(credentials) = generated {
        sandbox.push(
            crate::credentials::prepare_new(state, store.id, Environment::Sandbox, credentials)
                .await?,
        );
    }
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
    for credential in &sandbox {
        crate::credentials::insert_new(
            &mut tx,
            store.id,
            Environment::Sandbox,
            credential,
            store.created_at,
        )
        .await?;
    }
    tx.commit().await?;
    for credential in &sandbox {
        credential
            .announce(state, store.id, Environment::Sandbox)
            .await;
    }
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
