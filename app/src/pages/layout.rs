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
        // A column beside the page rather than a row in the bar: a row of every page's link
        // outgrew a 1280 px window and wrapped the bar onto two or three lines.
        <nav class="sidenav" aria-label="Console">
            <ul>
                <li><A href="/">"Overview"</A></li>
                <li><A href="/orders">"Orders"</A></li>
                <li><A href="/customers">"Customers"</A></li>
                <li><A href="/payments">"Payments"</A></li>
                <li><A href="/catalogue">"Catalogue"</A></li>
                <li><A href="/disputes">"Disputes"</A></li>
                <li><A href="/shipments">"Shipments"</A></li>
                <li><A href="/tax">"Tax"</A></li>
                <li><A href="/reconciliation">"Reconciliation"</A></li>
                <li><A href="/settings">"Settings"</A></li>
            </ul>
            <p class="sidenav-head" aria-hidden="true">"Developers"</p>
            <ul aria-label="Developers">
                <li><A href="/api-keys">"API keys"</A></li>
                <li><A href="/developers/webhooks">"Developers"</A></li>
                // Received from providers; the store's own endpoints are under Developers.
                <li><A href="/webhooks">"Provider webhooks"</A></li>
                <li><A href="/credentials">"Credentials"</A></li>
            </ul>
            <Suspense>
                {move || {
                    viewer
                        .get()
                        .and_then(|r| r.ok().flatten())
                        .filter(|v| v.is_platform_admin)
                        .map(|_| {
                            view! {
                                <p class="sidenav-head" aria-hidden="true">"Platform"</p>
                                <ul aria-label="Platform">
                                    <li><A href="/platform/stores">"Stores"</A></li>
                                    <li><A href="/platform/keys">"Master keys"</A></li>
                                    <li><A href="/platform/fx-rates">"FX rates"</A></li>
                                </ul>
                            }
                        })
                }}
            </Suspense>
        </nav>
    }
}
