//! Orders: the store's orders with filters and keyset pages, and the link to their CSV
//! export. Plain data plus, on the server, the part of the backend that answers it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// The list's filters and page, as the page's GET form and its links carry them (every field
/// is the text typed; the server reads it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersQuery {
    /// `open`, `paid` or `cancelled`.
    pub status: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`, the store's day).
    pub from: Option<String>,
    /// Created on or before this day.
    pub to: Option<String>,
    /// A customer id.
    pub customer: Option<String>,
    /// Items amount at least, in major units of the store's currency (`12.34`).
    pub min_amount: Option<String>,
    /// Items amount at most, likewise.
    pub max_amount: Option<String>,
    /// An order id or a customer's email.
    pub q: Option<String>,
    /// Last order of the previous page.
    pub after: Option<String>,
}

impl OrdersQuery {
    /// The filters as `key=value` pairs, URL-encoded, without the page cursor: for the next
    /// page's link and the export's.
    pub fn filter_pairs(&self) -> Vec<String> {
        [
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("customer", &self.customer),
            ("min_amount", &self.min_amount),
            ("max_amount", &self.max_amount),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect()
    }

    /// `path?filters` (just `path` without any).
    pub fn href(&self, path: &str, extra: Option<(&str, &str)>) -> String {
        let mut pairs = self.filter_pairs();
        if let Some((k, v)) = extra {
            pairs.push(format!("{k}={}", encode(v)));
        }
        if pairs.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", pairs.join("&"))
        }
    }
}

/// Percent-encodes a query value (an email's `+` must not become a space).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// An order as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRowView {
    /// Order id.
    pub id: String,
    /// Created, in the store's zone.
    pub created_at: super::Stamp,
    /// `open`, `paid` or `cancelled`.
    pub status: String,
    /// The customer's id.
    pub customer_id: String,
    /// Their email, when they gave one.
    pub customer_email: Option<String>,
    /// Items amount for people (`$12.34 USD`).
    pub amount: String,
    /// Units ordered.
    pub item_count: i64,
}

/// The Orders page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersPageView {
    /// The orders on this page, newest first.
    pub rows: Vec<OrderRowView>,
    /// Cursor of the next (older) page.
    pub next_after: Option<String>,
    /// Why a filter was refused: (field, message), shown beside the field; no rows then.
    pub errors: Vec<(String, String)>,
    /// The store's currency, in which the amount range is typed.
    pub currency: String,
    /// Whether the store has any order in this environment (else the empty state explains how
    /// orders are made).
    pub store_has_orders: bool,
}

/// The server's answers about orders; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait OrderBackend: Send + Sync {
    /// A page of the current store's orders in the environment shown.
    fn orders_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        query: OrdersQuery,
    ) -> BoxFuture<'a, ConsoleResult<OrdersPageView>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_filters_encoded() {
        let query = OrdersQuery {
            status: Some("paid".to_owned()),
            q: Some("a+b@shop.example".to_owned()),
            min_amount: Some(String::new()),
            after: Some("ignored".to_owned()),
            ..OrdersQuery::default()
        };
        assert_eq!(
            query.href("/console/exports/orders.csv", None),
            "/console/exports/orders.csv?status=paid&q=a%2Bb%40shop.example"
        );
        assert_eq!(
            OrdersQuery::default().href("/orders", Some(("after", "x"))),
            "/orders?after=x"
        );
    }
}

/// One line of an order as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    /// Stock keeping unit.
    pub sku: String,
    /// Product name as ordered.
    pub name: String,
    /// Units.
    pub quantity: i32,
    /// Price per unit, formatted.
    pub unit_price: String,
    /// Line amount, formatted.
    pub amount: String,
}

/// The head of the order page: the customer, the lines, the address and the totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummaryView {
    /// When it was placed.
    pub placed: super::Stamp,
    /// The customer's id (links to the customer's page).
    pub customer_id: String,
    /// The customer's name, else their email, else none.
    pub customer: Option<String>,
    /// The customer's email.
    pub customer_email: Option<String>,
    /// The shipping address, one line per entry.
    pub address: Vec<String>,
    /// Lines, in order.
    pub lines: Vec<OrderLineView>,
    /// Label and formatted amount: subtotal, shipping, tax and total of the snapshot the
    /// newest payment paid; the items' sum alone before any checkout.
    pub totals: Vec<(String, String)>,
    /// Whether the totals come from a checkout snapshot (else only the items are known).
    pub quoted: bool,
}
