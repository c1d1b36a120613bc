//! One PostgreSQL connection for all the statements of a request that stores its answer in
//! its own transaction (a quote, an order, a payment operation).
//!
//! sqlx pings every connection it takes back into its pool (a round trip that also flushes a
//! dropped transaction's `ROLLBACK`), so a request that acquires once per read and once per
//! transaction pays a round trip each time: about a fifth of a payment's. Inside [`hold`] a
//! request's reads and transactions on PostgreSQL share the connection it acquired first,
//! and the pool takes it back once, when the request ends or something calls [`release`].
//!
//! Holding is opt-in, for flows whose waits are known: a request that held an idle connection
//! while it waited on a client's body, on another service, or on another task needing a
//! connection (a batcher) could starve the pool. So the idempotency edge releases before it
//! reads the body, [`crate::egress`] before every outbound request and the provider transport
//! before a retry's pause. A connection kept idle past [`super::IDLE_BEFORE_PING`] or across a
//! failover switch is not reused: the pool's checks (the idle ping, the guard against a
//! demoted primary) run on the one that replaces it.
//! SQLite is not held: its connections are threads in this process and cost no round trip.

use std::{
    cell::RefCell,
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use sqlx::{Postgres, TransactionManager, pool::PoolConnection, postgres::PgPool};

type Manager = <Postgres as sqlx::Database>::TransactionManager;

/// A connection between two statements of a request.
struct Idle {
    conn: PoolConnection<Postgres>,
    since: Instant,
    /// [`SWITCHES`] when it was kept.
    switches: u64,
}

tokio::task_local! {
    /// The request's idle connection.
    static HELD: RefCell<Option<Idle>>;
}

/// Failover switches of this process (see `db::primary`): a connection kept before one may be
/// on a host that is no longer the primary.
static SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Called by the failover watcher when new connections go to another host.
pub(super) fn switched() {
    SWITCHES.fetch_add(1, Ordering::Relaxed);
}

/// Runs `flow` with its PostgreSQL statements on one connection (see the module's comment).
/// Nested calls share the outer one's.
pub async fn hold<F: Future>(flow: F) -> F::Output {
    if HELD.try_with(|_| ()).is_ok() {
        return flow.await;
    }
    HELD.scope(RefCell::new(None), flow).await
}

/// The connection held for this request, or a new one from `pool`: give it back with [`keep`]
/// once its statement (or transaction) succeeded.
pub async fn acquire(pool: &PgPool) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let held = HELD
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten();
    match held {
        Some(idle)
            if idle.since.elapsed() < super::IDLE_BEFORE_PING
                && idle.switches == SWITCHES.load(Ordering::Relaxed) =>
        {
            Ok(idle.conn)
        }
        // Dropped back into the pool, whose ping and guard judge it.
        _ => pool.acquire().await,
    }
}

/// Holds `conn` for the request's next statement, inside [`hold`]; otherwise (or when one is
/// already held) it goes back to the pool. Only a connection whose last statement succeeded
/// may come here; one still in a transaction (which should not happen) is closed instead, as
/// its state is unknown.
pub fn keep(mut conn: PoolConnection<Postgres>) {
    if Manager::get_transaction_depth(&conn) != 0 {
        conn.close_on_drop();
        return;
    }
    let idle = Idle {
        conn,
        since: Instant::now(),
        switches: SWITCHES.load(Ordering::Relaxed),
    };
    let _ = HELD.try_with(move |slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(idle);
        }
    });
}

/// [`keep`] after a statement: kept when it succeeded, back to the pool when it failed (a
/// failure may have left the connection broken or mid-exchange).
pub fn keep_after<T, E>(conn: PoolConnection<Postgres>, result: &Result<T, E>) {
    if result.is_ok() {
        keep(conn);
    }
}

/// Gives the held connection back to the pool now: before a flow waits on something other
/// than its own statements, so the connection does not sit idle meanwhile.
pub fn release() {
    let held = HELD
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten();
    drop(held);
}

/// Whether this task holds a connection now (for tests).
#[doc(hidden)]
pub fn holds() -> bool {
    HELD.try_with(|slot| slot.borrow().is_some())
        .unwrap_or(false)
}

/// A PostgreSQL transaction on a pooled connection that, once committed or rolled back, is
/// [`keep`]: sqlx's own `Transaction` would hand it back to the pool (and its ping).
#[derive(Debug)]
pub struct PgTx {
    /// `Some` until [`PgTx::commit`] or [`PgTx::rollback`] finish the transaction.
    conn: Option<PoolConnection<Postgres>>,
    /// A `BEGIN`, `COMMIT` or `ROLLBACK` is under way. Dropped then (it failed, or the request
    /// was cancelled while it waited), the connection's state is unknown: sqlx's count of
    /// open transactions may disagree with the server's, and every later `BEGIN` on it would
    /// fail. It is closed instead of going back to the pool.
    settling: bool,
}

impl PgTx {
    /// Opens a transaction with `begin` (`BEGIN`, or a variant) on the held connection or a
    /// new one.
    pub async fn begin(pool: &PgPool, begin: &'static str) -> Result<Self, sqlx::Error> {
        let mut tx = PgTx {
            conn: Some(acquire(pool).await?),
            settling: true,
        };
        Manager::begin(tx.open(), Some(begin.into())).await?;
        tx.settling = false;
        Ok(tx)
    }

    /// Commits; the connection is kept for the request's next statement.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.settling = true;
        Manager::commit(self.open()).await?;
        self.settled();
        Ok(())
    }

    /// Rolls back; the connection is kept for the request's next statement.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.settling = true;
        Manager::rollback(self.open()).await?;
        self.settled();
        Ok(())
    }

    fn settled(&mut self) {
        self.settling = false;
        if let Some(conn) = self.conn.take() {
            keep(conn);
        }
    }

    fn open(&mut self) -> &mut PoolConnection<Postgres> {
        // Only `settled` takes it, as `commit` and `rollback` consume `self`.
        self.conn
            .as_mut()
            .expect("a transaction is open until it is consumed")
    }
}

impl std::ops::Deref for PgTx {
    type Target = sqlx::PgConnection;

    fn deref(&self) -> &Self::Target {
        self.conn
            .as_deref()
            .expect("a transaction is open until it is consumed")
    }
}

impl std::ops::DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.open()
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if self.settling {
            conn.close_on_drop();
        } else {
            // Dropped open (an error, a cancelled request): queue the `ROLLBACK`; the pool's
            // ping sends it before anyone else gets the connection.
            Manager::start_rollback(conn);
        }
    }
}
