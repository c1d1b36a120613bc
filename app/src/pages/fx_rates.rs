//! `/platform/fx-rates` (platform admins): importing a published rates file (the ECB's
//! reference-rate CSV or a JSON feed), each pair's newest rate with its age and a stale mark,
//! and the stored history with filters and older pages.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, for_platform_admins, when};
use crate::{
    api::{ImportFxRates, get_fx_rates_page},
    backend::{FieldError, FxImportOutcome, FxLatestRow, FxRateRow, FxRatesPageView},
};

/// The page's own address: its filter form and paging links come back to it.
const PAGE: &str = "/platform/fx-rates";

/// The import form's fields, each of which shows its own refusal.
const IMPORT_FIELDS: [&str; 3] = ["format", "source", "data"];

/// FX rates page.
#[component]
pub fn FxRates() -> impl IntoView {
    for_platform_admins(
        || view! { <FxPanels/> },
        "Only platform admins manage exchange rates.",
    )
}

/// A refusal shown beside the field it is about.
fn beside(refused: Option<&FieldError>, field: &'static str) -> Option<impl IntoView + use<>> {
    refused.filter(|r| r.field == field).map(|r| {
        view! {
            <span class="error" role="alert" data-testid=format!("error-{field}")>
                {r.message.clone()}
            </span>
        }
    })
}

#[component]
fn FxPanels() -> impl IntoView {
    let query = use_query_map();
    let import = ServerAction::<ImportFxRates>::new();
    let page = Resource::new(
        move || {
            let q = query.get();
            (
                q.get("base"),
                q.get("quote"),
                q.get("before"),
                import.version().get(),
            )
        },
        |(base, quote, before, _)| get_fx_rates_page(base, quote, before),
    );
    let refused = move || match import.value().get() {
        Some(Ok(FxImportOutcome::Refused(refused))) => Some(refused),
        _ => None,
    };
    let outcome = move || {
        match import.value().get()? {
        Ok(FxImportOutcome::Imported(summary)) => {
            let newest = summary
                .latest_as_of
                .map(|t| format!("; newest rate {t}"))
                .unwrap_or_default();
            let skipped = (!summary.skipped.is_empty()).then(|| {
                view! {
                    <ul class="muted" data-testid="skipped">
                        {summary
                            .skipped
                            .into_iter()
                            .map(|line| view! { <li>"skipped " {line}</li> })
                            .collect_view()}
                    </ul>
                }
            });
            Some(
                view! {
                    <div role="status">
                        <p class="ok-note" data-testid="import-result">
                            {format!(
                                "{} imported, {} already known{newest}",
                                summary.imported,
                                summary.already_known,
                            )}
                        </p>
                        {skipped}
                    </div>
                }
                .into_any(),
            )
        }
        // Shown beside its field; only one the form does not have is shown here.
        Ok(FxImportOutcome::Refused(r)) if IMPORT_FIELDS.contains(&r.field.as_str()) => None,
        Ok(FxImportOutcome::Refused(r)) => Some(
            view! {
                <p class="error" role="alert" data-testid="import-result">
                    {format!("{}: {}", r.field, r.message)}
                </p>
            }
            .into_any(),
        ),
        Err(e) => Some(
            view! { <p class="error" role="alert" data-testid="import-result">{error_text(&e)}</p> }
                .into_any(),
        ),
    }
    };
    view! {
        <section class="panel" id="fx-import">
            <h1>"FX rates"</h1>
            <p class="muted">
                "Exchange rates price orders in a store's presentment currencies. Import the ECB's daily eurofxref.csv (or its history file), or a JSON feed; importing the same file again stores nothing new."
            </p>
            <ActionForm action=import attr:class="form" attr:id="fx-import-form">
                <label>
                    "Format"
                    <select name="format">
                        <option value="ecb_csv">"ECB CSV (eurofxref)"</option>
                        <option value="json">"JSON feed"</option>
                    </select>
                    {move || beside(refused().as_ref(), "format")}
                </label>
                <label>
                    "Source"
                    <input type="text" name="source" maxlength="64" placeholder="ecb"/>
                    <span class="muted">"Optional for the ECB's CSV (recorded as ecb); names a JSON feed."</span>
                    {move || beside(refused().as_ref(), "source")}
                </label>
                <label>
                    "File text"
                    <textarea
                        name="data"
                        rows="8"
                        class="code"
                        required
                        placeholder="Date, USD, JPY, …\n03 December 2026, 1.0512, 158.42, …"
                    ></textarea>
                    {move || beside(refused().as_ref(), "data")}
                </label>
                <div>
                    <button type="submit" class="btn primary">"Import"</button>
                </div>
            </ActionForm>
            {outcome}
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => {
                            view! {
                                {latest_panel(page.latest.clone())}
                                {history_panel(page)}
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

fn latest_panel(rows: Vec<FxLatestRow>) -> impl IntoView {
    let body = if rows.is_empty() {
        view! {
            <p class="muted" id="no-rates">
                "No rates yet: import the ECB's eurofxref.csv (or a JSON feed) above."
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th>"Source"</th>
                            <th>"Pair"</th>
                            <th>"Rate"</th>
                            <th>"As of"</th>
                            <th>"Age"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|r| {
                                let pair = format!("{}/{}", r.base, r.quote);
                                let (source, stale) = (r.source.clone(), r.stale.to_string());
                                view! {
                                    <tr data-source=source data-pair=pair data-stale=stale>
                                        <td>{r.source}</td>
                                        <td data-testid="pair">{format!("{} → {}", r.base, r.quote)}</td>
                                        <td data-testid="rate">{r.rate}</td>
                                        <td>{r.as_of}</td>
                                        <td>
                                            <span data-testid="age">{r.age}</span>
                                            {r
                                                .stale
                                                .then(|| {
                                                    view! {
                                                        " "
                                                        <span
                                                            class="badge bad"
                                                            data-testid="stale"
                                                            title="Older than four days: stores that keep the default maximum rate age refuse it"
                                                        >
                                                            "stale"
                                                        </span>
                                                    }
                                                })}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="panel" id="fx-latest">
            <h2>"Latest rates"</h2>
            <p class="muted">"Each source's newest rate of each pair, in units of the quote per unit of the base."</p>
            {body}
        </section>
    }
}

fn history_panel(page: FxRatesPageView) -> impl IntoView {
    let filtered = !page.base.is_empty() || !page.quote.is_empty();
    let refused = page.filter_error.clone();
    let link = |before: Option<&str>| {
        let mut params = Vec::new();
        for (name, value) in [("base", page.base.as_str()), ("quote", page.quote.as_str())] {
            if !value.is_empty() {
                params.push(format!("{name}={value}"));
            }
        }
        if let Some(before) = before {
            params.push(format!("before={before}"));
        }
        if params.is_empty() {
            PAGE.to_owned()
        } else {
            format!("{PAGE}?{}", params.join("&"))
        }
    };
    let newest = page.paged.then(|| link(None));
    let older = page.next_before.as_deref().map(|b| link(Some(b)));
    let empty = if page.filter_error.is_some() {
        None
    } else if page.paged {
        Some("No older rates.".to_owned())
    } else if filtered {
        Some(
            "No rates match these filters: clear them, or import a file that has the pair."
                .to_owned(),
        )
    } else {
        Some("No rates yet: import the ECB's eurofxref.csv above.".to_owned())
    };
    let body = if page.history.is_empty() {
        empty
            .map(|text| view! { <p class="muted" id="no-history">{text}</p> })
            .into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th>"As of"</th>
                            <th>"Pair"</th>
                            <th>"Rate"</th>
                            <th>"Source"</th>
                            <th>"Imported"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {page.history.into_iter().map(history_row).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="panel" id="fx-history">
            <h2>"History"</h2>
            <form method="get" action=PAGE class="inline" id="fx-history-filter">
                <label>
                    "Base " <input name="base" value=page.base.clone() size="4" maxlength="3" placeholder="EUR"/>
                </label>
                {beside(refused.as_ref(), "base")}
                " "
                <label>
                    "Quote " <input name="quote" value=page.quote.clone() size="4" maxlength="3" placeholder="USD"/>
                </label>
                {beside(refused.as_ref(), "quote")}
                " "
                <button type="submit" class="btn small">"Filter"</button>
                {filtered.then(|| view! { <a class="btn small" href=PAGE>"Clear"</a> })}
            </form>
            {beside(refused.as_ref(), "before")}
            {body}
            <p>
                {newest.map(|href| view! { <a class="btn small" href=href id="fx-newest">"Newest"</a> })}
                " "
                {older.map(|href| view! { <a class="btn small" href=href id="fx-older">"Older"</a> })}
            </p>
        </section>
    }
}

fn history_row(r: FxRateRow) -> impl IntoView {
    let pair = format!("{}/{}", r.base, r.quote);
    view! {
        <tr data-rate-id=r.id data-pair=pair>
            <td>{r.as_of}</td>
            <td data-testid="pair">{format!("{} → {}", r.base, r.quote)}</td>
            <td data-testid="rate">{r.rate}</td>
            <td>{r.source}</td>
            <td>{when(r.imported_at)} <br/><span class="muted">{r.imported_by}</span></td>
        </tr>
    }
}
