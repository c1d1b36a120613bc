//! Deleting an endpoint while a change fans out to it: the change commits without it. On
//! PostgreSQL the delete holds the endpoint's row until it commits; the fan-out of a capture
//! made meanwhile used to wait for it and then fail the capture's settlement on the
//! deliveries' foreign key.

use std::time::Duration;

use cassa::db::Db;
use cassa_tests::{Backend, both_backends};
use serde_json::json;
use uuid::Uuid;

use super::ENDPOINTS;
use crate::{
    outbound_events::{endpoint, events, of_type},
    payments::shop::{amounts, shop},
    support::send,
};

async fn a_capture_settles_while_its_endpoint_is_being_deleted(backend: Backend) {
    let shop = shop(backend).await;
    let key = shop.store.sandbox_key.clone();
    let id = endpoint(&shop.app, &key, json!({"event_types": ["*"]})).await;
    let (order, intent) = shop.authorized().await;

    let Db::Postgres(pool) = &shop.app.db else {
        // SQLite has one writer: the delete and the capture's settlement cannot overlap, so
        // deleting through the API before the capture is the whole case.
        let path = format!("{ENDPOINTS}/{id}");
        let response = send(&shop.app, reqwest::Method::DELETE, &key, &path, None).await;
        assert!(response.status().is_success(), "{}", response.status());
        amounts(
            shop.op(&order, &intent, "capture", json!({"amount": 1000}))
                .await,
            200,
        )
        .await;
        return;
    };

    // The delete, left open: it holds the endpoint's row.
    let endpoint_id: Uuid = id.parse().unwrap();
    let mut deleting = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint_id)
        .execute(&mut *deleting)
        .await
        .unwrap();

    let capture = {
        let (shop, order, intent) = (&shop, order.clone(), intent.clone());
        async move {
            shop.op(&order, &intent, "capture", json!({"amount": 1000}))
                .await
        }
    };
    let waiting = async {
        // The capture's fan-out reaches the endpoint's row and waits for the delete.
        for _ in 0..200 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND datname = current_database()",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        deleting.commit().await.unwrap();
    };
    let (response, ()) = tokio::join!(capture, waiting);
    let captured = amounts(response, 200).await;
    assert_eq!(captured["captured_amount"], 1000, "{captured}");

    // The capture's event is in the outbox, with no delivery to the deleted endpoint.
    let all = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        of_type(&all, "payment_intent.partially_captured").len(),
        1,
        "{all:?}"
    );
    let deliveries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(deliveries, 0);
}

both_backends!(a_capture_settles_while_its_endpoint_is_being_deleted);
