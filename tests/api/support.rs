//! Helpers shared by the API tests.

use cassa_tests::TestApp;
pub use cassa_tests::probe_routes;
use serde_json::Value;

/// Asserts `response` is problem+json with `status` and `code`, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("x-request-id header");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:cassa:problem:{code}"));
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].is_string());
    assert_eq!(body["request_id"], header_id.as_str(), "{body}");
    body
}

/// A request with a bearer token and a fresh Idempotency-Key, and a JSON body when given.
pub async fn send(
    app: &cassa_tests::TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string());
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The JSON body of a response that must have `status`.
pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

/// POSTs a console server function like a same-origin browser form.
pub(crate) async fn console_fn(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/console/fn/{name}")))
        .header("origin", &app.address)
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// Signs in to the console; returns the `cassa_session=…` cookie pair.
pub(crate) async fn console_sign_in(app: &TestApp, email: &str, password: &str) -> String {
    let response = console_fn(
        app,
        "sign_in",
        &[("email", email), ("password", password)],
        None,
    )
    .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "console sign-in of {email} failed: {}",
        response.status()
    );
    session_cookie(&response)
        .as_deref()
        .and_then(|c| c.split(';').next())
        .expect("sign-in sets the session cookie")
        .to_owned()
}

/// The whole `Set-Cookie` value of the console's session cookie, if the answer sets one.
pub(crate) fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cassa_session="))
        .map(str::to_owned)
}

/// A console server function's successful answer as JSON; anything else fails the test with
/// the status and body.
pub async fn console_answer(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}
