//! Value types shared by every capability: ids, environments, currencies, emails.
//! Parse, don't validate: a value of these types is valid by construction.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Declares a UUIDv7 id newtype that is transparent in JSON and in both databases.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, sqlx::Type, ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A store (tenant).
    StoreId
);
id_type!(
    /// A console user.
    UserId
);
id_type!(
    /// A store API key.
    ApiKeyId
);
id_type!(
    /// A store's customer.
    CustomerId
);
id_type!(
    /// A catalogue product.
    ProductId
);
id_type!(
    /// A customer's order.
    OrderId
);
id_type!(
    /// A checkout snapshot.
    SnapshotId
);
id_type!(
    /// A payment intent.
    PaymentIntentId
);
id_type!(
    /// A provider operation in the payments ledger.
    TransactionId
);
id_type!(
    /// A shipment: the label bought for an order's packages and its tracking.
    ShipmentId
);
id_type!(
    /// A customer's tax exemption certificate, as recorded.
    TaxExemptionId
);
id_type!(
    /// A reconciliation run.
    ReconciliationRunId
);
id_type!(
    /// A reconciliation item (an exception a run found).
    ReconciliationItemId
);
id_type!(
    /// An imported exchange rate.
    FxRateId
);
id_type!(
    /// A shipping rate offered for an order (from a carrier or the store's rate table).
    ShippingRateId
);
id_type!(
    /// A store's outbound webhook endpoint.
    WebhookEndpointId
);
id_type!(
    /// One outbound event's delivery to one webhook endpoint.
    WebhookDeliveryId
);
id_type!(
    /// An event in a store's outbox (outbound webhooks); on the wire `evt_<hex>`.
    OutboundEventId
);

/// A closed set of values stored as text (statuses, kinds, environments). Reading a value the
/// type does not know is a decoding error, never a default: a row the code cannot interpret
/// must stop the flow, not be mistaken for another state.
pub trait TextValue: Sized + 'static {
    /// The stored text.
    fn as_text(&self) -> &'static str;
    /// The value for stored text, `None` when unknown.
    fn from_text(text: &str) -> Option<Self>;
}

/// Implements `sqlx::Type`, `Encode` and `Decode` for a [`TextValue`] on both drivers, so rows
/// carry the enum and binds take it directly.
#[macro_export]
macro_rules! text_value_sql {
    ($ty:ty) => {
        impl sqlx::Type<sqlx::Sqlite> for $ty {
            fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
                <str as sqlx::Type<sqlx::Sqlite>>::type_info()
            }
            fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Sqlite>>::compatible(ty)
            }
        }
        impl sqlx::Type<sqlx::Postgres> for $ty {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Sqlite>>::encode(
                    $crate::types::TextValue::as_text(self),
                    buf,
                )
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Postgres as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode(
                    $crate::types::TextValue::as_text(self),
                    buf,
                )
            }
        }
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                <$ty as $crate::types::TextValue>::from_text(text)
                    .ok_or_else(|| format!("unknown {} value {text:?}", stringify!($ty)).into())
            }
        }
    };
}

/// Which side of a store a credential acts on. Data never crosses environments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Test mode: sandbox provider, `sk_test_` keys.
    Sandbox,
    /// Live mode: real providers, `sk_live_` keys.
    Production,
}

impl Environment {
    /// Database and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }

    /// Prefix of this environment's secret keys.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Environment::Sandbox => "sk_test_",
            Environment::Production => "sk_live_",
        }
    }
}

impl TextValue for Environment {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}
crate::text_value_sql!(Environment);

impl FromStr for Environment {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Environment::Sandbox),
            "production" => Ok(Environment::Production),
            _ => Err(InvalidValue::new(
                "environment",
                "must be sandbox or production",
            )),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that failed to parse, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.path())]
pub struct InvalidValue {
    /// The offending field (`rates.amount` for a field of a list's rows).
    pub field: &'static str,
    /// Why it was rejected.
    pub message: String,
    /// Which row of a list the field is in, counted from 0: a table of rates is refused row by
    /// row, and whoever fixes it (an API client or the console's editor) needs to know which.
    pub row: Option<usize>,
}

impl InvalidValue {
    /// An error about `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            row: None,
        }
    }

    /// The same error, about row `row` of the list its field's first segment names.
    pub fn in_row(self, row: usize) -> Self {
        Self {
            row: Some(row),
            ..self
        }
    }

    /// The field as problem responses name it: `rates[2].amount` for row 2's amount.
    pub fn path(&self) -> String {
        match (self.row, self.field.split_once('.')) {
            (None, _) => self.field.to_owned(),
            (Some(row), Some((list, rest))) => format!("{list}[{row}].{rest}"),
            (Some(row), None) => format!("{}[{row}]", self.field),
        }
    }
}

/// The documented schema of a text filter in a query string: one of `values`, or empty for no
/// filter (a console form's unset select sends `status=`).
pub fn filter_schema(values: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let values: Vec<&'static str> = std::iter::once("").chain(values).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// A display name (of a store, key, customer or product): trimmed, 1 to 200 characters.
pub fn parse_name(field: &'static str, raw: &str) -> Result<String, InvalidValue> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(InvalidValue::new(field, "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// An ISO 4217 currency with a defined minor-unit exponent (no XAU, XXX, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Every code [`Currency::parse`] accepts, in alphabetical order.
    pub fn all_codes() -> Vec<&'static str> {
        // iso_currency lists its codes only behind a feature that pulls in strum, so the
        // 17,576 three-letter candidates are tried, once per process: every route that names a
        // currency asks for the schema when the router is built, and recomputing it each time
        // was three quarters of an unoptimized server's start-up.
        static CODES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        CODES
            .get_or_init(|| {
                let letters = b'A'..=b'Z';
                let mut codes = Vec::new();
                for a in letters.clone() {
                    for b in letters.clone() {
                        for c in letters.clone() {
                            let code = [a, b, c];
                            let code = std::str::from_utf8(&code).unwrap_or_default();
                            if let Ok(currency) = Currency::parse(code) {
                                codes.push(currency.code());
                            }
                        }
                    }
                }
                codes
            })
            .clone()
    }
}

// The document lists the accepted codes: an unknown or metal code is refused, so a client (and
// the API fuzzer) learns the set from the schema instead of from 422s.
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "ISO 4217 currency code, upper case, of a currency with minor units",
            ))
            .enum_values(Some(Self::all_codes()))
            .examples([serde_json::json!("USD")])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

impl Currency {
    /// Parses an upper-case ISO 4217 code.
    pub fn parse(code: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("currency", "must be an ISO 4217 code such as USD");
        let currency = iso_currency::Currency::from_code(code).ok_or_else(invalid)?;
        currency.exponent().ok_or_else(invalid)?;
        Ok(Self(currency))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of minor-unit digits (JPY 0, USD 2, KWD 3).
    pub fn exponent(self) -> u16 {
        self.0.exponent().unwrap_or(0)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl TextValue for Currency {
    fn as_text(&self) -> &'static str {
        self.code()
    }
    fn from_text(text: &str) -> Option<Self> {
        Currency::parse(text).ok()
    }
}
crate::text_value_sql!(Currency);

/// A normalized email address (trimmed, lower-cased), used as a console login.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[schema(value_type = String, format = Email, example = "owner@example.com")]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks the `local@domain.tld` shape: an RFC 5322 dot-atom local
    /// part (no quoted strings), and a domain of letters, digits and inner hyphens between dots
    /// (an international domain in its `xn--` form).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    // RFC 5321: a local part of at most 64 octets.
                    local.len() <= 64
                        && local.split('.').all(|atom| {
                            !atom.is_empty()
                                && atom.chars().all(|c| {
                                    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
                                })
                        })
                        && !domain.contains('@')
                        && domain.contains('.')
                        && domain.split('.').all(|label| {
                            !label.is_empty()
                                && !label.starts_with('-')
                                && !label.ends_with('-')
                                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        })
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err(InvalidValue::new("email", "must be an email address"))
        }
    }

    /// An address to look an existing account up by: trimmed, lower-cased, the loose
    /// `local@domain.tld` shape that [`Email::parse`] accepted before it followed RFC 5322.
    /// Accounts created under that rule (an `xn--`-less international domain, a `_` in the
    /// domain) keep signing in; new addresses go through [`Email::parse`].
    pub fn lookup(raw: &str) -> Option<Self> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.split_once('@')?;
        let plausible = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.');
        plausible.then_some(Self(email))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_field_of_a_row_names_the_row() {
        let plain = InvalidValue::new("rates.amount", "must be zero or more");
        assert_eq!(plain.path(), "rates.amount");
        let row = plain.in_row(2);
        assert_eq!(row.path(), "rates[2].amount");
        assert_eq!(row.to_string(), "rates[2].amount: must be zero or more");
        assert_eq!(InvalidValue::new("rules", "x").in_row(0).path(), "rules[0]");
    }

    #[test]
    fn currencies_parse_with_iso_exponents() {
        assert_eq!(Currency::parse("USD").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        for bad in ["usd", "US", "XXX", "ABC", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    /// Accounts created under the looser rule are still found at sign-in; new addresses follow
    /// RFC 5322.
    #[test]
    fn existing_accounts_are_looked_up_by_the_loose_shape() {
        for old in ["ana@bücher.de", "a..b@example.com", "x@under_score.example"] {
            assert!(Email::parse(old).is_err(), "{old}");
            assert_eq!(Email::lookup(&format!(" {old} ")).unwrap().as_str(), old);
        }
        assert_eq!(
            Email::lookup("Owner@Example.COM").unwrap(),
            Email::parse("owner@example.com").unwrap()
        );
        for bad in ["", "no-at", "a@b", "a b@c.com", "@x.com"] {
            assert!(Email::lookup(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(
            Email::parse("  Owner@Example.COM ").unwrap().as_str(),
            "owner@example.com"
        );
        for bad in [
            "",
            "no-at",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@x.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environments_round_trip() {
        for env in [Environment::Sandbox, Environment::Production] {
            assert_eq!(env.as_str().parse::<Environment>().unwrap(), env);
        }
        assert!("live".parse::<Environment>().is_err());
    }
}
