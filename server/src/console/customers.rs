//! Customers: the store's customers in the environment shown, through the same services as
//! `/api/v1/admin/customers` (reading and adding are every member's, as in the API), a
//! customer's orders and lifetime value, and storefront tokens under the API's policy
//! (`policy::issue_customer_tokens`: production's are the owners').

use app::backend::{
    BoxFuture, ConsoleResult, FieldError,
    customers::{
        CustomerBackend, CustomerDetailView, CustomerForm, CustomerOrderRow, CustomerOutcome,
        CustomerRow, CustomersPageView, CustomersQuery, IssuedToken,
    },
};
use axum::http::request::Parts;

use super::{
    ServerBackend,
    context::{Signed, require_signed},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    money::format_amount,
    orders::{self, OrderFilter},
    state::AppState,
    tenancy::{self, Customer, customers},
    types::{CustomerId, Email, Environment, InvalidValue, StoreId, parse_name},
};

/// Customers per page of the list.
const PAGE: u32 = 25;
/// Orders the detail page lists; the Orders page, filtered by the customer, has them all.
const ORDERS: u32 = 20;

fn row(c: &Customer, times: &Times) -> CustomerRow {
    CustomerRow {
        id: c.id.to_string(),
        email: c.email.clone(),
        name: c.name.clone(),
        created_at: times.stamp(c.created_at),
    }
}

fn refused(invalid: InvalidValue) -> FieldError {
    FieldError {
        field: invalid.field.to_owned(),
        message: invalid.message,
    }
}

fn filled(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn missing() -> String {
    "No such customer in this store and environment.".to_owned()
}

/// An id from a form or the address bar; anything unparsable is as unknown as another
/// store's customer.
fn customer_id(raw: &str) -> ConsoleResult<CustomerId> {
    raw.trim().parse().map_err(|_| missing())
}

async fn scope(state: &AppState, signed: &Signed) -> ConsoleResult<(StoreId, Environment)> {
    let (store, _) = signed.actor(state).await?;
    Ok((store, signed.environment()))
}

async fn page(
    state: &AppState,
    req: &Parts,
    query: CustomersQuery,
) -> ConsoleResult<CustomersPageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, env) = scope(state, &signed).await?;
    let q = filled(query.q);
    let after = filled(query.after);
    let mut view = CustomersPageView {
        rows: Vec::new(),
        // A refused search is echoed as typed, so it can be corrected in place.
        q: q.clone().unwrap_or_default(),
        next_after: None,
        paged: after.is_some(),
        filter_error: None,
        store_has_customers: true,
    };
    let search = match q.as_deref().map(customers::parse_search).transpose() {
        Ok(search) => search.flatten(),
        Err(invalid) => {
            view.filter_error = Some(refused(invalid));
            return Ok(view);
        }
    };
    let before = match after.as_deref().map(str::parse::<CustomerId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            view.filter_error = Some(refused(InvalidValue::new(
                "after",
                "no such page; start again",
            )));
            return Ok(view);
        }
    };
    let found = customers::list(state, store, env, search.as_ref(), before, PAGE)
        .await
        .map_err(shown)?;
    if found.data.is_empty() && before.is_none() && search.is_some() {
        // Tell "nothing matches" from "nothing yet": one row of the unsearched list.
        let any = customers::list(state, store, env, None, None, 1)
            .await
            .map_err(shown)?;
        view.store_has_customers = !any.data.is_empty();
    } else if found.data.is_empty() && before.is_none() {
        view.store_has_customers = false;
    }
    view.next_after = found
        .has_more
        .then(|| found.data.last().map(|c| c.id.to_string()))
        .flatten();
    view.rows = found.data.iter().map(|c| row(c, &times)).collect();
    Ok(view)
}

/// The form read: a blank field is not given; each field that cannot be read is refused
/// beside itself, all at once.
fn read(form: &CustomerForm) -> Result<(Option<Email>, Option<String>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = filled(Some(form.email.clone())).and_then(|e| {
        Email::parse(&e)
            .map_err(|invalid| errors.push(refused(invalid)))
            .ok()
    });
    let name = filled(Some(form.name.clone())).and_then(|n| {
        parse_name("name", &n)
            .map_err(|invalid| errors.push(refused(invalid)))
            .ok()
    });
    if errors.is_empty() {
        Ok((email, name))
    } else {
        Err(errors)
    }
}

async fn create(
    state: &AppState,
    req: &Parts,
    form: CustomerForm,
) -> ConsoleResult<CustomerOutcome> {
    let signed = require_signed(state, req).await?;
    let (store, env) = scope(state, &signed).await?;
    let (email, name) = match read(&form) {
        Ok(read) => read,
        Err(errors) => return Ok(CustomerOutcome::Refused(errors)),
    };
    match customers::create(state, store, env, email, name.as_deref()).await {
        Ok(customer) => {
            let who = customer
                .email
                .clone()
                .or(customer.name.clone())
                .unwrap_or_else(|| customer.id.to_string());
            Ok(CustomerOutcome::Saved {
                id: customer.id.to_string(),
                message: format!("Added {who}."),
            })
        }
        Err(tenancy::Error::Invalid(invalid)) => {
            Ok(CustomerOutcome::Refused(vec![refused(invalid)]))
        }
        Err(other) => Err(shown(other)),
    }
}

async fn detail(
    state: &AppState,
    req: &Parts,
    raw_id: String,
) -> ConsoleResult<CustomerDetailView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    let id = customer_id(&raw_id)?;
    let found = match customers::detail(state, store, env, id).await {
        Ok(found) => found,
        Err(tenancy::Error::NotFound) => return Err(missing()),
        Err(other) => return Err(shown(other)),
    };
    let filter = OrderFilter {
        customer_id: Some(id),
        ..OrderFilter::default()
    };
    // Reading orders has its own rule; without it the page still shows the customer.
    let orders = if policy::read_orders(actor, env).is_ok() {
        orders::recent(state, store, env, filter, None, ORDERS)
            .await
            .map_err(shown)?
    } else {
        crate::pagination::Page {
            data: Vec::new(),
            has_more: false,
        }
    };
    Ok(CustomerDetailView {
        customer: row(&found.customer, &times),
        orders: orders
            .data
            .iter()
            .map(|o| CustomerOrderRow {
                id: o.id.to_string(),
                created_at: times.stamp(o.created_at),
                status: o.status.as_str().to_owned(),
                amount: format_amount(o.items_amount.0, o.currency.code()),
            })
            .collect(),
        more_orders: orders.has_more,
        lifetime_value: found
            .lifetime_value
            .iter()
            .map(|m| format_amount(m.amount.0, m.currency.code()))
            .collect(),
        can_issue_token: policy::issue_customer_tokens(actor, env).is_ok(),
    })
}

async fn issue_token(state: &AppState, req: &Parts, raw_id: String) -> ConsoleResult<IssuedToken> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, actor) = signed.actor(state).await?;
    let id = customer_id(&raw_id)?;
    // The service finds the customer before it asks the policy, as for the API.
    match customers::issue_token(state, store, signed.environment(), actor, id, None).await {
        Ok(token) => Ok(IssuedToken {
            token: token.token,
            expires_at: times.stamp(token.expires_at),
        }),
        Err(tenancy::Error::NotFound) => Err(missing()),
        Err(other) => Err(shown(other)),
    }
}

impl CustomerBackend for ServerBackend {
    fn customers_page<'a>(
        &'a self,
        req: &'a Parts,
        query: CustomersQuery,
    ) -> BoxFuture<'a, ConsoleResult<CustomersPageView>> {
        Box::pin(page(&self.state, req, query))
    }

    fn create_customer<'a>(
        &'a self,
        req: &'a Parts,
        form: CustomerForm,
    ) -> BoxFuture<'a, ConsoleResult<CustomerOutcome>> {
        Box::pin(create(&self.state, req, form))
    }

    fn customer_detail<'a>(
        &'a self,
        req: &'a Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<CustomerDetailView>> {
        Box::pin(detail(&self.state, req, customer_id))
    }

    fn issue_customer_token<'a>(
        &'a self,
        req: &'a Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<IssuedToken>> {
        Box::pin(issue_token(&self.state, req, customer_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fields_are_refused_at_once_and_blank_is_not_given() {
        let form = CustomerForm {
            email: "not an email".to_owned(),
            name: "x".repeat(201),
        };
        let errors = read(&form).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "name"]);
        let blank = CustomerForm {
            email: "  ".to_owned(),
            name: String::new(),
        };
        assert_eq!(read(&blank).expect("blank is fine"), (None, None));
        let typed = CustomerForm {
            email: " Ada@Shop.Example ".to_owned(),
            name: " Ada ".to_owned(),
        };
        let (email, name) = read(&typed).expect("valid");
        assert_eq!(
            email.map(|e| e.as_str().to_owned()).as_deref(),
            Some("ada@shop.example")
        );
        assert_eq!(name.as_deref(), Some("Ada"));
    }
}
