//! Outbound webhooks, the event half: every event of the catalogue emitted by a real flow with
//! its object as the API returns it (`ledger.rs`: payments, orders, tax; `flows.rs`: shipments
//! and reconciliation), written exactly once with its change (`once.rs`: idempotent replays,
//! races, rolled-back transactions), and fanned out to the enabled endpoints of the store and
//! environment subscribed to it; the retention of deliveries and events (`retention.rs`), and
//! two instances on one PostgreSQL database sharing the delivery queue (`two_instances.rs`).

mod flows;
mod ledger;
mod once;
mod retention;
mod two_instances;

use std::collections::BTreeMap;

use cassa_tests::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{json_of, send};

/// The outbox of a store: every event's body as sent, in the order they were emitted.
pub(crate) async fn events(app: &TestApp, store: &str) -> Vec<Value> {
    const SQL: &str = "SELECT payload FROM outbound_events WHERE store_id = $1 ORDER BY id";
    let store: Uuid = store.parse().unwrap();
    let payloads: Vec<String> =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(SQL).bind(store).fetch_all(pool).await)
            .unwrap();
    payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect()
}

/// The types of `events`, in order.
pub(crate) fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The events of one type.
pub(crate) fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == event_type).collect()
}

/// The one event of a type.
pub(crate) fn one<'a>(events: &'a [Value], event_type: &str) -> &'a Value {
    let found = of_type(events, event_type);
    assert_eq!(found.len(), 1, "{event_type}: {:?}", types(events));
    found[0]
}

/// The envelope every event of `store` carries.
pub(crate) fn assert_envelope(event: &Value, store: &str) {
    let id = event["id"].as_str().unwrap();
    assert!(id.starts_with("evt_") && id.len() == 36, "{event}");
    assert_eq!(event["api_version"], cassa::outbound::API_VERSION);
    assert_eq!(event["store_id"], store);
    assert_eq!(event["environment"], "sandbox");
    assert!(event["created"].as_str().is_some(), "{event}");
    assert!(
        event["type"]
            .as_str()
            .is_some_and(|t| t.parse::<cassa::outbound::EventType>().is_ok()),
        "{event}"
    );
    let keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "api_version",
        "created",
        "data",
        "environment",
        "id",
        "store_id",
        "type",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected, "{event}");
    assert!(event["data"]["object"].is_object(), "{event}");
}

/// Creates an endpoint through the API with the store's key (`url`: this server's own address
/// in the sandbox, where nothing listens, unless given).
pub(crate) async fn endpoint(app: &TestApp, key: &str, body: Value) -> String {
    let mut body = body;
    if body.get("url").is_none() {
        body["url"] = json!(app.url("/api/v1/test-hooks/outbound-events-sink"));
    }
    let response = send(
        app,
        reqwest::Method::POST,
        key,
        crate::webhook_endpoints::ENDPOINTS,
        Some(body),
    )
    .await;
    json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Which endpoints each event type of `store` was queued for: type → endpoint ids (sorted,
/// one entry per delivery).
pub(crate) async fn fan_out(app: &TestApp, store: &str) -> BTreeMap<String, Vec<String>> {
    const SQL: &str = "SELECT e.event_type, d.endpoint_id FROM webhook_deliveries d \
        JOIN outbound_events e ON e.id = d.event_id WHERE e.store_id = $1";
    let store: Uuid = store.parse().unwrap();
    let rows: Vec<(String, Uuid)> =
        cassa::on_db!(&app.db, pool => sqlx::query_as(SQL).bind(store).fetch_all(pool).await)
            .unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (event_type, endpoint) in rows {
        out.entry(event_type)
            .or_default()
            .push(endpoint.to_string());
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

/// A store API read that must succeed.
pub(crate) async fn get(app: &TestApp, key: &str, path: &str) -> Value {
    json_of(send(app, reqwest::Method::GET, key, path, None).await, 200).await
}

/// `value` without `keys` (an intent of the order's payments without its transactions).
pub(crate) fn without(value: &Value, keys: &[&str]) -> Value {
    let mut value = value.clone();
    for key in keys {
        value.as_object_mut().unwrap().remove(*key);
    }
    value
}

/// Every event type is in the OpenAPI document: a webhook whose body is the envelope with the
/// type and the schema of its object, each reference resolving.
#[test]
fn the_openapi_document_describes_every_event() {
    let doc: Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let resolve = |reference: &Value| -> Value {
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or_else(|| panic!("not a schema reference: {reference}"));
        assert!(schemas[name].is_object(), "{name} is not in the document");
        schemas[name].clone()
    };
    assert!(schemas["OutboundEvent"]["properties"]["data"].is_object());
    for event_type in cassa::outbound::EventType::ALL {
        let name = event_type.as_str();
        let post = &doc["webhooks"][name]["post"];
        let body = &post["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        let event = resolve(body);
        assert_eq!(
            event["allOf"][0]["$ref"],
            "#/components/schemas/OutboundEvent"
        );
        let specific = &event["allOf"][1]["properties"];
        assert_eq!(specific["type"]["enum"], json!([name]));
        let object = &specific["data"]["properties"]["object"];
        if let Some(reference) = object.get("$ref") {
            resolve(reference);
        } else {
            assert_eq!(object["type"], "object", "{name}");
        }
        assert!(post["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
}
