//! What the PSP runs with: handed over by the host that mounts it, or built by the binary.

use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{db::PspDb, seal::Sealer};

/// The PSP's source of time: ledger timestamps, idempotency claims, webhook timestamps and
/// signatures. The default is the wall clock, as a remote provider's would be.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Where the PSP may deliver webhooks: checked when an account registers its endpoint and again
/// before every delivery (an endpoint stored under an older policy is held to the current one).
///
/// Anyone holding an `sbx_` key has an account, so an endpoint URL is attacker-chosen: the
/// policy is what keeps the PSP from being aimed at internal services.
#[derive(Clone)]
pub struct DeliveryPolicy(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl fmt::Debug for DeliveryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeliveryPolicy(..)")
    }
}

/// A URL prefix that is not an absolute `http(s)` URL without user info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook URL prefix {0:?} must be an absolute http(s) URL without user info")]
pub struct InvalidUrlPrefix(pub String);

impl DeliveryPolicy {
    /// The host decides: `allows(url)` is true for the URLs it lets the PSP call.
    pub fn new(allows: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(allows))
    }

    /// No webhook is ever registered or sent.
    pub fn deny_all() -> Self {
        Self::new(|_| false)
    }

    /// Only `http(s)` URLs under one of `prefixes` (each taken as a folder: `…/hooks` allows
    /// `…/hooks/x`, not `…/hooksx`). A URL must be written in canonical form, so that `..`,
    /// encoded dots or user info cannot make it look like it is under a prefix when it is not.
    pub fn url_prefixes(
        prefixes: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, InvalidUrlPrefix> {
        let prefixes = prefixes
            .into_iter()
            .map(|p| p.as_ref().trim().to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| {
                let url = canonical_http_url(&p).ok_or_else(|| InvalidUrlPrefix(p.clone()))?;
                let mut prefix = url.to_string();
                if !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(prefix)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(move |url| {
            canonical_http_url(url).is_some_and(|parsed| parsed.as_str() == url)
                && prefixes.iter().any(|p| url.starts_with(p.as_str()))
        }))
    }

    /// Whether the PSP may deliver to `url`.
    pub fn allows(&self, url: &str) -> bool {
        (self.0)(url)
    }
}

fn canonical_http_url(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.host().is_some();
    plain.then_some(url)
}

/// A plain outbound client for webhook deliveries: no redirects (a 3xx is an answer, never a
/// new destination), no proxy from the environment, a short connect timeout.
pub fn default_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
}

/// Everything a request to the PSP may need; cheap to clone.
#[derive(Clone)]
pub struct PspState {
    pub(crate) db: PspDb,
    pub(crate) clock: Clock,
    pub(crate) sealer: Arc<dyn Sealer>,
    pub(crate) http: reqwest::Client,
    pub(crate) delivery: DeliveryPolicy,
    pub(crate) latency: Duration,
    pub(crate) timeout_delay: Duration,
    pub(crate) shutdown: CancellationToken,
    /// Per account, how many of its next webhooks are lost (a test-only drift operation).
    pub(crate) dropped_webhooks: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

impl fmt::Debug for PspState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PspState")
            .field("db", &self.db)
            .field("latency", &self.latency)
            .field("timeout_delay", &self.timeout_delay)
            .finish_non_exhaustive()
    }
}

impl PspState {
    /// A PSP on `db` that seals webhook secrets with `sealer` and delivers webhooks with
    /// `http`. Defaults: the wall clock, no webhook destination allowed
    /// ([`DeliveryPolicy::deny_all`]), no added latency, `pm_card_timeout` answered after 20 s,
    /// and a shutdown token of its own.
    pub fn new(db: PspDb, sealer: Arc<dyn Sealer>, http: reqwest::Client) -> Self {
        Self {
            db,
            clock: Arc::new(Utc::now),
            sealer,
            http,
            delivery: DeliveryPolicy::deny_all(),
            latency: Duration::ZERO,
            timeout_delay: Duration::from_secs(20),
            shutdown: CancellationToken::new(),
            dropped_webhooks: Arc::default(),
        }
    }

    /// Reads time from `clock` instead of the wall clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Delivers webhooks only where `policy` allows.
    pub fn with_delivery_policy(mut self, policy: DeliveryPolicy) -> Self {
        self.delivery = policy;
        self
    }

    /// Adds `latency` before every answer (to rehearse a slow provider).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// How late `pm_card_timeout` is answered (the payment is recorded at once).
    pub fn with_timeout_delay(mut self, delay: Duration) -> Self {
        self.timeout_delay = delay;
        self
    }

    /// Stops webhook retries once `token` is cancelled (the host's shutdown).
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// The database the PSP keeps its ledger in.
    pub fn db(&self) -> &PspDb {
        &self.db
    }

    /// Whether the account's next webhook is to be lost (and counts it).
    pub(crate) fn drop_webhook(&self, account: &str) -> bool {
        let Ok(mut drops) = self.dropped_webhooks.lock() else {
            return false;
        };
        match drops.get_mut(account) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The PSP's current time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_allow_only_canonical_urls_under_a_prefix() {
        let policy =
            DeliveryPolicy::url_prefixes(["http://127.0.0.1:3000/api/v1/webhooks/sandbox"])
                .expect("valid prefix");
        assert!(policy.allows("http://127.0.0.1:3000/api/v1/webhooks/sandbox/store-1"));
        for refused in [
            "http://127.0.0.1:3000/api/v1/webhooks/sandboxx",
            "http://127.0.0.1:3000/api/v1/webhooks/sandbox/../../admin",
            "http://127.0.0.1:3000/api/v1/webhooks/sandbox/%2e%2e/x",
            "http://user@127.0.0.1:3000/api/v1/webhooks/sandbox/x",
            "http://127.0.0.1:3001/api/v1/webhooks/sandbox/x",
            "HTTP://127.0.0.1:3000/api/v1/webhooks/sandbox/x",
            "ftp://127.0.0.1:3000/api/v1/webhooks/sandbox/x",
            "not a url",
        ] {
            assert!(!policy.allows(refused), "{refused}");
        }
    }

    #[test]
    fn url_prefixes_refuse_unusable_prefixes_and_deny_all_denies() {
        assert!(DeliveryPolicy::url_prefixes(["file:///etc"]).is_err());
        assert!(DeliveryPolicy::url_prefixes(["http://a:b@host/"]).is_err());
        let none = DeliveryPolicy::url_prefixes(Vec::<String>::new()).expect("empty is valid");
        assert!(!none.allows("http://127.0.0.1/"));
        assert!(!DeliveryPolicy::deny_all().allows("http://127.0.0.1/"));
        let custom = DeliveryPolicy::new(|url| url == "https://hooks.example.com/x");
        assert!(custom.allows("https://hooks.example.com/x"));
    }
}
