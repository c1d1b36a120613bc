//! Tax in a run: after the shipments, each tax transaction of the period that a tax service
//! quoted is compared with its filing there (the outbox's answer from the service): the tax
//! the ledger committed or reversed must have been booked where it is declared.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Batch;
use crate::{
    reconciliation::{
        Error, ItemKind,
        compare_filing::{FilingState, compare_filing},
        repo::{self, FilingRow, ItemRow, RunRow},
    },
    state::AppState,
};

/// The `ours` phase's cursor once the shipments are done: the filings follow, from the start.
pub(super) const FILINGS: &str = "filings|";

/// The filings' position in an `ours` cursor (`None`: not on the filings yet).
pub(super) fn filings_cursor(cursor: &str) -> Option<Option<&str>> {
    cursor
        .strip_prefix(FILINGS)
        .map(|rest| Some(rest).filter(|r| !r.is_empty()))
}

/// Compares one page of the period's filed tax transactions with their filings. Cursor:
/// `filings|<created_at RFC 3339>|<tax transaction id>`.
pub(super) async fn filings_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
    page: i64,
) -> Result<Batch, Error> {
    let after = super::creation_cursor(cursor);
    let rows = repo::filings(&state.db, run, after, page).await?;
    let Some(last) = rows.last() else {
        return Ok(Batch {
            phase: "orphans",
            ..Batch::default()
        });
    };
    let now = state.clock.now();
    let mut batch = Batch {
        phase: "ours",
        cursor: Some(format!(
            "{FILINGS}{}|{}",
            last.created_at.to_rfc3339(),
            last.id
        )),
        examined: rows.len() as i64,
        ..Batch::default()
    };
    for row in &rows {
        let filing = FilingState::parse(&row.status)
            .ok_or_else(|| Error::Corrupt(format!("filing status {:?}", row.status)))?;
        match compare_filing(
            filing,
            row.created_at,
            now,
            state.config.reconciliation_stale,
        ) {
            None => {}
            Some(ItemKind::Matched) => batch.matched += 1,
            Some(kind) => batch.items.push(filing_item(run, kind, row, now)),
        }
    }
    Ok(batch)
}

/// An item about a filing: the difference is the tax the service did not book (all of a
/// commit's, a reversal's back), in the transaction's currency.
fn filing_item(run: &RunRow, kind: ItemKind, row: &FilingRow, now: DateTime<Utc>) -> ItemRow {
    let booked = match kind {
        ItemKind::Matched => row.tax,
        _ => 0,
    };
    let signed = |tax: i64| if row.kind == "reversal" { -tax } else { tax };
    ItemRow {
        id: Uuid::now_v7(),
        run_id: run.id,
        store_id: run.store_id,
        environment: run.environment,
        item_key: format!("{}:tax:{}", kind.as_str(), row.id),
        kind: kind.as_str().to_owned(),
        payment_intent_id: Some(row.payment_intent_id),
        order_id: Some(row.order_id),
        shipment_id: None,
        subject: "tax".to_owned(),
        provider: row.engine.clone(),
        provider_payment_id: Some(row.id.to_string()),
        currency: row.currency.clone(),
        difference: signed(booked) - signed(row.tax),
        ours: Some(
            json!({"tax_transaction_id": row.id, "kind": row.kind, "currency": row.currency,
                "tax": row.tax})
            .to_string(),
        ),
        theirs: Some(
            json!({"filing": row.status, "attempts": row.attempt_count,
                "last_error": row.last_error})
            .to_string(),
        ),
        resolution: "open".to_owned(),
        note: None,
        resolved_by: None,
        resolved_at: None,
        created_at: now,
    }
}
