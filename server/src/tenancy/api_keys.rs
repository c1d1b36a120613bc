//! Store secret keys: shown once, stored as a hash, listed masked, revocable.

use super::{ApiKey, CreatedApiKey, Error, repo};
use crate::{
    auth::tokens::{self, NewSecret, TokenKind},
    pagination::{Page, PageQuery},
    state::AppState,
    types::{ApiKeyId, Environment, StoreId, parse_name},
};

/// Generates a key for `environment` (the caller stores it with `repo::api_keys::insert`).
pub(crate) fn new_key(environment: Environment) -> NewSecret {
    tokens::generate(match environment {
        Environment::Sandbox => TokenKind::SandboxKey,
        Environment::Production => TokenKind::ProductionKey,
    })
}

/// Creates a key for the scope's store and environment; `name` is validated here, so the API
/// and the console apply the same rule.
pub async fn create(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    name: &str,
) -> Result<CreatedApiKey, Error> {
    let name = parse_name("name", name)?;
    let id = ApiKeyId::new();
    let now = state.clock.now();
    let secret = new_key(environment);
    let mut tx = state.db.begin_write().await?;
    repo::api_keys::insert(
        &mut tx,
        repo::api_keys::NewKey {
            id,
            store_id,
            environment,
            name: &name,
            hash: &secret.hash,
            display_hint: &secret.display_hint,
            created_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedApiKey {
        key: ApiKey {
            id,
            name,
            environment,
            display_hint: secret.display_hint,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        },
        secret: tokens::reveal(&secret.plaintext),
    })
}

/// Keys of the scope's store and environment, oldest first.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    page: PageQuery,
) -> Result<Page<ApiKey>, Error> {
    let limit = page.limit()?;
    let keys =
        repo::api_keys::list(&state.db, store_id, environment, page, i64::from(limit) + 1).await?;
    Ok(Page::from_rows(keys, limit))
}

/// Revokes a key of the scope; another store's (or environment's) key is not found.
pub async fn revoke(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    key_id: ApiKeyId,
) -> Result<ApiKey, Error> {
    let now = state.clock.now();
    let key = repo::api_keys::revoke(&state.db, store_id, environment, key_id, now).await?;
    // A revoked key stops working here at once (elsewhere within the cache's lifetime).
    state.caches.principals.clear();
    key.ok_or(Error::NotFound)
}
