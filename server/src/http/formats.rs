//! OpenAPI 3.1 reads JSON Schema 2020-12, where `format` only annotates: `""` is a valid
//! `format: date` string to any validator, and so to a client generator or the API fuzzer. The
//! server refuses it. Each format the API uses is paired here with the `pattern` that asserts
//! its shape, added to every schema that names the format and sets no pattern of its own.

use serde_json::Value;

/// (format, pattern): the shapes the server parses.
const PATTERNS: &[(&str, &str)] = &[
    ("date", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    (
        "date-time",
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$",
    ),
    (
        "uuid",
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    ),
    ("email", EMAIL),
];

/// An RFC 5322 dot-atom local part of at most 64 octets (RFC 5321; the lookahead) and a domain
/// of letters, digits and inner hyphens between dots: what `Email::parse` accepts.
const EMAIL: &str = concat!(
    "^(?=[^@]{1,64}@)",
    "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    "@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$",
);

/// Adds the patterns of [`PATTERNS`] throughout the document.
pub fn add_patterns(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let pattern = map
                .get("format")
                .and_then(Value::as_str)
                .and_then(|format| PATTERNS.iter().find(|(f, _)| *f == format))
                .map(|(_, pattern)| *pattern);
            if let Some(pattern) = pattern {
                map.entry("pattern").or_insert_with(|| pattern.into());
            }
            // An address is at most 254 octets (RFC 5321); the pattern cannot say so.
            if map.get("format").and_then(Value::as_str) == Some("email") {
                map.entry("maxLength").or_insert_with(|| 254.into());
            }
            map.values_mut().for_each(add_patterns);
        }
        Value::Array(items) => items.iter_mut().for_each(add_patterns),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern as the `regex` crate reads it: it has no lookahead, so the email's length
    /// check is left to `Email::parse` in the test below.
    fn compiled(format: &str) -> regex::Regex {
        let (_, pattern) = PATTERNS.iter().find(|(f, _)| *f == format).unwrap();
        regex::Regex::new(&pattern.replace("(?=[^@]{1,64}@)", "")).unwrap()
    }

    #[test]
    fn each_pattern_accepts_what_the_server_parses_and_refuses_the_empty_string() {
        let cases = [
            ("date", "2026-12-04", "2026-12-4"),
            ("date-time", "2026-12-04T16:45:14.906Z", "2026-12-04"),
            ("date-time", "2026-12-04T16:45:14+01:00", "2026-12-04T16:45"),
            (
                "uuid",
                "01a241f1-ef92-73fb-9f91-0a9cf699aaf1",
                "01a241f1ef9273fb",
            ),
            ("email", "owner@example.com", "owner@"),
            ("email", "o.w+ner@xn--bcher-kva.example", "a,b@example.com"),
            ("email", "a@b.example", "a@-b.example"),
        ];
        for (format, good, bad) in cases {
            let re = compiled(format);
            assert!(re.is_match(good), "{format}: {good}");
            assert!(!re.is_match(bad), "{format}: {bad}");
            assert!(!re.is_match(""), "{format} accepts the empty string");
        }
        // The server reads what the patterns accept, and refuses what they refuse.
        assert!(chrono::NaiveDate::parse_from_str("2026-12-04", "%Y-%m-%d").is_ok());
        assert!(chrono::DateTime::parse_from_rfc3339("2026-12-04T16:45:14+01:00").is_ok());
        for good in ["owner@example.com", "o.w+ner@xn--bcher-kva.example"] {
            assert!(crate::types::Email::parse(good).is_ok(), "{good}");
        }
        for bad in ["a,b@example.com", "a@-b.example", "a..b@example.com"] {
            assert!(crate::types::Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(crate::types::Email::parse(&long).is_err());
        assert!(EMAIL.starts_with("^(?=[^@]{1,64}@)"));
    }

    #[test]
    fn patterns_are_added_beside_formats_and_never_replace_one() {
        let mut doc = serde_json::json!({
            "a": {"type": "string", "format": "date"},
            "b": [{"type": "string", "format": "uuid", "pattern": "^x$"}],
        });
        add_patterns(&mut doc);
        assert_eq!(doc["a"]["pattern"], PATTERNS[0].1);
        assert_eq!(doc["b"][0]["pattern"], "^x$");
    }
}
