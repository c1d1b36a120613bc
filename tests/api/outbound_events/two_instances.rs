//! Two server instances on one PostgreSQL database share the delivery queue: every delivery
//! is attempted once, by one of them (claims go through the database, `FOR UPDATE SKIP
//! LOCKED`), while both take requests that emit events and both run their workers.
//!
//! SQLite is one process's file (its writers are serialized in the process), so the test
//! runs on PostgreSQL only.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use cassa::{
    config::{Config, DatabaseConfig, MasterKeySource},
    egress::Egress,
    startup::{Application, BuildOptions},
    state::AppState,
};
use cassa_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, SpawnOptions, TEST_MASTER_KEYS, TestApp, spawn_app_with,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::endpoint;
use crate::webhook_endpoints::ENDPOINTS;

/// Endpoints of the store, and pings emitted to each.
const ENDPOINT_COUNT: usize = 4;
const PINGS_PER_ENDPOINT: usize = 75;
/// Delivery slots of each instance.
const WORKERS: usize = 8;

/// Counts what arrives, by `webhook-id`.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<HashMap<String, usize>>>,
}

impl Receiver {
    fn routes(&self) -> Router<AppState> {
        let receiver = self.clone();
        Router::new().route(
            "/test-hooks/two-instances",
            post(move |headers: HeaderMap, _body: Bytes| {
                let receiver = receiver.clone();
                async move {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    *receiver.received.lock().unwrap().entry(id).or_default() += 1;
                    "ok"
                }
            }),
        )
    }

    fn received(&self) -> HashMap<String, usize> {
        self.received.lock().unwrap().clone()
    }
}

/// The URL of the database `app` runs on (a fresh one the test harness created).
async fn database_url(app: &TestApp, admin_url: &str) -> String {
    let cassa::db::Db::Postgres(pool) = &app.db else {
        panic!("PostgreSQL only");
    };
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A second instance on `app`'s database, with its own pool, listener, wake-ups and workers,
/// and `app`'s clock. Returns its address, its stop signal and its tasks.
async fn second_instance(
    app: &TestApp,
    admin_url: &str,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tokio::task::JoinHandle<()>,
) {
    let url = database_url(app, admin_url).await;
    let mut config = Config::new(DatabaseConfig::from_url(url).unwrap());
    config.listen_addr = "127.0.0.1:0".parse().unwrap();
    config.database.max_connections = 5;
    config.master_keys = MasterKeySource::Inline(TEST_MASTER_KEYS.to_owned().into());
    config.admin_email = Some(ADMIN_EMAIL.to_owned());
    config.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
    config.api_key_rate = None;
    config
        .own_receiver_paths
        .push("/api/v1/test-hooks/".to_owned());
    // Its workers are started below, with the address the instances share.
    config.outbound_webhook_workers = 0;
    let instance = Application::build_with(
        config,
        BuildOptions {
            clock: Some(Arc::new(app.clock.clone())),
            extra_api: None,
            payment_providers: None,
            carriers: None,
        },
    )
    .await
    .unwrap();
    let address = format!("http://{}", instance.local_addr());
    // Behind a load balancer, instances answer at one address, and a sandbox endpoint at it is
    // the one internal address they may reach; here each listens on its own port, so the
    // second one's workers get a guarded client whose own address is the first's (the same
    // rules otherwise): both can deliver to the receiver mounted there.
    let mut sender = instance.state().clone();
    let shared: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    sender.egress = Egress::new(shared, &[]).unwrap();
    let mut worker_config = (*sender.config).clone();
    worker_config.outbound_webhook_workers = WORKERS;
    sender.config = Arc::new(worker_config);
    let workers = cassa::outbound::spawn_workers(sender).expect("workers");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(instance.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (address, stop, server, workers)
}

/// Pings `endpoint` through the instance at `address`; the pinged event's id.
async fn ping(client: &reqwest::Client, address: &str, key: &str, endpoint: &str) -> String {
    let response = client
        .post(format!("{address}{ENDPOINTS}/{endpoint}/ping"))
        .bearer_auth(key)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 202, "{body}");
    body["event_id"].as_str().unwrap().to_owned()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_never_deliver_one_attempt_twice() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let Backend::Postgres(admin_url) = backend.clone() else {
        unreachable!("Backend::postgres is PostgreSQL");
    };
    let receiver = Receiver::default();
    let mut first = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(receiver.routes()),
            configure: Some(Box::new(|config| {
                config.outbound_webhook_workers = WORKERS;
                config.api_key_rate = None;
            })),
            ..SpawnOptions::default()
        },
    )
    .await;
    let (second, stop_second, second_server, second_workers) =
        second_instance(&first, &admin_url).await;
    let store = first.create_store("Shop", "USD").await;
    let key = store.sandbox_key.clone();
    let url = first.url("/api/v1/test-hooks/two-instances");
    let mut endpoints = Vec::new();
    for _ in 0..ENDPOINT_COUNT {
        endpoints.push(
            endpoint(
                &first,
                &key,
                json!({"url": url, "event_types": ["order.paid"]}),
            )
            .await,
        );
    }

    // Pings through both instances, several at once, while both instances' workers run: each
    // instance's emissions wake its own workers, and both poll.
    let addresses = [first.address.clone(), second.clone()];
    let mut pings = tokio::task::JoinSet::new();
    let jobs: Vec<(String, String)> = (0..PINGS_PER_ENDPOINT)
        .flat_map(|_| endpoints.iter().cloned())
        .enumerate()
        .map(|(i, endpoint)| (addresses[i % 2].clone(), endpoint))
        .collect();
    let jobs = Arc::new(Mutex::new(jobs));
    for _ in 0..8 {
        let (client, key, jobs) = (first.client.clone(), key.clone(), jobs.clone());
        pings.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let Some((address, endpoint)) = jobs.lock().unwrap().pop() else {
                    return ids;
                };
                ids.push(ping(&client, &address, &key, &endpoint).await);
            }
        });
    }
    let mut emitted: Vec<String> = pings.join_all().await.into_iter().flatten().collect();
    let total = ENDPOINT_COUNT * PINGS_PER_ENDPOINT;
    assert_eq!(emitted.len(), total);

    // Until every delivery has succeeded (the clock stands still: no lease ever runs out, so
    // a second attempt could only come from a second claim).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let open = count(
            &first,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'",
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} deliveries still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Workers still finishing a duplicate would have sent it by now.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let received = receiver.received();
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    let mut ids: Vec<String> = received.into_keys().collect();
    ids.sort();
    emitted.sort();
    assert_eq!(ids, emitted, "every event received, nothing else");
    assert_eq!(
        count(&first, "SELECT COUNT(*) FROM webhook_deliveries").await,
        total as i64
    );
    assert_eq!(
        count(&first, "SELECT COUNT(*) FROM webhook_delivery_attempts").await,
        total as i64,
        "one attempt per delivery"
    );
    assert_eq!(
        count(
            &first,
            "SELECT COUNT(DISTINCT delivery_id) FROM webhook_delivery_attempts"
        )
        .await,
        total as i64
    );
    assert_eq!(
        count(
            &first,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE attempt_count <> 1"
        )
        .await,
        0
    );
    // Which instance sent an attempt is recorded nowhere (attempts carry no instance, and
    // both send from this process to one address), so the test does not assert that both
    // did; what it asserts holds whichever did.

    let _ = stop_second.send(());
    second_server.await.unwrap().unwrap();
    second_workers.await.unwrap();
    first.stop().await.unwrap();
}
