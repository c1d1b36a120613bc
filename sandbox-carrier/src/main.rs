//! `sandbox-carrier`: the simulated carrier as its own process, serving `/v1/…` (and
//! `/healthz`), with its ticker recording tracking events and sending webhooks.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use cassa_sandbox_carrier::{AesGcmSealer, CarrierDb, CarrierState, DeliveryPolicy};
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// A simulated shipping carrier (the one Cassa's sandbox shipping provider talks to), run as
/// its own process.
#[derive(Debug, Parser)]
#[command(name = "sandbox-carrier", version)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, env = "SANDBOX_CARRIER_ADDR", default_value = "127.0.0.1:3200")]
    addr: SocketAddr,

    /// `sqlite://path` (created if missing) or `postgres://user:password@host:port/db`. The
    /// carrier creates its tables (`sandbox_carrier_*`) if they do not exist.
    #[arg(
        long,
        env = "SANDBOX_CARRIER_DATABASE_URL",
        default_value = "sqlite://sandbox-carrier.db",
        hide_env_values = true
    )]
    database_url: String,

    /// Size of the database pool.
    #[arg(long, env = "SANDBOX_CARRIER_DB_MAX_CONNECTIONS", default_value_t = 5)]
    db_max_connections: u32,

    /// Key that seals the webhook secrets accounts register: the base64 of 32 random bytes, or
    /// `<version>:<base64>` entries separated by commas (the highest version seals; all open).
    /// Prefer the environment variable: a command line is visible to other local users.
    #[arg(
        long,
        env = "SANDBOX_CARRIER_SEAL_KEY",
        hide_env_values = true,
        required_unless_present = "generate_seal_key"
    )]
    seal_key: Option<String>,

    /// URL prefixes webhooks may be registered for and delivered to, comma-separated (e.g.
    /// `http://127.0.0.1:3000/api/v1/webhooks/sandbox_carrier/`). None: no webhook endpoint is
    /// accepted.
    #[arg(
        long,
        env = "SANDBOX_CARRIER_WEBHOOK_URL_PREFIXES",
        value_delimiter = ','
    )]
    webhook_url_prefixes: Vec<String>,

    /// Latency added to every answer, in milliseconds.
    #[arg(long, env = "SANDBOX_CARRIER_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,

    /// How late a label to postal code 99903 is answered, in milliseconds.
    #[arg(
        long,
        env = "SANDBOX_CARRIER_TIMEOUT_DELAY_MS",
        default_value_t = 20_000
    )]
    timeout_delay_ms: u64,

    /// Print a fresh seal key and exit.
    #[arg(long)]
    generate_seal_key: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if args.generate_seal_key {
        println!("{}", AesGcmSealer::generate_key());
        return ExitCode::SUCCESS;
    }
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why the process could not start or serve. Messages never include the database URL (it may
/// hold a password) or key material.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("cannot open the database: {0}")]
    Database(sqlx::Error),
    #[error("cannot create the schema: {0}")]
    Schema(sqlx::Error),
    #[error(transparent)]
    SealKey(#[from] cassa_sandbox_carrier::InvalidSealKey),
    #[error("--seal-key (SANDBOX_CARRIER_SEAL_KEY) is required")]
    NoSealKey,
    #[error(transparent)]
    Prefix(#[from] cassa_sandbox_carrier::InvalidUrlPrefix),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}

async fn serve(args: Args) -> Result<(), StartError> {
    let sealer = AesGcmSealer::parse(args.seal_key.as_deref().ok_or(StartError::NoSealKey)?)?;
    let policy = DeliveryPolicy::url_prefixes(&args.webhook_url_prefixes)?;
    let db = CarrierDb::connect(&args.database_url, args.db_max_connections)
        .await
        .map_err(StartError::Database)?;
    db.ensure_schema().await.map_err(StartError::Schema)?;
    let shutdown = CancellationToken::new();
    let state = CarrierState::new(
        db.clone(),
        Arc::new(sealer),
        cassa_sandbox_carrier::default_http_client()?,
    )
    .with_delivery_policy(policy)
    .with_latency(Duration::from_millis(args.latency_ms))
    .with_timeout_delay(Duration::from_millis(args.timeout_delay_ms))
    .with_shutdown(shutdown.clone());
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(cassa_sandbox_carrier::router(state.clone()));
    let ticker = cassa_sandbox_carrier::spawn_ticker(state);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: args.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(addr = %local, webhook_url_prefixes = ?args.webhook_url_prefixes, "sandbox carrier listening");
    let stopping = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            tracing::info!("shutting down");
            stopping.cancel();
        })
        .await
        .map_err(StartError::Serve)?;
    // The ticker stops on the cancelled token; wait so it never outlives the pool.
    let _ = ticker.await;
    db.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
