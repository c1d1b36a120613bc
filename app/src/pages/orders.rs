//! `/orders`: the store's orders, newest first, with filters, keyset pages and a CSV export of
//! the filtered list. The filters travel in the query string (a plain GET form), so the page
//! works without JavaScript and every view is a shareable URL; the export link carries them.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, with_viewer};
use crate::{
    api::get_orders_page,
    backend::{
        Viewer,
        orders::{OrdersPageView, OrdersQuery},
    },
};

const STATUSES: [&str; 3] = ["open", "paid", "cancelled"];

/// Where the CSV export of the filtered list is served (under the console session).
const EXPORT_PATH: &str = "/console/exports/orders.csv";

/// The Orders page.
#[component]
pub fn Orders() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <OrderList store_name=store.name environment=viewer.environment/> }.into_any()
        }
    })
}

#[component]
fn OrderList(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let q = query.get();
        let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        OrdersQuery {
            status: get("status"),
            from: get("from"),
            to: get("to"),
            customer: get("customer"),
            min_amount: get("min_amount"),
            max_amount: get("max_amount"),
            q: get("q"),
            after: get("after"),
        }
    };
    let page = Resource::new(current, |f| {
        get_orders_page(
            f.status,
            f.from,
            f.to,
            f.customer,
            f.min_amount,
            f.max_amount,
            f.q,
            f.after,
        )
    });
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Orders"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">"Orders of " {store_name} " in " {environment.clone()} ", newest first."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(view) => view! { <OrdersBody view=view query=current()/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

/// The message for `field`, beside its input.
fn field_error(view: &OrdersPageView, field: &str) -> Option<impl IntoView + use<>> {
    view.errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(f, message)| {
            let id = format!("error-{f}");
            view! { <span class="error" role="alert" id=id.clone() data-testid=id>{message.clone()}</span> }
        })
}

#[component]
fn OrdersBody(view: OrdersPageView, query: OrdersQuery) -> impl IntoView {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let invalid = |field: &str| {
        view.errors
            .iter()
            .any(|(f, _)| f == field)
            .then_some("true")
    };
    let described = |field: &str| {
        view.errors
            .iter()
            .any(|(f, _)| f == field)
            .then(|| format!("error-{field}"))
    };
    let currency = view.currency.clone();
    let filtered = !query.filter_pairs().is_empty();
    let export_href = query.href(EXPORT_PATH, None);
    let next = view
        .next_after
        .clone()
        .map(|after| query.href("/orders", Some(("after", &after))));
    let form = view! {
        <form method="get" action="/orders" class="form inline-form" id="orders-filter">
            <label>
                "Status"
                <select name="status">
                    <option value="">"any"</option>
                    {STATUSES
                        .iter()
                        .map(|s| {
                            let selected = query.status.as_deref() == Some(*s);
                            view! { <option value=*s selected=selected>{*s}</option> }
                        })
                        .collect_view()}
                </select>
                {field_error(&view, "status")}
            </label>
            <label>
                "Created from"
                <input type="date" name="from" value=value(&query.from)
                    aria-invalid=invalid("from") aria-describedby=described("from")/>
                {field_error(&view, "from")}
            </label>
            <label>
                "Created to"
                <input type="date" name="to" value=value(&query.to)
                    aria-invalid=invalid("to") aria-describedby=described("to")/>
                {field_error(&view, "to")}
            </label>
            <label>
                "Customer id"
                <input type="text" name="customer" value=value(&query.customer) size="36"
                    aria-invalid=invalid("customer") aria-describedby=described("customer")/>
                {field_error(&view, "customer")}
            </label>
            <label>
                {format!("Min amount ({currency})")}
                <input type="text" inputmode="decimal" name="min_amount" placeholder="12.34"
                    value=value(&query.min_amount)
                    aria-invalid=invalid("min_amount") aria-describedby=described("min_amount")/>
                {field_error(&view, "min_amount")}
            </label>
            <label>
                {format!("Max amount ({currency})")}
                <input type="text" inputmode="decimal" name="max_amount" placeholder="99.00"
                    value=value(&query.max_amount)
                    aria-invalid=invalid("max_amount") aria-describedby=described("max_amount")/>
                {field_error(&view, "max_amount")}
            </label>
            <label>
                "Order id or customer email"
                <input type="search" name="q" value=value(&query.q)
                    aria-invalid=invalid("q") aria-describedby=described("q")/>
                {field_error(&view, "q")}
            </label>
            <button type="submit" class="btn primary">"Filter"</button>
            {filtered.then(|| view! { <a class="btn" href="/orders">"Clear filters"</a> })}
        </form>
    };
    let body = if !view.errors.is_empty() {
        view! { <p class="muted" id="orders-refused">"Correct the highlighted filters."</p> }
            .into_any()
    } else if !view.store_has_orders {
        view! {
            <div class="empty" id="orders-empty">
                <p>"No orders yet in this environment."</p>
                <p class="muted">
                    "Orders are placed by your storefront through the API: it signs the customer in "
                    "and sends " <code>"POST /api/v1/me/orders"</code>
                    " with the products and a shipping address. Create products and an API key, "
                    "then place a test order in sandbox."
                </p>
                <a class="btn" href="/api-keys">"API keys"</a>
            </div>
        }
        .into_any()
    } else if view.rows.is_empty() {
        view! { <p class="muted" id="orders-empty">"No orders match these filters."</p> }.into_any()
    } else {
        view! {
            <table class="table" id="orders">
                <thead>
                    <tr>
                        <th scope="col">"Order"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Customer"</th>
                        <th scope="col">"Items"</th>
                        <th scope="col">"Amount"</th>
                    </tr>
                </thead>
                <tbody>
                    {view
                        .rows
                        .iter()
                        .map(|r| {
                            let customer = r
                                .customer_email
                                .clone()
                                .unwrap_or_else(|| r.customer_id.clone());
                            view! {
                                <tr data-order-id=r.id.clone()>
                                    <td>
                                        <a href=format!("/orders/{}", r.id)>
                                            <code>{r.id.clone()}</code>
                                        </a>
                                    </td>
                                    <td>
                                        {super::when(r.created_at.clone())}
                                    </td>
                                    <td>
                                        <span class=format!("status-chip {}", r.status)>{r.status.clone()}</span>
                                    </td>
                                    <td title=r.customer_id.clone()>
                                        <a href=format!("/customers/{}", r.customer_id)>{customer}</a>
                                    </td>
                                    <td>{r.item_count}</td>
                                    <td class="amount">{r.amount.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            {next.map(|href| view! { <a class="btn" id="next-page" href=href>"Next page"</a> })}
        }
        .into_any()
    };
    view! {
        {form}
        <p>
            <a class="btn small" id="orders-export" href=export_href download="">
                "Export CSV"
            </a>
            <span class="muted">
                {if filtered { " The orders matching these filters." } else { " Every order." }}
            </span>
        </p>
        {body}
    }
}
