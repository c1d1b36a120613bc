//! The driver: one seed's run. It sets up orders, then takes random steps (a storefront's
//! authorizations, a merchant's captures, voids and refunds, retries under the same
//! Idempotency-Key, resolver passes, webhook deliveries and processing, the provider finishing
//! challenges, released held calls, time passing), then a final phase with a reachable
//! provider, and hands the end state to the invariants.
//!
//! Determinism: everything that may call the provider (an HTTP request, a resolver pass, a
//! webhook round) runs as a task, and the driver waits until it either finishes or is held by
//! the provider; so at most one task is ever moving, and the order of provider calls (hence
//! of every random draw) is the seed's alone. Time is the app's manual clock, set to the same
//! instant at the start of every seed.

use std::sync::Arc;

use cassa::{clock::ManualClock, providers::signature, state::AppState};
use chrono::Duration;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};

use cassa_tests::shop::{Answered, Api, Store};

use crate::{
    provider::{Profile, WEBHOOK_SECRET, World},
    rng::Rng,
};

/// What a task that may call the provider ends with.
#[derive(Debug)]
enum Done {
    Answer(usize, Answered),
    Resolved(String),
    Processed(String),
}

/// A task the provider holds.
struct Held {
    call: u64,
    task: JoinHandle<Done>,
    what: String,
}

/// A request the driver sent, kept to be retried under its key.
#[derive(Clone, Debug)]
pub struct Sent {
    pub method: reqwest::Method,
    pub path: String,
    pub key: String,
    pub body: Value,
    pub merchant: bool,
    pub label: String,
}

/// An order of the seed.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub snapshot: String,
    pub total: i64,
    /// Its latest intent as an answer showed it.
    pub intent: Option<Value>,
}

/// What the invariants read after a seed.
pub struct Outcome {
    /// The provider's truth.
    pub world: Arc<World>,
    pub orders: Vec<Order>,
    /// Every request and the answers it got, in order.
    pub sent: Vec<Sent>,
    pub answers: Vec<Vec<Answered>>,
    /// Provider event ids delivered at least once.
    pub delivered: Vec<String>,
    pub trace: Vec<String>,
}

/// The app the seeds share.
pub struct Harness {
    pub api: Api,
    pub state: AppState,
    pub clock: ManualClock,
    pub adapter: Arc<crate::provider::SimAdapter>,
    pub admin: String,
}

/// Where every seed's clock starts (the shared test epoch).
fn start() -> chrono::DateTime<chrono::Utc> {
    cassa_tests::test_epoch()
}

struct Driver<'a> {
    h: &'a Harness,
    store: &'a Store,
    world: Arc<World>,
    parked: mpsc::UnboundedReceiver<u64>,
    rng: Rng,
    /// Unique per run of a seed: the Idempotency-Keys of another run never meet these.
    nonce: String,
    orders: Vec<Order>,
    sent: Vec<Sent>,
    answers: Vec<Vec<Answered>>,
    held: Vec<Held>,
    delivered: Vec<String>,
    trace: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// What the order's state invites (the other operations are sent whatever the state).
    Sensible,
    Authorize,
    Capture,
    Void,
    Refund,
    Retry,
    Requote,
    Resolve,
    Deliver,
    Process,
    Release,
    Tick,
    Wait,
}

/// Runs seed `seed` on `store`, whose provider becomes a fresh [`World`].
pub async fn run(h: &Harness, store: &Store, seed: u64) -> Outcome {
    h.clock.set(start());
    let mut rng = Rng::new(seed, 1);
    let profile = Profile::draw(&mut rng);
    let nonce = uuid::Uuid::now_v7().simple().to_string();
    let (world, parked) = World::new(seed, &nonce, profile);
    h.adapter.install(&store.id, world.clone());
    let mut d = Driver {
        h,
        store,
        world,
        parked,
        rng,
        nonce,
        orders: Vec::new(),
        sent: Vec::new(),
        answers: Vec::new(),
        held: Vec::new(),
        delivered: Vec::new(),
        trace: vec![format!("seed {seed} {profile:?}")],
    };
    let orders = 1 + d.rng.below(2);
    for _ in 0..orders {
        let quantity = d.rng.between(1, 4);
        let id = h.api.order(store, quantity).await;
        let (snapshot, total) = h
            .api
            .quote(store, &id)
            .await
            .expect("a new order can be quoted");
        d.trace
            .push(format!("order {} total {total}", d.orders.len()));
        d.orders.push(Order {
            id,
            snapshot,
            total,
            intent: None,
        });
    }
    let steps = d.rng.between(4, 30);
    for _ in 0..steps {
        d.step().await;
    }
    d.finish().await;
    let mut trace = std::mem::take(&mut d.trace);
    trace.append(&mut d.world.truth().trace);
    Outcome {
        world: d.world.clone(),
        orders: d.orders,
        sent: d.sent,
        answers: d.answers,
        delivered: d.delivered,
        trace,
    }
}

impl Driver<'_> {
    /// Whether the store has nothing open: no open transaction, no event waiting.
    async fn quiet(&self) -> bool {
        let Ok(store) = self.store.id.parse::<cassa::types::StoreId>() else {
            return false;
        };
        let open: Result<(i64, i64), sqlx::Error> = cassa::on_db!(&self.h.state.db, pool => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM payment_transactions t JOIN payment_intents i \
                 ON i.id = t.payment_intent_id WHERE i.store_id = $1 \
                 AND t.status IN ('pending', 'unknown')), \
                 (SELECT COUNT(*) FROM webhook_events WHERE store_id = $1 \
                 AND status IN ('pending', 'processing'))",
            )
            .bind(store)
            .fetch_one(pool)
            .await
        });
        matches!(open, Ok((0, 0)))
    }

    fn tick_clock(&self, by: Duration) {
        self.h.clock.advance(by);
    }

    async fn step(&mut self) {
        // Distinct timestamps: nothing the server orders by time ties between two steps.
        self.tick_clock(Duration::milliseconds(7));
        let step = self
            .rng
            .weighted(&[
                (30, Step::Sensible),
                (4, Step::Authorize),
                (5, Step::Capture),
                (2, Step::Void),
                (4, Step::Refund),
                (12, Step::Retry),
                (2, Step::Requote),
                (6, Step::Resolve),
                (10, Step::Deliver),
                (6, Step::Process),
                (8, Step::Release),
                (3, Step::Tick),
                (6, Step::Wait),
            ])
            .unwrap_or(Step::Wait);
        match step {
            Step::Sensible => self.sensible().await,
            Step::Authorize => self.authorize().await,
            Step::Capture | Step::Void | Step::Refund => self.operate(step).await,
            Step::Retry => self.retry().await,
            Step::Requote => {
                if let Some(i) = self.rng.index(self.orders.len()) {
                    let quote = self.h.api.quote(self.store, &self.orders[i].id).await;
                    self.trace
                        .push(format!("requote order {i}: {}", quote.is_some()));
                    if let Some((snapshot, total)) = quote {
                        self.orders[i].snapshot = snapshot;
                        self.orders[i].total = total;
                    }
                }
            }
            Step::Resolve => self.resolve().await,
            Step::Deliver => self.deliver().await,
            Step::Process => self.process().await,
            Step::Release => self.release().await,
            Step::Tick => {
                self.trace.push("provider tick".into());
                self.world.truth().tick(false);
            }
            Step::Wait => {
                let secs = self.rng.between(1, 200);
                self.trace.push(format!("wait {secs}s"));
                self.tick_clock(Duration::seconds(secs));
            }
        }
    }

    /// The step a storefront or merchant would take now for a random order, by its intent's
    /// status as last seen: pay it (again, with a fresh quote after a failure), capture, void
    /// or refund it, or let the resolver settle it.
    async fn sensible(&mut self) {
        let Some(i) = self.rng.index(self.orders.len()) else {
            return;
        };
        let status = self.orders[i]
            .intent
            .as_ref()
            .and_then(|v| v["status"].as_str().map(str::to_owned));
        let step = match status.as_deref() {
            None => Step::Authorize,
            Some("failed" | "voided") => {
                if let Some((snapshot, total)) =
                    self.h.api.quote(self.store, &self.orders[i].id).await
                {
                    self.orders[i].snapshot = snapshot;
                    self.orders[i].total = total;
                }
                Step::Authorize
            }
            Some("authorized" | "partially_captured") => self
                .rng
                .weighted(&[(65, Step::Capture), (20, Step::Void), (15, Step::Refund)])
                .unwrap_or(Step::Capture),
            Some("captured" | "partially_refunded" | "refunded") => self
                .rng
                .weighted(&[(80, Step::Refund), (10, Step::Capture), (10, Step::Void)])
                .unwrap_or(Step::Refund),
            Some(_) => Step::Resolve,
        };
        match step {
            Step::Authorize => self.authorize_order(i).await,
            Step::Resolve => self.resolve().await,
            _ => self.operate_on(i, step).await,
        }
    }

    async fn authorize(&mut self) {
        let Some(i) = self.rng.index(self.orders.len()) else {
            return;
        };
        self.authorize_order(i).await;
    }

    async fn authorize_order(&mut self, i: usize) {
        let order = &self.orders[i];
        let sent = Sent {
            method: reqwest::Method::POST,
            path: format!("/api/v1/me/orders/{}/payments/authorize", order.id),
            key: format!("sim-{}-{}", self.nonce, self.sent.len()),
            body: json!({"snapshot_id": order.snapshot, "payment_method": "pm_card_visa"}),
            merchant: false,
            label: format!("authorize order {i}"),
        };
        self.send(sent).await;
    }

    /// The latest intent of a random order as the driver last saw it in an answer (read from
    /// the API only when no answer showed one: the amounts may be stale, as a merchant's are).
    async fn intent(&mut self, i: usize) -> Option<Value> {
        if let Some(intent) = &self.orders[i].intent {
            return Some(intent.clone());
        }
        let payments = self.h.api.payments(self.store, &self.orders[i].id).await;
        let intent = payments["intents"].as_array()?.last()?.clone();
        self.orders[i].intent = Some(intent.clone());
        Some(intent)
    }

    /// An amount near `limit`: within it mostly, sometimes just over, sometimes none.
    fn amount(&mut self, limit: i64, whole: i64) -> Option<i64> {
        match self.rng.below(10) {
            0..=2 => None,
            3..=6 if limit > 0 => Some(self.rng.between(1, limit)),
            7 => Some(limit),
            8 => Some(limit + 1),
            _ => Some(self.rng.between(1, whole.max(1))),
        }
    }

    async fn operate(&mut self, step: Step) {
        let Some(i) = self.rng.index(self.orders.len()) else {
            return;
        };
        self.operate_on(i, step).await;
    }

    async fn operate_on(&mut self, i: usize, step: Step) {
        let Some(intent) = self.intent(i).await else {
            return;
        };
        let id = intent["id"].as_str().unwrap_or_default();
        let whole = intent["amount"].as_i64().unwrap_or(0);
        let (op, body) = match step {
            Step::Capture => {
                let limit = intent["capturable_amount"].as_i64().unwrap_or(0);
                let mut body = json!({});
                if let Some(amount) = self.amount(limit, whole) {
                    body["amount"] = json!(amount);
                }
                if self.rng.percent(25) {
                    body["final_capture"] = json!(true);
                }
                ("capture", body)
            }
            Step::Void => ("void", json!({})),
            _ => {
                let limit = intent["refundable_amount"].as_i64().unwrap_or(0);
                let amount = self.amount(limit, whole).unwrap_or(limit.max(1));
                ("refund", json!({"amount": amount, "reason": "simulated"}))
            }
        };
        let label = format!(
            "{op} order {i} ({}) {}",
            intent["status"].as_str().unwrap_or("?"),
            body
        );
        let sent = Sent {
            method: reqwest::Method::POST,
            path: format!(
                "/api/v1/admin/orders/{}/payments/{id}/{op}",
                self.orders[i].id
            ),
            key: format!("sim-{}-{}", self.nonce, self.sent.len()),
            body,
            merchant: true,
            label,
        };
        self.send(sent).await;
    }

    /// Sends a request again under its key: mostly one whose answer a client would retry (none
    /// yet, a 5xx, the key in use), sometimes any.
    async fn retry(&mut self) {
        let unanswered: Vec<usize> = (0..self.sent.len())
            .filter(|&i| {
                self.answers[i]
                    .last()
                    .is_none_or(|a| a.status >= 500 || a.json()["code"] == "idempotency_key_in_use")
            })
            .collect();
        let pick = if !unanswered.is_empty() && self.rng.percent(75) {
            self.rng.index(unanswered.len()).map(|j| unanswered[j])
        } else {
            self.rng.index(self.sent.len())
        };
        let Some(i) = pick else {
            return;
        };
        self.trace.push(format!("retry request {i}"));
        self.spawn_request(i).await;
    }

    async fn send(&mut self, sent: Sent) {
        self.trace
            .push(format!("request {}: {}", self.sent.len(), sent.label));
        self.sent.push(sent);
        self.answers.push(Vec::new());
        self.spawn_request(self.sent.len() - 1).await;
    }

    async fn spawn_request(&mut self, i: usize) {
        let sent = self.sent[i].clone();
        let api = self.h.api.clone();
        let token = if sent.merchant {
            self.store.key.clone()
        } else {
            self.store.customer.clone()
        };
        let task = tokio::spawn(async move {
            let answer = api
                .send(
                    sent.method,
                    &sent.path,
                    &token,
                    Some(&sent.key),
                    Some(&sent.body),
                )
                .await;
            Done::Answer(i, answer)
        });
        self.follow(task, format!("request {i}")).await;
    }

    /// Waits until `task` finishes or the provider holds it.
    async fn follow(&mut self, mut task: JoinHandle<Done>, what: String) {
        // Only this task moves: a call the provider holds now is its call.
        let ended = tokio::select! {
            done = &mut task => Ok(done.expect("a simulated task panicked")),
            call = self.parked.recv() => Err(call.expect("the provider's channel is open")),
        };
        match ended {
            Ok(done) => self.record(done),
            Err(call) => {
                self.trace.push(format!("{what} held at call {call}"));
                self.held.push(Held { call, task, what });
            }
        }
    }

    fn record(&mut self, done: Done) {
        match done {
            Done::Answer(i, answer) => {
                // A replayed answer shows the intent as it was then: not news.
                let view = answer.json();
                let order = match view["order_id"].as_str() {
                    Some(order) if !answer.replayed => Some(order.to_owned()),
                    _ => None,
                };
                if let Some(o) = self
                    .orders
                    .iter_mut()
                    .find(|o| Some(&o.id) == order.as_ref())
                {
                    o.intent = Some(view);
                } else if answer.status == 409 {
                    // Refused for the state the driver believed: read it again next time.
                    let path = &self.sent[i].path;
                    if let Some(o) = self.orders.iter_mut().find(|o| path.contains(&o.id)) {
                        o.intent = None;
                    }
                }
                self.trace.push(format!(
                    "  answer {i}: {}{}",
                    answer.gist(),
                    if answer.replayed { " (replayed)" } else { "" }
                ));
                self.answers[i].push(answer);
            }
            Done::Resolved(r) => self.trace.push(format!("  resolver: {r}")),
            Done::Processed(r) => self.trace.push(format!("  webhooks: {r}")),
        }
    }

    async fn release(&mut self) {
        let Some(i) = self.rng.index(self.held.len()) else {
            return;
        };
        self.release_at(i).await;
    }

    async fn release_at(&mut self, i: usize) {
        let held = self.held.remove(i);
        self.trace
            .push(format!("release call {} ({})", held.call, held.what));
        self.world.release(held.call);
        self.follow(held.task, held.what).await;
    }

    async fn resolve(&mut self) {
        self.trace.push("resolver pass".into());
        let state = self.h.state.clone();
        let task = tokio::spawn(async move {
            let result = cassa::payments::resolve_open(&state, Duration::seconds(30)).await;
            Done::Resolved(match result {
                Ok(n) => format!("{n} settled"),
                Err(e) => format!("error {e}"),
            })
        });
        self.follow(task, "resolver".into()).await;
    }

    async fn process(&mut self) {
        self.trace.push("webhook round".into());
        let state = self.h.state.clone();
        let task = tokio::spawn(async move {
            let result = cassa::webhooks::process_due(&state).await;
            Done::Processed(match result {
                Ok(n) => format!("{n} claimed"),
                Err(e) => format!("error {e}"),
            })
        });
        self.follow(task, "webhooks".into()).await;
    }

    /// Delivers a random owed event: dropped for good sometimes, kept for a duplicate
    /// delivery later sometimes.
    async fn deliver(&mut self) {
        let outbox = self.world.truth().outbox.len();
        let Some(i) = self.rng.index(outbox) else {
            return;
        };
        if self.rng.percent(15) {
            let event = self.world.truth().outbox.remove(i);
            self.trace.push(format!("drop evt#{}", event.number));
            return;
        }
        let keep = self.rng.percent(25);
        let event = if keep {
            self.world.truth().outbox[i].clone()
        } else {
            self.world.truth().outbox.remove(i)
        };
        self.deliver_event(&event).await;
    }

    async fn deliver_event(&mut self, event: &crate::provider::Event) {
        self.tick_clock(Duration::milliseconds(3));
        let body = event.body();
        let now = chrono::Utc::now().timestamp();
        let signed = signature::sign_standard(WEBHOOK_SECRET, &event.id, now, body.as_bytes())
            .expect("the simulation's secret is valid");
        let path = format!(
            "/api/v1/webhooks/{}/{}",
            crate::provider::NAME,
            self.store.id
        );
        let answer = self
            .h
            .api
            .send_webhook(&path, &event.id, now, &signed, body)
            .await;
        self.trace.push(format!(
            "deliver evt#{} {}: {}",
            event.number,
            event.kind,
            answer.gist()
        ));
        if answer.status == 200 && !self.delivered.contains(&event.id) {
            self.delivered.push(event.id.clone());
        }
    }

    /// The final phase: the provider answers at once and always; held calls go on, pending
    /// challenges end, owed events arrive, the resolver and the webhook workers run until
    /// nothing is open.
    async fn finish(&mut self) {
        self.trace.push("final phase".into());
        self.world.set_faults(false);
        while !self.held.is_empty() {
            let i = self.rng.index(self.held.len()).unwrap_or(0);
            self.release_at(i).await;
        }
        self.world.truth().tick(true);
        for _ in 0..4 {
            // Past every backoff (the resolver's and the webhooks' are at most an hour).
            self.tick_clock(Duration::hours(2));
            let owed: Vec<_> = std::mem::take(&mut self.world.truth().outbox);
            for event in &owed {
                self.deliver_event(event).await;
            }
            self.process().await;
            self.resolve().await;
            self.process().await;
            if !self.held.is_empty() {
                // Nothing may hold a call now; the invariants report what is left.
                self.trace.push("a call was held in the final phase".into());
                break;
            }
            if self.world.truth().outbox.is_empty() && self.quiet().await {
                break;
            }
        }
    }
}
