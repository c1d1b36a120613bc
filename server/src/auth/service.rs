//! Sign-in rules shared by the token endpoint and the console: throttling, constant-shape
//! failures, token issuance, password changes.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    password,
    throttle::LoginState,
    tokens::{self, TokenKind},
};
use crate::{
    http::problem::ApiError,
    on_db,
    state::AppState,
    store::StoreError,
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

type UserRow = (UserId, String, bool, i32, Option<DateTime<Utc>>, bool);

/// Checks an email and password. Unknown email, wrong password and locked account all fail
/// with the same [`ApiError::InvalidCredentials`] after the same argon2 work.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> Result<AuthenticatedUser, ApiError> {
    let now = state.clock.now();
    let user = match Email::parse(email) {
        Ok(email) => find_user(state, &email).await?,
        Err(_) => None,
    };
    let stored_hash = user.as_ref().map(|u| u.1.clone());
    let password_ok = password::verify(password, stored_hash)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let Some((user_id, hash, is_platform_admin, failures, locked_until, must_change_password)) =
        user
    else {
        return Err(ApiError::InvalidCredentials);
    };
    let login = LoginState {
        failures,
        locked_until,
    };
    if login.is_locked(now) {
        tracing::warn!(%user_id, "sign-in refused: account locked");
        return Err(ApiError::InvalidCredentials);
    }
    if !password_ok {
        record_failure(state, user_id, login, now).await?;
        return Err(ApiError::InvalidCredentials);
    }
    if login != LoginState::after_success() {
        write_login_state(state, user_id, login, LoginState::after_success()).await?;
    }
    Ok(AuthenticatedUser {
        user_id,
        is_platform_admin,
        must_change_password,
        credential_stamp: credential_stamp(&hash),
    })
}

async fn find_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    const SQL: &str = "SELECT id, password_hash, is_platform_admin, failed_logins, locked_until, \
                       must_change_password FROM users WHERE email = $1";
    Ok(on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await
    })
    .map_err(StoreError::from)?)
}

/// Counts a failure with compare-and-set, so concurrent wrong guesses are all counted.
async fn record_failure(
    state: &AppState,
    user_id: UserId,
    mut current: LoginState,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for _ in 0..8 {
        let next = current.after_failure(now);
        if next == current || write_login_state(state, user_id, current, next).await? {
            if next.is_locked(now) && !current.is_locked(now) {
                tracing::warn!(%user_id, "account locked after repeated sign-in failures");
            }
            return Ok(());
        }
        const SQL: &str = "SELECT failed_logins, locked_until FROM users WHERE id = $1";
        let row: (i32, Option<DateTime<Utc>>) =
            on_db!(&state.db, pool => sqlx::query_as(SQL).bind(user_id).fetch_one(pool).await)
                .map_err(StoreError::from)?;
        current = LoginState {
            failures: row.0,
            locked_until: row.1,
        };
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not record a sign-in failure under contention"
    )))
}

/// Writes `next` if the row still holds `expected`; returns whether it did.
async fn write_login_state(
    state: &AppState,
    user_id: UserId,
    expected: LoginState,
    next: LoginState,
) -> Result<bool, ApiError> {
    // `IS NOT DISTINCT FROM` is not in SQLite; spell the NULL-safe comparison out.
    const SQL: &str = "UPDATE users SET failed_logins = $4, locked_until = $5 \
                       WHERE id = $1 AND failed_logins = $2 \
                       AND ((locked_until IS NULL AND $3 IS NULL) OR locked_until = $3)";
    let updated = on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(user_id)
            .bind(expected.failures)
            .bind(expected.locked_until)
            .bind(next.failures)
            .bind(next.locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    Ok(updated == 1)
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

/// Replaces `user_id`'s password after checking the current one (through [`authenticate`], so
/// guesses count towards the lock like sign-in failures), clears `must_change_password`, and
/// ends every console session and bearer token of the user: whoever learnt the old password
/// keeps nothing it opened.
pub async fn change_password(
    state: &AppState,
    user_id: UserId,
    current: SecretString,
    new: SecretString,
) -> Result<(), ApiError> {
    const EMAIL: &str = "SELECT email FROM users WHERE id = $1";
    let email: Option<String> = on_db!(&state.db, pool => {
        sqlx::query_scalar(EMAIL).bind(user_id).fetch_optional(pool).await
    })
    .map_err(StoreError::from)?;
    let email = email.ok_or(ApiError::Unauthorized)?;
    let same = current.expose_secret() == new.expose_secret();
    authenticate(state, &email, current).await?;
    if same {
        return Err(
            InvalidValue::new("new_password", "must differ from the current password").into(),
        );
    }
    let hash = password::hash(new).await.map_err(|e| match e {
        password::PasswordError::TooShort => {
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
    .map_err(StoreError::from)?;
    // Cached principals of the deleted tokens must not outlive them here.
    state.caches.principals.clear();
    tracing::info!(%user_id, "password changed; sessions and tokens ended");
    Ok(())
}
