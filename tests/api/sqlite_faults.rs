//! SQLite under storage faults: another process holding the write lock past the busy timeout
//! (`SQLITE_BUSY`), and a full disk (`SQLITE_FULL`). Either way a mutation is answered with a
//! clear `503` problem (`database_busy`, `storage_full`) and writes nothing, reads go on, the
//! file stays intact (`PRAGMA integrity_check`), and once the fault is gone the same
//! Idempotency-Key retried executes once, without a restart.
//!
//! The full disk is emulated with `PRAGMA max_page_count` on every pooled connection: SQLite
//! then answers `SQLITE_FULL` exactly as on a full filesystem, on any machine and without root.

use cassa_tests::{Backend, TestApp, spawn_app};
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use crate::support::assert_problem;

fn pool(app: &TestApp) -> &SqlitePool {
    let cassa::db::Db::Sqlite(pool) = &app.db else {
        panic!("SQLite only");
    };
    pool
}

/// The database file the server works on.
async fn database_file(app: &TestApp) -> String {
    let (_, _, file): (i64, String, String) = sqlx::query_as("PRAGMA database_list")
        .fetch_one(pool(app))
        .await
        .unwrap();
    file
}

async fn integrity(app: &TestApp) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool(app))
        .await
        .unwrap()
}

async fn customers(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(pool(app))
        .await
        .unwrap()
}

/// Creates a customer under `key`.
async fn create_customer(app: &TestApp, token: &str, key: &str, name: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap()
}

async fn get_customer(app: &TestApp, token: &str, customer: &Value) -> reqwest::Response {
    let id = customer["id"].as_str().unwrap();
    app.client
        .get(app.url(&format!("/api/v1/admin/customers/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_holding_the_lock_past_the_busy_timeout_is_answered_database_busy() {
    let app = spawn_app(Backend::Sqlite).await;
    let store = app.create_store("Shop", "USD").await;
    let key = store.sandbox_key.clone();
    let before = create_customer(&app, &key, "before-lock", "Committed before").await;
    assert_eq!(before.status(), 201);
    let committed: Value = before.json().await.unwrap();

    // Another process takes the write lock and keeps it (as a backup tool or a second server
    // on the same file would).
    let file = database_file(&app).await;
    let mut other = SqliteConnection::connect(&format!("sqlite://{file}"))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let response = create_customer(&app, &key, "during-lock", "Blocked").await;
    assert_eq!(retry_after(&response).as_deref(), Some("1"));
    let problem = assert_problem(response, 503, "database_busy").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the failed step was rolled back"),
        "{problem}"
    );
    // Reads go on beside the lock (WAL), and readiness stays green: the database is there.
    let read = get_customer(&app, &key, &committed).await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["id"], committed["id"], "{read}");
    assert_eq!(app.get("/readyz").await.status(), 200);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // The same key now executes, once; asked again it answers the same.
    let first = create_customer(&app, &key, "during-lock", "Blocked").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = create_customer(&app, &key, "during-lock", "Blocked").await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(customers(&app).await, 2, "no partial or doubled write");
    assert_eq!(integrity(&app).await, "ok");
    let read: Value = get_customer(&app, &key, &committed)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["name"], "Committed before", "{read}");
}

/// Caps (or lifts) the file's size on every connection of the server's pool: it holds all of
/// them at once, so none is left out.
async fn cap_pages(app: &TestApp, cap: Option<i64>) {
    let pool = pool(app);
    let mut held = Vec::new();
    for _ in 0..app.state.config.database.max_connections {
        held.push(pool.acquire().await.unwrap());
    }
    for conn in &mut held {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        let limit = cap.unwrap_or(1 << 30).max(pages);
        let _: i64 = sqlx::query_scalar(&format!("PRAGMA max_page_count = {limit}"))
            .fetch_one(&mut **conn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_storage_full_and_freeing_space_resumes_without_restart() {
    let app = spawn_app(Backend::Sqlite).await;
    let store = app.create_store("Shop", "USD").await;
    let key = store.sandbox_key.clone();
    let before = create_customer(&app, &key, "before-full", "Committed before").await;
    assert_eq!(before.status(), 201);
    let committed: Value = before.json().await.unwrap();

    // The disk fills: no page beyond the current ones. Customers are created until one is
    // refused (the free pages inside the file are used first).
    cap_pages(&app, Some(0)).await;
    let big = "x".repeat(150);
    let mut created = 1;
    let mut refused = None;
    for i in 0..2000 {
        let key_i = format!("fill-{i}");
        let response = create_customer(&app, &key, &key_i, &format!("{big}{i}")).await;
        match response.status().as_u16() {
            201 => created += 1,
            _ => {
                refused = Some((key_i, i, response));
                break;
            }
        }
    }
    let Some((refused_key, refused_i, response)) = refused else {
        panic!("the capped file never filled");
    };
    // The figure docs/operations.md records.
    eprintln!("the capped file took {refused_i} customers, then refused one");
    let problem = assert_problem(response, 503, "storage_full").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the failed step was rolled back"),
        "{problem}"
    );
    // Still full: the next one is refused too; reads go on.
    assert_problem(
        create_customer(&app, &key, "after-full", "Refused").await,
        503,
        "storage_full",
    )
    .await;
    assert_eq!(get_customer(&app, &key, &committed).await.status(), 200);
    assert_eq!(customers(&app).await, created, "nothing half-written");
    assert_eq!(integrity(&app).await, "ok");

    // Space is freed (the cap lifted on the live connections): the refused key executes once.
    cap_pages(&app, None).await;
    let name = format!("{big}{refused_i}");
    let first = create_customer(&app, &key, &refused_key, &name).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = create_customer(&app, &key, &refused_key, &name).await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(customers(&app).await, created + 1);
    assert_eq!(integrity(&app).await, "ok");
    let read: Value = get_customer(&app, &key, &committed)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["name"], "Committed before", "{read}");
}
