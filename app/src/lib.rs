//! The Cassa console: a Leptos app rendered on the server and hydrated in the browser.
//!
//! `app` never depends on the server crate. Server functions reach the domain through
//! [`backend::ConsoleBackend`], which the server implements and provides as Leptos context
//! (the hexagonal pattern of Leptos' own examples).

pub mod api;
pub mod backend;
mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
    path,
};

pub use backend::SystemStatus;

/// The console's Content-Security-Policy. Scripts: the compiled module from this origin, the
/// inline hydration and resource scripts Leptos marks with the response's `nonce` (leptos_axum
/// makes a fresh one per response), and WebAssembly compilation (`'wasm-unsafe-eval'`, which
/// allows no JavaScript `eval`). No inline style, no plugins, no framing, no `<base>`.
/// Without a nonce (responses that are not pages) no inline script runs at all.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    // `cargo leptos watch` reloads pages over a WebSocket on its own port.
    let reload = if cfg!(feature = "ssr") && std::env::var_os("LEPTOS_WATCH").is_some() {
        " ws: wss:"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sends the page's Content-Security-Policy with the nonce its inline scripts carry. Every
/// route renders in `SsrMode::Async`, so headers set while rendering reach the response.
#[cfg(feature = "ssr")]
fn send_content_security_policy() {
    let nonce = leptos::nonce::use_nonce();
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let policy = content_security_policy(nonce.as_deref());
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The HTML document around the app; used by the server for SSR.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    send_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The console: layout plus routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Effects run only in the browser, so this marks the moment hydration finished; end-to-end
    // tests wait for it before they interact with the page.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/cassa.css"/>
        <Title text="Cassa console"/>
        <Router>
            <div class="layout">
                <pages::layout::TopBar/>
                <main class="content">
                    // Async SSR: the essential reads must work without JavaScript.
                    <Routes fallback=pages::NotFound>
                        <Route path=StaticSegment("") view=pages::Overview ssr=SsrMode::Async/>
                        <Route path=path!("/sign-in") view=pages::SignIn ssr=SsrMode::Async/>
                        <Route path=path!("/password") view=pages::Password ssr=SsrMode::Async/>
                        <Route path=path!("/api-keys") view=pages::ApiKeys ssr=SsrMode::Async/>
                        <Route path=path!("/settings") view=pages::Settings ssr=SsrMode::Async/>
                        <Route path=path!("/settings/shipping") view=pages::ShippingRates ssr=SsrMode::Async/>
                        <Route path=path!("/settings/tax-rates") view=pages::TaxRates ssr=SsrMode::Async/>
                        <Route path=path!("/settings/team") view=pages::Team ssr=SsrMode::Async/>
                        <Route path=path!("/credentials") view=pages::Credentials ssr=SsrMode::Async/>
                        <Route path=path!("/payments") view=pages::Payments ssr=SsrMode::Async/>
                        <Route path=path!("/orders") view=pages::Orders ssr=SsrMode::Async/>
                        <Route path=path!("/catalogue") view=pages::Catalogue ssr=SsrMode::Async/>
                        <Route path=path!("/orders/:id") view=pages::OrderDetail ssr=SsrMode::Async/>
                        <Route path=path!("/customers") view=pages::Customers ssr=SsrMode::Async/>
                        <Route path=path!("/customers/:id") view=pages::CustomerDetail ssr=SsrMode::Async/>
                        <Route path=path!("/disputes") view=pages::Disputes ssr=SsrMode::Async/>
                        <Route path=path!("/shipments") view=pages::Shipments ssr=SsrMode::Async/>
                        <Route path=path!("/tax") view=pages::Tax ssr=SsrMode::Async/>
                        <Route path=path!("/reconciliation") view=pages::Reconciliation ssr=SsrMode::Async/>
                        <Route path=path!("/webhooks") view=pages::Webhooks ssr=SsrMode::Async/>
                        <Route
                            path=path!("/developers/webhooks")
                            view=pages::WebhookEndpoints
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/platform/keys") view=pages::Keys ssr=SsrMode::Async/>
                        <Route path=path!("/platform/fx-rates") view=pages::FxRates ssr=SsrMode::Async/>
                        <Route
                            path=path!("/platform/stores")
                            view=pages::Stores
                            ssr=SsrMode::Async
                        />
                    </Routes>
                </main>
                <footer class="footer">"Cassa payments platform"</footer>
            </div>
        </Router>
    }
}
