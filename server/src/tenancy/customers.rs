//! A store's customers and the short-lived tokens that let them call `/api/v1/me`.

use chrono::Duration;

use super::{Customer, CustomerToken, Error, repo};
use crate::{
    auth::tokens::{self, TokenKind},
    state::AppState,
    types::{CustomerId, Email, Environment, InvalidValue, StoreId, parse_name},
};

/// Default lifetime of a customer token.
const DEFAULT_TOKEN_TTL_SECS: i64 = 3600;
/// Longest lifetime a store may ask for.
const MAX_TOKEN_TTL_SECS: i64 = 24 * 3600;

/// Creates a customer in a store and environment.
pub async fn create(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    email: Option<Email>,
    name: Option<&str>,
) -> Result<Customer, Error> {
    let name = name.map(|n| parse_name("name", n)).transpose()?;
    let customer = Customer {
        id: CustomerId::new(),
        environment,
        email: email.map(|e| e.as_str().to_owned()),
        name,
        created_at: state.clock.now(),
    };
    repo::customers::insert(&state.db, store_id, &customer).await?;
    Ok(customer)
}

/// Finds a customer inside a store and environment; anything else is not found.
pub async fn find(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
) -> Result<Customer, Error> {
    repo::customers::find(&state.db, store_id, environment, customer_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Mints a token with which the customer calls `/api/v1/me/...`, living `ttl_seconds`
/// (60–86400, default 3600).
pub async fn issue_token(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
    ttl_seconds: Option<i64>,
) -> Result<CustomerToken, Error> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if !(60..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        return Err(InvalidValue::new("ttl_seconds", "must be between 60 and 86400").into());
    }
    let customer = find(state, store_id, environment, customer_id).await?;
    let now = state.clock.now();
    let expires_at = now + Duration::seconds(ttl);
    let secret = tokens::generate(TokenKind::Customer);
    repo::customers::insert_token(
        &state.db,
        repo::customers::NewToken {
            hash: &secret.hash,
            store_id,
            environment,
            customer_id: customer.id,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(CustomerToken {
        token: tokens::reveal(&secret.plaintext),
        expires_at,
    })
}
