//! Customers (`/customers`): the store's customers in the environment shown, newest first,
//! searched by email or id and paged (a plain GET form, so it works without JavaScript);
//! adding one. A customer's page (`/customers/:id`): their facts, orders and lifetime value,
//! and minting a storefront token for them, shown once.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{error_text, when, with_viewer};
use crate::{
    api::{CreateCustomer, IssueCustomerToken, get_customer_detail, get_customers_page},
    backend::{
        FieldError, Viewer,
        customers::{
            CustomerDetailView, CustomerOutcome, CustomerRow, CustomersPageView, IssuedToken,
        },
    },
};

/// The list's address: its search form and paging links come back to it.
const PAGE: &str = "/customers";

/// The create form's fields, each of which shows its own refusal.
const FORM_FIELDS: [&str; 2] = ["email", "name"];

/// The Customers page.
#[component]
pub fn Customers() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <CustomerList store_name=store.name environment=viewer.environment/> }
                .into_any()
        }
    })
}

/// `text` as a query-string value: unreserved characters as they are, every other byte
/// percent-encoded (an email's `+` must not become a space).
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

/// `/customers` with the search as applied, plus the page cursor when given.
fn link(q: &str, after: Option<&str>) -> String {
    let mut params = Vec::new();
    if !q.is_empty() {
        params.push(format!("q={}", encode(q)));
    }
    if let Some(after) = after {
        params.push(format!("after={}", encode(after)));
    }
    if params.is_empty() {
        PAGE.to_owned()
    } else {
        format!("{PAGE}?{}", params.join("&"))
    }
}

/// A refusal shown beside the field it is about, and named by it (`aria-describedby`).
fn beside(refused: &[FieldError], field: &'static str) -> Option<impl IntoView + use<>> {
    refused.iter().find(|r| r.field == field).map(|r| {
        let id = format!("error-{field}");
        view! {
            <span class="error" role="alert" id=id.clone() data-testid=id>{r.message.clone()}</span>
        }
    })
}

fn refusals(outcome: Option<Result<CustomerOutcome, ServerFnError>>) -> Vec<FieldError> {
    match outcome {
        Some(Ok(CustomerOutcome::Refused(refused))) => refused,
        _ => Vec::new(),
    }
}

#[component]
fn CustomerList(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let create = ServerAction::<CreateCustomer>::new();
    // Only a saved form reloads the list: a refused one keeps what was typed.
    let saved = RwSignal::new(0usize);
    Effect::new(move |_| {
        if let Some(Ok(CustomerOutcome::Saved { .. })) = create.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let filter = move || {
        let q = query.get();
        let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        (get("q"), get("after"))
    };
    let page = Resource::new(
        move || (filter(), saved.get()),
        |((q, after), _)| get_customers_page(q, after),
    );
    let created = move || {
        match create.value().get()? {
        Ok(CustomerOutcome::Saved { id, message }) => Some(
            view! {
                <p class="ok-note" role="status" data-testid="create-result">
                    {message} " " <a href=format!("{PAGE}/{id}")>"Open their page"</a>
                </p>
            }
            .into_any(),
        ),
        Ok(CustomerOutcome::Refused(refused)) => {
            let others: Vec<String> = refused
                .iter()
                .filter(|r| !FORM_FIELDS.contains(&r.field.as_str()))
                .map(|r| format!("{}: {}", r.field, r.message))
                .collect();
            Some(
                view! {
                    <p class="error" role="alert" data-testid="create-result">
                        "Not added: check the fields marked below. " {others.join(" ")}
                    </p>
                }
                .into_any(),
            )
        }
        Err(e) => Some(
            view! { <p class="error" role="alert" data-testid="create-result">{error_text(&e)}</p> }
                .into_any(),
        ),
    }
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Customers"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">
                "Customers of " {store_name} " in " {environment.clone()} ", newest first. "
                "Your storefront signs them in with a storefront token minted for them."
            </p>
            {created}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(page) => view! { <CustomersBody page=page/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
        <CreateForm action=create/>
    }
}

fn customer_row(c: CustomerRow) -> impl IntoView {
    let href = format!("{PAGE}/{}", c.id);
    let label = c
        .email
        .clone()
        .or_else(|| c.name.clone())
        .unwrap_or_else(|| c.id.clone());
    view! {
        <tr data-customer-id=c.id.clone()>
            <td><a href=href data-testid="customer-link">{label}</a></td>
            <td data-testid="customer-name">{c.name.unwrap_or_else(|| "—".to_owned())}</td>
            <td><code>{c.id.clone()}</code></td>
            <td>{when(c.created_at)}</td>
        </tr>
    }
}

#[component]
fn CustomersBody(page: CustomersPageView) -> impl IntoView {
    let refused: Vec<FieldError> = page.filter_error.clone().into_iter().collect();
    let searched = !page.q.is_empty();
    let invalid = refused.iter().any(|r| r.field == "q").then_some("true");
    let described = invalid.map(|_| "error-q");
    let form = view! {
        <form method="get" action=PAGE class="inline" id="customers-search" role="search">
            <label>
                "Email or customer id "
                <input type="search" name="q" value=page.q.clone() maxlength="254"
                    aria-invalid=invalid aria-describedby=described/>
            </label>
            {beside(&refused, "q")}
            " "
            <button type="submit" class="btn small">"Search"</button>
            {searched.then(|| view! { <a class="btn small" href=PAGE>"Clear"</a> })}
        </form>
        {beside(&refused, "after")}
    };
    let body = if page.filter_error.is_some() {
        None::<AnyView>
    } else if !page.store_has_customers {
        Some(
            view! {
                <div class="empty" id="customers-empty">
                    <p>"No customers yet in this environment."</p>
                    <p class="muted">
                        "Add one with the form below, or let your storefront's server add them as "
                        "shoppers sign up, with " <code>"POST /api/v1/admin/customers"</code>
                        " and an API key. Each customer then gets a storefront token to place orders."
                    </p>
                </div>
            }
            .into_any(),
        )
    } else if page.rows.is_empty() {
        let text = if page.paged {
            "No more customers.".to_owned()
        } else {
            format!(
                "No customer's email contains “{}”, and no customer has that id.",
                page.q
            )
        };
        Some(view! { <p class="muted" id="customers-empty">{text}</p> }.into_any())
    } else {
        let rows = page.rows.into_iter().map(customer_row).collect_view();
        Some(
            view! {
                <div class="table-wrap">
                    <table class="table" id="customers">
                        <thead>
                            <tr>
                                <th scope="col">"Customer"</th>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Id"</th>
                                <th scope="col">"Created"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }
            .into_any(),
        )
    };
    let first = page.paged.then(|| link(&page.q, None));
    let next = page
        .next_after
        .as_deref()
        .map(|after| link(&page.q, Some(after)));
    let pager = (first.is_some() || next.is_some()).then(|| {
        view! {
            <nav aria-label="Pages" class="actions">
                {first.map(|href| view! { <a class="btn small" href=href id="customers-first">"First page"</a> })}
                " "
                {next.map(|href| view! { <a class="btn small" href=href id="next-page">"Next page"</a> })}
            </nav>
        }
    });
    view! {
        {form}
        {body}
        {pager}
    }
}

#[component]
fn CreateForm(action: ServerAction<CreateCustomer>) -> impl IntoView {
    let refused = move || refusals(action.value().get());
    let invalid = move |field: &'static str| {
        move || refused().iter().any(|r| r.field == field).then_some("true")
    };
    let described = move |field: &'static str| {
        move || {
            refused()
                .iter()
                .any(|r| r.field == field)
                .then(|| format!("error-{field}"))
        }
    };
    // Added: the form empties for the next customer; refused: it keeps what was typed.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(CustomerOutcome::Saved { .. })) = action.value().get()
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel">
            <ActionForm action=action node_ref=form attr:class="form" attr:id="create-customer">
                <h2>"Add a customer"</h2>
                <p class="muted">"Both fields are optional; a storefront may know a shopper by neither yet."</p>
                <label>
                    "Email "
                    <input type="email" name="email" maxlength="254" autocomplete="off"
                        aria-invalid=invalid("email") aria-describedby=described("email")/>
                    {move || beside(&refused(), "email")}
                </label>
                <label>
                    "Name "
                    <input type="text" name="name" maxlength="200" autocomplete="off"
                        aria-invalid=invalid("name") aria-describedby=described("name")/>
                    {move || beside(&refused(), "name")}
                </label>
                <div>
                    <button type="submit" class="btn primary">"Add customer"</button>
                </div>
            </ActionForm>
        </section>
    }
}

/// A customer's page.
#[component]
pub fn CustomerDetail() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(_) => view! { <CustomerPanel environment=viewer.environment/> }.into_any(),
    })
}

#[component]
fn CustomerPanel(environment: String) -> impl IntoView {
    let params = use_params_map();
    let customer_id = move || params.get().get("id").unwrap_or_default();
    let detail = Resource::new(customer_id, get_customer_detail);
    view! {
        <p><a href=PAGE>"← Customers"</a></p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {
                let environment = environment.clone();
                move || {
                    let environment = environment.clone();
                    detail.get()
                        .map(move |result| match result {
                            Err(e) => view! {
                                <section class="panel">
                                    <h1>"Customer"</h1>
                                    <p class="error" role="alert" id="customer-error">{error_text(&e)}</p>
                                </section>
                            }
                            .into_any(),
                            Ok(view) => view! { <CustomerView view=view environment=environment/> }.into_any(),
                        })
                }
            }
        </Suspense>
    }
}

#[component]
fn CustomerView(view: CustomerDetailView, environment: String) -> impl IntoView {
    let c = view.customer.clone();
    let title = c
        .email
        .clone()
        .or_else(|| c.name.clone())
        .unwrap_or_else(|| "Customer".to_owned());
    let value = if view.lifetime_value.is_empty() {
        view! { <span class="muted">"Nothing paid yet."</span> }.into_any()
    } else {
        view! {
            <ul class="plain">
                {view
                    .lifetime_value
                    .iter()
                    .map(|amount| view! { <li class="amount">{amount.clone()}</li> })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let orders = if view.orders.is_empty() {
        view! { <p class="muted" id="customer-no-orders">"No orders yet."</p> }.into_any()
    } else {
        let rows = view
            .orders
            .iter()
            .map(|o| {
                view! {
                    <tr data-order-id=o.id.clone()>
                        <td><a href=format!("/orders/{}", o.id)><code>{o.id.clone()}</code></a></td>
                        <td>{when(o.created_at.clone())}</td>
                        <td><span class=format!("status-chip {}", o.status)>{o.status.clone()}</span></td>
                        <td class="amount">{o.amount.clone()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="table" id="customer-orders">
                <thead>
                    <tr>
                        <th scope="col">"Order"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Amount"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let all_orders = format!("/orders?customer={}", c.id);
    let more = view.more_orders.then(|| {
        view! { <p><a href=all_orders.clone() id="all-orders">"All their orders"</a></p> }
    });
    let token = if view.can_issue_token {
        view! { <IssueToken customer_id=c.id.clone()/> }.into_any()
    } else {
        view! {
            <p class="muted" id="read-only">
                "Read-only: storefront tokens for production's customers are minted by the store's owners."
            </p>
        }
        .into_any()
    };
    view! {
        <section class="panel" id="customer-detail" data-customer-id=c.id.clone()>
            <div class="panel-head">
                <h1>{title}</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <dl class="facts">
                <dt>"Id"</dt>
                <dd><code data-testid="customer-id">{c.id.clone()}</code></dd>
                <dt>"Email"</dt>
                <dd data-testid="customer-email">{c.email.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt>"Name"</dt>
                <dd data-testid="customer-name">{c.name.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt>"Created"</dt>
                <dd>{when(c.created_at.clone())}</dd>
                <dt>"Lifetime value"</dt>
                <dd data-testid="lifetime-value" title="Captured minus refunded, per currency">{value}</dd>
            </dl>
        </section>
        <section class="panel">
            <h2>"Orders"</h2>
            {orders}
            {more}
        </section>
        <section class="panel">
            <h2>"Storefront token"</h2>
            <p class="muted">
                "A token lets your storefront act as this customer on " <code>"/api/v1/me"</code>
                " (their orders and payments) for an hour."
            </p>
            {token}
        </section>
    }
}

#[component]
fn IssueToken(customer_id: String) -> impl IntoView {
    let issue = ServerAction::<IssueCustomerToken>::new();
    view! {
        <ActionForm action=issue attr:class="inline" attr:id="issue-token">
            <input type="hidden" name="customer_id" value=customer_id/>
            <button type="submit" class="btn primary">"Issue storefront token"</button>
        </ActionForm>
        {move || {
            issue.value().get().map(|result| match result {
                Ok(token) => view! { <RevealedToken token=token/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert" data-testid="token-error">{error_text(&e)}</p> }
                    .into_any(),
            })
        }}
    }
}

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`), looked up at run time so no
/// browser binding beyond the ones the framework has is needed; `false` where the browser has
/// no clipboard for the page.
fn copy_to_clipboard(text: &str) -> bool {
    use leptos::web_sys::{
        js_sys::{Function, Reflect},
        wasm_bindgen::{JsCast, JsValue},
    };

    let get = |target: &JsValue, key: &str| {
        Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let window: JsValue = window().into();
    let Some(clipboard) = get(&window, "navigator").and_then(|n| get(&n, "clipboard")) else {
        return false;
    };
    get(&clipboard, "writeText")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .is_some_and(|write| write.call1(&clipboard, &JsValue::from_str(text)).is_ok())
}

/// The token just minted: shown this once, selectable and with a copy button.
#[component]
fn RevealedToken(token: IssuedToken) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let copied = RwSignal::new(None::<&'static str>);
    let secret = token.token.clone();
    let copy = move |_| {
        // Selected either way, so a refused clipboard still leaves Ctrl+C one key away.
        if let Some(input) = input.get() {
            input.select();
        }
        copied.set(Some(if copy_to_clipboard(&secret) {
            "Copied to the clipboard."
        } else {
            "Selected: press Ctrl+C (⌘C) to copy."
        }));
    };
    view! {
        <div class="reveal" data-testid="revealed-token">
            <p>
                <strong>"Copy it now: it is shown this once and cannot be read again."</strong>
                " Only its hash is stored. It expires " {when(token.expires_at)} "."
            </p>
            <label>
                "Storefront token "
                <input type="text" readonly node_ref=input value=token.token.clone()
                    size="60" data-testid="token" autocomplete="off" spellcheck="false"/>
            </label>
            " "
            <button type="button" class="btn small" on:click=copy id="copy-token">"Copy"</button>
            <span role="status" class="muted small">{move || copied.get()}</span>
        </div>
    }
}
