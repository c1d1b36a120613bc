//! Hosting the simulated PSP (crate `cassa-sandbox-psp`) in this server: its state from ours,
//! its routes, and its share of a master key rotation. The PSP itself knows nothing of Cassa;
//! everything it gets from us goes through here.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use cassa_sandbox_psp::{DeliveryPolicy, PspDb, PspState, SealError, Sealer};

use crate::{
    credentials::keys,
    db::{Db, DbError},
    keyring::{ElsewhereError, ElsewhereFuture, KeyRing, KeyRingError, Sealed, SealedElsewhere},
    state::AppState,
};

/// The PSP's state on this server's pool, key ring, guarded client and shutdown. Cheap: every
/// part is a handle, so callers build it when they need it.
///
/// The PSP keeps the wall clock, not [`AppState::clock`]: it plays a remote provider, whose
/// timestamps (ledger rows, webhook signatures checked against wall time on receipt) are its
/// own.
pub fn state(app: &AppState) -> PspState {
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
) -> PspState {
    let psp_db = match db {
        Db::Sqlite(pool) => PspDb::Sqlite(pool.clone()),
        Db::Postgres(pool) => PspDb::Postgres(pool.clone()),
    };
    let sealer = Arc::new(KeyRingSealer::new(db.clone(), key_ring));
    // Anyone with an `sbx_` key has an account at the PSP, so it delivers only to this
    // server's own sandbox webhook URLs, never another host or another path of this one; the
    // egress address rule applies on top, as to every outbound request.
    let client = egress.client();
    let policy = DeliveryPolicy::new(move |url| {
        crate::providers::sandbox::is_own_webhook_url(&self_url, url)
            && egress.check_provider_url(url).is_ok()
    });
    PspState::new(psp_db, sealer, client)
        .with_delivery_policy(policy)
        .with_latency(config.sandbox_psp_latency)
        .with_timeout_delay(config.sandbox_psp_timeout_delay)
        .with_shutdown(shutdown)
}

/// The hosted PSP's share of a master key rotation.
pub struct SealedByPsp(pub PspState);

impl SealedElsewhere for SealedByPsp {
    fn rewrap(&self, target: u32) -> ElsewhereFuture<'_, u64> {
        Box::pin(async move {
            cassa_sandbox_psp::rewrap(&self.0, target)
                .await
                .map_err(elsewhere_error)
        })
    }

    fn sealed_with(&self, version: u32) -> ElsewhereFuture<'_, i64> {
        Box::pin(async move {
            cassa_sandbox_psp::sealed_with(&self.0, version)
                .await
                .map_err(elsewhere_error)
        })
    }
}

/// The PSP's routes, for mounting at `/sandbox-psp`.
pub fn router(app: &AppState) -> Router<AppState> {
    cassa_sandbox_psp::router(state(app))
}

fn elsewhere_error(err: cassa_sandbox_psp::Error) -> ElsewhereError {
    match err {
        cassa_sandbox_psp::Error::Db(err) => DbError::from(err).into(),
        // Our sealer fails with a key ring or database error; anything else is the PSP's own
        // finding about a stored value, which for us means it does not open.
        cassa_sandbox_psp::Error::Seal(err) => match err.into_inner().downcast::<KeyRingError>() {
            Ok(err) => (*err).into(),
            Err(other) => match other.downcast::<DbError>() {
                Ok(err) => (*err).into(),
                Err(other) => {
                    tracing::error!(error = %other, "sandbox PSP secret unusable");
                    KeyRingError::Decrypt.into()
                }
            },
        },
    }
}

/// Seals the webhook secrets of the simulated services this server hosts (the PSP's and the
/// carrier's) with the master key ring, in the format the PSP always had: the nonce, then the
/// ciphertext and tag, under the primary version. Each service's `Sealer` trait is implemented
/// beside its host.
pub(crate) struct KeyRingSealer {
    db: Db,
    key_ring: Arc<KeyRing>,
}

/// The key ring's nonce length (AES-GCM's 96 bits).
const NONCE_LEN: usize = 12;

impl KeyRingSealer {
    pub(crate) fn new(db: Db, key_ring: Arc<KeyRing>) -> Self {
        Self { db, key_ring }
    }

    /// The version new values are sealed with: the primary master key's.
    pub(crate) async fn current_version(&self) -> Result<u32, DbError> {
        keys::primary_version(&self.db).await
    }

    pub(crate) fn seal_bytes(
        &self,
        version: u32,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KeyRingError> {
        let sealed = self.key_ring.seal(version, aad, plaintext)?;
        let mut bytes = sealed.nonce;
        bytes.extend_from_slice(&sealed.ciphertext);
        Ok(bytes)
    }

    pub(crate) fn open_bytes(
        &self,
        version: u32,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, KeyRingError> {
        if sealed.len() < NONCE_LEN {
            return Err(KeyRingError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let sealed = Sealed {
            version,
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
        };
        self.key_ring.open(&sealed, aad)
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
