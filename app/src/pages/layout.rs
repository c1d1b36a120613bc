//! The top bar: navigation, store switcher, environment switch, account.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};

use super::ViewerResource;
use crate::api::{SelectScope, SignOut, get_viewer};

/// Navigation and the signed-in user's controls. Provides the viewer to every page.
#[component]
pub fn TopBar() -> impl IntoView {
    let location = use_location();
    let pathname = location.pathname;
    // Refetched on navigation so sign-in, sign-out and switches show at once.
    let viewer: ViewerResource = Resource::new(move || pathname.get(), |_| get_viewer());
    provide_context(viewer);
    let select = ServerAction::<SelectScope>::new();
    let sign_out = ServerAction::<SignOut>::new();

    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"Cassa"</A>
            <nav class="topnav">
                <A href="/">"Overview"</A>
                <A href="/orders">"Orders"</A>
                <A href="/customers">"Customers"</A>
                <A href="/payments">"Payments"</A>
                <A href="/catalogue">"Catalogue"</A>
                <A href="/disputes">"Disputes"</A>
                <A href="/shipments">"Shipments"</A>
                <A href="/tax">"Tax"</A>
                <A href="/reconciliation">"Reconciliation"</A>
                // Received from providers; the store's own endpoints are under Developers.
                <A href="/webhooks">"Provider webhooks"</A>
                <A href="/api-keys">"API keys"</A>
                <A href="/developers/webhooks">"Developers"</A>
                <A href="/credentials">"Credentials"</A>
                <A href="/settings">"Settings"</A>
                <Suspense>
                    {move || {
                        viewer
                            .get()
                            .and_then(|r| r.ok().flatten())
                            .filter(|v| v.is_platform_admin)
                            .map(|_| {
                                view! {
                                    <A href="/platform/stores">"Stores"</A>
                                    <A href="/platform/keys">"Master keys"</A>
                                    <A href="/platform/fx-rates">"FX rates"</A>
                                }
                            })
                    }}
                </Suspense>
            </nav>
            <div class="account">
                <Suspense>
                    {move || {
                        let back_to = pathname.get();
                        viewer
                            .get()
                            .map(|result| match result.ok().flatten() {
                                None => view! { <A href="/sign-in">"Sign in"</A> }.into_any(),
                                Some(v) => {
                                    let env = v.environment.clone();
                                    let other = if env == "production" { "sandbox" } else { "production" };
                                    let current_store = v.store.as_ref().map(|s| s.id.clone());
                                    let back_to_env = back_to.clone();
                                    view! {
                                        <ActionForm action=select attr:class="inline" attr:id="store-switcher">
                                            <input type="hidden" name="back_to" value=back_to.clone()/>
                                            <select name="store_id" aria-label="Store">
                                                {v
                                                    .stores
                                                    .iter()
                                                    .map(|s| {
                                                        let selected = current_store.as_deref() == Some(s.id.as_str());
                                                        view! {
                                                            <option value=s.id.clone() selected=selected>
                                                                {s.name.clone()}
                                                            </option>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </select>
                                            <button type="submit" class="btn small">"Open"</button>
                                        </ActionForm>
                                        <ActionForm action=select attr:class="inline" attr:id="environment-switch">
                                            <input type="hidden" name="back_to" value=back_to_env/>
                                            <input type="hidden" name="environment" value=other/>
                                            <span class=format!("env-badge {env}") data-testid="environment">
                                                {env.clone()}
                                            </span>
                                            <button type="submit" class="btn small">
                                                {format!("Switch to {other}")}
                                            </button>
                                        </ActionForm>
                                        <span class="who" data-testid="viewer-email">{v.email.clone()}</span>
                                        <A href="/password">"Password"</A>
                                        <ActionForm action=sign_out attr:class="inline">
                                            <button type="submit" class="btn small">"Sign out"</button>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Suspense>
            </div>
        </header>
    }
}
