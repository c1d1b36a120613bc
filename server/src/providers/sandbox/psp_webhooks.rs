//! The sandbox PSP's outgoing webhooks: each account registers one endpoint and secret; events
//! are signed with Standard Webhooks and delivered with the PSP's own retries on non-2xx.
//!
//! The secret is stored sealed with the master key ring (like a real PSP would keep it in its
//! own vault): `sealed:<version>:<base64 of nonce ‖ ciphertext>`, bound to the account.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use base64::{Engine, engine::general_purpose::STANDARD};

use super::psp::{Account, PspError, PspPayment};
use crate::{
    credentials::{CredentialError, KeyRingError, Sealed},
    on_db,
    providers::signature,
    state::AppState,
};

/// Delivery attempts per event (the first plus retries after 0.25, 0.5, 1, 2, 4 s).
const DELIVERY_ATTEMPTS: u32 = 6;
/// Time budget of one delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a stored endpoint secret starts (then the key version and `:`).
pub const SEALED_PREFIX: &str = "sealed:";

fn aad(account: &str, version: u32) -> Vec<u8> {
    format!("cassa/sandbox_psp_endpoints/v1|{account}|{version}").into_bytes()
}

/// The stored form of `secret` for `account`, sealed with the primary key.
async fn seal_secret(state: &AppState, account: &str, secret: &str) -> anyhow::Result<String> {
    let version = crate::credentials::keys::primary_version(&state.db).await?;
    Ok(seal_with(state, account, secret, version)?)
}

fn seal_with(
    state: &AppState,
    account: &str,
    secret: &str,
    version: u32,
) -> Result<String, KeyRingError> {
    let sealed = state
        .key_ring
        .seal(version, &aad(account, version), secret.as_bytes())?;
    let mut bytes = sealed.nonce;
    bytes.extend_from_slice(&sealed.ciphertext);
    Ok(format!(
        "{SEALED_PREFIX}{version}:{}",
        STANDARD.encode(bytes)
    ))
}

/// A key rotation's share: re-seals every endpoint secret not yet on `target`, so the old
/// version can be retired. A row that cannot be opened is logged and left (retiring its
/// version is then refused).
pub async fn rewrap(state: &AppState, target: u32) -> Result<u64, CredentialError> {
    const SQL: &str = "SELECT account, secret FROM sandbox_psp_endpoints WHERE secret NOT LIKE $1";
    const UPDATE: &str =
        "UPDATE sandbox_psp_endpoints SET secret = $3 WHERE account = $1 AND secret = $2";
    let rows: Vec<(String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(format!("{SEALED_PREFIX}{target}:%")).fetch_all(pool).await
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
        let resealed = seal_with(state, &account, &secret, target)?;
        // A concurrent registration wins: it sealed its new secret with the primary already.
        done += on_db!(&state.db, pool => {
            sqlx::query(UPDATE).bind(&account).bind(&stored).bind(&resealed)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(done)
}

/// The secret behind a stored value. Rows written before secrets were sealed hold the
/// plaintext: it is sealed in place on first use.
async fn open_secret(state: &AppState, account: &str, stored: &str) -> anyhow::Result<String> {
    let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
        let resealed = seal_secret(state, account, stored).await?;
        const SQL: &str =
            "UPDATE sandbox_psp_endpoints SET secret = $3 WHERE account = $1 AND secret = $2";
        on_db!(&state.db, pool => {
            sqlx::query(SQL).bind(account).bind(stored).bind(&resealed)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        return Ok(stored.to_owned());
    };
    let (version, encoded) = rest
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("malformed sealed webhook secret"))?;
    let version: u32 = version.parse()?;
    let bytes = STANDARD.decode(encoded)?;
    if bytes.len() < 12 {
        anyhow::bail!("malformed sealed webhook secret");
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let sealed = Sealed {
        version,
        nonce: nonce.to_vec(),
        ciphertext: ciphertext.to_vec(),
    };
    let plaintext = state.key_ring.open(&sealed, &aad(account, version))?;
    Ok(String::from_utf8(plaintext)?)
}

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
    if !super::is_own_webhook_url(&state.self_url, &body.url) || !body.secret.starts_with("whsec_")
    {
        return Err(PspError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "url must be this server's sandbox webhook URL and secret a whsec_ secret",
        ));
    }
    let sealed = seal_secret(&state, account.id(), &body.secret)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "sandbox PSP could not seal a webhook secret");
            PspError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal error",
            )
        })?;
    const SQL: &str = "INSERT INTO sandbox_psp_endpoints (account, url, secret, updated_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET url = $2, secret = $3, updated_at = $4";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account.id()).bind(&body.url).bind(&sealed).bind(Utc::now())
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
    let Some((url, stored)) = endpoint else {
        return Ok(());
    };
    // Rows stored before the endpoint rule existed are held to it too.
    if !super::is_own_webhook_url(&state.self_url, &url) {
        anyhow::bail!("the registered endpoint is not this server's webhook URL");
    }
    let secret = open_secret(state, account, &stored).await?;
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
