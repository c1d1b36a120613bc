//! Test harness: starts the real Cassa server in-process on port 0 with a fresh database
//! (zero2prod's `spawn_app`), on SQLite and, when `TEST_DATABASE_URL` points at a PostgreSQL
//! server, on PostgreSQL too. Every app gets its own database, dropped when the app is dropped.

mod instance;
pub mod ledger;
mod probes;
mod proxy;
pub mod shop;

use std::{path::PathBuf, sync::Once, time::Duration};

use axum::Router;
use cassa::{
    clock::ManualClock,
    config::{Config, DatabaseConfig},
    db::Db,
    startup::{Application, BuildOptions},
    state::AppState,
};
use chrono::{DateTime, Utc};
use sqlx::{Connection, Executor, PgConnection};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

pub use instance::Instance;
pub use probes::probe_routes;
pub use proxy::TcpProxy;

/// Environment variable naming a PostgreSQL server (any database on it) where each test run
/// creates and drops its own database, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// The backends a test runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this admin URL.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend when `TEST_DATABASE_URL` is set. Unset, PostgreSQL tests are
    /// skipped with a message — except under CI (`CI` set), where that is a failure, so CI can
    /// never pass without having run them.
    pub fn postgres() -> Option<Backend> {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("{TEST_DATABASE_URL} must point at PostgreSQL when CI is set")
            }
            _ => {
                eprintln!("skipping the PostgreSQL variant: {TEST_DATABASE_URL} is not set");
                None
            }
        }
    }

    /// `sqlite` or `postgres`, as reported by `/readyz`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Adjusts a [`Config`] before the server is built.
pub type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// The platform admin every test server is bootstrapped with.
pub const ADMIN_EMAIL: &str = "admin@cassa.test";
/// Password of [`ADMIN_EMAIL`].
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Two master key versions; version 1 becomes primary at start-up... unless 2 is (highest wins).
/// Tests that rotate start on version 2 being primary and rotate to 1, or vice versa.
pub const TEST_MASTER_KEYS: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
     2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Knobs for [`spawn_app_with`].
#[derive(Default)]
pub struct SpawnOptions {
    /// Extra routes under `/api/v1`, behind the real edge layers.
    pub extra_api: Option<Router<AppState>>,
    /// Payment providers instead of the shipped ones.
    pub payment_providers: Option<cassa::providers::registry::PaymentRegistry>,
    /// Adjusts the configuration before the server is built.
    pub configure: Option<Configure>,
    /// Route the server's database connections through a [`TcpProxy`] the test can cut
    /// (PostgreSQL only).
    pub through_proxy: bool,
}

/// A running server plus everything a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// The server's clock, stopped at a fixed instant; move it with `advance`.
    pub clock: ManualClock,
    /// The server's pool (for assertions straight on the database).
    pub db: Db,
    /// The server's state (to call services and jobs directly).
    pub state: AppState,
    /// Which backend this app runs on.
    pub backend: Backend,
    /// The proxy between server and database, when requested.
    pub proxy: Option<TcpProxy>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _database: TestDatabase,
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// Asks the server to shut down gracefully and waits for it to stop.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// A bearer token for the bootstrapped platform admin.
    pub async fn admin_token(&self) -> String {
        self.user_token(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A bearer token for a console user.
    pub async fn user_token(&self, email: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 201, "sign-in of {email} failed");
        let body: serde_json::Value = response.json().await.expect("token body");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Creates a store as the platform admin; returns its id and sandbox secret key.
    pub async fn create_store(&self, name: &str, currency: &str) -> TestStore {
        let admin = self.admin_token().await;
        let response = self
            .client
            .post(self.url("/api/v1/platform/stores"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "name": name, "currency": currency }))
            .send()
            .await
            .expect("create store");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("store body");
        TestStore {
            id: body["id"].as_str().expect("store id").to_owned(),
            sandbox_key: body["sandbox_secret_key"].as_str().expect("key").to_owned(),
        }
    }

    /// Adds an owner with a known password to `store`; returns their bearer token.
    pub async fn create_owner(&self, store: &TestStore, email: &str) -> String {
        let admin = self.admin_token().await;
        let password = "owner-password-123";
        let response = self
            .client
            .post(self.url(&format!("/api/v1/platform/stores/{}/users", store.id)))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "email": email, "role": "owner", "password": password }))
            .send()
            .await
            .expect("create owner");
        assert_eq!(response.status(), 201);
        self.user_token(email, password).await
    }

    /// Creates a production key (`sk_live_…`) for `store` as its owner; returns the secret.
    pub async fn create_live_key(&self, store: &TestStore, owner_token: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/admin/api-keys"))
            .bearer_auth(owner_token)
            .header("cassa-store", &store.id)
            .header("cassa-environment", "production")
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&serde_json::json!({"name": "live"}))
            .send()
            .await
            .expect("create live key");
        assert_eq!(response.status(), 201);
        let key: serde_json::Value = response.json().await.expect("key body");
        let secret = key["secret"].as_str().expect("secret").to_owned();
        assert!(secret.starts_with("sk_live_"));
        secret
    }

    /// Creates a customer of `store` (sandbox) and returns its id and a customer token.
    pub async fn create_customer(&self, store: &TestStore) -> (String, String) {
        let customer: serde_json::Value = self
            .client
            .post(self.url("/api/v1/admin/customers"))
            .bearer_auth(&store.sandbox_key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&serde_json::json!({"name": "Test customer"}))
            .send()
            .await
            .expect("create customer")
            .json()
            .await
            .expect("customer body");
        let id = customer["id"].as_str().expect("customer id").to_owned();
        let token: serde_json::Value = self
            .client
            .post(self.url(&format!("/api/v1/admin/customers/{id}/tokens")))
            .bearer_auth(&store.sandbox_key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("customer token")
            .json()
            .await
            .expect("token body");
        (id, token["token"].as_str().expect("token").to_owned())
    }

    /// Sends the shutdown signal without waiting.
    pub fn begin_shutdown(&mut self) -> Option<JoinHandle<std::io::Result<()>>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take()
    }
}

/// A store created through the platform API.
#[derive(Debug, Clone)]
pub struct TestStore {
    /// Store id.
    pub id: String,
    /// Its first sandbox secret key.
    pub sandbox_key: String,
}

/// Fixed start of every test clock: tests never depend on the wall clock.
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// Starts the server on `backend` with default settings.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, SpawnOptions::default()).await
}

/// Starts the server on `backend` with a fresh database, on port 0.
pub async fn spawn_app_with(backend: Backend, options: SpawnOptions) -> TestApp {
    init_test_logging();
    let database = TestDatabase::create(&backend).await;
    let proxy = if options.through_proxy {
        let Backend::Postgres(_) = &backend else {
            panic!("through_proxy is only meaningful for PostgreSQL");
        };
        Some(TcpProxy::start(database.server_addr()).await)
    } else {
        None
    };
    let url = match &proxy {
        Some(p) => database.url_via(p.local_addr()),
        None => database.url.clone(),
    };

    let mut config = Config::new(DatabaseConfig::from_url(url).expect("valid test database url"));
    config.listen_addr = "127.0.0.1:0".parse().expect("valid address");
    config.database.max_connections = 5;
    config.master_keys = cassa::config::MasterKeySource::Inline(TEST_MASTER_KEYS.to_owned().into());
    config.admin_email = Some(ADMIN_EMAIL.to_owned());
    config.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
    // Where the outbound webhook tests mount their merchant receivers.
    config
        .own_receiver_paths
        .push("/api/v1/test-hooks/".to_owned());
    if let Some(configure) = options.configure {
        configure(&mut config);
    }

    let clock = ManualClock::new(test_epoch());
    let app = Application::build_with(
        config,
        BuildOptions {
            clock: Some(std::sync::Arc::new(clock.clone())),
            extra_api: options.extra_api,
            payment_providers: options.payment_providers,
            carriers: None,
        },
    )
    .await
    .expect("failed to build the application");
    let address = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");

    TestApp {
        address,
        client,
        clock,
        db,
        state,
        backend,
        proxy,
        shutdown: Some(tx),
        server: Some(server),
        _database: database,
    }
}

fn init_test_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Quiet by default; `TEST_LOG=debug cargo test` shows the server's logs.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            cassa::telemetry::init_tracing(cassa::config::LogFormat::Text, &filter);
        }
    });
}

/// A database that exists for one test app and is removed afterwards.
struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    async fn create(backend: &Backend) -> Self {
        let unique = Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("cassa-test-{unique}"));
                let url = format!("sqlite://{}", dir.join("cassa.db").display());
                TestDatabase {
                    url,
                    cleanup: Cleanup::SqliteDir(dir),
                }
            }
            Backend::Postgres(admin_url) => {
                let name = format!("cassa_test_{unique}");
                let mut conn = PgConnection::connect(admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach {TEST_DATABASE_URL}: {e}"));
                conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    url: url.to_string(),
                    cleanup: Cleanup::Postgres {
                        admin_url: admin_url.clone(),
                        name,
                    },
                }
            }
        }
    }

    /// Host and port of the PostgreSQL server.
    fn server_addr(&self) -> String {
        let url = url::Url::parse(&self.url).expect("database url");
        format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        )
    }

    /// The database URL with host and port replaced by `addr`.
    fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("database url");
        url.set_host(Some(&addr.ip().to_string())).expect("host");
        url.set_port(Some(addr.port())).expect("port");
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let admin_url = admin_url.clone();
                let db_name = name.clone();
                // Drop runs inside the test's runtime, which cannot be blocked on; a helper
                // thread with its own runtime drops the database (FORCE ends the server's
                // remaining connections).
                let joined = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async move {
                        let mut conn = PgConnection::connect(&admin_url).await?;
                        conn.execute(
                            format!(r#"DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)"#).as_str(),
                        )
                        .await?;
                        conn.close().await
                    })
                })
                .join();
                if !matches!(joined, Ok(Ok(()))) {
                    eprintln!("warning: could not drop test database {name}");
                }
            }
        }
    }
}

/// Runs a test body against SQLite and PostgreSQL, as `mod <name> { sqlite, postgres }`.
///
/// ```ignore
/// async fn readiness(backend: Backend) { ... }
/// both_backends!(readiness);
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::Backend::postgres() {
                    super::$name(backend).await;
                }
            }
        }
    )*};
}

/// The sandbox provider's client for a store's credentials, with a call budget of `timeout`
/// (the server's own clients use `CASSA_PROVIDER_TIMEOUT_MS`).
pub async fn sandbox_client(
    state: &AppState,
    store: cassa::types::StoreId,
    env: cassa::types::Environment,
    timeout: Duration,
) -> Result<Box<dyn cassa::providers::payment::PaymentProvider>, String> {
    let credentials = cassa::credentials::load(state, store, "sandbox", env)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no sandbox credentials")?;
    let mut ctx = cassa::credentials::client_context(state, store, env);
    ctx.timeout = timeout;
    let adapter = state
        .payment_providers
        .get("sandbox")
        .ok_or("the sandbox provider is not registered")?;
    adapter
        .client(&ctx, &credentials)
        .map_err(|e| e.to_string())
}

/// The sandbox provider's fields of stored credentials, for tests that look inside them.
pub struct SandboxFields {
    /// API key sent to the PSP.
    pub api_key: secrecy::SecretString,
    /// Webhook signing secret.
    pub webhook_secret: secrecy::SecretString,
    /// The PSP's address, when not the mounted one.
    pub base_url: Option<String>,
}

/// `credentials.sandbox()`: the sandbox fields of loaded credentials.
pub trait AsSandbox {
    /// `None` when there are none or they are not the sandbox provider's.
    fn sandbox(self) -> Option<SandboxFields>;
}

impl AsSandbox for Option<cassa::credentials::Credentials> {
    fn sandbox(self) -> Option<SandboxFields> {
        let c = self.filter(|c| c.provider() == "sandbox")?;
        Some(SandboxFields {
            api_key: c.get("api_key")?.clone(),
            webhook_secret: c.get("webhook_secret")?.clone(),
            base_url: c.setting("base_url").map(str::to_owned),
        })
    }
}
