//! `spawn_app`: a real nats-server, a real catalog (optional) and the frontend on a free port,
//! plus request helpers, a scriptable stand-in for an order replica and one that relays trades
//! to the catalog.

use async_nats::jetstream;
use bazaar_catalog::testing::RunningCatalog;
use bazaar_frontend::config::EdgeLimits;
use bazaar_frontend::Config;
use bazaar_nats::messages::{decode, encode, Reply, TradeApplied, TradeReceipt};
use bazaar_nats::setup::{ensure_leader_bucket, Replication};
use bazaar_nats::subjects::{LEADER_KEY, STOCK_TRADE};
pub(crate) use bazaar_nats::testing::wait_until;
use bazaar_nats::testing::NatsServer;
use futures::StreamExt;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for the frontend to get somewhere by itself (a leader seen, a cache
/// emptied).
pub(crate) const SETTLE: Duration = Duration::from_secs(10);

/// How to start a test app.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) cache_size: usize,
    pub(crate) with_catalog: bool,
    pub(crate) attempt_timeout_ms: u64,
    pub(crate) retry_budget_ms: u64,
    pub(crate) events_heartbeat_ms: u64,
    pub(crate) edge: EdgeLimits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_size: 5,
            with_catalog: true,
            attempt_timeout_ms: 500,
            retry_budget_ms: 1500,
            events_heartbeat_ms: 15_000,
            edge: EdgeLimits::default(),
        }
    }
}

/// A running frontend (and its dependencies), stopped when dropped.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub(crate) address: String,
    /// The frontend's socket address, for raw TCP clients.
    pub(crate) socket: std::net::SocketAddr,
    pub(crate) http: reqwest::Client,
    /// A separate NATS client for the test itself.
    pub(crate) nats: async_nats::Client,
    pub(crate) server: NatsServer,
    frontend_stop: Option<oneshot::Sender<()>>,
    frontend: Option<JoinHandle<anyhow::Result<()>>>,
    catalog: Option<RunningCatalog>,
    _catalog_dir: tempfile::TempDir,
}

fn init_test_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        bazaar_nats::runtime::init_tracing("bazaar_frontend=debug,bazaar_catalog=info,warn");
    }
}

/// The frontend in front of a real catalog, with default options.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// The frontend with the given options.
pub(crate) async fn spawn_app_with(options: Options) -> TestApp {
    init_test_tracing();
    let server = NatsServer::start();
    let nats = async_nats::connect(server.url())
        .await
        .expect("test client");
    let catalog_dir = tempfile::tempdir().expect("catalog dir");

    let catalog = if options.with_catalog {
        let config = bazaar_catalog::Config {
            nats_url: server.url(),
            nats_auth: Default::default(),
            data_dir: catalog_dir.path().to_path_buf(),
            ..bazaar_catalog::Config::default()
        };
        Some(RunningCatalog::start(config, &nats).await)
    } else {
        None
    };

    let config = Config {
        nats_url: server.url(),
        nats_auth: Default::default(),
        listen: "127.0.0.1:0".parse().unwrap(),
        cache_size: options.cache_size,
        attempt_timeout_ms: options.attempt_timeout_ms,
        retry_budget_ms: options.retry_budget_ms,
        events_heartbeat_ms: options.events_heartbeat_ms,
        edge: options.edge,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = listener.local_addr().unwrap();
    let address = format!("http://{socket}");
    let (tx, rx) = oneshot::channel::<()>();
    let frontend = tokio::spawn(bazaar_frontend::run(config, listener, async {
        let _ = rx.await;
    }));

    let app = TestApp {
        address,
        socket,
        http: reqwest::Client::new(),
        nats,
        server,
        frontend_stop: Some(tx),
        frontend: Some(frontend),
        catalog,
        _catalog_dir: catalog_dir,
    };
    // Ready when it answers and its NATS client is connected (so its subscriptions are live).
    wait_until(SETTLE, "the frontend is connected", || async {
        let health = app.get_json("/healthz").await.1;
        health["data"]["nats"] == "connected"
    })
    .await;
    app
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET, returning status and JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// POST /orders with a raw body and no Content-Type, as `curl -d` would (almost) send it.
    pub(crate) async fn post_order(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url("/orders"))
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// The `GET /cache` data.
    pub(crate) async fn cache(&self) -> Value {
        let (status, body) = self.get_json("/cache").await;
        assert_eq!(status, 200);
        body["data"].clone()
    }

    /// Stops the frontend and the catalog and waits for both to return cleanly.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.frontend_stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.frontend.take() {
            let ended = tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .expect("frontend stops within 10 s");
            ended.expect("frontend task").expect("frontend run");
        }
        if let Some(catalog) = self.catalog.take() {
            let _ = catalog.stop().await;
        }
    }
}

impl Drop for TestApp {
    /// Stops the frontend and the catalog before the NATS server goes with the fields.
    fn drop(&mut self) {
        if let Some(tx) = self.frontend_stop.take() {
            let _ = tx.send(());
        }
        drop(self.catalog.take());
    }
}

/// What a fake order replica answers to each request it gets, in turn (the last one repeats).
pub(crate) type Script = Vec<Value>;

/// A stand-in for an order replica: answers scripted raw replies on one subject and records the
/// payloads it got.
pub(crate) struct FakeReplica {
    pub(crate) received: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<()>,
}

impl FakeReplica {
    pub(crate) async fn start(nats: &async_nats::Client, subject: String, script: Script) -> Self {
        let mut subscriber = nats.subscribe(subject).await.unwrap();
        nats.flush().await.unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let client = nats.clone();
        let task = tokio::spawn(async move {
            let mut turn = 0;
            while let Some(message) = subscriber.next().await {
                let payload: Value =
                    serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
                log.lock().unwrap().push(payload);
                let reply = script[turn.min(script.len() - 1)].clone();
                turn += 1;
                if let Some(inbox) = message.reply {
                    let _ = client.publish(inbox, encode(&reply)).await;
                }
            }
        });
        Self { received, task }
    }

    pub(crate) fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakeReplica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A stand-in for an order leader that passes each trade to the real catalog and answers with
/// the catalog's verdict, numbering an applied trade by the stock version it produced (the
/// order log is not what these tests look at).
pub(crate) struct CatalogRelay {
    task: JoinHandle<()>,
}

impl CatalogRelay {
    pub(crate) async fn start(nats: &async_nats::Client, subject: String) -> Self {
        let mut subscriber = nats.subscribe(subject).await.unwrap();
        nats.flush().await.unwrap();
        let client = nats.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                let answer = client
                    .request(STOCK_TRADE, message.payload.clone())
                    .await
                    .expect("the catalog answers");
                let verdict: Reply<TradeApplied> =
                    decode(&answer.payload).expect("a catalog reply");
                let reply = verdict.map(|applied| TradeReceipt {
                    transaction_number: applied.version,
                });
                if let Some(inbox) = message.reply {
                    let _ = client.publish(inbox, encode(&reply)).await;
                }
            }
        });
        Self { task }
    }
}

impl Drop for CatalogRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keeps writing `replica` into the leader key (it expires ~1 s after each write) until dropped.
pub(crate) struct LeaseHolder {
    task: JoinHandle<()>,
}

impl LeaseHolder {
    pub(crate) async fn start(nats: &async_nats::Client, replica: u32) -> Self {
        let js = jetstream::new(nats.clone());
        let kv = ensure_leader_bucket(&js, Replication::default())
            .await
            .expect("leader bucket");
        kv.put(LEADER_KEY, bazaar_nats::lease::encode(replica))
            .await
            .expect("first lease write");
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let _ = kv
                    .put(LEADER_KEY, bazaar_nats::lease::encode(replica))
                    .await;
            }
        });
        Self { task }
    }
}

impl Drop for LeaseHolder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
