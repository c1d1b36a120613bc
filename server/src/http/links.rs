//! OpenAPI links: which operation's answer names the object another operation acts on. They
//! tell a client (and the stateful API fuzzer in `scripts/fuzz-api`) how the API chains: create
//! an order, authorize it, capture the intent. utoipa's path macro cannot write links, so they
//! are added to the generated document from one table.

use serde_json::{Map, Value, json};

/// One link: from an operation's answer with `status` to `target`, with the target's
/// parameters taken from runtime expressions (`$response.body#/id`, `$request.path.order_id`).
struct LinkSpec {
    source: &'static str,
    status: &'static str,
    target: &'static str,
    parameters: &'static [(&'static str, &'static str)],
}

const fn link(
    source: &'static str,
    status: &'static str,
    target: &'static str,
    parameters: &'static [(&'static str, &'static str)],
) -> LinkSpec {
    LinkSpec {
        source,
        status,
        target,
        parameters,
    }
}

const BODY_ID: &str = "$response.body#/id";
const PATH_ORDER: &str = "$request.path.order_id";

const LINKS: &[LinkSpec] = &[
    // Catalogue.
    link(
        "create_product",
        "201",
        "get_product",
        &[("product_id", BODY_ID)],
    ),
    link(
        "create_product",
        "201",
        "update_product",
        &[("product_id", BODY_ID)],
    ),
    link(
        "create_product",
        "201",
        "put_prices",
        &[("product_id", BODY_ID)],
    ),
    // Customers.
    link(
        "create_customer",
        "201",
        "get_customer",
        &[("customer_id", BODY_ID)],
    ),
    link(
        "create_customer",
        "201",
        "list_exemptions",
        &[("customer_id", BODY_ID)],
    ),
    link(
        "create_customer",
        "201",
        "create_exemption",
        &[("customer_id", BODY_ID)],
    ),
    link(
        "create_customer",
        "201",
        "create_customer_token",
        &[("customer_id", BODY_ID)],
    ),
    link(
        "create_exemption",
        "201",
        "revoke_exemption",
        &[
            ("customer_id", "$request.path.customer_id"),
            ("exemption_id", BODY_ID),
        ],
    ),
    // A customer's order and its payment.
    link(
        "create_order",
        "201",
        "get_my_order",
        &[("order_id", BODY_ID)],
    ),
    link("create_order", "201", "get_order", &[("order_id", BODY_ID)]),
    link(
        "create_order",
        "201",
        "customer_rates",
        &[("order_id", BODY_ID)],
    ),
    link("create_order", "201", "authorize", &[("order_id", BODY_ID)]),
    link("create_order", "201", "pay", &[("order_id", BODY_ID)]),
    link(
        "create_order",
        "201",
        "order_payments",
        &[("order_id", BODY_ID)],
    ),
    link(
        "create_order",
        "201",
        "customer_finalize_tax",
        &[("order_id", BODY_ID)],
    ),
    link(
        "create_order",
        "201",
        "store_rates",
        &[("order_id", BODY_ID)],
    ),
    link("create_order", "201", "buy_label", &[("order_id", BODY_ID)]),
    link(
        "create_quote",
        "201",
        "get_snapshot",
        &[("snapshot_id", "$response.body#/snapshot_id")],
    ),
    link(
        "create_quote",
        "201",
        "authorize",
        &[("order_id", "$response.body#/order_id")],
    ),
    link(
        "authorize",
        "201",
        "capture",
        &[("order_id", PATH_ORDER), ("intent_id", BODY_ID)],
    ),
    link(
        "authorize",
        "201",
        "void",
        &[("order_id", PATH_ORDER), ("intent_id", BODY_ID)],
    ),
    link("authorize", "201", "get_order", &[("order_id", PATH_ORDER)]),
    link(
        "pay",
        "200",
        "capture",
        &[("order_id", PATH_ORDER), ("intent_id", BODY_ID)],
    ),
    link(
        "capture",
        "200",
        "refund",
        &[
            ("order_id", PATH_ORDER),
            ("intent_id", "$request.path.intent_id"),
        ],
    ),
    // Shipments.
    link(
        "buy_label",
        "201",
        "get_shipment",
        &[("shipment_id", BODY_ID)],
    ),
    link("buy_label", "201", "get_label", &[("shipment_id", BODY_ID)]),
    link(
        "buy_label",
        "201",
        "void_shipment",
        &[("shipment_id", BODY_ID)],
    ),
    // Webhook endpoints.
    link(
        "create_endpoint",
        "201",
        "get_endpoint",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "update_endpoint",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "delete_endpoint",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "list_deliveries",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "ping",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "rotate_secret",
        &[("endpoint_id", BODY_ID)],
    ),
    link(
        "create_endpoint",
        "201",
        "resend_range",
        &[("endpoint_id", BODY_ID)],
    ),
    // Keys and members.
    link("create_key", "201", "revoke_key", &[("key_id", BODY_ID)]),
    link(
        "add_member",
        "201",
        "update_member",
        &[("user_id", "$response.body#/user_id")],
    ),
    link(
        "add_member",
        "201",
        "remove_member",
        &[("user_id", "$response.body#/user_id")],
    ),
    // Reconciliation.
    link("start_run", "202", "get_run", &[("run_id", BODY_ID)]),
    link("start_run", "202", "list_items", &[("run_id", BODY_ID)]),
    link("start_run", "202", "export_items", &[("run_id", BODY_ID)]),
    // Platform.
    link("create_store", "201", "get_store", &[("store_id", BODY_ID)]),
    link(
        "create_store",
        "201",
        "create_store_user",
        &[("store_id", BODY_ID)],
    ),
    link(
        "start_rotation",
        "202",
        "get_rotation",
        &[("rotation_id", BODY_ID)],
    ),
];

/// Adds [`LINKS`] to the document's responses, as JSON: utoipa 5.5 writes a link's
/// `operationId` as `operation_id`, which no OpenAPI reader understands. A link whose source or
/// answer is missing is left out; the unit test below keeps the table and the routes in step.
pub fn add(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for spec in LINKS {
        let source = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .find(|op| op.get("operationId").and_then(Value::as_str) == Some(spec.source));
        let Some(response) = source
            .and_then(|op| op.get_mut("responses"))
            .and_then(|responses| responses.get_mut(spec.status))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let parameters: Map<String, Value> = spec
            .parameters
            .iter()
            .map(|(name, expression)| ((*name).to_owned(), json!(expression)))
            .collect();
        let links = response
            .entry("links")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(links) = links.as_object_mut() {
            links.insert(
                link_name(spec.target),
                json!({ "operationId": spec.target, "parameters": parameters }),
            );
        }
    }
}

/// `get_product` → `GetProduct`: links are named after what they lead to.
fn link_name(target: &str) -> String {
    target
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every link starts at a documented answer and fills every path parameter of its target
    /// from an expression, so a renamed route or parameter cannot leave a dead link.
    #[test]
    fn every_link_joins_documented_operations() {
        let json: Value = serde_json::from_str(&crate::http::openapi_json()).unwrap();
        let mut targets = std::collections::HashMap::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op["operationId"].as_str() {
                    targets.insert(id.to_owned(), (path.clone(), op.clone()));
                }
            }
        }
        for spec in LINKS {
            let (_, source) = &targets[spec.source];
            let link = &source["responses"][spec.status]["links"][link_name(spec.target)];
            assert!(
                link.is_object(),
                "{} {} → {}",
                spec.source,
                spec.status,
                spec.target
            );
            let (path, _) = targets
                .get(spec.target)
                .unwrap_or_else(|| panic!("no operation {}", spec.target));
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        spec.parameters.iter().any(|(p, _)| *p == name),
                        "{} → {} leaves {name} unset",
                        spec.source,
                        spec.target
                    );
                }
            }
        }
    }
}
