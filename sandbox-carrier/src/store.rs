//! Reading labels back: a label row and its recorded events, shaped as a [`Label`].
//!
//! The reads run on a pool connection or inside a write transaction; `load_label!` expands the
//! same statements for either, on either backend.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::model::{Label, TrackingEvent};

/// The columns of a [`LabelRow`], for `SELECT` and `RETURNING`.
macro_rules! label_columns {
    () => {
        "id, rate_id, reference, service, amount, currency, tracking_number, status, packages, \
         created_at, void_deadline"
    };
}
pub(crate) use label_columns;

/// One label, by id and account.
pub(crate) const FIND_LABEL: &str = concat!(
    "SELECT ",
    label_columns!(),
    " FROM sandbox_carrier_labels WHERE id = $1 AND account = $2"
);

/// The recorded events of one label, oldest first.
pub(crate) const LABEL_EVENTS: &str = "SELECT label_id, sequence, code, description, occurred_at, \
    location FROM sandbox_carrier_events WHERE label_id = $1 AND occurred_at IS NOT NULL \
    ORDER BY sequence";

/// A label row.
pub(crate) type LabelRow = (
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// An event row: label, sequence, code, description, occurred, location.
pub(crate) type EventRow = (String, i32, String, String, DateTime<Utc>, Option<String>);

/// Reads a label and its events through `&mut *$conn` (a pool connection or a transaction):
/// `Result<Option<Label>, sqlx::Error>`.
macro_rules! load_label {
    ($conn:ident, $account:expr, $id:expr) => {
        async {
            let row: Option<$crate::store::LabelRow> = sqlx::query_as($crate::store::FIND_LABEL)
                .bind($id)
                .bind($account)
                .fetch_optional(&mut *$conn)
                .await?;
            match row {
                None => Ok::<_, sqlx::Error>(None),
                Some(row) => {
                    let events: Vec<$crate::store::EventRow> =
                        sqlx::query_as($crate::store::LABEL_EVENTS)
                            .bind(&row.0)
                            .fetch_all(&mut *$conn)
                            .await?;
                    Ok(Some($crate::store::label(row, events)))
                }
            }
        }
    };
}
pub(crate) use load_label;

/// A label from its row and its recorded events (in sequence order).
pub(crate) fn label(row: LabelRow, events: Vec<EventRow>) -> Label {
    let events: Vec<TrackingEvent> = events
        .into_iter()
        .map(
            |(_, sequence, code, description, occurred_at, location)| TrackingEvent {
                sequence,
                code,
                description,
                occurred_at,
                location,
            },
        )
        .collect();
    Label {
        id: row.0,
        rate_id: row.1,
        reference: row.2,
        service: row.3,
        amount: row.4,
        currency: row.5,
        tracking_number: row.6,
        status: row.7,
        tracking_status: events
            .last()
            .map(|e| e.code.clone())
            .unwrap_or_else(|| crate::tracking::LABEL_CREATED.to_owned()),
        packages: row.8,
        created_at: row.9,
        void_deadline: row.10,
        events,
    }
}

/// Labels from their rows and the events of (at least) those labels.
pub(crate) fn labels(rows: Vec<LabelRow>, events: Vec<EventRow>) -> Vec<Label> {
    let mut by_label: HashMap<String, Vec<EventRow>> = HashMap::new();
    for event in events {
        by_label.entry(event.0.clone()).or_default().push(event);
    }
    rows.into_iter()
        .map(|row| {
            let mut events = by_label.remove(&row.0).unwrap_or_default();
            events.sort_by_key(|e| e.1);
            label(row, events)
        })
        .collect()
}

/// A label as JSON. Serializing plain strings, integers and times cannot fail; `Null` stands
/// in for the impossible error rather than a panic.
pub(crate) fn to_value(label: &Label) -> serde_json::Value {
    serde_json::to_value(label).unwrap_or(serde_json::Value::Null)
}
