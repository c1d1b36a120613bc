//! The current store's secret keys: masked list, create (secret shown once), revoke.

use leptos::prelude::*;

use super::{error_text, revealed_secret, when, with_viewer};
use crate::{
    api::{CreateApiKey, RevokeApiKey, list_api_keys},
    backend::Viewer,
};

/// API keys page.
#[component]
pub fn ApiKeys() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! {
            <section class="panel">
                <h1>"API keys"</h1>
                <p class="muted">"You are not a member of any store yet."</p>
            </section>
        }
        .into_any(),
        Some(store) => {
            view! { <KeyList store_name=store.name environment=viewer.environment/> }.into_any()
        }
    })
}

#[component]
fn KeyList(store_name: String, environment: String) -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let revealed = move || {
        revealed_secret(
            create.value().get(),
            "New key",
            ": copy it now, it will not be shown again.",
        )
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"API keys"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">"Secret keys of " {store_name} " in " {environment.clone()} "."</p>
            <ActionForm action=create attr:class="form inline-form" attr:id="create-key">
                <label>"Name" <input type="text" name="name" required maxlength="200"/></label>
                <button type="submit" class="btn primary">"Create key"</button>
            </ActionForm>
            {revealed}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    keys.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(keys) if keys.is_empty() => {
                                view! { <p class="muted">"No keys yet."</p> }.into_any()
                            }
                            Ok(keys) => {
                                view! {
                                    <table class="table" id="api-keys">
                                        <thead>
                                            <tr>
                                                <th>"Name"</th>
                                                <th>"Key"</th>
                                                <th>"Created"</th>
                                                <th>"Last used"</th>
                                                <th>"Status"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {keys
                                                .into_iter()
                                                .map(|k| {
                                                    let status = if k.revoked { "revoked" } else { "active" };
                                                    let key_id = k.id.clone();
                                                    view! {
                                                        <tr data-key-id=k.id.clone()>
                                                            <td>{k.name}</td>
                                                            <td>
                                                                <code data-testid="key-hint">{k.display_hint}</code>
                                                            </td>
                                                            <td>{when(k.created_at)}</td>
                                                            <td>{match k.last_used_at { Some(t) => when(t).into_any(), None => "never".into_any() }}</td>
                                                            <td>{status}</td>
                                                            <td>
                                                                {(!k.revoked)
                                                                    .then(|| {
                                                                        view! {
                                                                            <ActionForm action=revoke attr:class="inline">
                                                                                <input type="hidden" name="key_id" value=key_id.clone()/>
                                                                                <button type="submit" class="btn small danger">
                                                                                    "Revoke"
                                                                                </button>
                                                                            </ActionForm>
                                                                        }
                                                                    })}
                                                            </td>
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
