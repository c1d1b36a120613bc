//! The FX rates page (platform admins): importing a rates file, each pair's newest rate with
//! its age, and the stored history, through the same services as `/api/v1/platform/fx-rates`.

use app::backend::{
    ConsoleResult, FieldError, FxImportOutcome, FxImportSummaryView, FxLatestRow, FxRateRow,
    FxRatesPageView,
};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

use super::{context::require_platform_admin, shown, time::Times};
use crate::{
    fx::{self, FeedFormat, ImportInput, RateFilter},
    state::AppState,
    types::{Currency, FxRateId, InvalidValue},
};

/// Rates per history page.
const HISTORY_PAGE: i64 = 50;

/// A time as the page shows it: rates are fixed per day or minute, seconds are noise.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An age for people: `2 d 3 h`, `5 h 12 min`, `42 min`; a rate fixed for later is `in …`.
fn age(secs: i64) -> String {
    let span = secs.unsigned_abs();
    let (days, hours, minutes) = (span / 86_400, span % 86_400 / 3600, span % 3600 / 60);
    let text = if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    };
    if secs < 0 { format!("in {text}") } else { text }
}

fn field_error(invalid: InvalidValue) -> FieldError {
    FieldError {
        // The feed parsers speak of the API's request body; here that is the pasted text.
        field: match invalid.field {
            "body" => "data".to_owned(),
            other => other.to_owned(),
        },
        message: invalid.message,
    }
}

fn currency_filter(
    field: &'static str,
    code: Option<&str>,
) -> Result<Option<Currency>, FieldError> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(code) => Currency::parse(&code.to_ascii_uppercase())
            .map(Some)
            .map_err(|_| FieldError {
                field: field.to_owned(),
                message: format!("`{code}` is not an ISO 4217 currency"),
            }),
    }
}

fn history_filter(
    base: Option<&str>,
    quote: Option<&str>,
    before: Option<&str>,
) -> Result<RateFilter, FieldError> {
    let before = match before.map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(b.parse::<FxRateId>().map_err(|_| FieldError {
            field: "before".to_owned(),
            message: "no such rate; start again from the newest".to_owned(),
        })?),
    };
    Ok(RateFilter {
        base: currency_filter("base", base)?,
        quote: currency_filter("quote", quote)?,
        before,
        limit: Some(HISTORY_PAGE),
    })
}

/// The newest rates, and a page of the history.
pub async fn page(
    state: &AppState,
    req: &Parts,
    base: Option<String>,
    quote: Option<String>,
    before: Option<String>,
) -> ConsoleResult<FxRatesPageView> {
    require_platform_admin(state, req).await?;
    let latest = fx::latest(state)
        .await
        .map_err(shown)?
        .into_iter()
        .map(|r| FxLatestRow {
            source: r.source,
            base: r.base.code().to_owned(),
            quote: r.quote.code().to_owned(),
            rate: r.rate,
            as_of: when(r.as_of),
            age: age(r.age_secs),
            stale: r.stale,
        })
        .collect();
    let filter = history_filter(base.as_deref(), quote.as_deref(), before.as_deref());
    let shown_code = |c: Option<Currency>| c.map(|c| c.code().to_owned()).unwrap_or_default();
    let mut view = FxRatesPageView {
        latest,
        history: Vec::new(),
        // A refused filter is echoed as typed, so it can be corrected in place.
        base: base.unwrap_or_default().trim().to_owned(),
        quote: quote.unwrap_or_default().trim().to_owned(),
        paged: false,
        next_before: None,
        filter_error: None,
    };
    let filter = match filter {
        Ok(filter) => filter,
        Err(refused) => {
            view.filter_error = Some(refused);
            return Ok(view);
        }
    };
    view.base = shown_code(filter.base);
    view.quote = shown_code(filter.quote);
    view.paged = filter.before.is_some();
    match fx::history(state, filter).await {
        Ok((rates, next)) => {
            view.history = rates
                .into_iter()
                .map(|r| FxRateRow {
                    id: r.id.to_string(),
                    source: r.source,
                    base: r.base.code().to_owned(),
                    quote: r.quote.code().to_owned(),
                    rate: r.rate,
                    as_of: when(r.as_of),
                    imported_at: Times::utc(state).stamp(r.imported_at),
                    imported_by: r.imported_by,
                })
                .collect();
            view.next_before = next.map(|id| id.to_string());
        }
        Err(fx::Error::Invalid(invalid)) => view.filter_error = Some(field_error(invalid)),
        Err(other) => return Err(shown(other)),
    }
    Ok(view)
}

/// Imports a pasted rates file; a refused field comes back for the form to show beside it.
pub async fn import(
    state: &AppState,
    req: &Parts,
    format: String,
    source: Option<String>,
    data: String,
) -> ConsoleResult<FxImportOutcome> {
    let signed = require_platform_admin(state, req).await?;
    let format = match format.as_str() {
        "ecb_csv" => FeedFormat::EcbCsv,
        "json" => FeedFormat::Json,
        _ => {
            return Ok(FxImportOutcome::Refused(FieldError {
                field: "format".to_owned(),
                message: "choose the ECB's CSV or a JSON feed".to_owned(),
            }));
        }
    };
    // The same actor the API records for a platform admin's import.
    let actor = format!("user:{}", signed.console.user_id);
    let input = ImportInput {
        format,
        source,
        data,
    };
    match fx::import(state, &actor, input).await {
        Ok(summary) => Ok(FxImportOutcome::Imported(FxImportSummaryView {
            imported: u64::try_from(summary.imported).unwrap_or(u64::MAX),
            already_known: u64::try_from(summary.already_known).unwrap_or(u64::MAX),
            skipped: summary.skipped,
            latest_as_of: summary.latest_as_of.map(when),
        })),
        Err(fx::Error::Invalid(invalid)) => Ok(FxImportOutcome::Refused(field_error(invalid))),
        Err(other) => Err(shown(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_units() {
        assert_eq!(age(0), "0 min");
        assert_eq!(age(59), "0 min");
        assert_eq!(age(42 * 60), "42 min");
        assert_eq!(age(5 * 3600 + 12 * 60), "5 h 12 min");
        assert_eq!(age(2 * 86_400 + 3 * 3600 + 59), "2 d 3 h");
        assert_eq!(age(-3 * 3600), "in 3 h 0 min");
    }

    #[test]
    fn filters_are_codes_and_a_rate_id() {
        let filter = history_filter(Some(" jpy "), Some(""), None).unwrap();
        assert_eq!(filter.base.map(Currency::code), Some("JPY"));
        assert_eq!(filter.quote, None);
        let refused = history_filter(Some("EURO"), None, None).unwrap_err();
        assert_eq!(refused.field, "base");
        let refused = history_filter(None, None, Some("nope")).unwrap_err();
        assert_eq!(refused.field, "before");
    }

    #[test]
    fn the_feed_body_is_the_pasted_text() {
        let refused = field_error(InvalidValue::new("body", "the file is empty"));
        assert_eq!(refused.field, "data");
        assert_eq!(refused.message, "the file is empty");
        assert_eq!(
            field_error(InvalidValue::new("source", "x")).field,
            "source"
        );
    }
}
