//! Catalogue (`/catalogue`): the store's products in the environment shown, searched by name or
//! SKU and paged; adding one, and for the product opened (`?edit=`), changing it, archiving it
//! (confirmed; new orders refuse it, nothing is deleted) or making it active again. Prices are
//! typed and shown in major units of the product's currency.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, with_viewer};
use crate::{
    api::{CreateCatalogueProduct, SetProductArchived, UpdateCatalogueProduct, get_catalogue_page},
    backend::{
        FieldError, Viewer,
        catalogue::{CataloguePageView, ProductOutcome, ProductRow},
    },
};

/// The page's address: its filter form and paging links come back to it.
const PAGE: &str = "/catalogue";

/// The product form's fields, each of which shows its own refusal.
const FORM_FIELDS: [&str; 9] = [
    "name",
    "sku",
    "price",
    "currency",
    "tax_code",
    "weight_grams",
    "length_mm",
    "width_mm",
    "height_mm",
];

/// Every action of the page, and how many of the forms' submissions were saved.
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateCatalogueProduct>,
    update: ServerAction<UpdateCatalogueProduct>,
    archive: ServerAction<SetProductArchived>,
    saved: RwSignal<usize>,
}

impl Actions {
    fn new() -> Self {
        let actions = Self {
            create: ServerAction::new(),
            update: ServerAction::new(),
            archive: ServerAction::new(),
            saved: RwSignal::new(0),
        };
        // A refused form must keep what was typed, so only a saved one reloads the page (which
        // renders the forms afresh); archiving always changes the list.
        for value in [actions.create.value(), actions.update.value()] {
            Effect::new(move |_| {
                if let Some(Ok(ProductOutcome::Saved(_))) = value.get() {
                    actions.saved.update(|n| *n += 1);
                }
            });
        }
        actions
    }

    fn versions(&self) -> usize {
        self.saved.get() + self.archive.version().get()
    }
}

/// A refusal shown beside the field it is about (`form` tells the two forms' apart).
fn beside(
    refused: &[FieldError],
    form: &'static str,
    field: &'static str,
) -> Option<impl IntoView + use<>> {
    refused.iter().find(|r| r.field == field).map(|r| {
        view! {
            <span class="error" role="alert" data-testid=format!("{form}-error-{field}")>
                {r.message.clone()}
            </span>
        }
    })
}

fn refusals(outcome: Option<Result<ProductOutcome, ServerFnError>>) -> Vec<FieldError> {
    match outcome {
        Some(Ok(ProductOutcome::Refused(refused))) => refused,
        _ => Vec::new(),
    }
}

/// What a form's submission left above the page: saved, a refusal of a field the form does
/// not have, or the request's failure. Refusals of its fields are shown beside them.
fn form_outcome(
    testid: &'static str,
    outcome: Option<Result<ProductOutcome, ServerFnError>>,
) -> Option<AnyView> {
    match outcome? {
        Ok(ProductOutcome::Saved(msg)) => {
            Some(view! { <p class="ok-note" role="status" data-testid=testid>{msg}</p> }.into_any())
        }
        Ok(ProductOutcome::Refused(refused)) => {
            let others: Vec<String> = refused
                .iter()
                .filter(|r| !FORM_FIELDS.contains(&r.field.as_str()))
                .map(|r| format!("{}: {}", r.field, r.message))
                .collect();
            Some(
                view! {
                    <p class="error" role="alert" data-testid=testid>
                        "Not saved: check the fields marked below. " {others.join(" ")}
                    </p>
                }
                .into_any(),
            )
        }
        Err(e) => Some(
            view! { <p class="error" role="alert" data-testid=testid>{error_text(&e)}</p> }
                .into_any(),
        ),
    }
}

/// Catalogue.
#[component]
pub fn Catalogue() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <CataloguePanel store_name=store.name environment=viewer.environment/> }
                .into_any()
        }
    })
}

#[component]
fn CataloguePanel(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let actions = Actions::new();
    let filter = move || {
        let q = query.get();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        (get("q"), get("archived"), get("after"), get("edit"))
    };
    let page = Resource::new(
        move || (filter(), actions.versions()),
        |((q, archived, after, edit), _)| get_catalogue_page(q, archived, after, edit),
    );
    let archived = outcomes("catalogue-result", move || {
        vec![actions.archive.value().get()]
    });
    let created = move || form_outcome("create-result", actions.create.value().get());
    let updated = move || form_outcome("update-result", actions.update.value().get());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Catalogue"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">
                {store_name} "'s " {environment.clone()}
                " products. Orders and checkout take their prices from here; customers never send prices. "
                "A product is archived, never deleted: orders keep their copy of it, and new orders refuse it."
            </p>
            {archived}
            {created}
            {updated}
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => view! { <CatalogueView page=page actions=actions/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// `text` as a query-string value: unreserved characters as they are, every other byte
/// percent-encoded (a search may hold `&`, `#`, `%` or spaces).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `/catalogue` with the filters as applied, plus `extra` (`after=…`, `edit=…`).
fn link(page: &CataloguePageView, extra: Option<(&str, &str)>) -> String {
    let mut params = Vec::new();
    if !page.q.is_empty() {
        params.push(format!("q={}", encode(&page.q)));
    }
    if page.archived != "false" {
        params.push(format!("archived={}", encode(&page.archived)));
    }
    if let Some((name, value)) = extra {
        params.push(format!("{name}={}", encode(value)));
    }
    if params.is_empty() {
        PAGE.to_owned()
    } else {
        format!("{PAGE}?{}", params.join("&"))
    }
}

fn dimensions(p: &ProductRow) -> String {
    match p.dimensions_mm {
        (0, 0, 0) => "—".to_owned(),
        (l, w, h) => format!("{l} × {w} × {h} mm"),
    }
}

fn product_row(page: &CataloguePageView, p: ProductRow) -> impl IntoView + use<> {
    let edit = link(page, Some(("edit", &p.id)));
    let status = match &p.archived_at {
        None => {
            view! { <span class="badge ok" data-testid="product-status">"active"</span> }.into_any()
        }
        Some(at) => view! {
            <span class="badge bad" data-testid="product-status" title=format!("archived {}", at.text)>
                "archived"
            </span>
        }
        .into_any(),
    };
    let label = format!("Edit {}", p.name);
    let dims = dimensions(&p);
    view! {
        <tr data-product-id=p.id.clone() data-sku=p.sku.clone()>
            <td data-testid="product-name">{p.name.clone()}</td>
            <td><code data-testid="product-sku">{p.sku.clone()}</code></td>
            <td data-testid="product-price">{p.price.clone()}</td>
            <td>{p.tax_code.clone()}</td>
            <td>{format!("{} g", p.weight_grams)}</td>
            <td>{dims}</td>
            <td>{if p.price_includes_tax { "included" } else { "added" }}</td>
            <td>{status}</td>
            <td><a href=edit aria-label=label class="btn small">"Edit"</a></td>
        </tr>
    }
}

#[component]
fn CatalogueView(page: CataloguePageView, actions: Actions) -> impl IntoView {
    let filtered = !page.q.is_empty() || page.archived != "false";
    let filter_refused: Vec<FieldError> = page.filter_error.clone().into_iter().collect();
    let empty = if page.filter_error.is_some() {
        None
    } else if page.paged {
        Some("No more products.".to_owned())
    } else if !page.q.is_empty() {
        Some(format!(
            "No product's name or SKU contains “{}”: try fewer letters, or show archived products too.",
            page.q
        ))
    } else if page.archived == "true" {
        Some("No archived products.".to_owned())
    } else if page.can_manage {
        Some(
            "No products yet: add the first one below. Orders can only be placed for products in the catalogue."
                .to_owned(),
        )
    } else {
        Some(
            "No products yet: an owner adds them here (or the store's back office through the API)."
                .to_owned(),
        )
    };
    let list = if page.products.is_empty() {
        empty
            .map(|text| view! { <p class="muted" id="no-products">{text}</p> })
            .into_any()
    } else {
        let rows = page
            .products
            .iter()
            .cloned()
            .map(|p| product_row(&page, p))
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table" id="products">
                    <caption class="muted">"Prices in major units of each product's currency."</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"SKU"</th>
                            <th scope="col">"Price"</th>
                            <th scope="col">"Tax code"</th>
                            <th scope="col">"Weight"</th>
                            <th scope="col">"Dimensions"</th>
                            <th scope="col">"Tax in price"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col"><span class="muted">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let first = page.paged.then(|| link(&page, None));
    let next = page
        .next_after
        .as_deref()
        .map(|after| link(&page, Some(("after", after))));
    let pager = (first.is_some() || next.is_some()).then(|| {
        view! {
            <nav aria-label="Pages" class="actions">
                {first.map(|href| view! { <a class="btn small" href=href id="products-first">"First page"</a> })}
                " "
                {next.map(|href| view! { <a class="btn small" href=href id="products-next">"Next page"</a> })}
            </nav>
        }
    });
    let selected = |value: &str| page.archived == value;
    let read_only = (!page.can_manage).then(|| {
        view! {
            <p class="muted" id="read-only">
                "Read-only: production's catalogue is managed by the store's owners."
            </p>
        }
    });
    let create = page.can_manage.then(|| {
        view! { <CreateForm currency=page.store_currency.clone() actions=actions/> }
    });
    let editing_error = page
        .editing_error
        .clone()
        .map(|e| view! { <p class="error" role="alert" id="product-error">{e}</p> });
    let editing = page.editing.clone().map(|product| {
        view! { <EditProduct product=product can_manage=page.can_manage actions=actions/> }
    });
    view! {
        {editing_error}
        {editing}
        <section class="panel">
            <h2>"Products"</h2>
            <form method="get" action=PAGE class="inline" id="catalogue-filter" role="search">
                <label>
                    "Name or SKU "
                    <input type="search" name="q" value=page.q.clone() maxlength="100"/>
                </label>
                {beside(&filter_refused, "filter", "q")}
                " "
                <label>
                    "Show "
                    <select name="archived">
                        <option value="false" selected=selected("false")>"active products"</option>
                        <option value="true" selected=selected("true")>"archived products"</option>
                        <option value="all" selected=selected("all")>"all products"</option>
                    </select>
                </label>
                {beside(&filter_refused, "filter", "archived")}
                " "
                <button type="submit" class="btn small">"Filter"</button>
                {filtered.then(|| view! { <a class="btn small" href=PAGE>"Clear"</a> })}
            </form>
            {beside(&filter_refused, "filter", "after")}
            {read_only}
            {list}
            {pager}
        </section>
        {create}
    }
}

/// The fields both forms share, filled with `product`'s values when editing. Each refusal is
/// its own reactive spot, so showing one never re-creates (and empties) the inputs.
fn fields<F>(form: &'static str, product: Option<&ProductRow>, refused: F) -> impl IntoView + use<F>
where
    F: Fn() -> Vec<FieldError> + Copy + Send + Sync + 'static,
{
    // `value` for the server's HTML, `prop:value` for the browser: after a save the page is
    // rebuilt in place, and an input someone typed in follows its property, not its attribute.
    let value = |f: fn(&ProductRow) -> String| product.map(f).unwrap_or_default();
    let number = |n: i32| if n == 0 { String::new() } else { n.to_string() };
    let name = value(|p| p.name.clone());
    let sku = value(|p| p.sku.clone());
    let price = value(|p| p.price_input.clone());
    let tax_code = value(|p| p.tax_code.clone());
    let weight = product.map(|p| number(p.weight_grams)).unwrap_or_default();
    let (l, w, h) = product.map(|p| p.dimensions_mm).unwrap_or_default();
    let (length, width, height) = (number(l), number(w), number(h));
    let includes_tax = product.is_some_and(|p| p.price_includes_tax);
    view! {
        <label>
            "Name " <input type="text" name="name" required maxlength="200" value=name.clone() prop:value=name autocomplete="off"/>
            {move || beside(&refused(), form, "name")}
        </label>
        <label>
            "SKU " <input type="text" name="sku" required maxlength="64" value=sku.clone() prop:value=sku autocomplete="off"/>
            {move || beside(&refused(), form, "sku")}
        </label>
        <label>
            "Price " <input type="text" name="price" required inputmode="decimal" value=price.clone() prop:value=price placeholder="12.34" autocomplete="off"/>
            {move || beside(&refused(), form, "price")}
        </label>
        <label>
            "Tax code " <input type="text" name="tax_code" maxlength="32" value=tax_code.clone() prop:value=tax_code placeholder="general"/>
            {move || beside(&refused(), form, "tax_code")}
        </label>
        <label>
            "Weight (g) " <input type="number" name="weight_grams" min="0" step="1" value=weight.clone() prop:value=weight/>
            {move || beside(&refused(), form, "weight_grams")}
        </label>
        <fieldset>
            <legend>"Packed dimensions (mm, optional)"</legend>
            <label>
                "Length " <input type="number" name="length_mm" min="0" max="10000" step="1" value=length.clone() prop:value=length/>
                {move || beside(&refused(), form, "length_mm")}
            </label>
            <label>
                "Width " <input type="number" name="width_mm" min="0" max="10000" step="1" value=width.clone() prop:value=width/>
                {move || beside(&refused(), form, "width_mm")}
            </label>
            <label>
                "Height " <input type="number" name="height_mm" min="0" max="10000" step="1" value=height.clone() prop:value=height/>
                {move || beside(&refused(), form, "height_mm")}
            </label>
        </fieldset>
        <label class="check">
            <input type="checkbox" name="price_includes_tax" value="true" checked=includes_tax prop:checked=includes_tax/>
            " the price includes tax"
        </label>
    }
}

#[component]
fn CreateForm(currency: String, actions: Actions) -> impl IntoView {
    let refused = move || refusals(actions.create.value().get());
    // Added: the form empties for the next product (the page is rebuilt in place, so its
    // inputs would keep what was typed); refused: it keeps it, to be corrected.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(ProductOutcome::Saved(_))) = actions.create.value().get()
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel">
            <ActionForm action=actions.create node_ref=form attr:class="form" attr:id="create-product">
                <h2>"Add a product"</h2>
                {fields("create", None, refused)}
                <label>
                    "Currency " <input type="text" name="currency" value=currency.clone() size="4" maxlength="3" required/>
                    <span class="muted">"ISO 4217 code; it never changes once the product exists."</span>
                    {move || beside(&refused(), "create", "currency")}
                </label>
                <div>
                    <button type="submit" class="btn primary">"Add product"</button>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn EditProduct(product: ProductRow, can_manage: bool, actions: Actions) -> impl IntoView {
    let refused = move || refusals(actions.update.value().get());
    let id = product.id.clone();
    let archived = product.archived_at.clone();
    let facts = view! {
        <dl class="facts">
            <dt>"Price"</dt>
            <dd data-testid="editing-price">{product.price.clone()}</dd>
            <dt>"Status"</dt>
            <dd data-testid="editing-status">
                {match archived.clone() {
                    None => "active: can be ordered".to_owned(),
                    Some(at) => format!("archived {}: new orders refuse it", at.text),
                }}
            </dd>
        </dl>
    };
    let manage = can_manage.then(|| {
        let edit_product = product.clone();
        let update_id = id.clone();
        let archive_id = id.clone();
        let currency = product.currency.clone();
        let archive = match archived {
            None => view! {
                <ActionForm action=actions.archive attr:class="form inline-form" attr:id="archive-product">
                    <input type="hidden" name="product_id" value=archive_id/>
                    <input type="hidden" name="archived" value="true"/>
                    <label class="check">
                        <input type="checkbox" name="confirm" value="yes" required/>
                        " archive it: new orders refuse it, existing orders keep it"
                    </label>
                    " "
                    <button type="submit" class="btn small danger">"Archive product"</button>
                </ActionForm>
            }
            .into_any(),
            Some(_) => view! {
                <ActionForm action=actions.archive attr:class="inline" attr:id="unarchive-product">
                    <input type="hidden" name="product_id" value=archive_id/>
                    <input type="hidden" name="archived" value="false"/>
                    <button type="submit" class="btn small primary">"Make active again"</button>
                </ActionForm>
            }
            .into_any(),
        };
        view! {
            <ActionForm action=actions.update attr:class="form" attr:id="edit-product">
                <h3>"Change"</h3>
                <input type="hidden" name="product_id" value=update_id/>
                {fields("edit", Some(&edit_product), refused)}
                <p class="muted">{format!("Price in {currency}; the currency of a product never changes.")}</p>
                <div>
                    <button type="submit" class="btn primary">"Save changes"</button>
                </div>
            </ActionForm>
            {archive}
        }
    });
    view! {
        <section class="panel" id="product-detail" data-product-id=id.clone()>
            <div class="panel-head">
                <h2>{product.name.clone()} " " <code>{product.sku.clone()}</code></h2>
                <a href=PAGE class="btn small">"Close"</a>
            </div>
            {facts}
            {manage}
        </section>
    }
}
