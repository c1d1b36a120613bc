//! The Customers pages' server functions.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::server;
use crate::backend::customers::{
    CustomerDetailView, CustomerOutcome, CustomersPageView, IssuedToken,
};

/// A page of the store's customers (`q`: part of an email, or an id; `after`: the last one of
/// the previous page).
#[server(prefix = "/console/fn", endpoint = "customers_page")]
pub async fn get_customers_page(
    q: Option<String>,
    after: Option<String>,
) -> Result<CustomersPageView, ServerFnError> {
    let parts = server::parts()?;
    let query = crate::backend::customers::CustomersQuery { q, after };
    server::fail(server::backend()?.customers_page(&parts, query).await)
}

/// Adds a customer; refused fields come back to be shown beside them.
#[server(prefix = "/console/fn", endpoint = "create_customer")]
pub async fn create_customer(
    email: Option<String>,
    name: Option<String>,
) -> Result<CustomerOutcome, ServerFnError> {
    let parts = server::parts()?;
    let form = crate::backend::customers::CustomerForm {
        email: email.unwrap_or_default(),
        name: name.unwrap_or_default(),
    };
    server::fail(server::backend()?.create_customer(&parts, form).await)
}

/// A customer of the current store and environment, with their orders and lifetime value.
#[server(prefix = "/console/fn", endpoint = "customer_detail")]
pub async fn get_customer_detail(customer_id: String) -> Result<CustomerDetailView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .customer_detail(&parts, customer_id)
            .await,
    )
}

/// Mints a storefront token for a customer; the answer is the only time it is shown.
#[server(prefix = "/console/fn", endpoint = "issue_customer_token")]
pub async fn issue_customer_token(customer_id: String) -> Result<IssuedToken, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .issue_customer_token(&parts, customer_id)
            .await,
    )
}
