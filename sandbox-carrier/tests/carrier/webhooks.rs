//! Webhook endpoints and deliveries: the policy, sealed secrets, Standard Webhooks signatures
//! checked independently, the outbox's retries, the ticker, and key rotation.

use std::{sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use base64::{Engine, engine::general_purpose::STANDARD};
use cassa_sandbox_carrier::{AesGcmSealer, CarrierState, DeliveryPolicy, Sealer};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    both_backends,
    support::{Carrier, K1, K2, Receiver, TestDb, carrier},
};

fn allowing(receiver: &Receiver) -> DeliveryPolicy {
    DeliveryPolicy::url_prefixes([format!("{}/", receiver.url)]).expect("prefix")
}

async fn register(app: &Carrier, url: &str, key: &str) -> crate::support::Answer {
    app.call(
        Method::POST,
        "/v1/webhook_endpoints",
        Some(key),
        Some(json!({"url": url})),
    )
    .await
}

/// The signature of a delivery, computed here from the Standard Webhooks definition.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

async fn tick(app: &Carrier) -> (u64, u64) {
    cassa_sandbox_carrier::tick(&app.state)
        .await
        .expect("ticks")
}

async fn events_are_signed_and_sent_where_the_policy_allows(db: TestDb) {
    let receiver = Receiver::start().await;
    let app = carrier(db, |s| s.with_delivery_policy(allowing(&receiver))).await;
    for refused in [
        "http://169.254.169.254/latest".to_owned(),
        format!("{}x/1", receiver.url),
        format!("{}/../admin", receiver.url),
    ] {
        let answer = register(&app, &refused, &format!("r-{refused}")).await;
        assert_eq!(
            answer.error(),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "url_not_allowed".to_owned()
            ),
            "{refused}"
        );
    }
    let url = format!("{}/store-1", receiver.url);
    let registered = register(&app, &url, "reg-1").await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.json()
    );
    let endpoint = registered.json();
    let endpoint_id = endpoint["id"].as_str().expect("id").to_owned();
    assert!(endpoint_id.starts_with("we_"));
    assert_eq!(endpoint["url"], url.as_str());
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let raw = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    assert_eq!(raw.len(), 32);
    // Stored sealed, and not in the key's record either.
    let stored = app
        .strings("SELECT secret FROM sandbox_carrier_endpoints")
        .await;
    assert!(stored[0].starts_with("sealed:1:"), "{stored:?}");
    let records = app
        .strings("SELECT response_body FROM sandbox_carrier_requests")
        .await;
    assert!(
        records.iter().all(|r| !r.contains(&secret[6..])),
        "{records:?}"
    );
    // A replay shows the same secret.
    let replay = register(&app, &url, "reg-1").await;
    assert_eq!(
        (replay.status, replay.json()),
        (StatusCode::CREATED, endpoint.clone())
    );

    let label = app.label("80202").await;
    let label_id = label["id"].as_str().expect("id");
    assert_eq!(
        tick(&app).await,
        (0, 1),
        "LABEL_CREATED is queued with the purchase"
    );
    let got = receiver.wait_for(1).await;
    let (headers, body) = &got[0];
    let text = |name: &str| headers[name].to_str().expect("text").to_owned();
    let id = text("webhook-id");
    assert!(id.starts_with("evt_"));
    assert_eq!(
        text("webhook-timestamp"),
        app.clock.now().timestamp().to_string()
    );
    assert_eq!(
        text("webhook-signature"),
        expected_signature(&secret, &id, &text("webhook-timestamp"), body)
    );
    let event: Value = serde_json::from_slice(body).expect("json");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["type"], "tracker.updated");
    assert_eq!(event["created_at"], label["created_at"]);
    assert_eq!(
        event["data"],
        json!({
            "label_id": label_id,
            "tracking_number": label["tracking_number"],
            "reference": label["reference"],
            "sequence": 1,
            "code": "LABEL_CREATED",
            "description": "Label created",
            "occurred_at": label["created_at"],
            "location": null,
        })
    );

    // A void is told as label.voided.
    let voided = app
        .call(
            Method::POST,
            &format!("/v1/labels/{label_id}/void"),
            Some("void"),
            Some(json!({})),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK);
    assert_eq!(tick(&app).await, (0, 1));
    let events = receiver.events();
    assert_eq!(events[1]["type"], "label.voided");
    assert_eq!(events[1]["data"]["code"], "VOIDED");
    assert_eq!(events[1]["data"]["sequence"], 2);

    // Progress is told as it is recorded.
    let label = app.label("80202").await;
    tick(&app).await;
    app.clock.advance(chrono::Duration::hours(13));
    assert_eq!(tick(&app).await, (2, 2));
    let codes: Vec<Value> = receiver
        .events()
        .iter()
        .map(|e| e["data"]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [
            "LABEL_CREATED",
            "VOIDED",
            "LABEL_CREATED",
            "PICKED_UP",
            "IN_TRANSIT"
        ]
    );
    assert_eq!(receiver.events()[4]["data"]["label_id"], label["id"]);

    // A new registration replaces the old one; deleting it stops the webhooks.
    let replaced = register(&app, &format!("{}/store-2", receiver.url), "reg-2").await;
    assert_eq!(replaced.status, StatusCode::CREATED);
    let gone = app
        .call(
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{endpoint_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        gone.error(),
        (
            StatusCode::NOT_FOUND,
            "webhook_endpoint_not_found".to_owned()
        )
    );
    // Its registration's replay cannot show a secret that is gone.
    let stale = register(&app, &url, "reg-1").await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    let current = replaced.json()["id"].as_str().expect("id").to_owned();
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{current}"),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.label("80202").await;
    app.clock.advance(chrono::Duration::days(30));
    assert_eq!(tick(&app).await.1, 0);
    assert_eq!(receiver.count(), 5);
}

async fn failed_deliveries_are_retried_with_backoff_then_given_up(db: TestDb) {
    let receiver = Receiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
    let app = carrier(db, |s| s.with_delivery_policy(allowing(&receiver))).await;
    let url = format!("{}/store-1", receiver.url);
    assert_eq!(
        register(&app, &url, "reg").await.status,
        StatusCode::CREATED
    );
    app.label("80202").await;
    let mut attempts = Vec::new();
    // Each retry waits 0.25 s, doubling; the clock moves a little less, then enough.
    for wait_ms in [0, 250, 500, 1000, 2000, 4000] {
        if wait_ms > 0 {
            app.clock
                .advance(chrono::Duration::milliseconds(wait_ms - 1));
            cassa_sandbox_carrier::deliver_due(&app.state)
                .await
                .expect("runs");
            assert_eq!(receiver.count(), attempts.len(), "not before its backoff");
            app.clock.advance(chrono::Duration::milliseconds(1));
        }
        cassa_sandbox_carrier::deliver_due(&app.state)
            .await
            .expect("runs");
        attempts.push(receiver.count());
    }
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6]);
    app.clock.advance(chrono::Duration::hours(1));
    cassa_sandbox_carrier::deliver_due(&app.state)
        .await
        .expect("runs");
    assert_eq!(receiver.count(), 6, "given up after six attempts");
    let ids: Vec<String> = receiver
        .received
        .lock()
        .expect("lock")
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().expect("text").to_owned())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one event, one id");
    assert_eq!(
        app.strings("SELECT status FROM sandbox_carrier_deliveries")
            .await,
        ["failed"]
    );
}

async fn an_endpoint_outside_the_current_policy_gets_nothing(db: TestDb) {
    let receiver = Receiver::start().await;
    let open = carrier(db, |s| s.with_delivery_policy(allowing(&receiver))).await;
    let url = format!("{}/store-1", receiver.url);
    assert_eq!(
        register(&open, &url, "reg").await.status,
        StatusCode::CREATED
    );
    open.label("80202").await;
    // The same database under a policy that no longer allows the endpoint.
    let closed = CarrierState::new(
        open.state.db().clone(),
        Arc::new(AesGcmSealer::parse(K1).expect("key")),
        cassa_sandbox_carrier::default_http_client().expect("client"),
    )
    .with_clock({
        let clock = open.clock.clone();
        Arc::new(move || clock.now())
    });
    cassa_sandbox_carrier::deliver_due(&closed)
        .await
        .expect("runs");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 0);
    assert_eq!(
        open.scalar("SELECT COUNT(*) FROM sandbox_carrier_deliveries WHERE attempts = 1")
            .await,
        1,
        "an attempt that was refused before sending"
    );
}

async fn the_ticker_runs_until_shutdown(db: TestDb) {
    let receiver = Receiver::start().await;
    let token = tokio_util::sync::CancellationToken::new();
    let app = carrier(db, |s| {
        s.with_delivery_policy(allowing(&receiver))
            .with_shutdown(token.clone())
    })
    .await;
    let ticker = cassa_sandbox_carrier::spawn_ticker(app.state.clone());
    let url = format!("{}/store-1", receiver.url);
    assert_eq!(
        register(&app, &url, "reg").await.status,
        StatusCode::CREATED
    );
    let label = app.label("80202").await;
    // Woken by the purchase: sooner than a tick.
    receiver.wait_for(1).await;
    app.clock.advance(chrono::Duration::hours(3));
    let got = receiver.wait_for(2).await;
    let event: Value = serde_json::from_slice(&got[1].1).expect("json");
    assert_eq!(event["data"]["code"], "PICKED_UP");
    assert_eq!(
        app.get_label(label["id"].as_str().expect("id")).await["tracking_status"],
        "PICKED_UP"
    );
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), ticker)
        .await
        .expect("stops")
        .expect("joins");
}

async fn rotation_rewraps_the_stored_secrets(db: TestDb) {
    let receiver = Receiver::start().await;
    let policy = allowing(&receiver);
    let app = carrier(db, |s| s.with_delivery_policy(policy.clone())).await;
    let url = format!("{}/store-1", receiver.url);
    let registered = register(&app, &url, "reg").await.json();
    let secret = registered["secret"].as_str().expect("secret").to_owned();
    assert_eq!(
        cassa_sandbox_carrier::sealed_with(&app.state, 1)
            .await
            .expect("count"),
        1
    );
    let both: Arc<dyn Sealer> =
        Arc::new(AesGcmSealer::parse(&format!("1:{K1},2:{K2}")).expect("keys"));
    let rotated = CarrierState::new(
        app.state.db().clone(),
        both,
        cassa_sandbox_carrier::default_http_client().expect("client"),
    )
    .with_delivery_policy(policy)
    .with_clock({
        let clock = app.clock.clone();
        Arc::new(move || clock.now())
    });
    assert_eq!(
        cassa_sandbox_carrier::rewrap(&rotated, 2)
            .await
            .expect("rewraps"),
        1
    );
    assert_eq!(
        cassa_sandbox_carrier::rewrap(&rotated, 2)
            .await
            .expect("again"),
        0
    );
    assert_eq!(
        cassa_sandbox_carrier::sealed_with(&rotated, 1)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        cassa_sandbox_carrier::sealed_with(&rotated, 2)
            .await
            .expect("count"),
        1
    );
    // Still the same secret: a delivery under the new key verifies with it.
    app.label("80202").await;
    cassa_sandbox_carrier::deliver_due(&rotated)
        .await
        .expect("runs");
    let got = receiver.wait_for(1).await;
    let (headers, body) = &got[0];
    let text = |name: &str| headers[name].to_str().expect("text").to_owned();
    assert_eq!(
        text("webhook-signature"),
        expected_signature(
            &secret,
            &text("webhook-id"),
            &text("webhook-timestamp"),
            body
        )
    );
}

both_backends!(
    events_are_signed_and_sent_where_the_policy_allows,
    failed_deliveries_are_retried_with_backoff_then_given_up,
    an_endpoint_outside_the_current_policy_gets_nothing,
    the_ticker_runs_until_shutdown,
    rotation_rewraps_the_stored_secrets,
);
