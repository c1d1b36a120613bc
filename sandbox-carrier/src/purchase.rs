//! Buying a label at a rate: one write transaction claims the idempotency key, takes the rate,
//! inserts the label, its timeline (the first event recorded, the rest scheduled) and the first
//! event's webhook, stores the answer and commits.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    db::on_db,
    error::CarrierError,
    idempotency::{Answer, Key, Outcome, claim, store_answer},
    model::{Address, Label, Package, TrackingEvent, check_deliverable},
    state::CarrierState,
    store::to_value,
    tracking::{self, LABEL_CREATED, Outcome as Ending, POSTAL_SLOW_ANSWER},
    webhooks::{self, About, TRACKER_UPDATED, enqueue},
};

/// How long after its purchase a label can be voided.
pub(crate) const VOID_WINDOW_HOURS: i64 = 24;

/// `POST /v1/labels`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct PurchaseRequest {
    pub(crate) rate_id: String,
    #[serde(default)]
    pub(crate) reference: Option<String>,
}

/// A stored rate: service, amount, currency, days, from, to, packages (JSON), expiry, label.
type RateRow = (
    String,
    i64,
    String,
    i32,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<String>,
);

const RATE: &str = "SELECT service, amount, currency, estimated_days, from_address, to_address, \
    packages, expires_at, label_id FROM sandbox_carrier_rates WHERE id = $1 AND account = $2";
/// Compare-and-set: of two purchases of one rate under different keys, one takes it.
const TAKE_RATE: &str = "UPDATE sandbox_carrier_rates SET label_id = $3 \
    WHERE id = $1 AND account = $2 AND label_id IS NULL";
const INSERT_LABEL: &str = "INSERT INTO sandbox_carrier_labels (id, account, rate_id, reference, \
    service, amount, currency, tracking_number, status, packages, created_at, void_deadline, \
    updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'purchased', $9, $10, $11, $10)";
pub(crate) const INSERT_EVENT: &str = "INSERT INTO sandbox_carrier_events (label_id, sequence, \
    code, description, location, due_at, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

fn already_purchased() -> CarrierError {
    CarrierError::invalid(
        StatusCode::CONFLICT,
        "rate_already_purchased",
        "a label was already bought at this rate",
    )
}

/// A stored JSON column that does not parse: the carrier's own data is broken, a 500.
fn corrupt(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

/// Buys a label for `account` at `request.rate_id` under `key`. Besides the answer, whether
/// it is to be held back (destination postal code `99903`).
pub(crate) async fn purchase(
    state: &CarrierState,
    account: &str,
    key: &Key,
    request: &PurchaseRequest,
) -> Result<Outcome<bool>, CarrierError> {
    let now = state.now();
    let label_id = format!("lbl_{}", uuid::Uuid::now_v7().simple());
    let outcome = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            if let Some(replay) = claim!(tx, account, key, now).await? {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(Outcome::Replayed(replay));
            }
            let rate: Option<RateRow> = sqlx::query_as(RATE).bind(&request.rate_id).bind(account)
                .fetch_optional(&mut *tx).await?;
            let result: Result<(Label, bool), CarrierError> = 'op: {
                let Some((service, amount, currency, days, from, to, packages, expires_at, taken)) = rate else {
                    break 'op Err(CarrierError::not_found("rate_not_found", "no such rate"));
                };
                if taken.is_some() {
                    break 'op Err(already_purchased());
                }
                if expires_at <= now {
                    break 'op Err(CarrierError::unprocessable("rate_expired", "this rate has expired; ask for new rates"));
                }
                let from: Address = serde_json::from_str(&from).map_err(corrupt)?;
                let to: Address = serde_json::from_str(&to).map_err(corrupt)?;
                let packages: Vec<Package> = serde_json::from_str(&packages).map_err(corrupt)?;
                if let Err(err) = check_deliverable(&to) {
                    break 'op Err(err);
                }
                let took = sqlx::query(TAKE_RATE).bind(&request.rate_id).bind(account).bind(&label_id)
                    .execute(&mut *tx).await?.rows_affected();
                if took != 1 {
                    break 'op Err(already_purchased());
                }
                let tracking_number = tracking::new_tracking_number();
                let count = i32::try_from(packages.len()).unwrap_or(i32::MAX);
                let void_deadline = now + Duration::hours(VOID_WINDOW_HOURS);
                sqlx::query(INSERT_LABEL).bind(&label_id).bind(account).bind(&request.rate_id)
                    .bind(&request.reference).bind(&service).bind(amount).bind(&currency)
                    .bind(&tracking_number).bind(count).bind(now).bind(void_deadline)
                    .execute(&mut *tx).await?;
                let ending = Ending::for_postal_code(to.postal_code.as_deref());
                let plan = tracking::schedule(now, days, &from.place(), &to.place(), ending);
                for step in &plan {
                    // The first event happens with the purchase; the rest wait for their time.
                    let occurred_at = (step.code == LABEL_CREATED).then_some(now);
                    sqlx::query(INSERT_EVENT).bind(&label_id).bind(step.sequence).bind(step.code)
                        .bind(step.description).bind(&step.location).bind(step.due_at)
                        .bind(occurred_at).execute(&mut *tx).await?;
                }
                let created = plan.first().map(|step| TrackingEvent {
                    sequence: step.sequence,
                    code: step.code.to_owned(),
                    description: step.description.to_owned(),
                    occurred_at: now,
                    location: step.location.clone(),
                });
                if let Some(event) = &created {
                    let about = About {
                        account,
                        label_id: &label_id,
                        tracking_number: &tracking_number,
                        reference: request.reference.as_deref(),
                    };
                    let notice = webhooks::notice(&about, TRACKER_UPDATED, event, now);
                    enqueue!(tx, &notice, now).await?;
                }
                let label = Label {
                    id: label_id.clone(),
                    rate_id: request.rate_id.clone(),
                    reference: request.reference.clone(),
                    service,
                    amount,
                    currency,
                    tracking_number,
                    status: "purchased".to_owned(),
                    tracking_status: LABEL_CREATED.to_owned(),
                    created_at: now,
                    void_deadline,
                    packages: count,
                    events: created.into_iter().collect(),
                };
                let slow = to.postal_code.as_deref().map(str::trim) == Some(POSTAL_SLOW_ANSWER);
                Ok((label, slow))
            };
            let (answer, slow) = match result {
                Ok((label, slow)) => (Answer::new(StatusCode::CREATED, to_value(&label)), slow),
                Err(err) => (Answer::from(err), false),
            };
            store_answer!(tx, account, key, &answer).await?;
            tx.commit().await?;
            Ok(Outcome::Done(answer, slow))
        }
        .await
    })?;
    Ok(outcome)
}
