//! The PSP's outgoing webhooks: each account registers one endpoint and secret; events are
//! signed with Standard Webhooks and delivered with the PSP's own retries on non-2xx.
//!
//! Endpoints are held to the state's [`DeliveryPolicy`](crate::DeliveryPolicy) when registered
//! and again before every delivery. Secrets are stored sealed by the state's
//! [`Sealer`](crate::Sealer) (see [`crate::seal`] for the stored form).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    api::{Account, PspError, PspPayment},
    db::on_db,
    seal::{self, SealError},
    signature,
    state::PspState,
};

/// Delivery attempts per event (the first plus retries after 0.25, 0.5, 1, 2, 4 s).
const DELIVERY_ATTEMPTS: u32 = 6;
/// Time budget of one delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The stored form of `secret` for `account`, sealed with the sealer's current key.
async fn seal_secret(state: &PspState, account: &str, secret: &str) -> Result<String, SealError> {
    let version = state.sealer.current_version().await?;
    seal::seal_with(state.sealer.as_ref(), account, secret, version)
}

/// A key rotation's share: re-seals every endpoint secret not yet on key `target`, so the old
/// version can be retired. A row that cannot be opened is logged and left (retiring its
/// version is then refused, see [`sealed_with`]). Returns how many rows were re-sealed.
pub async fn rewrap(state: &PspState, target: u32) -> Result<u64, Error> {
    const SQL: &str = "SELECT account, secret FROM sandbox_psp_endpoints WHERE secret NOT LIKE $1";
    const UPDATE: &str =
        "UPDATE sandbox_psp_endpoints SET secret = $3 WHERE account = $1 AND secret = $2";
    let rows: Vec<(String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(seal::version_pattern(target)).fetch_all(pool).await
    })?;
    let mut done = 0;
    for (account, stored) in rows {
        let secret = match open_secret(state, &account, &stored).await {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(error = %err, "sandbox PSP webhook secret cannot be re-sealed");
                continue;
            }
        };
        let resealed = seal::seal_with(state.sealer.as_ref(), &account, &secret, target)?;
        // A concurrent registration wins: it sealed its new secret with the current key already.
        done += on_db!(&state.db, pool => {
            sqlx::query(UPDATE).bind(&account).bind(&stored).bind(&resealed)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(done)
}

/// How many stored endpoint secrets are sealed with key `version` (a key still in use must not
/// be retired).
pub async fn sealed_with(state: &PspState, version: u32) -> Result<i64, Error> {
    const SQL: &str = "SELECT COUNT(*) FROM sandbox_psp_endpoints WHERE secret LIKE $1";
    let count: i64 = on_db!(&state.db, pool => {
        sqlx::query_scalar(SQL).bind(seal::version_pattern(version)).fetch_one(pool).await
    })?;
    Ok(count)
}

/// The secret behind a stored value. Rows written before secrets were sealed hold the
/// plaintext: it is sealed in place on first use.
async fn open_secret(state: &PspState, account: &str, stored: &str) -> Result<String, Error> {
    if let Some(opened) = seal::open(state.sealer.as_ref(), account, stored) {
        return Ok(opened?);
    }
    let resealed = seal_secret(state, account, stored).await?;
    const SQL: &str =
        "UPDATE sandbox_psp_endpoints SET secret = $3 WHERE account = $1 AND secret = $2";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account).bind(stored).bind(&resealed)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(stored.to_owned())
}

/// `PUT /v1/webhook_endpoint`.
#[derive(Debug, Deserialize)]
pub(crate) struct Endpoint {
    url: String,
    secret: String,
}

/// Registers (or replaces) the calling account's webhook endpoint.
pub(crate) async fn put_endpoint(
    State(state): State<PspState>,
    account: Account,
    Json(body): Json<Endpoint>,
) -> Result<impl IntoResponse, PspError> {
    // Anyone with an `sbx_` key has an account, so the URL is not theirs to choose freely: only
    // where the delivery policy allows.
    if !state.delivery.allows(&body.url) || !body.secret.starts_with("whsec_") {
        return Err(PspError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "url must be an allowed webhook URL and secret a whsec_ secret",
        ));
    }
    let sealed = seal_secret(&state, account.id(), &body.secret)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "sandbox PSP could not seal a webhook secret");
            PspError::internal()
        })?;
    const SQL: &str = "INSERT INTO sandbox_psp_endpoints (account, url, secret, updated_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET url = $2, secret = $3, updated_at = $4";
    let now = state.now();
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account.id()).bind(&body.url).bind(&sealed).bind(now)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(Json(json!({"url": body.url})))
}

/// Sends `event_type` about `payment` to the account's endpoint, in the background.
/// `reference` is the caller's reference of the operation the event is about.
pub(crate) fn emit(
    state: &PspState,
    account: &str,
    event_type: &'static str,
    payment: &PspPayment,
    reference: Option<String>,
) {
    if state.drop_webhook(account) {
        tracing::info!(
            event_type,
            "sandbox PSP lost a webhook on purpose (test drift)"
        );
        return;
    }
    let state = state.clone();
    let account = account.to_owned();
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let event = json!({
        "id": id,
        "type": event_type,
        "created": state.now().timestamp(),
        "data": {"payment": payment, "reference": reference},
    });
    tokio::spawn(async move {
        if let Err(err) = deliver(&state, &account, &id, &event).await {
            tracing::warn!(error = %err, event_type, "sandbox PSP gave up delivering a webhook");
        }
    });
}

/// Why a webhook was not delivered.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error(transparent)]
    Psp(#[from] Error),
    #[error("the registered endpoint is not an allowed webhook URL")]
    NotAllowed,
    #[error(transparent)]
    Secret(#[from] signature::BadSecret),
    #[error("no 2xx after {DELIVERY_ATTEMPTS} attempts")]
    GaveUp,
}

impl From<sqlx::Error> for DeliveryError {
    fn from(err: sqlx::Error) -> Self {
        DeliveryError::Psp(err.into())
    }
}

async fn deliver(
    state: &PspState,
    account: &str,
    id: &str,
    event: &Value,
) -> Result<(), DeliveryError> {
    const SQL: &str = "SELECT url, secret FROM sandbox_psp_endpoints WHERE account = $1";
    let endpoint: Option<(String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(account).fetch_optional(pool).await
    })?;
    let Some((url, stored)) = endpoint else {
        return Ok(());
    };
    // Rows stored under an older or wider policy are held to the current one.
    if !state.delivery.allows(&url) {
        return Err(DeliveryError::NotAllowed);
    }
    let secret = open_secret(state, account, &stored).await?;
    let body = event.to_string();
    let mut delay = Duration::from_millis(250);
    for attempt in 1..=DELIVERY_ATTEMPTS {
        // Signed per attempt: the timestamp is the sending time.
        let ts = state.now().timestamp();
        let signature = signature::sign_standard(&secret, id, ts, body.as_bytes())?;
        let sent = state
            .http
            .post(&url)
            .timeout(DELIVERY_TIMEOUT)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => tracing::debug!(attempt, status = %r.status(), "webhook delivery refused"),
            Err(e) => tracing::debug!(attempt, error = %e, "webhook delivery failed"),
        }
        if state.shutdown.is_cancelled() || attempt == DELIVERY_ATTEMPTS {
            break;
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        delay *= 2;
    }
    Err(DeliveryError::GaveUp)
}
