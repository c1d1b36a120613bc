//! `GET /api/v1/admin/credentials/{provider}/connection`: the provider says who a store's
//! stored credentials belong to (the sandbox PSP and the local Stripe-shaped server), a refused
//! key and an unreachable provider are told apart, only the caller's store and environment are
//! ever used, and production secrets are the owners'.

use std::sync::Arc;

use cassa::providers::{registry::PaymentRegistry, sandbox::SandboxAdapter, stripe::StripeAdapter};
use cassa_tests::{
    Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app, spawn_app_with,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{assert_problem, json_of, send};
use crate::support::{console_fn as server_fn, console_sign_in};

use crate::stripe::server::{SECRET_KEY, StripeServer, VERSION};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STAFF_PASSWORD: &str = "staff-password-123";

fn connection(provider: &str) -> String {
    format!("/api/v1/admin/credentials/{provider}/connection")
}

/// GET as a store key (its own environment).
async fn check(app: &TestApp, token: &str, provider: &str) -> reqwest::Response {
    send(app, Method::GET, token, &connection(provider), None).await
}

/// GET as a console user's token in `store` and `environment`.
async fn check_as_user(
    app: &TestApp,
    token: &str,
    store: &TestStore,
    environment: &str,
    provider: &str,
) -> reqwest::Response {
    app.client
        .get(app.url(&connection(provider)))
        .bearer_auth(token)
        .header("cassa-store", &store.id)
        .header("cassa-environment", environment)
        .send()
        .await
        .unwrap()
}

async fn put_credentials(app: &TestApp, token: &str, path: &str, body: Value) {
    json_of(send(app, Method::PUT, token, path, Some(body)).await, 200).await;
}

async fn add_staff(app: &TestApp, store: &TestStore, email: &str) -> String {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/platform/stores/{}/users", store.id)))
        .bearer_auth(&admin)
        .json(&json!({"email": email, "role": "staff", "password": STAFF_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    app.user_token(email, STAFF_PASSWORD).await
}

/// Audit rows of connection checks (one per attempt).
async fn audited(app: &TestApp) -> Vec<(String, String)> {
    const SQL: &str = "SELECT provider, response_body FROM provider_call_audit \
        WHERE operation = 'check_connection' ORDER BY id";
    cassa::on_db!(&app.db, pool => sqlx::query_as(SQL).fetch_all(pool).await).unwrap()
}

async fn the_sandbox_psp_names_the_account_of_the_stores_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let checked = json_of(check(&app, &store.sandbox_key, "sandbox").await, 200).await;
    assert_eq!(checked["provider"], "sandbox");
    assert_eq!(checked["environment"], "sandbox");
    let account = &checked["account"];
    let id = account["id"].as_str().unwrap();
    assert!(id.starts_with("acct_sbx_"), "{checked}");
    assert_eq!(account["name"], "Sandbox PSP test account");
    assert_eq!(account["country"], "US");
    assert_eq!(account["default_currency"], "USD");
    assert_eq!(account["charges_enabled"], true);
    assert!(checked["checked_at"].is_string(), "{checked}");
    // The generated key is the account: another store's is another account.
    let other = app.create_store("Other", "USD").await;
    let theirs = json_of(check(&app, &other.sandbox_key, "sandbox").await, 200).await;
    assert_ne!(theirs["account"]["id"], id);
    // Audited like any provider call, nothing moved.
    let rows = audited(&app).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|(provider, _)| provider == "sandbox"));

    // A provider this server does not know, and one the store holds nothing for.
    assert_problem(
        check(&app, &store.sandbox_key, "paypal").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        check(&app, &store.sandbox_key, "stripe").await,
        404,
        "not_found",
    )
    .await;
}

async fn a_refused_key_and_an_unreachable_provider_are_told_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let path = "/api/v1/admin/credentials/sandbox/sandbox";
    let wrong = "key_not_for_this_psp_0123456789";
    put_credentials(
        &app,
        &store.sandbox_key,
        path,
        json!({"api_key": wrong, "webhook_secret": WEBHOOK_SECRET}),
    )
    .await;
    let response = check(&app, &store.sandbox_key, "sandbox").await;
    let problem = assert_problem(response, 422, "provider_auth_failed").await;
    assert!(!problem.to_string().contains(wrong), "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("authentication_failed"),
        "{problem}"
    );

    // The PSP's documented outage account: down, not refused.
    put_credentials(
        &app,
        &store.sandbox_key,
        path,
        json!({"api_key": "sbx_outage_0123456789abcdef", "webhook_secret": WEBHOOK_SECRET}),
    )
    .await;
    let response = check(&app, &store.sandbox_key, "sandbox").await;
    assert_problem(response, 503, "provider_unavailable").await;
}

async fn only_the_callers_store_and_environment_are_used(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_store("A", "USD").await;
    let b = app.create_store("B", "USD").await;
    // B removes its credentials: A's are never used in their place.
    let response = send(
        &app,
        Method::DELETE,
        &b.sandbox_key,
        "/api/v1/admin/credentials/sandbox/sandbox",
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_problem(
        check(&app, &b.sandbox_key, "sandbox").await,
        404,
        "not_found",
    )
    .await;
    json_of(check(&app, &a.sandbox_key, "sandbox").await, 200).await;

    // Production has no credentials until an owner stores some: sandbox's are not used.
    let owner = app.create_owner(&a, "owner@a.test").await;
    let response = check_as_user(&app, &owner, &a, "production", "sandbox").await;
    assert_problem(response, 404, "not_found").await;
    let live_key = app.create_live_key(&a, &owner).await;
    assert_problem(check(&app, &live_key, "sandbox").await, 404, "not_found").await;
    put_credentials(
        &app,
        &live_key,
        "/api/v1/admin/credentials/sandbox/production",
        json!({"api_key": "sbx_production_account_0123456789", "webhook_secret": WEBHOOK_SECRET}),
    )
    .await;
    let production = json_of(check(&app, &live_key, "sandbox").await, 200).await;
    assert_eq!(production["environment"], "production");
    let sandbox = json_of(check(&app, &a.sandbox_key, "sandbox").await, 200).await;
    assert_ne!(production["account"]["id"], sandbox["account"]["id"]);
    let by_owner = check_as_user(&app, &owner, &a, "production", "sandbox").await;
    assert_eq!(
        json_of(by_owner, 200).await["account"]["id"],
        production["account"]["id"]
    );
}

async fn production_secrets_are_checked_by_owners_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live_key = app.create_live_key(&store, &owner).await;
    put_credentials(
        &app,
        &live_key,
        "/api/v1/admin/credentials/sandbox/production",
        json!({"api_key": "sbx_production_account_0123456789", "webhook_secret": WEBHOOK_SECRET}),
    )
    .await;
    let staff = add_staff(&app, &store, "staff@shop.test").await;
    let response = check_as_user(&app, &staff, &store, "production", "sandbox").await;
    assert_problem(response, 403, "forbidden").await;
    assert!(audited(&app).await.is_empty(), "nothing was sent");
    // Sandbox is the staff's day-to-day.
    let response = check_as_user(&app, &staff, &store, "sandbox", "sandbox").await;
    json_of(response, 200).await;
    // A stranger's token sees no such store at all.
    let stranger = add_staff(&app, &app.create_store("Other", "USD").await, "s@o.test").await;
    let response = check_as_user(&app, &stranger, &store, "sandbox", "sandbox").await;
    assert!(
        matches!(response.status().as_u16(), 403 | 404),
        "{}",
        response.status()
    );
}

/// A server whose Stripe is the local Stripe-shaped server (under `/api/v1/stripe`).
async fn stripe_app(backend: Backend) -> (TestApp, StripeServer) {
    let stripe = StripeServer::default();
    let registry = PaymentRegistry::new(cassa::providers::sandbox::NAME)
        .register(Arc::new(SandboxAdapter))
        .register(Arc::new(StripeAdapter::new("/api/v1/stripe")));
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            payment_providers: Some(registry),
            extra_api: Some(stripe.router("/stripe")),
            ..Default::default()
        },
    )
    .await;
    (app, stripe)
}

async fn put_stripe(app: &TestApp, store: &TestStore, secret_key: &str, account: Option<&str>) {
    put_credentials(
        app,
        &store.sandbox_key,
        "/api/v1/admin/credentials/stripe/sandbox",
        json!({"secret_key": secret_key, "webhook_secret": "whsec_c3RyaXBlLXRlc3Qtc2VjcmV0",
            "account_id": account}),
    )
    .await;
}

async fn stripe_names_the_platform_or_the_connect_account(backend: Backend) {
    let (app, stripe) = stripe_app(backend).await;
    let store = app.create_store("Stripe shop", "USD").await;
    put_stripe(&app, &store, SECRET_KEY, None).await;
    let checked = json_of(check(&app, &store.sandbox_key, "stripe").await, 200).await;
    assert_eq!(
        checked["account"],
        json!({"id": "acct_1CassaPlatform", "name": "Stripe shop", "country": "US",
            "default_currency": "USD", "charges_enabled": true})
    );
    assert_eq!(checked["provider"], "stripe");
    let seen = stripe.seen();
    let asked = seen.last().unwrap();
    assert_eq!(
        (asked.method.as_str(), asked.path.as_str()),
        ("GET", "/v1/account")
    );
    assert_eq!(asked.version.as_deref(), Some(VERSION));
    assert_eq!(asked.account, None);

    put_stripe(&app, &store, SECRET_KEY, Some("acct_1Connected")).await;
    let checked = json_of(check(&app, &store.sandbox_key, "stripe").await, 200).await;
    assert_eq!(checked["account"]["id"], "acct_1Connected");
    assert_eq!(
        stripe.seen().last().unwrap().account.as_deref(),
        Some("acct_1Connected")
    );
    // The audit keeps the account's id and name, not its owner's email.
    let rows = audited(&app).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|(p, body)| p == "stripe"
        && body.contains("acct_")
        && !body.contains("owner@stripe-shop.test")));
    // Choosing Stripe for new payments is possible once it answers.
    let chosen = send(
        &app,
        Method::PUT,
        &store.sandbox_key,
        "/api/v1/admin/payment-provider",
        Some(json!({"provider": "stripe"})),
    )
    .await;
    assert_eq!(json_of(chosen, 200).await["provider"], "stripe");
}

async fn stripe_refusing_the_key_is_provider_auth_failed(backend: Backend) {
    let (app, stripe) = stripe_app(backend).await;
    let store = app.create_store("Stripe shop", "USD").await;
    let wrong = "sk_test_revoked_0123456789abcdefghij";
    put_stripe(&app, &store, wrong, None).await;
    let response = check(&app, &store.sandbox_key, "stripe").await;
    let problem = assert_problem(response, 422, "provider_auth_failed").await;
    assert!(!problem.to_string().contains(wrong), "{problem}");
    assert_eq!(stripe.seen().len(), 1, "a refusal is not retried");
    let rows = audited(&app).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].1.contains(wrong), "{rows:?}");
}

async fn the_console_chooses_the_provider_and_checks_the_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    add_staff(&app, &store, "staff@shop.test").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;
    let call = |name: &'static str, form: Vec<(&'static str, &'static str)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move { server_fn(app, name, &form, Some(&cookie)).await }
    };
    let current = json_of(call("payment_provider", vec![]).await, 200).await;
    assert_eq!(
        (
            &current["provider"],
            &current["chosen"],
            &current["choices"]
        ),
        (&json!("sandbox"), &json!(false), &json!(["sandbox"]))
    );
    // Stripe has no credentials here: the server's refusal names the field.
    let refused = json_of(
        call("choose_payment_provider", vec![("provider", "stripe")]).await,
        200,
    )
    .await;
    assert_eq!(refused["Refused"]["field"], "provider", "{refused}");
    let chosen = json_of(
        call("choose_payment_provider", vec![("provider", "sandbox")]).await,
        200,
    )
    .await;
    assert_eq!(chosen["Chosen"]["chosen"], true, "{chosen}");
    assert!(
        chosen["Chosen"]["updated_by"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );

    let checked = json_of(
        call("check_connection", vec![("provider", "sandbox")]).await,
        200,
    )
    .await;
    assert!(
        checked["account_id"]
            .as_str()
            .unwrap()
            .starts_with("acct_sbx_"),
        "{checked}"
    );
    assert_eq!(checked["environment"], "sandbox");
    let missing = call("check_connection", vec![("provider", "stripe")]).await;
    assert!(!missing.status().is_success());
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("No stripe credentials")
    );

    // Production secrets are the owners': staff are refused before anything is sent.
    let selected = call("select", vec![("environment", "production")]).await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let refused = call("check_connection", vec![("provider", "sandbox")]).await;
    assert!(!refused.status().is_success());
    assert_eq!(
        audited(&app).await.len(),
        1,
        "only the sandbox check was sent"
    );
}

both_backends!(
    the_console_chooses_the_provider_and_checks_the_connection,
    the_sandbox_psp_names_the_account_of_the_stores_key,
    a_refused_key_and_an_unreachable_provider_are_told_apart,
    only_the_callers_store_and_environment_are_used,
    production_secrets_are_checked_by_owners_only,
    stripe_names_the_platform_or_the_connect_account,
    stripe_refusing_the_key_is_provider_auth_failed,
);
