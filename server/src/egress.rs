//! Outbound HTTP (provider calls, the sandbox PSP's webhook deliveries), guarded so that nothing
//! a store can configure aims this server at hosts it should not reach (SSRF).
//!
//! Three rules, each enforced where it cannot be bypassed:
//! - **Allow-list** (provider base URLs): the host must be this server's own address or listed
//!   in `CASSA_PROVIDER_ALLOWED_HOSTS`; checked when credentials are written and again every
//!   time a client is built from them.
//! - **Address rule** (every request): loopback, private, link-local (cloud metadata),
//!   shared, multicast and reserved addresses are refused; only this server's exact own
//!   `ip:port` is exempt, so the in-process sandbox PSP stays reachable in development and
//!   tests. IP-literal hosts are checked before sending; names are checked by the client's DNS
//!   resolver, which hands the connector only the public addresses a name resolved to, so a
//!   name cannot be re-pointed between the check and the connection (DNS rebinding).
//! - **Client**: no redirects (a 3xx is an answer, never a new destination), no proxy from the
//!   environment (a proxy would resolve names itself, past the resolver), and answers read up
//!   to a cap.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use url::{Host, Url};

/// Largest provider or webhook answer read; a real one is a few hundred bytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why an outbound request is refused or its answer unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not an absolute http(s) URL without credentials in it.
    #[error("must be an http(s) URL without user info")]
    InvalidUrl,
    /// The host is neither this server nor in `CASSA_PROVIDER_ALLOWED_HOSTS`.
    #[error("host {0} is not in CASSA_PROVIDER_ALLOWED_HOSTS")]
    HostNotAllowed(String),
    /// The address is loopback, private, link-local or otherwise internal.
    #[error("address {0} is internal and may not be called")]
    InternalAddress(IpAddr),
    /// The answer is larger than [`MAX_RESPONSE_BYTES`].
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    ResponseTooLarge,
    /// Reading the answer failed.
    #[error("reading the answer failed: {0}")]
    Read(String),
    /// A `CASSA_PROVIDER_ALLOWED_HOSTS` entry is not `host` or `host:port`.
    #[error("CASSA_PROVIDER_ALLOWED_HOSTS entry {0:?} is not host or host:port")]
    InvalidAllowEntry(String),
}

/// One `CASSA_PROVIDER_ALLOWED_HOSTS` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    /// Lower-case host as the `url` crate spells it (IPv6 in brackets).
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl AllowedHost {
    fn parse(entry: &str) -> Result<Self, EgressError> {
        let invalid = || EgressError::InvalidAllowEntry(entry.to_owned());
        if entry.is_empty() || entry.contains(['/', '@', '?', '#']) {
            return Err(invalid());
        }
        let url = Url::parse(&format!("http://{entry}")).map_err(|_| invalid())?;
        let host = url.host_str().ok_or_else(invalid)?.to_ascii_lowercase();
        // `Url::port` hides a default port (`:80`), so the explicit one is read from the entry.
        let port = match entry.rsplit_once(':') {
            Some((head, tail))
                if !tail.is_empty()
                    && tail.bytes().all(|b| b.is_ascii_digit())
                    && (!head.contains(':') || head.ends_with(']')) =>
            {
                Some(tail.parse().map_err(|_| invalid())?)
            }
            _ => None,
        };
        Ok(Self { host, port })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

/// The guarded outbound client and its rules; one per process, in `AppState`.
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    own: SocketAddr,
    allowed: Arc<Vec<AllowedHost>>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("own", &self.own)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl Egress {
    /// The rules for a server reachable at `own` (its self-call address) with the configured
    /// allow-list entries.
    pub fn new(own: SocketAddr, allowed_hosts: &[String]) -> Result<Self, EgressError> {
        let allowed = allowed_hosts
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(AllowedHost::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| EgressError::Read(e.to_string()))?;
        Ok(Self {
            client,
            own,
            allowed: Arc::new(allowed),
        })
    }

    /// A request to `url` after the address rule; every outbound request is made here.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, EgressError> {
        let parsed = self.check_address(url)?;
        // A request about to wait on another service gives back a held database connection
        // rather than keep it idle meanwhile (see `db::held`).
        crate::db::held::release();
        Ok(self.client.request(method, parsed))
    }

    /// [`Egress::request`] without the exemption of this server's own address: for URLs a
    /// store chose that must reach the public internet only (production webhook endpoints).
    pub fn request_public(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, EgressError> {
        let parsed = self.check_address(url)?;
        if let Some(ip) = ip_of(&parsed).filter(|ip| is_internal(*ip)) {
            return Err(EgressError::InternalAddress(ip));
        }
        crate::db::held::release();
        Ok(self.client.request(method, parsed))
    }

    /// The guarded client itself (public-only resolver, no redirects, no proxy), for a caller
    /// that applies the address rule through its own policy first: the mounted sandbox PSP,
    /// whose delivery policy calls [`Egress::check_provider_url`].
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Whether a store may point a provider client at `base_url`: the allow-list and the
    /// address rule.
    pub fn check_provider_url(&self, base_url: &str) -> Result<(), EgressError> {
        let url = self.check_address(base_url)?;
        let (host, port) = host_port(&url)?;
        if self.is_own(&url) || self.allowed.iter().any(|a| a.matches(&host, port)) {
            Ok(())
        } else {
            Err(EgressError::HostNotAllowed(host))
        }
    }

    /// The address rule for what can be checked before connecting: the scheme, no user info,
    /// and IP-literal hosts (names are checked by the resolver).
    fn check_address(&self, raw: &str) -> Result<Url, EgressError> {
        let url = Url::parse(raw).map_err(|_| EgressError::InvalidUrl)?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(EgressError::InvalidUrl);
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(url),
            None => return Err(EgressError::InvalidUrl),
        };
        if is_internal(ip) && !self.is_own(&url) {
            return Err(EgressError::InternalAddress(ip));
        }
        Ok(url)
    }

    /// This server's exact address (IP literal and port), as it calls itself.
    pub fn is_own(&self, url: &Url) -> bool {
        let Some(ip) = ip_of(url) else {
            return false;
        };
        url.port_or_known_default() == Some(self.own.port()) && ip == self.own.ip()
    }
}

/// The address of an IP-literal host (`None` for a name).
fn ip_of(url: &Url) -> Option<IpAddr> {
    match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

fn host_port(url: &Url) -> Result<(String, u16), EgressError> {
    let host = url
        .host_str()
        .ok_or(EgressError::InvalidUrl)?
        .to_ascii_lowercase();
    let port = url.port_or_known_default().ok_or(EgressError::InvalidUrl)?;
    Ok((host, port))
}

/// Reads `response`'s body up to [`MAX_RESPONSE_BYTES`]; a larger one is an error, never a
/// silently truncated answer.
pub async fn read_capped(response: reqwest::Response) -> Result<String, EgressError> {
    let body = read_capped_bytes(response).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// [`read_capped`] for a binary body (a label document).
pub async fn read_capped_bytes(mut response: reqwest::Response) -> Result<Vec<u8>, EgressError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
    {
        return Err(EgressError::ResponseTooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| EgressError::Read(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(EgressError::ResponseTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// DNS resolution that keeps only public addresses, so the connector never sees an internal
/// one whatever a name resolves to (and whenever: this runs at connect time).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| !is_internal(addr.ip()))
                .collect();
            if public.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to internal addresses").into();
                return Err(refused);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Loopback, private, link-local (including 169.254.169.254 metadata), shared (CGNAT,
/// 100.100.100.200 metadata), multicast, broadcast, documentation, benchmarking and reserved
/// addresses; IPv6 forms that embed an IPv4 address are judged by it.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = segments;
        return is_internal_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if segments[0] == 0x2002 {
        return is_internal_v4(Ipv4Addr::from(
            (u32::from(segments[1]) << 16) | u32::from(segments[2]),
        ));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // IPv4-compatible (::a.b.c.d, deprecated) and the rest of ::/96.
        || segments[..6] == [0, 0, 0, 0, 0, 0]
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(allowed: &[&str]) -> Egress {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        Egress::new("127.0.0.1:3000".parse().unwrap(), &allowed).unwrap()
    }

    #[test]
    fn internal_addresses_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_the_own_address_is_exempt_and_only_exactly() {
        let e = egress(&[]);
        assert!(
            e.check_provider_url("http://127.0.0.1:3000/sandbox-psp")
                .is_ok()
        );
        for url in [
            "http://127.0.0.1:3001/sandbox-psp",
            "http://2130706433:3001/",
            "http://[::1]:3000/",
            "http://localhost:3000/",
            "http://169.254.169.254/latest",
            "http://user:pw@127.0.0.1:3000/",
            "ftp://127.0.0.1:3000/",
            "http://psp.example.com/",
        ] {
            assert!(e.check_provider_url(url).is_err(), "{url}");
        }
        // Odd spellings are parsed to the address they reach, then judged like it.
        assert!(e.check_provider_url("http://2130706433:3000/").is_ok());
        assert!(e.check_provider_url("http://0x7f.1:3001/").is_err());
    }

    #[test]
    fn the_public_request_never_exempts_the_own_address() {
        let e = egress(&[]);
        let post = || reqwest::Method::POST;
        assert!(e.request(post(), "http://127.0.0.1:3000/hook").is_ok());
        assert_eq!(
            e.request_public(post(), "http://127.0.0.1:3000/hook").err(),
            Some(EgressError::InternalAddress("127.0.0.1".parse().unwrap()))
        );
        assert!(e.request_public(post(), "http://10.0.0.1/hook").is_err());
        assert!(
            e.request_public(post(), "https://93.184.216.34/hook")
                .is_ok()
        );
        assert!(
            e.request_public(post(), "https://hooks.example.com/")
                .is_ok()
        );
    }

    #[test]
    fn allow_list_entries_match_host_and_optional_port() {
        let e = egress(&["psp.example.com", "Other.Example.com:8443", "10.0.0.5:443"]);
        assert!(e.check_provider_url("https://psp.example.com/v1").is_ok());
        assert!(e.check_provider_url("http://psp.example.com:8080").is_ok());
        assert!(
            e.check_provider_url("https://other.example.com:8443")
                .is_ok()
        );
        assert!(e.check_provider_url("https://other.example.com").is_err());
        // The allow-list never overrides the address rule.
        assert_eq!(
            e.check_provider_url("https://10.0.0.5/"),
            Err(EgressError::InternalAddress("10.0.0.5".parse().unwrap()))
        );
        assert!(Egress::new("127.0.0.1:1".parse().unwrap(), &["http://x/".to_owned()]).is_err());
    }
}
