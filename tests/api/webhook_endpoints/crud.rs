//! The endpoints API: create, read, change, delete; secrets shown once and rotated; another
//! store's or environment's endpoint is a 404; roles; idempotency; refused URLs.

use base64::{Engine, engine::general_purpose::STANDARD};
use cassa_tests::{Backend, both_backends, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Caller, ENDPOINTS, call, call_with_key, create, member};
use crate::support::{assert_problem, json_of};

fn endpoint(id: &Value) -> String {
    format!("{ENDPOINTS}/{}", id.as_str().unwrap())
}

async fn endpoints_are_created_read_changed_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let created = create(
        &app,
        &key,
        json!({
            "url": "https://hooks.example.com/cassa",
            "event_types": ["payment_intent.captured", "refund.succeeded"],
            "description": "  ERP  "
        }),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let raw = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert_eq!(raw.len(), 32);
    assert_eq!(created["environment"], "sandbox");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["ordered"], false);
    assert_eq!(created["description"], "ERP");
    assert_eq!(created["disabled_reason"], Value::Null);
    assert_eq!(created["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(created["secrets"][0]["expires_at"], Value::Null);
    let path = endpoint(&created["id"]);

    // The secret is never shown again, and never stored in plaintext.
    let response = call(&app, &key, Method::GET, &path, None).await;
    let text = response.text().await.unwrap();
    assert!(!text.contains(&secret), "{text}");
    let read: Value = serde_json::from_str(&text).unwrap();
    assert!(read.get("secret").is_none());
    assert_eq!(
        read["event_types"],
        json!(["payment_intent.captured", "refund.succeeded"])
    );
    let list = json_of(call(&app, &key, Method::GET, ENDPOINTS, None).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let stored: Vec<(Vec<u8>, Vec<u8>)> = cassa::on_db!(&app.db, pool => {
        sqlx::query_as("SELECT nonce, ciphertext FROM webhook_endpoint_secrets")
            .fetch_all(pool).await
    })
    .unwrap();
    assert_eq!(stored.len(), 1);
    for (nonce, ciphertext) in &stored {
        for blob in [nonce, ciphertext] {
            assert!(!blob.windows(raw.len()).any(|w| w == raw.as_slice()));
            assert!(!blob.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }

    let changed = json_of(
        call(
            &app,
            &key,
            Method::PATCH,
            &path,
            Some(
                json!({"enabled": false, "event_types": ["*"], "ordered": true, "description": ""}),
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["disabled_reason"], "manual");
    assert_eq!(changed["event_types"], json!(["*"]));
    assert_eq!(changed["ordered"], true);
    assert_eq!(changed["description"], Value::Null);
    let enabled = json_of(
        call(
            &app,
            &key,
            Method::PATCH,
            &path,
            Some(json!({"enabled": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let refused = call(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(json!({"event_types": ["payments"]})),
    )
    .await;
    let problem = assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(problem["field"], "event_types");
    let unknown_field = call(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(json!({"secret": "x"})),
    )
    .await;
    assert_problem(unknown_field, 422, "invalid_body").await;

    let deleted = call(&app, &key, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    assert_problem(
        call(&app, &key, Method::GET, &path, None).await,
        404,
        "not_found",
    )
    .await;
    let left: i64 = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoint_secrets").fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(left, 0, "the secrets go with the endpoint");
}

async fn another_stores_or_environments_endpoint_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_store("A", "USD").await;
    let b = app.create_store("B", "USD").await;
    let owner_a = app.create_owner(&a, "owner@a.test").await;
    let live_a = Caller::key(&app.create_live_key(&a, &owner_a).await);
    let key_a = Caller::key(&a.sandbox_key);
    let key_b = Caller::key(&b.sandbox_key);
    let created = create(
        &app,
        &key_a,
        json!({"url": "https://a.example.com/hooks", "event_types": ["*"]}),
    )
    .await;
    let path = endpoint(&created["id"]);
    for caller in [&key_b, &live_a] {
        for (method, suffix, body) in [
            (Method::GET, "", None),
            (Method::PATCH, "", Some(json!({"enabled": false}))),
            (Method::POST, "/rotate-secret", Some(json!({}))),
            (Method::DELETE, "", None),
        ] {
            let response = call(
                &app,
                caller,
                method.clone(),
                &format!("{path}{suffix}"),
                body,
            )
            .await;
            assert_problem(response, 404, "not_found").await;
        }
        let list = json_of(call(&app, caller, Method::GET, ENDPOINTS, None).await, 200).await;
        assert_eq!(list["data"], json!([]));
    }
    // Untouched, and still A's in sandbox.
    let read = json_of(call(&app, &key_a, Method::GET, &path, None).await, 200).await;
    assert_eq!(read["enabled"], true);
    assert_eq!(read["secrets"].as_array().unwrap().len(), 1);
}

async fn production_endpoints_are_the_owners(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live = Caller::key(&app.create_live_key(&store, &owner).await);
    let staff = member(&app, &store, "staff@shop.test", "staff").await;
    let staff_sandbox = Caller::user(&staff, &store, "sandbox");
    let staff_production = Caller::user(&staff, &store, "production");
    let owner_production = Caller::user(&owner, &store, "production");
    let body = json!({"url": "https://erp.example.com/hooks", "event_types": ["order.paid"]});

    let sandbox = create(&app, &staff_sandbox, body.clone()).await;
    assert_eq!(sandbox["environment"], "sandbox");
    let refused = call(
        &app,
        &staff_production,
        Method::POST,
        ENDPOINTS,
        Some(body.clone()),
    )
    .await;
    assert_problem(refused, 403, "forbidden").await;
    let production = create(&app, &owner_production, body.clone()).await;
    assert_eq!(production["environment"], "production");
    let by_key = create(&app, &live, body.clone()).await;
    assert_eq!(by_key["environment"], "production");

    // Staff read production's endpoints but neither change them nor see a new secret.
    let list = json_of(
        call(&app, &staff_production, Method::GET, ENDPOINTS, None).await,
        200,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let path = endpoint(&production["id"]);
    for (method, suffix, body) in [
        (Method::PATCH, "", Some(json!({"enabled": false}))),
        (Method::POST, "/rotate-secret", Some(json!({}))),
        (Method::DELETE, "", None),
    ] {
        let response = call(
            &app,
            &staff_production,
            method,
            &format!("{path}{suffix}"),
            body,
        )
        .await;
        assert_problem(response, 403, "forbidden").await;
    }
    let read = json_of(
        call(&app, &owner_production, Method::GET, &path, None).await,
        200,
    )
    .await;
    assert_eq!(read["enabled"], true);
    assert_eq!(read["secrets"].as_array().unwrap().len(), 1);
}

async fn creation_is_idempotent_and_its_replay_keeps_the_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let body = json!({"url": "https://hooks.example.com/a", "event_types": ["*"]});
    let first = call_with_key(
        &app,
        &key,
        Method::POST,
        ENDPOINTS,
        Some(body.clone()),
        "ep-1",
    )
    .await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first: Value = first.json().await.unwrap();
    let again = call_with_key(
        &app,
        &key,
        Method::POST,
        ENDPOINTS,
        Some(body.clone()),
        "ep-1",
    )
    .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let list = json_of(call(&app, &key, Method::GET, ENDPOINTS, None).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // The remembered answer holds the secret: it is stored sealed, like a new API key.
    let secret = first["secret"].as_str().unwrap();
    let remembered: Vec<Vec<u8>> = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT response_body FROM idempotency_keys WHERE response_body IS NOT NULL")
            .fetch_all(pool).await
    })
    .unwrap();
    assert!(!remembered.is_empty());
    assert!(
        remembered
            .iter()
            .all(|body| !body.windows(secret.len()).any(|w| w == secret.as_bytes()))
    );
    let reused = call_with_key(
        &app,
        &key,
        Method::POST,
        ENDPOINTS,
        Some(json!({"url": "https://hooks.example.com/b", "event_types": ["*"]})),
        "ep-1",
    )
    .await;
    assert_problem(reused, 422, "idempotency_key_reused").await;
    let missing = app
        .client
        .post(app.url(ENDPOINTS))
        .bearer_auth(&store.sandbox_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(missing, 400, "idempotency_key_missing").await;
}

async fn internal_and_insecure_urls_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let sandbox = Caller::key(&store.sandbox_key);
    let production = Caller::key(&app.create_live_key(&store, &owner).await);
    let own = app.address.clone();
    for (caller, url) in [
        (&sandbox, "http://127.0.0.1/hooks".to_owned()),
        (&sandbox, "http://10.0.0.1/hooks".to_owned()),
        (
            &sandbox,
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        (&sandbox, "http://[::1]:8080/hooks".to_owned()),
        (&sandbox, "http://localhost:8080/hooks".to_owned()),
        (
            &sandbox,
            "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
        ),
        (
            &sandbox,
            "https://user:password@hooks.example.com/".to_owned(),
        ),
        (&sandbox, "ftp://hooks.example.com/".to_owned()),
        (&sandbox, "hooks.example.com/no-scheme".to_owned()),
        (
            &sandbox,
            format!("https://hooks.example.com/{}", "x".repeat(2048)),
        ),
        (
            &production,
            "http://hooks.example.com/plain-http".to_owned(),
        ),
        // This server's own address is a sandbox convenience only, and only for its webhook
        // receivers: never its other routes.
        (&sandbox, format!("{own}/api/v1/admin/stores")),
        (&sandbox, format!("{own}/api/v1/test-hooks/../admin/stores")),
        (&sandbox, format!("{own}/console/fn/anything")),
        (
            &production,
            format!("{}/api/v1/receiver", own.replace("http://", "https://")),
        ),
    ] {
        let response = call(
            &app,
            caller,
            Method::POST,
            ENDPOINTS,
            Some(json!({"url": url, "event_types": ["*"]})),
        )
        .await;
        let problem = assert_problem(response, 422, "webhook_url_refused").await;
        assert!(
            problem["detail"].as_str().unwrap().starts_with("url ("),
            "{problem}"
        );
    }
    // The same rules hold for a change.
    let created = create(
        &app,
        &sandbox,
        json!({"url": format!("{own}/api/v1/test-hooks/receiver"), "event_types": ["*"]}),
    )
    .await;
    let response = call(
        &app,
        &sandbox,
        Method::PATCH,
        &endpoint(&created["id"]),
        Some(json!({"url": "http://169.254.169.254/"})),
    )
    .await;
    assert_problem(response, 422, "webhook_url_refused").await;
    let list = json_of(
        call(&app, &sandbox, Method::GET, ENDPOINTS, None).await,
        200,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["data"][0]["url"],
        format!("{own}/api/v1/test-hooks/receiver")
    );
    let production_list = json_of(
        call(&app, &production, Method::GET, ENDPOINTS, None).await,
        200,
    )
    .await;
    assert_eq!(production_list["data"], json!([]));
}

async fn a_store_has_at_most_twenty_endpoints_per_environment(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    for i in 0..cassa::outbound::MAX_ENDPOINTS {
        create(
            &app,
            &key,
            json!({"url": format!("https://hooks.example.com/{i}"), "event_types": ["*"]}),
        )
        .await;
    }
    let response = call(
        &app,
        &key,
        Method::POST,
        ENDPOINTS,
        Some(json!({"url": "https://hooks.example.com/last", "event_types": ["*"]})),
    )
    .await;
    assert_problem(response, 409, "webhook_endpoint_limit").await;
    // Pages hold them all, oldest first.
    let first = json_of(
        call(
            &app,
            &key,
            Method::GET,
            &format!("{ENDPOINTS}?limit=15"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first["has_more"], true);
    let last_id = first["data"][14]["id"].as_str().unwrap();
    let second = json_of(
        call(
            &app,
            &key,
            Method::GET,
            &format!("{ENDPOINTS}?limit=15&starting_after={last_id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second["has_more"], false);
    assert_eq!(second["data"].as_array().unwrap().len(), 5);
    assert_eq!(second["data"][4]["url"], "https://hooks.example.com/19");
}

/// Creations racing for the last places: exactly the limit is created, the rest are refused.
async fn racing_creations_stop_at_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let max = cassa::outbound::MAX_ENDPOINTS as usize;
    let statuses = futures::future::join_all((0..max + 10).map(|i| {
        let (app, key) = (&app, &key);
        async move {
            let body =
                json!({"url": format!("https://hooks.example.com/{i}"), "event_types": ["*"]});
            call(app, key, Method::POST, ENDPOINTS, Some(body))
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(created, max, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let count: i64 = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints").fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(count, max as i64);
}

async fn a_rotated_secret_overlaps_then_expires_and_master_key_rotation_reseals_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let created = create(
        &app,
        &key,
        json!({"url": "https://hooks.example.com/a", "event_types": ["*"]}),
    )
    .await;
    let path = endpoint(&created["id"]);
    for overlap in [-1, 604_801] {
        let response = call(
            &app,
            &key,
            Method::POST,
            &format!("{path}/rotate-secret"),
            Some(json!({"overlap_seconds": overlap})),
        )
        .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["field"], "overlap_seconds");
    }
    let rotated = json_of(
        call(
            &app,
            &key,
            Method::POST,
            &format!("{path}/rotate-secret"),
            Some(json!({"overlap_seconds": 3600})),
        )
        .await,
        200,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, created["secret"].as_str().unwrap());
    let secrets = rotated["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2, "{rotated}");
    assert_eq!(secrets[0]["expires_at"], Value::Null, "the new one first");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(secrets[1]["expires_at"].clone()).unwrap();
    assert_eq!(
        expires,
        cassa_tests::test_epoch() + chrono::Duration::hours(1)
    );

    app.clock.advance(chrono::Duration::minutes(61));
    let read = json_of(call(&app, &key, Method::GET, &path, None).await, 200).await;
    assert_eq!(read["secrets"].as_array().unwrap().len(), 1, "{read}");
    assert_eq!(read["secrets"][0]["expires_at"], Value::Null);

    // A master key rotation re-seals endpoint secrets too, and the old key retires only then.
    let sealed_with = |version: i32| {
        let db = app.db.clone();
        async move {
            let n: i64 = cassa::on_db!(&db, pool => {
                sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoint_secrets WHERE key_version = $1")
                    .bind(version).fetch_one(pool).await
            })
            .unwrap();
            n
        }
    };
    assert_eq!(sealed_with(2).await, 2, "version 2 is the primary at start");
    cassa::credentials::keys::start_rotation(&app.state, 1)
        .await
        .unwrap();
    while cassa::credentials::keys::run_pending_rotation(&app.state)
        .await
        .unwrap()
    {}
    assert_eq!(sealed_with(2).await, 0);
    assert_eq!(sealed_with(1).await, 2);
    // The remembered answers that revealed the secrets are sealed too, for their 24 hours.
    app.clock.advance(chrono::Duration::hours(25));
    cassa::credentials::keys::retire(&app.state, 2)
        .await
        .unwrap();
}

both_backends!(
    endpoints_are_created_read_changed_and_deleted,
    another_stores_or_environments_endpoint_is_not_found,
    production_endpoints_are_the_owners,
    creation_is_idempotent_and_its_replay_keeps_the_secret,
    internal_and_insecure_urls_are_refused,
    a_store_has_at_most_twenty_endpoints_per_environment,
    racing_creations_stop_at_the_limit,
    a_rotated_secret_overlaps_then_expires_and_master_key_rotation_reseals_it,
);
