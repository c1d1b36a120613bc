//! `/reconciliation`: whether the store's ledger agrees with its providers. Runs with their
//! match rates (a bar per run: matched against exceptions), a run's exceptions by kind with
//! acknowledge/resolve, its CSV; platform admins also see every store's runs.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, when, with_viewer};
use crate::{
    api::{
        ResolveReconciliationItem, SaveReconciliationSchedule, StartReconciliation,
        get_reconciliation_page,
    },
    backend::{ReconciliationItemRow, ReconciliationPageView, ReconciliationRunRow, Viewer},
};

/// Reconciliation page.
#[component]
pub fn Reconciliation() -> impl IntoView {
    with_viewer(|_viewer: Viewer| view! { <ReconciliationPanels/> }.into_any())
}

#[component]
fn ReconciliationPanels() -> impl IntoView {
    let query = use_query_map();
    let start = ServerAction::<StartReconciliation>::new();
    let resolve = ServerAction::<ResolveReconciliationItem>::new();
    let schedule = ServerAction::<SaveReconciliationSchedule>::new();
    let page = Resource::new(
        move || {
            (
                query.get().get("run"),
                start.version().get(),
                resolve.version().get(),
                schedule.version().get(),
            )
        },
        |(run, _, _, _)| get_reconciliation_page(run),
    );
    let outcome = outcomes("reconciliation-result", move || {
        vec![
            start.value().get(),
            resolve.value().get(),
            schedule.value().get(),
        ]
    });
    view! {
        <section class="panel">
            <h1>"Reconciliation"</h1>
            <p class="muted">
                "Every payment and shipping label of a period compared with what its provider or carrier says happened. Runs work in the background; reload to follow one."
            </p>
            {outcome}
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => view! { <ReconciliationView page=page start=start resolve=resolve schedule=schedule/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

fn runs_table(
    id: &'static str,
    runs: Vec<ReconciliationRunRow>,
    with_store: bool,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" id=id>
                <thead>
                    <tr>
                        {with_store.then(|| view! { <th>"Store"</th> })}
                        <th>"Period"</th>
                        <th>"Status"</th>
                        <th>"Matched"</th>
                        <th>"Exceptions"</th>
                        <th>"Match rate"</th>
                        <th>"Asked"</th>
                    </tr>
                </thead>
                <tbody>
                    {runs
                        .into_iter()
                        .map(|r| {
                            let href = format!("/reconciliation?run={}", r.id);
                            let matched_share = match r.matched + r.exceptions {
                                0 => 0,
                                total => r.matched * 100 / total,
                            };
                            view! {
                                <tr data-run-id=r.id.clone() data-status=r.status.clone()>
                                    {with_store.then(|| view! { <td>{r.store.clone()} " " <span class="muted">{r.environment.clone()}</span></td> })}
                                    <td><a href=href>{r.period.clone()}</a></td>
                                    <td>
                                        <span class=format!("status-chip {}", r.status)>{r.status.clone()}</span>
                                        {(r.status == "running").then(|| view! { " " <span class="muted">{r.phase.clone()}</span> })}
                                        {r.last_error.clone().map(|e| view! { <br/><span class="muted" title=e.clone()>"last attempt stopped"</span> })}
                                    </td>
                                    <td data-testid="matched">{r.matched}</td>
                                    <td data-testid="exceptions">{r.exceptions}</td>
                                    <td>
                                        <span data-testid="match-rate">{r.match_rate.clone().map(|m| format!("{m} %")).unwrap_or_else(|| "—".to_owned())}</span>
                                        // Matched against exceptions, as a bar.
                                        <div class="bar" title=format!("{} matched, {} exceptions", r.matched, r.exceptions)>
                                            <span class="bar-ok" style=format!("width: {matched_share}%")></span>
                                        </div>
                                    </td>
                                    <td>{when(r.created_at.clone())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn item_view(
    item: ReconciliationItemRow,
    resolvable: bool,
    resolve: ServerAction<ResolveReconciliationItem>,
) -> impl IntoView {
    let item_id = item.id.clone();
    // Only a payment is settled from its provider.
    let settles = item.subject == "payment";
    let order = item.order_id.clone().map(|o| {
        let href = format!("/orders/{o}");
        view! { <a href=href>{o}</a> }
    });
    view! {
        <tr data-item-id=item.id.clone() data-kind=item.kind.clone() data-resolution=item.resolution.clone()>
            <td>{order} " " {item.subject.clone()} " " <code>{item.provider_payment_id.clone().unwrap_or_default()}</code></td>
            <td>{item.difference.clone()}</td>
            <td class="small">{item.ours.clone()}</td>
            <td class="small">{item.theirs.clone()}</td>
            <td>
                <span class=format!("status-chip {}", item.resolution)>{item.resolution.clone()}</span>
                {item.note.clone().map(|n| view! { <br/><span class="muted">{n}</span> })}
            </td>
            <td>
                {resolvable.then(|| view! {
                    <ActionForm action=resolve attr:class="inline">
                        <input type="hidden" name="item_id" value=item_id.clone()/>
                        <select name="resolution" aria-label="Resolution">
                            <option value="acknowledged">"acknowledge"</option>
                            <option value="resolved">"resolve"</option>
                            {settles.then(|| view! { <option value="apply">"settle from the provider"</option> })}
                        </select>
                        " "
                        <input name="note" placeholder="What was found or done" aria-label="Note" required/>
                        " "
                        <button type="submit" class="btn small">"Save"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

#[component]
fn ReconciliationView(
    page: ReconciliationPageView,
    start: ServerAction<StartReconciliation>,
    resolve: ServerAction<ResolveReconciliationItem>,
    schedule: ServerAction<SaveReconciliationSchedule>,
) -> impl IntoView {
    let resolvable = page.resolvable;
    let daily = page.schedule.clone().map(|(daily_at, enabled)| {
        view! {
            <ActionForm action=schedule attr:class="inline" attr:id="reconciliation-schedule">
                <label>"Daily run of the previous day at " <input type="time" name="daily_at" value=daily_at required/> " UTC"</label>
                " "
                <label><input type="checkbox" name="enabled" value="on" checked=enabled/> " on"</label>
                " "
                <button type="submit" class="btn small secondary">"Save"</button>
            </ActionForm>
        }
    });
    let selected = page.selected.clone().map(|run| {
        let csv = format!("/console/reconciliation/runs/{}/items.csv", run.id);
        let mut kinds: Vec<(String, Vec<ReconciliationItemRow>)> = Vec::new();
        for item in page.items.clone() {
            match kinds.last_mut() {
                Some((kind, items)) if *kind == item.kind => items.push(item),
                _ => kinds.push((item.kind.clone(), vec![item])),
            }
        }
        view! {
            <section class="panel" id="reconciliation-run" data-run-id=run.id.clone()>
                <h2>"Run " {run.period.clone()} " · " {run.store.clone()}</h2>
                <p>
                    <span data-testid="run-status">{run.status.clone()}</span>
                    " · " {run.examined} " examined · " {run.matched} " matched · "
                    {run.exceptions} " exceptions · match rate "
                    {run.match_rate.clone().map(|m| format!("{m} %")).unwrap_or_else(|| "—".to_owned())}
                    " "
                    <a class="btn small secondary" href=csv download rel="external">"CSV"</a>
                </p>
                {if kinds.is_empty() {
                    view! { <p class="muted" id="no-exceptions">"No exceptions: the ledger agrees with the providers."</p> }.into_any()
                } else {
                    kinds
                        .into_iter()
                        .map(|(kind, items)| {
                            view! {
                                <h3 data-kind-heading=kind.clone()>{kind.replace('_', " ")} " (" {items.len()} ")"</h3>
                                <div class="table-wrap">
                                    <table class="table">
                                        <thead>
                                            <tr>
                                                <th>"Order / provider payment"</th>
                                                <th>"Difference"</th>
                                                <th>"Ours"</th>
                                                <th>"Provider"</th>
                                                <th>"Resolution"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {items.into_iter().map(|i| item_view(i, resolvable, resolve)).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
            </section>
        }
    });
    let platform = (!page.platform_runs.is_empty()).then(|| {
        view! {
            <section class="panel" id="platform-reconciliation">
                <h2>"All stores"</h2>
                {runs_table("platform-runs", page.platform_runs.clone(), true)}
            </section>
        }
    });
    view! {
        {selected}
        <section class="panel">
            <h2>"This store's runs"</h2>
            <ActionForm action=start attr:class="inline" attr:id="start-reconciliation">
                <label>"From " <input type="date" name="from" value=page.default_day.clone()/></label>
                " "
                <label>"To " <input type="date" name="to" value=page.default_day.clone()/></label>
                " "
                <button type="submit" class="btn small">"Reconcile"</button>
            </ActionForm>
            {daily}
            {if page.runs.is_empty() {
                view! { <p class="muted">"No runs yet."</p> }.into_any()
            } else {
                runs_table("store-runs", page.runs.clone(), false).into_any()
            }}
        </section>
        {platform}
    }
}
