use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::{
    config::DatabaseConfig,
    db::{Db, Tx},
    on_db, on_tx,
};

#[test]
fn every_type_parses_back_and_serializes_as_its_name() {
    for t in EventType::ALL {
        assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        assert_eq!(EventType::from_text(t.as_text()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        assert_eq!(
            serde_json::from_value::<EventType>(json!(t.as_str())).unwrap(),
            t
        );
        assert!(!t.description().is_empty());
        assert!(t.as_str().len() <= 64, "the column holds 64 characters");
    }
    let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EventType::ALL.len(), "names are unique");
}

#[test]
fn unknown_names_are_refused() {
    for name in [
        "",
        "*",
        "payment_intent",
        "payment_intent.Captured",
        "order.paid ",
    ] {
        assert_eq!(
            name.parse::<EventType>(),
            Err(UnknownEventType(name.to_owned()))
        );
    }
    assert!(serde_json::from_value::<EventType>(json!("order.shipped")).is_err());
}

#[test]
fn the_catalogue_names_its_objects() {
    assert_eq!(
        EventType::PaymentIntentPartiallyCaptured.object(),
        ObjectKind::PaymentIntent
    );
    assert_eq!(EventType::RefundFailed.object(), ObjectKind::Refund);
    assert_eq!(EventType::OrderPaid.object(), ObjectKind::Order);
    assert_eq!(EventType::ShipmentException.object(), ObjectKind::Shipment);
    assert_eq!(EventType::TaxReversed.object(), ObjectKind::TaxTransaction);
    assert_eq!(
        EventType::ReconciliationExceptionOpened.object(),
        ObjectKind::ReconciliationItem
    );
}

#[test]
fn public_ids_round_trip() {
    let id = OutboundEventId::new();
    let public = id.public();
    assert!(public.starts_with("evt_") && public.len() == 36, "{public}");
    assert_eq!(OutboundEventId::from_public(&public), Some(id));
    for bad in [
        id.0.to_string(),
        format!("evt_{}", id.0),
        format!("evt_{}", &public[4..35]),
        "evt_".to_owned(),
        format!("cus_{}", &public[4..]),
    ] {
        assert_eq!(OutboundEventId::from_public(&bad), None, "{bad}");
    }
}

struct Fixture {
    db: Db,
    dir: std::path::PathBuf,
    store: StoreId,
    other_store: StoreId,
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("cassa-outbound-{}", Uuid::now_v7()));
    let url = format!("sqlite://{}", dir.join("cassa.db").display());
    let db = Db::connect(&DatabaseConfig::from_url(url).unwrap())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let (store, other_store) = (StoreId::new(), StoreId::new());
    for id in [store, other_store] {
        on_db!(&db, pool => sqlx::query(
            "INSERT INTO stores (id, name, currency, created_at) VALUES ($1, 'Shop', 'USD', $2)")
            .bind(id).bind(at()).execute(pool).await.map(|_| ()))
        .unwrap();
    }
    Fixture {
        db,
        dir,
        store,
        other_store,
    }
}

fn at() -> DateTime<Utc> {
    "2026-01-15T12:00:00Z".parse().unwrap()
}

async fn endpoint(
    db: &Db,
    store: StoreId,
    env: Environment,
    types: &str,
    enabled: bool,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    on_db!(db, pool => sqlx::query(
        "INSERT INTO webhook_endpoints (id, store_id, environment, url, event_types, enabled, \
         version, created_at, updated_at) VALUES ($1, $2, $3, 'https://example.com/hook', $4, $5, \
         1, $6, $6)")
        .bind(id).bind(store).bind(env).bind(types).bind(enabled).bind(at())
        .execute(pool).await.map(|_| ()))?;
    Ok(id)
}

fn event(store: StoreId, env: Environment, event_type: EventType) -> NewEvent {
    NewEvent::of(
        store,
        env,
        event_type,
        &json!({"id": "pi_1", "amount": 6018}),
        at(),
    )
    .unwrap()
}

async fn deliveries(tx: &mut Tx, event: OutboundEventId) -> Vec<(Uuid, Uuid, String, i32)> {
    on_tx!(tx, conn => sqlx::query_as(
        "SELECT id, endpoint_id, status, attempt_count FROM webhook_deliveries \
         WHERE event_id = $1 ORDER BY endpoint_id")
        .bind(event).fetch_all(&mut *conn).await)
    .unwrap()
}

#[tokio::test]
async fn an_event_fans_out_to_the_enabled_endpoints_subscribed_to_it() {
    let f = fixture().await;
    let sandbox = Environment::Sandbox;
    let all = endpoint(&f.db, f.store, sandbox, r#"["*"]"#, true)
        .await
        .unwrap();
    let captures = endpoint(
        &f.db,
        f.store,
        sandbox,
        r#"["refund.succeeded", "payment_intent.captured"]"#,
        true,
    )
    .await
    .unwrap();
    // Not subscribed, disabled, another environment, another store: none of them.
    endpoint(
        &f.db,
        f.store,
        sandbox,
        r#"["payment_intent.partially_captured"]"#,
        true,
    )
    .await
    .unwrap();
    let disabled = endpoint(&f.db, f.store, sandbox, r#"["*"]"#, false)
        .await
        .unwrap();
    endpoint(&f.db, f.store, Environment::Production, r#"["*"]"#, true)
        .await
        .unwrap();
    let elsewhere = endpoint(&f.db, f.other_store, sandbox, r#"["*"]"#, true)
        .await
        .unwrap();

    let mut tx = f.db.begin_write().await.unwrap();
    let id = emit(
        &mut tx,
        event(f.store, sandbox, EventType::PaymentIntentCaptured),
    )
    .await
    .unwrap();
    let found = deliveries(&mut tx, id).await;
    let mut expected = vec![all, captures];
    expected.sort();
    assert_eq!(
        found.iter().map(|d| d.1).collect::<Vec<_>>(),
        expected,
        "{found:?}"
    );
    for (delivery, _, status, attempts) in &found {
        assert_eq!((status.as_str(), *attempts), ("pending", 0));
        assert_eq!(delivery.get_version_num(), 7, "{delivery}");
        assert_eq!(
            delivery.as_bytes()[..6],
            id.0.as_bytes()[..6],
            "the event's millisecond"
        );
    }
    let due: Vec<DateTime<Utc>> = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "SELECT next_attempt_at FROM webhook_deliveries WHERE event_id = $1")
        .bind(id).fetch_all(&mut *conn).await)
    .unwrap();
    assert!(due.iter().all(|d| *d == at()));

    // The body as sent.
    let (payload, kind, version): (String, String, String) = on_tx!(&mut tx, conn =>
        sqlx::query_as("SELECT payload, event_type, api_version FROM outbound_events WHERE id = $1")
        .bind(id).fetch_one(&mut *conn).await)
    .unwrap();
    assert_eq!(
        (kind.as_str(), version.as_str()),
        ("payment_intent.captured", API_VERSION)
    );
    let body: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        body,
        json!({
            "id": id.public(),
            "type": "payment_intent.captured",
            "created": "2026-01-15T12:00:00Z",
            "api_version": API_VERSION,
            "store_id": f.store.to_string(),
            "environment": "sandbox",
            "data": {"object": {"id": "pi_1", "amount": 6018}},
        })
    );
    assert!(
        payload.starts_with(&format!("{{\"id\":\"{}\",\"type\":", id.public())),
        "fields in the envelope's order: {payload}"
    );

    // Several at once; one nobody hears of is still written.
    let ids = emit_all(
        &mut tx,
        vec![
            event(f.store, sandbox, EventType::RefundSucceeded),
            event(f.store, sandbox, EventType::TaxCommitted),
            event(f.other_store, Environment::Production, EventType::OrderPaid),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(deliveries(&mut tx, ids[0]).await.len(), 2);
    assert_eq!(
        deliveries(&mut tx, ids[1])
            .await
            .iter()
            .map(|d| d.1)
            .collect::<Vec<_>>(),
        vec![all]
    );
    assert!(deliveries(&mut tx, ids[2]).await.is_empty());
    let events: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbound_events").fetch_one(&mut *conn).await)
    .unwrap();
    assert_eq!(events, 4);

    // A ping goes to the one endpoint asked for, enabled or not, and only within its store.
    let ping = emit_to(
        &mut tx,
        event(f.store, sandbox, EventType::TestPing),
        disabled,
    )
    .await
    .unwrap();
    assert_eq!(
        deliveries(&mut tx, ping)
            .await
            .iter()
            .map(|d| d.1)
            .collect::<Vec<_>>(),
        vec![disabled]
    );
    let ping = emit_to(
        &mut tx,
        event(f.store, sandbox, EventType::TestPing),
        elsewhere,
    )
    .await
    .unwrap();
    assert!(deliveries(&mut tx, ping).await.is_empty());

    // Rolled back with the change: nothing stays.
    tx.rollback().await.unwrap();
    let left: i64 = on_db!(&f.db, pool => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM outbound_events) + (SELECT COUNT(*) FROM webhook_deliveries)")
        .fetch_one(pool).await)
    .unwrap();
    assert_eq!(left, 0);
    f.db.close().await;
    std::fs::remove_dir_all(f.dir).unwrap();
}

#[tokio::test]
async fn subscriptions_that_are_not_a_json_array_cannot_be_stored() {
    let f = fixture().await;
    for bad in [
        "payment_intent.captured",
        r#"{"a": 1}"#,
        r#""*""#,
        "[",
        "  ",
    ] {
        assert!(
            endpoint(&f.db, f.store, Environment::Sandbox, bad, true)
                .await
                .is_err(),
            "{bad}"
        );
    }
    let id = endpoint(&f.db, f.store, Environment::Sandbox, "[]", true)
        .await
        .unwrap();
    let update = on_db!(&f.db, pool => sqlx::query(
        "UPDATE webhook_endpoints SET event_types = 'all' WHERE id = $1")
        .bind(id).execute(pool).await.map(|_| ()));
    assert!(update.is_err());
    f.db.close().await;
    std::fs::remove_dir_all(f.dir).unwrap();
}
