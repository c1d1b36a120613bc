//! Importing and reading rates, stores' FX policies, and the lock an order is priced with.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{
    DEFAULT_MAX_RATE_AGE_SECS, Error, FeedFormat, ImportInput, ImportSummary, LatestRate, Lock,
    Policy, PolicyInput, Rate, cross, feed, repo,
};
use crate::{
    state::AppState,
    types::{Currency, Environment, FxRateId, InvalidValue, StoreId},
};

/// Most presentment currencies a store may list.
const MAX_PRESENTMENT: usize = 50;
/// Longest maximum rate age a store may set: thirty days.
const MAX_RATE_AGE_LIMIT: i64 = 30 * 24 * 3600;
/// Rows the pair lookup reads per currency: over a year of daily rates of several sources.
const LOOKUP_ROWS: i64 = 500;

/// Parses a feed and stores its rates in one transaction (an import of the same file again
/// stores nothing new).
pub async fn import(
    state: &AppState,
    actor: &str,
    input: ImportInput,
) -> Result<ImportSummary, Error> {
    let source = match (input.format, input.source.as_deref().map(str::trim)) {
        (_, Some(s)) if !s.is_empty() => s.to_owned(),
        (FeedFormat::EcbCsv, _) => "ecb".to_owned(),
        (FeedFormat::Json, _) => {
            return Err(InvalidValue::new("source", "name the feed (1 to 64 characters)").into());
        }
    };
    if source.chars().count() > 64 || source.chars().any(char::is_control) {
        return Err(InvalidValue::new("source", "1 to 64 printable characters").into());
    }
    let data = input.data;
    // Parsing a history file is a few hundred milliseconds of CPU: off the async workers.
    let parsed = tokio::task::spawn_blocking(move || match input.format {
        FeedFormat::EcbCsv => feed::parse_ecb_csv(&data),
        FeedFormat::Json => feed::parse_json(&data),
    })
    .await
    .map_err(|e| Error::Corrupt(format!("parser stopped: {e}")))??;
    let now = state.clock.now();
    let rows: Vec<repo::RateRow> = parsed
        .rates
        .iter()
        .map(|r| repo::RateRow {
            id: FxRateId::new(),
            source: source.clone(),
            base: r.base,
            quote: r.quote,
            rate: r.rate.to_string(),
            as_of: r.as_of,
            imported_at: now,
            imported_by: actor.to_owned(),
        })
        .collect();
    let mut tx = state.db.begin_write().await?;
    let inserted = repo::insert_rates(&mut tx, &rows).await?;
    tx.commit().await?;
    let imported = usize::try_from(inserted).unwrap_or(usize::MAX);
    tracing::info!(
        source,
        imported,
        total = rows.len(),
        actor,
        "exchange rates imported"
    );
    Ok(ImportSummary {
        imported,
        already_known: rows.len().saturating_sub(imported),
        skipped: parsed.skipped,
        latest_as_of: parsed.rates.iter().map(|r| r.as_of).max(),
    })
}

fn rate_view(row: repo::RateRow) -> Rate {
    Rate {
        id: row.id,
        source: row.source,
        base: row.base,
        quote: row.quote,
        rate: row.rate,
        as_of: row.as_of,
        imported_at: row.imported_at,
        imported_by: row.imported_by,
    }
}

/// Filters of [`history`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RateFilter {
    pub base: Option<Currency>,
    pub quote: Option<Currency>,
    /// Rates older than this one (the last of the previous page).
    pub before: Option<FxRateId>,
    /// 1 to 500.
    pub limit: Option<i64>,
}

/// Stored rates, newest first, with the next page's cursor.
pub async fn history(
    state: &AppState,
    filter: RateFilter,
) -> Result<(Vec<Rate>, Option<FxRateId>), Error> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(InvalidValue::new("limit", "must be 1 to 500").into());
    }
    let before = match filter.before {
        None => None,
        Some(id) => Some((cursor_time(state, id).await?, id)),
    };
    let mut rows = repo::history(
        &state.db,
        repo::HistoryFilter {
            base: filter.base,
            quote: filter.quote,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok((rows.into_iter().map(rate_view).collect(), next))
}

async fn cursor_time(state: &AppState, id: FxRateId) -> Result<DateTime<Utc>, Error> {
    repo::rate_time(&state.db, id)
        .await?
        .ok_or_else(|| InvalidValue::new("before", "no such rate").into())
}

/// Each source's newest rate of each pair, with its age.
pub async fn latest(state: &AppState) -> Result<Vec<LatestRate>, Error> {
    let now = state.clock.now();
    Ok(repo::latest(&state.db, 1000)
        .await?
        .into_iter()
        .map(|row| {
            let age_secs = (now - row.as_of).num_seconds();
            LatestRate {
                source: row.source,
                base: row.base,
                quote: row.quote,
                rate: row.rate,
                as_of: row.as_of,
                age_secs,
                stale: age_secs > DEFAULT_MAX_RATE_AGE_SECS,
            }
        })
        .collect())
}

fn parse_currency(field: &'static str, code: &str) -> Result<Currency, InvalidValue> {
    Currency::parse(&code.trim().to_ascii_uppercase())
        .map_err(|_| InvalidValue::new(field, format!("`{code}` is not an ISO 4217 currency")))
}

/// The store's policy (the defaults, unconfigured, when it has none).
pub async fn policy(state: &AppState, store: StoreId, env: Environment) -> Result<Policy, Error> {
    let Some(row) = repo::policy(&state.db, store, env).await? else {
        return Ok(Policy {
            configured: false,
            settlement_currency: None,
            presentment_currencies: Vec::new(),
            markup_bps: 0,
            max_rate_age_secs: DEFAULT_MAX_RATE_AGE_SECS,
            rounding: super::Rounding::default(),
            updated_by: None,
            updated_at: None,
        });
    };
    let presentment = row
        .presentment_currencies
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| Currency::parse(c).map_err(|_| Error::Corrupt(format!("currency {c}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        configured: true,
        settlement_currency: Some(row.settlement_currency),
        presentment_currencies: presentment,
        markup_bps: row.markup_bps,
        max_rate_age_secs: row.max_rate_age_secs,
        rounding: row.rounding,
        updated_by: Some(row.updated_by),
        updated_at: Some(row.updated_at),
    })
}

/// Sets the store's policy.
pub async fn put_policy(
    state: &AppState,
    store: StoreId,
    env: Environment,
    actor: &str,
    input: &PolicyInput,
) -> Result<Policy, Error> {
    let settlement = parse_currency("settlement_currency", &input.settlement_currency)?;
    if input.presentment_currencies.len() > MAX_PRESENTMENT {
        return Err(InvalidValue::new(
            "presentment_currencies",
            format!("at most {MAX_PRESENTMENT} currencies"),
        )
        .into());
    }
    let mut presentment: Vec<Currency> = Vec::new();
    for code in &input.presentment_currencies {
        let currency = parse_currency("presentment_currencies", code)?;
        if currency != settlement && !presentment.contains(&currency) {
            presentment.push(currency);
        }
    }
    if !(0..=5000).contains(&input.markup_bps) {
        return Err(InvalidValue::new("markup_bps", "must be 0 to 5000 (50%)").into());
    }
    let max_age = input.max_rate_age_secs.unwrap_or(DEFAULT_MAX_RATE_AGE_SECS);
    if !(60..=MAX_RATE_AGE_LIMIT).contains(&max_age) {
        return Err(InvalidValue::new(
            "max_rate_age_secs",
            format!("must be 60 to {MAX_RATE_AGE_LIMIT} seconds"),
        )
        .into());
    }
    let row = repo::PolicyRow {
        settlement_currency: settlement,
        presentment_currencies: presentment
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(","),
        markup_bps: input.markup_bps,
        max_rate_age_secs: max_age,
        rounding: input.rounding,
        updated_by: actor.to_owned(),
        updated_at: state.clock.now(),
    };
    let mut tx = state.db.begin_write().await?;
    repo::put_policy(&mut tx, store, env, &row).await?;
    tx.commit().await?;
    policy(state, store, env).await
}

/// The newest rate of `to` per `from` fixed by now, from any source.
async fn current_rate(
    state: &AppState,
    from: Currency,
    to: Currency,
) -> Result<cross::Derived, Error> {
    let rows = repo::quotes_for(&state.db, from, to, state.clock.now(), LOOKUP_ROWS).await?;
    let quotes = rows
        .into_iter()
        .map(|r| {
            let rate: Decimal = r
                .rate
                .parse()
                .map_err(|_| Error::Corrupt(format!("rate {}", r.rate)))?;
            Ok(cross::Quote {
                source: r.source,
                base: r.base,
                quote: r.quote,
                rate,
                as_of: r.as_of,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    cross::derive(&quotes, from, to).ok_or_else(|| Error::NoRate {
        from: from.code().to_owned(),
        to: to.code().to_owned(),
    })
}

/// The lock an order of the store in `presentment` is priced with now, for products priced in
/// `catalogue`: `None` when nothing is converted (the order is in the products' currency).
/// Refuses a currency the store does not offer and a rate older than its policy allows.
pub async fn lock_for(
    state: &AppState,
    store: StoreId,
    env: Environment,
    catalogue: Currency,
    presentment: Currency,
) -> Result<Option<Lock>, Error> {
    if presentment == catalogue {
        return Ok(None);
    }
    let policy = policy(state, store, env).await?;
    let offered = policy.settlement_currency == Some(catalogue)
        && policy.presentment_currencies.contains(&presentment);
    let Some(settlement) = policy.settlement_currency.filter(|_| offered) else {
        return Err(Error::NotOffered(presentment.code().to_owned()));
    };
    let derived = current_rate(state, settlement, presentment).await?;
    let lock = Lock {
        rate: derived.rate,
        source: derived.source,
        as_of: derived.as_of,
        markup_bps: policy.markup_bps,
        rounding: policy.rounding,
        settlement_currency: settlement,
    };
    check_age(
        state.clock.now(),
        &lock,
        policy.max_rate_age_secs,
        presentment,
    )?;
    Ok(Some(lock))
}

/// Refuses a lock older than the store's maximum rate age now (a snapshot is never taken at a
/// rate the store no longer accepts).
pub async fn require_fresh(
    state: &AppState,
    store: StoreId,
    env: Environment,
    lock: &Lock,
    presentment: Currency,
) -> Result<(), Error> {
    let max_age = policy(state, store, env).await?.max_rate_age_secs;
    check_age(state.clock.now(), lock, max_age, presentment)
}

fn check_age(
    now: DateTime<Utc>,
    lock: &Lock,
    max_age: i64,
    presentment: Currency,
) -> Result<(), Error> {
    if lock.is_stale(now, max_age) {
        return Err(Error::Stale {
            from: lock.settlement_currency.code().to_owned(),
            to: presentment.code().to_owned(),
            as_of: lock.as_of,
        });
    }
    Ok(())
}
