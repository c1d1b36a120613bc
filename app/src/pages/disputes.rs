//! Disputes (chargebacks): the table the order page shows under a disputed payment, and
//! `/disputes`, the store's disputes with a status filter and keyset pages.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, when, with_viewer};
use crate::{
    api::list_disputes,
    backend::{Viewer, disputes::DisputeView},
};

const FILTERS: [(&str, &str); 6] = [
    ("", "All"),
    ("needs_response", "Needs response"),
    ("under_review", "Under review"),
    ("won", "Won"),
    ("lost", "Lost"),
    ("closed", "Closed"),
];

/// The badge of a payment with disputes: the one still open first (it may need evidence),
/// else the latest decision.
pub(super) fn dispute_badge(disputes: &[DisputeView]) -> Option<AnyView> {
    let shown = disputes
        .iter()
        .find(|d| !d.decided)
        .or_else(|| disputes.last())?;
    let class = if shown.status == "won" || shown.status == "closed" {
        "badge ok"
    } else {
        "badge bad"
    };
    let text = format!("disputed: {}", shown.status.replace('_', " "));
    Some(view! { <span class=class data-testid="dispute-badge">{text}</span> }.into_any())
}

/// Disputes as a table; `with_order` adds a link to each one's order (the store's list).
#[component]
pub(super) fn DisputesTable(rows: Vec<DisputeView>, with_order: bool) -> impl IntoView {
    view! {
        <table class="table disputes" data-testid="disputes">
            <thead>
                <tr>
                    <th>"Opened"</th>
                    <th>"Amount"</th>
                    <th>"Reason"</th>
                    <th>"Status"</th>
                    <th>"Provider id"</th>
                    <th>"Last change"</th>
                    {with_order.then(|| view! { <th>"Order"</th> })}
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|d| {
                        let order = with_order.then(|| {
                            let href = format!("/orders/{}", d.order_id);
                            view! { <td><a href=href>"Open order"</a></td> }
                        });
                        let status = d.status.clone();
                        view! {
                            <tr data-dispute-id=d.id.clone() data-status=status.clone()>
                                <td>{when(d.opened_at)}</td>
                                <td>{d.amount}</td>
                                <td>{d.reason.replace('_', " ")}</td>
                                <td><span class=format!("status-chip dispute-{status}")>{status.clone()}</span></td>
                                <td><code>{d.provider_dispute_id}</code></td>
                                <td>{when(d.updated_at)}</td>
                                {order}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// `/disputes`: the current store's disputes.
#[component]
pub fn Disputes() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <DisputeList store_name=store.name environment=viewer.environment/> }.into_any()
        }
    })
}

#[component]
fn DisputeList(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.get();
        (
            q.get("status").filter(|s| !s.is_empty()),
            q.get("after").filter(|s| !s.is_empty()),
        )
    };
    let page = Resource::new(filter, |(status, after)| list_disputes(status, after));
    let current = filter().0.unwrap_or_default();
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Disputes"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">
                "Chargebacks the payment provider reported for " {store_name}
                ", newest first. A dispute never changes the payment's captured or refunded amounts."
            </p>
            <nav class="tabs" id="dispute-filters">
                {FILTERS
                    .iter()
                    .map(|(value, label)| {
                        let href = if value.is_empty() {
                            "/disputes".to_owned()
                        } else {
                            format!("/disputes?status={value}")
                        };
                        let class = if *value == current { "tab active" } else { "tab" };
                        view! { <a class=class href=href>{*label}</a> }
                    })
                    .collect_view()}
            </nav>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(page) if page.rows.is_empty() => {
                                view! { <p class="muted" id="no-disputes">"No disputes."</p> }
                                    .into_any()
                            }
                            Ok(page) => {
                                let next = page.next_after.map(|after| {
                                    let status = filter().0.unwrap_or_default();
                                    format!("/disputes?status={status}&after={after}")
                                });
                                view! {
                                    <DisputesTable rows=page.rows with_order=true/>
                                    {next.map(|href| view! { <a class="btn" id="next-page" href=href>"Next page"</a> })}
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}
