//! The sandbox PSP's outgoing webhooks: each account registers one endpoint and secret; events
//! are signed with Standard Webhooks and delivered with the PSP's own retries on non-2xx.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::psp::{Account, PspError, PspPayment};
use crate::{on_db, state::AppState, webhooks::signature};

/// Delivery attempts per event (the first plus retries after 0.25, 0.5, 1, 2, 4 s).
const DELIVERY_ATTEMPTS: u32 = 6;
/// Time budget of one delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PUT /v1/webhook_endpoint`.
#[derive(Debug, Deserialize)]
pub struct Endpoint {
    url: String,
    secret: String,
}

/// Registers (or replaces) the calling account's webhook endpoint.
pub async fn put_endpoint(
    State(state): State<AppState>,
    account: Account,
    Json(body): Json<Endpoint>,
) -> Result<impl IntoResponse, PspError> {
    // Anyone with an `sbx_` key has an account, so the URL is not theirs to choose: only this
    // server's own webhook endpoint, never another host or another path of this one.
    if !super::is_own_webhook_url(&state, &body.url) || !body.secret.starts_with("whsec_") {
        return Err(PspError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "url must be this server's sandbox webhook URL and secret a whsec_ secret",
        ));
    }
    const SQL: &str = "INSERT INTO sandbox_psp_endpoints (account, url, secret, updated_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET url = $2, secret = $3, updated_at = $4";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account.id()).bind(&body.url).bind(&body.secret).bind(Utc::now())
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(Json(json!({"url": body.url})))
}

/// Sends `event_type` about `payment` to the account's endpoint, in the background.
/// `reference` is the caller's reference of the operation the event is about.
pub fn emit(
    state: &AppState,
    account: &str,
    event_type: &'static str,
    payment: &PspPayment,
    reference: Option<String>,
) {
    let state = state.clone();
    let account = account.to_owned();
    let event = json!({
        "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
        "type": event_type,
        "created": Utc::now().timestamp(),
        "data": {"payment": payment, "reference": reference},
    });
    tokio::spawn(async move {
        if let Err(err) = deliver(&state, &account, &event).await {
            tracing::warn!(error = %err, event_type, "sandbox PSP gave up delivering a webhook");
        }
    });
}

async fn deliver(state: &AppState, account: &str, event: &Value) -> anyhow::Result<()> {
    const SQL: &str = "SELECT url, secret FROM sandbox_psp_endpoints WHERE account = $1";
    let endpoint: Option<(String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(account).fetch_optional(pool).await
    })?;
    let Some((url, secret)) = endpoint else {
        return Ok(());
    };
    // Rows stored before the endpoint rule existed are held to it too.
    if !super::is_own_webhook_url(state, &url) {
        anyhow::bail!("the registered endpoint is not this server's webhook URL");
    }
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let body = event.to_string();
    let mut delay = Duration::from_millis(250);
    for attempt in 1..=DELIVERY_ATTEMPTS {
        // Signed per attempt: the timestamp is the sending time.
        let ts = Utc::now().timestamp();
        let signature = signature::sign_standard(&secret, &id, ts, body.as_bytes())?;
        let sent = state
            .egress
            .request(reqwest::Method::POST, &url)?
            .timeout(DELIVERY_TIMEOUT)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
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
        if state.shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    anyhow::bail!("no 2xx after {DELIVERY_ATTEMPTS} attempts")
}
