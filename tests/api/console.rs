//! The console is served by the same process, rendered on the server.

use cassa_tests::{Backend, both_backends, spawn_app};

async fn overview_renders_with_system_status(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Cassa console</title>"), "{html}");
    assert!(html.contains(r#"href="/pkg/cassa.css""#));
    assert!(html.contains("/pkg/cassa.js"), "hydration script missing");
    // Async SSR: the status is in the HTML itself, readable without JavaScript.
    assert!(
        html.contains(&format!(
            r#"data-testid="database-backend">{}<"#,
            backend.name()
        )),
        "{html}"
    );
    assert!(html.contains(">ready<"), "{html}");
}

async fn sign_in_placeholder_renders(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/sign-in").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign in"));
    assert!(html.contains(r#"type="password""#));
}

async fn unknown_console_page_is_an_html_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

both_backends!(
    overview_renders_with_system_status,
    sign_in_placeholder_renders,
    unknown_console_page_is_an_html_404,
);
