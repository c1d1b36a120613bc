//! Following the writable server of a multi-host PostgreSQL URL across a failover.
//!
//! The pool connects to one host at a time (its connect options). A watcher keeps one
//! connection of its own to that host and asks it every [`WATCH_INTERVAL`] whether it is still
//! what `target_session_attrs` requires; when it is not (gone, or now read-only), the watcher
//! probes the hosts in the URL's order and points the pool's connect options at the first that
//! qualifies. Every new pooled connection is checked the same way before use, so the pool never
//! hands out a connection to a standby; connections made before a switch are not handed out
//! after it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{
    ConnectOptions, Connection, PgConnection,
    postgres::{PgPool, PgPoolOptions},
};

use crate::pg_url::{PgTargets, SessionAttrs};

/// How often the watcher checks the current host while it is healthy: the longest a dead
/// primary goes unnoticed when no new connection trips over it first.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How often the hosts are probed again while none qualifies (a standby being promoted).
const SEARCH_INTERVAL: Duration = Duration::from_millis(200);

/// Why a host does not qualify.
#[derive(Debug, thiserror::Error)]
pub enum HostRefused {
    /// The connection or the check failed.
    #[error("{0}")]
    Unreachable(#[from] sqlx::Error),
    /// No answer within the connect timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// It answered, but is not what `target_session_attrs` asks for.
    #[error("it is a {0} server, target_session_attrs={1} was asked for")]
    Wrong(&'static str, &'static str),
}

/// No host of the list qualified before the deadline.
#[derive(Debug, thiserror::Error)]
#[error("no host accepts target_session_attrs={attrs}: {tried}")]
pub struct NoHost {
    attrs: &'static str,
    tried: String,
}

/// The shared state of a multi-host pool: its hosts, which one the pool uses, when it last
/// changed, and a bell for the watcher.
pub struct Failover {
    targets: PgTargets,
    current: AtomicUsize,
    switched_at: Mutex<Option<Instant>>,
    wake: tokio::sync::Notify,
}

impl Failover {
    /// State for `targets`, before any host is chosen.
    pub fn new(targets: PgTargets) -> Arc<Self> {
        Arc::new(Self {
            targets,
            current: AtomicUsize::new(0),
            switched_at: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Finds the first qualifying host, probing the list until `deadline`; returns its index
    /// and the probe's connection (the watcher keeps it).
    pub async fn find_until(&self, deadline: Instant) -> Result<(usize, PgConnection), NoHost> {
        loop {
            match self.find().await {
                Ok(found) => return Ok(found),
                Err(tried) if Instant::now() + SEARCH_INTERVAL >= deadline => {
                    return Err(NoHost {
                        attrs: self.targets.attrs.as_str(),
                        tried,
                    });
                }
                Err(_) => tokio::time::sleep(SEARCH_INTERVAL).await,
            }
        }
    }

    /// One pass over the hosts in order; `Err` says what each answered.
    async fn find(&self) -> Result<(usize, PgConnection), String> {
        let mut tried = Vec::new();
        for (index, host) in self.targets.hosts.iter().enumerate() {
            let timeout = self.targets.connect_timeout;
            let attempt = async {
                let mut conn = host.options.connect().await?;
                match check(&mut conn, self.targets.attrs).await {
                    Ok(()) => Ok(conn),
                    Err(refused) => {
                        let _ = conn.close().await;
                        Err(refused)
                    }
                }
            };
            match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(conn)) => return Ok((index, conn)),
                Ok(Err(refused)) => tried.push(format!("{}: {refused}", host.name)),
                Err(_) => tried.push(format!("{}: {}", host.name, HostRefused::Timeout(timeout))),
            }
        }
        Err(tried.join("; "))
    }

    /// The connect options of host `index`.
    pub fn host_options(&self, index: usize) -> sqlx::postgres::PgConnectOptions {
        self.targets.hosts[index].options.clone()
    }

    /// Records `index` as the host the pool uses.
    pub fn start_at(&self, index: usize) {
        self.current.store(index, Ordering::Relaxed);
    }

    /// Pool options that refuse connections the URL's condition rules out: every new
    /// connection is checked, and one made before the last switch is not handed out.
    pub fn guard(self: &Arc<Self>, options: PgPoolOptions) -> PgPoolOptions {
        let attrs = self.targets.attrs;
        let on_refusal = self.clone();
        let options = if attrs == SessionAttrs::Any {
            options
        } else {
            options.after_connect(move |conn, _meta| {
                let on_refusal = on_refusal.clone();
                Box::pin(async move {
                    match check(conn, attrs).await {
                        Ok(()) => Ok(()),
                        Err(HostRefused::Unreachable(err)) => Err(err),
                        Err(refused) => {
                            // The host the pool points at changed role: the watcher looks at once.
                            // sqlx drops this connection and tries again until the acquire
                            // timeout, by which time it may connect to the new primary.
                            on_refusal.wake.notify_one();
                            Err(sqlx::Error::Configuration(refused.to_string().into()))
                        }
                    }
                })
            })
        };
        if self.targets.hosts.len() < 2 {
            return options.before_acquire(super::ping_if_idle);
        }
        let since = self.clone();
        options.before_acquire(move |conn, meta| {
            if !since.made_after_switch(meta.age) {
                return Box::pin(async { Ok(false) });
            }
            super::ping_if_idle(conn, meta)
        })
    }

    /// Whether a connection of age `age` was opened after the last switch.
    fn made_after_switch(&self, age: Duration) -> bool {
        let switched = match self.switched_at.lock() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        };
        switched.is_none_or(|at| age < at.elapsed())
    }

    /// Watches the current host until the pool closes (see the module's comment).
    pub fn spawn_watcher(self: &Arc<Self>, pool: PgPool, conn: PgConnection) {
        if self.targets.hosts.len() < 2 {
            return;
        }
        tokio::spawn(self.clone().watch(pool, conn));
    }

    async fn watch(self: Arc<Self>, pool: PgPool, conn: PgConnection) {
        let mut monitor = Some(conn);
        let mut lost_at: Option<Instant> = None;
        loop {
            let pause = if monitor.is_some() {
                WATCH_INTERVAL
            } else {
                SEARCH_INTERVAL
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {}
            }
            if pool.is_closed() {
                return;
            }
            if let Some(conn) = monitor.as_mut() {
                let checked = tokio::time::timeout(
                    self.targets.connect_timeout,
                    check(conn, self.targets.attrs),
                )
                .await;
                if matches!(checked, Ok(Ok(()))) {
                    continue;
                }
                let current = self.current.load(Ordering::Relaxed);
                tracing::warn!(
                    host = %self.targets.hosts[current].name,
                    "the database host no longer qualifies; probing the list"
                );
                monitor = None;
                lost_at = Some(Instant::now());
            }
            match self.find().await {
                Ok((index, conn)) => {
                    monitor = Some(conn);
                    self.switch(&pool, index, lost_at.take());
                }
                Err(tried) => tracing::debug!(%tried, "no database host qualifies yet"),
            }
        }
    }

    /// Points the pool at host `index` (a no-op when it already is).
    fn switch(&self, pool: &PgPool, index: usize, lost_at: Option<Instant>) {
        let previous = self.current.swap(index, Ordering::Relaxed);
        let waited_ms = lost_at.map(|t| t.elapsed().as_millis() as u64);
        if previous == index {
            tracing::info!(
                host = %self.targets.hosts[index].name,
                waited_ms,
                "the database host qualifies again"
            );
            return;
        }
        pool.set_connect_options(self.targets.hosts[index].options.clone());
        super::held::switched();
        match self.switched_at.lock() {
            Ok(mut guard) => *guard = Some(Instant::now()),
            Err(poisoned) => *poisoned.into_inner() = Some(Instant::now()),
        }
        tracing::warn!(
            from = %self.targets.hosts[previous].name,
            to = %self.targets.hosts[index].name,
            waited_ms,
            "database failover: new connections go to another host"
        );
    }
}

/// Whether the server on `conn` is what `attrs` asks for (libpq's checks: `read-write` looks
/// at `transaction_read_only`, `primary` at `pg_is_in_recovery()`).
async fn check(conn: &mut PgConnection, attrs: SessionAttrs) -> Result<(), HostRefused> {
    let (in_recovery, read_only): (bool, bool) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'",
    )
    .fetch_one(&mut *conn)
    .await?;
    match attrs {
        SessionAttrs::Any => Ok(()),
        SessionAttrs::ReadWrite if read_only => {
            Err(HostRefused::Wrong("read-only", attrs.as_str()))
        }
        SessionAttrs::Primary if in_recovery => Err(HostRefused::Wrong("standby", attrs.as_str())),
        SessionAttrs::ReadWrite | SessionAttrs::Primary => Ok(()),
    }
}
