//! Platform admins: every store, and creating new ones.

use leptos::prelude::*;

use super::{error_text, for_platform_admins, revealed_secret, when};
use crate::api::{CreateStore, list_stores};

/// Stores page (platform admins).
#[component]
pub fn Stores() -> impl IntoView {
    for_platform_admins(
        || view! { <StoreList/> },
        "Only platform admins manage stores.",
    )
}

#[component]
fn StoreList() -> impl IntoView {
    let create = ServerAction::<CreateStore>::new();
    let stores = Resource::new(move || create.version().get(), |_| list_stores());
    let revealed = move || {
        revealed_secret(
            create.value().get(),
            "Store",
            " created. Its sandbox key, shown once:",
        )
    };
    view! {
        <section class="panel">
            <h1>"Stores"</h1>
            <ActionForm action=create attr:class="form inline-form" attr:id="create-store">
                <label>"Name" <input type="text" name="name" required maxlength="200"/></label>
                <label>
                    "Currency"
                    <input type="text" name="currency" required value="USD" maxlength="3"/>
                </label>
                <button type="submit" class="btn primary">"Create store"</button>
            </ActionForm>
            {revealed}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    stores
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(stores) => {
                                view! {
                                    <table class="table" id="stores">
                                        <thead>
                                            <tr>
                                                <th>"Name"</th>
                                                <th>"Currency"</th>
                                                <th>"Id"</th>
                                                <th>"Created"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {stores
                                                .into_iter()
                                                .map(|s| {
                                                    let store_id = s.id.clone();
                                                    view! {
                                                        <tr data-store-id=store_id>
                                                            <td>{s.name}</td>
                                                            <td>{s.currency}</td>
                                                            <td>
                                                                <code>{s.id}</code>
                                                            </td>
                                                            <td>{when(s.created_at)}</td>
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
        </section>
    }
}
