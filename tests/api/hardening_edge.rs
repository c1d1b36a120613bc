//! The edge against attackers: provider credentials cannot aim the server at other hosts
//! (SSRF), the sandbox PSP stays out of production and sends webhooks only to this server, and
//! responses carry the browser security headers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::post,
};
use cassa::{
    credentials::{self, Credentials},
    money::MinorUnits,
    providers::payment::CallContext,
    state::AppState,
    types::{Environment, StoreId},
};
use cassa_tests::{Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app_with};
use serde_json::{Value, json};
use tokio::{io::AsyncReadExt, io::AsyncWriteExt, net::TcpListener};
use uuid::Uuid;

use crate::support::assert_problem;

/// A service on loopback the server must never reach: it counts connections and answers every
/// request like a PSP that authorized, so a request that reached it would look successful.
struct Victim {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Victim {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let body = r#"{"id":"psp_pay_victim","status":"authorized","amount":1000,"captured_amount":0,"refunded_amount":0}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn ctx(key: &str) -> CallContext {
    CallContext {
        idempotency_key: key.to_owned(),
        correlation_id: format!("req-{key}"),
        reference: None,
        audit: None,
    }
}

fn sandbox_secrets(base_url: &str) -> Credentials {
    Credentials::new("sandbox")
        .with("api_key", Some("sbx_hardening_0123456789abcdef".to_owned()))
        .with(
            "webhook_secret",
            Some("whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3".to_owned()),
        )
        .with("base_url", Some(base_url.to_owned()))
}

async fn put_credentials(app: &TestApp, store: &TestStore, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/admin/credentials/sandbox/sandbox"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Fake providers mounted on this server (the one host the allow-list admits by default):
/// one redirects to the victim, one answers a body far larger than any provider answer.
fn fake_providers(victim_port: u16) -> Router<AppState> {
    Router::new()
        .route(
            "/fake-psp/redirect/v1/payments",
            post(move || async move {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(
                        header::LOCATION,
                        format!("http://127.0.0.1:{victim_port}/v1/payments"),
                    )],
                )
            }),
        )
        .route(
            "/fake-psp/huge/v1/payments",
            post(|| async {
                let padding = "x".repeat(4 * 1024 * 1024);
                let body = format!(
                    r#"{{"id":"psp_pay_huge","status":"authorized","amount":1000,"pad":"{padding}"}}"#
                );
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        )
}

async fn app_with_fakes(backend: Backend, victim: &Victim) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(fake_providers(victim.port)),
            ..Default::default()
        },
    )
    .await
}

async fn stores_cannot_aim_the_provider_client_at_other_hosts(backend: Backend) {
    let victim = Victim::start().await;
    let app = app_with_fakes(backend, &victim).await;
    let store = app.create_store("Shop", "USD").await;
    let store_id: StoreId = store.id.parse().unwrap();

    // Through the API: loopback services, cloud metadata and private hosts are refused.
    for target in [
        format!("http://127.0.0.1:{}", victim.port),
        format!("http://localhost:{}", victim.port),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.7:8080".to_owned(),
        "http://[::1]:80".to_owned(),
    ] {
        let response = put_credentials(
            &app,
            &store,
            json!({"api_key": "sbx_hardening_0123456789abcdef",
                "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
                "base_url": target}),
        )
        .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["field"], "base_url", "{target}");
    }

    // The service every writer goes through (API and console) refuses it too, and a client
    // is never built for such a stored URL.
    let direct = credentials::put(
        &app.state,
        store_id,
        Environment::Sandbox,
        &sandbox_secrets(&format!("http://127.0.0.1:{}", victim.port)),
    )
    .await;
    assert!(direct.is_err(), "a loopback base_url was stored");
    let client = cassa_tests::sandbox_client(
        &app.state,
        store_id,
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let _ = client
        .authorize(
            &ctx("victim"),
            MinorUnits(1000),
            "USD",
            "pm_card_visa",
            None,
        )
        .await;

    // The server's own PSP stays allowed.
    let own = put_credentials(
        &app,
        &store,
        json!({"api_key": "sbx_hardening_0123456789abcdef",
            "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
            "base_url": app.url("/sandbox-psp")}),
    )
    .await;
    assert_eq!(own.status(), 200);
    let client = cassa_tests::sandbox_client(
        &app.state,
        store_id,
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let paid = client
        .authorize(&ctx("own"), MinorUnits(1000), "USD", "pm_card_visa", None)
        .await
        .unwrap();
    assert_eq!(paid.status, "authorized");

    // A redirect from an allowed host is not followed.
    let redirecting = put_credentials(
        &app,
        &store,
        json!({"api_key": "sbx_hardening_0123456789abcdef",
            "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
            "base_url": app.url("/api/v1/fake-psp/redirect")}),
    )
    .await;
    assert_eq!(redirecting.status(), 200);
    let client = cassa_tests::sandbox_client(
        &app.state,
        store_id,
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let redirected = client
        .authorize(
            &ctx("redirect"),
            MinorUnits(1000),
            "USD",
            "pm_card_visa",
            None,
        )
        .await;
    assert!(redirected.is_err(), "{redirected:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        victim.hits(),
        0,
        "the server connected to a loopback service"
    );
}

async fn provider_answers_are_read_up_to_a_cap(backend: Backend) {
    let victim = Victim::start().await;
    let app = app_with_fakes(backend, &victim).await;
    let store = app.create_store("Shop", "USD").await;
    let response = put_credentials(
        &app,
        &store,
        json!({"api_key": "sbx_hardening_0123456789abcdef",
            "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
            "base_url": app.url("/api/v1/fake-psp/huge")}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let client = cassa_tests::sandbox_client(
        &app.state,
        store.id.parse().unwrap(),
        Environment::Sandbox,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let result = client
        .authorize(&ctx("huge"), MinorUnits(1000), "USD", "pm_card_visa", None)
        .await;
    // An answer too large to read is not an answer: the outcome stays open, never guessed.
    assert!(
        matches!(
            result,
            Err(cassa::providers::payment::ProviderError::UnknownOutcome(_))
        ),
        "{result:?}"
    );
    let longest: i64 = cassa::on_db!(&app.db, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(LENGTH(response_body)), 0) AS BIGINT) FROM provider_call_audit")
        .fetch_one(pool).await)
    .unwrap();
    assert!(
        longest <= 1024 * 1024,
        "{longest} bytes kept of a provider answer"
    );
}

async fn the_sandbox_psp_sends_webhooks_only_to_this_server(backend: Backend) {
    let victim = Victim::start().await;
    let app = spawn_app_with(backend, SpawnOptions::default()).await;
    let store = app.create_store("Shop", "USD").await;
    const KEY: &str = "sbx_webhook_target_0123456789abcdef";
    let register = |url: String| {
        app.client
            .put(app.url("/sandbox-psp/v1/webhook_endpoint"))
            .bearer_auth(KEY)
            .json(&json!({"url": url, "secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3"}))
            .send()
    };
    for url in [
        format!("http://127.0.0.1:{}/hook", victim.port),
        "http://169.254.169.254/latest".to_owned(),
        app.url("/api/v1/admin/api-keys"),
        app.url("/api/v1/webhooks/sandbox/not-a-store"),
    ] {
        let response = register(url.clone()).await.unwrap();
        assert_eq!(response.status(), 422, "{url} was accepted");
    }
    let own = register(app.url(&format!("/api/v1/webhooks/sandbox/{}", store.id)))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // An endpoint stored earlier (before this rule) is not delivered to either.
    cassa::on_db!(&app.db, pool => sqlx::query("UPDATE sandbox_psp_endpoints SET url = $1")
        .bind(format!("http://127.0.0.1:{}/hook", victim.port))
        .execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
    let psp = |path: &str, body: Value| {
        app.client
            .post(app.url(&format!("/sandbox-psp/v1{path}")))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let payment: Value = psp(
        "/payments",
        json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = payment["id"].as_str().unwrap();
    let captured = psp(&format!("/payments/{id}/capture"), json!({}))
        .await
        .unwrap();
    assert_eq!(captured.status(), 200);
    let refunded = psp(&format!("/payments/{id}/refunds"), json!({"amount": 500}))
        .await
        .unwrap();
    assert!(refunded.status().is_success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        victim.hits(),
        0,
        "the PSP delivered a webhook to a loopback service"
    );
}

async fn the_sandbox_psp_is_not_mounted_in_production(backend: Backend) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|c| {
                c.run_mode = cassa::config::RunMode::Production;
            })),
            ..Default::default()
        },
    )
    .await;
    let response = app
        .client
        .post(app.url("/sandbox-psp/v1/payments"))
        .bearer_auth("sbx_production_probe_0123456789")
        .json(&json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = app.get("/sandbox-psp/v1/payments/psp_pay_x").await;
    assert_eq!(response.status(), 404);
}

async fn allowed_names_that_resolve_to_internal_addresses_are_refused_at_connect(backend: Backend) {
    let victim = Victim::start().await;
    let port = victim.port;
    // An operator allows a name that resolves to loopback (a mistake, or DNS re-pointed later):
    // the name passes the allow-list, the connection does not.
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| {
                c.provider_allowed_hosts = vec![format!("localhost:{port}"), "127.0.0.1".into()];
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    let response = put_credentials(
        &app,
        &store,
        json!({"api_key": "sbx_hardening_0123456789abcdef",
            "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
            "base_url": format!("http://localhost:{port}")}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let client = cassa_tests::sandbox_client(
        &app.state,
        store.id.parse().unwrap(),
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let result = client
        .authorize(&ctx("dns"), MinorUnits(1000), "USD", "pm_card_visa", None)
        .await;
    assert!(result.is_err(), "{result:?}");
    // An allowed IP literal is still judged by its address.
    let response = put_credentials(
        &app,
        &store,
        json!({"api_key": "sbx_hardening_0123456789abcdef",
            "webhook_secret": "whsec_aGFyZGVuaW5nLXRlc3Qtc2VjcmV0LTAxMjM0NTY3",
            "base_url": format!("http://127.0.0.1:{port}")}),
    )
    .await;
    assert_problem(response, 422, "validation_failed").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        victim.hits(),
        0,
        "the server connected to a loopback service"
    );
}

async fn metrics_can_require_a_token_or_move_to_their_own_address(backend: Backend) {
    let app = spawn_app_with(
        backend.clone(),
        SpawnOptions {
            configure: Some(Box::new(|c| {
                c.metrics_token = Some("metrics-token-for-tests".to_owned().into());
            })),
            ..Default::default()
        },
    )
    .await;
    assert_problem(app.get("/metrics").await, 401, "unauthorized").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-for-test")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "unauthorized").await;
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("http_requests_total"));

    // A free port for the metrics listener (bound, released, then configured).
    let metrics_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| c.metrics_addr = Some(metrics_addr))),
            ..Default::default()
        },
    )
    .await;
    assert_problem(app.get("/metrics").await, 404, "not_found").await;
    let dedicated = app
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(dedicated.status(), 200);
    let other = app
        .client
        .get(format!("http://{metrics_addr}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn console_pages_carry_the_browser_security_headers(backend: Backend) {
    let app = spawn_app_with(backend, SpawnOptions::default()).await;
    for path in ["/", "/sign-in", "/no/such/page"] {
        let response = app.get(path).await;
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        let csp = header(&response, "content-security-policy").to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{csp}");
        // The inline hydration script runs because its nonce is the policy's, fresh per page.
        let html = response.text().await.unwrap();
        let nonce = html
            .split("<script type=\"module\" nonce=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the hydration script carries a nonce");
        assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
        // No inline script of the page runs without it (resource data, streaming chunks).
        for tag in html.split("<script").skip(1) {
            let open_tag = tag.split('>').next().unwrap_or_default();
            assert!(
                open_tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: <script{open_tag}>"
            );
        }
        let again = app.get(path).await;
        assert!(!header(&again, "content-security-policy").contains(nonce));
    }
    // Over plain HTTP on loopback there is no TLS to pin.
    let response = app.get("/").await;
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

async fn answers_that_carry_secrets_are_never_cached(backend: Backend) {
    let app = spawn_app_with(backend, SpawnOptions::default()).await;
    let no_store = |response: &reqwest::Response, what: &str| {
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
        assert_eq!(header(response, "cache-control"), "no-store", "{what}");
    };
    let token = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": cassa_tests::ADMIN_EMAIL, "password": cassa_tests::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    no_store(&token, "user token");
    let admin = app.admin_token().await;
    let created = app
        .client
        .post(app.url("/api/v1/platform/stores"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Shop", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    no_store(&created, "store creation");
    let store: Value = created.json().await.unwrap();
    let key = store["sandbox_secret_key"].as_str().unwrap().to_owned();

    let owner = app
        .create_owner(
            &TestStore {
                id: store["id"].as_str().unwrap().to_owned(),
                sandbox_key: key.clone(),
            },
            "owner@shop.test",
        )
        .await;
    let idempotency = Uuid::now_v7().to_string();
    let create_key = || {
        app.client
            .post(app.url("/api/v1/admin/api-keys"))
            .bearer_auth(&owner)
            .header("cassa-store", store["id"].as_str().unwrap())
            .header("idempotency-key", &idempotency)
            .json(&json!({"name": "second"}))
            .send()
    };
    no_store(&create_key().await.unwrap(), "api key creation");
    let replay = create_key().await.unwrap();
    assert_eq!(header(&replay, "idempotent-replayed"), "true");
    no_store(&replay, "api key creation, replayed");

    let customer: Value = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(&key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer_token = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/customers/{}/tokens",
            customer["id"].as_str().unwrap()
        )))
        .bearer_auth(&key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    no_store(&customer_token, "customer token");
    let credentials = app
        .client
        .get(app.url("/api/v1/admin/credentials"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    no_store(&credentials, "credential listing");
    // Console server functions answer with secrets too (a new store's key, a new API key).
    let console = app
        .client
        .post(app.url("/console/fn/viewer"))
        .header("origin", &app.address)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(header(&console, "cache-control"), "no-store");
}

async fn production_forces_a_secure_host_only_session_cookie_and_hsts(backend: Backend) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|c| {
                c.run_mode = cassa::config::RunMode::Production;
                // Even an explicit opt-out does not weaken the cookie in production.
                c.cookie_secure = cassa::config::CookieSecure::False;
            })),
            ..Default::default()
        },
    )
    .await;
    let response = app
        .client
        .post(app.url("/console/fn/sign_in"))
        .header("origin", &app.address)
        .form(&[
            ("email", cassa_tests::ADMIN_EMAIL),
            ("password", cassa_tests::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("cassa_session="))
        .expect("sign-in sets the session cookie")
        .to_owned();
    assert!(cookie.starts_with("__Host-cassa_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let hsts = header(&response, "strict-transport-security");
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");
    let page = app.get("/sign-in").await;
    assert!(header(&page, "strict-transport-security").starts_with("max-age="));
}

both_backends!(
    stores_cannot_aim_the_provider_client_at_other_hosts,
    provider_answers_are_read_up_to_a_cap,
    the_sandbox_psp_sends_webhooks_only_to_this_server,
    the_sandbox_psp_is_not_mounted_in_production,
    console_pages_carry_the_browser_security_headers,
    answers_that_carry_secrets_are_never_cached,
    production_forces_a_secure_host_only_session_cookie_and_hsts,
    allowed_names_that_resolve_to_internal_addresses_are_refused_at_connect,
    metrics_can_require_a_token_or_move_to_their_own_address,
);
