//! Stores (tenants): created by platform admins, each with a sandbox key from the start.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{CreatedStore, Error, Store, api_keys, repo};
use crate::{
    auth::tokens,
    pagination::{Page, PageQuery},
    state::AppState,
    types::{ApiKeyId, Currency, Environment, InvalidValue, StoreId, parse_name},
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
        timezone: "UTC".to_owned(),
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

/// A change of a store's profile; fields left out keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProfileChange {
    /// Display name, 1–200 characters.
    pub name: Option<String>,
    /// IANA time zone such as `Europe/Berlin` or `UTC`: the console shows the store's times in
    /// it. Stored times stay UTC.
    pub timezone: Option<String>,
}

/// An IANA time zone name this build knows.
fn parse_timezone(raw: &str) -> Result<String, InvalidValue> {
    let name = raw.trim();
    name.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            InvalidValue::new(
                "timezone",
                "must be an IANA time zone such as Europe/Berlin or UTC",
            )
        })
}

/// Changes a store's name or time zone (its currency stays: prices and orders are in it).
pub async fn update_profile(
    state: &AppState,
    store_id: StoreId,
    change: &ProfileChange,
) -> Result<Store, Error> {
    let name = change
        .name
        .as_deref()
        .map(|n| parse_name("name", n))
        .transpose()?;
    let timezone = change.timezone.as_deref().map(parse_timezone).transpose()?;
    let mut tx = state.db.begin_write().await?;
    let current = repo::stores::find_in(&mut tx, store_id)
        .await?
        .ok_or(Error::NotFound)?;
    let updated = Store {
        name: name.unwrap_or(current.name),
        timezone: timezone.unwrap_or(current.timezone),
        ..current
    };
    repo::stores::update_profile(&mut tx, store_id, &updated.name, &updated.timezone).await?;
    tx.commit().await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_timezone(" Europe/Berlin ").unwrap(), "Europe/Berlin");
        assert_eq!(parse_timezone("UTC").unwrap(), "UTC");
        for bad in ["", "CET+1", "Mars/Olympus", "europe/berlin "] {
            assert_eq!(
                parse_timezone(bad).unwrap_err().field,
                "timezone",
                "{bad:?}"
            );
        }
    }
}
