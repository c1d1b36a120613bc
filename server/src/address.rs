//! Postal addresses, normalized before use (DESIGN §6): trimmed lines, ISO 3166-1 alpha-2
//! country, upper-cased postal and subdivision codes. Invalid input names the field.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::types::InvalidValue;

/// An address as a client sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AddressInput {
    /// Recipient (required where the address is stored: orders, the ship-from address).
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// First line (required).
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub line1: Option<String>,
    /// Second line.
    pub line2: Option<String>,
    /// City or locality (required).
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub city: Option<String>,
    /// State, province or region code (e.g. `CA`, `BY`).
    #[schema(pattern = "^[A-Za-z0-9 -]{0,3}$")]
    pub subdivision: Option<String>,
    /// Postal code.
    #[schema(pattern = "^[A-Za-z0-9 -]{0,12}$")]
    pub postal_code: Option<String>,
    /// Country: ISO 3166-1 alpha-2 (`US`), alpha-3 (`USA`) or a common English name.
    #[schema(schema_with = country_input_schema, required = true)]
    pub country: Option<String>,
}

/// A normalized address: every value here is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    /// Recipient.
    pub name: String,
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// City or locality.
    pub city: String,
    /// Upper-cased subdivision code, when given.
    pub subdivision: Option<String>,
    /// Upper-cased postal code, single-spaced, when given.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Names people commonly write that are not the ISO short names.
const ALIASES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("usa", "US"),
    ("u.s.a.", "US"),
    ("u.s.", "US"),
    ("america", "US"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("north korea", "KP"),
    ("russia", "RU"),
    ("vietnam", "VN"),
    ("holland", "NL"),
    ("the netherlands", "NL"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("iran", "IR"),
    ("syria", "SY"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
    ("laos", "LA"),
    ("taiwan", "TW"),
];

/// Resolves a country written as alpha-2, alpha-3 or a name to its alpha-2 code.
pub fn country_code(raw: &str) -> Option<&'static str> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    let upper = text.to_uppercase();
    let lower = text.to_lowercase();
    let codes = country_table();
    let found = match upper.len() {
        2 => codes.iter().find(|c| c.0 == upper),
        3 => codes.iter().find(|c| c.1 == upper),
        _ => None,
    };
    if let Some(code) = found {
        return Some(code.0);
    }
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return codes.iter().find(|c| c.0 == *code).map(|c| c.0);
    }
    codes
        .iter()
        .find(|c| c.2.to_lowercase() == lower)
        .map(|c| c.0)
}

/// The documented schema of a country as a client may write it: the ISO 3166-1 alpha-2 and
/// alpha-3 codes (the common English names [`country_code`] also reads are left out of the
/// list).
pub fn country_input_schema() -> utoipa::openapi::Object {
    let table = country_table();
    let codes = table.iter().map(|c| c.0).chain(table.iter().map(|c| c.1));
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(codes))
        .build()
}

/// The documented schema of an ISO 3166-1 alpha-2 code.
pub fn alpha2_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(country_table().iter().map(|c| c.0)))
        .build()
}

/// The documented schema of an ISO 3166-1 alpha-2 code or `*` (anywhere).
pub fn alpha2_or_anywhere_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            std::iter::once("*").chain(country_table().iter().map(|c| c.0)),
        ))
        .build()
}

/// (alpha-2, alpha-3, name) from the ISO 3166-1 table of the `iso_country` crate.
fn country_table() -> &'static [(&'static str, &'static str, &'static str)] {
    static TABLE: std::sync::OnceLock<Vec<(&'static str, &'static str, &'static str)>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        iso_country::data::all()
            .into_iter()
            .map(|c| (c.alpha2, c.alpha3, c.name))
            .collect()
    })
}

fn clean(value: Option<&str>) -> Option<String> {
    value
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
}

fn required(field: &'static str, value: Option<&str>) -> Result<String, InvalidValue> {
    let value = clean(value).ok_or_else(|| InvalidValue::new(field, "is required"))?;
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            field,
            "must be at most 200 printable characters",
        ));
    }
    Ok(value)
}

fn code(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, InvalidValue> {
    match clean(value) {
        None => Ok(None),
        Some(v) => {
            let v = v.to_uppercase();
            let ok = v.len() <= max
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
            if ok {
                Ok(Some(v))
            } else {
                Err(InvalidValue::new(
                    field,
                    format!("must be up to {max} letters, digits, spaces or dashes"),
                ))
            }
        }
    }
}

impl AddressInput {
    /// Normalizes, or names the first invalid field (`shipping_address.<field>` by the caller).
    pub fn normalize(&self) -> Result<Address, InvalidValue> {
        let country_raw = self
            .country
            .as_deref()
            .ok_or_else(|| InvalidValue::new("country", "is required"))?;
        let country = country_code(country_raw)
            .ok_or_else(|| InvalidValue::new("country", "must be an ISO 3166-1 country"))?;
        Ok(Address {
            name: required("name", self.name.as_deref())?,
            line1: required("line1", self.line1.as_deref())?,
            line2: clean(self.line2.as_deref()),
            city: required("city", self.city.as_deref())?,
            subdivision: code("subdivision", self.subdivision.as_deref(), 3)?,
            postal_code: code("postal_code", self.postal_code.as_deref(), 12)?,
            country: country.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_resolve_from_codes_and_names() {
        for (raw, code) in [
            ("us", "US"),
            ("USA", "US"),
            (" United States ", "US"),
            ("United States of America", "US"),
            ("deu", "DE"),
            ("Germany", "DE"),
            ("uk", "GB"),
            ("GBR", "GB"),
            ("Japan", "JP"),
        ] {
            assert_eq!(country_code(raw), Some(code), "{raw}");
        }
        for bad in ["", "XX", "Atlantis", "U"] {
            assert_eq!(country_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_are_trimmed_and_upper_cased() {
        let input = AddressInput {
            name: Some("  Ada   Lovelace ".into()),
            line1: Some(" 12  Main St ".into()),
            line2: Some("   ".into()),
            city: Some(" Springfield".into()),
            subdivision: Some(" ca ".into()),
            postal_code: Some(" sw1a  1aa ".into()),
            country: Some("united kingdom".into()),
        };
        let address = input.normalize().unwrap();
        assert_eq!(address.name, "Ada Lovelace");
        assert_eq!(address.line1, "12 Main St");
        assert_eq!(address.line2, None);
        assert_eq!(address.subdivision.as_deref(), Some("CA"));
        assert_eq!(address.postal_code.as_deref(), Some("SW1A 1AA"));
        assert_eq!(address.country, "GB");
    }

    #[test]
    fn invalid_fields_are_named() {
        let valid = AddressInput {
            name: Some("A".into()),
            line1: Some("1 St".into()),
            city: Some("X".into()),
            country: Some("US".into()),
            ..Default::default()
        };
        assert!(valid.normalize().is_ok());
        let cases: Vec<(AddressInput, &str)> = vec![
            (
                AddressInput {
                    country: Some("Narnia".into()),
                    ..valid.clone()
                },
                "country",
            ),
            (
                AddressInput {
                    country: None,
                    ..valid.clone()
                },
                "country",
            ),
            (
                AddressInput {
                    line1: Some("  ".into()),
                    ..valid.clone()
                },
                "line1",
            ),
            (
                AddressInput {
                    city: None,
                    ..valid.clone()
                },
                "city",
            ),
            (
                AddressInput {
                    postal_code: Some("12345$".into()),
                    ..valid.clone()
                },
                "postal_code",
            ),
            (
                AddressInput {
                    subdivision: Some("CALIF".into()),
                    ..valid.clone()
                },
                "subdivision",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(input.normalize().unwrap_err().field, field);
        }
    }
}
