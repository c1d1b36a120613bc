//! Per-store provider credentials, encrypted with the master key ring (DESIGN §7).
//!
//! Plaintext exists only inside this module and the provider that asks for it: the API and the
//! console get a masked view; nothing secret is logged (secret fields are `SecretString`).

pub mod keys;
mod routes;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::keyring::{KeyRing, KeyRingError, Sealed};
pub use routes::{admin_router, platform_router};

use crate::{
    db::{Db, DbError},
    http::problem::ApiError,
    on_db,
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// A payment provider whose credentials a store can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Cassa's sandbox PSP.
    Sandbox,
    /// Stripe.
    Stripe,
}

impl Provider {
    /// Wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Sandbox => "sandbox",
            Provider::Stripe => "stripe",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "sandbox" => Some(Provider::Sandbox),
            "stripe" => Some(Provider::Stripe),
            _ => None,
        }
    }
}

/// Decrypted credentials, for providers only. `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ProviderSecrets {
    /// Sandbox PSP.
    Sandbox {
        /// API key sent to the sandbox PSP.
        #[serde(with = "secret_string")]
        api_key: SecretString,
        /// Standard Webhooks signing secret (`whsec_…`).
        #[serde(with = "secret_string")]
        webhook_secret: SecretString,
        /// Where the PSP listens; `None` means the one mounted in this server.
        base_url: Option<String>,
    },
    /// Stripe.
    Stripe {
        /// Secret API key.
        #[serde(with = "secret_string")]
        secret_key: SecretString,
        /// Webhook endpoint signing secret.
        #[serde(with = "secret_string")]
        webhook_secret: SecretString,
        /// Connected account, if any.
        account_id: Option<String>,
    },
}

impl std::fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderSecrets::Sandbox { base_url, .. } => f
                .debug_struct("Sandbox")
                .field("base_url", base_url)
                .finish_non_exhaustive(),
            ProviderSecrets::Stripe { account_id, .. } => f
                .debug_struct("Stripe")
                .field("account_id", account_id)
                .finish_non_exhaustive(),
        }
    }
}

mod secret_string {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
        String::deserialize(de).map(SecretString::from)
    }
}

impl ProviderSecrets {
    /// Which provider these belong to.
    pub fn provider(&self) -> Provider {
        match self {
            ProviderSecrets::Sandbox { .. } => Provider::Sandbox,
            ProviderSecrets::Stripe { .. } => Provider::Stripe,
        }
    }

    /// Parses a request body for `provider`, naming the offending field.
    pub fn from_request(provider: Provider, body: serde_json::Value) -> Result<Self, InvalidValue> {
        let field = |name: &'static str, required: bool| -> Result<Option<String>, InvalidValue> {
            match body.get(name) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Ok(Some(s.trim().to_owned()))
                }
                None | Some(serde_json::Value::Null) if !required => Ok(None),
                _ => Err(InvalidValue::new(name, "must be a non-empty string")),
            }
        };
        let secret = |name: &'static str| -> Result<SecretString, InvalidValue> {
            field(name, true)?
                .map(SecretString::from)
                .ok_or_else(|| InvalidValue::new(name, "is required"))
        };
        let allowed: &[&str] = match provider {
            Provider::Sandbox => &["api_key", "webhook_secret", "base_url"],
            Provider::Stripe => &["secret_key", "webhook_secret", "account_id"],
        };
        let Some(object) = body.as_object() else {
            return Err(InvalidValue::new("body", "must be a JSON object"));
        };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            let _ = unknown;
            return Err(InvalidValue::new(
                "body",
                format!("allowed fields: {}", allowed.join(", ")),
            ));
        }
        Ok(match provider {
            Provider::Sandbox => {
                let base_url = field("base_url", false)?;
                if let Some(url) = &base_url {
                    let ok =
                        url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !ok {
                        return Err(InvalidValue::new("base_url", "must be an http(s) URL"));
                    }
                }
                ProviderSecrets::Sandbox {
                    api_key: secret("api_key")?,
                    webhook_secret: secret("webhook_secret")?,
                    base_url,
                }
            }
            Provider::Stripe => ProviderSecrets::Stripe {
                secret_key: secret("secret_key")?,
                webhook_secret: secret("webhook_secret")?,
                account_id: field("account_id", false)?,
            },
        })
    }

    /// Non-secret hints: secrets as `abcd…wxyz`, plain settings in full.
    pub fn masked(&self) -> serde_json::Value {
        match self {
            ProviderSecrets::Sandbox {
                api_key,
                webhook_secret,
                base_url,
            } => serde_json::json!({
                "api_key": mask(api_key),
                "webhook_secret": mask(webhook_secret),
                "base_url": base_url,
            }),
            ProviderSecrets::Stripe {
                secret_key,
                webhook_secret,
                account_id,
            } => serde_json::json!({
                "secret_key": mask(secret_key),
                "webhook_secret": mask(webhook_secret),
                "account_id": account_id,
            }),
        }
    }

    /// Fresh working sandbox credentials, given to every new store.
    pub fn generated_sandbox() -> Self {
        use base64::{Engine, engine::general_purpose::STANDARD};
        use rand::RngCore;
        let mut key = [0u8; 24];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        ProviderSecrets::Sandbox {
            api_key: SecretString::from(format!("sbx_{}", hex(&key))),
            webhook_secret: SecretString::from(format!("whsec_{}", STANDARD.encode(secret))),
            base_url: None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Four leading and four trailing characters of long secrets; nothing of short ones.
fn mask(secret: &SecretString) -> String {
    let s = secret.expose_secret();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 16 {
        return "••••".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Associated data: the ciphertext is valid only in this row, store, provider, environment and
/// key version.
fn aad(id: Uuid, store: StoreId, provider: Provider, env: Environment, version: u32) -> Vec<u8> {
    format!(
        "cassa/provider_credentials/v1|{id}|{store}|{}|{}|{version}",
        provider.as_str(),
        env.as_str()
    )
    .into_bytes()
}

/// Failures of credential storage.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Database failure.
    #[error(transparent)]
    Store(#[from] DbError),
    /// Encryption failure (unknown, retired key or tampered data).
    #[error(transparent)]
    Key(#[from] KeyRingError),
}

impl From<sqlx::Error> for CredentialError {
    fn from(e: sqlx::Error) -> Self {
        CredentialError::Store(e.into())
    }
}

impl From<CredentialError> for ApiError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::Store(e) => e.into(),
            CredentialError::Key(e) => ApiError::Internal(e.into()),
        }
    }
}

/// A credential as the API and console show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialView {
    /// Provider.
    pub provider: Provider,
    /// Environment.
    pub environment: Environment,
    /// Masked hints per field.
    #[schema(value_type = Object)]
    pub masked: serde_json::Value,
    /// Master key version the blob is encrypted with.
    pub key_version: u32,
    /// First stored.
    pub created_at: DateTime<Utc>,
    /// Last replaced or re-encrypted.
    pub updated_at: DateTime<Utc>,
}

type Row = (
    Uuid,
    String,
    String,
    i32,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn view(row: Row) -> Result<CredentialView, ApiError> {
    let (_, provider, environment, key_version, masked, created_at, updated_at) = row;
    Ok(CredentialView {
        provider: Provider::parse(&provider)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown provider {provider}")))?,
        environment: environment
            .parse()
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?,
        masked: serde_json::from_str(&masked).unwrap_or_default(),
        key_version: u32::try_from(key_version).unwrap_or_default(),
        created_at,
        updated_at,
    })
}

/// Seals `secrets` for a row with the primary key.
fn seal_for(
    state: &AppState,
    primary: u32,
    id: Uuid,
    store: StoreId,
    env: Environment,
    secrets: &ProviderSecrets,
) -> Result<Sealed, CredentialError> {
    let plaintext = serde_json::to_vec(secrets).map_err(|_| KeyRingError::Encrypt)?;
    Ok(state.key_ring.seal(
        primary,
        &aad(id, store, secrets.provider(), env, primary),
        &plaintext,
    )?)
}

/// Inserts a credential row unless one exists for the store, provider and environment.
/// Binds: id, store, provider, environment, key version, nonce, ciphertext, masked, time.
pub(crate) const INSERT_SQL: &str = "INSERT INTO provider_credentials (id, store_id, provider, \
    environment, key_version, nonce, ciphertext, masked, revision, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) \
    ON CONFLICT (store_id, provider, environment) DO NOTHING";

/// A credential row sealed and ready to insert with [`INSERT_SQL`] (inside a caller's
/// transaction, e.g. store creation).
pub struct NewCredential {
    /// Row id (bound into the associated data).
    pub id: Uuid,
    /// The sealed blob.
    pub sealed: Sealed,
    /// Masked hints, JSON.
    pub masked: String,
}

/// Seals `secrets` for a new row of `store` with the primary key.
pub async fn prepare_new(
    state: &AppState,
    store: StoreId,
    env: Environment,
    secrets: &ProviderSecrets,
) -> Result<NewCredential, CredentialError> {
    let primary = keys::primary_version(&state.db).await?;
    let id = Uuid::now_v7();
    Ok(NewCredential {
        id,
        sealed: seal_for(state, primary, id, store, env, secrets)?,
        masked: secrets.masked().to_string(),
    })
}

/// Stores (or replaces) the credentials of `store` for one provider and environment.
pub async fn put(
    state: &AppState,
    store: StoreId,
    env: Environment,
    secrets: &ProviderSecrets,
) -> Result<CredentialView, ApiError> {
    // Here, not in the request parser, so the API and the console are held to the same rule.
    if let ProviderSecrets::Sandbox {
        base_url: Some(url),
        ..
    } = secrets
    {
        state
            .egress
            .check_provider_url(url)
            .map_err(|e| InvalidValue::new("base_url", e.to_string()))?;
    }
    let provider = secrets.provider();
    let masked = secrets.masked().to_string();
    for _ in 0..3 {
        let now = state.clock.now();
        let primary = keys::primary_version(&state.db).await?;
        const FIND: &str = "SELECT id, revision FROM provider_credentials \
                            WHERE store_id = $1 AND provider = $2 AND environment = $3";
        let existing: Option<(Uuid, i32)> = on_db!(&state.db, pool => {
            sqlx::query_as(FIND).bind(store).bind(provider.as_str()).bind(env.as_str())
                .fetch_optional(pool).await
        })
        .map_err(DbError::from)?;
        let written = match existing {
            Some((id, revision)) => {
                let sealed = seal_for(state, primary, id, store, env, secrets)?;
                const SQL: &str = "UPDATE provider_credentials SET key_version = $3, nonce = $4, \
                    ciphertext = $5, masked = $6, revision = revision + 1, updated_at = $7 \
                    WHERE id = $1 AND revision = $2";
                on_db!(&state.db, pool => {
                    sqlx::query(SQL).bind(id).bind(revision).bind(primary as i32)
                        .bind(&sealed.nonce).bind(&sealed.ciphertext).bind(&masked).bind(now)
                        .execute(pool).await.map(|r| r.rows_affected())
                })
                .map_err(DbError::from)?
            }
            None => {
                let id = Uuid::now_v7();
                let sealed = seal_for(state, primary, id, store, env, secrets)?;

                on_db!(&state.db, pool => {
                    sqlx::query(INSERT_SQL).bind(id).bind(store).bind(provider.as_str())
                        .bind(env.as_str()).bind(primary as i32).bind(&sealed.nonce)
                        .bind(&sealed.ciphertext).bind(&masked).bind(now)
                        .execute(pool).await.map(|r| r.rows_affected())
                })
                .map_err(DbError::from)?
            }
        };
        if written == 1 {
            state.caches.credentials.clear();
            if provider == Provider::Sandbox {
                // New account or secret: tell the sandbox PSP where to send its webhooks.
                crate::providers::sandbox::register_webhooks(state, store, env).await;
            }
            return find_view(&state.db, store, provider, env)
                .await?
                .ok_or(ApiError::NotFound);
        }
        // Someone wrote the same row between our read and write: read again and retry.
    }
    Err(ApiError::Conflict(
        "the credentials were changed concurrently; retry",
    ))
}

async fn find_view(
    db: &Db,
    store: StoreId,
    provider: Provider,
    env: Environment,
) -> Result<Option<CredentialView>, ApiError> {
    const SQL: &str = "SELECT id, provider, environment, key_version, masked, created_at, \
        updated_at FROM provider_credentials WHERE store_id = $1 AND provider = $2 \
        AND environment = $3";
    let row: Option<Row> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(store).bind(provider.as_str()).bind(env.as_str())
            .fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    row.map(view).transpose()
}

/// Masked credentials of a store in one environment.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<CredentialView>, ApiError> {
    const SQL: &str = "SELECT id, provider, environment, key_version, masked, created_at, \
        updated_at FROM provider_credentials WHERE store_id = $1 AND environment = $2 \
        ORDER BY provider";
    let rows: Vec<Row> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env.as_str()).fetch_all(pool).await
    })
    .map_err(DbError::from)?;
    rows.into_iter().map(view).collect()
}

/// Deletes credentials; a missing row is a 404.
pub async fn delete(
    state: &AppState,
    store: StoreId,
    provider: Provider,
    env: Environment,
) -> Result<(), ApiError> {
    const SQL: &str = "DELETE FROM provider_credentials \
                       WHERE store_id = $1 AND provider = $2 AND environment = $3";
    let deleted = on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(store).bind(provider.as_str()).bind(env.as_str())
            .execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    state.caches.credentials.clear();
    if deleted == 0 {
        return Err(ApiError::NotFound);
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
    provider: Provider,
    env: Environment,
) -> Result<Option<ProviderSecrets>, CredentialError> {
    let cache = &state.caches.credentials;
    if let Some(hit) = cache.get(&(store, provider, env)) {
        return Ok(hit);
    }
    let generation = cache.generation();
    let secrets = load_fresh(state, store, provider, env).await?;
    cache.insert(generation, (store, provider, env), secrets.clone());
    Ok(secrets)
}

/// Reads and decrypts the credentials now, bypassing the cache.
pub async fn load_fresh(
    state: &AppState,
    store: StoreId,
    provider: Provider,
    env: Environment,
) -> Result<Option<ProviderSecrets>, CredentialError> {
    const SQL: &str = "SELECT id, key_version, nonce, ciphertext FROM provider_credentials \
                       WHERE store_id = $1 AND provider = $2 AND environment = $3";
    let row: Option<(Uuid, i32, Vec<u8>, Vec<u8>)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(store).bind(provider.as_str()).bind(env.as_str())
            .fetch_optional(pool).await
    })?;
    let Some((id, version, nonce, ciphertext)) = row else {
        return Ok(None);
    };
    let version = u32::try_from(version).unwrap_or_default();
    keys::ensure_not_retired(&state.db, version).await?;
    let sealed = Sealed {
        version,
        nonce,
        ciphertext,
    };
    let plaintext = state
        .key_ring
        .open(&sealed, &aad(id, store, provider, env, version))?;
    let secrets: ProviderSecrets =
        serde_json::from_slice(&plaintext).map_err(|_| KeyRingError::Decrypt)?;
    Ok(Some(secrets))
}

/// Re-encrypts up to `limit` rows not yet on `target`; returns how many were rewrapped and
/// whether rows remain. A row written concurrently (revision changed) is skipped: the writer
/// used the primary key already.
pub async fn rewrap_batch(
    state: &AppState,
    target: u32,
    limit: i64,
) -> Result<(u64, bool), CredentialError> {
    const SQL: &str = "SELECT id, store_id, provider, environment, key_version, nonce, ciphertext, \
        revision FROM provider_credentials WHERE key_version <> $1 ORDER BY id LIMIT $2";
    type Batch = (Uuid, StoreId, String, String, i32, Vec<u8>, Vec<u8>, i32);
    let rows: Vec<Batch> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(target as i32).bind(limit).fetch_all(pool).await
    })?;
    let more = rows.len() as i64 == limit;
    let mut done = 0;
    for (id, store, provider, env, version, nonce, ciphertext, revision) in rows {
        let (Some(provider), Ok(env)) = (Provider::parse(&provider), env.parse::<Environment>())
        else {
            continue;
        };
        let version = u32::try_from(version).unwrap_or_default();
        let plaintext = state.key_ring.open(
            &Sealed {
                version,
                nonce,
                ciphertext,
            },
            &aad(id, store, provider, env, version),
        )?;
        let sealed =
            state
                .key_ring
                .seal(target, &aad(id, store, provider, env, target), &plaintext)?;
        const UPDATE: &str = "UPDATE provider_credentials SET key_version = $3, nonce = $4, \
            ciphertext = $5, revision = revision + 1, updated_at = $6 \
            WHERE id = $1 AND revision = $2";
        done += on_db!(&state.db, pool => {
            sqlx::query(UPDATE).bind(id).bind(revision).bind(target as i32).bind(&sealed.nonce)
                .bind(&sealed.ciphertext).bind(state.clock.now())
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok((done, more))
}
