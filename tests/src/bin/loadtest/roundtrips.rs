//! Round trips per payment to the database, counted on the wire.
//!
//! A second `cassa serve` on the benchmark's PostgreSQL database reaches it through a proxy
//! that reads the frontend side of the protocol: every `Sync` (the end of an extended-protocol
//! exchange: prepare, bind and execute of one statement) and every simple `Query` (`BEGIN`,
//! `COMMIT`) is one round trip. The proxy sorts them by what they touch: the sandbox PSP's and
//! the sandbox carrier's tables are other companies' databases in production, so their round
//! trips are reported apart from Cassa's own. Payments run one at a time, so each call's
//! round trips are the counter's moves while it runs.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use uuid::Uuid;

use super::{
    Server,
    seed::{Api, Seeded},
    start_server_with, wait_ready,
};

/// Whose statements a round trip carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Cassa,
    /// The sandbox PSP (`sandbox_psp_*` tables).
    Psp,
    /// The sandbox carrier (`sandbox_carrier_*` tables).
    Carrier,
}

impl Owner {
    fn of(sql: &str) -> Owner {
        if sql.contains("sandbox_psp_") {
            Owner::Psp
        } else if sql.contains("sandbox_carrier_") {
            Owner::Carrier
        } else {
            Owner::Cassa
        }
    }
}

/// Round trips so far, per owner.
#[derive(Default)]
struct Counts {
    cassa: AtomicU64,
    psp: AtomicU64,
    carrier: AtomicU64,
}

impl Counts {
    fn add(&self, owner: Owner, n: u64) {
        let counter = match owner {
            Owner::Cassa => &self.cassa,
            Owner::Psp => &self.psp,
            Owner::Carrier => &self.carrier,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> [u64; 3] {
        [
            self.cassa.load(Ordering::Relaxed),
            self.psp.load(Ordering::Relaxed),
            self.carrier.load(Ordering::Relaxed),
        ]
    }
}

/// One connection's reading of the frontend stream.
struct Reader {
    counts: Arc<Counts>,
    /// Prepared statement names and whose they are (with their text, when tracing).
    statements: HashMap<Vec<u8>, (Owner, String)>,
    /// With `CASSA_ROUNDTRIP_TRACE` set, every round trip is printed on stderr with the
    /// statement it carried: how the per-call figures are read statement by statement.
    trace: bool,
    /// The text of the exchange's statement (when tracing).
    text: String,
    /// The owner of the exchange in progress (its last `Parse` or `Bind`).
    current: Owner,
    /// `BEGIN`s sent before the first statement of their transaction (whose they are is
    /// known only then).
    pending_begins: u64,
    /// The owner of the open transaction's statements (its `COMMIT` is theirs).
    transaction: Option<Owner>,
    startup_done: bool,
    buffer: Vec<u8>,
}

/// The text up to the first NUL of `bytes`, and what follows it.
fn cstring(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == 0) {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[]),
    }
}

impl Reader {
    fn new(counts: Arc<Counts>) -> Self {
        Reader {
            counts,
            statements: HashMap::new(),
            trace: std::env::var_os("CASSA_ROUNDTRIP_TRACE").is_some(),
            text: String::new(),
            current: Owner::Cassa,
            pending_begins: 0,
            transaction: None,
            startup_done: false,
            buffer: Vec::new(),
        }
    }

    fn trip(&self, owner: Owner, what: &str) {
        self.counts.add(owner, 1);
        if self.trace {
            let line: String = what.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!(
                "roundtrip {owner:?}: {}",
                line.chars().take(160).collect::<String>()
            );
        }
    }

    fn statement(&mut self, owner: Owner) {
        self.current = owner;
        for _ in 0..self.pending_begins {
            self.trip(owner, "BEGIN");
        }
        self.pending_begins = 0;
        if self.transaction.is_none() {
            self.transaction = Some(owner);
        }
    }

    /// Reads what the client sent; complete messages are counted.
    fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        loop {
            if !self.startup_done {
                // Untyped: length, then a code (SSL or GSS encryption request, or the startup
                // message, after which typed messages follow).
                if self.buffer.len() < 8 {
                    return;
                }
                let length = u32::from_be_bytes([
                    self.buffer[0],
                    self.buffer[1],
                    self.buffer[2],
                    self.buffer[3],
                ]) as usize;
                if self.buffer.len() < length {
                    return;
                }
                let code = u32::from_be_bytes([
                    self.buffer[4],
                    self.buffer[5],
                    self.buffer[6],
                    self.buffer[7],
                ]);
                // 80877103: SSLRequest, 80877104: GSSENCRequest; the counting server asks for
                // neither (`sslmode=disable`), so the startup message comes next.
                if code != 80_877_103 && code != 80_877_104 {
                    self.startup_done = true;
                }
                self.buffer.drain(..length);
                continue;
            }
            if self.buffer.len() < 5 {
                return;
            }
            let kind = self.buffer[0];
            let length = u32::from_be_bytes([
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
                self.buffer[4],
            ]) as usize;
            if self.buffer.len() < 1 + length {
                return;
            }
            let body: Vec<u8> = self.buffer[5..1 + length].to_vec();
            self.buffer.drain(..1 + length);
            self.message(kind, &body);
        }
    }

    fn message(&mut self, kind: u8, body: &[u8]) {
        match kind {
            // Parse: statement name, query.
            b'P' => {
                let (name, rest) = cstring(body);
                let (query, _) = cstring(rest);
                let text = String::from_utf8_lossy(query);
                let owner = Owner::of(&text);
                if self.trace {
                    self.text = text.into_owned();
                }
                if !name.is_empty() {
                    self.statements
                        .insert(name.to_vec(), (owner, self.text.clone()));
                }
                self.statement(owner);
            }
            // Bind: portal, statement name.
            b'B' => {
                let (_, rest) = cstring(body);
                let (name, _) = cstring(rest);
                if let Some((owner, text)) = self.statements.get(name).cloned() {
                    self.text = text;
                    self.statement(owner);
                }
            }
            // Sync: the exchange's round trip.
            b'S' => self.trip(self.current, &self.text),
            // A simple query: transaction control, or a statement sent as text.
            b'Q' => {
                let (query, _) = cstring(body);
                let text = String::from_utf8_lossy(query).trim().to_ascii_uppercase();
                if text.starts_with("BEGIN") || text.starts_with("START TRANSACTION") {
                    self.transaction = None;
                    self.pending_begins += 1;
                } else if text.starts_with("COMMIT") || text.starts_with("ROLLBACK") {
                    let owner = self.transaction.take().unwrap_or(self.current);
                    // A transaction with no statement (its BEGIN still pending) is its own.
                    for _ in 0..self.pending_begins {
                        self.trip(owner, "BEGIN");
                    }
                    self.trip(owner, &text);
                    self.pending_begins = 0;
                } else {
                    let owner = Owner::of(&text.to_ascii_lowercase());
                    self.statement(owner);
                    self.trip(owner, &text);
                }
            }
            _ => {}
        }
    }
}

/// A proxy to PostgreSQL that counts the round trips passing through it.
struct WireCounter {
    port: u16,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl WireCounter {
    async fn start(upstream: String) -> WireCounter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let counts = Arc::new(Counts::default());
        let task = {
            let counts = counts.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let (upstream, counts) = (upstream.clone(), counts.clone());
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let (mut client_read, mut client_write) = inbound.into_split();
                        let (mut server_read, mut server_write) = outbound.into_split();
                        let to_server = async {
                            let mut reader = Reader::new(counts);
                            let mut buf = vec![0u8; 64 * 1024];
                            while let Ok(n) = client_read.read(&mut buf).await {
                                if n == 0 {
                                    break;
                                }
                                reader.feed(&buf[..n]);
                                if server_write.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                            let _ = server_write.shutdown().await;
                        };
                        let to_client = async {
                            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                            let _ = client_write.shutdown().await;
                        };
                        tokio::join!(to_server, to_client);
                    });
                }
            })
        };
        WireCounter { port, counts, task }
    }
}

impl Drop for WireCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `database_url` with its host and port replaced by the proxy's, TLS off (the proxy reads
/// the protocol in the clear).
fn through(database_url: &str, port: u16) -> (String, String) {
    let url = url::Url::parse(database_url).expect("a PostgreSQL URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let mut proxied = url.clone();
    proxied.set_host(Some("127.0.0.1")).expect("a host");
    proxied.set_port(Some(port)).expect("a port");
    let query: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "sslmode" && k != "host")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain([("sslmode".to_owned(), "disable".to_owned())])
        .collect();
    proxied.query_pairs_mut().clear().extend_pairs(query);
    (proxied.to_string(), upstream)
}

/// Round trips of `payments` payments (quote, authorize, capture), one at a time, through a
/// second server on `database_url` (TCP; a Unix-socket URL is counted over TCP to the same
/// server). Per payment and per call, Cassa's own and the sandbox PSP's apart.
pub async fn per_payment(
    server_path: &str,
    database_url: &str,
    data_dir: &str,
    seeded: &Arc<Seeded>,
    payments: usize,
) -> Value {
    let (_, upstream) = through(database_url, 0);
    let counter = WireCounter::start(upstream).await;
    let (url, _) = through(database_url, counter.port);
    // Its own background work stays off (the benchmark's server does it): what the proxy sees
    // is the requests'.
    let server: Server = start_server_with(
        server_path,
        &url,
        data_dir,
        &[
            ("CASSA_WEBHOOK_WORKERS", "0"),
            ("CASSA_OUTBOUND_WEBHOOK_WORKERS", "0"),
            ("CASSA_RECONCILIATION_RUNNERS", "0"),
            ("CASSA_RESOLVER_INTERVAL_SECS", "3600"),
        ],
    );
    let http = reqwest::Client::new();
    wait_ready(&http, &server.base).await;
    let api = Api {
        http,
        base: server.base.clone(),
    };
    // Warm-up: every connection of the pool prepares its statements once.
    let calls = ["quote", "authorize", "capture"];
    let mut totals = [[0u64; 3]; 3];
    let mut counted = 0usize;
    for n in 0..payments + 20 {
        let Some((order, w)) = seeded.orders.lock().ok().and_then(|mut v| v.pop()) else {
            break;
        };
        let token = &seeded.tokens[w];
        let mark = |call: &str| {
            if std::env::var_os("CASSA_ROUNDTRIP_TRACE").is_some() {
                eprintln!("roundtrip --- payment {n}: {call}");
            }
        };
        mark("quote");
        let mut marks = vec![counter.counts.snapshot()];
        let Ok(quote) = api
            .post(
                "/api/v1/me/checkout/quote",
                token,
                json!({"order_id": order}),
            )
            .await
        else {
            continue;
        };
        marks.push(counter.counts.snapshot());
        mark("authorize");
        let Ok(intent) = api
            .post(
                &format!("/api/v1/me/orders/{order}/payments/authorize"),
                token,
                json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"}),
            )
            .await
        else {
            continue;
        };
        marks.push(counter.counts.snapshot());
        let path = format!(
            "/api/v1/admin/orders/{order}/payments/{}/capture",
            intent["id"].as_str().unwrap_or_default()
        );
        let key = Uuid::now_v7().to_string();
        let body = json!({"amount": intent["amount"]});
        mark("capture");
        if api
            .send(
                reqwest::Method::POST,
                &path,
                &seeded.key,
                Some(&key),
                Some(&body),
            )
            .await
            .is_err()
        {
            continue;
        }
        marks.push(counter.counts.snapshot());
        if n < 20 {
            continue;
        }
        counted += 1;
        for call in 0..3 {
            for owner in 0..3 {
                totals[call][owner] += marks[call + 1][owner] - marks[call][owner];
            }
        }
    }
    drop(server);
    let per = |sum: u64| sum as f64 / counted.max(1) as f64;
    let mut by_call = serde_json::Map::new();
    for (call, name) in calls.iter().enumerate() {
        by_call.insert(
            (*name).to_owned(),
            json!({"cassa": per(totals[call][0]), "psp": per(totals[call][1]),
                   "carrier": per(totals[call][2])}),
        );
    }
    let sum = |owner: usize| per(totals.iter().map(|c| c[owner]).sum());
    json!({
        "payments": counted,
        "cassa_per_payment": sum(0),
        "psp_per_payment": sum(1),
        "carrier_per_payment": sum(2),
        "by_call": by_call,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn startup() -> Vec<u8> {
        let mut m = Vec::new();
        let body = b"\0\x03\0\0user\0postgres\0\0";
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn counts_each_exchange_and_transaction_control_by_owner() {
        let counts = Arc::new(Counts::default());
        let mut reader = Reader::new(counts.clone());
        let mut stream = startup();
        stream.extend(message(b'Q', b"BEGIN\0"));
        stream.extend(message(b'P', b"s1\0SELECT 1 FROM payment_intents\0\0\0"));
        stream.extend(message(b'S', b""));
        stream.extend(message(b'B', b"\0s1\0\0\0\0\0\0\0"));
        stream.extend(message(b'E', b"\0\0\0\0\0"));
        stream.extend(message(b'S', b""));
        stream.extend(message(b'Q', b"COMMIT\0"));
        stream.extend(message(b'Q', b"BEGIN\0"));
        stream.extend(message(b'P', b"s2\0INSERT INTO sandbox_psp_payments\0\0\0"));
        stream.extend(message(b'S', b""));
        stream.extend(message(b'Q', b"COMMIT\0"));
        // Split anywhere: messages are counted once they are complete.
        let (a, b) = stream.split_at(23);
        reader.feed(a);
        reader.feed(b);
        // Cassa: BEGIN, two exchanges, COMMIT; the PSP: BEGIN, one exchange, COMMIT.
        assert_eq!(counts.snapshot(), [4, 3, 0]);
    }

    #[test]
    fn the_proxied_url_points_at_the_proxy_without_tls() {
        let (url, upstream) = through("postgres://postgres@127.0.0.1:5433/db?sslmode=prefer", 9);
        assert_eq!(upstream, "127.0.0.1:5433");
        assert_eq!(url, "postgres://postgres@127.0.0.1:9/db?sslmode=disable");
    }
}
