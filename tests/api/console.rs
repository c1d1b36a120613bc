//! The console is served by the same process, rendered on the server.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use cassa_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::payments::shop;

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

/// POSTs a console server function like a same-origin browser form.
pub(crate) async fn server_fn(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/console/fn/{name}")))
        .header("origin", &app.address)
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Signs the platform admin in; returns the `cassa_session=…` cookie pair.
pub(crate) async fn admin_session(app: &TestApp) -> String {
    let response = server_fn(
        app,
        "sign_in",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        "",
    )
    .await;
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cassa_session="))
        .and_then(|c| c.split(';').next())
        .expect("sign-in sets the session cookie")
        .to_owned()
}

async fn dashboard_sums_the_days_captures_and_refunds(backend: Backend) {
    let shop = shop::shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let captured = shop
        .op(&order, &intent, "capture", json!({"amount": 1000}))
        .await;
    assert_eq!(captured.status(), 200);
    let refunded = shop
        .op(&order, &intent, "refund", json!({"amount": 400}))
        .await;
    assert_eq!(refunded.status(), 200);
    let status = refunded.json::<Value>().await.unwrap()["status"].clone();

    let cookie = admin_session(&shop.app).await;
    let selected = server_fn(
        &shop.app,
        "select",
        &[("store_id", &shop.store.id)],
        &cookie,
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let response = server_fn(&shop.app, "dashboard", &[], &cookie).await;
    assert_eq!(response.status(), 200);
    let dashboard: Value = response.json().await.unwrap();
    assert_eq!(dashboard["store_name"], "Shop");
    assert_eq!(dashboard["captured_total"], "$10.00 USD");
    assert_eq!(dashboard["refunded_total"], "$4.00 USD");
    assert_eq!(dashboard["status_counts"], json!([[status, 1]]));
    let days = dashboard["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    // The test clock's day is the chart's last.
    let last = days.last().unwrap();
    assert_eq!(last["day"], "2026-01-15");
    assert_eq!(
        (last["captured"].as_i64(), last["refunded"].as_i64()),
        (Some(1000), Some(400))
    );
    assert_eq!(
        last["label"],
        "2026-01-15: captured $10.00 USD, refunded $4.00 USD"
    );
    assert!(
        days[..29]
            .iter()
            .all(|d| d["captured"] == 0 && d["refunded"] == 0)
    );
    assert_eq!(dashboard["period"], "2025-12-17 – 2026-01-15");
    assert_eq!(dashboard["previous"], "2025-11-17 – 2025-12-16");
    let metric = |d: &Value, key: &str, field: &str| {
        d["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == key)
            .unwrap()[field]
            .clone()
    };
    assert_eq!(metric(&dashboard, "volume", "current"), "$10.00 USD");
    assert_eq!(metric(&dashboard, "volume", "previous"), "$0.00 USD");
    assert_eq!(metric(&dashboard, "volume", "change"), "new");
    assert_eq!(metric(&dashboard, "payments", "current"), "1");
    assert_eq!(
        metric(&dashboard, "authorization_rate", "current"),
        "100.0%"
    );
    assert_eq!(metric(&dashboard, "refund_rate", "current"), "40.0%");
    let amount = intent["amount"].as_i64().unwrap();
    assert_eq!(
        metric(&dashboard, "average_order", "current"),
        format!("${}.{:02} USD", amount / 100, amount % 100)
    );
    // The amount axis reaches past the largest bar.
    let ticks = dashboard["ticks"].as_array().unwrap();
    assert_eq!(ticks[0]["value"], 0);
    assert!(ticks.last().unwrap()["value"].as_i64().unwrap() >= 1000);

    // A period the page offers, and one it does not (the default, 30 days).
    let week: Value = server_fn(&shop.app, "dashboard", &[("days", "7")], &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(week["days"].as_array().unwrap().len(), 7);
    assert_eq!(week["period"], "2026-01-09 – 2026-01-15");
    let odd: Value = server_fn(&shop.app, "dashboard", &[("days", "13")], &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(odd["period_days"], 30);

    // A month less an hour later, the previous period is compared only as far as the current
    // one has run (up to 11:00 of its last day): the payment, made at 12:00, is not in it yet.
    shop.app
        .clock
        .advance(chrono::Duration::days(30) - chrono::Duration::hours(1));
    let early: Value = server_fn(&shop.app, "dashboard", &[], &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(metric(&early, "volume", "current"), "$0.00 USD");
    assert_eq!(metric(&early, "volume", "previous"), "$0.00 USD");
    assert_eq!(metric(&early, "payments", "previous"), "0");
    // A month later the payment is the previous period's.
    shop.app.clock.advance(chrono::Duration::hours(1));
    let later: Value = server_fn(&shop.app, "dashboard", &[], &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(metric(&later, "volume", "current"), "$0.00 USD");
    assert_eq!(metric(&later, "volume", "previous"), "$10.00 USD");
    assert_eq!(metric(&later, "volume", "change"), "−100%");
    assert_eq!(metric(&later, "payments", "previous"), "1");
    assert_eq!(later["ticks"], json!([]));
}

/// Another router built in the same process while pages render (the tests' servers, an
/// embedding): Leptos lists the console's pages with resource loading switched off
/// process-wide, and a page whose resource started in that moment never finished (seen as
/// console pages with no answer for 30 s in parallel test runs).
async fn pages_render_while_another_router_is_built(backend: Backend) {
    let app = spawn_app(backend).await;
    let stop = Arc::new(AtomicBool::new(false));
    let builder = tokio::task::spawn_blocking({
        let state = app.state.clone();
        let stop = Arc::clone(&stop);
        move || {
            let mut built = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                drop(cassa::http::router(state.clone(), None));
                built += 1;
            }
            built
        }
    });
    let mut rendered = 0;
    for _ in 0..20 {
        let page = tokio::time::timeout(Duration::from_secs(10), async {
            app.get("/").await.text().await.unwrap()
        })
        .await;
        let Ok(html) = page else {
            break;
        };
        assert!(html.contains(">ready<"), "{html}");
        rendered += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let built = builder.await.unwrap();
    assert_eq!(rendered, 20, "a page stalled while routers were built");
    assert!(
        built > 1,
        "the pages rendered while {built} routers were built"
    );
}

both_backends!(
    pages_render_while_another_router_is_built,
    overview_renders_with_system_status,
    sign_in_placeholder_renders,
    unknown_console_page_is_an_html_404,
    dashboard_sums_the_days_captures_and_refunds,
);
