//! Building and running the server: used by `cassa serve` and by the test harness (port 0).

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::SharedClock,
    config::Config,
    db::{Db, DbError},
    http,
    state::AppState,
    telemetry,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Database connection or migration failed.
    #[error(transparent)]
    Store(#[from] DbError),
    /// The master keys are missing or unusable.
    #[error("master keys: {0}")]
    Keys(#[from] crate::credentials::KeyRingError),
    /// Production mode without configured master keys.
    #[error("CASSA_ENV=production needs CASSA_MASTER_KEYS or CASSA_MASTER_KEY_FILE")]
    MissingMasterKeys,
    /// The first platform admin could not be created.
    #[error("cannot create the first platform admin: {0}")]
    Bootstrap(crate::http::problem::ApiError),
    /// `CASSA_PROVIDER_ALLOWED_HOSTS` is unusable.
    #[error(transparent)]
    Egress(#[from] crate::egress::EgressError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// What the OS reported.
        source: std::io::Error,
    },
}

/// The system clock (in the crash harness's build, moved as it says).
fn default_clock() -> SharedClock {
    #[cfg(feature = "failpoints")]
    return crate::failpoints::clock();
    #[cfg(not(feature = "failpoints"))]
    Arc::new(crate::clock::SystemClock)
}

/// Optional parts of [`Application::build_with`].
#[derive(Default)]
pub struct BuildOptions {
    /// Clock for every rule and timestamp (default: the system clock).
    pub clock: Option<SharedClock>,
    /// Extra routes mounted under `/api/v1` behind the real edge layers.
    pub extra_api: Option<Router<AppState>>,
    /// Payment providers (default: [`default_payment_providers`]).
    pub payment_providers: Option<crate::providers::registry::PaymentRegistry>,
    /// Carriers (default: [`default_carriers`]).
    pub carriers: Option<crate::providers::shipping::CarrierRegistry>,
}

/// The payment providers this server ships: the sandbox PSP (the default for new payments)
/// and Stripe at `stripe_api_base` (`CASSA_STRIPE_API_BASE`).
pub fn default_payment_providers(
    stripe_api_base: &str,
) -> crate::providers::registry::PaymentRegistry {
    crate::providers::registry::PaymentRegistry::new(crate::providers::sandbox::NAME)
        .register(Arc::new(crate::providers::sandbox::SandboxAdapter))
        .register(Arc::new(crate::providers::stripe::StripeAdapter::new(
            stripe_api_base,
        )))
}

/// The carriers this server ships: the sandbox carrier.
pub fn default_carriers() -> crate::providers::shipping::CarrierRegistry {
    crate::providers::shipping::CarrierRegistry::new().register(Arc::new(
        crate::providers::shipping::sandbox_carrier::SandboxCarrierAdapter,
    ))
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    local_addr: SocketAddr,
}

impl Application {
    /// Connects to the database, migrates (unless disabled) and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with(config, BuildOptions::default()).await
    }

    /// [`Application::build`] with a custom clock or extra routes.
    pub async fn build_with(config: Config, options: BuildOptions) -> Result<Self, StartupError> {
        #[cfg(feature = "failpoints")]
        crate::failpoints::arm();
        let key_ring = load_key_ring(&config)?;
        let db = Db::connect(&config.database).await?;
        tracing::info!(
            backend = db.backend().as_str(),
            url = %config.database.url,
            "connected to the database"
        );
        if config.migrate_on_start {
            db.migrate().await?;
        } else {
            let applied = db.applied_migrations().await.unwrap_or(0);
            if applied < db.known_migrations() as i64 {
                tracing::warn!(
                    applied,
                    known = db.known_migrations(),
                    "migrations are pending; run `cassa migrate`"
                );
            }
        }

        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.listen_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen_addr,
            source,
        })?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        if config.run_mode == crate::config::RunMode::Production
            && config.metrics_addr.is_none()
            && config.metrics_token.is_none()
        {
            tracing::warn!(
                "/metrics is served unprotected on the main listener; set CASSA_METRICS_ADDR \
                 or CASSA_METRICS_TOKEN"
            );
        }
        let own = self_addr(local_addr);
        let egress = crate::egress::Egress::new(own, &config.provider_allowed_hosts)?;

        let leptos = LeptosOptions::builder()
            .output_name("cassa")
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();

        let session_policy = crate::sessions::SessionPolicy {
            idle: config.session_idle,
            absolute: config.session_absolute,
            secure_cookie: config.secure_cookies(),
        };
        let caches = Arc::new(crate::cache::Caches::new(config.cache_ttl));
        let passwords = crate::passwords::Hasher::new(config.password_hash_concurrency);
        let limits = Arc::new(crate::limits::Limiters::new(
            config.sign_in_ip_rate,
            config.api_key_rate,
        ));
        let shutdown = CancellationToken::new();
        let self_url: Arc<str> = format!("http://{own}").into();
        let key_ring = Arc::new(key_ring);
        let psp = crate::http::sandbox_psp::state_from(
            &db,
            key_ring.clone(),
            self_url.clone(),
            egress.clone(),
            &config,
            shutdown.clone(),
        );
        let carrier = crate::http::sandbox_carrier::state_from(
            &db,
            key_ring.clone(),
            self_url.clone(),
            egress.clone(),
            &config,
            shutdown.clone(),
        );
        // The carrier's tables are its own (no migration creates them); they exist in every
        // mode, so that a key rotation can always count and rewrap the secrets they hold.
        crate::http::sandbox_carrier::ensure_schema(&carrier).await?;
        let sealed_elsewhere: Vec<Arc<dyn crate::keyring::SealedElsewhere>> = vec![
            Arc::new(crate::http::sandbox_psp::SealedByPsp(psp)),
            Arc::new(crate::http::sandbox_carrier::SealedByCarrier(carrier)),
            Arc::new(crate::outbound::WebhookSecrets::new(
                db.clone(),
                key_ring.clone(),
            )),
        ];
        let shipping = crate::providers::shipping::ShippingRegistry::new()
            .register(Arc::new(crate::providers::shipping::TableRateShipping));
        let tax = crate::providers::tax::TaxRegistry::new()
            .register(Arc::new(crate::providers::tax::RulesTax))
            .register_engine(Arc::new(crate::providers::tax::TaxApiAdapter));
        let payment_providers = options
            .payment_providers
            .unwrap_or_else(|| default_payment_providers(&config.stripe_api_base));
        let webhook_ingest = crate::webhook_inbox::Ingest::start(db.clone());
        let state = AppState {
            db,
            webhook_ingest,
            clock: options.clock.unwrap_or_else(default_clock),
            config: Arc::new(config),
            leptos,
            metrics: telemetry::metrics_handle(),
            openapi_json: http::openapi_json().into(),
            session_policy,
            key_ring,
            self_url,
            shutdown,
            sealed_elsewhere: Arc::new(sealed_elsewhere),
            webhook_wakeup: Arc::new(tokio::sync::Notify::new()),
            outbound_wakeup: Arc::new(tokio::sync::Notify::new()),
            caches,
            egress,
            passwords,
            payment_providers: Arc::new(payment_providers),
            limits,
            shipping: Arc::new(shipping),
            carriers: Arc::new(options.carriers.unwrap_or_else(default_carriers)),
            tax: Arc::new(tax),
        };
        let primary = crate::credentials::keys::sync(&state).await?;
        tracing::info!(primary_version = primary, versions = ?state.key_ring.versions(), "master keys ready");
        crate::tenancy::users::bootstrap_admin(
            &state,
            state.config.admin_email.as_deref(),
            state.config.admin_password.clone(),
        )
        .await
        .map_err(|e| StartupError::Bootstrap(e.into()))?;
        let router = http::router(state.clone(), options.extra_api);
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
            local_addr,
        })
    }

    /// The bound address (with the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state (tests use it to reach the database and clock).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// within the grace period, cancels background work and closes the pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            metrics_listener,
            router,
            state,
            local_addr,
        } = self;
        let token = state.shutdown.clone();
        let housekeeping = crate::jobs::spawn_housekeeping(state.clone());
        let rotations = crate::credentials::keys::spawn_rotation_worker(state.clone());
        let resolver = crate::payments::spawn_resolver(state.clone());
        let label_resolver = crate::fulfilment::spawn_resolver(state.clone());
        let webhook_workers = crate::webhooks::spawn_workers(state.clone());
        let outbound_workers = crate::outbound::spawn_workers(state.clone());
        let tax_filer = crate::tax::spawn_filer(state.clone());
        let reconciliation = crate::reconciliation::spawn_workers(state.clone());
        // The carrier is mounted only outside production (see `http::router`), so is its clock.
        let carrier_ticker = (state.config.run_mode != crate::config::RunMode::Production)
            .then(|| crate::http::sandbox_carrier::spawn_ticker(&state));
        tracing::info!(%local_addr, "listening");

        let signal_token = token.clone();
        // Without TCP_NODELAY a response written in two segments waits for the client's delayed
        // ACK (~40 ms per request on Linux): measured as a 100 ms median on the payment path.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::trace!(error = %err, "could not set TCP_NODELAY");
            }
        });
        // The peer address is what sign-in limits key on (see `limits::client_ip`).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            signal_token.cancel();
        });
        let mut server = tokio::spawn(async move { serve.await });
        let metrics_server = metrics_listener.map(|listener| {
            let router = http::metrics_router(state.clone());
            let token = token.clone();
            tokio::spawn(async move {
                let serve = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { token.cancelled().await });
                if let Err(err) = serve.await {
                    tracing::error!(error = %err, "the metrics listener failed");
                }
            })
        });

        let result = tokio::select! {
            joined = &mut server => joined,
            _ = token.cancelled() => {
                match tokio::time::timeout(state.config.shutdown_grace, &mut server).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        tracing::warn!(
                            grace_secs = state.config.shutdown_grace.as_secs(),
                            "in-flight requests did not finish in time; closing them"
                        );
                        server.abort();
                        Ok(Ok(()))
                    }
                }
            }
        };
        // Background work stops on the cancelled token; wait so it never outlives the pool.
        token.cancel();
        let _ = housekeeping.await;
        let _ = rotations.await;
        let _ = resolver.await;
        let _ = label_resolver.await;
        let _ = tax_filer.await;
        for worker in reconciliation {
            let _ = worker.await;
        }
        for worker in webhook_workers {
            let _ = worker.await;
        }
        if let Some(workers) = outbound_workers {
            let _ = workers.await;
        }
        if let Some(ticker) = carrier_ticker {
            let _ = ticker.await;
        }
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        state.db.close().await;
        tracing::info!("stopped");
        match result {
            Ok(served) => served,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}

/// The address this process can call itself on (loopback when bound to every interface): the
/// in-process sandbox PSP's, and the one internal address outbound requests may reach.
fn self_addr(addr: SocketAddr) -> SocketAddr {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port())
}

fn load_key_ring(config: &Config) -> Result<crate::credentials::KeyRing, StartupError> {
    use secrecy::ExposeSecret;

    use crate::{
        config::{MasterKeySource, RunMode},
        credentials::{KeyRing, KeyRingError},
    };
    match &config.master_keys {
        MasterKeySource::Inline(keys) => Ok(KeyRing::parse(keys.expose_secret())?),
        MasterKeySource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| KeyRingError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            Ok(KeyRing::parse(&text)?)
        }
        MasterKeySource::Development(_) if config.run_mode == RunMode::Production => {
            Err(StartupError::MissingMasterKeys)
        }
        MasterKeySource::Development(path) => {
            let (ring, created) = KeyRing::load_or_create_dev_file(path)?;
            if created {
                tracing::warn!(
                    file = %path.display(),
                    "no master key configured: generated a development key; set \
                     CASSA_MASTER_KEYS or CASSA_MASTER_KEY_FILE (and CASSA_ENV=production) for real use"
                );
            } else {
                tracing::warn!(file = %path.display(), "using the development master key file");
            }
            Ok(ring)
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
