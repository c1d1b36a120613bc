//! Reading published rate files: the European Central Bank's reference-rate CSV (the daily
//! `eurofxref.csv` and the history `eurofxref-hist.csv`, both `Date, USD, JPY, …` in units per
//! EUR) and a JSON feed (`{"base": "EUR", "date": "2026-12-03", "rates": {"USD": 1.05, …}}`, one
//! object or an array of them, as Frankfurter- and Fixer-style feeds publish).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::types::{Currency, InvalidValue};

/// One published rate: `rate` units of `quote` per unit of `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRate {
    pub base: Currency,
    pub quote: Currency,
    pub rate: Decimal,
    pub as_of: DateTime<Utc>,
}

/// What a file held: its rates, and the columns or entries left out (with why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    pub rates: Vec<FeedRate>,
    pub skipped: Vec<String>,
}

/// Most rates one file may hold (the ECB history since 1999 is ~200,000).
pub const MAX_RATES: usize = 250_000;

fn invalid(message: impl Into<String>) -> InvalidValue {
    InvalidValue::new("body", message)
}

/// Rates outside `[MIN_RATE, MAX_RATE]` are typos or a feed of something else (no currency
/// pair of ISO 4217 is that far apart), and a price converted at one would be nonsense.
const MIN_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 9);
const MAX_RATE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A rate as written: a plain or scientific decimal within `[MIN_RATE, MAX_RATE]`.
fn parse_rate(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let rate = text
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())?;
    (MIN_RATE..=MAX_RATE)
        .contains(&rate)
        .then_some(rate.normalize())
}

/// `2026-12-03` or the daily file's `03 December 2026`; rates hold from midnight UTC of their
/// day (the earliest they can be meant for, so their age is never understated).
fn parse_day(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d %B %Y"))
        .ok()?;
    Some(Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

/// The ECB's CSV: a header `Date, USD, JPY, …` (a trailing comma and spaces allowed), then one
/// row per day. `N/A` and empty cells are days without a rate; columns naming no ISO 4217
/// currency with minor units are skipped and reported.
pub fn parse_ecb_csv(text: &str) -> Result<Feed, InvalidValue> {
    let euro = Currency::parse("EUR").map_err(|_| invalid("EUR is unknown"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| invalid("the file is empty"))?;
    let mut cells = header.split(',').map(str::trim);
    if !cells.next().is_some_and(|c| c.eq_ignore_ascii_case("date")) {
        return Err(invalid(
            "the first column must be `Date` (the ECB's reference-rate CSV)",
        ));
    }
    let mut feed = Feed::default();
    let columns: Vec<Option<Currency>> = cells
        .map(|code| {
            if code.is_empty() {
                return None;
            }
            match Currency::parse(&code.to_ascii_uppercase()) {
                Ok(c) if c != euro => Some(c),
                _ => {
                    feed.skipped
                        .push(format!("column {code}: not a currency with minor units"));
                    None
                }
            }
        })
        .collect();
    for (n, line) in lines.enumerate() {
        let mut cells = line.split(',').map(str::trim);
        let day = cells.next().unwrap_or_default();
        let as_of = parse_day(day)
            .ok_or_else(|| invalid(format!("row {}: `{day}` is not a date", n + 2)))?;
        for (cell, column) in cells.zip(&columns) {
            let Some(quote) = column else { continue };
            if cell.is_empty() || cell.eq_ignore_ascii_case("N/A") {
                continue;
            }
            let rate = parse_rate(cell).ok_or_else(|| {
                invalid(format!(
                    "row {}: `{cell}` is not a positive rate for {}",
                    n + 2,
                    quote.code()
                ))
            })?;
            if feed.rates.len() == MAX_RATES {
                return Err(invalid(format!("more than {MAX_RATES} rates in one file")));
            }
            feed.rates.push(FeedRate {
                base: euro,
                quote: *quote,
                rate,
                as_of,
            });
        }
    }
    if feed.rates.is_empty() {
        return Err(invalid("the file holds no rates"));
    }
    Ok(feed)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFeed {
    One(JsonDay),
    Many(Vec<JsonDay>),
}

#[derive(Deserialize)]
struct JsonDay {
    base: String,
    /// `YYYY-MM-DD`.
    date: Option<String>,
    /// Seconds since the epoch, when the feed gives the minute it fixed the rates.
    timestamp: Option<i64>,
    rates: serde_json::Map<String, serde_json::Value>,
}

/// The JSON feed: `base`, `date` (or `timestamp`), and `rates` as numbers or decimal strings.
pub fn parse_json(text: &str) -> Result<Feed, InvalidValue> {
    let parsed: JsonFeed =
        serde_json::from_str(text).map_err(|e| invalid(format!("not a rates feed: {e}")))?;
    let days = match parsed {
        JsonFeed::One(day) => vec![day],
        JsonFeed::Many(days) => days,
    };
    let mut feed = Feed::default();
    for day in days {
        let base = Currency::parse(&day.base.to_ascii_uppercase())
            .map_err(|_| invalid(format!("base `{}` is not an ISO 4217 currency", day.base)))?;
        let as_of = match (day.timestamp, day.date.as_deref()) {
            (Some(ts), _) => DateTime::from_timestamp(ts, 0),
            (None, Some(date)) => parse_day(date),
            (None, None) => None,
        }
        .ok_or_else(|| invalid("each entry needs a `date` (YYYY-MM-DD) or a `timestamp`"))?;
        for (code, value) in day.rates {
            let quote = match Currency::parse(&code.to_ascii_uppercase()) {
                Ok(q) if q != base => q,
                Ok(_) => continue,
                Err(_) => {
                    feed.skipped
                        .push(format!("{code}: not a currency with minor units"));
                    continue;
                }
            };
            // A JSON number's text as written (to the digits serde_json keeps), never a float
            // computation.
            let text = match &value {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let rate = parse_rate(&text)
                .ok_or_else(|| invalid(format!("{code}: `{value}` is not a positive rate")))?;
            if feed.rates.len() == MAX_RATES {
                return Err(invalid(format!("more than {MAX_RATES} rates in one file")));
            }
            feed.rates.push(FeedRate {
                base,
                quote,
                rate,
                as_of,
            });
        }
    }
    if feed.rates.is_empty() {
        return Err(invalid("the feed holds no rates"));
    }
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    // The ECB's daily file as published (trailing comma and spaces included).
    const DAILY: &str = "Date, USD, JPY, BGN, CZK, DKK, GBP, HUF, PLN, RON, SEK, CHF, ISK, NOK, TRY, AUD, BRL, CAD, CNY, HKD, IDR, ILS, INR, KRW, MXN, MYR, NZD, PHP, SGD, THB, ZAR, \n\
03 December 2026, 1.0512, 158.42, 1.9558, 25.104, 7.4593, 0.83015, 404.58, 4.2775, 4.9741, 11.4375, 0.9379, 149.90, 11.7350, 36.2131, 1.6172, 6.2831, 1.4733, 7.6132, 8.1820, 16882.61, 3.8794, 89.2430, 1481.53, 21.3718, 4.6880, 1.7953, 61.626, 1.3986, 36.544, 18.9983, \n";

    #[test]
    fn reads_the_ecb_daily_file() {
        let feed = parse_ecb_csv(DAILY).unwrap();
        assert_eq!(feed.rates.len(), 30);
        assert!(feed.skipped.is_empty(), "{:?}", feed.skipped);
        let usd = &feed.rates[0];
        assert_eq!((usd.base, usd.quote), (c("EUR"), c("USD")));
        assert_eq!(usd.rate.to_string(), "1.0512");
        assert_eq!(usd.as_of.to_rfc3339(), "2026-12-03T00:00:00+00:00");
        let isk = feed.rates.iter().find(|r| r.quote == c("ISK")).unwrap();
        assert_eq!(isk.rate.to_string(), "149.9");
    }

    #[test]
    fn reads_the_ecb_history_file_with_gaps() {
        let hist = "Date,USD,JPY,CYP,\n2026-12-02,1.0490,158.10,N/A,\n2026-12-01,1.0475,,N/A,\n";
        let feed = parse_ecb_csv(hist).unwrap();
        assert_eq!(feed.rates.len(), 3);
        // CYP (the Cyprus pound) left the ISO list in 2008.
        assert_eq!(feed.skipped.len(), 1, "{:?}", feed.skipped);
        assert_eq!(
            feed.rates[2].as_of.to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
    }

    #[test]
    fn refuses_what_is_not_a_rate_file() {
        assert!(parse_ecb_csv("").is_err());
        assert!(parse_ecb_csv("Day, USD\n2026-12-01, 1.05\n").is_err());
        assert!(parse_ecb_csv("Date, USD\nyesterday, 1.05\n").is_err());
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, -1.05\n").is_err());
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, 0\n").is_err());
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, N/A\n").is_err());
        // Beyond any pair of ISO currencies: a typo, not a rate.
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, 1e-10\n").is_err());
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, 2000000000\n").is_err());
        assert!(parse_ecb_csv("Date, USD\n2026-12-01, 1e-9\n").is_ok());
    }

    #[test]
    fn reads_json_feeds() {
        let one = r#"{"base":"EUR","date":"2026-12-03","rates":{"USD":1.0512,"JPY":"158.42","KWD":0.32311}}"#;
        let feed = parse_json(one).unwrap();
        assert_eq!(feed.rates.len(), 3);
        let kwd = feed.rates.iter().find(|r| r.quote == c("KWD")).unwrap();
        assert_eq!(kwd.rate.to_string(), "0.32311");
        let many = r#"[{"base":"usd","timestamp":1796300000,"rates":{"JPY":150.7,"USD":1}},
                      {"base":"EUR","date":"2026-12-02","rates":{"XYZ":2}}]"#;
        let feed = parse_json(many).unwrap();
        assert_eq!(feed.rates.len(), 1);
        assert_eq!(feed.rates[0].base, c("USD"));
        assert_eq!(feed.rates[0].as_of.timestamp(), 1_796_300_000);
        assert_eq!(feed.skipped.len(), 1);
        assert!(parse_json(r#"{"base":"EUR","rates":{"USD":1}}"#).is_err());
        assert!(parse_json(r#"{"base":"EUR","date":"2026-12-02","rates":{"USD":true}}"#).is_err());
        assert!(parse_json("[]").is_err());
    }
}
