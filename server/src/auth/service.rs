//! Sign-in rules shared by the token endpoint and the console: limits, constant-shape
//! failures, token issuance.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use super::{
    password,
    throttle::{self, Backoff},
    tokens::{self, TokenKind},
};
use crate::{
    http::problem::ApiError,
    limits, on_db,
    state::AppState,
    store::StoreError,
    types::{Email, UserId},
};

/// Lifetime of a scripting bearer token.
pub fn user_token_ttl() -> Duration {
    Duration::hours(1)
}

/// A user who proved their password.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser {
    /// The user.
    pub user_id: UserId,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
}

type UserRow = (UserId, String, bool);

/// Checks an email and password from `client`. An unknown email and a wrong password fail alike
/// with [`ApiError::InvalidCredentials`] after the same argon2 work, and back off alike.
///
/// In order: an argon2 permit (none free: `503 server_busy`, nothing counted), a token of the
/// client address's failure bucket (`429`), the account's backoff window (`429`, the address's
/// token given back), then the password. Success gives the address's token back and clears the
/// account's backoff.
pub async fn authenticate(
    state: &AppState,
    client: IpAddr,
    email: &str,
    password: SecretString,
) -> Result<AuthenticatedUser, ApiError> {
    let permit = state.passwords.permit()?;
    let now = state.clock.now();
    let ip_key = limits::limiter_key(client);
    let ip_limiter = &state.limits.sign_in_ip;
    if let Err(retry_after) = ip_limiter.check(&ip_key, now) {
        tracing::warn!(%client, "sign-in refused: too many failures from this address");
        metrics::counter!("sign_in_throttled_total", "limit" => "ip").increment(1);
        return Err(ApiError::RateLimited(retry_after));
    }
    let email = Email::parse(email).ok();
    let account = email.as_ref().map(account_key);
    if let Some(account) = &account
        && let Err(err) = claim_attempt(state, account, now).await
    {
        ip_limiter.refund(&ip_key);
        if matches!(err, ApiError::RateLimited(_)) {
            metrics::counter!("sign_in_throttled_total", "limit" => "account").increment(1);
        }
        return Err(err);
    }
    let user = match &email {
        Some(email) => find_user(state, email).await?,
        None => None,
    };
    let stored_hash = user.as_ref().map(|u| u.1.clone());
    let password_ok = password::verify(permit, password, stored_hash).await?;
    let Some((user_id, _, is_platform_admin)) = user.filter(|_| password_ok) else {
        return Err(ApiError::InvalidCredentials);
    };
    ip_limiter.refund(&ip_key);
    if let Some(account) = &account {
        clear_backoff(state, account).await?;
    }
    Ok(AuthenticatedUser {
        user_id,
        is_platform_admin,
    })
}

/// The backoff row's key: a hash, so emails nobody registered are not stored.
fn account_key(email: &Email) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.as_str().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn find_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    const SQL: &str = "SELECT id, password_hash, is_platform_admin FROM users WHERE email = $1";
    Ok(on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await
    })
    .map_err(StoreError::from)?)
}

/// Counts an attempt against the account before its password is checked, with compare-and-set
/// so that concurrent attempts are each counted and at most one gets through an open window.
async fn claim_attempt(
    state: &AppState,
    account: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    const READ: &str =
        "SELECT failures, next_attempt_at FROM sign_in_backoff WHERE account_key = $1";
    const INSERT: &str = "INSERT INTO sign_in_backoff (account_key, failures, next_attempt_at, updated_at) \
                          VALUES ($1, $2, $3, $4) ON CONFLICT (account_key) DO NOTHING";
    const UPDATE: &str = "UPDATE sign_in_backoff SET failures = $2, next_attempt_at = $3, updated_at = $4 \
                          WHERE account_key = $1 AND failures = $5";
    let max = state.config.sign_in_backoff_max;
    for _ in 0..8 {
        let row: Option<(i32, DateTime<Utc>)> = on_db!(&state.db, pool => {
            sqlx::query_as(READ).bind(account).fetch_optional(pool).await
        })
        .map_err(StoreError::from)?;
        let current = row.map_or(Backoff::clean(), |(failures, at)| Backoff {
            failures,
            next_attempt_at: Some(at),
        });
        let next = current
            .claim(now, max)
            .map_err(|wait| ApiError::RateLimited(throttle::retry_after_secs(wait)))?;
        let next_at = next.next_attempt_at.unwrap_or(now);
        let written = on_db!(&state.db, pool => {
            match row {
                None => sqlx::query(INSERT).bind(account).bind(next.failures).bind(next_at).bind(now)
                    .execute(pool).await,
                Some(_) => sqlx::query(UPDATE).bind(account).bind(next.failures).bind(next_at).bind(now)
                    .bind(current.failures).execute(pool).await,
            }
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::from)?;
        if written == 1 {
            return Ok(());
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not count a sign-in attempt under contention"
    )))
}

async fn clear_backoff(state: &AppState, account: &str) -> Result<(), ApiError> {
    const SQL: &str = "DELETE FROM sign_in_backoff WHERE account_key = $1";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account).execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    Ok(())
}

/// A bearer token for scripting, shown once.
pub struct IssuedToken {
    /// The token.
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Issues a short-lived bearer token for `user_id`.
pub async fn issue_user_token(state: &AppState, user_id: UserId) -> Result<IssuedToken, ApiError> {
    let now = state.clock.now();
    let expires_at = now + user_token_ttl();
    let secret = tokens::generate(TokenKind::User);
    const SQL: &str = "INSERT INTO user_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
    on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(&secret.hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    Ok(IssuedToken {
        token: secret.plaintext,
        expires_at,
    })
}
