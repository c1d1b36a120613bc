//! Cassa's sandbox provider client against the mounted PSP: results, classified errors, bounded
//! retries, timeouts resolved by the idempotency key, and the call audit.

use std::time::Duration;

use cassa::{
    money::MinorUnits,
    providers::payment::{CallContext, ProviderError},
    types::{Environment, StoreId},
};
use cassa_tests::{AsSandbox, Backend, SpawnOptions, TestApp, both_backends, spawn_app_with};

fn ctx(key: &str) -> CallContext {
    CallContext {
        idempotency_key: key.to_owned(),
        correlation_id: format!("req-{key}"),
        reference: None,
        audit: None,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    cassa::on_db!(&app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|c| {
                c.sandbox_psp_timeout_delay = Duration::from_millis(1200)
            })),
            ..Default::default()
        },
    )
    .await
}

async fn the_client_drives_the_payment_lifecycle(backend: Backend) {
    let app = app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let store_id: StoreId = store.id.parse().unwrap();
    let client = cassa_tests::sandbox_client(
        &app.state,
        store_id,
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    let auth = client
        .authorize(&ctx("a1"), MinorUnits(1000), "USD", "pm_card_visa", None)
        .await
        .unwrap();
    assert_eq!(auth.status, "authorized");
    // The same key again is the same payment.
    let again = client
        .authorize(&ctx("a1"), MinorUnits(1000), "USD", "pm_card_visa", None)
        .await
        .unwrap();
    assert_eq!(again, auth);
    let captured = client
        .capture(&ctx("c1"), &auth.id, Some(MinorUnits(600)), false)
        .await
        .unwrap();
    assert_eq!(captured.captured, MinorUnits(600));
    let refunded = client
        .refund(&ctx("r1"), &auth.id, MinorUnits(200))
        .await
        .unwrap();
    assert_eq!(refunded.refunded, MinorUnits(200));
    assert_eq!(
        client.refund(&ctx("r2"), &auth.id, MinorUnits(500)).await,
        Err(ProviderError::Rejected {
            code: "refund_refused".into()
        })
    );
    let truth = client.get_transaction("req-check", &auth.id).await.unwrap();
    assert_eq!(
        (truth.captured, truth.refunded),
        (MinorUnits(600), MinorUnits(200))
    );

    let declined = client
        .authorize(
            &ctx("d1"),
            MinorUnits(1000),
            "USD",
            "pm_card_declined",
            None,
        )
        .await;
    assert_eq!(
        declined,
        Err(ProviderError::Declined {
            code: "card_declined".into()
        })
    );

    // Every call is audited with its correlation id; the API key never is.
    let audits = count(
        &app,
        "SELECT COUNT(*) FROM provider_call_audit WHERE correlation_id LIKE 'req-%'",
    )
    .await;
    assert!(audits >= 7, "{audits}");
    let leaked = count(&app, "SELECT COUNT(*) FROM provider_call_audit WHERE request_body LIKE '%sbx_%' OR response_body LIKE '%sbx_%'").await;
    assert_eq!(leaked, 0);
}

async fn retryable_errors_are_retried_a_bounded_number_of_times(backend: Backend) {
    let app = app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let client = cassa_tests::sandbox_client(
        &app.state,
        store.id.parse().unwrap(),
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let result = client
        .authorize(
            &ctx("p1"),
            MinorUnits(1000),
            "USD",
            "pm_card_processing_error",
            None,
        )
        .await;
    assert_eq!(
        result,
        Err(ProviderError::Retryable("processing_error".into()))
    );
    let attempts = count(
        &app,
        "SELECT COUNT(*) FROM provider_call_audit WHERE correlation_id = 'req-p1'",
    )
    .await;
    assert_eq!(attempts, 2);
}

async fn a_timeout_is_an_unknown_outcome_resolved_with_the_same_key(backend: Backend) {
    let app = app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let client = cassa_tests::sandbox_client(
        &app.state,
        store.id.parse().unwrap(),
        Environment::Sandbox,
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    let first = client
        .authorize(&ctx("t1"), MinorUnits(1000), "USD", "pm_card_timeout", None)
        .await;
    assert!(
        matches!(first, Err(ProviderError::UnknownOutcome(_))),
        "{first:?}"
    );
    // Still in flight at the PSP: still unknown, and nothing doubled.
    let second = client
        .authorize(&ctx("t1"), MinorUnits(1000), "USD", "pm_card_timeout", None)
        .await;
    assert!(
        matches!(second, Err(ProviderError::UnknownOutcome(_))),
        "{second:?}"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let resolved = client
        .authorize(&ctx("t1"), MinorUnits(1000), "USD", "pm_card_timeout", None)
        .await
        .unwrap();
    assert_eq!(resolved.status, "authorized");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM sandbox_psp_payments").await,
        1
    );
}

both_backends!(
    the_client_drives_the_payment_lifecycle,
    retryable_errors_are_retried_a_bounded_number_of_times,
    a_timeout_is_an_unknown_outcome_resolved_with_the_same_key,
);

async fn the_client_verifies_its_accounts_webhooks(backend: Backend) {
    use cassa::credentials;
    use secrecy::ExposeSecret;

    let app = app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let store_id: StoreId = store.id.parse().unwrap();
    // The provider (not a client) owns its signature scheme, with the store's credentials.
    let adapter = app.state.payment_providers.get("sandbox").unwrap().clone();
    let credentials = credentials::load(&app.state, store_id, "sandbox", Environment::Sandbox)
        .await
        .unwrap();
    let Some(cassa_tests::SandboxFields { webhook_secret, .. }) = credentials.clone().sandbox()
    else {
        panic!("sandbox credentials");
    };
    let credentials = credentials.unwrap();
    let body = br#"{"type":"payment.authorized"}"#;
    let now = 1_700_000_000;
    let signature = cassa::providers::signature::sign_standard(
        webhook_secret.expose_secret(),
        "msg_1",
        now,
        body,
    )
    .unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("webhook-id", "msg_1".parse().unwrap());
    headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    assert_eq!(
        adapter.verify_webhook(&credentials, &headers, body, now),
        Ok(())
    );
    assert!(
        adapter
            .verify_webhook(&credentials, &headers, b"{}", now)
            .is_err()
    );
    assert!(
        adapter
            .verify_webhook(&credentials, &headers, body, now + 301)
            .is_err()
    );
}
both_backends!(the_client_verifies_its_accounts_webhooks);
