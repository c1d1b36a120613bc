//! `/tax`: what the store collected per jurisdiction in a period, its exports (download again
//! byte for byte), and editors for its jurisdiction rates and nexus.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, when, with_viewer};
use crate::{
    api::{
        AddTaxExemption, RevokeTaxExemption, SaveTaxNexus, SaveTaxRules, SaveTaxSettings,
        get_tax_page, list_tax_exemptions,
    },
    backend::{TaxPageView, Viewer},
};

/// Tax page.
#[component]
pub fn Tax() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => view! {
            <TaxPanels store_name=store.name/>
            <Exemptions/>
        }
        .into_any(),
    })
}

/// A customer's exemption certificates: look one up (`?customer=`), add, revoke.
#[component]
fn Exemptions() -> impl IntoView {
    let query = use_query_map();
    let add = ServerAction::<AddTaxExemption>::new();
    let revoke = ServerAction::<RevokeTaxExemption>::new();
    let customer = move || query.get().get("customer").filter(|c| !c.trim().is_empty());
    let list = Resource::new(
        move || (customer(), add.version().get(), revoke.version().get()),
        |(customer, _, _)| async move {
            match customer {
                None => Ok(None),
                Some(c) => list_tax_exemptions(c).await.map(Some),
            }
        },
    );
    let outcome = outcomes("exemption-result", move || {
        vec![add.value().get(), revoke.value().get()]
    });
    view! {
        <section class="panel" id="tax-exemptions">
            <h2>"Exemption certificates"</h2>
            <form method="get" action="/tax" class="inline">
                <label>"Customer " <input name="customer" value=customer().unwrap_or_default() size="38"/></label>
                " "
                <button type="submit" class="btn small">"Look up"</button>
            </form>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    list.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(None) => view! { <p class="muted">"Look up a customer to see their certificates."</p> }.into_any(),
                            Ok(Some(rows)) => {
                                let customer_id = customer().unwrap_or_default();
                                view! {
                                    <ul class="exemptions">
                                        {rows
                                            .into_iter()
                                            .map(|e| {
                                                let customer_id = customer_id.clone();
                                                view! {
                                                    <li data-certificate=e.certificate_id.clone()>
                                                        <code>{e.certificate_id.clone()}</code> " "
                                                        {e.jurisdictions.join(", ")} " "
                                                        <span class="muted">{e.expires_on.map(|d| format!("until {d}")).unwrap_or_default()}</span>
                                                        " "
                                                        <ActionForm action=revoke attr:class="inline">
                                                            <input type="hidden" name="customer_id" value=customer_id/>
                                                            <input type="hidden" name="exemption_id" value=e.id/>
                                                            <button type="submit" class="btn small danger">"Revoke"</button>
                                                        </ActionForm>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                    <ActionForm action=add attr:class="inline">
                                        <input type="hidden" name="customer_id" value=customer_id.clone()/>
                                        <label>"Certificate " <input name="certificate_id" required/></label>
                                        " "
                                        <label>"Jurisdictions " <input name="jurisdictions" placeholder="US-CA, US-NY" required/></label>
                                        " "
                                        <label>"Expires " <input type="date" name="expires_on"/></label>
                                        " "
                                        <button type="submit" class="btn small">"Add certificate"</button>
                                    </ActionForm>
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
fn TaxPanels(store_name: String) -> impl IntoView {
    let query = use_query_map();
    let save_rules = ServerAction::<SaveTaxRules>::new();
    let save_nexus = ServerAction::<SaveTaxNexus>::new();
    let save_settings = ServerAction::<SaveTaxSettings>::new();
    let page = Resource::new(
        move || {
            let q = query.get();
            (
                q.get("from"),
                q.get("to"),
                save_rules.version().get(),
                save_nexus.version().get(),
                save_settings.version().get(),
            )
        },
        |(from, to, _, _, _)| get_tax_page(from, to),
    );
    let outcome = outcomes("tax-result", move || {
        vec![
            save_rules.value().get(),
            save_nexus.value().get(),
            save_settings.value().get(),
        ]
    });
    view! {
        <section class="panel">
            <h1>"Tax"</h1>
            <p class="muted">
                "Tax " {store_name}
                " committed at captures and reversed at refunds, per jurisdiction."
            </p>
            {outcome}
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => {
                            view! {
                                <TaxView page=page save_rules=save_rules save_nexus=save_nexus save_settings=save_settings/>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn TaxView(
    page: TaxPageView,
    save_rules: ServerAction<SaveTaxRules>,
    save_nexus: ServerAction<SaveTaxNexus>,
    save_settings: ServerAction<SaveTaxSettings>,
) -> impl IntoView {
    let period = format!("from={}&to={}", page.from, page.to);
    // Files, not pages: `download` and `rel="external"` keep the router's hands off them.
    let export = move |shape: &str| format!("/console/tax/export?{period}&{shape}");
    view! {
        <section class="panel" id="tax-report-panel">
            <h2>"Report"</h2>
            <form method="get" action="/tax" class="inline" id="tax-period">
                <label>"From " <input type="date" name="from" value=page.from.clone()/></label>
                " "
                <label>"To " <input type="date" name="to" value=page.to.clone()/></label>
                " "
                <button type="submit" class="btn small">"Show"</button>
            </form>
            {if page.report.is_empty() {
                view! { <p class="muted" id="no-tax">"No tax committed in this period."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" id="tax-report">
                            <thead>
                                <tr>
                                    <th>"Jurisdiction"</th>
                                    <th>"Taxable"</th>
                                    <th>"Exempt"</th>
                                    <th>"Collected"</th>
                                    <th>"Reversed"</th>
                                    <th>"Net"</th>
                                    <th>"Commits"</th>
                                    <th>"Reversals"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {page
                                    .report
                                    .into_iter()
                                    .map(|r| {
                                        let key = r.jurisdiction.clone();
                                        view! {
                                            <tr data-jurisdiction=key>
                                                <td><code>{r.jurisdiction}</code></td>
                                                <td>{r.taxable}</td>
                                                <td>{r.exempt}</td>
                                                <td>{r.collected}</td>
                                                <td>{r.reversed}</td>
                                                <td data-testid="net">{r.net}</td>
                                                <td>{r.commits}</td>
                                                <td>{r.reversals}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            <p>
                <a class="btn small" href=export("group_by=jurisdiction") id="export-jurisdiction" download rel="external">
                    "Export CSV by jurisdiction"
                </a>
                " "
                <a class="btn small secondary" href=export("group_by=transaction") download rel="external">
                    "CSV by transaction line"
                </a>
                " "
                <a class="btn small secondary" href=export("group_by=jurisdiction&format=json") download rel="external">
                    "JSON"
                </a>
            </p>
        </section>
        <section class="panel">
            <h2>"Exports"</h2>
            {if page.exports.is_empty() {
                view! { <p class="muted">"No exports yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" id="tax-exports">
                            <thead>
                                <tr>
                                    <th>"Asked"</th>
                                    <th>"Period"</th>
                                    <th>"Shape"</th>
                                    <th>"Status"</th>
                                    <th>"Rows"</th>
                                    <th>"SHA-256"</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {page
                                    .exports
                                    .into_iter()
                                    .map(|e| {
                                        let href = format!("/console/tax/exports/{}/download", e.id);
                                        let sha = e.sha256.clone().unwrap_or_default();
                                        let short = sha.chars().take(12).collect::<String>();
                                        view! {
                                            <tr data-export-id=e.id.clone() data-status=e.status.clone()>
                                                <td>{when(e.created_at)} <br/><span class="muted">{e.actor}</span></td>
                                                <td>{e.period}</td>
                                                <td>{e.shape}</td>
                                                <td>
                                                    <span class=format!("status-chip {}", e.status)>{e.status.clone()}</span>
                                                    {(e.status == "running")
                                                        .then_some(e.percent)
                                                        .flatten()
                                                        .map(|p| view! { " " <span class="muted" data-testid="progress">{format!("{p} %")}</span> })}
                                                </td>
                                                <td data-testid="rows">{e.rows.map(|r| r.to_string()).unwrap_or_default()}</td>
                                                <td><code title=sha>{short}</code></td>
                                                <td><a class="btn small" href=href data-testid="download" download rel="external">"Download"</a></td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
        <section class="panel" id="tax-engine">
            <h2>"Engine"</h2>
            <p class="muted">
                "Quotes are taxed with the store's rates (rules) or by a tax service whose credentials the store keeps for this environment. When the service cannot answer, a quote is refused (503 tax_unavailable) or taxed with the store's rates, its lines marked fallback."
            </p>
            <ActionForm action=save_settings attr:class="inline">
                <label>
                    "Engine "
                    <select name="engine">
                        {page
                            .engines
                            .iter()
                            .map(|e| {
                                view! { <option value=e.clone() selected=*e == page.engine>{e.clone()}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                " "
                <label>
                    "When it cannot answer "
                    <select name="fallback">
                        <option value="refuse" selected=page.fallback == "refuse">"refuse the quote"</option>
                        <option value="rules" selected=page.fallback == "rules">"use the store's rates"</option>
                    </select>
                </label>
                " "
                <button type="submit" class="btn small">"Save engine"</button>
            </ActionForm>
        </section>
        <section class="panel" id="tax-rates">
            <h2>"Rates"</h2>
            <p class="muted">
                "Every jurisdiction whose area holds the destination adds its rate; within one, a tax code's own rate beats its * rate. Fields as in the API's PUT /api/v1/admin/tax/rates."
            </p>
            <ActionForm action=save_rules>
                <textarea name="rules" rows="14" class="code" aria-label="Rates (JSON)">{page.rules_json}</textarea>
                <button type="submit" class="btn">"Save rates"</button>
            </ActionForm>
        </section>
        <section class="panel" id="tax-nexus">
            <h2>"Nexus"</h2>
            <p class="muted">"Where the store collects tax, from which day; anywhere else its sales carry no tax."</p>
            <ActionForm action=save_nexus>
                <textarea name="nexus" rows="8" class="code" aria-label="Nexus (JSON)">{page.nexus_json}</textarea>
                <button type="submit" class="btn">"Save nexus"</button>
            </ActionForm>
        </section>
    }
}
