//! Storing, reading and rewrapping credentials, and building a provider's client from them.

use uuid::Uuid;

use super::{CredentialError, CredentialView, KeyRingError, Sealed, aad, keys, repo};
use crate::{
    config::RunMode,
    db::Tx,
    providers::{
        account::{AccountAdapter, ClientContext, Credentials},
        payment::PaymentProvider,
        shipping::carrier::Carrier,
        tax::TaxProvider,
    },
    state::AppState,
    types::{Environment, StoreId},
};

/// The account side of the registered provider called `provider` (payments or shipping).
fn adapter(
    state: &AppState,
    provider: &str,
) -> Result<std::sync::Arc<dyn AccountAdapter>, CredentialError> {
    state
        .account_adapter(provider)
        .ok_or(CredentialError::NotFound)
}

/// A provider unregistered since its credentials were stored still shows (masked as stored),
/// so the merchant can delete them.
fn view(row: repo::ViewRow) -> CredentialView {
    CredentialView {
        provider: row.provider,
        environment: row.environment,
        masked: serde_json::from_str(&row.masked).unwrap_or_default(),
        key_version: u32::try_from(row.key_version).unwrap_or_default(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Seals `credentials` for a row with the primary key.
fn seal_for(
    state: &AppState,
    primary: u32,
    id: Uuid,
    store: StoreId,
    env: Environment,
    credentials: &Credentials,
) -> Result<Sealed, CredentialError> {
    let plaintext = serde_json::to_vec(credentials).map_err(|_| KeyRingError::Encrypt)?;
    Ok(state.key_ring.seal(
        primary,
        &aad(id, store, credentials.provider(), env, primary),
        &plaintext,
    )?)
}

/// What a provider's client for `store` and `env` is built with.
pub fn client_context(state: &AppState, store: StoreId, env: Environment) -> ClientContext {
    ClientContext {
        egress: state.egress.clone(),
        db: state.db.clone(),
        store,
        environment: env,
        timeout: state.config.provider_timeout,
        self_url: state.self_url.clone(),
        production: state.config.run_mode == RunMode::Production,
    }
}

/// The client of `provider` (the default one when `None`) for a store's credentials in `env`.
pub async fn payment_client(
    state: &AppState,
    store: StoreId,
    provider: Option<&str>,
    env: Environment,
) -> Result<Box<dyn PaymentProvider>, CredentialError> {
    let registry = &state.payment_providers;
    let chosen = match provider {
        Some(name) => Some(name.to_owned()),
        None => super::choice::chosen_name(state, store, env).await?,
    };
    let adapter = match chosen.as_deref() {
        Some(name) => registry.get(name),
        None => registry.default_adapter(),
    }
    .ok_or(CredentialError::NotFound)?;
    let credentials = load(state, store, adapter.name(), env)
        .await?
        .ok_or_else(|| CredentialError::Missing {
            provider: adapter.name().to_owned(),
        })?;
    Ok(adapter.client(&client_context(state, store, env), &credentials)?)
}

/// The client of carrier `provider` for a store's credentials in `env`.
pub async fn carrier_client(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Box<dyn Carrier>, CredentialError> {
    let adapter = state
        .carriers
        .get(provider)
        .ok_or(CredentialError::NotFound)?;
    let credentials = load(state, store, adapter.name(), env)
        .await?
        .ok_or_else(|| CredentialError::Missing {
            provider: adapter.name().to_owned(),
        })?;
    Ok(adapter.client(&client_context(state, store, env), &credentials)?)
}

/// The client of tax service `provider` for a store's credentials in `env`.
pub async fn tax_client(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Box<dyn TaxProvider>, CredentialError> {
    let adapter = state
        .tax
        .engine(provider)
        .ok_or(CredentialError::NotFound)?;
    let credentials = load(state, store, adapter.name(), env)
        .await?
        .ok_or_else(|| CredentialError::Missing {
            provider: adapter.name().to_owned(),
        })?;
    Ok(adapter.client(&client_context(state, store, env), &credentials)?)
}

/// Parses a request body into `provider`'s credentials.
pub fn parse(
    state: &AppState,
    provider: &str,
    body: &serde_json::Value,
) -> Result<Credentials, CredentialError> {
    Ok(adapter(state, provider)?.parse_credentials(body, &state.egress)?)
}

/// Tells the provider its credentials for `store` changed.
pub async fn notify_changed(
    state: &AppState,
    store: StoreId,
    env: Environment,
    credentials: &Credentials,
) {
    if let Some(adapter) = state.account_adapter(credentials.provider()) {
        adapter
            .credentials_changed(&client_context(state, store, env), credentials)
            .await;
    }
}

/// A credential row sealed and ready to insert inside a caller's transaction (store creation).
pub struct NewCredential {
    id: Uuid,
    sealed: Sealed,
    masked: String,
    credentials: Credentials,
}

/// Seals `credentials` for a new row of `store` with the primary key.
pub async fn prepare_new(
    state: &AppState,
    store: StoreId,
    env: Environment,
    credentials: Credentials,
) -> Result<NewCredential, CredentialError> {
    let adapter = adapter(state, credentials.provider())?;
    let primary = keys::primary_version(&state.db).await?;
    let id = Uuid::now_v7();
    Ok(NewCredential {
        id,
        sealed: seal_for(state, primary, id, store, env, &credentials)?,
        masked: adapter.masked(&credentials).to_string(),
        credentials,
    })
}

/// Inserts a prepared row in `tx`; after the commit call [`NewCredential::announce`].
pub async fn insert_new(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    new: &NewCredential,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CredentialError> {
    let row = repo::NewRow {
        id: new.id,
        store,
        provider: new.credentials.provider(),
        environment: env,
        sealed: &new.sealed,
        masked: &new.masked,
        now,
    };
    repo::insert_in(tx, &row).await?;
    Ok(())
}

impl NewCredential {
    /// Tells the provider about the committed row (see [`notify_changed`]).
    pub async fn announce(&self, state: &AppState, store: StoreId, env: Environment) {
        notify_changed(state, store, env, &self.credentials).await;
    }
}

/// Stores (or replaces) the credentials of `store` for their provider in `env`.
pub async fn put(
    state: &AppState,
    store: StoreId,
    env: Environment,
    credentials: &Credentials,
) -> Result<CredentialView, CredentialError> {
    let provider = credentials.provider();
    let adapter = adapter(state, provider)?;
    // Validated again here, where every writer passes (the API, the console, start-up), so
    // none can store what the provider's rules refuse (e.g. a private `base_url`).
    let mut fields = serde_json::to_value(credentials).map_err(|_| KeyRingError::Encrypt)?;
    if let Some(object) = fields.as_object_mut() {
        object.remove("provider");
    }
    adapter.parse_credentials(&fields, &state.egress)?;
    adapter.check_environment(credentials, env)?;
    let masked = adapter.masked(credentials).to_string();
    for _ in 0..3 {
        let now = state.clock.now();
        let primary = keys::primary_version(&state.db).await?;
        let written = match repo::find_sealed(&state.db, store, provider, env).await? {
            Some(row) => {
                check_same_account(state, adapter.as_ref(), &row, credentials).await?;
                let sealed = seal_for(state, primary, row.id, store, env, credentials)?;
                repo::update_sealed(&state.db, row.id, row.revision, &sealed, Some(&masked), now)
                    .await?
            }
            None => {
                let id = Uuid::now_v7();
                let sealed = seal_for(state, primary, id, store, env, credentials)?;
                let row = repo::NewRow {
                    id,
                    store,
                    provider,
                    environment: env,
                    sealed: &sealed,
                    masked: &masked,
                    now,
                };
                repo::insert(&state.db, &row).await?
            }
        };
        if written == 1 {
            state.caches.credentials.clear();
            notify_changed(state, store, env, credentials).await;
            let row = repo::find_view(&state.db, store, provider, env)
                .await?
                .ok_or(CredentialError::NotFound)?;
            return Ok(view(row));
        }
        // Someone wrote the same row between our read and write: read again and retry.
    }
    Err(CredentialError::Conflict(
        "the credentials were changed concurrently; retry",
    ))
}

/// Masked credentials of a store in one environment.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<CredentialView>, CredentialError> {
    let rows = repo::list_views(&state.db, store, env).await?;
    Ok(rows.into_iter().map(view).collect())
}

/// Deletes credentials; a missing row (or an unknown provider) is `NotFound`, and credentials
/// payments still need (funds held, outcomes open) are `InUse`.
pub async fn delete(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<(), CredentialError> {
    let mut tx = state.db.begin_write().await?;
    if repo::delete(&mut tx, store, provider, env).await? == 0 {
        return Err(CredentialError::NotFound);
    }
    // Counted in the deleting transaction (dropped, so rolled back, when refused): on SQLite
    // it holds the write lock, so no payment starts in between.
    let payments = repo::payments_needing_in(&mut tx, store, provider, env).await?;
    if payments > 0 {
        return Err(CredentialError::InUse { payments });
    }
    // New payments cannot go to a provider the store holds no credentials for: its choice
    // goes with them (back to the default).
    repo::clear_choice(&mut tx, store, provider, env).await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.credentials.clear();
    state.caches.config.changed();
    committed?;
    Ok(())
}

/// Refuses to replace the stored credentials of a provider with ones naming another account
/// (see [`AccountAdapter::account_settings`]) while payments still need the stored account.
async fn check_same_account(
    state: &AppState,
    adapter: &dyn AccountAdapter,
    row: &repo::SealedRow,
    credentials: &Credentials,
) -> Result<(), CredentialError> {
    let settings = adapter.account_settings();
    if settings.is_empty() {
        return Ok(());
    }
    // Credentials that cannot be opened any more settle nothing either: replacing them
    // strands no payment that is not stranded already.
    let stored = match open(state, row).await {
        Ok(stored) => stored,
        Err(CredentialError::Key(err)) => {
            tracing::warn!(error = %err, "stored credentials unreadable; replacing them");
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    if settings
        .iter()
        .all(|s| stored.setting(s) == credentials.setting(s))
    {
        return Ok(());
    }
    let payments =
        repo::payments_needing(&state.db, row.store_id, &row.provider, row.environment).await?;
    if payments > 0 {
        return Err(CredentialError::InUse { payments });
    }
    Ok(())
}

/// Decrypts the credentials of a store for a provider and environment (for providers only).
///
/// Cached for the process's cache lifetime: every provider call and webhook delivery needs
/// them, and reading them costs two queries and a decryption.
pub async fn load(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Option<Credentials>, CredentialError> {
    let cache = &state.caches.credentials;
    let key = (store, provider.to_owned(), env);
    if let Some(hit) = cache.get(&key) {
        return Ok(hit);
    }
    let generation = cache.generation();
    let credentials = load_fresh(state, store, provider, env).await?;
    cache.insert(generation, key, credentials.clone());
    Ok(credentials)
}

/// Reads and decrypts the credentials now, bypassing the cache.
pub async fn load_fresh(
    state: &AppState,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Option<Credentials>, CredentialError> {
    match repo::find_sealed(&state.db, store, provider, env).await? {
        Some(row) => Ok(Some(open(state, &row).await?)),
        None => Ok(None),
    }
}

/// Decrypts a sealed row.
async fn open(state: &AppState, row: &repo::SealedRow) -> Result<Credentials, CredentialError> {
    let version = u32::try_from(row.key_version).unwrap_or_default();
    keys::ensure_not_retired(&state.db, version).await?;
    let sealed = Sealed {
        version,
        nonce: row.nonce.clone(),
        ciphertext: row.ciphertext.clone(),
    };
    let context = aad(
        row.id,
        row.store_id,
        &row.provider,
        row.environment,
        version,
    );
    let plaintext = state.key_ring.open(&sealed, &context)?;
    Ok(serde_json::from_slice(&plaintext).map_err(|_| KeyRingError::Decrypt)?)
}

/// Re-encrypts up to `limit` rows not yet on `target`; returns how many were rewrapped and
/// whether rows remain. A row written concurrently (revision changed) is skipped: the writer
/// used the primary key already.
pub async fn rewrap_batch(
    state: &AppState,
    target: u32,
    limit: i64,
) -> Result<(u64, bool), CredentialError> {
    let rows = repo::not_on_version(&state.db, target, limit).await?;
    let more = rows.len() as i64 == limit;
    let mut done = 0;
    for row in rows {
        let version = u32::try_from(row.key_version).unwrap_or_default();
        let context = |v| aad(row.id, row.store_id, &row.provider, row.environment, v);
        let plaintext = state.key_ring.open(
            &Sealed {
                version,
                nonce: row.nonce.clone(),
                ciphertext: row.ciphertext.clone(),
            },
            &context(version),
        )?;
        let sealed = state.key_ring.seal(target, &context(target), &plaintext)?;
        done += repo::update_sealed(
            &state.db,
            row.id,
            row.revision,
            &sealed,
            None,
            state.clock.now(),
        )
        .await?;
    }
    Ok((done, more))
}
