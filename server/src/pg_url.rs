//! libpq's multi-host connection URIs, which sqlx 0.8 does not read:
//! `postgres://user@host1:5432,host2:5433/db?target_session_attrs=read-write`.
//!
//! The URL is split into one single-host [`PgConnectOptions`] per listed host, in order, plus
//! what the server must be for Cassa to use it ([`SessionAttrs`]). Everything else (user,
//! password, database, `sslmode`, …) is left to sqlx's own parser, so a single-host URL means
//! exactly what it meant before. Error messages name hosts and ports, never the password.

use std::{str::FromStr, time::Duration};

use sqlx::postgres::PgConnectOptions;

/// How long one host gets to accept a connection while the list is probed, unless the URL's
/// `connect_timeout` says otherwise. libpq waits forever by default; a failover cannot.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// libpq's `target_session_attrs`, restricted to what a writer can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionAttrs {
    /// Any server that accepts the connection (libpq's default).
    Any,
    /// A server whose sessions may write (`transaction_read_only` is off).
    ReadWrite,
    /// A server that is not in recovery (not a standby).
    Primary,
}

impl SessionAttrs {
    /// The value as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionAttrs::Any => "any",
            SessionAttrs::ReadWrite => "read-write",
            SessionAttrs::Primary => "primary",
        }
    }
}

/// One host of the list.
#[derive(Clone, Debug)]
pub struct PgHost {
    /// `host:port` (or the socket folder and port), for logs: never the password.
    pub name: String,
    /// Everything needed to open a connection to that host.
    pub options: PgConnectOptions,
}

/// A parsed PostgreSQL URL: its hosts in the order given, and what the chosen one must be.
#[derive(Clone, Debug)]
pub struct PgTargets {
    /// At least one host.
    pub hosts: Vec<PgHost>,
    /// What a server must be for Cassa to use it.
    pub attrs: SessionAttrs,
    /// How long one host gets to accept a connection while the list is probed.
    pub connect_timeout: Duration,
}

/// Why a PostgreSQL URL cannot be used. Never holds the password.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PgUrlError {
    /// Not `postgres://…` or `postgresql://…`.
    #[error("a PostgreSQL URL starts with postgres:// or postgresql://")]
    Scheme,
    /// A port is not a number from 1 to 65535.
    // The text is not echoed: a URL misread around its user information could put a piece of
    // the password there.
    #[error("the port of host {index} is not a number from 1 to 65535")]
    Port {
        /// 1-based position in the host list.
        index: usize,
    },
    /// An IPv6 address without its closing bracket, or with text after it.
    #[error("host {index} is not a valid [IPv6] address")]
    Ipv6 {
        /// 1-based position in the host list.
        index: usize,
    },
    /// The `port` parameter lists neither one port nor one per host.
    #[error("{ports} ports for {hosts} hosts: give one port, or one per host")]
    PortCount {
        /// Hosts listed.
        hosts: usize,
        /// Ports listed.
        ports: usize,
    },
    /// A `target_session_attrs` Cassa cannot work with.
    #[error(
        "target_session_attrs={0} is not supported: Cassa writes, so use read-write (or primary, or any)"
    )]
    SessionAttrs(String),
    /// `connect_timeout` is not a whole number of seconds.
    #[error("connect_timeout={0:?} is not a whole number of seconds")]
    ConnectTimeout(String),
    /// sqlx refused the rest of the URL.
    #[error("{0}")]
    Driver(String),
}

/// Where the user information ends (the index of its `@`, if any) and the path starts, in the
/// part of a URL after `scheme://` and before `?`. As the `url` crate (which sqlx parses a
/// single-host URL with) reads it: the authority ends at the first `/`, and the user
/// information at the LAST `@` in it, so a raw `@` in a password (`p@ss`) stays part of it
/// instead of becoming a host, and no piece of a password ever reaches an error or a log.
pub(crate) fn split_authority(before_query: &str) -> (Option<usize>, usize) {
    let path_start = before_query.find('/').unwrap_or(before_query.len());
    (before_query[..path_start].rfind('@'), path_start)
}

impl PgTargets {
    /// Parses `url` (libpq URI syntax, hosts separated by commas).
    pub fn parse(url: &str) -> Result<Self, PgUrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(PgUrlError::Scheme)?;
        if !matches!(scheme, "postgres" | "postgresql") {
            return Err(PgUrlError::Scheme);
        }
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (at, path_start) = split_authority(before_query);
        let authority_end = at.map_or(0, |at| at + 1);
        let userinfo = &before_query[..authority_end];
        let host_list = &before_query[authority_end..path_start];
        let path = &before_query[path_start..];

        let mut attrs = SessionAttrs::Any;
        let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        let mut host_param = None;
        let mut port_param = None;
        let mut passed_on = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "target_session_attrs" => {
                    attrs = match &*value {
                        "any" => SessionAttrs::Any,
                        "read-write" => SessionAttrs::ReadWrite,
                        "primary" => SessionAttrs::Primary,
                        other => return Err(PgUrlError::SessionAttrs(other.to_owned())),
                    }
                }
                "connect_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| PgUrlError::ConnectTimeout(value.to_string()))?;
                    // libpq: zero (or none) waits forever; here it keeps the default, since a
                    // host that never answers would stall the failover for good.
                    if secs > 0 {
                        // libpq: values under 2 are treated as 2.
                        connect_timeout = Duration::from_secs(secs.max(2));
                    }
                }
                "host" => host_param = Some(value.into_owned()),
                "port" => port_param = Some(value.into_owned()),
                _ => {
                    passed_on.append_pair(&key, &value);
                }
            }
        }
        let passed_on = passed_on.finish();

        // The query's `host` and `port` take precedence over the authority (as in libpq).
        let mut entries: Vec<(String, Option<String>)> = match &host_param {
            Some(hosts) => hosts.split(',').map(|h| (h.to_owned(), None)).collect(),
            None if host_list.is_empty() => Vec::new(),
            None => host_list
                .split(',')
                .enumerate()
                .map(|(i, entry)| split_host_port(entry, i + 1))
                .collect::<Result<_, _>>()?,
        };
        if let Some(ports) = &port_param {
            let ports: Vec<&str> = ports.split(',').collect();
            let count = entries.len().max(1);
            if entries.is_empty() {
                entries.push((String::new(), None));
            }
            match ports.len() {
                1 => entries
                    .iter_mut()
                    .for_each(|e| e.1 = Some(ports[0].to_owned())),
                n if n == count => entries
                    .iter_mut()
                    .zip(ports)
                    .for_each(|(e, p)| e.1 = Some(p.to_owned())),
                n => {
                    return Err(PgUrlError::PortCount {
                        hosts: count,
                        ports: n,
                    });
                }
            }
        }

        // sqlx reads user, password, database and the other parameters from a URL whose host
        // is a placeholder; each host then gets its own copy with its host and port.
        let query = if passed_on.is_empty() {
            String::new()
        } else {
            format!("?{passed_on}")
        };
        let base_url = format!("{scheme}://{userinfo}localhost{path}{query}");
        let base = PgConnectOptions::from_str(&base_url)
            .map_err(|e| PgUrlError::Driver(driver_message(&e)))?;

        if entries.is_empty() {
            // No host at all (`postgres:///db`): sqlx's defaults (PGHOST, PGPORT, localhost).
            let options =
                PgConnectOptions::from_str(&format!("{scheme}://{userinfo}{path}{query}"))
                    .map_err(|e| PgUrlError::Driver(driver_message(&e)))?;
            let name = format!("{}:{}", options.get_host(), options.get_port());
            return Ok(Self {
                hosts: vec![PgHost { name, options }],
                attrs,
                connect_timeout,
            });
        }
        let mut hosts = Vec::with_capacity(entries.len());
        for (i, (host, port)) in entries.into_iter().enumerate() {
            let index = i + 1;
            let port = match port.as_deref() {
                None | Some("") => base.get_port(),
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or(PgUrlError::Port { index })?,
            };
            let host = percent_decode(&host);
            let mut options = base.clone().port(port);
            options = if host.starts_with('/') {
                // A Unix socket folder, as libpq: `%2Fvar%2Frun%2Fpostgresql` or `?host=/…`.
                options.socket(&host)
            } else if host.is_empty() {
                options.host(base.get_host())
            } else {
                options.host(&host)
            };
            let shown = if host.is_empty() {
                base.get_host().to_owned()
            } else if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            hosts.push(PgHost {
                name: format!("{shown}:{port}"),
                options,
            });
        }
        Ok(Self {
            hosts,
            attrs,
            connect_timeout,
        })
    }

    /// Whether this is one host with no condition: the pool connects exactly as before
    /// multi-host URLs existed, with no probing.
    pub fn is_plain(&self) -> bool {
        self.hosts.len() == 1 && self.attrs == SessionAttrs::Any
    }

    /// The hosts for logs: `host1:5432,host2:5433`.
    pub fn names(&self) -> String {
        self.hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(entry: &str, index: usize) -> Result<(String, Option<String>), PgUrlError> {
    if let Some(inner) = entry.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or(PgUrlError::Ipv6 { index })?;
        return match after {
            "" => Ok((host.to_owned(), None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host.to_owned(), Some(port.to_owned()))),
                None => Err(PgUrlError::Ipv6 { index }),
            },
        };
    }
    Ok(match entry.split_once(':') {
        Some((host, port)) => (host.to_owned(), Some(port.to_owned())),
        None => (entry.to_owned(), None),
    })
}

/// `%XX` sequences decoded (host names and socket folders only: no `+` for space).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// sqlx's complaint about the rest of the URL. Its configuration errors describe the part
/// that failed (a parse error, an unknown `sslmode`), not the URL, so no password shows.
fn driver_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Configuration(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(url: &str) -> Vec<String> {
        PgTargets::parse(url)
            .unwrap()
            .hosts
            .into_iter()
            .map(|h| h.name)
            .collect()
    }

    // The examples of the PostgreSQL manual, "Connection URIs" (libpq, section 34.1.1.2).
    #[test]
    fn the_manuals_examples_parse() {
        assert_eq!(names("postgresql://localhost"), ["localhost:5432"]);
        assert_eq!(names("postgresql://localhost:5433"), ["localhost:5433"]);
        assert_eq!(names("postgresql://localhost/mydb"), ["localhost:5432"]);
        assert_eq!(names("postgresql://user@localhost"), ["localhost:5432"]);
        assert_eq!(
            names("postgresql://user:secret@localhost"),
            ["localhost:5432"]
        );
        let t = PgTargets::parse(
            "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
        )
        .unwrap();
        assert_eq!(t.connect_timeout, Duration::from_secs(10));
        assert_eq!(t.hosts[0].options.get_username(), "other");
        assert_eq!(t.hosts[0].options.get_database(), Some("otherdb"));
        assert_eq!(t.hosts[0].options.get_application_name(), Some("myapp"));
        let t = PgTargets::parse(
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
        )
        .unwrap();
        assert_eq!(t.attrs, SessionAttrs::Any);
        assert_eq!(t.names(), "host1:123,host2:456");
        for host in &t.hosts {
            assert_eq!(host.options.get_database(), Some("somedb"));
            assert_eq!(host.options.get_application_name(), Some("myapp"));
        }
        assert_eq!(
            names("postgresql:///mydb?host=localhost&port=5433"),
            ["localhost:5433"]
        );
        assert_eq!(
            names("postgresql://[2001:db8::1234]/database"),
            ["[2001:db8::1234]:5432"]
        );
        let t = PgTargets::parse("postgresql:///dbname?host=/var/lib/postgresql").unwrap();
        assert_eq!(
            t.hosts[0]
                .options
                .get_socket()
                .map(|p| p.display().to_string()),
            Some("/var/lib/postgresql".to_owned())
        );
        let t = PgTargets::parse("postgresql://%2Fvar%2Flib%2Fpostgresql/dbname").unwrap();
        assert_eq!(
            t.hosts[0]
                .options
                .get_socket()
                .map(|p| p.display().to_string()),
            Some("/var/lib/postgresql".to_owned())
        );
        assert_eq!(t.hosts[0].options.get_database(), Some("dbname"));
    }

    #[test]
    fn each_host_keeps_user_password_database_and_parameters() {
        let t = PgTargets::parse(
            "postgres://app:s%40cret@db1.internal:5432,db2.internal:5433,[::1]:5434/cassa\
             ?target_session_attrs=read-write&sslmode=disable",
        )
        .unwrap();
        assert_eq!(t.attrs, SessionAttrs::ReadWrite);
        assert_eq!(t.names(), "db1.internal:5432,db2.internal:5433,[::1]:5434");
        let hosts: Vec<(&str, u16)> = t
            .hosts
            .iter()
            .map(|h| (h.options.get_host(), h.options.get_port()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("db1.internal", 5432),
                ("db2.internal", 5433),
                ("::1", 5434)
            ]
        );
        for host in &t.hosts {
            assert_eq!(host.options.get_username(), "app");
            assert_eq!(host.options.get_database(), Some("cassa"));
            assert!(matches!(
                host.options.get_ssl_mode(),
                sqlx::postgres::PgSslMode::Disable
            ));
        }
        assert!(!t.is_plain());
    }

    #[test]
    fn ports_from_the_query_apply_to_every_host_or_one_each() {
        assert_eq!(
            names("postgresql:///db?host=a,b&port=6000"),
            ["a:6000", "b:6000"]
        );
        assert_eq!(
            names("postgresql:///db?host=a,b&port=6000,6001"),
            ["a:6000", "b:6001"]
        );
        assert_eq!(
            PgTargets::parse("postgresql:///db?host=a,b,c&port=1,2").unwrap_err(),
            PgUrlError::PortCount { hosts: 3, ports: 2 }
        );
        // A host without a port gets the default, as in libpq.
        assert_eq!(names("postgres://a,b:5433/db"), ["a:5432", "b:5433"]);
    }

    #[test]
    fn a_single_host_without_conditions_is_plain() {
        let t = PgTargets::parse("postgres://u:p@h/db").unwrap();
        assert!(t.is_plain());
        assert!(
            !PgTargets::parse("postgres://u:p@h/db?target_session_attrs=read-write")
                .unwrap()
                .is_plain()
        );
        assert_eq!(
            PgTargets::parse("postgres://h/db?target_session_attrs=primary")
                .unwrap()
                .attrs,
            SessionAttrs::Primary
        );
    }

    #[test]
    fn what_a_writer_cannot_use_is_refused_without_the_password() {
        for attrs in ["read-only", "standby", "prefer-standby", "bogus"] {
            let url = format!("postgres://app:hunter2@a,b/db?target_session_attrs={attrs}");
            let err = PgTargets::parse(&url).unwrap_err();
            assert_eq!(err, PgUrlError::SessionAttrs(attrs.to_owned()));
            assert!(!err.to_string().contains("hunter2"));
        }
        let err = PgTargets::parse("postgres://app:hunter2@a:5432,b:54x/db").unwrap_err();
        assert_eq!(err, PgUrlError::Port { index: 2 });
        assert!(!err.to_string().contains("hunter2"));
        // A raw `@` (and `:`) in the password is read as the `url` crate reads it: up to the
        // last `@` of the authority, never as a host or a port.
        for password in ["p@ss", "p@ss:w0rd", "a@b@c"] {
            let url = format!("postgres://app:{password}@db1:5432,db2/cassa");
            let targets = PgTargets::parse(&url).unwrap();
            let names: Vec<&str> = targets.hosts.iter().map(|h| h.name.as_str()).collect();
            assert_eq!(names, ["db1:5432", "db2:5432"], "{password}");
            let single = PgTargets::parse(&format!("postgres://app:{password}@db/cassa")).unwrap();
            assert_eq!(single.hosts[0].name, "db:5432", "{password}");
        }
        let err = PgTargets::parse("postgres://app:p@ss:w0rd@db:x/cassa").unwrap_err();
        assert_eq!(err, PgUrlError::Port { index: 1 });
        assert!(!err.to_string().contains("w0rd"));
        let err = PgTargets::parse("postgres://app:hunter2@[::1/db").unwrap_err();
        assert_eq!(err, PgUrlError::Ipv6 { index: 1 });
        let err = PgTargets::parse("postgres://app:hunter2@a/db?sslmode=sometimes").unwrap_err();
        assert!(matches!(err, PgUrlError::Driver(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            PgTargets::parse("postgres://a/db?connect_timeout=soon").unwrap_err(),
            PgUrlError::ConnectTimeout("soon".into())
        );
        assert_eq!(
            PgTargets::parse("mysql://a/db").unwrap_err(),
            PgUrlError::Scheme
        );
    }
}
