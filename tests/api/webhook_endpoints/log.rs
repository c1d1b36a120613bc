//! The delivery log (newest first, each with its attempts, filters, keyset pages), resending
//! one delivery or a time range, and the test ping.

use cassa::{outbound::EventType, types::Environment};
use cassa_tests::{Backend, both_backends};
use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Caller, ENDPOINTS, call,
    delivery::{Hooks, Now, by_hand},
    member,
    receiver::Reply,
};
use crate::support::{assert_problem, json_of};

impl Hooks {
    async fn log(&self, endpoint: &str, query: &str) -> Value {
        json_of(self.log_response(endpoint, query).await, 200).await
    }

    async fn log_response(&self, endpoint: &str, query: &str) -> reqwest::Response {
        call(
            &self.app,
            &self.key,
            Method::GET,
            &format!("{ENDPOINTS}/{endpoint}/deliveries{query}"),
            None,
        )
        .await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        call(
            &self.app,
            &self.key,
            Method::POST,
            &format!("{ENDPOINTS}/{path}"),
            body,
        )
        .await
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_log_lists_deliveries_newest_first_with_their_attempts(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, _) = h
        .endpoint("erp", &["order.paid", "refund.succeeded"], json!({}))
        .await;
    h.receiver.script("erp", &[Reply::Status(500)]);
    let first = h.emit(EventType::OrderPaid).await;
    h.deliver_all().await;
    let second = h.emit(EventType::RefundSucceeded).await;
    let third = h.emit(EventType::OrderPaid).await;
    h.deliver_all().await;

    let page = h.log(&endpoint, "").await;
    assert_eq!(ids(&page), [&third, &second, &first].map(String::clone));
    assert_eq!(page["has_more"], false);
    let failed = &page["data"][2];
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["event_type"], "order.paid");
    assert_eq!(failed["attempt_count"], 1);
    assert_eq!(failed["last_status_code"], 500);
    assert_eq!(failed["last_error"], "the endpoint answered 500");
    assert!(failed["next_attempt_at"].is_string());
    assert_eq!(failed["delivered_at"], Value::Null);
    let attempts = failed["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["latency_ms"].as_i64().unwrap() >= 0);
    assert!(attempts[0]["response_body"].as_str().unwrap().len() <= 1024);
    let delivered = &page["data"][0];
    assert_eq!(delivered["status"], "succeeded");
    assert!(delivered["delivered_at"].is_string());
    assert_eq!(
        delivered["attempts"][0]["response_body"],
        "erp answered 200"
    );

    // Filters and pages.
    assert_eq!(
        ids(&h.log(&endpoint, "?status=pending").await),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        ids(&h.log(&endpoint, "?status=succeeded").await),
        [&third, &second].map(String::clone)
    );
    assert_eq!(
        ids(&h.log(&endpoint, "?event_type=refund.succeeded").await),
        std::slice::from_ref(&second)
    );
    let top = h.log(&endpoint, "?limit=2").await;
    assert_eq!(top["has_more"], true);
    let last = top["data"][1]["id"].as_str().unwrap();
    let rest = h
        .log(&endpoint, &format!("?limit=2&starting_after={last}"))
        .await;
    assert_eq!(ids(&rest), std::slice::from_ref(&first));
    assert_eq!(rest["has_more"], false);
    for query in [
        "?status=lost",
        "?event_type=order.lost",
        "?limit=0",
        "?limit=101",
    ] {
        let response = h.log_response(&endpoint, query).await;
        assert_problem(response, 422, "validation_failed").await;
    }

    // Another store's or environment's callers see no such endpoint.
    let other = h.app.create_store("Other", "USD").await;
    let owner = h.app.create_owner(&h.store, "owner@shop.test").await;
    let live = h.app.create_live_key(&h.store, &owner).await;
    for key in [other.sandbox_key, live] {
        let response = call(
            &h.app,
            &Caller::key(&key),
            Method::GET,
            &format!("{ENDPOINTS}/{endpoint}/deliveries"),
            None,
        )
        .await;
        assert_problem(response, 404, "not_found").await;
    }
}

async fn a_resent_delivery_sends_the_same_event_again(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, secret) = h.endpoint("erp", &["*"], json!({})).await;
    let (other, _) = h.endpoint("other", &["refund.succeeded"], json!({})).await;
    let event = h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 1);
    let delivery = h.log(&endpoint, "").await["data"][0].clone();
    assert_eq!(delivery["status"], "succeeded");
    let id = delivery["id"].as_str().unwrap();

    let resent = json_of(
        h.post(&format!("{endpoint}/deliveries/{id}/resend"), None)
            .await,
        202,
    )
    .await;
    assert_eq!(resent["status"], "pending");
    assert_eq!(resent["attempt_count"], 0);
    assert_eq!(resent["delivered_at"], Value::Null);
    assert_eq!(
        resent["attempts"].as_array().unwrap().len(),
        1,
        "the log keeps the first"
    );
    assert_eq!(h.deliver_all().await, 1);
    let got = h.receiver.received("erp");
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|r| r.id == event && r.verify(&secret).is_ok())
    );
    assert_eq!(got[0].body, got[1].body);
    let again = h.log(&endpoint, "").await["data"][0].clone();
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["attempts"].as_array().unwrap().len(), 2);

    // Not through another endpoint's path, and not while an attempt is under way.
    let response = h
        .post(&format!("{other}/deliveries/{id}/resend"), None)
        .await;
    assert_problem(response, 404, "not_found").await;
    let delivery_id: uuid::Uuid = id.parse().unwrap();
    let lease = h.app.clock.now_utc() + Duration::minutes(5);
    cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE webhook_deliveries SET status = 'delivering', locked_until = $1 WHERE id = $2")
            .bind(lease).bind(delivery_id).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
    let response = h
        .post(&format!("{endpoint}/deliveries/{id}/resend"), None)
        .await;
    assert_problem(response, 409, "delivery_in_progress").await;
}

async fn a_bulk_resend_queues_a_time_range_and_is_bounded(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, _) = h.endpoint("erp", &["*"], json!({})).await;
    let t0 = h.app.clock.now_utc();
    let early = h
        .emit_in(Environment::Sandbox, &[EventType::OrderPaid; 3])
        .await;
    h.app.clock.advance(Duration::hours(1));
    let late = h
        .emit_in(Environment::Sandbox, &[EventType::OrderPaid; 2])
        .await;
    assert_eq!(h.deliver_all().await, 5);

    // They all arrived: by default nothing is sent again; asked to, those of the range are.
    let range = json!({"from": t0, "to": t0 + Duration::minutes(30)});
    let resent = json_of(
        h.post(&format!("{endpoint}/resend"), Some(range)).await,
        202,
    )
    .await;
    assert_eq!(resent["resent"], 0);
    let range = json!({"from": t0, "to": t0 + Duration::minutes(30), "include_succeeded": true});
    let resent = json_of(
        h.post(&format!("{endpoint}/resend"), Some(range)).await,
        202,
    )
    .await;
    assert_eq!(resent["resent"], 3);
    assert_eq!(h.deliver_all().await, 3);
    let mut again: Vec<String> = h.receiver.received("erp")[5..]
        .iter()
        .map(|r| r.id.clone())
        .collect();
    again.sort();
    let mut expected = early.clone();
    expected.sort();
    assert_eq!(again, expected);
    assert!(late.iter().all(|id| !again.contains(id)));

    let backwards = json!({"from": t0 + Duration::minutes(30), "to": t0});
    let response = h.post(&format!("{endpoint}/resend"), Some(backwards)).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "to");
    let open_ended = json!({"to": t0});
    let response = h
        .post(&format!("{endpoint}/resend"), Some(open_ended))
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "from");

    // More than a thousand in the range is refused; nothing is queued.
    h.emit_in(Environment::Sandbox, &[EventType::OrderPaid; 1000])
        .await;
    let everything = json!({"from": t0, "to": t0 + Duration::days(1), "include_succeeded": true});
    let response = h
        .post(&format!("{endpoint}/resend"), Some(everything))
        .await;
    assert_problem(response, 422, "resend_range_too_large").await;
    let statuses = h.deliveries(&endpoint).await;
    assert_eq!(statuses.len(), 1005);
    assert!(
        statuses[..5]
            .iter()
            .all(|(status, ..)| status == "succeeded"),
        "{:?}",
        &statuses[..5]
    );
}

async fn a_bulk_resend_sends_what_did_not_arrive(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, secret) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let t0 = h.app.clock.now_utc();
    let arrived = h.emit(EventType::OrderPaid).await;
    let given_up = h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 2);
    // The second failed for good (its whole schedule, as the delivery tests show).
    let set_status =
        |event: &str, status: &'static str, lease: Option<chrono::DateTime<chrono::Utc>>| {
            let event: uuid::Uuid = event.trim_start_matches("evt_").parse().unwrap();
            let endpoint: uuid::Uuid = endpoint.parse().unwrap();
            let db = h.app.db.clone();
            async move {
                cassa::on_db!(&db, pool => {
                    sqlx::query("UPDATE webhook_deliveries SET status = $1, locked_until = $2 \
                        WHERE event_id = $3 AND endpoint_id = $4")
                        .bind(status).bind(lease).bind(event).bind(endpoint)
                        .execute(pool).await.map(|r| r.rows_affected())
                })
                .unwrap()
            }
        };
    assert_eq!(set_status(&given_up, "failed", None).await, 1);

    // While it is disabled, events are not queued for it; one of another type never is.
    let path = format!("{ENDPOINTS}/{endpoint}");
    let patch = |enabled: bool| {
        call(
            &h.app,
            &h.key,
            Method::PATCH,
            &path,
            Some(json!({ "enabled": enabled })),
        )
    };
    assert_eq!(patch(false).await.status(), 200);
    let missed = h
        .emit_in(Environment::Sandbox, &[EventType::OrderPaid; 2])
        .await;
    h.emit(EventType::TaxCommitted).await;
    assert_eq!(patch(true).await.status(), 200);
    assert_eq!(h.deliveries(&endpoint).await.len(), 2);

    // The range sends again the one that failed and the two it missed, not the one that
    // arrived nor the other type; created for the missed events, in their order.
    let range = json!({"from": t0, "to": t0 + Duration::minutes(1)});
    let resent = json_of(
        h.post(&format!("{endpoint}/resend"), Some(range.clone()))
            .await,
        202,
    )
    .await;
    assert_eq!(resent["resent"], 3);
    assert_eq!(h.deliver_all().await, 3);
    let got: Vec<String> = h.receiver.received("erp")[2..]
        .iter()
        .map(|r| {
            assert_eq!(r.verify(&secret), Ok(()));
            r.id.clone()
        })
        .collect();
    let mut expected = vec![given_up.clone(), missed[0].clone(), missed[1].clone()];
    let mut sorted = got.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    assert!(!got.contains(&arrived));
    // Nothing is missing any more: the same range sends nothing.
    let resent = json_of(
        h.post(&format!("{endpoint}/resend"), Some(range)).await,
        202,
    )
    .await;
    assert_eq!(resent["resent"], 0);

    // A delivery whose worker died holding it (its lease ran out) may be sent again; one
    // held by a live worker may not.
    let past = h.app.clock.now_utc() - Duration::minutes(1);
    assert_eq!(set_status(&arrived, "delivering", Some(past)).await, 1);
    let log = h.log(&endpoint, "?limit=100").await;
    let id = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_id"] == arrived.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = h
        .post(&format!("{endpoint}/deliveries/{id}/resend"), None)
        .await;
    assert_eq!(response.status(), 202);
}

/// Racing range resends create each missed delivery once (the second waits and finds them
/// made), and events older than the log's retention are never taken as missed.
async fn racing_range_resends_and_retention(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, _) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let t0 = h.app.clock.now_utc();
    let path = format!("{ENDPOINTS}/{endpoint}");
    let patch = |enabled: bool| {
        call(
            &h.app,
            &h.key,
            Method::PATCH,
            &path,
            Some(json!({ "enabled": enabled })),
        )
    };
    assert_eq!(patch(false).await.status(), 200);
    h.emit_in(Environment::Sandbox, &[EventType::OrderPaid; 5])
        .await;
    assert_eq!(patch(true).await.status(), 200);
    let range = json!({"from": t0, "to": t0 + Duration::minutes(1)});
    let answers = futures::future::join_all((0..6).map(|_| {
        let range = range.clone();
        let endpoint = endpoint.clone();
        let h = &h;
        async move {
            json_of(
                h.post(&format!("{endpoint}/resend"), Some(range)).await,
                202,
            )
            .await["resent"]
                .as_i64()
                .unwrap()
        }
    }))
    .await;
    // Each resend also queues again what an earlier one created and nobody sent yet; the
    // first to run created all five.
    assert!(answers.iter().all(|n| *n == 5), "{answers:?}");
    assert_eq!(h.deliveries(&endpoint).await.len(), 5);
    assert_eq!(h.deliver_all().await, 5);

    // Past the retention period (30 days by default) nothing of that time is taken as missed.
    assert_eq!(patch(false).await.status(), 200);
    let t1 = h.app.clock.now_utc();
    h.emit(EventType::OrderPaid).await;
    assert_eq!(patch(true).await.status(), 200);
    h.app.clock.advance(Duration::days(31));
    let old = json!({"from": t1, "to": t1 + Duration::minutes(1)});
    let resent = json_of(h.post(&format!("{endpoint}/resend"), Some(old)).await, 202).await;
    assert_eq!(resent["resent"], 0);
}

async fn a_ping_goes_to_that_endpoint_alone(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, secret) = h.endpoint("erp", &["order.paid"], json!({})).await;
    h.endpoint("other", &["*"], json!({})).await;
    let delivery = json_of(h.post(&format!("{endpoint}/ping"), None).await, 202).await;
    assert_eq!(delivery["event_type"], "test.ping");
    assert_eq!(delivery["status"], "pending");
    assert_eq!(h.deliver_all().await, 1);
    let got = h.receiver.received("erp");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].verify(&secret), Ok(()));
    assert_eq!(got[0].id, delivery["event_id"].as_str().unwrap());
    let event = got[0].json();
    assert_eq!(event["type"], "test.ping");
    assert_eq!(event["environment"], "sandbox");
    assert_eq!(event["store_id"], h.store.id.as_str());
    assert_eq!(event["data"]["object"]["endpoint_id"], endpoint.as_str());
    assert!(h.receiver.received("other").is_empty());

    // A disabled endpoint is not pinged; another store's endpoint does not exist.
    let disabled = call(
        &h.app,
        &h.key,
        Method::PATCH,
        &format!("{ENDPOINTS}/{endpoint}"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    let response = h.post(&format!("{endpoint}/ping"), None).await;
    assert_problem(response, 409, "webhook_endpoint_disabled").await;
    let other = h.app.create_store("Other", "USD").await;
    let response = call(
        &h.app,
        &Caller::key(&other.sandbox_key),
        Method::POST,
        &format!("{ENDPOINTS}/{endpoint}/ping"),
        None,
    )
    .await;
    assert_problem(response, 404, "not_found").await;
}

async fn staff_resend_and_ping_in_sandbox_only(backend: Backend) {
    let h = by_hand(backend).await;
    let owner = h.app.create_owner(&h.store, "owner@shop.test").await;
    let staff = member(&h.app, &h.store, "staff@shop.test", "staff").await;
    let owner_production = Caller::user(&owner, &h.store, "production");
    let staff_production = Caller::user(&staff, &h.store, "production");
    let staff_sandbox = Caller::user(&staff, &h.store, "sandbox");
    let created = super::create(
        &h.app,
        &owner_production,
        json!({"url": "https://hooks.invalid/erp", "event_types": ["*"]}),
    )
    .await;
    let production = created["id"].as_str().unwrap();
    for (method, suffix, body) in [
        (Method::POST, "ping", None),
        (
            Method::POST,
            "resend",
            Some(json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})),
        ),
    ] {
        let path = format!("{ENDPOINTS}/{production}/{suffix}");
        let refused = call(
            &h.app,
            &staff_production,
            method.clone(),
            &path,
            body.clone(),
        )
        .await;
        assert_problem(refused, 403, "forbidden").await;
        let allowed = call(&h.app, &owner_production, method, &path, body).await;
        assert_eq!(allowed.status(), 202);
    }
    let log = call(
        &h.app,
        &staff_production,
        Method::GET,
        &format!("{ENDPOINTS}/{production}/deliveries"),
        None,
    )
    .await;
    assert_eq!(json_of(log, 200).await["data"].as_array().unwrap().len(), 1);
    let (sandbox, _) = h.endpoint("erp", &["*"], json!({})).await;
    let pinged = call(
        &h.app,
        &staff_sandbox,
        Method::POST,
        &format!("{ENDPOINTS}/{sandbox}/ping"),
        None,
    )
    .await;
    assert_eq!(pinged.status(), 202);
}

both_backends!(
    the_log_lists_deliveries_newest_first_with_their_attempts,
    a_resent_delivery_sends_the_same_event_again,
    a_bulk_resend_queues_a_time_range_and_is_bounded,
    a_bulk_resend_sends_what_did_not_arrive,
    racing_range_resends_and_retention,
    a_ping_goes_to_that_endpoint_alone,
    staff_resend_and_ping_in_sandbox_only,
);
