//! Encrypted provider credentials: masked views, environment rules, tamper and swap detection,
//! rotation under concurrent writes, resumption and retirement.

use cassa::{
    credentials::{self, Credentials, KeyRingError, keys},
    types::{Environment, StoreId},
};
use cassa_tests::{AsSandbox, Backend, TestApp, TestStore, both_backends, spawn_app};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::assert_problem;

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn store_id(store: &TestStore) -> StoreId {
    store.id.parse().unwrap()
}

async fn load(
    app: &TestApp,
    store: &TestStore,
    env: Environment,
) -> Result<Option<Credentials>, credentials::CredentialError> {
    // Fresh: these tests change rows behind the server's back.
    credentials::load_fresh(&app.state, store_id(store), "sandbox", env).await
}

const API_KEY: &str = "sbx_known_api_key_0123456789abcdef";
const WEBHOOK_SECRET: &str = "whsec_knownWebhookSecretValue0123456789==";

async fn new_stores_get_working_sandbox_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let listed: Value = app
        .client
        .get(app.url("/api/v1/admin/credentials"))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["provider"], "sandbox");
    assert_eq!(rows[0]["environment"], "sandbox");
    let Some(cassa_tests::SandboxFields {
        webhook_secret,
        api_key,
        base_url,
    }) = load(&app, &store, Environment::Sandbox)
        .await
        .unwrap()
        .sandbox()
    else {
        panic!("sandbox credentials expected");
    };
    assert!(webhook_secret.expose_secret().starts_with("whsec_"));
    assert!(api_key.expose_secret().starts_with("sbx_"));
    assert!(base_url.is_none());
    // The masked view shows neither secret.
    let text = listed.to_string();
    assert!(!text.contains(webhook_secret.expose_secret()));
    assert!(!text.contains(api_key.expose_secret()));
}

async fn stored_secrets_round_trip_and_are_never_returned(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    // The base URL may name only this server's own PSP unless the allow-list says otherwise.
    let psp = app.url("/sandbox-psp");
    let body = json!({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "base_url": psp});
    let response = put(
        &app,
        &store.sandbox_key,
        "/api/v1/admin/credentials/sandbox/sandbox",
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(API_KEY) && !text.contains(WEBHOOK_SECRET),
        "{text}"
    );
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["masked"]["api_key"], "sbx_…cdef");
    assert_eq!(view["masked"]["base_url"], psp.as_str());

    let Some(cassa_tests::SandboxFields {
        api_key,
        webhook_secret,
        base_url,
    }) = load(&app, &store, Environment::Sandbox)
        .await
        .unwrap()
        .sandbox()
    else {
        panic!("sandbox credentials expected");
    };
    assert_eq!(api_key.expose_secret(), API_KEY);
    assert_eq!(webhook_secret.expose_secret(), WEBHOOK_SECRET);
    assert_eq!(base_url.as_deref(), Some(psp.as_str()));
}

async fn fields_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let path = "/api/v1/admin/credentials/sandbox/sandbox";
    for (body, field) in [
        (json!({"api_key": API_KEY}), "webhook_secret"),
        (
            json!({"api_key": "", "webhook_secret": WEBHOOK_SECRET}),
            "api_key",
        ),
        (
            json!({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "base_url": "ftp://x"}),
            "base_url",
        ),
        (
            json!({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "extra": 1}),
            "body",
        ),
    ] {
        let problem = assert_problem(
            put(&app, &store.sandbox_key, path, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field);
    }
    let response = put(
        &app,
        &store.sandbox_key,
        "/api/v1/admin/credentials/paypal/sandbox",
        json!({}),
    )
    .await;
    assert_problem(response, 404, "not_found").await;
}

async fn environments_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let body = json!({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET});
    let production = "/api/v1/admin/credentials/sandbox/production";
    // A sandbox key cannot touch production credentials.
    assert_problem(
        put(&app, &store.sandbox_key, production, body.clone()).await,
        403,
        "forbidden",
    )
    .await;
    // An owner can.
    let response = app
        .client
        .put(app.url(production))
        .bearer_auth(&owner)
        .header("cassa-store", &store.id)
        .header("idempotency-key", "owner-prod")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A live key sees production credentials and may not touch sandbox ones.
    let live_key = &app.create_live_key(&store, &owner).await;
    let sandbox = "/api/v1/admin/credentials/sandbox/sandbox";
    assert_problem(
        put(&app, live_key, sandbox, body.clone()).await,
        403,
        "forbidden",
    )
    .await;
    let listed: Value = app
        .client
        .get(app.url("/api/v1/admin/credentials"))
        .bearer_auth(live_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, vec!["production"]);
}

async fn swapped_or_tampered_ciphertexts_fail(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_store("A", "USD").await;
    let b = app.create_store("B", "USD").await;
    // Copy A's sandbox ciphertext (and nonce, and version) onto B's row.
    let copy = "UPDATE provider_credentials SET nonce = (SELECT nonce FROM provider_credentials WHERE store_id = $1), \
                ciphertext = (SELECT ciphertext FROM provider_credentials WHERE store_id = $1), \
                key_version = (SELECT key_version FROM provider_credentials WHERE store_id = $1) \
                WHERE store_id = $2";
    cassa::on_db!(&app.db, pool => sqlx::query(copy).bind(store_id(&a)).bind(store_id(&b)).execute(pool).await.map(|_| ())).unwrap();
    assert!(matches!(
        load(&app, &b, Environment::Sandbox).await,
        Err(credentials::CredentialError::Key(KeyRingError::Decrypt))
    ));
    assert!(
        load(&app, &a, Environment::Sandbox)
            .await
            .unwrap()
            .is_some()
    );

    // Move A's row to production: the environment is bound too.
    let moved = "UPDATE provider_credentials SET environment = 'production' WHERE store_id = $1";
    cassa::on_db!(&app.db, pool => sqlx::query(moved).bind(store_id(&a)).execute(pool).await.map(|_| ())).unwrap();
    assert!(matches!(
        load(&app, &a, Environment::Production).await,
        Err(credentials::CredentialError::Key(KeyRingError::Decrypt))
    ));
}

async fn rotation_rewraps_everything_despite_concurrent_writes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let mut stores = Vec::new();
    for i in 0..12 {
        stores.push(app.create_store(&format!("S{i}"), "USD").await);
    }
    let primary = keys::primary_version(&app.db).await.unwrap();
    assert_eq!(
        primary, 2,
        "the highest configured version starts as primary"
    );

    // Rotate to version 1 while stores keep replacing their credentials.
    let writers: Vec<_> = stores
        .iter()
        .take(6)
        .cloned()
        .map(|store| {
            let client = app.client.clone();
            let url = app.url("/api/v1/admin/credentials/sandbox/sandbox");
            tokio::spawn(async move {
                for round in 0..5 {
                    let response = client
                        .put(&url)
                        .bearer_auth(&store.sandbox_key)
                        .header("idempotency-key", format!("w{round}"))
                        .json(&json!({"api_key": format!("{API_KEY}{round}"), "webhook_secret": WEBHOOK_SECRET}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    let response = app
        .client
        .post(app.url("/api/v1/platform/keys/rotations"))
        .bearer_auth(&admin)
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let rotation: Value = response.json().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let id = rotation["id"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app
            .client
            .get(app.url(&format!("/api/v1/platform/keys/rotations/{id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "completed", "{status}");

    // A straggler written with the old key before the switch is caught by a second pass.
    keys::run_pending_rotation(&app.state).await.unwrap();
    let leftover = "SELECT COUNT(*) FROM provider_credentials WHERE key_version <> 1";
    let n: i64 =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(leftover).fetch_one(pool).await).unwrap();
    if n > 0 {
        keys::start_rotation(&app.state, 1).await.unwrap();
        keys::run_pending_rotation(&app.state).await.unwrap();
    }
    for (i, store) in stores.iter().enumerate() {
        let Some(cassa_tests::SandboxFields { api_key, .. }) =
            load(&app, store, Environment::Sandbox)
                .await
                .unwrap()
                .sandbox()
        else {
            panic!("credentials of store {i} lost");
        };
        if i < 6 {
            assert_eq!(
                api_key.expose_secret(),
                format!("{API_KEY}4"),
                "last write wins"
            );
        }
    }
    let all_on_1 = "SELECT COUNT(*) FROM provider_credentials WHERE key_version = 1";
    let n: i64 =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(all_on_1).fetch_one(pool).await).unwrap();
    assert_eq!(n, 12);

    // Version 2 is unused now: it can be retired; the primary cannot.
    let retire = |v: u32| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/platform/keys/{v}/retire"));
        let admin = admin.clone();
        async move { client.post(url).bearer_auth(admin).send().await.unwrap() }
    };
    assert_problem(retire(1).await, 409, "conflict").await;
    assert_eq!(retire(2).await.status(), 200);
    let overview: Value = app
        .client
        .get(app.url("/api/v1/platform/keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v2 = overview["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == 2)
        .unwrap();
    assert_eq!(v2["status"], "retired");
    // A retired version never decrypts again, and says which version it is.
    let force = "UPDATE provider_credentials SET key_version = 2 WHERE store_id = $1";
    cassa::on_db!(&app.db, pool => sqlx::query(force).bind(store_id(&stores[0])).execute(pool).await.map(|_| ())).unwrap();
    let err = load(&app, &stores[0], Environment::Sandbox)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("version 2 is retired"), "{err}");
    // And a retired version cannot become primary again.
    let response = app
        .client
        .post(app.url("/api/v1/platform/keys/rotations"))
        .bearer_auth(&admin)
        .json(&json!({"version": 2}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "conflict").await;
}

async fn an_interrupted_rotation_resumes(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut stores = Vec::new();
    for i in 0..5 {
        stores.push(app.create_store(&format!("S{i}"), "USD").await);
    }
    // Started, then the process "died" after one small batch.
    let rotation = keys::start_rotation(&app.state, 1).await.unwrap();
    let (moved, more) = credentials::rewrap_batch(&app.state, 1, 2).await.unwrap();
    assert_eq!((moved, more), (2, true));
    let row = keys::find_rotation(&app.state, rotation.id).await.unwrap();
    assert_eq!(row.status, "running");
    // What the worker does after a restart.
    assert!(keys::run_pending_rotation(&app.state).await.unwrap());
    let row = keys::find_rotation(&app.state, rotation.id).await.unwrap();
    assert_eq!(row.status, "completed");
    assert!(row.done >= 3, "{row:?}");
    for store in &stores {
        assert!(
            load(&app, store, Environment::Sandbox)
                .await
                .unwrap()
                .is_some()
        );
    }
    let left = "SELECT COUNT(*) FROM provider_credentials WHERE key_version <> 1";
    let n: i64 =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(left).fetch_one(pool).await).unwrap();
    assert_eq!(n, 0);
}

both_backends!(
    new_stores_get_working_sandbox_credentials,
    stored_secrets_round_trip_and_are_never_returned,
    fields_are_validated,
    environments_are_enforced,
    swapped_or_tampered_ciphertexts_fail,
    rotation_rewraps_everything_despite_concurrent_writes,
    an_interrupted_rotation_resumes,
);
