//! `rules`: the store's own jurisdiction rates. Every jurisdiction whose area holds the
//! destination adds its rate (a US state, county and city stack; a country's VAT alone); the
//! line's tax is rounded once and split across the jurisdictions that collect it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{
    Destination, Level, SHIPPING_TAX_CODE, TaxConfig, TaxEngineError, TaxPart, TaxProvider,
    TaxQuote, TaxRequest, TaxRule, TaxableLine, TaxedLine, ZeroReason,
};
use crate::money::{MinorUnits, Overflow, exclusive_tax, inclusive_split, split_largest_remainder};
use crate::providers::account::BoxFuture;

/// The store's jurisdiction rates; inclusive or exclusive prices.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesTax;

impl RulesTax {
    /// Registry name, recorded on tax lines.
    pub const NAME: &'static str = "rules";
    /// Version of the method below, recorded on tax lines.
    pub const VERSION: &'static str = "2";

    /// Taxes each line of the request with the store's rates (pure: no I/O, so a quote whose
    /// tax service is down can fall back on it).
    pub fn compute(
        &self,
        config: &TaxConfig,
        request: &TaxRequest<'_>,
    ) -> Result<Vec<TaxedLine>, Overflow> {
        request
            .lines
            .iter()
            .map(|line| tax_line(config, request, line))
            .collect()
    }
}

/// Per jurisdiction covering `to` on the request's date, the rule for `tax_code`: its own
/// code's rule, else its `*` rule (for shipping only a `*` rule that says `shipping_taxable`).
/// In level order, then by key, so the output never depends on how rules were stored.
fn applicable<'r>(
    rules: &'r [TaxRule],
    to: &Destination,
    date: chrono::NaiveDate,
    tax_code: &str,
) -> Vec<&'r TaxRule> {
    let mut chosen: BTreeMap<(Level, String), &TaxRule> = BTreeMap::new();
    for rule in rules.iter().filter(|r| r.valid_on(date) && r.covers(to)) {
        let exact = rule.tax_code == tax_code;
        let wildcard =
            rule.tax_code == "*" && (tax_code != SHIPPING_TAX_CODE || rule.shipping_taxable);
        if !exact && !wildcard {
            continue;
        }
        let slot = chosen.entry((rule.level(), rule.jurisdiction()));
        match slot {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(rule);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if exact {
                    o.insert(rule);
                }
            }
        }
    }
    chosen.into_values().collect()
}

/// Whether a jurisdiction collects, and if not, why.
fn standing(rule: &TaxRule, request: &TaxRequest<'_>) -> Result<(), (ZeroReason, Option<String>)> {
    if let Some(certificate) = request
        .exemptions
        .iter()
        .find(|e| e.covers(rule, request.date))
    {
        return Err((ZeroReason::Exempt, Some(certificate.certificate_id.clone())));
    }
    if !request.nexus.iter().any(|n| n.covers(rule, request.date)) {
        return Err((ZeroReason::NoNexus, None));
    }
    Ok(())
}

/// The destination's own jurisdiction, for a line no rule reaches where the store has no
/// nexus: the line still says why it carries no tax.
fn no_nexus_marker(line: &TaxableLine, request: &TaxRequest<'_>) -> Option<TaxPart> {
    let to = request.destination;
    let marker = TaxRule {
        country: to.country.clone(),
        subdivision: to.subdivision.clone().unwrap_or_default(),
        county: None,
        city: None,
        district: None,
        postal_codes: Vec::new(),
        tax_code: line.tax_code.clone(),
        rate: Decimal::ZERO,
        shipping_taxable: false,
        valid_from: None,
        valid_to: None,
    };
    let collects = request
        .nexus
        .iter()
        .any(|n| n.covers(&marker, request.date));
    (!collects).then(|| TaxPart {
        jurisdiction: marker.jurisdiction(),
        level: marker.level(),
        tax_code: line.tax_code.clone(),
        rate: Decimal::ZERO,
        taxable: MinorUnits::ZERO,
        exempt: MinorUnits::ZERO,
        tax: MinorUnits::ZERO,
        reason: Some(ZeroReason::NoNexus),
        certificate_id: None,
    })
}

fn tax_line(
    config: &TaxConfig,
    request: &TaxRequest<'_>,
    line: &TaxableLine,
) -> Result<TaxedLine, Overflow> {
    let rules = applicable(
        &config.rules,
        request.destination,
        request.date,
        &line.tax_code,
    );
    let standings: Vec<_> = rules.iter().map(|r| standing(r, request)).collect();
    let rate = rules
        .iter()
        .zip(&standings)
        .filter(|(_, s)| s.is_ok())
        .try_fold(Decimal::ZERO, |sum, (r, _)| sum.checked_add(r.rate))
        .ok_or(Overflow)?;
    let (net, tax) = if line.inclusive {
        inclusive_split(line.amount, rate)?
    } else {
        (line.amount, exclusive_tax(line.amount, rate)?)
    };
    let collected: Vec<Decimal> = rules
        .iter()
        .zip(&standings)
        .filter(|(_, s)| s.is_ok())
        .map(|(r, _)| r.rate)
        .collect();
    let mut shares = split_largest_remainder(tax, &collected)?.into_iter();
    let mut parts = Vec::with_capacity(rules.len());
    for (rule, standing) in rules.iter().zip(standings) {
        let base = TaxPart {
            jurisdiction: rule.jurisdiction(),
            level: rule.level(),
            tax_code: line.tax_code.clone(),
            rate: rule.rate,
            taxable: MinorUnits::ZERO,
            exempt: MinorUnits::ZERO,
            tax: MinorUnits::ZERO,
            reason: None,
            certificate_id: None,
        };
        parts.push(match standing {
            Ok(()) => TaxPart {
                taxable: net,
                tax: shares.next().unwrap_or(MinorUnits::ZERO),
                ..base
            },
            Err((ZeroReason::Exempt, certificate)) => TaxPart {
                exempt: net,
                reason: Some(ZeroReason::Exempt),
                certificate_id: certificate,
                ..base
            },
            Err((ZeroReason::NoNexus, _)) => TaxPart {
                reason: Some(ZeroReason::NoNexus),
                ..base
            },
        });
    }
    if parts.is_empty() {
        parts.extend(no_nexus_marker(line, request));
    }
    Ok(TaxedLine {
        line_no: line.line_no,
        net,
        tax,
        rate,
        parts,
    })
}

impl TaxProvider for RulesTax {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn quote_tax<'a>(
        &'a self,
        config: &'a TaxConfig,
        request: &'a TaxRequest<'a>,
    ) -> BoxFuture<'a, Result<TaxQuote, TaxEngineError>> {
        let quote = self
            .compute(config, request)
            .map(|lines| TaxQuote {
                version: Self::VERSION.to_owned(),
                lines,
            })
            .map_err(|_| TaxEngineError::Overflow);
        Box::pin(std::future::ready(quote))
    }
}

#[cfg(test)]
mod tests;
