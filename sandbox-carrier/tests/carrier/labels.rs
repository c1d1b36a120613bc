//! Buying, reading, listing and voiding labels; idempotency; the late answer of `99903`.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    both_backends,
    support::{KEY, OTHER_KEY, TestDb, carrier, codes, request, send},
};

fn time(value: &Value) -> DateTime<Utc> {
    serde_json::from_value(value.clone()).expect("a time")
}

async fn a_purchase_is_idempotent_and_a_rate_is_bought_once(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let rate = app.rate_id("80202").await;
    let first = app.buy(&rate, "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json());
    assert!(first.headers.get("idempotent-replayed").is_none());
    let label = first.json();
    let id = label["id"].as_str().expect("id");
    assert!(id.starts_with("lbl_") && id.len() == 4 + 32, "{id}");
    let tracking = label["tracking_number"].as_str().expect("tracking number");
    assert!(
        cassa_sandbox_carrier::is_tracking_number(tracking),
        "{tracking}"
    );
    assert_eq!(label["rate_id"], rate.as_str());
    assert_eq!(label["reference"], "order-k-1");
    assert_eq!(label["service"], "ground");
    assert_eq!(label["amount"], 500 + 150 * 2);
    assert_eq!(label["currency"], "USD");
    assert_eq!(label["status"], "purchased");
    assert_eq!(label["tracking_status"], "LABEL_CREATED");
    assert_eq!(label["packages"], 1);
    assert_eq!(
        time(&label["void_deadline"]) - time(&label["created_at"]),
        chrono::Duration::hours(24)
    );
    assert_eq!(
        label["events"],
        json!([{
            "sequence": 1,
            "code": "LABEL_CREATED",
            "description": "Label created",
            "occurred_at": label["created_at"],
            "location": null,
        }])
    );
    assert_eq!(app.get_label(id).await, label);

    let again = app.buy(&rate, "k-1").await;
    assert_eq!(
        (again.status, again.json()),
        (StatusCode::CREATED, label.clone())
    );
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other_body = json!({"rate_id": rate, "reference": "something else"});
    let reused = app
        .call(Method::POST, "/v1/labels", Some("k-1"), Some(other_body))
        .await;
    assert_eq!(
        reused.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused".to_owned()
        )
    );
    let twice = app.buy(&rate, "k-2").await;
    assert_eq!(
        twice.error(),
        (StatusCode::CONFLICT, "rate_already_purchased".to_owned())
    );
    // A refusal is remembered under its key too.
    let twice_again = app.buy(&rate, "k-2").await;
    assert_eq!(twice_again.headers["idempotent-replayed"], "true");
    assert_eq!(twice_again.status, StatusCode::CONFLICT);

    let unknown = app.buy("rate_nope", "k-3").await;
    assert_eq!(
        unknown.error(),
        (StatusCode::NOT_FOUND, "rate_not_found".to_owned())
    );
    // Another account sees neither the rate nor the label.
    let other_rate = app
        .call_as(
            OTHER_KEY,
            Method::POST,
            "/v1/labels",
            Some("k-1"),
            Some(json!({"rate_id": app.rate_id("80202").await})),
        )
        .await;
    assert_eq!(
        other_rate.error(),
        (StatusCode::NOT_FOUND, "rate_not_found".to_owned())
    );
    let other_label = app
        .call_as(
            OTHER_KEY,
            Method::GET,
            &format!("/v1/labels/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        other_label.error(),
        (StatusCode::NOT_FOUND, "label_not_found".to_owned())
    );
    let long = json!({"rate_id": rate, "reference": "r".repeat(101)});
    let too_long = app
        .call(Method::POST, "/v1/labels", Some("k-4"), Some(long))
        .await;
    assert_eq!(
        too_long.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reference".to_owned()
        )
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sandbox_carrier_labels")
            .await,
        1
    );
}

async fn a_rate_expires_after_a_day(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let fresh = app.rate_id("80202").await;
    let stale = app.rate_id("80202").await;
    app.clock
        .advance(chrono::Duration::hours(24) - chrono::Duration::seconds(1));
    assert_eq!(app.buy(&fresh, "in-time").await.status, StatusCode::CREATED);
    app.clock.advance(chrono::Duration::seconds(1));
    let late = app.buy(&stale, "too-late").await;
    assert_eq!(
        late.error(),
        (StatusCode::UNPROCESSABLE_ENTITY, "rate_expired".to_owned())
    );
}

async fn void(app: &crate::support::Carrier, id: &str, key: &str) -> crate::support::Answer {
    app.call(
        Method::POST,
        &format!("/v1/labels/{id}/void"),
        Some(key),
        Some(json!({})),
    )
    .await
}

async fn a_label_is_voided_only_before_anything_happens(db: TestDb) {
    let app = carrier(db, |s| s).await;

    let label = app.label("80202").await;
    let id = label["id"].as_str().expect("id");
    app.clock.advance(chrono::Duration::minutes(90));
    let voided = void(&app, id, "void-1").await;
    assert_eq!(voided.status, StatusCode::OK, "{:?}", voided.json());
    let body = voided.json();
    assert_eq!(body["status"], "voided");
    assert_eq!(body["tracking_status"], "VOIDED");
    assert_eq!(codes(&body), ["LABEL_CREATED", "VOIDED"]);
    assert_eq!(body["events"][1]["sequence"], 2);
    // Voided twice (another key, no body at all): the same label, nothing new.
    let again = app
        .call(
            Method::POST,
            &format!("/v1/labels/{id}/void"),
            Some("void-2"),
            None,
        )
        .await;
    assert_eq!((again.status, again.json()), (StatusCode::OK, body.clone()));
    // Nothing else happens to it.
    app.clock.advance(chrono::Duration::days(30));
    cassa_sandbox_carrier::run_due(&app.state)
        .await
        .expect("runs");
    assert_eq!(app.codes(id).await, ["LABEL_CREATED", "VOIDED"]);

    // Picked up (the event is due even before the ticker records it): too late.
    let label = app.label("80202").await;
    let id = label["id"].as_str().expect("id");
    app.clock.advance(chrono::Duration::hours(2));
    let refused = void(&app, id, "void-3").await;
    assert_eq!(
        refused.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "void_window_closed".to_owned()
        )
    );

    // Picked up early through the test helper: too late as well.
    let label = app.label("80202").await;
    let id = label["id"].as_str().expect("id");
    app.call(
        Method::POST,
        &format!("/v1/labels/{id}/advance"),
        None,
        None,
    )
    .await;
    let refused = void(&app, id, "void-4").await;
    assert_eq!(
        refused.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "void_window_closed".to_owned()
        )
    );

    // Past the deadline.
    let label = app.label("80202").await;
    let id = label["id"].as_str().expect("id");
    app.clock.advance(chrono::Duration::hours(25));
    let refused = void(&app, id, "void-5").await;
    assert_eq!(
        refused.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "void_window_closed".to_owned()
        )
    );
    assert_eq!(app.get_label(id).await["status"], "purchased");

    let unknown = void(&app, "lbl_nope", "void-6").await;
    assert_eq!(
        unknown.error(),
        (StatusCode::NOT_FOUND, "label_not_found".to_owned())
    );
    let not_json = app
        .call(
            Method::POST,
            &format!("/v1/labels/{id}/void"),
            Some("void-7"),
            Some(json!([1])),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
}

async fn labels_are_listed_by_id_a_page_at_a_time(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let mut ids = Vec::new();
    let mut times = Vec::new();
    for _ in 0..5 {
        let label = app.label("80202").await;
        ids.push(label["id"].as_str().expect("id").to_owned());
        times.push(time(&label["created_at"]));
        app.clock.advance(chrono::Duration::minutes(10));
    }
    // Another account's label is never listed.
    let rate = app
        .call_as(
            OTHER_KEY,
            Method::POST,
            "/v1/rates",
            None,
            Some(json!({
                "from": crate::support::address("Austin", "78701", "US"),
                "to": crate::support::address("Denver", "80202", "US"),
                "packages": [crate::support::parcel(100, 10, 10, 10)],
                "currency": "USD",
            })),
        )
        .await
        .json()["rates"][0]["id"]
        .clone();
    let other = app
        .call_as(
            OTHER_KEY,
            Method::POST,
            "/v1/labels",
            Some("other"),
            Some(json!({"rate_id": rate})),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);

    let page = |query: String| {
        let app = &app;
        async move {
            let answer = app
                .call(Method::GET, &format!("/v1/labels{query}"), None, None)
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
            let body = answer.json();
            let ids: Vec<String> = body["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|l| l["id"].as_str().expect("id").to_owned())
                .collect();
            (ids, body["has_more"].as_bool().expect("has_more"), body)
        }
    };
    let (all, more, body) = page(String::new()).await;
    assert_eq!((all, more), (ids.clone(), false));
    assert_eq!(codes(&body["data"][0]), ["LABEL_CREATED"]);
    let (first, more, _) = page("?limit=2".to_owned()).await;
    assert_eq!((first.as_slice(), more), (&ids[..2], true));
    let (second, more, _) = page(format!("?limit=2&starting_after={}", ids[1])).await;
    assert_eq!((second.as_slice(), more), (&ids[2..4], true));
    let (last, more, _) = page(format!("?limit=2&starting_after={}", ids[3])).await;
    assert_eq!((last.as_slice(), more), (&ids[4..], false));
    // created_from inclusive, created_to exclusive.
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (window, more, _) = page(format!(
        "?created_from={}&created_to={}",
        stamp(times[1]),
        stamp(times[3])
    ))
    .await;
    assert_eq!((window.as_slice(), more), (&ids[1..3], false));

    for (query, code) in [
        ("?limit=0", "invalid_limit"),
        ("?limit=101", "invalid_limit"),
        ("?limit=x", "invalid_limit"),
        ("?created_from=yesterday", "invalid_query"),
    ] {
        let answer = app
            .call(Method::GET, &format!("/v1/labels{query}"), None, None)
            .await;
        assert_eq!(
            answer.error(),
            (StatusCode::UNPROCESSABLE_ENTITY, code.to_owned()),
            "{query}"
        );
    }
}

async fn a_late_answer_is_committed_first_and_a_retry_gets_the_same_label(db: TestDb) {
    let app = carrier(db, |s| s.with_timeout_delay(Duration::from_millis(1500))).await;
    let rate = app.rate_id("99903").await;
    let body = json!({"rate_id": rate, "reference": "slow"});
    let started = Instant::now();
    let slow = {
        let router = app.router.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let answer = send(
                &router,
                request(KEY, Method::POST, "/v1/labels", Some("slow"), Some(body)),
            )
            .await;
            (answer.status, answer.json(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The caller gave up and retries with the same key: the label is there already.
    let retry = app
        .call(Method::POST, "/v1/labels", Some("slow"), Some(body))
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.json());
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "answered at once"
    );
    let (status, first, took) = slow.await.expect("joins");
    assert_eq!(status, StatusCode::CREATED);
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert_eq!(first, retry.json());
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sandbox_carrier_labels")
            .await,
        1
    );
}

both_backends!(
    a_purchase_is_idempotent_and_a_rate_is_bought_once,
    a_rate_expires_after_a_day,
    a_label_is_voided_only_before_anything_happens,
    labels_are_listed_by_id_a_page_at_a_time,
    a_late_answer_is_committed_first_and_a_retry_gets_the_same_label,
);
