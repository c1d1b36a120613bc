//! The head of the console's order page: who ordered what, where it ships and what it comes
//! to, read through the orders, customers and checkout services (the same store and
//! environment scope as the API's).

use app::backend::{
    ConsoleResult,
    orders::{OrderLineView, OrderSummaryView},
};

use super::{shown, time::Times};
use crate::{
    address::Address,
    checkout,
    money::format_amount,
    orders::{self, OrderScope},
    state::AppState,
    tenancy::customers,
    types::{Environment, OrderId, SnapshotId, StoreId},
};

fn address_lines(a: &Address) -> Vec<String> {
    let place = [
        a.postal_code.as_deref(),
        Some(a.city.as_str()),
        a.subdivision.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    [
        Some(a.name.clone()),
        Some(a.line1.clone()),
        a.line2.clone(),
        Some(place),
        Some(a.country.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|l| !l.trim().is_empty())
    .collect()
}

/// The order's head; `paid_snapshot` is the snapshot of its newest payment, whose totals are
/// what the customer was charged.
pub async fn summary(
    state: &AppState,
    (store, environment): (StoreId, Environment),
    order_id: OrderId,
    paid_snapshot: Option<SnapshotId>,
    times: &Times,
) -> ConsoleResult<OrderSummaryView> {
    let scope = OrderScope {
        store_id: store,
        environment,
        customer_id: None,
    };
    let order = orders::find(state, scope, order_id).await.map_err(shown)?;
    let customer = customers::find(state, store, environment, order.customer_id)
        .await
        .map_err(shown)?;
    let currency = order.currency.code();
    let money = |minor: i64| format_amount(minor, currency);
    let lines = order
        .items
        .iter()
        .map(|item| OrderLineView {
            sku: item.sku.clone(),
            name: item.name.clone(),
            quantity: item.quantity,
            unit_price: money(item.unit_amount.0),
            amount: money(item.amount.0),
        })
        .collect();
    let snapshot = match paid_snapshot {
        Some(id) => Some(checkout::find(state, scope, id).await.map_err(shown)?),
        None => None,
    };
    let totals = match &snapshot {
        Some(s) => {
            let money = |minor: i64| format_amount(minor, &s.currency);
            vec![
                ("Subtotal".to_owned(), money(s.totals.subtotal.0)),
                ("Shipping".to_owned(), money(s.totals.shipping.0)),
                ("Tax".to_owned(), money(s.totals.tax.0)),
                ("Total".to_owned(), money(s.totals.total.0)),
            ]
        }
        None => vec![("Items".to_owned(), money(order.items_amount.0))],
    };
    Ok(OrderSummaryView {
        placed: times.stamp(order.created_at),
        customer_id: customer.id.to_string(),
        customer: customer.name.clone().or_else(|| customer.email.clone()),
        customer_email: customer.email,
        address: address_lines(&order.shipping_address),
        lines,
        totals,
        quoted: snapshot.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_reads_as_its_label_lines() {
        let address = Address {
            name: "Ada Lovelace".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "LOS ANGELES".into(),
            subdivision: Some("CA".into()),
            postal_code: Some("90012".into()),
            country: "US".into(),
        };
        assert_eq!(
            address_lines(&address),
            ["Ada Lovelace", "1 Main St", "90012 LOS ANGELES CA", "US"]
        );
    }
}
