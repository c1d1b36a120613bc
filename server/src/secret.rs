//! Types that keep secrets out of logs, panics and error messages.

use std::{borrow::Cow, fmt};

use secrecy::{ExposeSecret, SecretString};

/// A database connection URL whose password never prints.
///
/// `Debug` and `Display` show the URL with the password replaced by `***`; the real value is
/// only reachable through [`DatabaseUrl::expose`], which callers use to open connections.
#[derive(Clone)]
pub struct DatabaseUrl {
    secret: SecretString,
    redacted: String,
}

impl DatabaseUrl {
    /// Wraps a URL, computing its redacted form once.
    pub fn new(raw: impl Into<String>) -> Self {
        let raw: String = raw.into();
        let redacted = redact_url(&raw);
        Self {
            secret: SecretString::from(raw),
            redacted,
        }
    }

    /// The full URL including any password. Only for opening connections.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The URL with its password masked: safe for logs and error messages.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Masks the password of a URL (`postgres://user:***@host/db`), and any `password=` query
/// parameter. A string that does not parse as a hierarchical URL is masked entirely after its
/// scheme, since we cannot tell which part is secret.
fn redact_url(raw: &str) -> String {
    if let Some(redacted) = redact_host_list(raw) {
        return redacted;
    }
    match url::Url::parse(raw) {
        // `scheme:opaque-text` has no structure to tell the secret part from the rest.
        Ok(url) if url.cannot_be_a_base() => format!("{}:***", url.scheme()),
        Ok(mut url) => {
            if url.password().is_some() {
                // set_password only fails for URLs that cannot have credentials.
                let _ = url.set_password(Some("***"));
            }
            let has_secret_param = url
                .query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"));
            if has_secret_param {
                let pairs = masked_pairs(url.query_pairs());
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        Err(_) => match raw.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:***"),
            None => "***".to_owned(),
        },
    }
}

/// Query parameters with the value of every `password` parameter masked.
fn masked_pairs<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Vec<(String, String)> {
    pairs
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") {
                "***".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect()
}

/// A libpq multi-host URL (`postgres://user:password@h1:5432,h2:5433/db`), which is no URL to
/// the `url` crate: the password between the first `:` and `@` of the user information, and
/// any `password=` parameter, masked by hand. `None` when `raw` has no host list.
fn redact_host_list(raw: &str) -> Option<String> {
    let (scheme, rest) = raw.split_once("://")?;
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (at, hosts_end) = crate::pg_url::split_authority(before_query);
    let host_start = at.map_or(0, |i| i + 1);
    let query_has_hosts = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "host" && v.contains(','))
    });
    if !before_query[host_start..hosts_end].contains(',') && !query_has_hosts {
        return None;
    }
    let mut out = format!("{scheme}://");
    if let Some(at) = at {
        match before_query[..at].split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@")),
            None => out.push_str(&before_query[..=at]),
        }
    }
    out.push_str(&before_query[host_start..]);
    if let Some(query) = query {
        let pairs = masked_pairs(url::form_urlencoded::parse(query.as_bytes()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        out.push('?');
        out.push_str(&query);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_host_urls_keep_their_hosts_and_mask_the_password() {
        let url = DatabaseUrl::new(
            "postgres://app:hunter2@db1:5432,db2:5433/cassa?target_session_attrs=read-write",
        );
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db1:5432,db2:5433/cassa?target_session_attrs=read-write"
        );
        let url = DatabaseUrl::new("postgresql:///cassa?host=a,b&password=hunter2&user=app");
        assert!(!url.redacted().contains("hunter2"), "{}", url.redacted());
        assert!(url.redacted().contains("host=a%2Cb"), "{}", url.redacted());
        let url = DatabaseUrl::new("postgres://app@db1,db2/cassa");
        assert_eq!(url.redacted(), "postgres://app@db1,db2/cassa");
        // A raw `@` in the password: no piece of it is shown as a host.
        let url = DatabaseUrl::new("postgres://app:p@ss:w0rd@db1,db2/cassa");
        assert_eq!(url.redacted(), "postgres://app:***@db1,db2/cassa");
    }

    #[test]
    fn password_is_masked_in_debug_and_display() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db.internal:5432/cassa");
        assert_eq!(url.to_string(), "postgres://app:***@db.internal:5432/cassa");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            url.expose(),
            "postgres://app:hunter2@db.internal:5432/cassa"
        );
    }

    #[test]
    fn password_query_parameter_is_masked() {
        let url = DatabaseUrl::new("postgres://db/cassa?user=app&password=hunter2&sslmode=require");
        assert!(!url.redacted().contains("hunter2"));
        assert!(url.redacted().contains("sslmode=require"));
    }

    #[test]
    fn urls_without_password_are_unchanged() {
        let url = DatabaseUrl::new("sqlite://data/cassa.db");
        assert_eq!(url.redacted(), "sqlite://data/cassa.db");
    }

    #[test]
    fn unparseable_urls_are_masked_after_the_scheme() {
        let url = DatabaseUrl::new("postgres:user:pass@@@");
        assert_eq!(url.redacted(), "postgres:***");
    }
}
