//! The current store's provider credentials: masked view, add or replace, check with the
//! provider; and the payment provider of new payments (`providers.rs`).

use leptos::prelude::*;

use super::{
    error_text,
    providers::{PaymentProviderPanel, StripeForm, connection_cell},
    when, with_viewer,
};
use crate::{
    api::{PutCredentials, list_credentials},
    backend::Viewer,
};

/// Credentials page.
#[component]
pub fn Credentials() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"You are not a member of any store yet."</p> }.into_any(),
        Some(store) => {
            view! { <CredentialList store_name=store.name environment=viewer.environment/> }
                .into_any()
        }
    })
}

#[component]
fn CredentialList(store_name: String, environment: String) -> impl IntoView {
    let save = ServerAction::<PutCredentials>::new();
    let rows = Resource::new(move || save.version().get(), |_| list_credentials());
    let outcome = move || {
        save.value().get().map(|r| match r {
            Ok(row) => view! {
                <p class="ok-note" role="status">
                    "Saved " {row.provider} " credentials (" {row.environment} "), key version "
                    {row.key_version} "."
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Provider credentials"</h1>
                <span class=format!("env-badge {environment}") data-testid="credentials-env">
                    {environment.clone()}
                </span>
            </div>
            <p class="muted">
                "Credentials of " {store_name} " in " {environment.clone()}
                ". Secrets are encrypted and never shown again after saving."
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="muted">"No credentials yet."</p> }.into_any()
                            }
                            Ok(rows) => {
                                view! {
                                    <table class="table" id="credentials">
                                        <thead>
                                            <tr>
                                                <th>"Provider"</th>
                                                <th>"Fields"</th>
                                                <th>"Key version"</th>
                                                <th>"Updated"</th>
                                                <th>"Connection"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows
                                                .into_iter()
                                                .map(|row| {
                                                    let provider = row.provider.clone();
                                                    let check = connection_cell(&row);
                                                    view! {
                                                        <tr data-provider=provider>
                                                            <td>{row.provider}</td>
                                                            <td>
                                                                {row
                                                                    .masked
                                                                    .into_iter()
                                                                    .map(|(k, v)| {
                                                                        view! {
                                                                            <div>
                                                                                <span class="muted">{k} ": "</span>
                                                                                <code data-testid="masked">{v}</code>
                                                                            </div>
                                                                        }
                                                                    })
                                                                    .collect_view()}
                                                            </td>
                                                            <td>{row.key_version}</td>
                                                            <td>{when(row.updated_at)}</td>
                                                            {check}
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
            {outcome}
        </section>
        <PaymentProviderPanel environment=environment.clone() saved=save.version()/>
        <StripeForm environment=environment.clone() save=save/>
        <section class="panel">
            <h2>"Other providers"</h2>
            <ActionForm action=save attr:class="form" attr:id="put-credentials">
                <label>
                    "Provider"
                    <select name="provider">
                        <option value="sandbox">"Sandbox PSP"</option>
                        <option value="sandbox_carrier">"Sandbox carrier"</option>
                        <option value="taxapi">"Tax service (taxapi)"</option>
                    </select>
                </label>
                <label>
                    "API key / secret key"
                    <input type="password" name="primary_secret" required autocomplete="off"/>
                </label>
                <label>
                    "Webhook signing secret (none for a tax service)"
                    <input type="password" name="webhook_secret" autocomplete="off"/>
                </label>
                <label>
                    "Base URL (sandbox, carrier; required for a tax service)"
                    <input type="text" name="setting"/>
                </label>
                <button type="submit" class="btn primary">"Save credentials"</button>
            </ActionForm>
        </section>
    }
}
