//! The client's address: the TCP peer, unless the peer is a configured trusted proxy, in which
//! case the nearest untrusted hop of `X-Forwarded-For`.
//!
//! Forwarded headers are ignored entirely without `CASSA_TRUSTED_PROXIES`: anyone can send
//! them, so believing them from an untrusted peer would let a client pick its own limiter key.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use http::HeaderMap;

/// IP addresses and CIDR ranges of the reverse proxies in front of this server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0
            .iter()
            .any(|(net, prefix)| mask(ip, *prefix) == Some(*net))
    }

    /// Whether none are configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `ip` with only its first `prefix` bits kept; `None` across address families.
fn mask(ip: IpAddr, prefix: u8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) if prefix <= 32 => {
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(v4) & kept)))
        }
        IpAddr::V6(v6) if prefix <= 128 => {
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & kept)))
        }
        _ => None,
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`; empty means none.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (entry, None),
            };
            let ip = IpAddr::from_str(addr)
                .map_err(|_| entry.to_owned())?
                .to_canonical();
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| entry.to_owned())?,
                None => max,
            };
            let net = mask(ip, prefix).ok_or_else(|| entry.to_owned())?;
            nets.push((net, prefix));
        }
        Ok(Self(nets))
    }
}

/// The client address of a request whose TCP peer is `peer`.
///
/// Behind trusted proxies, `X-Forwarded-For` is read from the right (the hop our proxy
/// appended) and the first address that is not itself a trusted proxy is the client; what lies
/// to its left was written by the client and is never believed.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match IpAddr::from_str(hop) {
            Ok(ip) => {
                client = ip.to_canonical();
                if !trusted.contains(client) {
                    break;
                }
            }
            // A malformed hop ends the trusted chain: the last good address is the client.
            Err(_) => break,
        }
    }
    client
}

/// The limiter key of an address: IPv6 clients usually hold a whole /64, so they share one.
pub fn limiter_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(_) => mask(ip, 64).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &xff("1.1.1.1"), &none),
            ip("203.0.113.7")
        );
        assert_eq!(client_ip(None, &xff("1.1.1.1"), &none), ip("0.0.0.0"));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &xff("1.1.1.1"), &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse().unwrap();
        let peer = Some(ip("10.1.2.3"));
        // The client forged the leftmost entry; the proxies appended the rest.
        let headers = xff("6.6.6.6, 198.51.100.9, 192.168.1.1");
        assert_eq!(client_ip(peer, &headers, &trusted), ip("198.51.100.9"));
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(peer, &xff("198.51.100.9, junk"), &trusted),
            ip("10.1.2.3")
        );
        // Mapped IPv4 peers match IPv4 ranges.
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &xff("198.51.100.9"), &trusted),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn trusted_proxy_lists_parse_strictly() {
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        let parsed: TrustedProxies = "127.0.0.1, fd00::/8".parse().unwrap();
        assert!(parsed.contains(ip("127.0.0.1")));
        assert!(!parsed.contains(ip("127.0.0.2")));
        assert!(parsed.contains(ip("fd12::1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("example.com".parse::<TrustedProxies>().is_err());
        let everything: TrustedProxies = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("8.8.8.8")));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            limiter_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(limiter_key(ip("198.51.100.9")), ip("198.51.100.9"));
    }
}
