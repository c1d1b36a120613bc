//! Settings → Store (`/settings`): the store's name and the time zone its times are shown in;
//! owners change them, everyone else reads them. Settings → Team is in `team.rs`.

use leptos::prelude::*;

use super::{error_text, outcomes, with_viewer};
use crate::{
    api::{UpdateStoreProfile, get_store_profile},
    backend::{Viewer, settings::StoreProfileView},
};

/// Settings page.
#[component]
pub fn Settings() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! {
            <section class="panel">
                <h1>"Settings"</h1>
                <p class="muted">"Open a store first."</p>
            </section>
        }
        .into_any(),
        Some(_) => view! { <StorePanel/> }.into_any(),
    })
}

#[component]
fn StorePanel() -> impl IntoView {
    let save = ServerAction::<UpdateStoreProfile>::new();
    let profile = Resource::new(move || save.version().get(), |_| get_store_profile());
    let outcome = outcomes("settings-result", move || vec![save.value().get()]);
    view! {
        <section class="panel" id="store-settings">
            <SettingsNav current="store"/>
            <h1>"Settings → Store"</h1>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    profile.get().map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(p) => profile_form(p, save).into_any(),
                    })
                }}
            </Suspense>
        </section>
    }
}

fn profile_form(p: StoreProfileView, save: ServerAction<UpdateStoreProfile>) -> impl IntoView {
    let zones = p
        .zones
        .iter()
        .map(|z| view! { <option value=z.clone()></option> })
        .collect_view();
    let facts = view! {
        <dl class="facts">
            <dt>"Currency"</dt>
            <dd data-testid="store-currency">{p.currency.clone()}</dd>
            <dt>"Time zone"</dt>
            <dd data-testid="store-timezone">{p.timezone.clone()}</dd>
        </dl>
    };
    let form = p.can_edit.then(|| {
        view! {
            <ActionForm action=save attr:class="form" attr:id="store-profile">
                <label>"Name " <input type="text" name="name" required maxlength="200" value=p.name.clone()/></label>
                <label>
                    "Time zone "
                    <input type="text" name="timezone" required list="time-zones" value=p.timezone.clone()
                        title="An IANA name such as Europe/Berlin or America/New_York"/>
                </label>
                <datalist id="time-zones">{zones}</datalist>
                <p class="muted small">
                    "Every time in the console is shown in this zone; the API answers in UTC. "
                    "The currency stays: prices and orders are in it."
                </p>
                <button type="submit" class="btn primary">"Save"</button>
            </ActionForm>
        }
    });
    let read_only = (!p.can_edit)
        .then(|| view! { <p class="muted">"Only the store's owners change these."</p> });
    view! { {facts} {form} {read_only} }
}

/// The tabs between the settings pages; `current` is marked for screen readers too.
#[component]
pub fn SettingsNav(current: &'static str) -> impl IntoView {
    let pages = [
        ("store", "/settings", "Store"),
        ("team", "/settings/team", "Team"),
        ("shipping", "/settings/shipping", "Shipping rates"),
        ("tax-rates", "/settings/tax-rates", "Tax rates"),
    ];
    let links = pages
        .into_iter()
        .map(|(key, href, label)| {
            let here = key == current;
            view! {
                <a class=if here { "tab active" } else { "tab" } href=href aria-current=here.then_some("page")>
                    {label}
                </a>
            }
        })
        .collect_view();
    view! { <nav class="tabs" aria-label="Settings" id="settings-tabs">{links}</nav> }
}
