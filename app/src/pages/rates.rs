//! Settings → Shipping rates (`/settings/shipping`) and Settings → Tax rates
//! (`/settings/tax-rates`): each table edited as rows of inputs, saved as a whole (the API
//! replaces the table), with every refusal shown beside its input and the typed rows kept.
//! Works as a plain form; hydrated, it saves without reloading and can add blank rows.

use leptos::prelude::*;

use super::{error_text, settings::SettingsNav, with_viewer};
use crate::{
    api::{SaveShippingRates, SaveTaxRates, get_shipping_rates, get_tax_rates},
    backend::{
        FieldError, Viewer,
        rates::{RatesOutcome, RatesView, ShippingRowForm, TaxRowForm},
    },
};

/// Blank rows offered for adding, below the stored ones.
const BLANK_ROWS: usize = 2;

/// How an input takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Date,
    Check,
}

/// One column of an editor: the form field, its header, and an example for the placeholder.
struct Column {
    field: &'static str,
    label: &'static str,
    kind: Kind,
    example: &'static str,
}

const fn text(field: &'static str, label: &'static str, example: &'static str) -> Column {
    Column {
        field,
        label,
        kind: Kind::Text,
        example,
    }
}

/// A row type the editor can show: the value of each of its columns.
trait Row: Clone + Default + Send + Sync + 'static {
    fn value(&self, field: &str) -> String;
    fn checked(&self, field: &str) -> bool;
}

impl Row for ShippingRowForm {
    fn value(&self, field: &str) -> String {
        match field {
            "service" => self.service.clone(),
            "country" => self.country.clone(),
            "max_weight_grams" => self.max_weight_grams.clone(),
            "price" => self.price.clone(),
            "currency" => self.currency.clone(),
            _ => String::new(),
        }
    }

    fn checked(&self, _field: &str) -> bool {
        false
    }
}

impl Row for TaxRowForm {
    fn value(&self, field: &str) -> String {
        match field {
            "country" => self.country.clone(),
            "subdivision" => self.subdivision.clone(),
            "county" => self.county.clone(),
            "city" => self.city.clone(),
            "district" => self.district.clone(),
            "postal_codes" => self.postal_codes.clone(),
            "tax_code" => self.tax_code.clone(),
            "rate_percent" => self.rate_percent.clone(),
            "valid_from" => self.valid_from.clone(),
            "valid_to" => self.valid_to.clone(),
            _ => String::new(),
        }
    }

    fn checked(&self, field: &str) -> bool {
        field == "shipping_taxable" && self.shipping_taxable.is_some()
    }
}

const SHIPPING_COLUMNS: [Column; 5] = [
    text("service", "Service", "standard"),
    text("country", "Country", "US or *"),
    text("max_weight_grams", "Up to (g)", "1000"),
    text("price", "Price", "4.90"),
    text("currency", "Currency", ""),
];

const TAX_COLUMNS: [Column; 11] = [
    text("country", "Country", "US"),
    text("subdivision", "Subdivision", "CA"),
    text("county", "County", ""),
    text("city", "City", ""),
    text("district", "District", ""),
    text("postal_codes", "Postal codes", "900* 91001"),
    text("tax_code", "Tax code", "* or clothing"),
    text("rate_percent", "Rate (%)", "8.25"),
    Column {
        field: "shipping_taxable",
        label: "Taxes shipping",
        kind: Kind::Check,
        example: "",
    },
    Column {
        field: "valid_from",
        label: "From",
        kind: Kind::Date,
        example: "",
    },
    Column {
        field: "valid_to",
        label: "Until (excl.)",
        kind: Kind::Date,
        example: "",
    },
];

/// The refusal of row `row`'s `field`, if any, shown under its input.
fn refusal(errors: &[FieldError], row: usize, field: &str) -> Option<AnyView> {
    let name = format!("rows[{row}].{field}");
    errors.iter().find(|e| e.field == name).map(|e| {
        view! {
            <span class="error small" role="alert" id=format!("err-{row}-{field}")
                data-testid=format!("error-{row}-{field}")>
                {e.message.clone()}
            </span>
        }
        .into_any()
    })
}

fn cell<R: Row>(row: usize, r: &R, column: &Column, errors: &[FieldError]) -> AnyView {
    let name = format!("rows[{row}][{}]", column.field);
    let label = format!("Row {} {}", row + 1, column.label.to_lowercase());
    let error = refusal(errors, row, column.field);
    let invalid = error.is_some().then_some("true");
    let described = error
        .is_some()
        .then(|| format!("err-{row}-{}", column.field));
    let input = match column.kind {
        Kind::Check => view! {
            <input type="checkbox" name=name aria-label=label checked=r.checked(column.field)/>
        }
        .into_any(),
        Kind::Date => view! {
            <input type="date" name=name aria-label=label value=r.value(column.field)
                aria-invalid=invalid aria-describedby=described/>
        }
        .into_any(),
        Kind::Text => view! {
            <input type="text" name=name aria-label=label value=r.value(column.field)
                placeholder=column.example aria-invalid=invalid aria-describedby=described
                size="8"/>
        }
        .into_any(),
    };
    view! { <td>{input} {error}</td> }.into_any()
}

/// The editable table: the rows, `blanks` empty ones, a remove box per stored row.
fn editor<R: Row>(
    columns: &'static [Column],
    rows: Vec<R>,
    blanks: usize,
    errors: &[FieldError],
) -> impl IntoView {
    let head = columns
        .iter()
        .map(|c| view! { <th scope="col">{c.label}</th> })
        .collect_view();
    let filled = rows.len();
    let body = rows
        .into_iter()
        .chain(std::iter::repeat_with(R::default).take(blanks))
        .enumerate()
        .map(|(i, r)| {
            let cells = columns
                .iter()
                .map(|c| cell(i, &r, c, errors))
                .collect_view();
            let remove = (i < filled).then(|| {
                view! {
                    <input type="checkbox" name=format!("rows[{i}][remove]")
                        aria-label=format!("Remove row {}", i + 1)/>
                }
            });
            view! { <tr data-testid="rate-row">{cells} <td>{remove}</td></tr> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table editor">
                <thead><tr>{head} <th scope="col">"Remove"</th></tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

/// The stored rows read-only, for users the policy does not let change them.
fn read_only<R: Row>(columns: &'static [Column], rows: &[R]) -> impl IntoView {
    let head = columns
        .iter()
        .map(|c| view! { <th scope="col">{c.label}</th> })
        .collect_view();
    let body = rows
        .iter()
        .map(|r| {
            let cells = columns
                .iter()
                .map(|c| {
                    let shown = match c.kind {
                        Kind::Check if r.checked(c.field) => "yes".to_owned(),
                        Kind::Check => "no".to_owned(),
                        Kind::Text | Kind::Date => r.value(c.field),
                    };
                    view! { <td>{shown}</td> }
                })
                .collect_view();
            view! { <tr data-testid="rate-row">{cells}</tr> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead><tr>{head}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
        <p class="muted">"Only the store's owners change production's rates; staff change sandbox's."</p>
    }
}

/// The rows to show and their refusals: after a refused save, the rows as sent (what was
/// typed stays); otherwise the stored ones.
fn shown_rows<R: Clone>(
    outcome: Option<Result<RatesOutcome<R>, ServerFnError>>,
    stored: Vec<R>,
) -> (Vec<R>, Vec<FieldError>) {
    match outcome {
        Some(Ok(RatesOutcome::Refused { rows, errors })) => (rows, errors),
        Some(Ok(RatesOutcome::Saved(_)) | Err(_)) | None => (stored, Vec::new()),
    }
}

/// What the last save did, above the table: saved, refused (the fields are marked below;
/// refusals of the whole table are spelled out here), or failed.
fn status<R>(outcome: Option<Result<RatesOutcome<R>, ServerFnError>>) -> Option<AnyView> {
    outcome.map(|outcome| match outcome {
        Ok(RatesOutcome::Saved(message)) => {
            view! { <p class="ok-note" role="status" data-testid="rates-result">{message}</p> }
                .into_any()
        }
        Ok(RatesOutcome::Refused { errors, .. }) => {
            let whole: Vec<String> = errors
                .iter()
                .filter(|e| e.field == "rows")
                .map(|e| e.message.clone())
                .collect();
            view! {
                <p class="error" role="alert" data-testid="rates-result">
                    "Not saved: check the fields marked below. " {whole.join(" ")}
                </p>
            }
            .into_any()
        }
        Err(e) => {
            view! { <p class="error" role="alert" data-testid="rates-result">{error_text(&e)}</p> }
                .into_any()
        }
    })
}

fn no_store(title: &'static str) -> AnyView {
    view! {
        <section class="panel">
            <h1>{title}</h1>
            <p class="muted">"Open a store first."</p>
        </section>
    }
    .into_any()
}

/// The editor, or the read-only table, with the empty state's hint.
fn table<R: Row>(
    columns: &'static [Column],
    table: RatesView<R>,
    outcome: (Vec<R>, Vec<FieldError>),
    blanks: usize,
    empty: &'static str,
) -> (Option<AnyView>, AnyView) {
    let (rows, errors) = outcome;
    let hint = rows
        .is_empty()
        .then(|| view! { <p class="muted" data-testid="rates-empty">{empty}</p> }.into_any());
    if table.can_edit {
        (hint, editor(columns, rows, blanks, &errors).into_any())
    } else {
        (hint, read_only(columns, &table.rows).into_any())
    }
}

/// Settings → Shipping rates.
#[component]
pub fn ShippingRates() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store {
        None => no_store("Shipping rates"),
        Some(_) => view! { <ShippingEditor/> }.into_any(),
    })
}

#[component]
fn ShippingEditor() -> impl IntoView {
    let save = ServerAction::<SaveShippingRates>::new();
    let more = RwSignal::new(0usize);
    let stored = Resource::new(move || save.version().get(), |_| get_shipping_rates());
    view! {
        <section class="panel" id="shipping-rates">
            <SettingsNav current="shipping"/>
            <h1>"Settings → Shipping rates"</h1>
            <p class="muted">
                "A parcel is quoted, per service, the smallest band that holds its weight for its "
                "country, else the * band. Prices in major units (4.90); the currency is the "
                "store's unless you name another. Saving replaces the table of the environment shown."
            </p>
            {move || status(save.value().get())}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || stored.get().map(|result| match result {
                    Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                    Ok(v) => {
                        let shown = shown_rows(save.value().get(), v.rows.clone());
                        let environment = v.environment.clone();
                        let editable = v.can_edit;
                        let (hint, body) = table(
                            &SHIPPING_COLUMNS,
                            v,
                            shown,
                            BLANK_ROWS + more.get(),
                            "No shipping rates yet: checkouts of parcels cannot be quoted. \
                             Fill in a row below (for instance standard, *, 5000 g, 4.90) and save.",
                        );
                        let form = if editable { view! {
                            <ActionForm action=save attr:class="form" attr:id="shipping-rates-form">
                                {body}
                                <div class="actions">
                                    <button type="submit" class="btn primary">"Save shipping rates"</button>
                                    <button type="button" class="btn" on:click=move |_| more.update(|n| *n += 3)>
                                        "More rows"
                                    </button>
                                    <span class="muted small">{format!("Environment: {environment}")}</span>
                                </div>
                            </ActionForm>
                        }.into_any() } else { body };
                        view! { {hint} {form} }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Settings → Tax rates.
#[component]
pub fn TaxRates() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store {
        None => no_store("Tax rates"),
        Some(_) => view! { <TaxEditor/> }.into_any(),
    })
}

#[component]
fn TaxEditor() -> impl IntoView {
    let save = ServerAction::<SaveTaxRates>::new();
    let more = RwSignal::new(0usize);
    let stored = Resource::new(move || save.version().get(), |_| get_tax_rates());
    view! {
        <section class="panel" id="tax-rates-editor">
            <SettingsNav current="tax-rates"/>
            <h1>"Settings → Tax rates"</h1>
            <p class="muted">
                "Every jurisdiction whose area holds the destination adds its rate; within one, a "
                "tax code's own rate beats its * rate. Rates in percent (8.25). A county or "
                "district lists the postal codes it covers. Saving replaces the table of the "
                "environment shown; nexus and the tax engine are on the Tax page."
            </p>
            {move || status(save.value().get())}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || stored.get().map(|result| match result {
                    Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                    Ok(v) => {
                        let shown = shown_rows(save.value().get(), v.rows.clone());
                        let environment = v.environment.clone();
                        let editable = v.can_edit;
                        let (hint, body) = table(
                            &TAX_COLUMNS,
                            v,
                            shown,
                            BLANK_ROWS + more.get(),
                            "No tax rates yet: orders carry no tax. Add a row (for instance \
                             US, CA, *, 7.25) and save.",
                        );
                        let form = if editable { view! {
                            <ActionForm action=save attr:class="form" attr:id="tax-rates-form">
                                {body}
                                <div class="actions">
                                    <button type="submit" class="btn primary">"Save tax rates"</button>
                                    <button type="button" class="btn" on:click=move |_| more.update(|n| *n += 3)>
                                        "More rows"
                                    </button>
                                    <span class="muted small">{format!("Environment: {environment}")}</span>
                                </div>
                            </ActionForm>
                        }.into_any() } else { body };
                        view! { {hint} {form} }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
