//! The simulated carrier as this server hosts it: mounted at `/sandbox-carrier` outside
//! production, delivering only to this server's own carrier webhook URL of a store, and
//! counted in a master key rotation.

use cassa::keyring::SealedElsewhere;
use cassa_tests::{Backend, SpawnOptions, TestApp, both_backends, spawn_app, spawn_app_with};
use serde_json::{Value, json};

const KEY: &str = "scr_test_account_0123456789abcdef";

async fn carrier(app: &TestApp, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/sandbox-carrier/v1{path}")))
        .bearer_auth(KEY)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn address(city: &str, postal_code: &str) -> Value {
    json!({"name": "Someone", "line1": "1 Main Street", "line2": null, "city": city,
           "postal_code": postal_code, "subdivision": null, "country": "US"})
}

async fn the_carrier_is_mounted_beside_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let shipment = json!({
        "from": address("Austin", "78701"),
        "to": address("Denver", "80202"),
        "packages": [{"weight_grams": 1000, "length_mm": 100, "width_mm": 100, "height_mm": 100}],
        "currency": "USD",
    });
    let (status, rates) = carrier(&app, "/rates", None, shipment).await;
    assert_eq!(status, 200, "{rates}");
    let rate = rates["rates"][0]["id"].as_str().unwrap();
    let (status, label) = carrier(&app, "/labels", Some("k-1"), json!({"rate_id": rate})).await;
    assert_eq!(status, 201, "{label}");
    let id = label["id"].as_str().unwrap();
    let (status, label) = carrier(&app, &format!("/labels/{id}/advance"), None, json!({})).await;
    assert_eq!(
        (status, label["tracking_status"].as_str()),
        (200, Some("PICKED_UP"))
    );

    // Unknown carrier paths are this server's 404, like unknown API paths.
    let response = app.get("/sandbox-carrier/v1/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    // Its own error shape otherwise.
    let response = app.get("/sandbox-carrier/v1/labels").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication");
}

async fn webhooks_go_only_to_this_servers_carrier_url_of_a_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Parcels", "USD").await;
    let own = app.url(&format!("/api/v1/webhooks/sandbox_carrier/{}", store.id));
    assert!(cassa::http::sandbox_carrier::is_own_carrier_webhook_url(
        &app.address,
        &own
    ));
    for refused in [
        app.url(&format!("/api/v1/webhooks/sandbox/{}", store.id)),
        app.url("/api/v1/webhooks/sandbox_carrier/not-a-store"),
        format!(
            "http://169.254.169.254/api/v1/webhooks/sandbox_carrier/{}",
            store.id
        ),
    ] {
        let (status, body) = carrier(
            &app,
            "/webhook_endpoints",
            Some(&refused),
            json!({"url": refused}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("url_not_allowed")),
            "{refused}"
        );
    }
    let (status, endpoint) =
        carrier(&app, "/webhook_endpoints", Some("own"), json!({"url": own})).await;
    assert_eq!(status, 201, "{endpoint}");
    assert!(endpoint["secret"].as_str().unwrap().starts_with("whsec_"));

    // Sealed with the primary master key, so a rotation must rewrap it before retiring that.
    let primary = cassa::credentials::keys::primary_version(&app.db)
        .await
        .unwrap();
    let sealed = cassa::http::sandbox_carrier::SealedByCarrier(
        cassa::http::sandbox_carrier::state(&app.state),
    );
    assert_eq!(sealed.sealed_with(primary).await.unwrap(), 1);
    assert_eq!(
        sealed.rewrap(primary).await.unwrap(),
        0,
        "already on the primary key"
    );
}

async fn the_carrier_is_not_mounted_in_production(backend: Backend) {
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
        .post(app.url("/sandbox-carrier/v1/rates"))
        .bearer_auth("scr_production_probe_0123456789")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = app.get("/sandbox-carrier/v1/labels").await;
    assert_eq!(response.status(), 404);
}

both_backends!(
    the_carrier_is_mounted_beside_the_api,
    webhooks_go_only_to_this_servers_carrier_url_of_a_store,
    the_carrier_is_not_mounted_in_production,
);
