//! The filtered order list as CSV, streamed: rows are read a keyset batch at a time while the
//! body is being sent, so an export of any size never sits whole in memory.

use std::pin::Pin;

use futures::Stream;

use super::{
    OrderFilter, OrderSummary,
    repo::{self, Keyset},
};
use crate::{
    csv::field as csv_field,
    money::Money,
    state::AppState,
    types::{Environment, OrderId, StoreId},
};

/// The file's columns (documented in the README).
pub const COLUMNS: &str =
    "order_id,created_at,status,customer_email,currency,items_amount,item_count";

/// Rows read per query. Public to the crate so tests can export more than one batch.
pub(crate) const BATCH: i64 = 100;

/// A streamed CSV body.
pub type CsvStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, std::io::Error>> + Send>>;

/// One line. The amount is `Money::major()`, the same decimal the console formats, written
/// plainly (`12.34`, `1099` for JPY): a number for spreadsheets, without symbol or grouping.
fn row(o: &OrderSummary) -> String {
    let amount = Money::new(o.items_amount, o.currency).major();
    // Text a customer chose (the email) goes through `csv_field`: quoted when needed and never
    // read as a formula. The others are ours, but go through it too so the file is uniform.
    [
        o.id.to_string(),
        o.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        o.status.as_str().to_owned(),
        o.customer_email.clone().unwrap_or_default(),
        o.currency.code().to_owned(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .chain([amount.to_string(), o.item_count.to_string()])
    .collect::<Vec<_>>()
    .join(",")
}

/// The header, then the orders matching `filter`, newest first.
pub(super) fn stream(
    state: AppState,
    store_id: StoreId,
    environment: Environment,
    filter: OrderFilter,
) -> CsvStream {
    let header = Some(format!("{COLUMNS}\r\n").into_bytes());
    Box::pin(futures::stream::unfold(
        (state, filter, header, None::<OrderId>, false),
        move |(state, filter, header, after, done)| async move {
            if let Some(header) = header {
                return Some((Ok(header), (state, filter, None, after, done)));
            }
            if done {
                return None;
            }
            let keyset = Keyset {
                after,
                newest_first: true,
                limit: BATCH,
            };
            match repo::search(&state.db, store_id, environment, &filter, &keyset).await {
                Ok(orders) if orders.is_empty() => None,
                Ok(orders) => {
                    let last = orders.last().map(|o| o.id);
                    let full = orders.len() as i64 == BATCH;
                    let mut out = String::new();
                    for o in &orders {
                        out.push_str(&row(o));
                        out.push_str("\r\n");
                    }
                    Some((Ok(out.into_bytes()), (state, filter, None, last, !full)))
                }
                Err(err) => {
                    // The status line is gone: failing the body makes the download fail
                    // instead of ending as a file that looks complete.
                    tracing::error!(error = %err, "orders CSV failed while streaming");
                    Some((
                        Err(std::io::Error::other("the export failed")),
                        (state, filter, None, after, true),
                    ))
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::{
        money::MinorUnits,
        orders::OrderStatus,
        types::{Currency, CustomerId},
    };

    #[test]
    fn a_row_has_plain_major_amounts_and_no_formulas() {
        let order = OrderSummary {
            id: OrderId::new(),
            customer_id: CustomerId::new(),
            customer_email: Some("=cmd@evil.example".to_owned()),
            status: OrderStatus::Paid,
            currency: Currency::parse("USD").expect("USD"),
            items_amount: MinorUnits(123456),
            item_count: 3,
            created_at: chrono::Utc
                .with_ymd_and_hms(2026, 12, 4, 10, 0, 0)
                .single()
                .expect("a time"),
        };
        assert_eq!(
            row(&order),
            format!(
                "{},2026-12-04T10:00:00Z,paid,'=cmd@evil.example,USD,1234.56,3",
                order.id
            )
        );
    }
}
