//! `/v1/labels`: buying, reading, listing, printing, voiding and (for tests) advancing labels.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{
    extract::{Account, IdempotencyKey, JsonBody},
    label_not_found,
};
use crate::{
    db::on_db,
    document::{self, Sheet},
    error::CarrierError,
    idempotency::{Key, Outcome},
    model::{Address, MAX_REFERENCE},
    progress,
    purchase::{self, PurchaseRequest},
    state::CarrierState,
    store::{self, EventRow, LabelRow, label_columns, load_label},
    void,
};

/// Runs guarded work in its own task: like a real carrier, it finishes (and records the answer
/// for the key) even when the caller hangs up.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<Outcome<T>, CarrierError>> + Send + 'static,
) -> Result<Outcome<T>, CarrierError> {
    tokio::spawn(work).await.unwrap_or_else(|err| {
        tracing::error!(error = %err, "sandbox carrier request task failed");
        Err(CarrierError::internal())
    })
}

pub(crate) async fn purchase(
    State(state): State<CarrierState>,
    account: Account,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody<PurchaseRequest>,
) -> Response {
    if body
        .reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REFERENCE)
    {
        let message = format!("reference must be at most {MAX_REFERENCE} characters");
        return CarrierError::unprocessable("invalid_reference", message).into_response();
    }
    let key = Key::new(key, &("purchase", &body));
    let work = {
        let state = state.clone();
        async move { purchase::purchase(&state, account.id(), &key, &body).await }
    };
    match detached(work).await {
        Ok(Outcome::Replayed(replay)) => replay.into_response(),
        Ok(Outcome::Done(answer, slow)) => {
            state.wakeup.notify_one();
            // Test address 99903: the label is bought, but the answer is late (the caller's
            // timeout is what is rehearsed; its retry with the same key finds the label).
            if slow {
                tokio::time::sleep(state.timeout_delay).await;
            }
            answer.into_response()
        }
        Err(err) => err.into_response(),
    }
}

pub(crate) async fn void(
    State(state): State<CarrierState>,
    account: Account,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    // No parameters: an empty body or any JSON object (`{}`) will do.
    if !body.iter().all(u8::is_ascii_whitespace)
        && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_err()
    {
        return CarrierError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be empty or a JSON object",
        )
        .into_response();
    }
    let key = Key::new(key, &("void", &id));
    let work = {
        let state = state.clone();
        async move { void::void(&state, account.id(), &key, &id).await }
    };
    match detached(work).await {
        Ok(Outcome::Replayed(replay)) => replay.into_response(),
        Ok(Outcome::Done(answer, recorded)) => {
            if recorded {
                state.wakeup.notify_one();
            }
            answer.into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// Test helper: records the label's next scheduled event now. A real carrier has no such
/// call; like the PSP's settlement hook, it exists to walk a timeline without waiting days.
pub(crate) async fn advance(
    State(state): State<CarrierState>,
    account: Account,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, CarrierError> {
    let label = progress::advance(&state, account.id(), &id).await?;
    Ok(Json(store::to_value(&label)))
}

pub(crate) async fn get(
    State(state): State<CarrierState>,
    account: Account,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, CarrierError> {
    let label = on_db!(&state.db, pool => {
        async {
            let mut conn = pool.acquire().await?;
            load_label!(conn, account.id(), &id).await
        }
        .await
    })?;
    let label = label.ok_or_else(label_not_found)?;
    Ok(Json(store::to_value(&label)))
}

/// Query of `GET /v1/labels`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    created_from: Option<String>,
    created_to: Option<String>,
    starting_after: Option<String>,
    limit: Option<String>,
}

/// Default page size.
const DEFAULT_LIMIT: i64 = 20;
/// Largest page.
const MAX_LIMIT: i64 = 100;

fn instant(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, CarrierError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    CarrierError::unprocessable(
                        "invalid_query",
                        format!("{name} must be an RFC 3339 time"),
                    )
                })
        })
        .transpose()
}

/// Lists the account's labels by id (ids grow with creation time), `created_from` inclusive,
/// `created_to` exclusive, after `starting_after`.
pub(crate) async fn list(
    State(state): State<CarrierState>,
    account: Account,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, CarrierError> {
    const PAGE: &str = concat!(
        "SELECT ",
        label_columns!(),
        " FROM sandbox_carrier_labels WHERE account = $1 \
         AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) \
         AND ($4 IS NULL OR id > $4) ORDER BY id LIMIT $5"
    );
    // Every event of the labels in the page's id range (a label of the range that the time
    // filter left out contributes events nobody reads).
    const EVENTS: &str = "SELECT e.label_id, e.sequence, e.code, e.description, e.occurred_at, \
        e.location FROM sandbox_carrier_events e JOIN sandbox_carrier_labels l ON l.id = e.label_id \
        WHERE l.account = $1 AND l.id >= $2 AND l.id <= $3 AND e.occurred_at IS NOT NULL \
        ORDER BY e.label_id, e.sequence";
    let Query(query) =
        query.map_err(|err| CarrierError::unprocessable("invalid_query", err.body_text()))?;
    let from = instant("created_from", query.created_from.as_deref())?;
    let to = instant("created_to", query.created_to.as_deref())?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                CarrierError::unprocessable(
                    "invalid_limit",
                    format!("limit must be 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let account = account.id();
    let (mut rows, events) = on_db!(&state.db, pool => {
        async {
            let rows: Vec<LabelRow> = sqlx::query_as(PAGE).bind(account).bind(from).bind(to)
                .bind(&query.starting_after).bind(limit + 1).fetch_all(pool).await?;
            let shown = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(0))];
            let events: Vec<EventRow> = match (shown.first(), shown.last()) {
                (Some(first), Some(last)) => sqlx::query_as(EVENTS).bind(account)
                    .bind(&first.0).bind(&last.0).fetch_all(pool).await?,
                _ => Vec::new(),
            };
            Ok::<_, sqlx::Error>((rows, events))
        }
        .await
    })?;
    let has_more = rows.len() > usize::try_from(limit).unwrap_or(0);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let labels = store::labels(rows, events);
    Ok(Json(json!({ "data": labels, "has_more": has_more })))
}

/// Query of `GET /v1/labels/{id}/document`.
#[derive(Debug, Deserialize)]
pub(crate) struct DocumentQuery {
    format: Option<String>,
}

/// The label to print, `pdf` (the default) or `zpl`.
pub(crate) async fn document(
    State(state): State<CarrierState>,
    account: Account,
    Path(id): Path<String>,
    query: Result<Query<DocumentQuery>, QueryRejection>,
) -> Result<Response, CarrierError> {
    const ADDRESSES: &str =
        "SELECT from_address, to_address FROM sandbox_carrier_rates WHERE id = $1";
    let format = query.ok().and_then(|Query(q)| q.format);
    let pdf = match format.as_deref() {
        None | Some("pdf") => true,
        Some("zpl") => false,
        Some(_) => {
            return Err(CarrierError::unprocessable(
                "invalid_format",
                "format must be pdf or zpl",
            ));
        }
    };
    let (label, addresses) = on_db!(&state.db, pool => {
        async {
            let mut conn = pool.acquire().await?;
            let Some(label) = load_label!(conn, account.id(), &id).await? else {
                return Ok::<_, sqlx::Error>((None, None));
            };
            let addresses: Option<(String, String)> = sqlx::query_as(ADDRESSES)
                .bind(&label.rate_id).fetch_optional(&mut *conn).await?;
            Ok((Some(label), addresses))
        }
        .await
    })?;
    let label = label.ok_or_else(label_not_found)?;
    let parse = |text: &str| serde_json::from_str::<Address>(text);
    let (from, to) = match addresses.as_ref().map(|(f, t)| (parse(f), parse(t))) {
        Some((Ok(from), Ok(to))) => (from, to),
        _ => {
            tracing::error!(label = %label.id, "sandbox carrier label has no usable addresses");
            return Err(CarrierError::internal());
        }
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let sheet = Sheet {
            label: &label,
            from: &from,
            to: &to,
        };
        if pdf {
            document::pdf(&sheet).map(|bytes| ("application/pdf", bytes))
        } else {
            Ok((
                "text/plain; charset=utf-8",
                document::zpl(&sheet).into_bytes(),
            ))
        }
    })
    .await;
    match rendered {
        Ok(Ok((content_type, bytes))) => {
            Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
        }
        Ok(Err(err)) => {
            tracing::error!(error = %err, "sandbox carrier could not render a label");
            Err(CarrierError::internal())
        }
        Err(err) => {
            tracing::error!(error = %err, "sandbox carrier label rendering failed");
            Err(CarrierError::internal())
        }
    }
}
