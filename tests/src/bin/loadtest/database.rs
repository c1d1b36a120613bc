//! The harness's direct database work: bulk-loading a large ledger (the API would take hours)
//! and running pgbench with the writes of one payment.

use std::process::Command;

use uuid::Uuid;

use super::Options;

/// Bulk-inserts `rows` ledger transactions (a quarter as many orders, snapshots and intents,
/// four transactions each) straight into the database: the API would take hours. The sandbox
/// PSP's account `psp_account` gets the same payments (captured, partly refunded), so a
/// reconciliation of the period matches every one of them.
pub async fn bulk_ledger(
    database_url: &str,
    store_id: &str,
    rows: i64,
    psp_account: &str,
) -> Result<(Vec<String>, Vec<String>), String> {
    let intents = rows / 4;
    let store: Uuid = store_id.parse().map_err(|e| format!("{e}"))?;
    let now = chrono::Utc::now();
    if database_url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let customer: Uuid =
            sqlx::query_scalar("SELECT id FROM customers WHERE store_id = $1 LIMIT 1")
                .bind(store)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
        // A plain table (dropped below): the statements may run on different connections.
        let create = format!(
            "CREATE TABLE bulk AS SELECT g AS n, gen_random_uuid() AS order_id, \
             gen_random_uuid() AS snapshot_id, gen_random_uuid() AS intent_id \
             FROM generate_series(1, {intents}) g"
        );
        sqlx::query(&create)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let statements = [
            "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, shipping_address, revision, created_at, updated_at) \
             SELECT order_id, $1, 'sandbox', $2, 'paid', 'USD', '{}', 1, $3 - n * interval '1 second', $3 FROM bulk",
            "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, shipping_provider, tax_provider, created_at, expires_at) \
             SELECT snapshot_id, order_id, $1, 'sandbox', $2, 1, 'USD', 2500, 500, 206, 3206, 'standard', 'table_rate', 'rules', $3, $3 FROM bulk",
            "INSERT INTO payment_intents (id, store_id, environment, order_id, snapshot_id, customer_id, provider, provider_payment_id, payment_method, status, amount, authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, version, created_at, updated_at) \
             SELECT intent_id, $1, 'sandbox', order_id, snapshot_id, $2, 'sandbox', 'psp_bulk_' || n, 'pm_card_visa', 'partially_refunded', 3206, 3206, 3206, 1000, 0, 0, false, 'USD', 4, $3 - n * interval '1 second', $3 FROM bulk",
            "INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) \
             SELECT gen_random_uuid(), intent_id, $1, 'sandbox', op, 'bulk-' || n || '-' || op || '-' || k, amt, 'USD', 'succeeded', 'bulk', 'bulk', $3 - n * interval '1 second', $3 \
             FROM bulk, (VALUES ('authorize', 3206, 1), ('capture', 2000, 2), ('capture', 1206, 3), ('refund', 1000, 4)) AS t(op, amt, k)",
            // The tax each capture committed: one transaction per order, one line per
            // jurisdiction of a Los Angeles sale (4 lines: as many tax lines as ledger rows).
            "INSERT INTO tax_transactions (id, store_id, environment, order_id, payment_intent_id, snapshot_id, kind, source, currency, taxable, exempt, tax, created_at) \
             SELECT intent_id, $1, 'sandbox', order_id, intent_id, snapshot_id, 'commit', 'bulk:' || n, 'USD', 3000, 0, 303, $3 - n * interval '1 second' FROM bulk \
             WHERE $2::uuid IS NOT NULL",
            "INSERT INTO tax_transaction_lines (transaction_id, line_no, position, jurisdiction, taxable, exempt, tax) \
             SELECT intent_id, l, p, j, amt, 0, t FROM bulk, (VALUES (0, 0, 'US-CA', 500, 36), (1, 0, 'US-CA', 2500, 181), \
             (1, 1, 'US-CA/county:LOS ANGELES', 2500, 6), (1, 2, 'US-CA/city:LOS ANGELES', 2500, 56)) AS v(l, p, j, amt, t) \
             WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::timestamptz IS NOT NULL",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(store)
                .bind(customer)
                .bind(now)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        sqlx::query(PSP_PG)
            .bind(psp_account)
            .bind(now)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let sample: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT intent_id, order_id FROM bulk WHERE n % 997 = 0")
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?;
        sqlx::query("DROP TABLE bulk")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        pool.close().await;
        Ok((
            sample.iter().map(|s| s.0.to_string()).collect(),
            sample.iter().map(|s| s.1.to_string()).collect(),
        ))
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let customer: Uuid =
            sqlx::query_scalar("SELECT id FROM customers WHERE store_id = $1 LIMIT 1")
                .bind(store)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
        // Batches in one transaction each; ids from randomblob, ordered like time.
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        sqlx::query("CREATE TEMP TABLE bulk AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
             SELECT n, randomblob(16) AS order_id, randomblob(16) AS snapshot_id, randomblob(16) AS intent_id FROM g")
            .bind(intents).execute(&mut *tx).await.map_err(|e| e.to_string())?;
        let ts = now.to_rfc3339();
        let statements = [
            "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, shipping_address, revision, created_at, updated_at) \
             SELECT order_id, $1, 'sandbox', $2, 'paid', 'USD', '{}', 1, $3, $3 FROM bulk",
            "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, shipping_provider, tax_provider, created_at, expires_at) \
             SELECT snapshot_id, order_id, $1, 'sandbox', $2, 1, 'USD', 2500, 500, 206, 3206, 'standard', 'table_rate', 'rules', $3, $3 FROM bulk",
            "INSERT INTO payment_intents (id, store_id, environment, order_id, snapshot_id, customer_id, provider, provider_payment_id, payment_method, status, amount, authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, version, created_at, updated_at) \
             SELECT intent_id, $1, 'sandbox', order_id, snapshot_id, $2, 'sandbox', 'psp_bulk_' || n, 'pm_card_visa', 'partially_refunded', 3206, 3206, 3206, 1000, 0, 0, 0, 'USD', 4, $3, $3 FROM bulk",
            "INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) \
             SELECT randomblob(16), intent_id, $1, 'sandbox', op, 'bulk-' || n || '-' || op || '-' || k, amt, 'USD', 'succeeded', 'bulk', 'bulk', $3, $3 \
             FROM bulk, (SELECT 'authorize' AS op, 3206 AS amt, 1 AS k UNION ALL SELECT 'capture', 2000, 2 UNION ALL SELECT 'capture', 1206, 3 UNION ALL SELECT 'refund', 1000, 4)",
            "INSERT INTO tax_transactions (id, store_id, environment, order_id, payment_intent_id, snapshot_id, kind, source, currency, taxable, exempt, tax, created_at) \
             SELECT intent_id, $1, 'sandbox', order_id, intent_id, snapshot_id, 'commit', 'bulk:' || n, 'USD', 3000, 0, 303, $3 FROM bulk WHERE $2 IS NOT NULL",
            "INSERT INTO tax_transaction_lines (transaction_id, line_no, position, jurisdiction, taxable, exempt, tax) \
             SELECT intent_id, l, p, j, amt, 0, t FROM bulk, (SELECT 0 AS l, 0 AS p, 'US-CA' AS j, 500 AS amt, 36 AS t \
             UNION ALL SELECT 1, 0, 'US-CA', 2500, 181 UNION ALL SELECT 1, 1, 'US-CA/county:LOS ANGELES', 2500, 6 \
             UNION ALL SELECT 1, 2, 'US-CA/city:LOS ANGELES', 2500, 56) \
             WHERE $1 IS NOT NULL AND $2 IS NOT NULL AND $3 IS NOT NULL",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(store)
                .bind(customer)
                .bind(&ts)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        sqlx::query(PSP_SQLITE)
            .bind(psp_account)
            .bind(&ts)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let sample: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT intent_id, order_id FROM bulk WHERE n % 997 = 0")
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        pool.close().await;
        Ok((
            sample.iter().map(|s| s.0.to_string()).collect(),
            sample.iter().map(|s| s.1.to_string()).collect(),
        ))
    }
}

/// The PSP's side of the bulk payments (created when the intents were).
const PSP_PG: &str = "INSERT INTO sandbox_psp_payments (id, account, amount, currency, \
    payment_method, status, captured, refunded, created_at, updated_at, reference, released) \
    SELECT 'psp_bulk_' || n, $1, 3206, 'USD', 'pm_card_visa', 'captured', 3206, 1000, \
    $2 - n * interval '1 second', $2, NULL, 0 FROM bulk";
const PSP_SQLITE: &str = "INSERT INTO sandbox_psp_payments (id, account, amount, currency, \
    payment_method, status, captured, refunded, created_at, updated_at, reference, released) \
    SELECT 'psp_bulk_' || n, $1, 3206, 'USD', 'pm_card_visa', 'captured', 3206, 1000, $2, $2, \
    NULL, 0 FROM bulk";

/// The pgbench script: exactly the database writes (and their commits) of one payment's
/// authorize and capture through the API, on the same tables and indexes.
const PGBENCH_PAYMENT: &str = include_str!("../../../bench/payment_writes.sql");

pub fn pgbench(database_url: &str, o: &Options) -> Option<(f64, String)> {
    let dir = std::env::temp_dir().join(format!("cassa-pgbench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join("payment.sql");
    std::fs::write(&script, PGBENCH_PAYMENT).ok()?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &o.concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &o.duration.as_secs().to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(database_url)
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())?;
    Some((tps, text))
}

/// What the inbound webhook workers owed when an ingest window closed, and how long they took
/// to finish it: ingest only counts as sustained if the workers keep up with it. Waiting counts
/// events in a retry's backoff too (none in the benchmark, whose events all succeed).
pub async fn webhook_backlog(database_url: &str, store_id: &str) -> serde_json::Value {
    match drain(database_url, store_id).await {
        Ok(report) => report,
        Err(e) => serde_json::json!({"error": e}),
    }
}

async fn drain(database_url: &str, store_id: &str) -> Result<serde_json::Value, String> {
    let store: Uuid = store_id.parse().map_err(|e| format!("{e}"))?;
    if database_url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let report = watch(|sql| sqlx::query_scalar(sql).bind(store).fetch_one(&pool)).await;
        pool.close().await;
        report
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let report = watch(|sql| sqlx::query_scalar(sql).bind(store).fetch_one(&pool)).await;
        pool.close().await;
        report
    }
}

/// Polls the backlog every 200 ms until it is empty or two minutes have passed.
async fn watch<F, Fut>(count: F) -> Result<serde_json::Value, String>
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Result<i64, sqlx::Error>>,
{
    const WAITING: &str = "SELECT COUNT(*) FROM webhook_events \
        WHERE store_id = $1 AND status IN ('pending', 'processing')";
    const DONE: &str = "SELECT COUNT(*) FROM webhook_events \
        WHERE store_id = $1 AND status NOT IN ('pending', 'processing')";
    let started = std::time::Instant::now();
    let at_close = count(WAITING).await.map_err(|e| e.to_string())?;
    let mut waiting = at_close;
    while waiting > 0 && started.elapsed() < std::time::Duration::from_secs(120) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        waiting = count(WAITING).await.map_err(|e| e.to_string())?;
    }
    Ok(serde_json::json!({
        "waiting_at_close": at_close,
        "drained_in_s": (waiting == 0).then(|| started.elapsed().as_secs_f64()),
        "still_waiting": waiting,
        "handled": count(DONE).await.ok(),
    }))
}
