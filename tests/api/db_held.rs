//! `db::held` on both databases: inside `hold`, a flow's statements and transactions on
//! PostgreSQL share one pooled connection; a transaction dropped open, or a failed statement,
//! gives its connection back to the pool instead (rolled back, never reused mid-exchange);
//! many held flows on a small pool all finish. SQLite holds nothing and runs as before.

use std::time::Duration;

use cassa::{
    db::{Db, Tx, held},
    on_db, on_tx,
};
use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app, spawn_app_with};
use futures::FutureExt;
use tokio::io::AsyncWriteExt;

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

/// Opens as many transactions at once as the tests' pool has connections (5): each must begin,
/// so none of them is a connection left believing it is still in a transaction.
async fn every_pooled_connection_begins(db: &Db) {
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(
            db.begin_read()
                .await
                .expect("a pooled connection that can begin"),
        );
    }
}

/// A `COMMIT` that fails (a deferred foreign key) or is cancelled while it waits leaves the
/// connection in a state sqlx's count of open transactions may disagree with: it is neither
/// held nor reused.
async fn a_failed_or_cancelled_commit_leaves_no_broken_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.db;
    for sql in [
        "CREATE TABLE held_parent (id BIGINT PRIMARY KEY)",
        "CREATE TABLE held_child (parent BIGINT REFERENCES held_parent (id) \
         DEFERRABLE INITIALLY DEFERRED)",
    ] {
        on_db!(db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }
    held::hold(async {
        for _ in 0..5 {
            backend_pid(db).await;
            let mut tx = db.begin_write().await.unwrap();
            on_tx!(&mut tx, conn => sqlx::query("INSERT INTO held_child (parent) VALUES (1)")
                .execute(conn)
                .await
                .map(|_| ()))
            .unwrap();
            assert!(
                tx.commit().await.is_err(),
                "the deferred check fails at COMMIT"
            );
            assert!(!held::holds());
        }
        for _ in 0..5 {
            backend_pid(db).await;
            let tx = db.begin_write().await.unwrap();
            // Polled once: the `COMMIT` is sent, then the wait for its answer is dropped
            // (unless the answer came within that one poll: then it is kept, committed).
            match tx.commit().now_or_never() {
                Some(committed) => committed.unwrap(),
                None => assert!(!held::holds()),
            }
            held::release();
        }
    })
    .await;
    every_pooled_connection_begins(db).await;
}

/// A client that sends its body slowly holds no connection meanwhile. More such clients than
/// the pool has connections, each after its principal was looked up in the database (the
/// cache is off), and another request still gets one.
async fn a_slow_body_holds_no_connection(backend: Backend) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|config| {
                config.cache_ttl = Duration::ZERO;
                config.database.acquire_timeout = Duration::from_secs(2);
            })),
            ..SpawnOptions::default()
        },
    )
    .await;
    let store = app.create_store("Slow bodies", "USD").await;
    let (_, token) = app.create_customer(&store).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for i in 0..8 {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /api/v1/me/orders HTTP/1.1\r\nHost: {host}\r\n\
             Authorization: Bearer {token}\r\nIdempotency-Key: slow-body-{i}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    // Time for every slow request to reach its body.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Readiness needs a connection within 2 s.
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    drop(slow);
}

both_backends!(
    a_failed_or_cancelled_commit_leaves_no_broken_connection,
    a_slow_body_holds_no_connection,
    a_held_flow_runs_on_one_connection,
    a_transaction_dropped_open_is_rolled_back_and_not_held,
    a_failed_statement_gives_its_connection_back,
    many_held_flows_share_a_small_pool,
);
