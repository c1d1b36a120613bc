//! A store's customers and the short-lived tokens that let them call `/api/v1/me`.

use chrono::Duration;

use super::{Customer, CustomerDetail, CustomerSearch, CustomerToken, Error, repo};
use crate::{
    auth::{
        policy,
        tokens::{self, TokenKind},
    },
    identity::Actor,
    pagination::Page,
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

/// A customer with what they have paid the store ([`CustomerDetail`]).
pub async fn detail(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
) -> Result<CustomerDetail, Error> {
    let customer = find(state, store_id, environment, customer_id).await?;
    let lifetime_value =
        repo::customers::lifetime_value(&state.db, store_id, environment, customer.id).await?;
    Ok(CustomerDetail {
        customer,
        lifetime_value,
    })
}

/// Longest search text: an email is at most 254 characters.
const MAX_SEARCH_CHARS: usize = 254;

/// A search as typed: a customer id finds that customer, any other text the customers whose
/// email contains it (case-insensitive); blank is no search.
pub fn parse_search(text: &str) -> Result<Option<CustomerSearch>, InvalidValue> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(InvalidValue::new("q", "must be at most 254 characters"));
    }
    Ok(Some(match text.parse::<CustomerId>() {
        Ok(id) => CustomerSearch::Id(id),
        Err(_) => CustomerSearch::Email(text.to_lowercase()),
    }))
}

/// A page of a store's customers, newest first, after `before` (the last one of the previous
/// page), matching `search`.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    search: Option<&CustomerSearch>,
    before: Option<CustomerId>,
    limit: u32,
) -> Result<Page<Customer>, Error> {
    let rows = repo::customers::list(
        &state.db,
        store_id,
        environment,
        search,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(Page::from_rows(rows, limit))
}

/// Mints a token with which the customer calls `/api/v1/me/...`, living `ttl_seconds`
/// (60–86400, default 3600), when `policy::issue_customer_tokens` lets `actor` do so here.
pub async fn issue_token(
    state: &AppState,
    store_id: StoreId,
    environment: Environment,
    actor: Actor,
    customer_id: CustomerId,
    ttl_seconds: Option<i64>,
) -> Result<CustomerToken, Error> {
    // Found first: another store's customer is not found, whoever asks.
    let customer = find(state, store_id, environment, customer_id).await?;
    policy::issue_customer_tokens(actor, environment).map_err(|_| Error::Forbidden)?;
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if !(60..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        return Err(InvalidValue::new("ttl_seconds", "must be between 60 and 86400").into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_an_id_or_part_of_an_email() {
        assert_eq!(parse_search("  ").expect("blank"), None);
        let id = CustomerId::new();
        assert_eq!(
            parse_search(&format!(" {id} ")).expect("id"),
            Some(CustomerSearch::Id(id))
        );
        assert_eq!(
            parse_search("Ada@Shop").expect("email"),
            Some(CustomerSearch::Email("ada@shop".to_owned()))
        );
        let refused = parse_search(&"a".repeat(255)).expect_err("too long");
        assert_eq!(refused.field, "q");
    }
}
