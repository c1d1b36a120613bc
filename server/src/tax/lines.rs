//! What a quote needs from tax (the store's rates, nexus and the customer's certificates) and
//! what it keeps: every line's tax per jurisdiction, stored in the snapshot's transaction.

use super::{Error, TaxLine, config, exemptions, repo};
use crate::{
    db::{DbError, Tx, Writes},
    providers::tax::{Exemption, Level, Nexus, ROUNDING_RULE, TaxConfig, TaxedLine, ZeroReason},
    state::AppState,
    types::{CustomerId, Environment, SnapshotId, StoreId},
};

/// Everything the engine weighs for one customer's quote.
#[derive(Debug, Clone)]
pub struct TaxContext {
    /// The store's provider and rates.
    pub config: TaxConfig,
    /// Where the store collects.
    pub nexus: Vec<Nexus>,
    /// The customer's certificates.
    pub exemptions: Vec<Exemption>,
    /// The engine and its fallback.
    pub settings: super::TaxSettings,
}

/// The tax context of a quote for `customer`.
pub async fn context(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<TaxContext, Error> {
    Ok(TaxContext {
        config: config::load_config(state, store, env).await?,
        nexus: config::load_nexus(state, store, env).await?,
        exemptions: exemptions::for_quote(state, store, env, customer).await?,
        settings: super::engine::settings(state, store, env).await?,
    })
}

/// The engine's answer as tax lines (what a snapshot shows and stores).
pub fn lines_of(taxed: &[TaxedLine], engine: &str, version: &str) -> Vec<TaxLine> {
    let mut lines: Vec<TaxLine> = taxed
        .iter()
        .flat_map(|line| {
            line.parts.iter().map(move |part| TaxLine {
                line_no: line.line_no,
                jurisdiction: part.jurisdiction.clone(),
                level: part.level,
                tax_code: part.tax_code.clone(),
                rate: part.rate.normalize().to_string(),
                taxable: part.taxable,
                exempt: part.exempt,
                tax: part.tax,
                reason: part.reason,
                certificate_id: part.certificate_id.clone(),
                rounding: ROUNDING_RULE.to_owned(),
                engine: engine.to_owned(),
                engine_version: version.to_owned(),
            })
        })
        .collect();
    // As stored and read back: by line (shipping, line 0, first), parts in level order.
    lines.sort_by_key(|l| l.line_no);
    lines
}

/// Stores a snapshot's tax lines, in the snapshot's transaction (positions number each line's
/// parts in order).
pub async fn record_lines(
    tx: &mut Tx,
    writes: &mut Writes,
    snapshot: SnapshotId,
    lines: &[TaxLine],
) -> Result<(), DbError> {
    let mut position = 0;
    let mut previous = None;
    let rows: Vec<repo::TaxLineRow> = lines
        .iter()
        .map(|l| {
            position = if previous == Some(l.line_no) {
                position + 1
            } else {
                0
            };
            previous = Some(l.line_no);
            repo::TaxLineRow {
                line_no: l.line_no,
                position,
                jurisdiction: l.jurisdiction.clone(),
                level: l.level.as_str().to_owned(),
                tax_code: l.tax_code.clone(),
                rate: l.rate.clone(),
                taxable: l.taxable,
                exempt: l.exempt,
                tax: l.tax,
                reason: l.reason.map(|r| r.as_str().to_owned()),
                certificate_id: l.certificate_id.clone(),
                rounding: l.rounding.clone(),
                engine: l.engine.clone(),
                engine_version: l.engine_version.clone(),
            }
        })
        .collect();
    repo::insert_lines(tx, writes, snapshot, &rows).await
}

/// A snapshot's tax lines.
pub async fn snapshot_lines(state: &AppState, snapshot: SnapshotId) -> Result<Vec<TaxLine>, Error> {
    let unknown = |what: &str, value: &str| {
        Error::Db(DbError::Query(sqlx::Error::Decode(
            format!("unknown tax line {what} {value:?}").into(),
        )))
    };
    repo::lines(&state.db, snapshot)
        .await?
        .into_iter()
        .map(|row| {
            let level = Level::parse(&row.level).ok_or_else(|| unknown("level", &row.level))?;
            let reason = match row.reason.as_deref() {
                None => None,
                Some(r) => Some(ZeroReason::parse(r).ok_or_else(|| unknown("reason", r))?),
            };
            Ok(TaxLine {
                line_no: row.line_no,
                jurisdiction: row.jurisdiction,
                level,
                tax_code: row.tax_code,
                rate: row.rate,
                taxable: row.taxable,
                exempt: row.exempt,
                tax: row.tax,
                reason,
                certificate_id: row.certificate_id,
                rounding: row.rounding,
                engine: row.engine,
                engine_version: row.engine_version,
            })
        })
        .collect()
}
