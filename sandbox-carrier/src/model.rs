//! The carrier's resources as they travel over HTTP, and the checks on what callers send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    error::CarrierError,
    pricing::Parcel,
    tracking::{COUNTRY_NOT_SERVED, POSTAL_UNDELIVERABLE},
};

/// Longest free-text field the carrier keeps (names, address lines).
const MAX_TEXT: usize = 200;
/// Longest label reference.
pub(crate) const MAX_REFERENCE: usize = 100;
/// Most packages in one shipment.
pub(crate) const MAX_PACKAGES: usize = 50;

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Recipient or sender.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// More of it.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code, where the country has them; decides the test outcomes.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// State, province or region.
    #[serde(default)]
    pub subdivision: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: String,
}

impl Address {
    /// Checks the shape; `which` names the address in the message (`from`, `to`).
    pub(crate) fn validate(&self, which: &str) -> Result<(), CarrierError> {
        let bad = |what: &str| {
            CarrierError::unprocessable("invalid_address", format!("{which}.{what} is invalid"))
        };
        let text = |value: &str, what: &str| {
            if value.trim().is_empty() || value.chars().count() > MAX_TEXT {
                Err(bad(what))
            } else {
                Ok(())
            }
        };
        let optional = |value: &Option<String>, what: &str| match value {
            Some(v) if v.chars().count() > MAX_TEXT => Err(bad(what)),
            _ => Ok(()),
        };
        text(&self.name, "name")?;
        text(&self.line1, "line1")?;
        text(&self.city, "city")?;
        optional(&self.line2, "line2")?;
        optional(&self.postal_code, "postal_code")?;
        optional(&self.subdivision, "subdivision")?;
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("country"));
        }
        Ok(())
    }

    /// The place as tracking events name it: `City, CC`.
    pub(crate) fn place(&self) -> String {
        format!("{}, {}", self.city.trim(), self.country)
    }
}

/// A package as the caller describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Actual weight, grams.
    pub weight_grams: i64,
    /// Length, millimetres.
    pub length_mm: i64,
    /// Width, millimetres.
    pub width_mm: i64,
    /// Height, millimetres.
    pub height_mm: i64,
}

impl From<Package> for Parcel {
    fn from(p: Package) -> Self {
        Parcel {
            weight_grams: p.weight_grams,
            length_mm: p.length_mm,
            width_mm: p.width_mm,
            height_mm: p.height_mm,
        }
    }
}

/// Checks a shipment's packages: 1 to 50, every measure positive.
pub(crate) fn validate_packages(packages: &[Package]) -> Result<(), CarrierError> {
    if packages.is_empty() || packages.len() > MAX_PACKAGES {
        return Err(CarrierError::unprocessable(
            "invalid_packages",
            format!("a shipment has 1 to {MAX_PACKAGES} packages"),
        ));
    }
    let positive =
        |p: &Package| p.weight_grams > 0 && p.length_mm > 0 && p.width_mm > 0 && p.height_mm > 0;
    if !packages.iter().all(positive) {
        return Err(CarrierError::unprocessable(
            "invalid_packages",
            "weight_grams, length_mm, width_mm and height_mm must be positive",
        ));
    }
    Ok(())
}

/// Whether the carrier delivers to `to` (the refusals both `/v1/rates` and a label purchase
/// answer).
pub(crate) fn check_deliverable(to: &Address) -> Result<(), CarrierError> {
    if to.country == COUNTRY_NOT_SERVED {
        return Err(CarrierError::unprocessable(
            "country_not_served",
            format!("the carrier does not deliver to {}", to.country),
        ));
    }
    if to.postal_code.as_deref().map(str::trim) == Some(POSTAL_UNDELIVERABLE) {
        return Err(CarrierError::unprocessable(
            "address_undeliverable",
            "the destination address cannot be delivered to",
        ));
    }
    Ok(())
}

/// One event of a label's tracking timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    /// 1-based position in the label's timeline.
    pub sequence: i32,
    /// Raw code (`LABEL_CREATED`, `PICKED_UP`, `IN_TRANSIT`, `OUT_FOR_DELIVERY`, `DELIVERED`,
    /// `EXCEPTION`, `RETURNED_TO_SENDER`, `VOIDED`).
    pub code: String,
    /// What a person reads.
    pub description: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Where, if the carrier says.
    pub location: Option<String>,
}

/// A shipping label as the carrier reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// `lbl_…`.
    pub id: String,
    /// The rate it was bought at.
    pub rate_id: String,
    /// The caller's reference.
    pub reference: Option<String>,
    /// `ground`, `express` or `overnight`.
    pub service: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// `SC` and 18 digits.
    pub tracking_number: String,
    /// `purchased` or `voided`.
    pub status: String,
    /// The code of the latest event.
    pub tracking_status: String,
    /// When it was bought.
    pub created_at: DateTime<Utc>,
    /// Until when it can be voided (if nothing happened to the parcel yet).
    pub void_deadline: DateTime<Utc>,
    /// How many packages (one label page each).
    pub packages: i32,
    /// The timeline so far, oldest first.
    pub events: Vec<TrackingEvent>,
}
