//! The Tax API's JSON: what is sent, and the answer parsed into taxed lines only when it adds
//! up (every line answered once, jurisdiction parts summing to the line, net and tax matching
//! the price). An answer that does not add up is the engine failing, never tax to charge.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    money::MinorUnits,
    providers::tax::{Level, TaxEngineError, TaxPart, TaxQuote, TaxRequest, TaxedLine, ZeroReason},
};

#[derive(Serialize)]
pub struct QuoteBody<'a> {
    date: chrono::NaiveDate,
    currency: &'a str,
    destination: DestinationBody<'a>,
    lines: Vec<LineBody<'a>>,
    nexus: Vec<NexusBody<'a>>,
    exemptions: Vec<ExemptionBody<'a>>,
}

#[derive(Serialize)]
struct DestinationBody<'a> {
    country: &'a str,
    subdivision: Option<&'a str>,
    city: &'a str,
    postal_code: &'a str,
}

#[derive(Serialize)]
struct LineBody<'a> {
    line_no: i32,
    amount: i64,
    tax_code: &'a str,
    inclusive: bool,
}

#[derive(Serialize)]
struct NexusBody<'a> {
    country: &'a str,
    subdivision: Option<&'a str>,
    since: chrono::NaiveDate,
}

#[derive(Serialize)]
struct ExemptionBody<'a> {
    certificate_id: &'a str,
    jurisdictions: &'a [String],
    expires_on: Option<chrono::NaiveDate>,
}

impl<'a> QuoteBody<'a> {
    pub fn of(request: &'a TaxRequest<'a>) -> Self {
        let to = request.destination;
        Self {
            date: request.date,
            currency: request.currency,
            destination: DestinationBody {
                country: &to.country,
                subdivision: to.subdivision.as_deref(),
                city: &to.city,
                postal_code: &to.postal_code,
            },
            lines: request
                .lines
                .iter()
                .map(|l| LineBody {
                    line_no: l.line_no,
                    amount: l.amount.0,
                    tax_code: &l.tax_code,
                    inclusive: l.inclusive,
                })
                .collect(),
            nexus: request
                .nexus
                .iter()
                .map(|n| NexusBody {
                    country: &n.country,
                    subdivision: n.subdivision.as_deref(),
                    since: n.since,
                })
                .collect(),
            exemptions: request
                .exemptions
                .iter()
                .map(|e| ExemptionBody {
                    certificate_id: &e.certificate_id,
                    jurisdictions: &e.jurisdictions,
                    expires_on: e.expires_on,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
pub struct QuoteAnswer {
    engine_version: String,
    lines: Vec<LineAnswer>,
}

#[derive(Deserialize)]
struct LineAnswer {
    line_no: i32,
    net: i64,
    tax: i64,
    rate: Decimal,
    #[serde(default)]
    parts: Vec<PartAnswer>,
}

#[derive(Deserialize)]
struct PartAnswer {
    jurisdiction: String,
    level: String,
    tax_code: String,
    rate: Decimal,
    taxable: i64,
    exempt: i64,
    tax: i64,
    reason: Option<String>,
    certificate_id: Option<String>,
}

fn malformed(what: impl std::fmt::Display) -> TaxEngineError {
    TaxEngineError::Unavailable(format!("the tax service's answer does not add up: {what}"))
}

const MAX_TEXT: usize = 200;

fn text(value: String, field: &str) -> Result<String, TaxEngineError> {
    if value.is_empty() || value.chars().count() > MAX_TEXT {
        return Err(malformed(format_args!("{field} is empty or too long")));
    }
    Ok(value)
}

impl QuoteAnswer {
    /// The answer as a quote, lines in the request's order, or why it cannot be trusted.
    pub fn into_quote(self, request: &TaxRequest<'_>) -> Result<TaxQuote, TaxEngineError> {
        let version = text(self.engine_version, "engine_version")?;
        let lines = lines_of(self.lines, request)?;
        Ok(TaxQuote { version, lines })
    }
}

fn lines_of(
    mut answers: Vec<LineAnswer>,
    request: &TaxRequest<'_>,
) -> Result<Vec<TaxedLine>, TaxEngineError> {
    if answers.len() != request.lines.len() {
        return Err(malformed("not one answer per line"));
    }
    request
        .lines
        .iter()
        .map(|asked| {
            let at = answers
                .iter()
                .position(|a| a.line_no == asked.line_no)
                .ok_or_else(|| malformed(format_args!("line {} missing", asked.line_no)))?;
            let answer = answers.swap_remove(at);
            let (net, tax) = (answer.net, answer.tax);
            let priced_right = if asked.inclusive {
                net.checked_add(tax) == Some(asked.amount.0)
            } else {
                net == asked.amount.0
            };
            if net < 0 || tax < 0 || !priced_right {
                return Err(malformed(format_args!(
                    "line {} net and tax disagree with its price",
                    asked.line_no
                )));
            }
            let parts = answer
                .parts
                .into_iter()
                .map(|p| {
                    if p.taxable < 0 || p.exempt < 0 || p.tax < 0 || p.rate < Decimal::ZERO {
                        return Err(malformed("a negative part"));
                    }
                    Ok(TaxPart {
                        level: Level::parse(&p.level)
                            .ok_or_else(|| malformed(format_args!("level {:?}", p.level)))?,
                        reason: match p.reason.as_deref() {
                            None => None,
                            Some(r) => Some(
                                ZeroReason::parse(r)
                                    .ok_or_else(|| malformed(format_args!("reason {r:?}")))?,
                            ),
                        },
                        jurisdiction: text(p.jurisdiction, "jurisdiction")?,
                        tax_code: text(p.tax_code, "tax_code")?,
                        certificate_id: p
                            .certificate_id
                            .map(|c| text(c, "certificate_id"))
                            .transpose()?,
                        rate: p.rate,
                        taxable: MinorUnits(p.taxable),
                        exempt: MinorUnits(p.exempt),
                        tax: MinorUnits(p.tax),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let parts_tax = parts
                .iter()
                .try_fold(0i64, |sum, p| sum.checked_add(p.tax.0))
                .ok_or_else(|| malformed("part taxes overflow"))?;
            if parts_tax != tax || (tax > 0 && parts.is_empty()) {
                return Err(malformed(format_args!(
                    "line {}'s parts do not sum to its tax",
                    asked.line_no
                )));
            }
            Ok(TaxedLine {
                line_no: asked.line_no,
                net: MinorUnits(net),
                tax: MinorUnits(tax),
                rate: answer.rate,
                parts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tax::{Destination, TaxableLine};

    fn request_of(lines: &[TaxableLine]) -> (Destination, Vec<TaxableLine>) {
        (
            Destination {
                country: "US".into(),
                subdivision: Some("CA".into()),
                city: "Los Angeles".into(),
                postal_code: "90012".into(),
            },
            lines.to_vec(),
        )
    }

    fn answer(json: serde_json::Value) -> QuoteAnswer {
        serde_json::from_value(json).unwrap()
    }

    fn line(no: i32, amount: i64, inclusive: bool) -> TaxableLine {
        TaxableLine {
            line_no: no,
            amount: MinorUnits(amount),
            tax_code: "general".into(),
            inclusive,
        }
    }

    fn parse(
        lines: &[TaxableLine],
        json: serde_json::Value,
    ) -> Result<Vec<TaxedLine>, TaxEngineError> {
        let (to, lines) = request_of(lines);
        let request = TaxRequest {
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            currency: "USD",
            destination: &to,
            lines: &lines,
            nexus: &[],
            exemptions: &[],
        };
        answer(json).into_quote(&request).map(|q| q.lines)
    }

    fn part(tax: i64) -> serde_json::Value {
        serde_json::json!({"jurisdiction": "US-CA", "level": "subdivision", "tax_code": "general",
            "rate": "0.0725", "taxable": 1000, "exempt": 0, "tax": tax})
    }

    #[test]
    fn an_answer_that_adds_up_is_taken_in_request_order() {
        let lines = [line(1, 1000, false), line(0, 500, false)];
        let taxed = parse(
            &lines,
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 0, "net": 500, "tax": 0, "rate": "0"},
                {"line_no": 1, "net": 1000, "tax": 73, "rate": "0.0725", "parts": [part(73)]},
            ]}),
        )
        .unwrap();
        assert_eq!(taxed.iter().map(|l| l.line_no).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(taxed[0].tax, MinorUnits(73));
        assert_eq!(taxed[0].parts[0].level, Level::Subdivision);
    }

    #[test]
    fn answers_that_do_not_add_up_are_the_engine_failing() {
        let lines = [line(1, 1000, false)];
        let cases = [
            // Parts do not sum to the tax.
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 1, "net": 1000, "tax": 80, "rate": "0.08", "parts": [part(73)]}]}),
            // Exclusive price changed.
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 1, "net": 999, "tax": 73, "rate": "0.0725", "parts": [part(73)]}]}),
            // A line missing, another answered.
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 2, "net": 1000, "tax": 0, "rate": "0"}]}),
            // Tax without a jurisdiction.
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 1, "net": 1000, "tax": 73, "rate": "0.0725"}]}),
            // Negative tax.
            serde_json::json!({"engine_version": "7", "lines": [
                {"line_no": 1, "net": 1000, "tax": -73, "rate": "0.0725", "parts": [part(-73)]}]}),
        ];
        for case in cases {
            assert!(
                matches!(
                    parse(&lines, case.clone()),
                    Err(TaxEngineError::Unavailable(_))
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn inclusive_lines_must_split_the_price() {
        let lines = [line(1, 1073, true)];
        let ok = serde_json::json!({"engine_version": "7", "lines": [
            {"line_no": 1, "net": 1000, "tax": 73, "rate": "0.0725", "parts": [part(73)]}]});
        assert!(parse(&lines, ok).is_ok());
        let off = serde_json::json!({"engine_version": "7", "lines": [
            {"line_no": 1, "net": 1001, "tax": 73, "rate": "0.0725", "parts": [part(73)]}]});
        assert!(parse(&lines, off).is_err());
    }
}
