//! Timelines: recorded by `run_due` as the carrier's clock reaches them, or one step at a time
//! by the test helper.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::{
    both_backends,
    support::{Carrier, TestDb, carrier, codes},
};

fn time(value: &Value) -> DateTime<Utc> {
    serde_json::from_value(value.clone()).expect("a time")
}

/// `(sequence, code, hours after the purchase)` of each event.
fn timeline(label: &Value) -> Vec<(i64, String, i64)> {
    let created = time(&label["created_at"]);
    label["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["sequence"].as_i64().expect("sequence"),
                e["code"].as_str().expect("code").to_owned(),
                (time(&e["occurred_at"]) - created).num_hours(),
            )
        })
        .collect()
}

async fn run_due(app: &Carrier) -> u64 {
    cassa_sandbox_carrier::run_due(&app.state)
        .await
        .expect("runs")
}

async fn events_are_recorded_when_their_time_comes(db: TestDb) {
    let app = carrier(db, |s| s).await;
    // Ground within the US: 5 days.
    let delivered = app.label("80202").await;
    let exception = app.label("99901").await;
    let returned = app.label("99902").await;
    let id = |label: &Value| label["id"].as_str().expect("id").to_owned();
    assert_eq!(run_due(&app).await, 0, "nothing is due yet");

    app.clock.advance(Duration::hours(2));
    assert_eq!(run_due(&app).await, 3, "three pick-ups");
    assert_eq!(run_due(&app).await, 0, "each once");
    let picked = app.get_label(&id(&delivered)).await;
    assert_eq!(picked["tracking_status"], "PICKED_UP");
    assert_eq!(picked["events"][1]["location"], "Austin, US");

    app.clock.advance(Duration::days(10));
    assert_eq!(run_due(&app).await, 9);
    let done = app.get_label(&id(&delivered)).await;
    let expected = |last: &str| {
        vec![
            (1, "LABEL_CREATED".to_owned(), 0),
            (2, "PICKED_UP".to_owned(), 2),
            (3, "IN_TRANSIT".to_owned(), 12),
            (4, "OUT_FOR_DELIVERY".to_owned(), 5 * 24 - 8),
            (5, last.to_owned(), 5 * 24),
        ]
    };
    assert_eq!(timeline(&done), expected("DELIVERED"));
    assert_eq!(done["tracking_status"], "DELIVERED");
    assert_eq!(done["events"][4]["location"], "Denver, US");
    assert_eq!(done["status"], "purchased");

    let failed = app.get_label(&id(&exception)).await;
    assert_eq!(timeline(&failed), expected("EXCEPTION"));
    assert_eq!(
        failed["events"][4]["description"],
        "Recipient address not accessible"
    );
    let back = app.get_label(&id(&returned)).await;
    assert_eq!(timeline(&back), expected("RETURNED_TO_SENDER"));
    assert_eq!(back["tracking_status"], "RETURNED_TO_SENDER");
    assert_eq!(back["events"][4]["location"], "Austin, US");
}

async fn the_test_helper_records_the_next_event_at_once(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let label = app.label("80202").await;
    let id = label["id"].as_str().expect("id");
    let path = format!("/v1/labels/{id}/advance");
    let mut last = Value::Null;
    for expected in ["PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"] {
        app.clock.advance(Duration::minutes(1));
        let answer = app.call(Method::POST, &path, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
        last = answer.json();
        assert_eq!(last["tracking_status"], expected);
        // Stamped now: its scheduled time is still ahead.
        let events = last["events"].as_array().expect("events");
        assert_eq!(
            time(&events[events.len() - 1]["occurred_at"]),
            app.clock.now()
        );
    }
    assert_eq!(
        codes(&last),
        [
            "LABEL_CREATED",
            "PICKED_UP",
            "IN_TRANSIT",
            "OUT_FOR_DELIVERY",
            "DELIVERED"
        ]
    );
    // Nothing left: the label as it is.
    let answer = app.call(Method::POST, &path, None, None).await;
    assert_eq!((answer.status, answer.json()), (StatusCode::OK, last));
    // The ticker finds nothing more to do for it.
    app.clock.advance(Duration::days(30));
    assert_eq!(run_due(&app).await, 0);
    let other = app
        .call_as(crate::support::OTHER_KEY, Method::POST, &path, None, None)
        .await;
    assert_eq!(
        other.error(),
        (StatusCode::NOT_FOUND, "label_not_found".to_owned())
    );
}

both_backends!(
    events_are_recorded_when_their_time_comes,
    the_test_helper_records_the_next_event_at_once,
);
