//! Customers' exemption certificates: recorded per store and environment, listed on the
//! customer, revoked by deleting; a quote applies those valid on its tax date.

use super::{Error, ExemptionInput, ExemptionView, repo};
use crate::{
    address::country_code,
    providers::tax::Exemption,
    state::AppState,
    types::{CustomerId, Environment, InvalidValue, StoreId, TaxExemptionId},
};

/// Most jurisdictions one certificate names.
const MAX_JURISDICTIONS: usize = 60;
/// Most certificates one customer holds (a quote weighs them all).
const MAX_CERTIFICATES: i64 = 100;

/// `US` or `US-CA`, normalized.
fn jurisdiction(raw: &str) -> Result<String, InvalidValue> {
    let invalid = || {
        InvalidValue::new(
            "jurisdictions",
            "each must be a country (US) or a country and subdivision (US-CA)",
        )
    };
    let raw = raw.trim();
    let (country, subdivision) = match raw.split_once('-') {
        Some((c, s)) => (c, Some(s)),
        None => (raw, None),
    };
    if country.len() != 2 {
        return Err(invalid());
    }
    let country = country_code(country).ok_or_else(invalid)?;
    match subdivision.map(|s| s.trim().to_uppercase()) {
        None => Ok(country.to_owned()),
        Some(s)
            if !s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(format!("{country}-{s}"))
        }
        Some(_) => Err(invalid()),
    }
}

fn view(row: repo::ExemptionRow) -> ExemptionView {
    ExemptionView {
        id: row.id,
        customer_id: row.customer_id,
        certificate_id: row.certificate_id,
        jurisdictions: row
            .jurisdictions
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        expires_on: row.expires_on,
        created_at: row.created_at,
    }
}

async fn require_customer(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<(), Error> {
    if repo::customer_exists(&state.db, store, env, customer).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// Records a customer's certificate.
pub async fn create_exemption(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    input: ExemptionInput,
) -> Result<ExemptionView, Error> {
    require_customer(state, store, env, customer).await?;
    let certificate_id = input.certificate_id.trim();
    if certificate_id.is_empty()
        || certificate_id.len() > 64
        || certificate_id.chars().any(char::is_control)
    {
        return Err(
            InvalidValue::new("certificate_id", "must be 1 to 64 printable characters").into(),
        );
    }
    if input.jurisdictions.is_empty() || input.jurisdictions.len() > MAX_JURISDICTIONS {
        return Err(InvalidValue::new("jurisdictions", "1 to 60 jurisdictions").into());
    }
    if repo::exemption_count(&state.db, store, env, customer).await? >= MAX_CERTIFICATES {
        return Err(InvalidValue::new(
            "certificate_id",
            "a customer holds at most 100 certificates; revoke one first",
        )
        .into());
    }
    let mut jurisdictions: Vec<String> = input
        .jurisdictions
        .iter()
        .map(|j| jurisdiction(j))
        .collect::<Result<_, _>>()?;
    jurisdictions.sort();
    jurisdictions.dedup();
    let row = repo::ExemptionRow {
        id: TaxExemptionId::new(),
        customer_id: customer,
        certificate_id: certificate_id.to_owned(),
        jurisdictions: jurisdictions.join(" "),
        expires_on: input.expires_on,
        created_at: state.clock.now(),
    };
    if !repo::insert_exemption(&state.db, store, env, &row).await? {
        return Err(Error::DuplicateCertificate);
    }
    Ok(view(row))
}

/// A customer's certificates.
pub async fn list_exemptions(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<Vec<ExemptionView>, Error> {
    require_customer(state, store, env, customer).await?;
    Ok(repo::exemptions(&state.db, store, env, customer)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// Revokes a certificate: later quotes no longer apply it (earlier snapshots keep the lines
/// it exempted, with its number).
pub async fn revoke_exemption(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    id: TaxExemptionId,
) -> Result<(), Error> {
    if repo::delete_exemption(&state.db, store, env, customer, id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The certificates a quote for the customer weighs.
pub(super) async fn for_quote(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<Vec<Exemption>, Error> {
    Ok(repo::exemptions(&state.db, store, env, customer)
        .await?
        .into_iter()
        .map(|row| Exemption {
            certificate_id: row.certificate_id,
            jurisdictions: row
                .jurisdictions
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_on: row.expires_on,
        })
        .collect())
}
