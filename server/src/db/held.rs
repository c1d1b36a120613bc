//! One PostgreSQL connection for all the statements of a payment request.
//!
//! sqlx pings every connection it takes back into its pool (a round trip that also flushes a
//! dropped transaction's `ROLLBACK`), so a request that acquires once per read and once per
//! transaction pays a round trip each time: about a fifth of a payment's. Inside [`hold`] a
//! request's reads and transactions on PostgreSQL share the connection it acquired first,
//! and the pool takes it back once, when the request ends or calls [`release`].
//!
//! Holding is opt-in, for flows whose waits are known: a request that held an idle connection
//! while it waited for another task needing one (a batcher, a cache filled by another
//! request) could starve the pool. A held flow [`release`]s before it calls a provider.
//! SQLite is not held: its connections are threads in this process and cost no round trip.

use std::{cell::RefCell, future::Future};

use sqlx::{Postgres, pool::PoolConnection, postgres::PgPool};

tokio::task_local! {
    /// The request's idle connection, between two of its statements.
    static HELD: RefCell<Option<PoolConnection<Postgres>>>;
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
    match HELD.try_with(|slot| slot.borrow_mut().take()) {
        Ok(Some(conn)) => Ok(conn),
        _ => pool.acquire().await,
    }
}

/// Holds `conn` for the request's next statement, inside [`hold`]; otherwise (or when one is
/// already held) it goes back to the pool. Only a connection whose last statement succeeded
/// and which has no open transaction may come here: anything else goes back to the pool,
/// whose release ping flushes it or finds it broken.
pub fn keep(conn: PoolConnection<Postgres>) {
    debug_assert_eq!(
        <<Postgres as sqlx::Database>::TransactionManager as sqlx::TransactionManager>::get_transaction_depth(&conn),
        0,
        "a connection with an open transaction is never held"
    );
    let _ = HELD.try_with(move |slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(conn);
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
/// than its own statements (a provider's answer), so it does not sit idle meanwhile.
pub fn release() {
    let held = HELD
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten();
    drop(held);
}

/// Whether this task holds a connection now (for tests).
pub fn holds() -> bool {
    HELD.try_with(|slot| slot.borrow().is_some())
        .unwrap_or(false)
}

type Manager = <Postgres as sqlx::Database>::TransactionManager;

/// A PostgreSQL transaction on a pooled connection that, once committed or rolled back, is
/// [`keep`]: sqlx's own `Transaction` would hand it back to the pool (and its ping).
#[derive(Debug)]
pub struct PgTx {
    /// `Some` until [`PgTx::commit`] or [`PgTx::rollback`] consume the transaction.
    conn: Option<PoolConnection<Postgres>>,
}

impl PgTx {
    /// Opens a transaction with `begin` (`BEGIN`, or a variant) on the held connection or a
    /// new one.
    pub async fn begin(pool: &PgPool, begin: &'static str) -> Result<Self, sqlx::Error> {
        let mut conn = acquire(pool).await?;
        // A failed `BEGIN` drops the connection: the pool's ping settles it.
        <Manager as sqlx::TransactionManager>::begin(&mut conn, Some(begin.into())).await?;
        Ok(PgTx { conn: Some(conn) })
    }

    /// Commits; the connection is kept for the request's next statement.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if let Some(mut conn) = self.conn.take() {
            <Manager as sqlx::TransactionManager>::commit(&mut conn).await?;
            keep(conn);
        }
        Ok(())
    }

    /// Rolls back; the connection is kept for the request's next statement.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        if let Some(mut conn) = self.conn.take() {
            <Manager as sqlx::TransactionManager>::rollback(&mut conn).await?;
            keep(conn);
        }
        Ok(())
    }

    fn open(&mut self) -> &mut PoolConnection<Postgres> {
        // Only `commit` and `rollback` take it, and they consume `self`.
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
        // Dropped open (an error, a cancelled request): queue the `ROLLBACK`, and let the
        // connection go back to the pool, whose ping sends it before anyone else gets it.
        if let Some(conn) = self.conn.as_mut() {
            <Manager as sqlx::TransactionManager>::start_rollback(conn);
        }
    }
}
