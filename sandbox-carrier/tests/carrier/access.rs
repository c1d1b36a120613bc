//! Who may call: API keys, the outage account, and the Idempotency-Key rules at the door.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{
    both_backends,
    support::{TestDb, carrier},
};

async fn callers_are_authenticated_and_outage_accounts_are_down(db: TestDb) {
    let app = carrier(db, |s| s).await;
    for bad in [
        "sk_test_0123456789abcdef",
        "scr_ab",
        "scr_with space",
        &"scr_x".repeat(50),
    ] {
        let answer = app
            .call_as(bad, Method::GET, "/v1/labels", None, None)
            .await;
        let body = answer.json();
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(body["error"]["type"], "authentication");
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    let request = axum::http::Request::get("/v1/labels")
        .body(axum::body::Body::empty())
        .expect("request");
    let anonymous = crate::support::send(&app.router, request).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // The shortest key there is works.
    let shortest = app
        .call_as("scr_abcd", Method::GET, "/v1/labels", None, None)
        .await;
    assert_eq!(shortest.status, StatusCode::OK);

    for (method, path) in [(Method::GET, "/v1/labels"), (Method::POST, "/v1/rates")] {
        let answer = app
            .call_as(
                "scr_outage_0123456789",
                method,
                path,
                Some("k"),
                Some(json!({})),
            )
            .await;
        let body = answer.json();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(body["error"]["type"], "api_error");
        assert_eq!(body["error"]["code"], "service_unavailable");
    }
}

async fn posts_that_change_things_need_an_idempotency_key(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let rate = app.rate_id("80202").await;
    let cases = [
        ("/v1/labels", json!({"rate_id": rate})),
        ("/v1/labels/lbl_x/void", json!({})),
        (
            "/v1/webhook_endpoints",
            json!({"url": "http://127.0.0.1/x"}),
        ),
    ];
    for (path, body) in cases {
        let answer = app.call(Method::POST, path, None, Some(body.clone())).await;
        assert_eq!(
            answer.error(),
            (
                StatusCode::BAD_REQUEST,
                "idempotency_key_missing".to_owned()
            ),
            "{path}"
        );
        assert_eq!(answer.json()["error"]["type"], "invalid_request");
        let long = "k".repeat(256);
        let answer = app.call(Method::POST, path, Some(&long), Some(body)).await;
        assert_eq!(
            answer.error(),
            (
                StatusCode::BAD_REQUEST,
                "idempotency_key_invalid".to_owned()
            ),
            "{path}"
        );
    }
    // Authentication comes first.
    let answer = app
        .call_as("nope", Method::POST, "/v1/labels", None, Some(json!({})))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // Rates and the advance helper need none.
    let answer = app
        .call(Method::POST, "/v1/labels/lbl_x/advance", None, None)
        .await;
    assert_eq!(
        answer.error(),
        (StatusCode::NOT_FOUND, "label_not_found".to_owned())
    );
}

both_backends!(
    callers_are_authenticated_and_outage_accounts_are_down,
    posts_that_change_things_need_an_idempotency_key,
);
