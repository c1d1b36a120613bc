//! Orders: the store's orders in the environment shown, filtered and paged, and their CSV
//! export (`GET /console/exports/orders.csv`, the page's filters in its query), through the
//! same service and role policy (`policy::read_orders`) as `/api/v1/admin/orders`.

use app::backend::{
    BoxFuture, ConsoleResult,
    orders::{OrderBackend, OrderRowView, OrdersPageView, OrdersQuery},
};
use axum::{
    body::Body,
    extract::{Query, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{
    ServerBackend,
    context::{Signed, require_signed, signed_for_file},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    http::problem::ApiError,
    money::{format_amount, parse_major_amount},
    orders::{self, OrderFilter, OrderStatus, OrderSummary},
    state::AppState,
    types::{Currency, CustomerId, Environment, OrderId, StoreId, TextValue},
};

/// Orders per page.
const PAGE: u32 = 50;

fn filled(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A day typed in a filter, in the store's zone: `to` days are included, so they end where the
/// next day begins.
fn day(text: &Option<String>, times: &Times, next: bool) -> Result<Option<DateTime<Utc>>, String> {
    filled(text)
        .map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| times.day_start(if next { d + Duration::days(1) } else { d }))
                .map_err(|_| "Enter a date such as 2026-01-31.".to_owned())
        })
        .transpose()
}

/// The filter the page's fields say, or each refused field with the reason shown beside it.
/// Amounts are typed in major units of the store's currency.
fn filter_of(
    query: &OrdersQuery,
    currency: Currency,
    times: &Times,
) -> Result<OrderFilter, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, message: String| errors.push((field.to_owned(), message));
    let status = filled(&query.status).and_then(|s| {
        let status = OrderStatus::from_text(s);
        if status.is_none() {
            refuse("status", "Choose open, paid or cancelled.".to_owned());
        }
        status
    });
    let created_from = day(&query.from, times, false).unwrap_or_else(|e| {
        refuse("from", e);
        None
    });
    let created_before = day(&query.to, times, true).unwrap_or_else(|e| {
        refuse("to", e);
        None
    });
    let customer_id = filled(&query.customer).and_then(|c| {
        let id = c.parse::<CustomerId>().ok();
        if id.is_none() {
            refuse(
                "customer",
                "Enter a customer id as the API shows it.".to_owned(),
            );
        }
        id
    });
    let mut amount = |field: &str, text: &Option<String>| {
        filled(text).and_then(|t| match parse_major_amount(t, currency) {
            Ok(minor) => Some(minor),
            Err(e) => {
                refuse(field, e.to_string());
                None
            }
        })
    };
    let min_amount = amount("min_amount", &query.min_amount);
    let max_amount = amount("max_amount", &query.max_amount);
    let search = filled(&query.q).and_then(|q| {
        orders::service::parse_search(q).unwrap_or_else(|_| {
            refuse(
                "q",
                "Enter an order id or a customer's whole email.".to_owned(),
            );
            None
        })
    });
    if let (Some(from), Some(before)) = (created_from, created_before)
        && from >= before
    {
        refuse("to", "The range ends before it starts.".to_owned());
    }
    if let (Some(min), Some(max)) = (min_amount, max_amount)
        && min > max
    {
        refuse("max_amount", "The maximum is below the minimum.".to_owned());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OrderFilter {
        status,
        created_from,
        created_before,
        customer_id,
        // The amounts were typed in the store's currency.
        currency: (min_amount.is_some() || max_amount.is_some()).then_some(currency),
        min_amount,
        max_amount,
        search,
    })
}

fn row(o: &OrderSummary, times: &Times) -> OrderRowView {
    OrderRowView {
        id: o.id.to_string(),
        created_at: times.stamp(o.created_at),
        status: o.status.as_str().to_owned(),
        customer_id: o.customer_id.to_string(),
        customer_email: o.customer_email.clone(),
        amount: format_amount(o.items_amount.0, o.currency.code()),
        item_count: o.item_count,
    }
}

/// The store and environment shown, once the policy lets the user read orders there.
async fn reader(state: &AppState, signed: &Signed) -> ConsoleResult<(StoreId, Environment)> {
    let (store, _, env) = signed.allowed(state, policy::read_orders).await?;
    Ok((store, env))
}

async fn page(state: &AppState, req: &Parts, query: OrdersQuery) -> ConsoleResult<OrdersPageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, env) = reader(state, &signed).await?;
    let currency = orders::service::store_currency(state, store)
        .await
        .map_err(shown)?;
    let mut view = OrdersPageView {
        rows: Vec::new(),
        next_after: None,
        errors: Vec::new(),
        currency: currency.code().to_owned(),
        store_has_orders: true,
    };
    let filter = match filter_of(&query, currency, &times) {
        Ok(filter) => filter,
        Err(errors) => {
            view.errors = errors;
            return Ok(view);
        }
    };
    // An unreadable cursor is a link someone edited: start from the first page.
    let after = filled(&query.after).and_then(|a| a.parse::<OrderId>().ok());
    let page = orders::recent(state, store, env, filter.clone(), after, PAGE)
        .await
        .map_err(shown)?;
    if page.data.is_empty() && after.is_none() {
        // Tell "nothing matches" from "nothing yet": one row of the unfiltered list.
        let any = orders::recent(state, store, env, OrderFilter::default(), None, 1)
            .await
            .map_err(shown)?;
        view.store_has_orders = !any.data.is_empty();
    }
    view.next_after = page
        .has_more
        .then(|| page.data.last().map(|o| o.id.to_string()))
        .flatten();
    view.rows = page.data.iter().map(|o| row(o, &times)).collect();
    Ok(view)
}

impl OrderBackend for ServerBackend {
    fn orders_page<'a>(
        &'a self,
        req: &'a Parts,
        query: OrdersQuery,
    ) -> BoxFuture<'a, ConsoleResult<OrdersPageView>> {
        Box::pin(page(&self.state, req, query))
    }
}

/// `GET /console/exports/orders.csv?status&from&to&customer&min_amount&max_amount&q`: the
/// orders the page shows for the same filters, every page of them, streamed as CSV.
pub async fn orders_csv(
    State(state): State<AppState>,
    Query(query): Query<OrdersQuery>,
    req: Request,
) -> Response {
    let (signed, _) = match signed_for_file(&state, req).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let Ok((store, env)) = reader(&state, &signed).await else {
        return ApiError::NotFound.into_response();
    };
    let currency = match orders::service::store_currency(&state, store).await {
        Ok(currency) => currency,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let times = Times::of(&state, &signed);
    let filter = match filter_of(&query, currency, &times) {
        Ok(filter) => filter,
        Err(errors) => {
            let text: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
            return (StatusCode::UNPROCESSABLE_ENTITY, text.join("\n")).into_response();
        }
    };
    let body = match orders::export_csv(&state, store, env, filter).await {
        Ok(body) => body,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let day = state.clock.now().format("%Y-%m-%d");
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"orders-{}-{day}.csv\"",
        env.as_text()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Generated per request from live data.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_the_stores_currency_and_refused_beside_themselves() {
        let usd = Currency::parse("USD").expect("USD");
        let query = OrdersQuery {
            min_amount: Some("12.34".to_owned()),
            to: Some("2026-12-04".to_owned()),
            ..OrdersQuery::default()
        };
        let filter = filter_of(&query, usd, &Times::in_zone(chrono_tz::Tz::UTC)).expect("valid");
        assert_eq!(filter.min_amount.map(|m| m.0), Some(1234));
        assert_eq!(filter.currency, Some(usd));
        assert_eq!(
            filter.created_before.map(|t| t.to_rfc3339()),
            Some("2026-12-05T00:00:00+00:00".to_owned())
        );
        let bad = OrdersQuery {
            min_amount: Some("12.345".to_owned()),
            customer: Some("nobody".to_owned()),
            q: Some("hello".to_owned()),
            ..OrdersQuery::default()
        };
        let errors =
            filter_of(&bad, usd, &Times::in_zone(chrono_tz::Tz::UTC)).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["customer", "min_amount", "q"]);
    }
}
