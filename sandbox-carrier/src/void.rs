//! Voiding a label: allowed until its void deadline and only while nothing has happened to the
//! parcel yet (no event past `LABEL_CREATED`, recorded or due). A void records `VOIDED`, drops
//! the rest of the schedule and queues a `label.voided` webhook, in one write transaction with
//! the idempotency key.

use axum::http::StatusCode;

use crate::{
    api::label_not_found,
    db::on_db,
    error::CarrierError,
    idempotency::{Answer, Key, Outcome, claim, store_answer},
    model::TrackingEvent,
    purchase::INSERT_EVENT,
    state::CarrierState,
    store::{load_label, to_value},
    tracking::VOIDED,
    webhooks::{self, About, LABEL_VOIDED, enqueue},
};

/// Events past the first that happened or are due: a parcel the carrier has (or should have)
/// picked up cannot be voided any more.
const PAST_CREATED: &str = "SELECT COUNT(*) FROM sandbox_carrier_events WHERE label_id = $1 \
    AND sequence > 1 AND (occurred_at IS NOT NULL OR due_at <= $2)";
const MARK_VOIDED: &str = "UPDATE sandbox_carrier_labels SET status = 'voided', updated_at = $2 \
    WHERE id = $1 AND status = 'purchased'";
const DROP_SCHEDULE: &str =
    "DELETE FROM sandbox_carrier_events WHERE label_id = $1 AND occurred_at IS NULL";

fn window_closed(why: &str) -> CarrierError {
    CarrierError::unprocessable(
        "void_window_closed",
        format!("the label can no longer be voided: {why}"),
    )
}

/// Voids `account`'s label `id` under `key`. Besides the answer, whether an event was recorded.
pub(crate) async fn void(
    state: &CarrierState,
    account: &str,
    key: &Key,
    id: &str,
) -> Result<Outcome<bool>, CarrierError> {
    let now = state.now();
    let outcome = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            if let Some(replay) = claim!(tx, account, key, now).await? {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(Outcome::Replayed(replay));
            }
            let result: Result<(serde_json::Value, bool), CarrierError> = 'op: {
                let Some(label) = load_label!(tx, account, id).await? else {
                    break 'op Err(label_not_found());
                };
                if label.status == "voided" {
                    break 'op Ok((to_value(&label), false));
                }
                if now > label.void_deadline {
                    break 'op Err(window_closed("its void deadline has passed"));
                }
                let past: i64 = sqlx::query_scalar(PAST_CREATED).bind(id).bind(now)
                    .fetch_one(&mut *tx).await?;
                if past > 0 {
                    break 'op Err(window_closed("the parcel is already with the carrier"));
                }
                sqlx::query(MARK_VOIDED).bind(id).bind(now).execute(&mut *tx).await?;
                sqlx::query(DROP_SCHEDULE).bind(id).execute(&mut *tx).await?;
                let event = TrackingEvent {
                    sequence: label.events.iter().map(|e| e.sequence).max().unwrap_or(0) + 1,
                    code: VOIDED.to_owned(),
                    description: "Label voided".to_owned(),
                    occurred_at: now,
                    location: None,
                };
                sqlx::query(INSERT_EVENT).bind(id).bind(event.sequence).bind(&event.code)
                    .bind(&event.description).bind(&event.location).bind(now).bind(now)
                    .execute(&mut *tx).await?;
                let about = About {
                    account,
                    label_id: id,
                    tracking_number: &label.tracking_number,
                    reference: label.reference.as_deref(),
                };
                let notice = webhooks::notice(&about, LABEL_VOIDED, &event, now);
                enqueue!(tx, &notice, now).await?;
                match load_label!(tx, account, id).await? {
                    Some(voided) => Ok((to_value(&voided), true)),
                    None => Err(label_not_found()),
                }
            };
            let (answer, recorded) = match result {
                Ok((body, recorded)) => (Answer::new(StatusCode::OK, body), recorded),
                Err(err) => (Answer::from(err), false),
            };
            store_answer!(tx, account, key, &answer).await?;
            tx.commit().await?;
            Ok(Outcome::Done(answer, recorded))
        }
        .await
    })?;
    Ok(outcome)
}
