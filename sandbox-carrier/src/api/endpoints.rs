//! `/v1/webhook_endpoints`: one endpoint per account; a new registration replaces the old one.
//! The secret is shown once (and to a replay of the registration with the same key, while that
//! endpoint is still the account's); it is stored sealed, never in plaintext.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{Account, IdempotencyKey, JsonBody};
use crate::{
    db::on_db,
    error::CarrierError,
    idempotency::{Answer, Key, Outcome, Replay, claim, store_answer},
    seal,
    state::CarrierState,
    webhooks,
};

/// `POST /v1/webhook_endpoints`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct Register {
    url: String,
    /// The caller's own signing secret (`whsec_` + base64 of 24–64 bytes), for a caller that
    /// keeps its secrets itself; a fresh one when absent.
    #[serde(default)]
    secret: Option<String>,
}

/// Whether a caller-chosen secret is one the carrier can sign with.
fn usable_secret(secret: &str) -> bool {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .is_some_and(|bytes| (24..=64).contains(&bytes.len()))
}

fn endpoint_not_found() -> CarrierError {
    CarrierError::not_found("webhook_endpoint_not_found", "no such webhook endpoint")
}

/// A fresh signing secret: `whsec_` and the base64 of 32 random bytes.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

pub(crate) async fn register(
    State(state): State<CarrierState>,
    account: Account,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody<Register>,
) -> Response {
    match registered(&state, account.id(), key, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn registered(
    state: &CarrierState,
    account: &str,
    key: String,
    body: Register,
) -> Result<Response, CarrierError> {
    // Anyone with an `scr_` key has an account, so the URL is not theirs to choose freely: only
    // where the delivery policy allows.
    if !state.delivery.allows(&body.url) {
        return Err(CarrierError::unprocessable(
            "url_not_allowed",
            "url is not an allowed webhook URL",
        ));
    }
    if body.secret.as_deref().is_some_and(|s| !usable_secret(s)) {
        return Err(CarrierError::unprocessable(
            "invalid_secret",
            "secret must be whsec_ and the base64 of 24 to 64 bytes",
        ));
    }
    let key = Key::new(key, &("register", &body));
    let id = format!("we_{}", uuid::Uuid::now_v7().simple());
    let secret = body.secret.clone().unwrap_or_else(new_secret);
    let sealed = webhooks::seal_secret(state, account, &id, &secret)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "sandbox carrier could not seal a webhook secret");
            CarrierError::internal()
        })?;
    const REPLACE: &str = "DELETE FROM sandbox_carrier_endpoints WHERE account = $1";
    const INSERT: &str = "INSERT INTO sandbox_carrier_endpoints (id, account, url, secret, \
        created_at) VALUES ($1, $2, $3, $4, $5)";
    let now = state.now();
    let outcome = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            if let Some(replay) = claim!(tx, account, &key, now).await? {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(Outcome::Replayed(replay));
            }
            sqlx::query(REPLACE).bind(account).execute(&mut *tx).await?;
            sqlx::query(INSERT).bind(&id).bind(account).bind(&body.url).bind(&sealed).bind(now)
                .execute(&mut *tx).await?;
            let mut answer = Answer::new(
                StatusCode::CREATED,
                json!({"id": id, "url": body.url, "secret": secret}),
            );
            // The key's record must not hold the secret: a replay reads it from the endpoint.
            answer.stored = json!({"id": id, "url": body.url});
            store_answer!(tx, account, &key, &answer).await?;
            tx.commit().await?;
            Ok(Outcome::Done(answer, ()))
        }
        .await
    })?;
    match outcome {
        Outcome::Done(answer, ()) => Ok(answer.into_response()),
        Outcome::Replayed(Replay::Stored { status, body }) if status == StatusCode::CREATED => {
            replay_with_secret(state, account, status, body).await
        }
        Outcome::Replayed(replay) => Ok(replay.into_response()),
    }
}

/// A replayed registration: the stored answer with the endpoint's secret, if that endpoint is
/// still the account's (a replaced or deleted one is gone, and so is its secret).
async fn replay_with_secret(
    state: &CarrierState,
    account: &str,
    status: StatusCode,
    mut body: Value,
) -> Result<Response, CarrierError> {
    const SECRET: &str =
        "SELECT secret FROM sandbox_carrier_endpoints WHERE id = $1 AND account = $2";
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let stored: Option<String> = on_db!(&state.db, pool => {
        sqlx::query_scalar(SECRET).bind(&id).bind(account).fetch_optional(pool).await
    })?;
    let stored = stored.ok_or_else(endpoint_not_found)?;
    let secret = seal::open(state.sealer.as_ref(), account, &id, &stored).map_err(|err| {
        tracing::error!(error = %err, "sandbox carrier could not open a webhook secret");
        CarrierError::internal()
    })?;
    body["secret"] = Value::String(secret);
    Ok(Replay::Stored { status, body }.into_response())
}

pub(crate) async fn remove(
    State(state): State<CarrierState>,
    account: Account,
    Path(id): Path<String>,
) -> Result<StatusCode, CarrierError> {
    const DELETE: &str = "DELETE FROM sandbox_carrier_endpoints WHERE id = $1 AND account = $2";
    let deleted = on_db!(&state.db, pool => {
        sqlx::query(DELETE).bind(&id).bind(account.id()).execute(pool).await
            .map(|r| r.rows_affected())
    })?;
    if deleted == 0 {
        return Err(endpoint_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}
