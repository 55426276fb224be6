//! `spawn_app()`: a nats-server, a temporary data dir and a running catalog, plus request
//! helpers. Logs stay quiet unless `TEST_LOG` is set.

use bazaar_catalog::testing::RunningCatalog;
use bazaar_catalog::Config;
use bazaar_nats::messages::{
    decode, encode, ConfirmLogged, PendingQuery, Reply, Stock, StockLookup, TradeApplied,
    TradeRequest, UnloggedTrade,
};
use bazaar_nats::subjects::{
    STOCK_LIST, STOCK_LOOKUP, STOCK_TRADE, TRADES_CONFIRM, TRADES_PENDING,
};
pub(crate) use bazaar_nats::testing::wait_until;
use bazaar_nats::testing::NatsServer;
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

/// How long a test waits for any single answer.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test waits for the catalog to get somewhere by itself (a key forgotten, a
/// confirm made durable).
pub(crate) const SETTLE: Duration = Duration::from_secs(10);

/// A catalog under test and everything it runs on.
pub(crate) struct TestApp {
    /// A plain client, as the order leader or frontend would use.
    pub(crate) client: async_nats::Client,
    /// The catalog's data dir; survives restarts of the catalog.
    pub(crate) data_dir: TempDir,
    /// `--key-retention-secs`; tests of pruning shorten it.
    pub(crate) key_retention_secs: u64,
    stocks: Option<PathBuf>,
    _stocks_dir: Option<TempDir>,
    running: Option<RunningCatalog>,
    // Dropped last: the server outlives the client and catalog.
    nats: NatsServer,
}

/// Starts a catalog with the default seed.
pub(crate) async fn spawn_app() -> TestApp {
    let mut app = prepare(None).await;
    app.start().await;
    app
}

/// Starts a catalog seeded from a stocks file holding `json`.
pub(crate) async fn spawn_app_with_stocks(json: &str) -> TestApp {
    let mut app = prepare(Some(json)).await;
    app.start().await;
    app
}

/// A nats-server and an empty data dir, the catalog not started yet (call [`TestApp::start`]).
pub(crate) async fn prepare_app() -> TestApp {
    prepare(None).await
}

async fn prepare(stocks_json: Option<&str>) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        bazaar_nats::runtime::init_tracing("bazaar_catalog=debug,warn");
    }
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url())
        .await
        .expect("test client connects");
    let (stocks, stocks_dir) = match stocks_json {
        Some(json) => {
            let dir = tempfile::tempdir().expect("temp dir for the stocks file");
            let path = dir.path().join("stocks.json");
            std::fs::write(&path, json).expect("stocks file written");
            (Some(path), Some(dir))
        }
        None => (None, None),
    };
    TestApp {
        client,
        data_dir: tempfile::tempdir().expect("temp data dir"),
        key_retention_secs: Config::default().key_retention_secs,
        stocks,
        _stocks_dir: stocks_dir,
        running: None,
        nats,
    }
}

/// A valid idempotency key.
pub(crate) fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).expect("valid key")
}

/// A valid stock name.
pub(crate) fn name(raw: &str) -> StockName {
    StockName::parse(raw).expect("valid name")
}

/// A trade request whose key the frontend minted (the client sent none).
pub(crate) fn minted_request(k: &str, stock: &str, side: Side, quantity: u64) -> TradeRequest {
    TradeRequest {
        minted: true,
        ..trade_request(k, stock, side, quantity)
    }
}

/// A trade request.
pub(crate) fn trade_request(k: &str, stock: &str, side: Side, quantity: u64) -> TradeRequest {
    TradeRequest {
        key: key(k),
        name: name(stock),
        side,
        quantity: Quantity::parse(quantity).expect("valid quantity"),
        minted: false,
    }
}

impl TestApp {
    /// The config the catalog runs with.
    pub(crate) fn config(&self) -> Config {
        Config {
            nats_url: self.nats.url(),
            nats_auth: Default::default(),
            data_dir: self.data_dir.path().to_path_buf(),
            stocks: self.stocks.clone(),
            key_retention_secs: self.key_retention_secs,
            fault_injection: false,
            metrics_listen: None,
        }
    }

    /// Starts the catalog and waits until it answers.
    pub(crate) async fn start(&mut self) {
        assert!(self.running.is_none(), "catalog already running");
        self.running = Some(RunningCatalog::start(self.config(), &self.client).await);
    }

    /// Triggers shutdown and waits for `run` to return, which must be `Ok`.
    pub(crate) async fn stop(&mut self) {
        let catalog = self.running.take().expect("catalog running");
        catalog.stop().await.expect("catalog run returned Ok");
    }

    /// Sends `payload` to `subject` and parses the reply envelope.
    pub(crate) async fn request_raw<R: DeserializeOwned>(
        &self,
        subject: &str,
        payload: Vec<u8>,
    ) -> Reply<R> {
        let message = self
            .client
            .send_request(
                subject.to_string(),
                async_nats::Request::new()
                    .payload(payload.into())
                    .timeout(Some(TIMEOUT)),
            )
            .await
            .unwrap_or_else(|e| panic!("request on {subject} failed: {e}"));
        decode(&message.payload).unwrap_or_else(|e| panic!("bad reply on {subject}: {e}"))
    }

    /// Sends `body` as JSON to `subject` and parses the reply envelope.
    pub(crate) async fn request<B: Serialize, R: DeserializeOwned>(
        &self,
        subject: &str,
        body: &B,
    ) -> Reply<R> {
        self.request_raw(subject, encode(body).to_vec()).await
    }

    /// Looks up one stock.
    pub(crate) async fn lookup(&self, stock: &str) -> Reply<Stock> {
        self.request(STOCK_LOOKUP, &StockLookup { name: name(stock) })
            .await
    }

    /// Looks up a stock that must exist.
    pub(crate) async fn stock(&self, stock: &str) -> Stock {
        match self.lookup(stock).await {
            Reply::Ok { data } => data,
            other => panic!("lookup of {stock} failed: {other:?}"),
        }
    }

    /// Lists every stock.
    pub(crate) async fn list(&self) -> Reply<Vec<Stock>> {
        self.request_raw(STOCK_LIST, Vec::new()).await
    }

    /// Sends one trade.
    pub(crate) async fn trade(&self, request: &TradeRequest) -> Reply<TradeApplied> {
        self.request(STOCK_TRADE, request).await
    }

    /// Asks for applied, unconfirmed trades (the trades only; their versions are checked by
    /// [`Self::pending_with_versions`]).
    pub(crate) async fn pending(&self, min_age_ms: u64, limit: u32) -> Vec<TradeRequest> {
        self.pending_with_versions(min_age_ms, limit)
            .await
            .into_iter()
            .map(|unlogged| unlogged.trade)
            .collect()
    }

    /// Asks for applied, unconfirmed trades, with the stock version each produced.
    pub(crate) async fn pending_with_versions(
        &self,
        min_age_ms: u64,
        limit: u32,
    ) -> Vec<UnloggedTrade> {
        match self
            .request(TRADES_PENDING, &PendingQuery { min_age_ms, limit })
            .await
        {
            Reply::Ok { data } => data,
            other => panic!("pending query failed: {other:?}"),
        }
    }

    /// Publishes a `ConfirmLogged` the way the order leader does: no reply expected.
    pub(crate) async fn confirm(&self, keys: Vec<IdempotencyKey>) {
        self.client
            .publish(TRADES_CONFIRM, encode(&ConfirmLogged { keys }))
            .await
            .expect("confirm published");
        self.client.flush().await.expect("client flushed");
    }
}
