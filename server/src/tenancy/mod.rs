//! Tenancy: stores, console users, members and roles, store API keys, customers and customer
//! tokens.
//!
//! One service file per aggregate (`stores`, `users`, `members`, `api_keys`, `customers`), its
//! SQL in `repo/<aggregate>.rs`, its handlers in `routes/<aggregate>.rs`. The types the
//! services return (and the API shows) are declared here, so services and repositories share
//! them without importing each other.

pub mod access;
pub mod api_keys;
pub mod customers;
mod error;
pub mod members;
pub mod repo;
mod routes;
pub mod stores;
pub mod users;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub use error::Error;
pub use routes::{admin_router, me_router, platform_router};

use crate::{
    identity::Role,
    money::Money,
    types::{ApiKeyId, Currency, CustomerId, Environment, StoreId, UserId},
};

/// A store.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Store {
    /// Store id.
    pub id: StoreId,
    /// Display name.
    pub name: String,
    /// Settlement currency (ISO 4217).
    pub currency: Currency,
    /// IANA time zone the console shows the store's times in (`UTC` unless changed).
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A new store with its first sandbox key, whose secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedStore {
    /// Store id.
    pub id: StoreId,
    /// The store.
    pub store: Store,
    /// A sandbox secret key (`sk_test_…`) for the store; shown once.
    pub sandbox_secret_key: String,
}

/// A store secret key as listed: never the secret itself.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiKey {
    /// Key id.
    pub id: ApiKeyId,
    /// Label given at creation.
    pub name: String,
    /// `sandbox` (`sk_test_`) or `production` (`sk_live_`).
    pub environment: Environment,
    /// Masked form for recognition, e.g. `sk_test_Ab12…9xYz`.
    pub display_hint: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful use (refreshed at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked keys are rejected.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly created key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key as it will be listed.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: store it now, it cannot be shown again.
    pub secret: String,
}

/// A store's customer.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Customer {
    /// Customer id.
    pub id: CustomerId,
    /// Environment the customer lives in.
    pub environment: Environment,
    /// Contact email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A customer with what they have paid the store: the `GET` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDetail {
    /// The customer.
    #[serde(flatten)]
    pub customer: Customer,
    /// Per currency (ISO code order), the captured minus the refunded amounts of all their
    /// payments, in minor units; currencies they never paid in are absent.
    pub lifetime_value: Vec<Money>,
}

/// What a search of a store's customers looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerSearch {
    /// Exactly this customer.
    Id(CustomerId),
    /// Customers whose email contains this text.
    Email(String),
}

/// A customer token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerToken {
    /// Send as `Authorization: Bearer <token>` to `/api/v1/me/...`.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A console user's membership of the caller's store.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their email (console login).
    pub email: String,
    /// Their role in the store.
    pub role: Role,
    /// When they joined the store.
    pub created_at: DateTime<Utc>,
}

/// A user's membership in a store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreUser {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The store.
    pub store_id: StoreId,
    /// Their role in the store.
    pub role: Role,
    /// The generated password when none was given (existing users keep theirs); shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}
