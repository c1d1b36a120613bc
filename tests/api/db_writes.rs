//! `db::Writes` on both databases: a transaction's last writes, one statement on PostgreSQL
//! and one by one on SQLite, report every part's row count, fail as a whole when a unique index
//! refuses a row, and write nothing when the transaction is dropped.

use cassa::{
    db::{Db, DbError, Tx, Writes},
    on_db, on_tx, write_part,
};
use cassa_tests::{Backend, both_backends, spawn_app};

async fn scratch(db: &Db) {
    on_db!(db, pool => sqlx::query(
        "CREATE TABLE writes_scratch (id BIGINT PRIMARY KEY, label TEXT NOT NULL, n BIGINT NOT NULL)"
    )
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();
}

async fn insert(tx: &mut Tx, writes: &mut Writes, id: i64, label: &str) -> cassa::db::Slot {
    const SQL: &str = "INSERT INTO writes_scratch (id, label, n) VALUES ($1, $2, 0)";
    write_part!(tx, writes, SQL, "RETURNING 1", q => q.bind(id).bind(label)).unwrap()
}

async fn bump(tx: &mut Tx, writes: &mut Writes, label: &str) -> Result<cassa::db::Slot, DbError> {
    const SQL: &str = "UPDATE writes_scratch SET n = n + 1 WHERE label = $1";
    write_part!(tx, writes, SQL, "RETURNING 1", q => q.bind(label))
}

async fn count_in(tx: &mut Tx) -> i64 {
    on_tx!(tx, conn => sqlx::query_scalar("SELECT count(*) FROM writes_scratch")
        .fetch_one(conn)
        .await)
    .unwrap()
}

async fn rows(db: &Db) -> Vec<(i64, String, i64)> {
    on_db!(db, pool => sqlx::query_as("SELECT id, label, n FROM writes_scratch ORDER BY id")
        .fetch_all(pool)
        .await)
    .unwrap()
}

async fn every_part_reports_its_row_count(backend: Backend) {
    let app = spawn_app(backend).await;
    scratch(&app.db).await;
    let mut tx = app.db.begin_write().await.unwrap();
    let mut writes = Writes::new();
    let a = insert(&mut tx, &mut writes, 1, "a").await;
    let b = insert(&mut tx, &mut writes, 2, "b").await;
    // Each part sees the rows as they were before the statement (PostgreSQL) or as the parts
    // before it left them (SQLite); a row no part wrote before is found by both.
    let none = bump(&mut tx, &mut writes, "nobody").await.unwrap();
    // Held until they run on PostgreSQL; written already on SQLite.
    let held = matches!(tx, Tx::Postgres(_));
    assert_eq!(count_in(&mut tx).await, if held { 0 } else { 2 });
    let counts = writes.run(&mut tx).await.unwrap();
    assert_eq!(
        (counts.rows(a), counts.rows(b), counts.rows(none)),
        (1, 1, 0)
    );
    assert_eq!(count_in(&mut tx).await, 2);
    tx.commit().await.unwrap();

    let mut tx = app.db.begin_write().await.unwrap();
    let mut writes = Writes::new();
    let bumped = bump(&mut tx, &mut writes, "a").await.unwrap();
    let c = insert(&mut tx, &mut writes, 3, "a").await;
    let counts = writes.run(&mut tx).await.unwrap();
    assert_eq!((counts.rows(bumped), counts.rows(c)), (1, 1));
    tx.commit().await.unwrap();
    assert_eq!(
        rows(&app.db).await,
        vec![(1, "a".into(), 1), (2, "b".into(), 0), (3, "a".into(), 0)]
    );
}

/// One statement on PostgreSQL: a part does not see a row an earlier part inserted (both run
/// on the statement's snapshot); on SQLite it does.
async fn parts_share_one_snapshot_on_postgres(backend: Backend) {
    let app = spawn_app(backend).await;
    scratch(&app.db).await;
    let mut tx = app.db.begin_write().await.unwrap();
    let held = matches!(tx, Tx::Postgres(_));
    let mut writes = Writes::new();
    insert(&mut tx, &mut writes, 1, "a").await;
    let bumped = bump(&mut tx, &mut writes, "a").await.unwrap();
    let counts = writes.run(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let n = if held { 0 } else { 1 };
    assert_eq!(counts.rows(bumped), n as u64);
    assert_eq!(rows(&app.db).await, vec![(1, "a".into(), n)]);
}

async fn a_refused_row_fails_the_writes_and_a_dropped_transaction_keeps_none(backend: Backend) {
    let app = spawn_app(backend).await;
    scratch(&app.db).await;
    let mut tx = app.db.begin_write().await.unwrap();
    let mut writes = Writes::new();
    insert(&mut tx, &mut writes, 1, "a").await;
    writes.run(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    // The same id again: SQLite refuses it as it is written, PostgreSQL when the writes run.
    let mut tx = app.db.begin_write().await.unwrap();
    let mut writes = Writes::new();
    let refused = async {
        bump(&mut tx, &mut writes, "a").await?;
        const SQL: &str = "INSERT INTO writes_scratch (id, label, n) VALUES ($1, $2, 0)";
        write_part!(&mut tx, writes, SQL, "RETURNING 1", q => q.bind(1_i64).bind("again"))?;
        writes.run(&mut tx).await
    }
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, DbError::Query(sqlx::Error::Database(e)) if e.is_unique_violation()),
        "{refused:?}"
    );
    drop(tx);

    // Writes that ran, then a transaction dropped (a lost compare-and-set): nothing stays.
    let mut tx = app.db.begin_write().await.unwrap();
    let mut writes = Writes::new();
    insert(&mut tx, &mut writes, 2, "b").await;
    let bumped = bump(&mut tx, &mut writes, "a").await.unwrap();
    assert_eq!(writes.run(&mut tx).await.unwrap().rows(bumped), 1);
    drop(tx);
    assert_eq!(rows(&app.db).await, vec![(1, "a".into(), 0)]);
}

async fn no_writes_run_as_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tx = app.db.begin_write().await.unwrap();
    Writes::new().run(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
}

both_backends!(
    every_part_reports_its_row_count,
    parts_share_one_snapshot_on_postgres,
    a_refused_row_fails_the_writes_and_a_dropped_transaction_keeps_none,
    no_writes_run_as_nothing,
);
