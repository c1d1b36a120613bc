//! Console sessions through the server functions, as a browser would call them.

use cassa_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, both_backends, spawn_app};
use serde_json::Value;

use crate::support::{assert_problem, console_fn as server_fn, session_cookie};

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn viewer(app: &TestApp, cookie: &str) -> Value {
    let response = server_fn(app, "viewer", &[], Some(cookie)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn sign_in(app: &TestApp, cookie: Option<&str>) -> String {
    let response = server_fn(
        app,
        "sign_in",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        cookie,
    )
    .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "sign-in failed: {}",
        response.status()
    );
    session_cookie(&response).expect("sign-in sets the session cookie")
}

async fn sign_in_sets_a_strict_http_only_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let set_cookie = sign_in(&app, None).await;
    let lower = set_cookie.to_lowercase();
    assert!(lower.contains("httponly"), "{set_cookie}");
    assert!(lower.contains("samesite=strict"), "{set_cookie}");
    assert!(lower.contains("path=/"), "{set_cookie}");
    // Loopback listener with CASSA_COOKIE_SECURE=auto: plain-HTTP development, no Secure flag.
    assert!(
        !lower.contains("secure;") && !lower.ends_with("secure"),
        "{set_cookie}"
    );
    let who = viewer(&app, &pair(&set_cookie)).await;
    assert_eq!(who["email"], ADMIN_EMAIL);
    assert_eq!(who["is_platform_admin"], true);
}

async fn session_id_rotates_at_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = pair(&sign_in(&app, None).await);
    let second = pair(&sign_in(&app, Some(&first)).await);
    assert_ne!(
        first, second,
        "signing in again must issue a new session id"
    );
    assert!(
        viewer(&app, &first).await.is_null(),
        "the old id must be dead"
    );
    assert_eq!(viewer(&app, &second).await["email"], ADMIN_EMAIL);
}

async fn sign_out_destroys_the_server_side_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = pair(&sign_in(&app, None).await);
    let response = server_fn(&app, "sign_out", &[], Some(&cookie)).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    // Replaying the old cookie (as a thief would) finds nothing.
    assert!(viewer(&app, &cookie).await.is_null());
}

async fn wrong_password_does_not_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = server_fn(
        &app,
        "sign_in",
        &[("email", ADMIN_EMAIL), ("password", "not-the-password")],
        None,
    )
    .await;
    assert!(response.status().is_client_error() || response.status().is_server_error());
    assert!(session_cookie(&response).is_none());
}

async fn cross_site_state_changes_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = pair(&sign_in(&app, None).await);
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let response = app
            .client
            .post(app.url("/console/fn/create_store"))
            .header(header, value)
            .header("cookie", &cookie)
            .form(&[("name", "Evil"), ("currency", "USD")])
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "csrf_rejected").await;
    }
    // Neither header: not a browser; scripts use the bearer API.
    let response = app
        .client
        .post(app.url("/console/fn/create_store"))
        .header("cookie", &cookie)
        .form(&[("name", "Evil"), ("currency", "USD")])
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "csrf_rejected").await;
    let admin = app.admin_token().await;
    let stores: Value = app
        .client
        .get(app.url("/api/v1/platform/stores"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stores["data"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}

async fn console_creates_keys_only_for_the_selected_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_store("A", "USD").await;
    let b = app.create_store("B", "USD").await;
    let cookie = pair(&sign_in(&app, None).await);
    let response = server_fn(&app, "select", &[("store_id", &b.id)], Some(&cookie)).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    assert_eq!(viewer(&app, &cookie).await["store"]["id"], b.id.as_str());

    let response = server_fn(
        &app,
        "create_api_key",
        &[("name", "from console")],
        Some(&cookie),
    )
    .await;
    assert_eq!(response.status(), 200);
    let revealed: Value = response.json().await.unwrap();
    let secret = revealed["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_"));

    let keys_of = |key: String| {
        let app = &app;
        async move {
            let body: Value = app
                .client
                .get(app.url("/api/v1/admin/api-keys"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(keys_of(b.sandbox_key.clone()).await, 2);
    assert_eq!(keys_of(a.sandbox_key.clone()).await, 1);
    // The listing the console shows is masked.
    let listed = server_fn(&app, "api_keys", &[], Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(&secret));
}

both_backends!(
    sign_in_sets_a_strict_http_only_cookie,
    session_id_rotates_at_sign_in,
    sign_out_destroys_the_server_side_session,
    wrong_password_does_not_sign_in,
    cross_site_state_changes_are_rejected,
    console_creates_keys_only_for_the_selected_store,
);
