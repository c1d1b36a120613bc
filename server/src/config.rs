//! Configuration: every setting comes from an environment variable (or the matching flag) with a
//! documented default. The README's configuration table mirrors this file.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{ArgAction, Args, ValueEnum, builder::BoolishValueParser};

use secrecy::SecretString;

use crate::secret::DatabaseUrl;

/// Defaults shared by the command line and by [`Config::new`], so tests and the binary agree.
pub mod defaults {
    /// Where the server listens.
    pub const LISTEN_ADDR: &str = "127.0.0.1:3000";
    /// Folder for the embedded database and other local files.
    pub const DATA_DIR: &str = "data";
    /// File name of the embedded SQLite database inside the data folder.
    pub const SQLITE_FILE: &str = "cassa.db";
    /// Maximum connections in the database pool.
    pub const DB_MAX_CONNECTIONS: u32 = 10;
    /// How long a request waits for a pooled connection before it is answered with 503.
    pub const DB_ACQUIRE_TIMEOUT_SECS: u64 = 5;
    /// Largest accepted request body.
    pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;
    pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
    /// Longest a request may take before it is answered with 503 `request_timeout`.
    pub const REQUEST_TIMEOUT_SECS: u64 = 30;
    /// How long shutdown waits for in-flight requests.
    pub const SHUTDOWN_GRACE_SECS: u64 = 30;
    /// Where cargo-leptos puts the console's compiled assets.
    pub const SITE_ROOT: &str = "target/site";
    /// Idle lifetime of a console session.
    pub const SESSION_IDLE_MINUTES: i64 = 30;
    /// Absolute lifetime of a console session.
    pub const SESSION_ABSOLUTE_HOURS: i64 = 12;
    /// Lifetime of a checkout snapshot.
    pub const SNAPSHOT_TTL_SECS: i64 = 900;
    /// How old a tax transaction must be before an export includes it.
    pub const TAX_EXPORT_SETTLE_SECS: i64 = 5;
    pub const RECONCILIATION_INTERVAL_SECS: u64 = 3600;
    pub const RECONCILIATION_STALE_SECS: i64 = 3600;
    pub const RECONCILIATION_BATCH: i64 = 500;
    pub const RECONCILIATION_RUNNERS: usize = 1;
    /// Development master key file inside the data folder.
    pub const DEV_KEY_FILE: &str = "master.keys";
    /// Failed sign-ins one client address may make at once before it is throttled.
    pub const SIGN_IN_IP_BURST: u32 = 20;
    /// Failed sign-ins per minute a throttled client address regains.
    pub const SIGN_IN_IP_PER_MINUTE: u32 = 10;
    /// Longest wait the per-account sign-in backoff imposes between attempts.
    pub const SIGN_IN_BACKOFF_MAX_SECS: i64 = 900;
    /// Requests per second one API key may make on average (0: unlimited).
    pub const API_KEY_RATE_LIMIT: u32 = 100;
    /// Requests one API key may make at once.
    pub const API_KEY_RATE_BURST: u32 = 200;
    /// Outbound webhook deliveries one process has in flight at once (0: none).
    pub const OUTBOUND_WEBHOOK_WORKERS: usize = 32;
    /// Time budget of one outbound webhook delivery attempt, in milliseconds.
    pub const OUTBOUND_WEBHOOK_TIMEOUT_MS: u64 = 10_000;
    /// Days processed, dead and rejected webhook events are kept (0: forever).
    pub const RETENTION_WEBHOOK_EVENTS_DAYS: u32 = 30;
    /// Days provider call audit rows are kept (0: forever).
    pub const RETENTION_PROVIDER_AUDIT_DAYS: u32 = 90;
    /// Days an expired checkout snapshot no payment uses is kept (0: forever).
    pub const RETENTION_SNAPSHOTS_DAYS: u32 = 7;
    /// Days the sandbox PSP keeps its idempotency records and unreferenced payments (0: forever).
    pub const RETENTION_SANDBOX_PSP_DAYS: u32 = 30;
    /// Days finished outbound webhook deliveries (with their attempts) and the events no
    /// delivery needs are kept after the event (0: forever).
    pub const RETENTION_OUTBOUND_WEBHOOKS_DAYS: u32 = 30;
}

/// Settings about the database, shared by `cassa serve` and `cassa migrate`.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// `sqlite://path/to/file.db` or `postgres://user:password@host:port/db`; several
    /// PostgreSQL hosts as libpq writes them (`postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write`).
    /// Unset: an SQLite file `cassa.db` in the data folder, created on first run.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder for the embedded database (created if missing).
    #[arg(long, env = "CASSA_DATA_DIR", default_value = defaults::DATA_DIR)]
    pub data_dir: PathBuf,
    /// Maximum connections in the database pool.
    #[arg(long, env = "CASSA_DB_MAX_CONNECTIONS", default_value_t = defaults::DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it gets 503.
    #[arg(long, env = "CASSA_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = defaults::DB_ACQUIRE_TIMEOUT_SECS)]
    pub db_acquire_timeout_secs: u64,
}

/// Settings of `cassa serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "CASSA_LISTEN_ADDR", default_value = defaults::LISTEN_ADDR)]
    pub listen_addr: SocketAddr,
    /// Apply pending migrations at start-up (`false` to run `cassa migrate` separately).
    #[arg(long, env = "CASSA_MIGRATE_ON_START", default_value = "true", action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub migrate_on_start: bool,
    /// Largest accepted request body in bytes; larger bodies get 413.
    #[arg(long, env = "CASSA_BODY_LIMIT_BYTES", default_value_t = defaults::BODY_LIMIT_BYTES)]
    pub body_limit_bytes: usize,
    /// Seconds before a request is abandoned with 503 `request_timeout`.
    #[arg(long, env = "CASSA_REQUEST_TIMEOUT_SECS", default_value_t = defaults::REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,
    /// Seconds shutdown waits for in-flight requests after SIGTERM/SIGINT.
    #[arg(long, env = "CASSA_SHUTDOWN_GRACE_SECS", default_value_t = defaults::SHUTDOWN_GRACE_SECS)]
    pub shutdown_grace_secs: u64,
    /// Folder with the console's compiled assets (`pkg/`), as built by cargo-leptos.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = defaults::SITE_ROOT)]
    pub site_root: PathBuf,
    /// Console sessions unused this many minutes expire.
    #[arg(long, env = "CASSA_SESSION_IDLE_MINUTES", default_value_t = defaults::SESSION_IDLE_MINUTES)]
    pub session_idle_minutes: i64,
    /// Console sessions expire this many hours after sign-in, however active.
    #[arg(long, env = "CASSA_SESSION_ABSOLUTE_HOURS", default_value_t = defaults::SESSION_ABSOLUTE_HOURS)]
    pub session_absolute_hours: i64,
    /// `auto` (Secure unless listening on loopback), `true` or `false`.
    #[arg(long, env = "CASSA_COOKIE_SECURE", default_value = "auto")]
    pub cookie_secure: CookieSecure,
    /// Added latency of every sandbox PSP answer, in milliseconds.
    #[arg(long, env = "CASSA_SANDBOX_PSP_LATENCY_MS", default_value_t = 0)]
    pub sandbox_psp_latency_ms: u64,
    /// How late the sandbox PSP answers `pm_card_timeout`, in milliseconds.
    #[arg(
        long,
        env = "CASSA_SANDBOX_PSP_TIMEOUT_DELAY_MS",
        default_value_t = 20_000
    )]
    pub sandbox_psp_timeout_delay_ms: u64,
    /// Added latency of every sandbox carrier answer, in milliseconds.
    #[arg(long, env = "CASSA_SANDBOX_CARRIER_LATENCY_MS", default_value_t = 0)]
    pub sandbox_carrier_latency_ms: u64,
    /// How late the sandbox carrier answers a label purchase to postal code 99903, in
    /// milliseconds.
    #[arg(
        long,
        env = "CASSA_SANDBOX_CARRIER_TIMEOUT_DELAY_MS",
        default_value_t = 20_000
    )]
    pub sandbox_carrier_timeout_delay_ms: u64,
    /// How long Cassa waits for a payment provider's answer, in milliseconds; a call that takes
    /// longer has an unknown outcome and is resolved later with the same idempotency key.
    #[arg(long, env = "CASSA_PROVIDER_TIMEOUT_MS", default_value_t = 10_000)]
    pub provider_timeout_ms: u64,
    /// Seconds between passes of the job that resolves payment transactions whose outcome is
    /// still open (timeouts, crashes between the phases, asynchronous authorizations).
    #[arg(long, env = "CASSA_RESOLVER_INTERVAL_SECS", default_value_t = 30)]
    pub resolver_interval_secs: u64,
    /// Hours after which a payment transaction whose outcome is still open is reported at
    /// `ERROR` (and counted in `payments_unresolved_overdue_total`) on every resolver attempt.
    #[arg(long, env = "CASSA_UNRESOLVED_ALERT_HOURS", default_value_t = 24)]
    pub unresolved_alert_hours: i64,
    /// Webhook worker loops in this process (0: this process only receives webhooks).
    #[arg(long, env = "CASSA_WEBHOOK_WORKERS", default_value_t = 1)]
    pub webhook_workers: usize,
    /// Processing attempts of a webhook event before it is dead-lettered.
    #[arg(long, env = "CASSA_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: i32,
    /// Outbound webhook deliveries this process has in flight at once (0: this process
    /// delivers none; another one does).
    #[arg(long, env = "CASSA_OUTBOUND_WEBHOOK_WORKERS", default_value_t = defaults::OUTBOUND_WEBHOOK_WORKERS)]
    pub outbound_webhook_workers: usize,
    /// How long one outbound webhook delivery attempt may take (connect, send, answer), in
    /// milliseconds; longer is a failed attempt, retried later.
    #[arg(long, env = "CASSA_OUTBOUND_WEBHOOK_TIMEOUT_MS", default_value_t = defaults::OUTBOUND_WEBHOOK_TIMEOUT_MS)]
    pub outbound_webhook_timeout_ms: u64,
    /// How long resolved tokens and decrypted provider credentials are cached in the process,
    /// in milliseconds (0: no caching). Changes made through another instance are seen after
    /// at most this long.
    #[arg(long, env = "CASSA_CACHE_TTL_MS", default_value_t = 5_000)]
    pub cache_ttl_ms: u64,
    /// Seed the demo store (products, customers, a few hundred sandbox payments) on start-up
    /// when the database does not have it yet.
    #[arg(long, env = "CASSA_DEMO", default_value_t = false)]
    pub demo: bool,
    /// Seconds a checkout snapshot (quote) stays payable.
    #[arg(long, env = "CASSA_SNAPSHOT_TTL_SECS", default_value_t = defaults::SNAPSHOT_TTL_SECS)]
    pub snapshot_ttl_secs: i64,
    /// Seconds a tax transaction must be old before an export includes it (so a download again
    /// finds exactly the same transactions).
    #[arg(long, env = "CASSA_TAX_EXPORT_SETTLE_SECS", default_value_t = defaults::TAX_EXPORT_SETTLE_SECS)]
    pub tax_export_settle_secs: i64,
    /// Seconds between scheduler passes that queue yesterday's reconciliation run of every
    /// store with payments (0: no scheduled runs; runners still work queued ones).
    #[arg(long, env = "CASSA_RECONCILIATION_INTERVAL_SECS", default_value_t = defaults::RECONCILIATION_INTERVAL_SECS)]
    pub reconciliation_interval_secs: u64,
    /// Seconds after which a payment whose outcome is still open is a `stale_unknown` item.
    #[arg(long, env = "CASSA_RECONCILIATION_STALE_SECS", default_value_t = defaults::RECONCILIATION_STALE_SECS)]
    pub reconciliation_stale_secs: i64,
    /// Payments (or provider records) a reconciliation run compares per batch (one commit).
    #[arg(long, env = "CASSA_RECONCILIATION_BATCH", default_value_t = defaults::RECONCILIATION_BATCH)]
    pub reconciliation_batch: i64,
    /// Reconciliation runs this instance works at once (0: it works none, another instance does).
    #[arg(long, env = "CASSA_RECONCILIATION_RUNNERS", default_value_t = defaults::RECONCILIATION_RUNNERS)]
    pub reconciliation_runners: usize,
    /// `development` or `production`. Production refuses to start without configured master keys.
    #[arg(long, env = "CASSA_ENV", default_value = "development")]
    pub env: RunMode,
    /// Master keys: `<version>:<base64 of 32 bytes>` entries separated by commas.
    #[arg(long, env = "CASSA_MASTER_KEYS", hide_env_values = true)]
    pub master_keys: Option<SecretString>,
    /// File with master keys, one `<version>:<base64>` per line (instead of CASSA_MASTER_KEYS).
    #[arg(long, env = "CASSA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Email of the platform admin created at start-up when none exists.
    #[arg(long, env = "CASSA_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Password of that admin (at least 12 characters). Unset: one is generated and logged once.
    #[arg(long, env = "CASSA_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<SecretString>,
    /// Hosts (`host` or `host:port`, comma-separated) a store's provider `base_url` may point
    /// at, besides this server's own sandbox PSP.
    #[arg(long, env = "CASSA_PROVIDER_ALLOWED_HOSTS", value_delimiter = ',')]
    pub provider_allowed_hosts: Vec<String>,
    /// Stripe's API (server configuration only, never a store's). A path (`/…`) names a
    /// Stripe-shaped server mounted in this process, which only the tests do, outside
    /// production.
    #[arg(long, env = "CASSA_STRIPE_API_BASE", default_value = defaults::STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// Serve `/metrics` on this address only (not on the main listener).
    #[arg(long, env = "CASSA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Bearer token `/metrics` requires when set.
    #[arg(long, env = "CASSA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<SecretString>,
    /// Proxies whose `X-Forwarded-For` is believed: comma-separated IP addresses or CIDR
    /// ranges. Empty: the client address is always the TCP peer.
    #[arg(long, env = "CASSA_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Failed sign-ins one client address may make at once before it gets 429.
    #[arg(long, env = "CASSA_SIGN_IN_IP_BURST", default_value_t = defaults::SIGN_IN_IP_BURST)]
    pub sign_in_ip_burst: u32,
    /// Failed sign-ins per minute a client address regains.
    #[arg(long, env = "CASSA_SIGN_IN_IP_PER_MINUTE", default_value_t = defaults::SIGN_IN_IP_PER_MINUTE)]
    pub sign_in_ip_per_minute: u32,
    /// Longest wait, in seconds, the per-account sign-in backoff imposes.
    #[arg(long, env = "CASSA_SIGN_IN_BACKOFF_MAX_SECS", default_value_t = defaults::SIGN_IN_BACKOFF_MAX_SECS)]
    pub sign_in_backoff_max_secs: i64,
    /// Password hashes (argon2) computed at once; more are refused with 503 at once.
    /// Unset: the number of CPUs.
    #[arg(long, env = "CASSA_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,
    /// Average requests per second one API key may make (0: unlimited).
    #[arg(long, env = "CASSA_API_KEY_RATE_LIMIT", default_value_t = defaults::API_KEY_RATE_LIMIT)]
    pub api_key_rate_limit: u32,
    /// Requests one API key may make at once (the token bucket's size).
    #[arg(long, env = "CASSA_API_KEY_RATE_BURST", default_value_t = defaults::API_KEY_RATE_BURST)]
    pub api_key_rate_burst: u32,
    /// Days processed, dead and rejected webhook events are kept (0: forever).
    #[arg(long, env = "CASSA_RETENTION_WEBHOOK_EVENTS_DAYS", default_value_t = defaults::RETENTION_WEBHOOK_EVENTS_DAYS)]
    pub retention_webhook_events_days: u32,
    /// Days provider call audit rows are kept (0: forever).
    #[arg(long, env = "CASSA_RETENTION_PROVIDER_AUDIT_DAYS", default_value_t = defaults::RETENTION_PROVIDER_AUDIT_DAYS)]
    pub retention_provider_audit_days: u32,
    /// Days after its expiry a checkout snapshot that no payment uses is kept (0: forever).
    #[arg(long, env = "CASSA_RETENTION_SNAPSHOTS_DAYS", default_value_t = defaults::RETENTION_SNAPSHOTS_DAYS)]
    pub retention_snapshots_days: u32,
    /// Days the sandbox PSP keeps idempotency records and payments no intent refers to (0: forever).
    #[arg(long, env = "CASSA_RETENTION_SANDBOX_PSP_DAYS", default_value_t = defaults::RETENTION_SANDBOX_PSP_DAYS)]
    pub retention_sandbox_psp_days: u32,
    /// Days finished outbound webhook deliveries and the events no delivery needs are kept
    /// after the event (0: forever).
    #[arg(long, env = "CASSA_RETENTION_OUTBOUND_WEBHOOKS_DAYS", default_value_t = defaults::RETENTION_OUTBOUND_WEBHOOKS_DAYS)]
    pub retention_outbound_webhooks_days: u32,
}

/// Settings of logging, shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "CASSA_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info,cassa=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log_filter: String,
}

/// How strictly the server treats missing production settings.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Local use: a development master key is generated into the data folder if none is set.
    Development,
    /// Real money: master keys must be configured.
    Production,
}

/// Where the master keys come from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// `CASSA_MASTER_KEYS`.
    Inline(SecretString),
    /// `CASSA_MASTER_KEY_FILE`.
    File(PathBuf),
    /// Development only: this file, generated on first run.
    Development(PathBuf),
}

/// Whether the session cookie carries the `Secure` flag.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// Secure unless the server listens on a loopback address (plain-HTTP development).
    Auto,
    /// Always Secure (behind TLS).
    True,
    /// Never Secure.
    False,
}

/// Output format of log lines.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the request id and span fields.
    Json,
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Lower-case name, as shown in the console and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL scheme is neither SQLite nor PostgreSQL.
    #[error("unsupported DATABASE_URL {0}: use sqlite://… or postgres://…")]
    UnsupportedDatabase(DatabaseUrl),
    /// A PostgreSQL URL that cannot be used (a bad host list or `target_session_attrs`).
    #[error("DATABASE_URL {url}: {reason}")]
    PostgresUrl {
        /// The URL, password masked.
        url: DatabaseUrl,
        /// What is wrong with it (never the password).
        reason: crate::pg_url::PgUrlError,
    },
    /// An entry of `CASSA_TRUSTED_PROXIES` is neither an IP address nor a CIDR range.
    #[error("CASSA_TRUSTED_PROXIES: {0:?} is not an IP address or CIDR range")]
    TrustedProxy(String),
}

/// Resolved database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection URL (its password never prints).
    pub url: DatabaseUrl,
    /// Engine selected by the URL's scheme.
    pub backend: Backend,
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    /// Settings for `url` with default pool sizes.
    pub fn from_url(url: impl Into<String>) -> Result<Self, ConfigError> {
        let url = DatabaseUrl::new(url);
        let scheme = url.expose().split(':').next().unwrap_or_default();
        let backend = match scheme {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            _ => return Err(ConfigError::UnsupportedDatabase(url)),
        };
        if backend == Backend::Postgres {
            // Checked here so that a bad host list stops `cassa serve` before anything runs.
            if let Err(reason) = crate::pg_url::PgTargets::parse(url.expose()) {
                return Err(ConfigError::PostgresUrl { url, reason });
            }
        }
        Ok(Self {
            url,
            backend,
            max_connections: defaults::DB_MAX_CONNECTIONS,
            acquire_timeout: Duration::from_secs(defaults::DB_ACQUIRE_TIMEOUT_SECS),
        })
    }

    /// Settings from the command line / environment.
    pub fn from_args(args: &DatabaseArgs) -> Result<Self, ConfigError> {
        let url = match &args.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => format!(
                "sqlite://{}",
                args.data_dir.join(defaults::SQLITE_FILE).display()
            ),
        };
        let mut config = Self::from_url(url)?;
        config.max_connections = args.db_max_connections.max(1);
        config.acquire_timeout = Duration::from_secs(args.db_acquire_timeout_secs.max(1));
        Ok(config)
    }
}

/// Everything `cassa serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: usize,
    /// Per-request time budget.
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Folder with the console's compiled assets.
    pub site_root: PathBuf,
    /// Idle timeout of console sessions.
    pub session_idle: chrono::Duration,
    /// Absolute lifetime of console sessions.
    pub session_absolute: chrono::Duration,
    /// Session cookie `Secure` policy.
    pub cookie_secure: CookieSecure,
    /// Development or production.
    pub run_mode: RunMode,
    /// Where the master keys come from.
    pub master_keys: MasterKeySource,
    /// How long a checkout snapshot stays payable.
    pub snapshot_ttl: chrono::Duration,
    /// How old a tax transaction must be before an export includes it.
    pub tax_export_settle: chrono::Duration,
    /// How often the reconciliation scheduler queues runs (zero: never).
    pub reconciliation_interval: Duration,
    /// How long an open payment outcome may last before reconciliation flags it.
    pub reconciliation_stale: chrono::Duration,
    /// Payments compared per reconciliation batch.
    pub reconciliation_batch: i64,
    /// Reconciliation runs this instance works at once.
    pub reconciliation_runners: usize,
    /// Added latency of the sandbox PSP.
    pub sandbox_psp_latency: Duration,
    /// How late the sandbox PSP answers `pm_card_timeout`.
    pub sandbox_psp_timeout_delay: Duration,
    /// Added latency of the sandbox carrier.
    pub sandbox_carrier_latency: Duration,
    /// How late the sandbox carrier answers a label purchase to postal code 99903.
    pub sandbox_carrier_timeout_delay: Duration,
    /// How long a payment provider call may take before its outcome counts as unknown.
    pub provider_timeout: Duration,
    /// Time between resolver passes (open transactions are resolved once this old).
    pub resolver_interval: Duration,
    /// Age at which a still-open transaction is reported on every resolver attempt.
    pub unresolved_alert_after: chrono::Duration,
    /// Webhook worker loops in this process.
    pub webhook_workers: usize,
    /// Attempts before a webhook event is dead-lettered.
    pub webhook_max_attempts: i32,
    /// Outbound webhook deliveries this process has in flight at once (0: none).
    pub outbound_webhook_workers: usize,
    /// Time budget of one outbound webhook delivery attempt.
    pub outbound_webhook_timeout: Duration,
    /// Lifetime of cached principals and credentials (zero: no caching).
    pub cache_ttl: Duration,
    /// Email of the platform admin bootstrapped when none exists.
    pub admin_email: Option<String>,
    /// Password of the bootstrapped admin; generated (and logged once) when unset.
    pub admin_password: Option<SecretString>,
    /// Hosts provider base URLs may name besides this server (`host` or `host:port`).
    pub provider_allowed_hosts: Vec<String>,
    /// Path prefixes on this server's own address a sandbox webhook endpoint of a non-production
    /// server may name: the inbound receivers; tests add the receivers they mount. Not read
    /// from the environment.
    pub own_receiver_paths: Vec<String>,
    /// Stripe's API base URL (or a path on this server, for the tests' Stripe-shaped server).
    pub stripe_api_base: String,
    /// Separate listener for `/metrics` (then the main listener answers it 404).
    pub metrics_addr: Option<SocketAddr>,
    /// Bearer token `/metrics` requires, when set.
    pub metrics_token: Option<SecretString>,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::limits::TrustedProxies,
    /// Failed sign-ins per client address: bucket size and refill.
    pub sign_in_ip_rate: crate::limits::Rate,
    /// Cap of the per-account sign-in backoff.
    pub sign_in_backoff_max: chrono::Duration,
    /// Concurrent argon2 computations.
    pub password_hash_concurrency: usize,
    /// Requests per API key (None: unlimited).
    pub api_key_rate: Option<crate::limits::Rate>,
    /// How long finished data is kept before the retention job purges it.
    pub retention: Retention,
}

/// Retention periods; `None` keeps the data forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Processed, dead and rejected webhook events, after they were received.
    pub webhook_events: Option<chrono::Duration>,
    /// Provider call audit rows, after the call.
    pub provider_audit: Option<chrono::Duration>,
    /// Checkout snapshots no payment uses, after they expired.
    pub snapshots: Option<chrono::Duration>,
    /// The sandbox PSP's idempotency records and payments no intent refers to.
    pub sandbox_psp: Option<chrono::Duration>,
    /// Finished outbound webhook deliveries, their attempts and the events no delivery needs,
    /// after the event.
    pub outbound_webhooks: Option<chrono::Duration>,
}

impl Retention {
    /// Days as a period, 0 meaning forever.
    pub fn days(days: u32) -> Option<chrono::Duration> {
        (days > 0).then(|| chrono::Duration::days(i64::from(days)))
    }

    /// The documented defaults.
    pub fn defaults() -> Self {
        Self {
            webhook_events: Self::days(defaults::RETENTION_WEBHOOK_EVENTS_DAYS),
            provider_audit: Self::days(defaults::RETENTION_PROVIDER_AUDIT_DAYS),
            snapshots: Self::days(defaults::RETENTION_SNAPSHOTS_DAYS),
            sandbox_psp: Self::days(defaults::RETENTION_SANDBOX_PSP_DAYS),
            outbound_webhooks: Self::days(defaults::RETENTION_OUTBOUND_WEBHOOKS_DAYS),
        }
    }
}

fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn api_key_rate(per_second: u32, burst: u32) -> Option<crate::limits::Rate> {
    (per_second > 0)
        .then(|| crate::limits::Rate::per_second(f64::from(per_second), f64::from(burst.max(1))))
}

impl Config {
    /// Whether session cookies get `Secure` on this listen address. Production always does:
    /// real money is never served without TLS, whatever the listen address suggests.
    pub fn secure_cookies(&self) -> bool {
        if self.run_mode == RunMode::Production {
            return true;
        }
        match self.cookie_secure {
            CookieSecure::True => true,
            CookieSecure::False => false,
            CookieSecure::Auto => !self.listen_addr.ip().is_loopback(),
        }
    }

    /// Defaults for everything but the database.
    pub fn new(database: DatabaseConfig) -> Self {
        Self {
            listen_addr: defaults::LISTEN_ADDR
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 3000))),
            database,
            migrate_on_start: true,
            body_limit_bytes: defaults::BODY_LIMIT_BYTES,
            request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_SECS),
            shutdown_grace: Duration::from_secs(defaults::SHUTDOWN_GRACE_SECS),
            site_root: PathBuf::from(defaults::SITE_ROOT),
            session_idle: chrono::Duration::minutes(defaults::SESSION_IDLE_MINUTES),
            session_absolute: chrono::Duration::hours(defaults::SESSION_ABSOLUTE_HOURS),
            cookie_secure: CookieSecure::Auto,
            run_mode: RunMode::Development,
            snapshot_ttl: chrono::Duration::seconds(defaults::SNAPSHOT_TTL_SECS),
            tax_export_settle: chrono::Duration::seconds(defaults::TAX_EXPORT_SETTLE_SECS),
            reconciliation_interval: Duration::from_secs(defaults::RECONCILIATION_INTERVAL_SECS),
            reconciliation_stale: chrono::Duration::seconds(defaults::RECONCILIATION_STALE_SECS),
            reconciliation_batch: defaults::RECONCILIATION_BATCH,
            reconciliation_runners: defaults::RECONCILIATION_RUNNERS,
            sandbox_psp_latency: Duration::ZERO,
            sandbox_psp_timeout_delay: Duration::from_secs(20),
            sandbox_carrier_latency: Duration::ZERO,
            sandbox_carrier_timeout_delay: Duration::from_secs(20),
            provider_timeout: Duration::from_secs(10),
            resolver_interval: Duration::from_secs(30),
            unresolved_alert_after: chrono::Duration::hours(24),
            webhook_workers: 1,
            webhook_max_attempts: 8,
            outbound_webhook_workers: defaults::OUTBOUND_WEBHOOK_WORKERS,
            outbound_webhook_timeout: Duration::from_millis(defaults::OUTBOUND_WEBHOOK_TIMEOUT_MS),
            cache_ttl: Duration::from_secs(5),
            master_keys: MasterKeySource::Development(
                PathBuf::from(defaults::DATA_DIR).join(defaults::DEV_KEY_FILE),
            ),
            admin_email: None,
            admin_password: None,
            provider_allowed_hosts: Vec::new(),
            own_receiver_paths: vec!["/api/v1/webhooks/".to_owned()],
            stripe_api_base: defaults::STRIPE_API_BASE.to_owned(),
            metrics_addr: None,
            metrics_token: None,
            trusted_proxies: crate::limits::TrustedProxies::default(),
            sign_in_ip_rate: crate::limits::Rate::per_minute(
                f64::from(defaults::SIGN_IN_IP_PER_MINUTE),
                f64::from(defaults::SIGN_IN_IP_BURST),
            ),
            sign_in_backoff_max: chrono::Duration::seconds(defaults::SIGN_IN_BACKOFF_MAX_SECS),
            password_hash_concurrency: default_hash_concurrency(),
            api_key_rate: api_key_rate(defaults::API_KEY_RATE_LIMIT, defaults::API_KEY_RATE_BURST),
            retention: Retention::defaults(),
        }
    }

    /// Settings of `cassa serve` from the command line / environment.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: args.listen_addr,
            database: DatabaseConfig::from_args(&args.database)?,
            migrate_on_start: args.migrate_on_start,
            body_limit_bytes: args.body_limit_bytes,
            request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
            site_root: args.site_root.clone(),
            session_idle: chrono::Duration::minutes(args.session_idle_minutes.max(1)),
            session_absolute: chrono::Duration::hours(args.session_absolute_hours.max(1)),
            cookie_secure: args.cookie_secure,
            run_mode: args.env,
            snapshot_ttl: chrono::Duration::seconds(args.snapshot_ttl_secs.max(1)),
            tax_export_settle: chrono::Duration::seconds(args.tax_export_settle_secs.max(0)),
            reconciliation_interval: Duration::from_secs(args.reconciliation_interval_secs),
            reconciliation_stale: chrono::Duration::seconds(args.reconciliation_stale_secs.max(1)),
            // IN lists of a batch's ids stay well under SQLite's and PostgreSQL's parameter limits.
            reconciliation_batch: args.reconciliation_batch.clamp(1, 1_000),
            reconciliation_runners: args.reconciliation_runners.min(16),
            sandbox_psp_latency: Duration::from_millis(args.sandbox_psp_latency_ms),
            sandbox_psp_timeout_delay: Duration::from_millis(args.sandbox_psp_timeout_delay_ms),
            sandbox_carrier_latency: Duration::from_millis(args.sandbox_carrier_latency_ms),
            sandbox_carrier_timeout_delay: Duration::from_millis(
                args.sandbox_carrier_timeout_delay_ms,
            ),
            provider_timeout: Duration::from_millis(args.provider_timeout_ms.max(1)),
            resolver_interval: Duration::from_secs(args.resolver_interval_secs.max(1)),
            unresolved_alert_after: chrono::Duration::hours(args.unresolved_alert_hours.max(1)),
            webhook_workers: args.webhook_workers,
            webhook_max_attempts: args.webhook_max_attempts.max(1),
            outbound_webhook_workers: args.outbound_webhook_workers.min(1024),
            outbound_webhook_timeout: Duration::from_millis(
                args.outbound_webhook_timeout_ms.clamp(100, 60_000),
            ),
            cache_ttl: Duration::from_millis(args.cache_ttl_ms),
            master_keys: match (&args.master_keys, &args.master_key_file) {
                (Some(keys), _) => MasterKeySource::Inline(keys.clone()),
                (None, Some(file)) => MasterKeySource::File(file.clone()),
                (None, None) => MasterKeySource::Development(
                    args.database.data_dir.join(defaults::DEV_KEY_FILE),
                ),
            },
            admin_email: args.admin_email.clone(),
            admin_password: args.admin_password.clone(),
            provider_allowed_hosts: args.provider_allowed_hosts.clone(),
            own_receiver_paths: vec!["/api/v1/webhooks/".to_owned()],
            stripe_api_base: args.stripe_api_base.clone(),
            metrics_addr: args.metrics_addr,
            metrics_token: args
                .metrics_token
                .clone()
                .filter(|t| !secrecy::ExposeSecret::expose_secret(t).trim().is_empty()),
            trusted_proxies: args
                .trusted_proxies
                .parse()
                .map_err(ConfigError::TrustedProxy)?,
            sign_in_ip_rate: crate::limits::Rate::per_minute(
                f64::from(args.sign_in_ip_per_minute),
                f64::from(args.sign_in_ip_burst.max(1)),
            ),
            sign_in_backoff_max: chrono::Duration::seconds(args.sign_in_backoff_max_secs.max(1)),
            password_hash_concurrency: args
                .password_hash_concurrency
                .unwrap_or_else(default_hash_concurrency)
                .max(1),
            api_key_rate: api_key_rate(args.api_key_rate_limit, args.api_key_rate_burst),
            retention: Retention {
                webhook_events: Retention::days(args.retention_webhook_events_days),
                provider_audit: Retention::days(args.retention_provider_audit_days),
                snapshots: Retention::days(args.retention_snapshots_days),
                sandbox_psp: Retention::days(args.retention_sandbox_psp_days),
                outbound_webhooks: Retention::days(args.retention_outbound_webhooks_days),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_args(url: Option<&str>) -> DatabaseArgs {
        DatabaseArgs {
            database_url: url.map(str::to_owned),
            data_dir: PathBuf::from("var/cassa"),
            db_max_connections: 4,
            db_acquire_timeout_secs: 2,
        }
    }

    #[test]
    fn no_url_means_sqlite_in_the_data_dir() {
        let config = DatabaseConfig::from_args(&db_args(None)).unwrap();
        assert_eq!(config.backend, Backend::Sqlite);
        assert_eq!(config.url.expose(), "sqlite://var/cassa/cassa.db");
        assert_eq!(config.max_connections, 4);
    }

    #[test]
    fn postgres_urls_select_postgres() {
        for url in ["postgres://u:p@h/db", "postgresql://h/db"] {
            let config = DatabaseConfig::from_args(&db_args(Some(url))).unwrap();
            assert_eq!(config.backend, Backend::Postgres);
        }
    }

    #[test]
    fn multi_host_urls_are_checked_without_printing_the_password() {
        let ok = DatabaseConfig::from_url(
            "postgres://app:hunter2@db1:5432,db2:5433/cassa?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(ok.backend, Backend::Postgres);
        assert!(!format!("{ok:?}").contains("hunter2"));
        let err = DatabaseConfig::from_url(
            "postgres://app:hunter2@db1:5432,db2:5433/cassa?target_session_attrs=read-only",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("target_session_attrs=read-only"), "{text}");
        assert!(text.contains("db1:5432,db2:5433"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_scheme_is_an_error_without_the_password() {
        let err = DatabaseConfig::from_url("mysql://root:hunter2@h/db").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mysql://root:***@h/db"), "{text}");
        assert!(!text.contains("hunter2"));
    }
}
