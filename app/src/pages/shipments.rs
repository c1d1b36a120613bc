//! `/shipments`: the store's shipments by status with tracking and label links; and the order
//! page's shipping panel, where the merchant buys the label the payment froze and voids it
//! before pickup.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, when, with_viewer};
use crate::{
    api::{BuyLabel, VoidShipment, get_order_shipping, list_shipments},
    backend::{ShipmentView, Viewer},
};

/// Status tabs, in the order a parcel moves.
const STATUSES: [(&str, &str); 10] = [
    ("", "All"),
    ("purchasing", "Purchasing"),
    ("pre_transit", "Label created"),
    ("in_transit", "In transit"),
    ("out_for_delivery", "Out for delivery"),
    ("delivered", "Delivered"),
    ("failure", "Exception"),
    ("returned", "Returned"),
    ("cancelled", "Voided"),
    ("purchase_failed", "Purchase failed"),
];

/// Shipments page.
#[component]
pub fn Shipments() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => view! { <ShipmentList store_name=store.name/> }.into_any(),
    })
}

#[component]
fn ShipmentList(store_name: String) -> impl IntoView {
    let query = use_query_map();
    let void = ServerAction::<VoidShipment>::new();
    let filter = move || {
        let q = query.get();
        (
            q.get("status").filter(|s| !s.is_empty()),
            q.get("after").filter(|s| !s.is_empty()),
        )
    };
    let page = Resource::new(
        move || (filter(), void.version().get()),
        |((status, after), _)| list_shipments(status, after),
    );
    view! {
        <section class="panel">
            <h1>"Shipments"</h1>
            <p class="muted">"Labels bought for " {store_name} ", oldest first."</p>
            {outcomes("shipping-result", move || vec![void.value().get()])}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let current = filter().0.unwrap_or_default();
                    page.get()
                        .map(move |result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(page) => {
                                let count = |status: &str| -> i64 {
                                    if status.is_empty() {
                                        page.counts.iter().map(|(_, n)| n).sum()
                                    } else {
                                        page.counts
                                            .iter()
                                            .find(|(s, _)| s == status)
                                            .map_or(0, |(_, n)| *n)
                                    }
                                };
                                let tabs = STATUSES
                                    .iter()
                                    .map(|(value, label)| {
                                        let href = if value.is_empty() {
                                            "/shipments".to_owned()
                                        } else {
                                            format!("/shipments?status={value}")
                                        };
                                        let class = if *value == current { "tab active" } else { "tab" };
                                        let n = count(value);
                                        view! {
                                            <a class=class href=href data-status=*value>
                                                {*label} " " <span class="count">{n}</span>
                                            </a>
                                        }
                                    })
                                    .collect_view();
                                let next = page.next_after.clone().map(|after| {
                                    format!("/shipments?status={current}&after={after}")
                                });
                                let body = if page.rows.is_empty() {
                                    view! { <p class="muted" id="no-shipments">"No shipments."</p> }
                                        .into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap">
                                            <table class="table" id="shipments">
                                                <thead>
                                                    <tr>
                                                        <th>"Created"</th>
                                                        <th>"Order"</th>
                                                        <th>"Carrier"</th>
                                                        <th>"Status"</th>
                                                        <th>"Tracking"</th>
                                                        <th>"Label cost"</th>
                                                        <th></th>
                                                    </tr>
                                                </thead>
                                                <tbody>
                                                    {page
                                                        .rows
                                                        .into_iter()
                                                        .map(|s| view! { <ShipmentRow shipment=s void=void/> })
                                                        .collect_view()}
                                                </tbody>
                                            </table>
                                        </div>
                                    }
                                        .into_any()
                                };
                                view! {
                                    <nav class="tabs" id="shipment-filters">{tabs}</nav>
                                    {body}
                                    {next.map(|href| view! { <a class="btn" href=href>"Next page"</a> })}
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ShipmentRow(shipment: ShipmentView, void: ServerAction<VoidShipment>) -> impl IntoView {
    let order_href = format!("/orders/{}", shipment.order_id);
    let status = shipment.status.clone();
    let id = shipment.id.clone();
    view! {
        <tr data-shipment-id=id data-status=status.clone()>
            <td>{when(shipment.created_at.clone())}</td>
            <td>
                <a href=order_href>
                    <code>{shipment.order_id.clone()}</code>
                </a>
            </td>
            <td>{shipment.provider.clone()} " " <span class="muted">{shipment.service.clone()}</span></td>
            <td>
                <span class=format!("status-chip {status}") data-testid="shipment-status">{status.clone()}</span>
            </td>
            <td data-testid="tracking-number">{shipment.tracking_number.clone().unwrap_or_default()}</td>
            <td>{shipment.amount.clone()}</td>
            <td>
                <LabelLinks shipment=shipment.clone()/>
                <VoidForm shipment=shipment void=void/>
            </td>
        </tr>
    }
}

/// Links to the label documents, when there is a label to print.
#[component]
fn LabelLinks(shipment: ShipmentView) -> impl IntoView {
    shipment.has_label.then(|| {
        let pdf = format!("/console/shipments/{}/label", shipment.id);
        let zpl = format!("/console/shipments/{}/label?format=zpl", shipment.id);
        view! {
            <a class="btn small" href=pdf target="_blank" rel="noopener" data-testid="label-pdf">
                "Label (PDF)"
            </a>
            " "
            <a class="btn small secondary" href=zpl target="_blank" rel="noopener">
                "ZPL"
            </a>
        }
    })
}

/// Voiding a label refunds it at the carrier; confirmed with a checkbox, like refunds.
#[component]
fn VoidForm(shipment: ShipmentView, void: ServerAction<VoidShipment>) -> impl IntoView {
    shipment.voidable.then(|| {
        let deadline = shipment
            .void_deadline
            .map(|d| format!("until {} ({})", d.text, d.exact))
            .unwrap_or_default();
        view! {
            <ActionForm action=void attr:class="inline void-form">
                <input type="hidden" name="shipment_id" value=shipment.id.clone()/>
                <label title=deadline>
                    <input type="checkbox" name="confirm" value="yes" required/>
                    " confirm"
                </label>
                <button type="submit" class="btn small danger">"Void label"</button>
            </ActionForm>
        }
    })
}

/// The order page's shipping panel: its shipments with tracking, and the purchase form while
/// the order has no label.
#[component]
pub fn OrderShipping(order_id: Signal<String>) -> impl IntoView {
    let buy = ServerAction::<BuyLabel>::new();
    let void = ServerAction::<VoidShipment>::new();
    let shipments = Resource::new(
        move || (order_id.get(), buy.version().get(), void.version().get()),
        |(id, _, _)| get_order_shipping(id),
    );
    view! {
        <section class="panel" id="shipping">
            <h2>"Shipping"</h2>
            {outcomes("shipping-result", move || vec![buy.value().get(), void.value().get()])}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let order_id = order_id.get();
                    shipments
                        .get()
                        .map(move |result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(list) => {
                                // A label is bought once per order; a failed or voided purchase
                                // may be tried again.
                                let open = list
                                    .iter()
                                    .any(|s| !matches!(s.status.as_str(), "purchase_failed" | "cancelled"));
                                view! {
                                    {(!open).then(|| view! { <BuyForm order_id=order_id.clone() buy=buy/> })}
                                    {list
                                        .into_iter()
                                        .map(|s| view! { <ShipmentCard shipment=s void=void/> })
                                        .collect_view()}
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn BuyForm(order_id: String, buy: ServerAction<BuyLabel>) -> impl IntoView {
    view! {
        <ActionForm action=buy attr:class="inline buy-form">
            <input type="hidden" name="order_id" value=order_id/>
            <label>
                <input type="checkbox" name="accept_price_change" value="yes"/>
                " accept the carrier's current price if it changed"
            </label>
            <button type="submit" class="btn">"Buy label"</button>
        </ActionForm>
    }
}

#[component]
fn ShipmentCard(shipment: ShipmentView, void: ServerAction<VoidShipment>) -> impl IntoView {
    let status = shipment.status.clone();
    view! {
        <article class="card shipment" data-shipment-id=shipment.id.clone() data-status=status.clone()>
            <div class="panel-head">
                <h3>{shipment.provider.clone()} " " {shipment.service.clone()}</h3>
                <span class=format!("status-chip {status}") data-testid="shipment-status">{status.clone()}</span>
            </div>
            <dl class="facts">
                <dt>"Tracking number"</dt>
                <dd data-testid="tracking-number">{shipment.tracking_number.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Label cost"</dt>
                <dd>{shipment.amount.clone()}</dd>
                <dt>"Packages"</dt>
                <dd>{shipment.packages.join("; ")}</dd>
                {shipment.failure_code.clone().map(|code| view! { <dt>"Failure"</dt><dd class="error">{code}</dd> })}
            </dl>
            <p>
                <LabelLinks shipment=shipment.clone()/>
                <VoidForm shipment=shipment.clone() void=void/>
            </p>
            <h4>"Tracking"</h4>
            {if shipment.tracking.is_empty() {
                view! { <p class="muted">"No carrier events yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="timeline" data-testid="tracking">
                        {shipment
                            .tracking
                            .into_iter()
                            .map(|t| {
                                let status = t.status.clone();
                                view! {
                                    <li data-status=status>
                                        {when(t.at)}
                                        " " <strong>{t.status}</strong>
                                        " " <span>{t.description}</span>
                                        {t.location.map(|l| view! { " " <span class="muted">{l}</span> })}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                }
                    .into_any()
            }}
            <details>
                <summary>"History"</summary>
                <ol class="timeline">
                    {shipment
                        .history
                        .into_iter()
                        .map(|h| {
                            let kind = h.kind.clone();
                            view! {
                                <li data-kind=kind>
                                    {when(h.at)}
                                    " " <strong>{h.kind}</strong>
                                    " " <span>{h.detail}</span>
                                    " " <span class="muted">"(" {h.actor} ")"</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </details>
        </article>
    }
}
