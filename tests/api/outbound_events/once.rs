//! An event is written exactly when its change is: an idempotent replay emits nothing more,
//! concurrent captures and refunds of one intent emit one event per succeeded transaction,
//! and a settlement whose transaction fails leaves neither the change nor its event (the
//! resolver later records both, once).

use std::{collections::BTreeSet, time::Duration};

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{events, of_type, types};
use crate::payments::shop::{Shop, TOTAL, amounts, shop, shop_with_timeout};

async fn an_idempotent_replay_emits_nothing_more(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let key = Uuid::now_v7().to_string();
    let first = amounts(
        shop.op_with_key(&order, &intent, "capture", json!({"amount": 2000}), &key)
            .await,
        200,
    )
    .await;
    let before = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        types(&before),
        [
            "payment_intent.authorized",
            "order.paid",
            "payment_intent.partially_captured",
            "tax.committed"
        ]
    );
    for _ in 0..3 {
        let response = shop
            .op_with_key(&order, &intent, "capture", json!({"amount": 2000}), &key)
            .await;
        assert_eq!(
            response.headers().get("idempotent-replayed").unwrap(),
            "true"
        );
        assert_eq!(amounts(response, 200).await, first);
    }
    // Past its HTTP record too: the ledger's key answers with the same transaction.
    shop.forget_http_records().await;
    let again = amounts(
        shop.op_with_key(&order, &intent, "capture", json!({"amount": 2000}), &key)
            .await,
        200,
    )
    .await;
    assert_eq!(again["captured_amount"], 2000);
    assert_eq!(events(&shop.app, &shop.store.id).await, before);
}

/// The succeeded transactions of an operation on the order's intent.
fn succeeded<'a>(detail: &'a Value, op: &str) -> Vec<&'a Value> {
    detail["intents"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["operation"] == op && t["status"] == "succeeded")
        .collect()
}

async fn concurrent_captures_and_refunds_emit_one_event_per_succeeded_transaction(
    backend: Backend,
) {
    let shop = shop_with_timeout(backend, Duration::from_secs(20)).await;
    let (order, intent) = shop.authorized().await;
    let url = |op: &str| {
        shop.app.url(&format!(
            "/api/v1/admin/orders/{order}/payments/{}/{op}",
            intent["id"].as_str().unwrap()
        ))
    };
    let send_all = |op: &str, body: Value, n: usize, same: Option<String>| {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let request = shop
                .app
                .client
                .post(url(op))
                .bearer_auth(&shop.store.sandbox_key)
                .header(
                    "idempotency-key",
                    same.clone().unwrap_or_else(|| Uuid::now_v7().to_string()),
                )
                .json(&body);
            tasks.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        tasks
    };
    // 24 captures of 300 against 6018: 20 fit.
    let statuses = send_all("capture", json!({"amount": 300}), 24, None)
        .join_all()
        .await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, usize::try_from(TOTAL / 300).unwrap(), "{statuses:?}");
    // One key from many tasks: one capture.
    let same = Uuid::now_v7().to_string();
    let statuses = send_all("capture", json!({"amount": 18}), 8, Some(same))
        .join_all()
        .await;
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 409)),
        "{statuses:?}"
    );
    // 16 refunds of 500 against 6018 captured: 12 fit.
    let statuses = send_all("refund", json!({"amount": 500}), 16, None)
        .join_all()
        .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        usize::try_from(TOTAL / 500).unwrap(),
        "{statuses:?}"
    );

    let detail = shop.check_invariants(&order).await;
    let captures = succeeded(&detail, "capture");
    let refunds = succeeded(&detail, "refund");
    assert_eq!(captures.len(), ok + 1);
    let all = events(&shop.app, &shop.store.id).await;
    let captured_events: Vec<&Value> = of_type(&all, "payment_intent.partially_captured")
        .into_iter()
        .chain(of_type(&all, "payment_intent.captured"))
        .collect();
    assert_eq!(captured_events.len(), captures.len(), "{:?}", types(&all));
    assert_eq!(of_type(&all, "payment_intent.captured").len(), 1);
    // Each reports its own capture: the running totals are all different.
    let totals: BTreeSet<i64> = captured_events
        .iter()
        .map(|e| e["data"]["object"]["captured_amount"].as_i64().unwrap())
        .collect();
    assert_eq!(totals.len(), captures.len());
    assert_eq!(totals.last(), Some(&TOTAL));
    // One refund.succeeded per succeeded refund, naming it; one payment_intent.refunded each.
    let reported: BTreeSet<&str> = of_type(&all, "refund.succeeded")
        .iter()
        .map(|e| e["data"]["object"]["id"].as_str().unwrap())
        .collect();
    let made: BTreeSet<&str> = refunds.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(reported, made);
    assert_eq!(of_type(&all, "refund.succeeded").len(), refunds.len());
    assert_eq!(
        of_type(&all, "payment_intent.refunded").len(),
        refunds.len()
    );
    // Tax moves at most once per settlement.
    assert!(of_type(&all, "tax.committed").len() <= captures.len());
    assert!(of_type(&all, "tax.reversed").len() <= refunds.len());
    assert_eq!(of_type(&all, "payment_intent.authorized").len(), 1);
    assert_eq!(of_type(&all, "order.paid").len(), 1);
}

/// Makes every insert into `table` fail until [`allow`].
async fn refuse(shop: &Shop, table: &str) {
    let statements: Vec<String> = match shop.app.backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
        Backend::Postgres(_) => vec![
            "CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            ),
        ],
    };
    for sql in statements {
        cassa::on_db!(&shop.app.db, pool => sqlx::raw_sql(&sql).execute(pool).await.map(|_| ()))
            .unwrap();
    }
}

async fn allow(shop: &Shop, table: &str) {
    let sql = match shop.app.backend {
        Backend::Sqlite => "DROP TRIGGER test_refuse".to_owned(),
        Backend::Postgres(_) => format!("DROP TRIGGER test_refuse ON {table}"),
    };
    cassa::on_db!(&shop.app.db, pool => sqlx::raw_sql(&sql).execute(pool).await.map(|_| ()))
        .unwrap();
}

async fn a_settlement_that_fails_leaves_neither_its_change_nor_its_event(backend: Backend) {
    let shop = shop(backend).await;
    super::endpoint(
        &shop.app,
        &shop.store.sandbox_key,
        json!({"event_types": ["*"]}),
    )
    .await;
    let before = events(&shop.app, &shop.store.id).await.len();
    // A statement of the settling transaction fails: before the event (the event itself),
    // within it (its deliveries), after it (the provider call's audit rows).
    let mut failed = Vec::new();
    for table in [
        "outbound_events",
        "webhook_deliveries",
        "provider_call_audit",
    ] {
        let (order, intent) = shop.authorized().await;
        let emitted = events(&shop.app, &shop.store.id).await;
        refuse(&shop, table).await;
        let response = shop
            .op(&order, &intent, "capture", json!({"amount": 1000}))
            .await;
        let status = response.status();
        allow(&shop, table).await;
        assert!(status.is_server_error(), "{table}: {status}");
        let detail = shop.detail(&order).await;
        assert_eq!(
            detail["intents"][0]["captured_amount"], 0,
            "{table}: {detail}"
        );
        assert!(succeeded(&detail, "capture").is_empty(), "{table}");
        assert_eq!(events(&shop.app, &shop.store.id).await, emitted, "{table}");
        failed.push((order, intent));
    }

    // The resolver settles each capture at last: the change and its events, once.
    for _ in 0..3 {
        shop.app.clock.advance(chrono::Duration::hours(2));
        shop.resolve().await;
    }
    let all = events(&shop.app, &shop.store.id).await;
    let settled = of_type(&all, "payment_intent.partially_captured");
    assert_eq!(settled.len(), failed.len(), "{:?}", types(&all));
    for (order, intent) in &failed {
        let detail = shop.check_invariants(order).await;
        assert_eq!(detail["intents"][0]["captured_amount"], 1000, "{detail}");
        let reported = settled
            .iter()
            .filter(|e| e["data"]["object"]["id"] == intent["id"])
            .count();
        assert_eq!(reported, 1);
    }
    assert_eq!(all.len(), before + failed.len() * 4, "{:?}", types(&all));
    // Every event reached the endpoint once.
    let queued: usize = super::fan_out(&shop.app, &shop.store.id)
        .await
        .values()
        .map(Vec::len)
        .sum();
    assert_eq!(queued, all.len());
}

both_backends!(
    an_idempotent_replay_emits_nothing_more,
    concurrent_captures_and_refunds_emit_one_event_per_succeeded_transaction,
    a_settlement_that_fails_leaves_neither_its_change_nor_its_event,
);
