//! The database going away: at start-up a clear error, while running 503s and recovery.

use std::time::{Duration, Instant};

use cassa::{
    config::{Config, DatabaseConfig},
    startup::Application,
};
use cassa_tests::{Backend, SpawnOptions, spawn_app_with};

use crate::support::assert_problem;

#[tokio::test]
async fn unreachable_database_at_start_up_names_the_url_without_the_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url = "postgres://cassa:hunter2@127.0.0.1:1/cassa";
    let mut config = Config::new(DatabaseConfig::from_url(url).unwrap());
    config.listen_addr = "127.0.0.1:0".parse().unwrap();
    config.database.acquire_timeout = Duration::from_secs(2);
    let err = match Application::build(config).await {
        Ok(_) => panic!("the server must not start without its database"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains("postgres://cassa:***@127.0.0.1:1/cassa"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn unwritable_sqlite_location_is_a_clear_error() {
    let mut config = Config::new(
        DatabaseConfig::from_url("sqlite:///proc/cassa-cannot-live-here/cassa.db").unwrap(),
    );
    config.listen_addr = "127.0.0.1:0".parse().unwrap();
    let err = match Application::build(config).await {
        Ok(_) => panic!("the server must not start without its database"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("/proc/cassa-cannot-live-here"), "{err}");
}

async fn wait_for_status(app: &cassa_tests::TestApp, path: &str, status: u16) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.get(path).await;
        if response.status().as_u16() == status || Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_turns_readyz_red_and_recovers() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            through_proxy: true,
            configure: Some(Box::new(|config| {
                config.database.acquire_timeout = Duration::from_secs(1);
            })),
            ..Default::default()
        },
    )
    .await;
    let proxy = app.proxy.as_ref().expect("proxy");
    assert_eq!(app.get("/readyz").await.status(), 200);

    proxy.cut();
    let started = Instant::now();
    let response = wait_for_status(&app, "/readyz", 503).await;
    assert_problem(response, 503, "database_unavailable").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "outage noticed too slowly"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
    // The console still renders and says so.
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains(">unreachable<"), "{html}");

    proxy.restore();
    let response = wait_for_status(&app, "/readyz", 200).await;
    assert_eq!(response.status(), 200, "the server did not recover");
}
