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

/// The HTML document around the app; used by the server for SSR.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
                        <Route path=path!("/credentials") view=pages::Credentials ssr=SsrMode::Async/>
                        <Route path=path!("/payments") view=pages::Payments ssr=SsrMode::Async/>
                        <Route path=path!("/orders/:id") view=pages::OrderDetail ssr=SsrMode::Async/>
                        <Route path=path!("/webhooks") view=pages::Webhooks ssr=SsrMode::Async/>
                        <Route path=path!("/platform/keys") view=pages::Keys ssr=SsrMode::Async/>
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
