//! Sign-in rules shared by the token endpoint and the console: throttling, constant-shape
//! failures, token issuance, password changes.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    throttle::{self, Backoff},
    tokens::{self, TokenKind},
};
use crate::{
    db::DbError,
    http::problem::ApiError,
    limits, on_db, passwords,
    state::AppState,
    types::{Email, InvalidValue, UserId},
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
    /// Whether their password was generated and must be changed before anything else.
    pub must_change_password: bool,
    /// Changes with the password (see [`credential_stamp`]).
    pub credential_stamp: String,
}

/// A short digest of a stored password hash. A console session remembers the one it signed in
/// with and ends when it differs: a password change ends sessions even if one of them was being
/// written back concurrently with the change's `DELETE`.
pub fn credential_stamp(password_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(password_hash.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

type UserRow = (UserId, String, bool, bool);

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
    let password_ok = passwords::verify(permit, password, stored_hash).await?;
    let Some((user_id, hash, is_platform_admin, must_change_password)) =
        user.filter(|_| password_ok)
    else {
        return Err(ApiError::InvalidCredentials);
    };
    ip_limiter.refund(&ip_key);
    if let Some(account) = &account {
        clear_backoff(state, account).await?;
    }
    Ok(AuthenticatedUser {
        user_id,
        is_platform_admin,
        must_change_password,
        credential_stamp: credential_stamp(&hash),
    })
}

/// The backoff row's key: a hash, so emails nobody registered are not stored.
fn account_key(email: &Email) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.as_str().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn find_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    const SQL: &str = "SELECT id, password_hash, is_platform_admin, must_change_password \
                       FROM users WHERE email = $1";
    Ok(on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await
    })
    .map_err(DbError::from)?)
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
        .map_err(DbError::from)?;
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
        .map_err(DbError::from)?;
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
    .map_err(DbError::from)?;
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
    .map_err(DbError::from)?;
    Ok(IssuedToken {
        token: secret.plaintext,
        expires_at,
    })
}

/// Replaces `user_id`'s password after checking the current one (through [`authenticate`], so
/// guesses back off like sign-in failures), clears `must_change_password`, and
/// ends every console session and bearer token of the user: whoever learnt the old password
/// keeps nothing it opened.
pub async fn change_password(
    state: &AppState,
    client: IpAddr,
    user_id: UserId,
    current: SecretString,
    new: SecretString,
) -> Result<(), ApiError> {
    const EMAIL: &str = "SELECT email FROM users WHERE id = $1";
    let email: Option<String> = on_db!(&state.db, pool => {
        sqlx::query_scalar(EMAIL).bind(user_id).fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    let email = email.ok_or(ApiError::Unauthorized)?;
    let same = current.expose_secret() == new.expose_secret();
    authenticate(state, client, &email, current).await?;
    if same {
        return Err(
            InvalidValue::new("new_password", "must differ from the current password").into(),
        );
    }
    let hash = state.passwords.hash(new).await.map_err(|e| match e {
        passwords::PasswordError::TooShort => {
            InvalidValue::new("new_password", e.to_string()).into()
        }
        other => ApiError::Internal(other.into()),
    })?;
    const UPDATE: &str = "UPDATE users SET password_hash = $2, must_change_password = FALSE, \
                          failed_logins = 0, locked_until = NULL WHERE id = $1";
    const TOKENS: &str = "DELETE FROM user_tokens WHERE user_id = $1";
    const SESSIONS: &str = "DELETE FROM console_sessions WHERE user_id = $1";
    on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            sqlx::query(UPDATE).bind(user_id).bind(&hash).execute(&mut *tx).await?;
            sqlx::query(TOKENS).bind(user_id).execute(&mut *tx).await?;
            sqlx::query(SESSIONS).bind(user_id).execute(&mut *tx).await?;
            tx.commit().await
        }
        .await
    })
    .map_err(DbError::from)?;
    // Cached principals of the deleted tokens must not outlive them here.
    state.caches.principals.clear();
    tracing::info!(%user_id, "password changed; sessions and tokens ended");
    Ok(())
}
