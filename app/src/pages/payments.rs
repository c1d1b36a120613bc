//! Payments: the store dashboard (daily volume chart), the ledger with filters and keyset
//! pages, and the order page with intents, transactions, timeline and actions.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{ShortId, error_text, when, with_viewer};
use crate::{
    api::{PaymentAction, get_order_payments, list_payments},
    backend::{
        IntentView, LedgerFilter, LedgerView, OrderDetailView, Viewer, orders::OrderSummaryView,
    },
};

const STATUSES: [&str; 10] = [
    "requires_authorization",
    "pending",
    "unknown",
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
    "refunded",
    "voided",
    "failed",
];

/// `/payments`: the ledger. Filters travel in the query string, so the page works as a plain
/// GET form without JavaScript and every view is a shareable URL.
#[component]
pub fn Payments() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <Ledger store_name=store.name environment=viewer.environment/> }.into_any()
        }
    })
}

#[component]
fn Ledger(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.get();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        LedgerFilter {
            status: get("status"),
            from: get("from"),
            to: get("to"),
            min_amount: get("min_amount"),
            max_amount: get("max_amount"),
            after: get("after"),
        }
    };
    let page = Resource::new(filter, |f| {
        list_payments(f.status, f.from, f.to, f.min_amount, f.max_amount, f.after)
    });
    let current = filter();
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Payments"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">"Payments of " {store_name} ", newest first."</p>
            <form method="get" action="/payments" class="form inline-form" id="ledger-filter">
                <label>
                    "Status"
                    <select name="status">
                        <option value="">"any"</option>
                        {STATUSES
                            .iter()
                            .map(|s| {
                                let selected = current.status.as_deref() == Some(*s);
                                view! { <option value=*s selected=selected>{*s}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>"From" <input type="date" name="from" value=current.from.clone()/></label>
                <label>"To" <input type="date" name="to" value=current.to.clone()/></label>
                <label title="In the store's currency, such as 12.34">
                    "Min amount "
                    <input type="text" inputmode="decimal" name="min_amount" placeholder="12.34" value=current.min_amount.clone()/>
                </label>
                <label title="In the store's currency, such as 12.34">
                    "Max amount "
                    <input type="text" inputmode="decimal" name="max_amount" placeholder="12.34" value=current.max_amount.clone()/>
                </label>
                <button type="submit" class="btn primary">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(view) => view! { <LedgerTable view=view filter=filter()/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn LedgerTable(view: LedgerView, filter: LedgerFilter) -> impl IntoView {
    if view.rows.is_empty() {
        return view! { <p class="muted" id="ledger-empty">"No payments match."</p> }.into_any();
    }
    let next = view.next_after.map(|after| {
        let mut params = vec![("after", after)];
        for (k, v) in [
            ("status", filter.status),
            ("from", filter.from),
            ("to", filter.to),
            ("min_amount", filter.min_amount),
            ("max_amount", filter.max_amount),
        ] {
            if let Some(v) = v {
                params.push((k, v));
            }
        }
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("/payments?{}", query.join("&"))
    });
    view! {
        <table class="table" id="ledger">
            <thead>
                <tr>
                    <th>"Created"</th>
                    <th>"Status"</th>
                    <th>"Amount"</th>
                    <th>"Captured"</th>
                    <th>"Refunded"</th>
                    <th>"Method"</th>
                    <th>"Order"</th>
                </tr>
            </thead>
            <tbody>
                {view
                    .rows
                    .into_iter()
                    .map(|r| {
                        view! {
                            <tr data-payment-id=r.id.clone()>
                                <td>{when(r.created_at)}</td>
                                <td>
                                    <span class=format!("status-chip {}", r.status)>{r.status.clone()}</span>
                                </td>
                                <td>{r.amount}</td>
                                <td>{r.captured}</td>
                                <td>{r.refunded}</td>
                                <td>
                                    <code>{r.payment_method}</code>
                                </td>
                                <td>
                                    <a href=format!("/orders/{}", r.order_id)>"Open order"</a>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        {next.map(|href| view! { <a class="btn" id="next-page" href=href>"Next page"</a> })}
    }
    .into_any()
}

/// `/orders/:id`: the order's payments, their transactions, actions and the timeline.
#[component]
pub fn OrderDetail() -> impl IntoView {
    with_viewer(|_viewer: Viewer| view! { <OrderPayments/> })
}

#[component]
fn OrderPayments() -> impl IntoView {
    let params = use_params_map();
    let action = ServerAction::<PaymentAction>::new();
    let order_id = move || params.get().get("id").unwrap_or_default();
    let detail = Resource::new(
        move || (order_id(), action.version().get()),
        |(id, _)| get_order_payments(id),
    );
    let outcome = move || {
        action.value().get().map(|result| match result {
            Ok(msg) => view! { <p class="ok-note" role="status" data-testid="action-result">{msg}</p> }
                .into_any(),
            Err(e) => view! { <p class="error" role="alert" data-testid="action-result">{error_text(&e)}</p> }
                .into_any(),
        })
    };
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                detail
                    .get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(d) => view! { <OrderView detail=d action=action/> }.into_any(),
                    })
            }}
        </Suspense>
        {outcome}
        // Its own resource and Suspense beside the order's, never nested inside them: a
        // resource created while a Suspense resolves does not hydrate.
        <super::OrderShipping order_id=Signal::derive(order_id)/>
    }
}

#[component]
fn OrderView(detail: OrderDetailView, action: ServerAction<PaymentAction>) -> impl IntoView {
    let order_id = detail.order_id.clone();
    let summary = detail.summary.clone();
    view! {
        <section class="panel" id="order-summary">
            <div class="panel-head">
                <h1>"Order " <ShortId id=detail.order_id.clone() what="order id"/></h1>
                <span class="status-chip" data-testid="order-status">{detail.order_status.clone()}</span>
            </div>
            <p>
                <a href="/orders">"← Orders"</a>
            </p>
            {order_head(summary)}
        </section>
        {detail
            .intents
            .into_iter()
            .map(|intent| view! { <IntentPanel intent=intent order_id=order_id.clone() action=action/> })
            .collect_view()}
        <section class="panel" id="timeline">
            <h2>"Timeline"</h2>
            <ol class="timeline">
                {detail
                    .timeline
                    .into_iter()
                    .map(|t| {
                        let (subject, to) = (t.subject.clone(), t.to_status.clone());
                        view! {
                            <li data-subject=subject data-to=to>
                                {when(t.at)}
                                " "
                                <strong>{t.subject} ": " {t.from_status.unwrap_or_else(|| "—".into())} " → " {t.to_status}</strong>
                                " " <span>{t.reason}</span>
                                " " <span class="muted">"(" {t.source} ", " {t.actor} ")"</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </section>
    }
    .into_any()
}

#[component]
fn IntentPanel(
    intent: IntentView,
    order_id: String,
    action: ServerAction<PaymentAction>,
) -> impl IntoView {
    // One form per possible action; every form carries the same fresh key from the server, so
    // a resubmitted form acts once. A required checkbox is the confirmation (works without JS).
    let currency = intent.currency.clone();
    let form = |kind: &'static str, label: String, amount: Option<String>, reason: bool| {
        let order_id = order_id.clone();
        let intent_id = intent.id.clone();
        let currency = currency.clone();
        let key = format!("{}:{kind}", intent.action_key);
        view! {
            <ActionForm action=action attr:class="form inline-form action-form" attr:data-action=kind>
                <input type="hidden" name="order_id" value=order_id/>
                <input type="hidden" name="intent_id" value=intent_id/>
                <input type="hidden" name="action" value=kind/>
                <input type="hidden" name="idempotency_key" value=key/>
                {amount.map(|max| view! {
                    <label>{format!("Amount ({currency})")}
                        " "
                        <input type="text" inputmode="decimal" name="amount" placeholder=max.clone()
                            title=format!("At most {max}; empty for all of it")/>
                    </label>
                })}
                {reason.then(|| view! { <label>"Reason" <input type="text" name="reason" maxlength="500"/></label> })}
                <label class="confirm"><input type="checkbox" name="confirm" value="yes" required/> "Confirm"</label>
                <button type="submit" class="btn primary">{label}</button>
            </ActionForm>
        }
    };
    let capture = intent
        .capturable
        .clone()
        .map(|max| form("capture", "Capture".into(), Some(max), false));
    let void = intent
        .voidable
        .then(|| form("void", "Void".into(), None, false));
    let refund = intent
        .refundable
        .clone()
        .map(|max| form("refund", "Refund".into(), Some(max), true));
    let badge = super::disputes::dispute_badge(&intent.disputes);
    let disputes = (!intent.disputes.is_empty()).then(|| {
        view! {
            <h3>"Disputes"</h3>
            <super::disputes::DisputesTable rows=intent.disputes.clone() with_order=false/>
        }
    });
    view! {
        <section class="panel intent" data-intent-id=intent.id.clone()>
            <div class="panel-head">
                <h2>"Payment " <ShortId id=intent.id.clone() what="payment id"/></h2>
                <span class=format!("status-chip {}", intent.status) data-testid="intent-status">
                    {intent.status.clone()}
                </span>
                {badge}
            </div>
            <dl class="facts">
                <dt>"Amount"</dt>
                <dd>{intent.amount.clone()}</dd>
                <dt>"Authorized"</dt>
                <dd data-testid="authorized">{intent.authorized.clone()}</dd>
                <dt>"Captured"</dt>
                <dd data-testid="captured">{intent.captured.clone()}</dd>
                <dt>"Refunded"</dt>
                <dd data-testid="refunded">{intent.refunded.clone()}</dd>
                <dt>"Method"</dt>
                <dd><code>{intent.payment_method.clone()}</code></dd>
                {intent.settlement.clone().map(|s| view! {
                    <dt>"Settlement"</dt>
                    <dd data-testid="settlement">
                        {s.amount} " at " {s.rate} "; captured " {s.captured} ", refunded "
                        {s.refunded}
                    </dd>
                })}
            </dl>
            {capture}
            {void}
            {refund}
            <div class="table-wrap">
            <table class="table transactions">
                <thead>
                    <tr>
                        <th>"When"</th>
                        <th>"Operation"</th>
                        <th>"Amount"</th>
                        <th>"Status"</th>
                        <th>"Provider id"</th>
                        <th>"Note"</th>
                        <th>"By"</th>
                    </tr>
                </thead>
                <tbody>
                    {intent
                        .transactions
                        .into_iter()
                        .map(|t| {
                            let note = t.failure_code.or(t.reason).unwrap_or_default();
                            let (operation, status) = (t.operation.clone(), t.status.clone());
                            // The provider failed it after it had succeeded: the customer was
                            // not refunded, the merchant has the money back.
                            let label = match t.status.as_str() {
                                "reversed" => "reversed by the provider".to_owned(),
                                _ => t.status.clone(),
                            };
                            view! {
                                <tr data-operation=operation data-status=status>
                                    <td>{when(t.created_at)}</td>
                                    <td>{t.operation}</td>
                                    <td>
                                        {t.amount}
                                        {t.settlement.map(|s| view! {
                                            <span class="muted">" ≈ " {s}</span>
                                        })}
                                    </td>
                                    <td class=format!("txn-status {}", t.status)>{label}</td>
                                    <td>
                                        {t.provider_txn_id.map(|id| view! { <ShortId id=id what="provider id"/> })}
                                    </td>
                                    <td>{note}</td>
                                    <td>{t.actor}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            </div>
            {disputes}
        </section>
    }
    .into_any()
}

/// The customer, the address, when it was placed, the lines and the totals.
fn order_head(s: OrderSummaryView) -> AnyView {
    let customer = s
        .customer
        .clone()
        .unwrap_or_else(|| "A guest without a name".to_owned());
    let email = s
        .customer_email
        .clone()
        .map(|e| view! { <br/> <a href=format!("mailto:{e}")>{e.clone()}</a> });
    let address = s
        .address
        .iter()
        .map(|l| view! { {l.clone()} <br/> })
        .collect_view();
    let lines = s
        .lines
        .iter()
        .map(|l| {
            view! {
                <tr data-sku=l.sku.clone()>
                    <td>{l.name.clone()} <span class="muted small">" " {l.sku.clone()}</span></td>
                    <td class="num">{l.quantity}</td>
                    <td class="num">{l.unit_price.clone()}</td>
                    <td class="num">{l.amount.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let count = s.totals.len();
    let totals = s
        .totals
        .iter()
        .enumerate()
        .map(|(i, (label, amount))| {
            let class = (i + 1 == count && s.quoted).then_some("total");
            view! {
                <tr class=class data-total=label.to_lowercase()>
                    <th scope="row" colspan="3" class="num">{label.clone()}</th>
                    <td class="num">{amount.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let unquoted = (!s.quoted).then(|| {
        view! { <p class="muted small">"Not checked out yet: shipping and tax are added when the customer pays."</p> }
    });
    view! {
        <div class="order-head">
            <div>
                <h2 class="small-head">"Customer"</h2>
                <p data-testid="order-customer">
                    <a href=format!("/customers/{}", s.customer_id)>{customer}</a>
                    {email}
                </p>
            </div>
            <div>
                <h2 class="small-head">"Ship to"</h2>
                <address data-testid="order-address">{address}</address>
            </div>
            <div>
                <h2 class="small-head">"Placed"</h2>
                <p>{when(s.placed.clone())}</p>
            </div>
        </div>
        <div class="table-wrap">
            <table class="table" id="order-lines">
                <thead>
                    <tr>
                        <th scope="col">"Product"</th>
                        <th scope="col" class="num">"Qty"</th>
                        <th scope="col" class="num">"Unit price"</th>
                        <th scope="col" class="num">"Amount"</th>
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
                <tfoot>{totals}</tfoot>
            </table>
        </div>
        {unquoted}
    }
    .into_any()
}
