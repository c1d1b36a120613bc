//! Landing page and the 404 page.

use leptos::prelude::*;

use crate::{api::get_system_status, backend::SystemStatus};

/// Landing page of the console.
#[component]
pub fn Overview() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_system_status());
    let refresh = move |_| status.refetch();

    view! {
        <section class="panel">
            <h1>"Overview"</h1>
            <p class="muted">
                "Merchants run their stores here; platform admins manage tenants and keys."
            </p>
        </section>
        <super::dashboard::StoreDashboard/>
        <section class="panel" id="system-status">
            <div class="panel-head">
                <h2>"System status"</h2>
                <button type="button" class="btn" id="refresh-status" on:click=refresh>
                    "Refresh"
                </button>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    status
                        .get()
                        .map(|result| match result {
                            Ok(s) => view! { <StatusTable status=s/> }.into_any(),
                            Err(e) => {
                                view! { <p class="error">"Status unavailable: " {e.to_string()}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn StatusTable(status: SystemStatus) -> impl IntoView {
    let (badge_class, badge_text) = if status.database_ready {
        ("badge ok", "ready")
    } else {
        ("badge bad", "unreachable")
    };
    view! {
        <dl class="facts">
            <dt>"Version"</dt>
            <dd data-testid="version">{status.version}</dd>
            <dt>"Database"</dt>
            <dd data-testid="database-backend">{status.database_backend}</dd>
            <dt>"Database status"</dt>
            <dd>
                <span class=badge_class data-testid="database-ready">
                    {badge_text}
                </span>
            </dd>
            <dt>"Migrations applied"</dt>
            <dd data-testid="migrations">{status.migrations_applied}</dd>
        </dl>
    }
}

/// Shown for unknown console paths, with a 404 status during SSR.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>
                <a href="/">"Back to the overview"</a>
            </p>
        </section>
    }
}
