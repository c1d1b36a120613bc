//! Customers: the store's customers in the environment shown, searched by email or id and
//! paged; adding one; a customer's facts, orders and lifetime value; minting a storefront token
//! for them. Plain data plus, on the server, the part of the backend that answers it.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};
use super::{FieldError, Stamp};

/// A customer as the list shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    /// Id.
    pub id: String,
    /// Contact email, when given.
    pub email: Option<String>,
    /// Display name, when given.
    pub name: Option<String>,
    /// Created, in the store's zone.
    pub created_at: Stamp,
}

/// The search and page of the list (`?q=&after=`), as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersQuery {
    /// Part of an email, or a customer id.
    pub q: Option<String>,
    /// Last customer of the previous page.
    pub after: Option<String>,
}

/// The Customers page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersPageView {
    /// One page of customers, newest first.
    pub rows: Vec<CustomerRow>,
    /// The search as applied (empty: none).
    pub q: String,
    /// Cursor of the next (older) page.
    pub next_after: Option<String>,
    /// Whether this is a later page.
    pub paged: bool,
    /// A refused search or cursor; the list is empty then.
    pub filter_error: Option<FieldError>,
    /// Whether the store has any customer in this environment (else the empty state explains
    /// how they are added).
    pub store_has_customers: bool,
}

/// The create form's fields as sent: text, read and checked on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerForm {
    /// Contact email (optional).
    pub email: String,
    /// Display name (optional).
    pub name: String,
}

/// The create form's outcome: refused fields are an answer for the form (shown beside each),
/// not a failure of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerOutcome {
    /// Stored: the new customer's id and what to tell the user.
    Saved {
        /// The new customer's id.
        id: String,
        /// What to tell the user.
        message: String,
    },
    /// Fields refused, each with why.
    Refused(Vec<FieldError>),
}

/// One of the customer's orders, as the detail page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerOrderRow {
    /// Order id.
    pub id: String,
    /// Created, in the store's zone.
    pub created_at: Stamp,
    /// `open`, `paid` or `cancelled`.
    pub status: String,
    /// Items amount for people (`$12.34 USD`).
    pub amount: String,
}

/// A customer's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetailView {
    /// The customer.
    pub customer: CustomerRow,
    /// Their newest orders.
    pub orders: Vec<CustomerOrderRow>,
    /// Whether they have more orders than shown (the Orders page lists them all).
    pub more_orders: bool,
    /// Per currency, captured minus refunded of their payments, for people (`$12.34 USD`).
    pub lifetime_value: Vec<String>,
    /// Whether the user may mint a storefront token for them here (the API's policy); else
    /// the page is read-only.
    pub can_issue_token: bool,
}

/// A storefront token, shown once right after it was minted. Its `Debug` hides the token, so
/// no log line can carry it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Send as `Authorization: Bearer <token>` to `/api/v1/me/...`.
    pub token: String,
    /// When it stops working, in the store's zone.
    pub expires_at: Stamp,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The server's answers about customers; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait CustomerBackend: Send + Sync {
    /// A page of the current store's customers in the environment shown.
    fn customers_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        query: CustomersQuery,
    ) -> BoxFuture<'a, ConsoleResult<CustomersPageView>>;

    /// Adds a customer.
    fn create_customer<'a>(
        &'a self,
        req: &'a http::request::Parts,
        form: CustomerForm,
    ) -> BoxFuture<'a, ConsoleResult<CustomerOutcome>>;

    /// A customer of the current store and environment.
    fn customer_detail<'a>(
        &'a self,
        req: &'a http::request::Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<CustomerDetailView>>;

    /// Mints a storefront token for a customer (shown once).
    fn issue_customer_token<'a>(
        &'a self,
        req: &'a http::request::Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<IssuedToken>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_debug_form_hides_it() {
        let token = IssuedToken {
            token: "ct_secret".to_owned(),
            expires_at: Stamp {
                text: "t".to_owned(),
                relative: None,
                exact: "e".to_owned(),
            },
        };
        assert!(!format!("{token:?}").contains("ct_secret"));
    }
}
