//! Who a caller is, as plain data: the principal behind a credential, the actor inside a store
//! and a member's role.
//!
//! Foundation, not `auth`: the principal cache (`cache`) and every capability's rules need
//! these types, while resolving a token into them (`auth::principal`) needs the database and
//! the state. Keeping the data here lets the cache sit below the state without importing a
//! capability.

use serde::Serialize;
use utoipa::ToSchema;

use crate::types::{ApiKeyId, CustomerId, Environment, StoreId, TextValue, UserId};

/// A console user's role in one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control, including API keys and production credentials.
    Owner,
    /// Day-to-day operations.
    Staff,
}

impl Role {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }

    /// Parses the database spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

impl TextValue for Role {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        Role::parse(text)
    }
}
crate::text_value_sql!(Role);

/// Who acts inside a store scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A store secret key.
    ApiKey(ApiKeyId),
    /// A console user with a role (platform admins act as owners).
    User {
        /// The user.
        user_id: UserId,
        /// Their role in the store.
        role: Role,
    },
}

impl Actor {
    /// How histories, audits and exports name who acted: `api_key:<id>` or `user:<id>`.
    pub fn audit_name(self) -> String {
        match self {
            Actor::ApiKey(id) => format!("api_key:{id}"),
            Actor::User { user_id, .. } => format!("user:{user_id}"),
        }
    }
}

/// A customer of one store, acting through a customer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerScope {
    /// The customer's store.
    pub store_id: StoreId,
    /// The environment the customer lives in.
    pub environment: Environment,
    /// The customer.
    pub customer_id: CustomerId,
}

/// Any authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A store secret key.
    StoreKey {
        /// The key.
        key_id: ApiKeyId,
        /// Its store.
        store_id: StoreId,
        /// Its environment.
        environment: Environment,
    },
    /// A console user through a bearer token.
    User {
        /// The user.
        user_id: UserId,
        /// Whether they administer the platform.
        is_platform_admin: bool,
        /// Whether they must choose a new password before anything else.
        must_change_password: bool,
    },
    /// A customer token.
    Customer(CustomerScope),
}

impl Principal {
    /// Whether this is a user who must change their password before anything else.
    pub fn must_change_password(&self) -> bool {
        matches!(
            self,
            Principal::User {
                must_change_password: true,
                ..
            }
        )
    }
}
