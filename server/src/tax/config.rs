//! A store's jurisdiction rates and nexus: parsed from the API's bodies into the engine's
//! types, stored whole (each replacement swaps the table in one transaction).

use rust_decimal::Decimal;

use super::{Error, NexusBody, TaxRuleBody, repo};
use crate::{
    address::country_code,
    providers::tax::{Nexus, RulesTax, TaxConfig, TaxRule, jurisdiction_name},
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// Most rates a store may configure.
const MAX_RULES: usize = 1000;
/// Most nexus entries a store may configure.
const MAX_NEXUS: usize = 200;
/// Most postal code patterns one rate may list.
const MAX_POSTAL_CODES: usize = 500;

fn country(field: &'static str, raw: &str) -> Result<String, InvalidValue> {
    country_code(raw)
        .map(str::to_owned)
        .ok_or_else(|| InvalidValue::new(field, "must be an ISO 3166-1 country"))
}

fn subdivision(field: &'static str, raw: &str) -> Result<String, InvalidValue> {
    let code = raw.trim().to_uppercase();
    if code.len() > 3 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(InvalidValue::new(
            field,
            "must be a code of up to 3 letters or digits",
        ));
    }
    Ok(code)
}

fn name(field: &'static str, raw: Option<&str>) -> Result<Option<String>, InvalidValue> {
    let Some(raw) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if raw.len() > 64 || raw.contains(['/', ':']) {
        return Err(InvalidValue::new(
            field,
            "must be a name of at most 64 characters without / or :",
        ));
    }
    Ok(Some(jurisdiction_name(raw)))
}

fn rate(raw: &str) -> Result<Decimal, InvalidValue> {
    raw.trim()
        .parse::<Decimal>()
        .ok()
        .filter(|r| *r >= Decimal::ZERO && *r < Decimal::ONE)
        .ok_or_else(|| {
            InvalidValue::new(
                "rules.rate",
                "must be a decimal string from 0 to below 1, e.g. \"0.0825\"",
            )
        })
}

fn postal_codes(raw: &[String]) -> Result<Vec<String>, InvalidValue> {
    if raw.len() > MAX_POSTAL_CODES {
        return Err(InvalidValue::new(
            "rules.postal_codes",
            "at most 500 patterns",
        ));
    }
    raw.iter()
        .map(|p| {
            let p = p.trim().to_uppercase().replace(' ', "");
            let body = p.strip_suffix('*').unwrap_or(&p);
            if body.is_empty()
                || body.len() > 12
                || !body.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(InvalidValue::new(
                    "rules.postal_codes",
                    "each must be a postal code or a prefix ending in *",
                ));
            }
            Ok(p)
        })
        .collect()
}

/// Parses one rate.
fn parse_rule(body: &TaxRuleBody) -> Result<TaxRule, InvalidValue> {
    let tax_code = match body.tax_code.trim() {
        "*" => "*".to_owned(),
        code if !code.is_empty()
            && code.len() <= 32
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            code.to_lowercase()
        }
        _ => {
            return Err(InvalidValue::new(
                "rules.tax_code",
                "must be a tax code or *",
            ));
        }
    };
    let rule = TaxRule {
        country: country("rules.country", &body.country)?,
        subdivision: subdivision("rules.subdivision", &body.subdivision)?,
        county: name("rules.county", body.county.as_deref())?,
        city: name("rules.city", body.city.as_deref())?,
        district: name("rules.district", body.district.as_deref())?,
        postal_codes: postal_codes(&body.postal_codes)?,
        tax_code,
        rate: rate(&body.rate)?,
        shipping_taxable: body.shipping_taxable,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    if (rule.county.is_some() || rule.district.is_some()) && rule.postal_codes.is_empty() {
        return Err(InvalidValue::new(
            "rules.postal_codes",
            "a county or district lists the postal codes it covers",
        ));
    }
    if rule.level() > crate::providers::tax::Level::Subdivision && rule.subdivision.is_empty() {
        return Err(InvalidValue::new(
            "rules.subdivision",
            "a local tax names its subdivision",
        ));
    }
    if let (Some(from), Some(to)) = (rule.valid_from, rule.valid_to)
        && to <= from
    {
        return Err(InvalidValue::new(
            "rules.valid_to",
            "must be after valid_from",
        ));
    }
    Ok(rule)
}

/// Two rates of one jurisdiction and code may not apply on the same day: which one wins would
/// be arbitrary.
fn check_overlaps(rules: &[TaxRule]) -> Result<(), InvalidValue> {
    for (i, a) in rules.iter().enumerate() {
        for (j, b) in rules.iter().enumerate().skip(i + 1) {
            // Postal codes do not tell rates apart: a jurisdiction has one rate per code.
            let same = a.jurisdiction() == b.jurisdiction() && a.tax_code == b.tax_code;
            let apart = a
                .valid_to
                .is_some_and(|to| b.valid_from.is_some_and(|from| to <= from))
                || b.valid_to
                    .is_some_and(|to| a.valid_from.is_some_and(|from| to <= from));
            if same && !apart {
                // The later row is the one named: it is usually the one just added.
                return Err(InvalidValue::new(
                    "rules.valid_from",
                    format!(
                        "overlaps the rate at position {}: two {} rates for {} would apply on the same day",
                        i + 1,
                        a.tax_code,
                        a.jurisdiction()
                    ),
                )
                .in_row(j));
            }
        }
    }
    Ok(())
}

fn body_of(rule: &TaxRule) -> TaxRuleBody {
    TaxRuleBody {
        country: rule.country.clone(),
        subdivision: rule.subdivision.clone(),
        county: rule.county.clone(),
        city: rule.city.clone(),
        district: rule.district.clone(),
        postal_codes: rule.postal_codes.clone(),
        tax_code: rule.tax_code.clone(),
        rate: rule.rate.normalize().to_string(),
        shipping_taxable: rule.shipping_taxable,
        valid_from: rule.valid_from,
        valid_to: rule.valid_to,
    }
}

fn rule_of(row: repo::RuleRow) -> Result<TaxRule, Error> {
    let rate = row
        .rate
        .parse()
        .map_err(|_| InvalidValue::new("rules.rate", "a stored rate is not a decimal"))?;
    Ok(TaxRule {
        country: row.country,
        subdivision: row.subdivision,
        county: row.county,
        city: row.city,
        district: row.district,
        postal_codes: row
            .postal_codes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        tax_code: row.tax_code,
        rate,
        shipping_taxable: row.shipping_taxable,
        valid_from: row.valid_from,
        valid_to: row.valid_to,
    })
}

/// The store's tax configuration: every store taxes with its own rates (`rules`) until stores
/// can choose a tax service.
pub async fn load_config(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<TaxConfig, Error> {
    state
        .caches
        .config
        .get_or_load(store, env, || async {
            let rules = repo::rules(&state.db, store, env)
                .await?
                .into_iter()
                .map(rule_of)
                .collect::<Result<_, _>>()?;
            Ok(TaxConfig {
                provider: RulesTax::NAME.to_owned(),
                rules,
            })
        })
        .await
}

/// The store's rates as the API shows them.
pub async fn rule_bodies(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<TaxRuleBody>, Error> {
    Ok(load_config(state, store, env)
        .await?
        .rules
        .iter()
        .map(body_of)
        .collect())
}

/// Replaces the store's rates once every one is valid.
pub async fn put_rules(
    state: &AppState,
    store: StoreId,
    env: Environment,
    bodies: &[TaxRuleBody],
) -> Result<Vec<TaxRuleBody>, Error> {
    if bodies.len() > MAX_RULES {
        return Err(InvalidValue::new("rules", "at most 1000 rates").into());
    }
    let rules: Vec<TaxRule> = bodies
        .iter()
        .enumerate()
        .map(|(row, body)| parse_rule(body).map_err(|e| e.in_row(row)))
        .collect::<Result<_, _>>()?;
    check_overlaps(&rules)?;
    let rows: Vec<repo::RuleRow> = rules
        .iter()
        .map(|r| repo::RuleRow {
            country: r.country.clone(),
            subdivision: r.subdivision.clone(),
            county: r.county.clone(),
            city: r.city.clone(),
            district: r.district.clone(),
            postal_codes: r.postal_codes.join(" "),
            tax_code: r.tax_code.clone(),
            rate: r.rate.normalize().to_string(),
            shipping_taxable: r.shipping_taxable,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
        })
        .collect();
    let mut tx = state.db.begin_write().await?;
    repo::replace_rules(&mut tx, store, env, &rows).await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.config.changed();
    committed?;
    rule_bodies(state, store, env).await
}

/// Where the store collects.
pub async fn load_nexus(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<Nexus>, Error> {
    state
        .caches
        .config
        .get_or_load(store, env, || async {
            Ok(repo::nexus(&state.db, store, env)
                .await?
                .into_iter()
                .map(|n| Nexus {
                    country: n.country,
                    subdivision: Some(n.subdivision).filter(|s| !s.is_empty()),
                    since: n.since,
                })
                .collect())
        })
        .await
}

/// Replaces where the store collects.
pub async fn put_nexus(
    state: &AppState,
    store: StoreId,
    env: Environment,
    bodies: &[NexusBody],
) -> Result<Vec<NexusBody>, Error> {
    if bodies.len() > MAX_NEXUS {
        return Err(InvalidValue::new("nexus", "at most 200 places").into());
    }
    let mut rows = Vec::with_capacity(bodies.len());
    for body in bodies {
        let row = repo::NexusRow {
            country: country("nexus.country", &body.country)?,
            subdivision: subdivision(
                "nexus.subdivision",
                body.subdivision.as_deref().unwrap_or(""),
            )?,
            since: body.since,
        };
        if rows
            .iter()
            .any(|r: &repo::NexusRow| r.country == row.country && r.subdivision == row.subdivision)
        {
            return Err(InvalidValue::new("nexus", "each place at most once").into());
        }
        rows.push(row);
    }
    let mut tx = state.db.begin_write().await?;
    repo::replace_nexus(&mut tx, store, env, &rows).await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.config.changed();
    committed?;
    Ok(nexus_bodies(load_nexus(state, store, env).await?))
}

/// Nexus as the API shows it.
pub fn nexus_bodies(nexus: Vec<Nexus>) -> Vec<NexusBody> {
    nexus
        .into_iter()
        .map(|n| NexusBody {
            country: n.country,
            subdivision: n.subdivision,
            since: n.since,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(country: &str, subdivision: &str, code: &str, rate: &str) -> TaxRuleBody {
        TaxRuleBody {
            country: country.into(),
            subdivision: subdivision.into(),
            county: None,
            city: None,
            district: None,
            postal_codes: Vec::new(),
            tax_code: code.into(),
            rate: rate.into(),
            shipping_taxable: false,
            valid_from: None,
            valid_to: None,
        }
    }

    #[test]
    fn rates_are_parsed_into_jurisdictions() {
        let mut county = body("usa", "ca", "*", "0.0025");
        county.county = Some(" Los Angeles ".into());
        county.postal_codes = vec!["900*".into()];
        let rule = parse_rule(&county).unwrap();
        assert_eq!(rule.jurisdiction(), "US-CA/county:LOS ANGELES");
        county.postal_codes.clear();
        assert!(
            parse_rule(&county).is_err(),
            "a county lists its postal codes"
        );
        assert!(parse_rule(&body("US", "CA", "*", "1")).is_err());
        assert!(parse_rule(&body("US", "CA", "*", "-0.1")).is_err());
        assert!(parse_rule(&body("US", "CA", "a/b", "0.1")).is_err());
        let mut city = body("US", "", "*", "0.01");
        city.city = Some("Austin".into());
        assert!(parse_rule(&city).is_err(), "a city tax names its state");
    }

    #[test]
    fn two_rates_of_one_jurisdiction_may_not_overlap_in_time() {
        let mut a = parse_rule(&body("DE", "", "*", "0.19")).unwrap();
        let mut b = parse_rule(&body("DE", "", "*", "0.16")).unwrap();
        assert!(check_overlaps(&[a.clone(), b.clone()]).is_err());
        a.valid_to = "2020-07-01".parse().ok();
        b.valid_from = "2020-07-01".parse().ok();
        assert!(check_overlaps(&[a.clone(), b.clone()]).is_ok());
        let food = parse_rule(&body("DE", "", "food", "0.07")).unwrap();
        assert!(check_overlaps(&[a, b, food]).is_ok());
    }
}
