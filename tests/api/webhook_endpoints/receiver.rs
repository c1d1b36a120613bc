//! A merchant's receiver mounted in the test server (`/api/v1/test-hooks/{name}`): it
//! records every request and answers what the test scripted.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::Path,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use cassa::{providers::signature::SignatureError, state::AppState};
use cassa_tests::TestApp;
use serde_json::Value;
use tokio::sync::Semaphore;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    /// This status, with a body naming it.
    Status(u16),
    /// Nothing until the test calls [`Receiver::release`], then 200.
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Verifies the request as a receiver would, with `secret` and the wall clock.
    pub fn verify(&self, secret: &str) -> Result<(), SignatureError> {
        cassa::providers::signature::verify_standard(
            secret,
            Some(&self.id),
            Some(&self.timestamp),
            Some(&self.signature),
            self.body.as_bytes(),
            chrono::Utc::now().timestamp(),
        )
    }
}

#[derive(Default)]
struct Inner {
    scripts: HashMap<String, VecDeque<Reply>>,
    otherwise: HashMap<String, Reply>,
    received: HashMap<String, Vec<Received>>,
}

/// The receivers of one test.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    hanging: Arc<Semaphore>,
}

impl Default for Receiver {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            hanging: Arc::new(Semaphore::new(0)),
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Receiver {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// The routes to mount with `SpawnOptions::extra_api`.
    pub fn routes(&self) -> Router<AppState> {
        let receiver = self.clone();
        Router::new().route(
            "/test-hooks/{name}",
            post(
                move |Path(name): Path<String>, headers: HeaderMap, body: Bytes| {
                    let receiver = receiver.clone();
                    async move { receiver.receive(name, &headers, &body).await }
                },
            ),
        )
    }

    async fn receive(
        &self,
        name: String,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, String) {
        let reply = {
            let mut inner = self.lock();
            inner
                .received
                .entry(name.clone())
                .or_default()
                .push(Received {
                    id: header(headers, "webhook-id"),
                    timestamp: header(headers, "webhook-timestamp"),
                    signature: header(headers, "webhook-signature"),
                    content_type: header(headers, "content-type"),
                    body: String::from_utf8_lossy(body).into_owned(),
                });
            let scripted = inner.scripts.get_mut(&name).and_then(VecDeque::pop_front);
            scripted
                .or_else(|| inner.otherwise.get(&name).copied())
                .unwrap_or(Reply::Status(200))
        };
        match reply {
            Reply::Status(status) => (
                StatusCode::from_u16(status).unwrap(),
                format!("{name} answered {status}"),
            ),
            Reply::Hang => {
                let _held = self.hanging.acquire().await.unwrap();
                (StatusCode::OK, format!("{name} answered late"))
            }
        }
    }

    /// The next answers of `name`, in order (then [`Receiver::otherwise`], then 200).
    pub fn script(&self, name: &str, replies: &[Reply]) {
        self.lock()
            .scripts
            .entry(name.to_owned())
            .or_default()
            .extend(replies.iter().copied());
    }

    /// What `name` answers once its script is used up.
    pub fn otherwise(&self, name: &str, reply: Reply) {
        self.lock().otherwise.insert(name.to_owned(), reply);
    }

    /// Everything `name` received, in order.
    pub fn received(&self, name: &str) -> Vec<Received> {
        self.lock().received.get(name).cloned().unwrap_or_default()
    }

    /// Lets every hanging request (and every later one) answer.
    pub fn release(&self) {
        self.hanging.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Waits (at most `limit`) until `name` received `count` requests; whether it did.
    pub async fn wait_for(&self, name: &str, count: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.received(name).len() >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received(name).len() >= count
    }
}

/// The URL of receiver `name` on `app`.
pub fn url(app: &TestApp, name: &str) -> String {
    format!("{}/api/v1/test-hooks/{name}", app.address)
}
