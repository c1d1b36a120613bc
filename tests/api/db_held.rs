//! `db::held` on both databases: inside `hold`, a flow's statements and transactions on
//! PostgreSQL share one pooled connection; a transaction dropped open, or a failed statement,
//! gives its connection back to the pool instead (rolled back, never reused mid-exchange);
//! many held flows on a small pool all finish. SQLite holds nothing and runs as before.

use std::time::Duration;

use cassa::{
    db::{Db, Tx, held},
    on_db, on_tx,
};
use cassa_tests::{Backend, both_backends, spawn_app};

async fn scratch(db: &Db) {
    on_db!(db, pool => sqlx::query("CREATE TABLE held_scratch (id BIGINT PRIMARY KEY)")
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
}

/// The backend process serving this statement (0 on SQLite, which has none).
async fn backend_pid(db: &Db) -> i32 {
    match db {
        Db::Sqlite(_) => 0,
        Db::Postgres(_) => on_db!(db, pool => sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await)
        .unwrap(),
    }
}

async fn backend_pid_in(tx: &mut Tx) -> i32 {
    match tx {
        Tx::Sqlite(_) => 0,
        Tx::Postgres(_) => on_tx!(tx, conn => sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await)
        .unwrap(),
    }
}

async fn insert_in(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query("INSERT INTO held_scratch (id) VALUES ($1)")
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ()))
}

async fn count(db: &Db) -> i64 {
    on_db!(db, pool => sqlx::query_scalar("SELECT count(*) FROM held_scratch")
        .fetch_one(pool)
        .await)
    .unwrap()
}

async fn a_held_flow_runs_on_one_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.db;
    scratch(db).await;
    let postgres = matches!(db, Db::Postgres(_));
    held::hold(async {
        let first = backend_pid(db).await;
        assert_eq!(held::holds(), postgres);
        let mut tx = db.begin_write().await.unwrap();
        // Taken out while the transaction runs on it.
        assert!(!held::holds());
        assert_eq!(backend_pid_in(&mut tx).await, first);
        insert_in(&mut tx, 1).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(held::holds(), postgres);
        assert_eq!(backend_pid(db).await, first);
        assert_eq!(count(db).await, 1);
        held::release();
        assert!(!held::holds());
    })
    .await;
    // Outside a held flow every statement gives its connection back.
    backend_pid(db).await;
    assert!(!held::holds());
}

async fn a_transaction_dropped_open_is_rolled_back_and_not_held(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.db;
    scratch(db).await;
    held::hold(async {
        backend_pid(db).await;
        let mut tx = db.begin_write().await.unwrap();
        insert_in(&mut tx, 1).await.unwrap();
        drop(tx);
        assert!(
            !held::holds(),
            "an open transaction's connection is never held"
        );
        assert_eq!(count(db).await, 0);
        // Had the dropped transaction stayed open, its uncommitted row would make this insert
        // wait for it (PostgreSQL) or find the write lock taken (SQLite).
        let mut tx = db.begin_write().await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), insert_in(&mut tx, 1))
            .await
            .expect("the dropped transaction was rolled back")
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(db).await, 1);
    })
    .await;
}

async fn a_failed_statement_gives_its_connection_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.db;
    scratch(db).await;
    held::hold(async {
        backend_pid(db).await;
        let failed = on_db!(db, pool => sqlx::query("SELECT no_such_column FROM held_scratch")
            .execute(pool)
            .await
            .map(|_| ()));
        assert!(failed.is_err());
        assert!(!held::holds());
        // A statement failing inside a transaction: the flow drops the transaction with it.
        let mut tx = db.begin_write().await.unwrap();
        insert_in(&mut tx, 1).await.unwrap();
        assert!(insert_in(&mut tx, 1).await.is_err());
        drop(tx);
        assert!(!held::holds());
        assert_eq!(count(db).await, 0);
        assert_eq!(held::holds(), matches!(db, Db::Postgres(_)));
    })
    .await;
}

/// More held flows than the pool has connections (the tests' pool has 5): each holds at most
/// one at a time, so they queue for the pool and all finish.
async fn many_held_flows_share_a_small_pool(backend: Backend) {
    let app = spawn_app(backend).await;
    scratch(&app.db).await;
    let flows = (0..32_i64).map(|id| {
        let db = app.db.clone();
        tokio::spawn(held::hold(async move {
            count(&db).await;
            let mut tx = db.begin_write().await.unwrap();
            insert_in(&mut tx, id).await.unwrap();
            tx.commit().await.unwrap();
            count(&db).await
        }))
    });
    let all = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(flows))
        .await
        .expect("no held flow starved");
    assert!(all.into_iter().all(|seen| seen.unwrap() >= 1));
    assert_eq!(count(&app.db).await, 32);
}

both_backends!(
    a_held_flow_runs_on_one_connection,
    a_transaction_dropped_open_is_rolled_back_and_not_held,
    a_failed_statement_gives_its_connection_back,
    many_held_flows_share_a_small_pool,
);
