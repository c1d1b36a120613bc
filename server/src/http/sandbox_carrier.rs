//! Hosting the simulated carrier (crate `cassa-sandbox-carrier`) in this server: its state
//! from ours, its routes, its ticker, and its share of a master key rotation. The carrier
//! itself knows nothing of Cassa; everything it gets from us goes through here.
//!
//! Its tables (`sandbox_carrier_*`) live in this server's database but are the carrier's own:
//! no migration of ours creates them, [`ensure_schema`] does at start-up. Unlike the PSP's,
//! they have no retention knob yet.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use cassa_sandbox_carrier::{CarrierDb, CarrierState, DeliveryPolicy, SealError, Sealer};
use tokio::task::JoinHandle;

use crate::{
    db::{Db, DbError},
    http::sandbox_psp::KeyRingSealer,
    keyring::{ElsewhereError, ElsewhereFuture, KeyRing, KeyRingError, SealedElsewhere},
    state::AppState,
};

/// The path under which this server receives a store's carrier webhooks.
const WEBHOOK_PATH: &str = "/api/v1/webhooks/sandbox_carrier/";

/// The carrier's state on this server's pool, key ring, guarded client and shutdown. Cheap:
/// every part is a handle, so callers build it when they need it.
///
/// The carrier keeps the wall clock, not [`AppState::clock`]: it plays a remote carrier, whose
/// timestamps (tracking events, webhook signatures checked against wall time on receipt) are
/// its own.
pub fn state(app: &AppState) -> CarrierState {
    state_from(
        &app.db,
        app.key_ring.clone(),
        app.self_url.clone(),
        app.egress.clone(),
        &app.config,
        app.shutdown.clone(),
    )
}

/// [`state`] from the parts, before the application state exists (start-up).
pub fn state_from(
    db: &Db,
    key_ring: Arc<KeyRing>,
    self_url: Arc<str>,
    egress: crate::egress::Egress,
    config: &crate::config::Config,
    shutdown: tokio_util::sync::CancellationToken,
) -> CarrierState {
    let carrier_db = match db {
        Db::Sqlite(pool) => CarrierDb::Sqlite(pool.clone()),
        Db::Postgres(pool) => CarrierDb::Postgres(pool.clone()),
    };
    let sealer = Arc::new(KeyRingSealer::new(db.clone(), key_ring));
    // Anyone with an `scr_` key has an account at the carrier, so it delivers only to this
    // server's own carrier webhook URLs, never another host or another path of this one; the
    // egress address rule applies on top, as to every outbound request.
    let client = egress.client();
    let policy = DeliveryPolicy::new(move |url| {
        is_own_carrier_webhook_url(&self_url, url) && egress.check_provider_url(url).is_ok()
    });
    CarrierState::new(carrier_db, sealer, client)
        .with_delivery_policy(policy)
        .with_latency(config.sandbox_carrier_latency)
        .with_timeout_delay(config.sandbox_carrier_timeout_delay)
        .with_shutdown(shutdown)
}

/// Whether `url` is this server's carrier webhook URL of some store (`self_url` is how this
/// server reaches itself): `{self_url}/api/v1/webhooks/sandbox_carrier/{store_id}`, exactly,
/// with the store id in its canonical form.
pub fn is_own_carrier_webhook_url(self_url: &str, url: &str) -> bool {
    url.strip_prefix(self_url)
        .and_then(|rest| rest.strip_prefix(WEBHOOK_PATH))
        .and_then(|store| store.parse::<crate::types::StoreId>().ok())
        .is_some_and(|store| format!("{self_url}{WEBHOOK_PATH}{store}") == url)
}

/// Creates the carrier's tables where missing (start-up; idempotent).
pub async fn ensure_schema(state: &CarrierState) -> Result<(), DbError> {
    state.db().ensure_schema().await.map_err(DbError::from)
}

/// The carrier's routes, for mounting at `/sandbox-carrier`.
pub fn router(app: &AppState) -> Router<AppState> {
    cassa_sandbox_carrier::router(state(app))
}

/// The carrier's clockwork (tracking events as they come due, webhook deliveries), until
/// shutdown.
pub fn spawn_ticker(app: &AppState) -> JoinHandle<()> {
    cassa_sandbox_carrier::spawn_ticker(state(app))
}

/// The hosted carrier's share of a master key rotation.
pub struct SealedByCarrier(pub CarrierState);

impl SealedElsewhere for SealedByCarrier {
    fn rewrap(&self, target: u32) -> ElsewhereFuture<'_, u64> {
        Box::pin(async move {
            cassa_sandbox_carrier::rewrap(&self.0, target)
                .await
                .map_err(elsewhere_error)
        })
    }

    fn sealed_with(&self, version: u32) -> ElsewhereFuture<'_, i64> {
        Box::pin(async move {
            cassa_sandbox_carrier::sealed_with(&self.0, version)
                .await
                .map_err(elsewhere_error)
        })
    }
}

fn elsewhere_error(err: cassa_sandbox_carrier::Error) -> ElsewhereError {
    match err {
        cassa_sandbox_carrier::Error::Db(err) => DbError::from(err).into(),
        // Our sealer fails with a key ring or database error; anything else is the carrier's
        // own finding about a stored value, which for us means it does not open.
        cassa_sandbox_carrier::Error::Seal(err) => {
            match err.into_inner().downcast::<KeyRingError>() {
                Ok(err) => (*err).into(),
                Err(other) => match other.downcast::<DbError>() {
                    Ok(err) => (*err).into(),
                    Err(other) => {
                        tracing::error!(error = %other, "sandbox carrier secret unusable");
                        KeyRingError::Decrypt.into()
                    }
                },
            }
        }
    }
}

#[async_trait]
impl Sealer for KeyRingSealer {
    async fn current_version(&self) -> Result<u32, SealError> {
        KeyRingSealer::current_version(self)
            .await
            .map_err(SealError::new)
    }

    fn seal(&self, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.seal_bytes(version, aad, plaintext)
            .map_err(SealError::new)
    }

    fn open(&self, version: u32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.open_bytes(version, aad, sealed)
            .map_err(SealError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_carrier_webhook_urls_are_own() {
        let own = "http://127.0.0.1:3000";
        let store = uuid::Uuid::now_v7();
        assert!(is_own_carrier_webhook_url(
            own,
            &format!("{own}/api/v1/webhooks/sandbox_carrier/{store}")
        ));
        for refused in [
            format!("{own}/api/v1/webhooks/sandbox/{store}"),
            format!("{own}/api/v1/webhooks/sandbox_carrier/{store}/x"),
            format!("{own}/api/v1/webhooks/sandbox_carrier/../../admin"),
            format!("{own}/api/v1/webhooks/sandbox_carrier/not-a-store"),
            format!("{own}/api/v1/webhooks/sandbox_carrier/"),
            format!("http://127.0.0.1:3001/api/v1/webhooks/sandbox_carrier/{store}"),
            format!("http://127.0.0.1:30000/api/v1/webhooks/sandbox_carrier/{store}"),
        ] {
            assert!(!is_own_carrier_webhook_url(own, &refused), "{refused}");
        }
    }
}
