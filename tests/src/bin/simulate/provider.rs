//! The fake payment provider: an in-process PSP that keeps its own truth (payments, the
//! answers it gave per idempotency key, the events it owes) and whose transport misbehaves as
//! the seeded generator says: an answer lost after the effect, a refusal before it, an answer
//! held back until the driver releases it (after other operations ran).
//!
//! Its rules are the sandbox PSP's (`sandbox-psp/src/ledger.rs`): a key's final answer is kept
//! and replayed, a 5xx is never kept, a capture never exceeds the authorization, a refund
//! never exceeds the captures.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
};

use cassa::{
    egress::Egress,
    money::MinorUnits,
    providers::{
        account::{
            AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials, keyed_masked,
            standard_event_id, verify_standard_webhook,
        },
        payment::{
            CallContext, EventOperation, PaymentAdapter, PaymentProvider, ProviderError,
            ProviderEvent, ProviderTransaction,
        },
        signature::SignatureError,
    },
    types::InvalidValue,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::rng::Rng;

/// The provider's name in the registry, URLs and the ledger.
pub const NAME: &str = "simpsp";
/// Every simulated store's webhook signing secret (32 bytes, base64).
pub const WEBHOOK_SECRET: &str = "whsec_c2ltdWxhdGlvbiB3ZWJob29rIHNlY3JldCAzMiE=";

/// What the transport does to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Applied and answered.
    None,
    /// Refused before anything happened (a 5xx): never applied, never remembered.
    Unavailable,
    /// Applied, and the answer lost on the way back (a timeout).
    LoseAnswer,
    /// Applied at once; the answer waits until the driver releases the call.
    DelayAnswer,
    /// Held before it is applied; applied when the driver releases it.
    DelayEffect,
}

/// How often each fault strikes a call, per seed (some seeds are calm, some stormy).
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub unavailable: u64,
    pub lose: u64,
    pub delay_answer: u64,
    pub delay_effect: u64,
    /// Percent of new authorizations declined.
    pub decline: u64,
    /// Percent of new authorizations answered `pending` (completed later by the provider).
    pub asynchronous: u64,
}

impl Profile {
    /// A profile drawn for a seed.
    pub fn draw(rng: &mut Rng) -> Self {
        let storm = rng.percent(30);
        let scale = if storm { 3 } else { 1 };
        Profile {
            unavailable: rng.below(8) * scale,
            lose: rng.below(12) * scale,
            delay_answer: rng.below(8) * scale,
            delay_effect: rng.below(8) * scale,
            decline: rng.below(15),
            asynchronous: rng.below(15),
        }
    }
}

/// A payment as the provider holds it.
#[derive(Clone, Debug)]
pub struct Payment {
    pub id: String,
    /// Our authorization's reference (the ledger transaction id).
    pub reference: Option<String>,
    pub status: &'static str,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    pub released: i64,
    /// What was done to it: operation, amount, our reference.
    pub applied: Vec<(&'static str, i64, Option<String>)>,
}

impl Payment {
    fn view(&self) -> ProviderTransaction {
        ProviderTransaction {
            id: self.id.clone(),
            status: self.status.to_owned(),
            amount: MinorUnits(self.amount),
            captured: MinorUnits(self.captured),
            refunded: MinorUnits(self.refunded),
            next_action: None,
            multicapture: false,
        }
    }
}

/// An event the provider owes the platform's webhook endpoint.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    /// Its number within the seed (the id carries the run's nonce too).
    pub number: u64,
    pub kind: &'static str,
    pub payment_id: String,
    pub reference: Option<String>,
}

impl Event {
    /// The body as delivered (the sandbox PSP's shape).
    pub fn body(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "data": {"payment": {"id": self.payment_id}, "reference": self.reference},
        })
        .to_string()
    }
}

/// One request to the provider.
#[derive(Clone, Debug)]
enum Request {
    Authorize { amount: i64 },
    Capture { id: String, amount: Option<i64> },
    Void { id: String },
    Refund { id: String, amount: i64 },
    Get { id: String },
}

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Request::Authorize { .. } => "authorize",
            Request::Capture { .. } => "capture",
            Request::Void { .. } => "void",
            Request::Refund { .. } => "refund",
            Request::Get { .. } => "get",
        }
    }
}

type Answer = Result<ProviderTransaction, ProviderError>;

/// The provider's state for one simulated store.
pub struct Truth {
    rng: Rng,
    profile: Profile,
    /// Off in the final phase: the provider is reachable and answers at once.
    faults: bool,
    pub payments: BTreeMap<String, Payment>,
    /// Final answers by idempotency key (what the request was, what was answered).
    answers: HashMap<String, (String, Answer)>,
    /// Keys whose effect waits on a held call.
    in_flight: HashSet<String>,
    parked: BTreeMap<u64, oneshot::Sender<()>>,
    calls: u64,
    events: u64,
    /// Unique per run of a seed, so event ids never meet another run's.
    nonce: String,
    /// Events not yet delivered, oldest first.
    pub outbox: Vec<Event>,
    /// Every event emitted.
    pub emitted: Vec<Event>,
    /// Stable names for the platform's ids (which differ between runs) in the trace.
    labels: HashMap<String, String>,
    pub trace: Vec<String>,
}

impl Truth {
    /// A stable name for an id of the platform's, by order of first appearance.
    pub fn label(&mut self, id: &str) -> String {
        let next = self.labels.len();
        self.labels
            .entry(id.to_owned())
            .or_insert_with(|| format!("#{next}"))
            .clone()
    }

    fn emit(&mut self, kind: &'static str, payment: &str, reference: Option<String>) {
        self.events += 1;
        let event = Event {
            id: format!("evt_{}_{}", self.nonce, self.events),
            number: self.events,
            kind,
            payment_id: payment.to_owned(),
            reference,
        };
        self.emitted.push(event.clone());
        self.outbox.push(event);
    }

    fn decide(&mut self) -> (u64, Fault) {
        self.calls += 1;
        if !self.faults {
            return (self.calls, Fault::None);
        }
        let p = self.profile;
        let fault = self
            .rng
            .weighted(&[
                (100, Fault::None),
                (p.unavailable, Fault::Unavailable),
                (p.lose, Fault::LoseAnswer),
                (p.delay_answer, Fault::DelayAnswer),
                (p.delay_effect, Fault::DelayEffect),
            ])
            .unwrap_or(Fault::None);
        (self.calls, fault)
    }

    /// Applies a request under its key (or answers the key's earlier answer).
    fn apply(&mut self, key: Option<&str>, reference: Option<&str>, request: &Request) -> Answer {
        let signature = format!("{request:?}");
        if let Some(key) = key {
            if let Some((first, answer)) = self.answers.get(key) {
                if *first != signature {
                    return Err(ProviderError::Rejected {
                        code: "idempotency_error".into(),
                    });
                }
                let answer = answer.clone();
                let label = self.label(key);
                self.trace.push(format!("  replay {label}"));
                return answer;
            }
            if self.in_flight.contains(key) {
                return Err(ProviderError::UnknownOutcome(
                    "idempotency_in_progress".into(),
                ));
            }
        }
        let answer = self.effect(reference, request);
        let shown = match &answer {
            Ok(ptx) => format!(
                "{} {}/{}/{}",
                ptx.status, ptx.amount.0, ptx.captured.0, ptx.refunded.0
            ),
            Err(err) => err.to_string(),
        };
        self.trace
            .push(format!("  apply {} -> {shown}", request.name()));
        if let Some(key) = key {
            self.answers
                .insert(key.to_owned(), (signature, answer.clone()));
        }
        answer
    }

    fn effect(&mut self, reference: Option<&str>, request: &Request) -> Answer {
        let refused = |code: &str| {
            Err(ProviderError::Rejected {
                code: code.to_owned(),
            })
        };
        match request {
            Request::Authorize { amount } => {
                if self.faults && self.rng.percent(self.profile.decline) {
                    return Err(ProviderError::Declined {
                        code: "card_declined".into(),
                    });
                }
                let pending = self.faults && self.rng.percent(self.profile.asynchronous);
                let id = format!("pay_{}", self.payments.len() + 1);
                let payment = Payment {
                    id: id.clone(),
                    reference: reference.map(str::to_owned),
                    status: if pending { "pending" } else { "authorized" },
                    amount: *amount,
                    captured: 0,
                    refunded: 0,
                    released: 0,
                    applied: vec![("authorize", *amount, reference.map(str::to_owned))],
                };
                let view = payment.view();
                self.payments.insert(id.clone(), payment);
                if !pending {
                    self.emit("payment.authorized", &id, reference.map(str::to_owned));
                }
                Ok(view)
            }
            Request::Capture { id, amount } => {
                let Some(p) = self.payments.get_mut(id) else {
                    return refused("not_found");
                };
                let take = amount.unwrap_or(p.amount - p.released - p.captured);
                if take <= 0 {
                    return refused("invalid_amount");
                }
                if !matches!(p.status, "authorized" | "captured")
                    || p.captured + p.released + take > p.amount
                {
                    return refused("capture_refused");
                }
                p.captured += take;
                p.status = "captured";
                p.applied
                    .push(("capture", take, reference.map(str::to_owned)));
                let view = p.view();
                self.emit("payment.captured", id, reference.map(str::to_owned));
                Ok(view)
            }
            Request::Void { id } => {
                let Some(p) = self.payments.get_mut(id) else {
                    return refused("not_found");
                };
                let open = matches!(p.status, "authorized" | "pending")
                    || (p.status == "captured" && p.captured + p.released < p.amount);
                if !open {
                    return refused("void_refused");
                }
                p.released = p.amount - p.captured;
                p.applied
                    .push(("void", p.released, reference.map(str::to_owned)));
                if p.captured == 0 {
                    p.status = "voided";
                }
                let view = p.view();
                self.emit("payment.voided", id, reference.map(str::to_owned));
                Ok(view)
            }
            Request::Refund { id, amount } => {
                let Some(p) = self.payments.get_mut(id) else {
                    return refused("not_found");
                };
                if p.status != "captured" || *amount <= 0 || p.refunded + amount > p.captured {
                    return refused("refund_refused");
                }
                p.refunded += amount;
                p.applied
                    .push(("refund", *amount, reference.map(str::to_owned)));
                let view = p.view();
                self.emit("refund.succeeded", id, reference.map(str::to_owned));
                Ok(view)
            }
            Request::Get { id } => match self.payments.get(id) {
                Some(p) => Ok(p.view()),
                None => refused("not_found"),
            },
        }
    }

    /// The provider finishes pending authorizations (the customer's challenge ended): each
    /// one with probability `percent`, authorized or failed as the generator says. `all`
    /// finishes every one (the final phase).
    pub fn tick(&mut self, all: bool) {
        let pending: Vec<String> = self
            .payments
            .values()
            .filter(|p| p.status == "pending")
            .map(|p| p.id.clone())
            .collect();
        for id in pending {
            if !all && !self.rng.percent(40) {
                continue;
            }
            let authorized = self.rng.percent(75);
            let Some(p) = self.payments.get_mut(&id) else {
                continue;
            };
            p.status = if authorized { "authorized" } else { "failed" };
            let reference = p.reference.clone();
            self.trace.push(format!("  tick {id} -> {}", p.status));
            let kind = if authorized {
                "payment.authorized"
            } else {
                "payment.failed"
            };
            self.emit(kind, &id, reference);
        }
    }
}

/// One simulated store's provider: its truth, and the channel on which it tells the driver a
/// call is held.
pub struct World {
    truth: Mutex<Truth>,
    parked_tx: mpsc::UnboundedSender<u64>,
}

impl World {
    /// A provider for `seed` with the fault profile `profile`; the receiver hears of each
    /// call it holds.
    pub fn new(
        seed: u64,
        nonce: &str,
        profile: Profile,
    ) -> (Arc<World>, mpsc::UnboundedReceiver<u64>) {
        let (parked_tx, parked_rx) = mpsc::unbounded_channel();
        let truth = Truth {
            rng: Rng::new(seed, 2),
            profile,
            faults: true,
            payments: BTreeMap::new(),
            answers: HashMap::new(),
            in_flight: HashSet::new(),
            parked: BTreeMap::new(),
            calls: 0,
            events: 0,
            nonce: nonce.to_owned(),
            outbox: Vec::new(),
            emitted: Vec::new(),
            labels: HashMap::new(),
            trace: Vec::new(),
        };
        (
            Arc::new(World {
                truth: Mutex::new(truth),
                parked_tx,
            }),
            parked_rx,
        )
    }

    /// The provider's state (never held across an await).
    pub fn truth(&self) -> MutexGuard<'_, Truth> {
        self.truth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns the transport's faults off (the final phase) or on.
    pub fn set_faults(&self, on: bool) {
        self.truth().faults = on;
    }

    /// Lets held call `call` go on.
    pub fn release(&self, call: u64) {
        if let Some(tx) = self.truth().parked.remove(&call) {
            let _ = tx.send(());
        }
    }

    async fn park(&self, call: u64) {
        let (tx, rx) = oneshot::channel();
        self.truth().parked.insert(call, tx);
        let _ = self.parked_tx.send(call);
        let _ = rx.await;
    }

    async fn call(&self, ctx: Option<&CallContext>, request: Request) -> Answer {
        let key = ctx.map(|c| c.idempotency_key.as_str());
        let reference = ctx.and_then(|c| c.reference.as_deref());
        let (call, fault) = {
            let mut truth = self.truth();
            let (call, fault) = truth.decide();
            let key_label = key.map(|k| truth.label(k)).unwrap_or_default();
            truth.trace.push(format!(
                "call {call} {} {key_label} {fault:?}",
                request.name()
            ));
            (call, fault)
        };
        match fault {
            Fault::None => self.truth().apply(key, reference, &request),
            Fault::Unavailable => Err(ProviderError::Retryable("503 unavailable".into())),
            Fault::LoseAnswer => {
                let _ = self.truth().apply(key, reference, &request);
                Err(ProviderError::UnknownOutcome("timed out".into()))
            }
            Fault::DelayAnswer => {
                let answer = self.truth().apply(key, reference, &request);
                self.park(call).await;
                let mut truth = self.truth();
                let lost = truth.faults && truth.rng.percent(30);
                truth.trace.push(format!("  released {call} lost={lost}"));
                if lost {
                    Err(ProviderError::UnknownOutcome("timed out".into()))
                } else {
                    answer
                }
            }
            Fault::DelayEffect => {
                if let Some(key) = key {
                    self.truth().in_flight.insert(key.to_owned());
                }
                self.park(call).await;
                let mut truth = self.truth();
                if let Some(key) = key {
                    truth.in_flight.remove(key);
                }
                truth.trace.push(format!("  released {call}"));
                truth.apply(key, reference, &request)
            }
        }
    }
}

/// The adapter registered in the server: one [`World`] per simulated store.
#[derive(Default)]
pub struct SimAdapter {
    worlds: Mutex<HashMap<String, Arc<World>>>,
}

impl SimAdapter {
    /// Makes `world` the provider of `store`.
    pub fn install(&self, store: &str, world: Arc<World>) {
        self.worlds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(store.to_owned(), world);
    }

    /// Forgets a store's provider (its seed is over).
    pub fn remove(&self, store: &str) {
        self.worlds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(store);
    }
}

impl AccountAdapter for SimAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        _body: &Value,
        _egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        Err(InvalidValue::new(
            "provider",
            "the simulated provider's credentials are generated",
        ))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        keyed_masked(credentials)
    }

    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        Some(
            Credentials::new(NAME)
                .with("api_key", Some("sim_key".to_owned()))
                .with("webhook_secret", Some(WEBHOOK_SECRET.to_owned()))
                .with("base_url", None),
        )
    }

    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify_standard_webhook(credentials, headers, body, now)
    }

    fn event_id(&self, headers: &axum::http::HeaderMap, _payload: &Value) -> Option<String> {
        standard_event_id(headers)
    }
}

impl PaymentAdapter for SimAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        _credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError> {
        let world = self
            .worlds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ctx.store.to_string())
            .cloned()
            .ok_or_else(|| ClientError::Build("no simulated provider for the store".into()))?;
        Ok(Box::new(SimClient { world }))
    }

    fn parse_event(&self, payload: &Value) -> ProviderEvent {
        let operation = match payload["type"].as_str().unwrap_or_default() {
            "payment.authorized" | "payment.failed" => EventOperation::Authorize,
            "payment.captured" => EventOperation::Capture,
            "payment.voided" => EventOperation::Void,
            "refund.succeeded" => EventOperation::Refund,
            _ => return ProviderEvent::Ignored,
        };
        ProviderEvent::Payment {
            operation,
            provider_payment_id: payload["data"]["payment"]["id"].as_str().map(str::to_owned),
            reference: payload["data"]["reference"].as_str().map(str::to_owned),
        }
    }
}

/// A store's client of the simulated provider.
struct SimClient {
    world: Arc<World>,
}

impl PaymentProvider for SimClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        _currency: &'a str,
        _payment_method: &'a str,
        _return_url: Option<&'a str>,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(
            self.world
                .call(Some(ctx), Request::Authorize { amount: amount.0 }),
        )
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
        _keep_rest: bool,
    ) -> BoxFuture<'a, Answer> {
        let request = Request::Capture {
            id: id.to_owned(),
            amount: amount.map(|a| a.0),
        };
        Box::pin(self.world.call(Some(ctx), request))
    }

    fn void<'a>(&'a self, ctx: &'a CallContext, id: &'a str) -> BoxFuture<'a, Answer> {
        let request = Request::Void { id: id.to_owned() };
        Box::pin(self.world.call(Some(ctx), request))
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Answer> {
        let request = Request::Refund {
            id: id.to_owned(),
            amount: amount.0,
        };
        Box::pin(self.world.call(Some(ctx), request))
    }

    fn get_transaction<'a>(
        &'a self,
        _correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(self.world.call(None, Request::Get { id: id.to_owned() }))
    }
}
