//! The crash points the harness drives, and for each: what it sets up on a healthy server,
//! the request that takes a freshly started one to the point (where it is killed), and what
//! the restarted server must do with what the dead one left.

use cassa::providers::signature;
use cassa_tests::shop::{Answered, Api, Store};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    Keyed, Run, Shop, WEBHOOK_SECRET,
    waits::{reconciliation_done, rotation_done, settle, shipments},
};

/// What happens at a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A customer placing an order: the order committed, its answer never sent.
    Order,
    /// A customer's authorization of an order's snapshot.
    Authorize,
    /// A merchant's capture of an authorized payment.
    Capture,
    /// A merchant's partial refund of a captured payment.
    Refund,
    /// A signed provider event (about a settled capture) delivered by the harness.
    Webhook,
    /// The PSP's own event for a `pm_card_timeout` authorization whose answer Cassa gave up
    /// on: processing it settles the open transaction.
    LateWebhook,
    /// A master key rotation (every store's credentials re-encrypted).
    Rotation,
    /// A merchant's label purchase from the sandbox carrier for a paid order.
    Label,
    /// A reconciliation run of a store with three captured payments, worked in batches.
    Reconciliation,
}

/// A crash point and what reaches it.
pub struct Scenario {
    pub point: &'static str,
    pub kind: Kind,
}

/// Every point the harness drives, in order (one database per backend runs them all).
pub const ALL: &[Scenario] = &[
    Scenario {
        point: "orders.create.after_commit",
        kind: Kind::Order,
    },
    Scenario {
        point: "payments.authorize.after_intent",
        kind: Kind::Authorize,
    },
    Scenario {
        point: "payments.authorize.after_provider",
        kind: Kind::Authorize,
    },
    Scenario {
        point: "payments.authorize.after_outcome",
        kind: Kind::Authorize,
    },
    Scenario {
        point: "payments.capture.after_intent",
        kind: Kind::Capture,
    },
    Scenario {
        point: "payments.capture.after_provider",
        kind: Kind::Capture,
    },
    Scenario {
        point: "payments.capture.after_outcome",
        kind: Kind::Capture,
    },
    Scenario {
        point: "payments.refund.after_intent",
        kind: Kind::Refund,
    },
    Scenario {
        point: "payments.refund.after_provider",
        kind: Kind::Refund,
    },
    Scenario {
        point: "payments.refund.after_outcome",
        kind: Kind::Refund,
    },
    Scenario {
        point: "webhooks.receive.after_store",
        kind: Kind::Webhook,
    },
    Scenario {
        point: "webhooks.process.after_claim",
        kind: Kind::Webhook,
    },
    Scenario {
        point: "webhooks.process.after_effect",
        kind: Kind::LateWebhook,
    },
    Scenario {
        point: "credentials.rotation.after_batch",
        kind: Kind::Rotation,
    },
    Scenario {
        point: "credentials.rotation.before_complete",
        kind: Kind::Rotation,
    },
    Scenario {
        point: "shipments.label.after_intent",
        kind: Kind::Label,
    },
    Scenario {
        point: "shipments.label.after_provider",
        kind: Kind::Label,
    },
    Scenario {
        point: "shipments.label.after_outcome",
        kind: Kind::Label,
    },
    Scenario {
        point: "reconciliation.run.after_claim",
        kind: Kind::Reconciliation,
    },
    Scenario {
        point: "reconciliation.run.after_batch",
        kind: Kind::Reconciliation,
    },
    Scenario {
        point: "reconciliation.run.before_end",
        kind: Kind::Reconciliation,
    },
];

fn must(answer: &Answered, what: &str) -> Value {
    assert!(
        (200..300).contains(&answer.status),
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    answer.json()
}

/// A new store paying through a sandbox PSP account of its own, with a webhook secret the
/// harness knows (to sign the events it delivers itself).
pub async fn new_shop(api: &Api, admin: &str) -> Shop {
    let store = api.store(admin).await;
    let api_key = format!("sbx_crash_{}", Uuid::now_v7().simple());
    let body = json!({"api_key": api_key, "webhook_secret": WEBHOOK_SECRET});
    let key = Uuid::now_v7().to_string();
    let answer = api
        .send(
            Method::PUT,
            "/api/v1/admin/credentials/sandbox/sandbox",
            &store.key,
            Some(&key),
            Some(&body),
        )
        .await;
    must(&answer, "sandbox credentials");
    Shop {
        store,
        api_key,
        carrier_key: None,
        orders: Vec::new(),
    }
}

/// Gives the shop a sandbox carrier account of its own and a ship-from address, and returns
/// the request that buys a ground label for a new paid order (not yet sent).
async fn label_request(run: &mut Run, shop: &mut Shop, label: &str) -> Keyed {
    let carrier_key = format!("scr_crash_{}", Uuid::now_v7().simple());
    let body = json!({"api_key": carrier_key, "webhook_secret": WEBHOOK_SECRET});
    let answer = run
        .api
        .send(
            Method::PUT,
            "/api/v1/admin/credentials/sandbox_carrier/sandbox",
            &shop.store.key,
            Some(&Uuid::now_v7().to_string()),
            Some(&body),
        )
        .await;
    must(&answer, "sandbox carrier credentials");
    shop.carrier_key = Some(carrier_key);
    // The store captures on shipment: the capture a dead buyer did not make is the
    // resolver's to make too.
    let settings = json!({"ship_from": {"name": "Crash Inc", "line1": "500 Congress Ave",
        "city": "Austin", "subdivision": "TX", "postal_code": "78701", "country": "US"},
        "capture_on_shipment": true});
    let answer = run
        .api
        .send(
            Method::PUT,
            "/api/v1/admin/shipping/settings",
            &shop.store.key,
            Some(&Uuid::now_v7().to_string()),
            Some(&settings),
        )
        .await;
    must(&answer, "ship-from address");
    let (order, _) = paid(run, shop, false).await;
    let answer = run
        .api
        .send(
            Method::POST,
            &format!("/api/v1/admin/orders/{order}/shipping/rates"),
            &shop.store.key,
            Some(&Uuid::now_v7().to_string()),
            Some(&json!({})),
        )
        .await;
    let rates = must(&answer, "carrier rates");
    let rate = rates["rates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["provider"] == "sandbox_carrier" && r["service"] == "ground")
        .unwrap_or_else(|| panic!("no sandbox_carrier ground rate in {rates}"));
    Keyed {
        label: label.to_owned(),
        method: Method::POST,
        path: format!("/api/v1/admin/orders/{order}/shipments"),
        token: shop.store.key.clone(),
        // The store's rate table priced the order's shipping: the carrier's label costs
        // something else.
        body: json!({"rate_id": rate["id"], "accept_price_change": true}),
        key: Uuid::now_v7().to_string(),
        answers: Vec::new(),
    }
}

/// The request that places an order of one unit for the shop's customer (not yet sent).
fn order_request(shop: &Shop, label: &str) -> Keyed {
    Keyed {
        label: label.to_owned(),
        method: Method::POST,
        path: "/api/v1/me/orders".to_owned(),
        token: shop.store.customer.clone(),
        body: json!({
            "items": [{"product_id": shop.store.product, "quantity": 1}],
            "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town",
                "subdivision": "CA", "postal_code": "90001", "country": "US"},
        }),
        key: Uuid::now_v7().to_string(),
        answers: Vec::new(),
    }
}

/// The request that authorizes a new order of the shop's, not yet sent.
async fn authorize_request(api: &Api, shop: &mut Shop, method: &str, label: &str) -> Keyed {
    let order = api.order(&shop.store, 1).await;
    let (snapshot, _) = api
        .quote(&shop.store, &order)
        .await
        .expect("a new order is payable");
    shop.orders.push(order.clone());
    Keyed {
        label: label.to_owned(),
        method: Method::POST,
        path: format!("/api/v1/me/orders/{order}/payments/authorize"),
        token: shop.store.customer.clone(),
        body: json!({"snapshot_id": snapshot, "payment_method": method}),
        key: Uuid::now_v7().to_string(),
        answers: Vec::new(),
    }
}

/// A payment authorized (and captured, when asked) through the API: (order, intent).
async fn paid(run: &mut Run, shop: &mut Shop, capture: bool) -> (String, Value) {
    let mut request = authorize_request(&run.api, shop, "pm_card_visa", "setup authorize").await;
    let answer = request.send(&run.api).await;
    let intent = must(&answer, "setup authorization");
    run.keys.push(request);
    let order = shop.orders.last().cloned().expect("an order");
    if !capture {
        return (order, intent);
    }
    let id = intent["id"].as_str().expect("intent id");
    let mut request = Keyed {
        label: "setup capture".to_owned(),
        method: Method::POST,
        path: format!("/api/v1/admin/orders/{order}/payments/{id}/capture"),
        token: shop.store.key.clone(),
        body: json!({}),
        key: Uuid::now_v7().to_string(),
        answers: Vec::new(),
    };
    let answer = request.send(&run.api).await;
    let intent = must(&answer, "setup capture");
    run.keys.push(request);
    (order, intent)
}

/// A signed event about the capture of `order`'s payment, as the PSP would send it.
async fn capture_event(api: &Api, shop: &Shop, order: &str) -> (String, String) {
    let payments = api.payments(&shop.store, order).await;
    let intent = &payments["intents"][0];
    let capture = cassa_tests::ledger::txns(intent)
        .into_iter()
        .find(|t| t["operation"] == "capture")
        .expect("a capture");
    let pid = intent["provider_payment_id"].as_str().expect("provider id");
    let payment = api
        .send(
            Method::GET,
            &format!("/sandbox-psp/v1/payments/{pid}"),
            &shop.api_key,
            None,
            None,
        )
        .await;
    let payment = must(&payment, "the PSP's payment");
    let id = format!("evt_crash_{}", Uuid::now_v7().simple());
    let event = json!({
        "id": id,
        "type": "payment.captured",
        "created": chrono::Utc::now().timestamp(),
        "data": {"payment": payment, "reference": capture["id"]},
    });
    (id, event.to_string())
}

async fn deliver(api: &Api, store: &Store, id: &str, body: &str) -> Answered {
    let now = chrono::Utc::now().timestamp();
    let signed = signature::sign_standard(WEBHOOK_SECRET, id, now, body.as_bytes())
        .expect("the harness's secret is valid");
    let path = format!("/api/v1/webhooks/sandbox/{}", store.id);
    api.send_webhook(&path, id, now, &signed, body.to_owned())
        .await
}

/// What the crash run is to do, prepared on a healthy server.
enum Trigger {
    Request(Keyed),
    Webhook { id: String, body: String },
    Rotation { version: u32 },
}

/// Runs one scenario on the backend's server (running and healthy when called, and again
/// when it returns). Returns a line for the report.
pub async fn run(run: &mut Run, scenario: &Scenario) -> String {
    let mut shop = new_shop(&run.api, &run.admin).await;
    let trigger = match scenario.kind {
        Kind::Order => Trigger::Request(order_request(&shop, scenario.point)),
        Kind::Authorize => Trigger::Request(
            authorize_request(&run.api, &mut shop, "pm_card_visa", scenario.point).await,
        ),
        Kind::LateWebhook => Trigger::Request(
            authorize_request(&run.api, &mut shop, "pm_card_timeout", scenario.point).await,
        ),
        Kind::Capture | Kind::Refund => {
            let captured_first = scenario.kind == Kind::Refund;
            let (order, intent) = paid(run, &mut shop, captured_first).await;
            let id = intent["id"].as_str().expect("intent id");
            let (operation, body) = match scenario.kind {
                Kind::Capture => ("capture", json!({})),
                _ => (
                    "refund",
                    json!({"amount": intent["captured_amount"].as_i64().unwrap_or(2) / 2,
                        "reason": "crash test"}),
                ),
            };
            Trigger::Request(Keyed {
                label: scenario.point.to_owned(),
                method: Method::POST,
                path: format!("/api/v1/admin/orders/{order}/payments/{id}/{operation}"),
                token: shop.store.key.clone(),
                body,
                key: Uuid::now_v7().to_string(),
                answers: Vec::new(),
            })
        }
        Kind::Webhook => {
            let (order, _) = paid(run, &mut shop, true).await;
            let (id, body) = capture_event(&run.api, &shop, &order).await;
            Trigger::Webhook { id, body }
        }
        Kind::Label => Trigger::Request(label_request(run, &mut shop, scenario.point).await),
        Kind::Reconciliation => {
            for _ in 0..3 {
                paid(run, &mut shop, true).await;
            }
            Trigger::Request(reconciliation_request(&shop, scenario.point))
        }
        Kind::Rotation => {
            run.rotation_target = if run.rotation_target == 1 { 2 } else { 1 };
            Trigger::Rotation {
                version: run.rotation_target,
            }
        }
    };
    let shop_index = run.shops.len();
    run.shops.push(shop);
    let store = run.shops[shop_index].store.clone();

    // The crash run: a fresh process armed at the point, the request, the kill.
    run.server.stop();
    run.server.start(Some(scenario.point)).await;
    let api = run.api.clone();
    let before_crash = match trigger {
        Trigger::Request(mut request) => {
            let task = tokio::spawn(async move {
                let answer = request.send(&api).await;
                (request, answer)
            });
            run.server.wait_for(scenario.point).await;
            run.server.kill();
            let (request, answer) = task.await.expect("the request task");
            run.keys.push(request);
            answer.gist()
        }
        Trigger::Webhook { id, body } => {
            let task = {
                let (id, body, store) = (id.clone(), body.clone(), store.clone());
                tokio::spawn(async move { deliver(&api, &store, &id, &body).await })
            };
            run.server.wait_for(scenario.point).await;
            run.server.kill();
            let answer = task.await.expect("the delivery task");
            run.events.push((shop_index, id.clone()));
            // The restarted server gets it again, as a sender that saw no 2xx (or its own
            // retry) sends it.
            run.server.start(None).await;
            let again = deliver(&run.api, &store, &id, &body).await;
            assert!(
                (200..300).contains(&again.status),
                "{}: the redelivered event was refused: {} {}",
                scenario.point,
                again.status,
                again.body
            );
            answer.gist()
        }
        Trigger::Rotation { version } => {
            let admin = run.admin.clone();
            let body = json!({"version": version});
            let answer = api
                .send(
                    Method::POST,
                    "/api/v1/platform/keys/rotations",
                    &admin,
                    None,
                    Some(&body),
                )
                .await;
            let rotation = must(&answer, "start a rotation");
            run.rotations
                .push(rotation["id"].as_str().expect("rotation id").to_owned());
            run.server.wait_for(scenario.point).await;
            run.server.kill();
            answer.gist()
        }
    };

    // The recovery run: the same database, the clock some minutes on, the resolver and the
    // workers at work; the keys of the requests the dead process took are retried.
    if scenario.kind != Kind::Webhook {
        run.server.start(None).await;
    }
    run.admin = run
        .api
        .sign_in(cassa_tests::ADMIN_EMAIL, cassa_tests::ADMIN_PASSWORD)
        .await;
    let mut after = String::new();
    if scenario.kind == Kind::Label {
        // What the restart found; the purchase a dead process left open is the resolver's
        // to settle (nobody retries it before the shop has settled).
        let store = &run.shops[shop_index].store;
        let found: Vec<String> = shipments(&run.api, store)
            .await
            .iter()
            .map(|s| s["status"].as_str().unwrap_or("?").to_owned())
            .collect();
        after = format!("restart found shipments {found:?}; ");
    }
    settle(run, shop_index).await;
    if let Some(request) = run.keys.last_mut().filter(|k| k.label == scenario.point) {
        for _ in 0..2 {
            request.send(&run.api).await;
        }
        after += &request
            .answers
            .last()
            .map(Answered::gist)
            .unwrap_or_default();
    }
    if scenario.kind == Kind::Order
        && let Some(request) = run.keys.last().filter(|k| k.label == scenario.point)
        && let Some(id) = request
            .answers
            .last()
            .and_then(|a| a.json()["id"].as_str().map(str::to_owned))
    {
        // The order the key answers with is the shop's one order (`checks::orders_once`).
        run.shops[shop_index].orders.push(id);
    }
    if scenario.kind == Kind::Webhook
        && let Some((_, id)) = run.events.last()
    {
        let stored = crate::checks::events(&run.api, &run.shops[shop_index].store).await;
        let statuses: Vec<&str> = stored
            .iter()
            .filter(|e| e["provider_event_id"] == id.as_str())
            .filter_map(|e| e["status"].as_str())
            .collect();
        after = format!("event stored as {statuses:?}");
    }
    if scenario.kind == Kind::Rotation {
        let id = run.rotations.last().cloned().unwrap_or_default();
        after = rotation_done(run, &id).await;
    }
    if scenario.kind == Kind::Reconciliation
        && let Some(request) = run.keys.last().filter(|k| k.label == scenario.point)
        && let Some(answer) = request.answers.last()
    {
        let id = answer.json()["id"].as_str().unwrap_or("?").to_owned();
        let period = request.body.clone();
        let done = reconciliation_done(&run.api, &run.shops[shop_index].store, &id).await;
        after = format!(
            "run {} examined {} matched {} exceptions {} attempts {}",
            done["status"], done["examined"], done["matched"], done["exceptions"], done["attempts"]
        );
        run.reconciliations.push((shop_index, id, period));
    }
    format!(
        "{:<40} before the kill: {before_crash:<28} after: {after}",
        scenario.point
    )
}

/// The period every reconciliation of the harness covers: from yesterday to the day after
/// tomorrow, so that the restarted servers' clocks (each some minutes ahead) stay inside it.
pub fn reconciliation_period() -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({"from": today - chrono::Days::new(1), "to": today + chrono::Days::new(2)})
}

/// The request that queues a reconciliation of the shop (not yet sent).
fn reconciliation_request(shop: &Shop, label: &str) -> Keyed {
    Keyed {
        label: label.to_owned(),
        method: Method::POST,
        path: "/api/v1/admin/reconciliation/runs".to_owned(),
        token: shop.store.key.clone(),
        body: reconciliation_period(),
        key: Uuid::now_v7().to_string(),
        answers: Vec::new(),
    }
}
