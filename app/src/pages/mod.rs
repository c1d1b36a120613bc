//! Console pages.

mod api_keys;
mod catalogue;
mod credentials;
mod customers;
mod dashboard;
mod disputes;
mod fx_rates;
mod keys;
pub mod layout;
mod orders;
mod overview;
mod password;
mod payments;
mod providers;
mod rates;
mod reconciliation;
mod settings;
mod shipments;
mod sign_in;
mod stores;
mod tax;
mod team;
mod webhook_endpoints;
mod webhooks;

pub use api_keys::ApiKeys;
pub use catalogue::Catalogue;
pub use credentials::Credentials;
pub use customers::{CustomerDetail, Customers};
pub use disputes::Disputes;
pub use fx_rates::FxRates;
pub use keys::Keys;
pub use orders::Orders;
pub use overview::{NotFound, Overview};
pub use password::Password;
pub use payments::{OrderDetail, Payments};
pub use rates::{ShippingRates, TaxRates};
pub use reconciliation::Reconciliation;
pub use settings::Settings;
pub use shipments::{OrderShipping, Shipments};
pub use sign_in::SignIn;
pub use stores::Stores;
pub use tax::Tax;
pub use team::Team;
pub use webhook_endpoints::WebhookEndpoints;
pub use webhooks::Webhooks;

use leptos::prelude::*;

use crate::backend::{RevealedSecret, Stamp, Viewer};

/// The viewer resource provided by the top bar, refetched on every navigation.
pub type ViewerResource = Resource<Result<Option<Viewer>, ServerFnError>>;

/// Renders `signed_in` with the viewer, or a prompt to sign in; a user who must change their
/// password is sent to the password page (the server refuses everything else meanwhile).
pub fn with_viewer<V: IntoView + 'static>(
    render: impl Fn(Viewer) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    let viewer = expect_context::<ViewerResource>();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {
                let render = render.clone();
                move || {
                    let render = render.clone();
                    viewer
                        .get()
                        .map(move |result| match result {
                            Ok(Some(v)) if v.must_change_password => {
                                view! { <leptos_router::components::Redirect path="/password"/> }
                                    .into_any()
                            }
                            Ok(Some(v)) => render(v).into_any(),
                            Ok(None) => {
                                view! {
                                    <section class="panel narrow">
                                        <p>"You are signed out."</p>
                                        <a class="btn primary" href="/sign-in">"Sign in"</a>
                                    </section>
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        })
                }
            }
        </Suspense>
    }
}

/// Renders `page` for platform admins; everyone else sees why not. The server functions
/// behind such pages check the role again: this only spares a page of errors.
pub fn for_platform_admins<V: IntoView + 'static>(
    page: fn() -> V,
    refusal: &'static str,
) -> impl IntoView {
    with_viewer(move |viewer: Viewer| {
        if viewer.is_platform_admin {
            page().into_any()
        } else {
            view! { <p class="error">{refusal}</p> }.into_any()
        }
    })
}

/// An instant as people read it: the store's local time to the minute and how long ago, the
/// exact value on hover (and in `datetime` for machines).
pub fn when(stamp: Stamp) -> impl IntoView {
    let relative = stamp
        .relative
        .map(|r| view! { <span class="muted small">" · " {r}</span> });
    view! {
        <time datetime=stamp.exact.clone() title=stamp.exact>
            {stamp.text}
            {relative}
        </time>
    }
}

/// A long id shortened to its last characters for the eye, whole for screen readers, search
/// and copy: the full value is in the tooltip and a Copy button puts it on the clipboard. The
/// end, not the start: our ids are UUIDv7, whose first characters are the time they were made,
/// the same for everything made in the same minutes.
#[component]
pub fn ShortId(id: String, #[prop(default = "id")] what: &'static str) -> impl IntoView {
    let count = id.chars().count();
    let short: String = id.chars().skip(count.saturating_sub(8)).collect();
    let copied = RwSignal::new(false);
    let full = id.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            // The promise is not awaited: the button says "Copied" once the call is made.
            let _ = window().navigator().clipboard().write_text(&full);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &full;
        copied.set(true);
    };
    view! {
        <span class="short-id">
            <code title=id.clone()>
                <span aria-hidden="true">"…" {short}</span>
                <span class="visually-hidden">{id.clone()}</span>
            </code>
            <button type="button" class="copy" aria-label=format!("Copy the {what}") on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </span>
    }
}

/// An error message from a server function, without the framework's prefix.
pub fn error_text(err: &ServerFnError) -> String {
    match err {
        ServerFnError::ServerError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// The outcome of an action that creates a secret: the secret, shown this once, or the error.
pub fn revealed_secret(
    result: Option<Result<RevealedSecret, ServerFnError>>,
    intro: &'static str,
    outro: &'static str,
) -> impl IntoView {
    result.map(|result| match result {
        Ok(secret) => view! {
            <div class="reveal" data-testid="revealed-secret">
                <p>{intro} " " <strong>{secret.label}</strong> {outro}</p>
                <code data-testid="secret">{secret.secret}</code>
            </div>
        }
        .into_any(),
        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
    })
}

/// What a page's actions left: each one's confirmation or error (marked `testid` for the tests),
/// in the order given.
pub fn outcomes(
    testid: &'static str,
    results: impl Fn() -> Vec<Option<Result<String, ServerFnError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        results()
            .into_iter()
            .flatten()
            .map(|result| match result {
                Ok(msg) => view! { <p class="ok-note" role="status" data-testid=testid>{msg}</p> }
                    .into_any(),
                Err(e) => {
                    view! { <p class="error" role="alert" data-testid=testid>{error_text(&e)}</p> }
                        .into_any()
                }
            })
            .collect_view()
    }
}
