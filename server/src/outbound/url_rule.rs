//! Which URLs a store may point an endpoint at, checked when the URL is written. Delivery
//! checks again through the guarded client (`crate::egress::Egress`: names resolve to public
//! addresses only, no redirects), so a name re-pointed after this check still reaches nothing
//! internal.

use std::{fmt, net::IpAddr};

use url::{Host, Url};

use crate::{egress::is_internal, types::Environment};

/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// Why an endpoint URL is refused. The text is shown to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not an absolute URL, or longer than [`MAX_URL_LEN`].
    Malformed,
    /// A scheme other than `https` (production) or `http(s)` (sandbox).
    Scheme {
        /// Whether plain `http` would have been allowed.
        http_allowed: bool,
    },
    /// User name or password in the URL.
    Credentials,
    /// An IP-literal host that is loopback, private, link-local (cloud metadata) or otherwise
    /// internal.
    InternalAddress(IpAddr),
    /// A name that is internal by definition (`localhost`, `*.internal`, a single label, …).
    InternalName(String),
}

impl UrlRefusal {
    /// A stable reason code, for clients that branch on it.
    pub fn reason(&self) -> &'static str {
        match self {
            UrlRefusal::Malformed => "malformed",
            UrlRefusal::Scheme { .. } => "scheme",
            UrlRefusal::Credentials => "credentials",
            UrlRefusal::InternalAddress(_) => "internal_address",
            UrlRefusal::InternalName(_) => "internal_name",
        }
    }
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlRefusal::Malformed => write!(
                f,
                "it must be an absolute URL of at most {MAX_URL_LEN} characters"
            ),
            UrlRefusal::Scheme { http_allowed: true } => f.write_str("it must be http or https"),
            UrlRefusal::Scheme {
                http_allowed: false,
            } => f.write_str("production endpoints must use https"),
            UrlRefusal::Credentials => f.write_str("it must not contain a user name or password"),
            UrlRefusal::InternalAddress(ip) => {
                write!(
                    f,
                    "{ip} is a loopback, private or otherwise internal address"
                )
            }
            UrlRefusal::InternalName(host) => {
                write!(f, "{host} is not a public host name")
            }
        }
    }
}

/// Suffixes of names that never leave the local network or the cloud provider.
const INTERNAL_SUFFIXES: &[&str] = &[
    "localhost",
    "local",
    "internal",
    "intranet",
    "lan",
    "home.arpa",
    "arpa",
    "localdomain",
];

fn internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    // A single label (`metadata`, `db`) is resolved through the local search domains.
    if !host.contains('.') {
        return true;
    }
    INTERNAL_SUFFIXES
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")))
}

/// Where on this server's own address a sandbox endpoint may point: only paths under
/// `prefixes` (its inbound webhook receivers, and receivers tests mount), so a sandbox store
/// cannot aim signed requests at the server's other routes.
pub fn own_path_allowed(url: &Url, prefixes: &[String]) -> bool {
    // The parser already resolved `..` and `%2e%2e` segments, so the path is the one routed.
    prefixes.iter().any(|p| url.path().starts_with(p.as_str()))
}

/// Checks `raw` as the URL of an endpoint of `env`. `own` says whether a URL names this
/// server's own address, which only a sandbox endpoint of a non-production server may (the
/// tests mount their receivers in the server); `own_allowed` says whether it is such an
/// endpoint.
pub fn check(
    raw: &str,
    env: Environment,
    own_allowed: bool,
    own: impl Fn(&Url) -> bool,
) -> Result<Url, UrlRefusal> {
    if raw.is_empty() || raw.len() > MAX_URL_LEN || raw.trim() != raw {
        return Err(UrlRefusal::Malformed);
    }
    let url = Url::parse(raw).map_err(|_| UrlRefusal::Malformed)?;
    let http_allowed = env == Environment::Sandbox;
    match url.scheme() {
        "https" => {}
        "http" if http_allowed => {}
        _ => return Err(UrlRefusal::Scheme { http_allowed }),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            if internal_name(&name) {
                return Err(UrlRefusal::InternalName(name));
            }
            return Ok(url);
        }
        None => return Err(UrlRefusal::Malformed),
    };
    if is_internal(ip) && !(own_allowed && env == Environment::Sandbox && own(&url)) {
        return Err(UrlRefusal::InternalAddress(ip));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(url: &str) -> Result<Url, UrlRefusal> {
        check(url, Environment::Sandbox, true, |u| {
            u.host_str() == Some("127.0.0.1") && u.port() == Some(3000)
        })
    }

    #[test]
    fn only_receiver_paths_of_the_own_address_are_allowed() {
        let prefixes = vec!["/api/v1/webhooks/".to_owned()];
        let allowed = |raw: &str| own_path_allowed(&Url::parse(raw).unwrap(), &prefixes);
        assert!(allowed("http://127.0.0.1:3000/api/v1/webhooks/sandbox/x"));
        for refused in [
            "http://127.0.0.1:3000/api/v1/admin/stores",
            "http://127.0.0.1:3000/api/v1/webhooks",
            "http://127.0.0.1:3000/api/v1/webhooks/../admin/stores",
            "http://127.0.0.1:3000/api/v1/webhooks/%2e%2e/admin/stores",
            "http://127.0.0.1:3000/console/fn/x?p=/api/v1/webhooks/",
        ] {
            assert!(!allowed(refused), "{refused}");
        }
    }

    fn production(url: &str) -> Result<Url, UrlRefusal> {
        check(url, Environment::Production, true, |_| true)
    }

    #[test]
    fn public_urls_pass() {
        assert!(production("https://hooks.example.com/cassa?x=1").is_ok());
        assert!(sandbox("http://hooks.example.com/cassa").is_ok());
        assert!(production("https://93.184.216.34/hook").is_ok());
    }

    #[test]
    fn internal_targets_are_refused() {
        for url in [
            "http://127.0.0.1/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://[fd00:ec2::254]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.0.0.1:3001/",
        ] {
            assert!(
                matches!(sandbox(url), Err(UrlRefusal::InternalAddress(_))),
                "{url}"
            );
        }
        for url in [
            "http://localhost/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://metadata/",
            "http://printer.local/",
            "http://router.home.arpa/",
        ] {
            assert!(
                matches!(sandbox(url), Err(UrlRefusal::InternalName(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn production_takes_https_only_and_never_the_own_address() {
        assert_eq!(
            production("http://hooks.example.com/"),
            Err(UrlRefusal::Scheme {
                http_allowed: false
            })
        );
        assert!(matches!(
            production("https://127.0.0.1:3000/"),
            Err(UrlRefusal::InternalAddress(_))
        ));
        assert!(sandbox("http://127.0.0.1:3000/api/v1/receiver").is_ok());
        let not_allowed = check(
            "http://127.0.0.1:3000/",
            Environment::Sandbox,
            false,
            |_| true,
        );
        assert!(matches!(not_allowed, Err(UrlRefusal::InternalAddress(_))));
    }

    #[test]
    fn malformed_and_credentialed_urls_are_refused() {
        assert_eq!(sandbox("/relative"), Err(UrlRefusal::Malformed));
        assert_eq!(
            sandbox(" https://a.example.com"),
            Err(UrlRefusal::Malformed)
        );
        let long = format!("https://a.example.com/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(sandbox(&long), Err(UrlRefusal::Malformed));
        assert_eq!(
            sandbox("ftp://a.example.com/"),
            Err(UrlRefusal::Scheme { http_allowed: true })
        );
        assert_eq!(
            sandbox("https://user:pw@a.example.com/"),
            Err(UrlRefusal::Credentials)
        );
    }
}
