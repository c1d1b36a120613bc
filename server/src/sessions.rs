//! Console sessions: tower-sessions over the project's own database (both backends, one pool),
//! with HttpOnly + SameSite=Strict cookies, an idle timeout and an absolute lifetime.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer,
    cookie::SameSite,
    session::{Id, Record},
    session_store::{self, SessionStore},
};

use crate::{
    db::Db,
    on_db,
    types::{Environment, StoreId, UserId},
};

/// Name of the session cookie over plain HTTP (development on loopback).
pub const COOKIE_NAME: &str = "cassa_session";
/// Name of the `Secure` session cookie: browsers accept a `__Host-` cookie only when it is
/// Secure, for `Path=/` and without `Domain`, so no subdomain or plain-HTTP page can plant or
/// overwrite it.
pub const SECURE_COOKIE_NAME: &str = "__Host-cassa_session";
const SESSION_KEY: &str = "console";

/// Session lifetimes.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Sessions unused this long expire.
    pub idle: Duration,
    /// Sessions older than this expire however active they are.
    pub absolute: Duration,
    /// Whether the cookie carries `Secure`.
    pub secure_cookie: bool,
}

impl SessionPolicy {
    /// The cookie name that goes with the `Secure` flag.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookie {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }
}

/// What a signed-in console session holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// The signed-in user.
    pub user_id: UserId,
    /// When they signed in (the absolute timeout counts from here).
    pub signed_in_at: DateTime<Utc>,
    /// The store the console currently shows.
    pub store_id: Option<StoreId>,
    /// The environment the console currently shows.
    pub environment: Environment,
    /// [`crate::auth::service::credential_stamp`] of the password it signed in with.
    #[serde(default)]
    pub credential_stamp: String,
}

impl ConsoleSession {
    /// Whether the absolute lifetime is over at `now`.
    pub fn is_expired(&self, policy: &SessionPolicy, now: DateTime<Utc>) -> bool {
        now - self.signed_in_at >= policy.absolute
    }
}

/// The session layer for the console.
pub fn layer(db: Db, policy: SessionPolicy) -> SessionManagerLayer<DbSessionStore> {
    let idle = time::Duration::seconds(policy.idle.num_seconds());
    SessionManagerLayer::new(DbSessionStore { db })
        .with_name(policy.cookie_name())
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(policy.secure_cookie)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

/// Reads the signed-in session, ending it when its absolute lifetime is over.
pub async fn current(
    session: &Session,
    policy: &SessionPolicy,
) -> Result<Option<ConsoleSession>, session_store::Error> {
    let Some(console) = session
        .get::<ConsoleSession>(SESSION_KEY)
        .await
        .map_err(to_store_error)?
    else {
        return Ok(None);
    };
    if console.is_expired(policy, Utc::now()) {
        session.flush().await.map_err(to_store_error)?;
        return Ok(None);
    }
    Ok(Some(console))
}

/// Starts a session for `console`, with a fresh id so a planted id is useless (fixation).
pub async fn sign_in(
    session: &Session,
    console: &ConsoleSession,
) -> Result<(), session_store::Error> {
    session.cycle_id().await.map_err(to_store_error)?;
    session
        .insert(SESSION_KEY, console)
        .await
        .map_err(to_store_error)
}

/// Replaces the session's data (store or environment switch).
pub async fn update(
    session: &Session,
    console: &ConsoleSession,
) -> Result<(), session_store::Error> {
    session
        .insert(SESSION_KEY, console)
        .await
        .map_err(to_store_error)
}

/// Ends the session: deletes it server-side and expires the cookie.
pub async fn sign_out(session: &Session) -> Result<(), session_store::Error> {
    session.flush().await.map_err(to_store_error)
}

fn to_store_error(err: tower_sessions::session::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// Sessions stored in `console_sessions` on either backend.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

fn expiry(record: &Record) -> DateTime<Utc> {
    DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0).unwrap_or_else(Utc::now)
}

/// The signed-in user of a record, written next to it so that a password change can end every
/// session of that user with one statement.
fn user_of(record: &Record) -> Option<UserId> {
    record
        .data
        .get(SESSION_KEY)?
        .get("user_id")?
        .as_str()?
        .parse()
        .ok()
}

fn backend_error(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        const SQL: &str = "INSERT INTO console_sessions (id, data, expires_at, user_id) \
                           VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
        let data = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        // Ids are 128 random bits; a collision is astronomically unlikely, but never overwrite.
        loop {
            let inserted = on_db!(&self.db, pool => {
                sqlx::query(SQL)
                    .bind(record.id.to_string())
                    .bind(&data)
                    .bind(expiry(record))
                    .bind(user_of(record))
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(backend_error)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        const SQL: &str = "INSERT INTO console_sessions (id, data, expires_at, user_id) \
                           VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                           expires_at = excluded.expires_at, user_id = excluded.user_id";
        let data = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(record.id.to_string())
                .bind(&data)
                .bind(expiry(record))
                .bind(user_of(record))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(backend_error)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        const SQL: &str =
            "SELECT data, expires_at FROM console_sessions WHERE id = $1 AND expires_at > $2";
        let row: Option<(Vec<u8>, DateTime<Utc>)> = on_db!(&self.db, pool => {
            sqlx::query_as(SQL)
                .bind(session_id.to_string())
                .bind(Utc::now())
                .fetch_optional(pool)
                .await
        })
        .map_err(backend_error)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data = serde_json::from_slice(&data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        const SQL: &str = "DELETE FROM console_sessions WHERE id = $1";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(session_id.to_string())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(backend_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_lifetime_counts_from_sign_in() {
        let policy = SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
            secure_cookie: true,
        };
        let signed_in_at = Utc::now();
        let session = ConsoleSession {
            user_id: UserId::new(),
            signed_in_at,
            store_id: None,
            environment: Environment::Sandbox,
            credential_stamp: String::new(),
        };
        assert!(!session.is_expired(&policy, signed_in_at + Duration::hours(11)));
        assert!(session.is_expired(&policy, signed_in_at + Duration::hours(12)));
    }
}
