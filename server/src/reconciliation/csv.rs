//! A run's items as CSV, streamed page by page (a run over a month can hold many).

use std::pin::Pin;

use futures::Stream;

use super::{Error, Item, ItemKind, service};
use crate::{
    csv::field as csv_field,
    state::AppState,
    types::{Environment, ReconciliationItemId, ReconciliationRunId, StoreId},
};

/// The file's columns (documented in the README).
pub const COLUMNS: &str = "item_id,kind,order_id,payment_intent_id,provider,provider_payment_id,\
currency,difference,resolution,note,resolved_by,resolved_at,ours,theirs,shipment_id,subject";

const PAGE: i64 = 500;

/// A streamed CSV body.
pub type CsvStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, std::io::Error>> + Send>>;

fn row(i: &Item) -> String {
    let text =
        |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string).unwrap_or_default();
    let opt = |v: Option<String>| v.unwrap_or_default();
    // Text goes through `csv_field` (quoting, no formulas); the amount is a number and is
    // written as one, so a negative difference stays parseable.
    let text_fields = |fields: &[String]| {
        fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",")
    };
    let head = text_fields(&[
        i.id.to_string(),
        i.kind.as_str().to_owned(),
        opt(i.order_id.map(|o| o.to_string())),
        opt(i.payment_intent_id.map(|p| p.to_string())),
        i.provider.clone(),
        opt(i.provider_payment_id.clone()),
        i.currency.clone(),
    ]);
    let tail = text_fields(&[
        i.resolution.as_str().to_owned(),
        opt(i.note.clone()),
        opt(i.resolved_by.clone()),
        opt(i.resolved_at.map(|t| t.to_rfc3339())),
        text(&i.ours),
        text(&i.theirs),
        opt(i.shipment_id.map(|s| s.to_string())),
        i.subject.as_str().to_owned(),
    ]);
    format!("{head},{},{tail}", i.difference)
}

/// The items of a run in the caller's scope (`None`: any store, for platform admins), after
/// checking the run exists there.
pub async fn items_csv(
    state: &AppState,
    scope: Option<(StoreId, Environment)>,
    run: ReconciliationRunId,
    kind: Option<ItemKind>,
) -> Result<CsvStream, Error> {
    service::get_run(state, scope, run).await?;
    let state = state.clone();
    let first = Some(format!("{COLUMNS}\r\n").into_bytes());
    Ok(Box::pin(futures::stream::unfold(
        (state, first, None::<ReconciliationItemId>, false),
        move |(state, header, after, done)| async move {
            if let Some(header) = header {
                return Some((Ok(header), (state, None, after, done)));
            }
            if done {
                return None;
            }
            match service::item_rows(&state, run, kind, None, after, PAGE).await {
                Ok(items) if items.is_empty() => None,
                Ok(items) => {
                    let last = items.last().map(|i| i.id);
                    let full = items.len() as i64 == PAGE;
                    let mut out = String::new();
                    for i in &items {
                        out.push_str(&row(i));
                        out.push_str("\r\n");
                    }
                    Some((Ok(out.into_bytes()), (state, None, last, !full)))
                }
                Err(err) => {
                    tracing::error!(error = %err, "reconciliation CSV failed while streaming");
                    Some((
                        Err(std::io::Error::other("the export failed")),
                        (state, None, after, true),
                    ))
                }
            }
        },
    )))
}
