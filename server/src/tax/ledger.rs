//! The tax a merchant files: committed when a payment is captured, reversed when it is
//! refunded, per snapshot tax line and jurisdiction. Both run inside the payment's settling
//! transaction (its intent row locked), so a change of the ledger and its tax are one commit,
//! and concurrent captures and refunds of one payment see each other's tax.
//!
//! Amounts are cumulative targets: after a capture, what is committed is the snapshot's tax
//! prorated by `captured / amount`; after a refund, what is reversed is the committed tax
//! prorated by `refunded / captured`. Each transaction records the difference, so a full
//! capture commits exactly the snapshot's tax, the last refund reverses exactly the remainder,
//! and a reversal never exceeds what was committed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Error, repo};
use crate::{
    db::{DbError, Tx},
    money::MinorUnits,
    orders::{self, OrderScope},
    state::AppState,
    types::{Environment, OrderId, SnapshotId, StoreId, TransactionId},
};

/// `amount × num / den`, rounded half away from zero, exactly (no decimal step); the whole
/// amount once `num` reaches `den`, nothing while `num` is zero or negative.
pub fn prorate(amount: i64, num: i64, den: i64) -> i64 {
    if num >= den {
        return amount;
    }
    if num <= 0 || den <= 0 {
        return 0;
    }
    let scaled = i128::from(amount) * i128::from(num);
    let den = i128::from(den);
    let rounded = (scaled.abs() * 2 + den) / (2 * den);
    let rounded = if scaled < 0 { -rounded } else { rounded };
    i64::try_from(rounded).unwrap_or(amount)
}

/// A payment settled: what its intent holds now.
#[derive(Debug, Clone, Copy)]
pub struct Settled<'a> {
    /// Store.
    pub store: StoreId,
    /// Environment.
    pub env: Environment,
    /// The order.
    pub order_id: OrderId,
    /// The snapshot the payment was made on.
    pub snapshot_id: SnapshotId,
    /// Currency of the payment.
    pub currency: &'a str,
    /// The payment's amount (the snapshot's total).
    pub amount: i64,
    /// Captured so far, this settlement included.
    pub captured: i64,
    /// Refunded so far, this settlement included.
    pub refunded: i64,
    /// The payment transaction that settled.
    pub transaction: TransactionId,
    /// When.
    pub at: DateTime<Utc>,
}

type Key = (i32, i32);

fn by_line(rows: Vec<repo::LineAmounts>) -> HashMap<Key, repo::LineAmounts> {
    rows.into_iter()
        .map(|r| ((r.line_no, r.position), r))
        .collect()
}

async fn record(
    tx: &mut Tx,
    s: &Settled<'_>,
    kind: &str,
    source: String,
    lines: Vec<repo::LineAmounts>,
) -> Result<(), DbError> {
    if lines.is_empty() {
        return Ok(());
    }
    let row = repo::TransactionRow {
        id: Uuid::now_v7(),
        store_id: s.store,
        environment: s.env,
        order_id: s.order_id,
        snapshot_id: s.snapshot_id,
        kind: kind.to_owned(),
        source,
        currency: s.currency.to_owned(),
        taxable: lines.iter().map(|l| l.taxable).sum(),
        exempt: lines.iter().map(|l| l.exempt).sum(),
        tax: lines.iter().map(|l| l.tax).sum(),
        created_at: s.at,
    };
    repo::insert_transaction(tx, &row, &lines).await?;
    Ok(())
}

/// Commits the tax of what a capture took (in the capture's settling transaction).
pub async fn on_capture(tx: &mut Tx, s: &Settled<'_>) -> Result<(), DbError> {
    let snapshot = repo::line_amounts(tx, s.snapshot_id).await?;
    let committed = by_line(repo::moved(tx, s.order_id, "commit").await?);
    let lines = snapshot
        .into_iter()
        .map(|line| {
            let done = committed.get(&(line.line_no, line.position));
            let step = |total: i64, so_far: Option<i64>| {
                (prorate(total, s.captured, s.amount) - so_far.unwrap_or(0)).max(0)
            };
            repo::LineAmounts {
                taxable: step(line.taxable, done.map(|d| d.taxable)),
                exempt: step(line.exempt, done.map(|d| d.exempt)),
                tax: step(line.tax, done.map(|d| d.tax)),
                ..line
            }
        })
        .collect();
    record(tx, s, "commit", format!("capture:{}", s.transaction), lines).await
}

/// Reverses the tax of what a refund gave back (in the refund's settling transaction).
pub async fn on_refund(tx: &mut Tx, s: &Settled<'_>) -> Result<(), DbError> {
    let committed = repo::moved(tx, s.order_id, "commit").await?;
    let reversed = by_line(repo::moved(tx, s.order_id, "reversal").await?);
    let lines = committed
        .into_iter()
        .map(|line| {
            let done = reversed.get(&(line.line_no, line.position));
            let step = |total: i64, so_far: Option<i64>| {
                let so_far = so_far.unwrap_or(0);
                (prorate(total, s.refunded, s.captured) - so_far).clamp(0, total - so_far)
            };
            repo::LineAmounts {
                taxable: step(line.taxable, done.map(|d| d.taxable)),
                exempt: step(line.exempt, done.map(|d| d.exempt)),
                tax: step(line.tax, done.map(|d| d.tax)),
                ..line
            }
        })
        .collect();
    record(
        tx,
        s,
        "reversal",
        format!("refund:{}", s.transaction),
        lines,
    )
    .await
}

/// One jurisdiction's share of a tax transaction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxMovementLine {
    /// The snapshot line (`0`: shipping).
    pub line_no: i32,
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Amount taxed, minor units.
    #[schema(value_type = i64)]
    pub taxable: MinorUnits,
    /// Amount exempted, minor units.
    #[schema(value_type = i64)]
    pub exempt: MinorUnits,
    /// Tax committed or reversed, minor units.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
}

/// Tax committed (at a capture) or reversed (at a refund).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxTransaction {
    /// Id.
    pub id: Uuid,
    /// `commit` or `reversal`.
    pub kind: String,
    /// `capture:<transaction id>` or `refund:<transaction id>`.
    pub source: String,
    /// The snapshot taxed.
    pub snapshot_id: SnapshotId,
    /// Currency.
    pub currency: String,
    /// Sum of the lines' taxable amounts.
    #[schema(value_type = i64)]
    pub taxable: MinorUnits,
    /// Sum of the lines' exempt amounts.
    #[schema(value_type = i64)]
    pub exempt: MinorUnits,
    /// Sum of the lines' tax.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Per snapshot tax line.
    pub lines: Vec<TaxMovementLine>,
}

/// An order's tax: what was committed and reversed, and the net a return reports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderTax {
    /// The order.
    pub order_id: OrderId,
    /// Tax committed, minor units.
    #[schema(value_type = i64)]
    pub committed: MinorUnits,
    /// Tax reversed, minor units.
    #[schema(value_type = i64)]
    pub reversed: MinorUnits,
    /// Committed − reversed.
    #[schema(value_type = i64)]
    pub net: MinorUnits,
    /// Transactions, oldest first.
    pub transactions: Vec<TaxTransaction>,
}

/// An order's tax transactions (the order must be the store's).
pub async fn order_tax(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
) -> Result<OrderTax, Error> {
    let scope = OrderScope {
        store_id: store,
        environment: env,
        customer_id: None,
    };
    // Tenant and environment checks are the order's.
    orders::find(state, scope, order_id).await?;
    let (rows, lines) = repo::order_transactions(&state.db, store, env, order_id).await?;
    let mut per_transaction: HashMap<Uuid, Vec<TaxMovementLine>> = HashMap::new();
    for (id, l) in lines {
        per_transaction
            .entry(id)
            .or_default()
            .push(TaxMovementLine {
                line_no: l.line_no,
                jurisdiction: l.jurisdiction,
                taxable: MinorUnits(l.taxable),
                exempt: MinorUnits(l.exempt),
                tax: MinorUnits(l.tax),
            });
    }
    let sum = |kind: &str| {
        rows.iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.tax)
            .sum::<i64>()
    };
    let (committed, reversed) = (sum("commit"), sum("reversal"));
    Ok(OrderTax {
        order_id,
        committed: MinorUnits(committed),
        reversed: MinorUnits(reversed),
        net: MinorUnits(committed - reversed),
        transactions: rows
            .into_iter()
            .map(|r| TaxTransaction {
                lines: per_transaction.remove(&r.id).unwrap_or_default(),
                id: r.id,
                kind: r.kind,
                source: r.source,
                snapshot_id: r.snapshot_id,
                currency: r.currency,
                taxable: MinorUnits(r.taxable),
                exempt: MinorUnits(r.exempt),
                tax: MinorUnits(r.tax),
                created_at: r.created_at,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::prorate;

    #[test]
    fn prorating_rounds_half_away_from_zero_and_ends_exact() {
        assert_eq!(prorate(975, 1, 2), 488);
        assert_eq!(prorate(975, 1, 3), 325);
        assert_eq!(prorate(1, 1, 2), 1);
        assert_eq!(prorate(975, 3, 3), 975);
        assert_eq!(prorate(975, 0, 3), 0);
        assert_eq!(prorate(-975, 1, 2), -488);
    }

    proptest! {
        /// Refunds in any steps reverse a committed tax monotonically, never more than it, and
        /// the last one exactly the remainder.
        #[test]
        fn stepwise_reversals_never_exceed_and_end_exact(
            tax in 0i64..1_000_000,
            captured in 1i64..10_000_000,
            cuts in proptest::collection::vec(1u32..100, 1..8),
        ) {
            let total: u32 = cuts.iter().sum();
            let mut refunded = 0i64;
            let mut reversed = 0i64;
            let mut acc = 0u32;
            for cut in &cuts {
                acc += cut;
                let next = i64::try_from(u64::from(acc) * u64::try_from(captured).unwrap() / u64::from(total)).unwrap();
                prop_assert!(next >= refunded);
                refunded = next;
                let step = (prorate(tax, refunded, captured) - reversed).clamp(0, tax - reversed);
                reversed += step;
                prop_assert!(reversed <= tax);
            }
            prop_assert_eq!(refunded, captured);
            prop_assert_eq!(reversed, tax);
        }
    }
}
