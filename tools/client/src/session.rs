//! One simulated client: its own keep-alive HTTP connection, the three timed requests, and the
//! orders it had acknowledged.

use crate::stats::{Kind, Outcome, Recorder};
use crate::workload::Side;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// An order as `GET /orders/{n}` returns it; the client remembers one per acknowledged trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Transaction number.
    pub number: u64,
    /// Stock name.
    pub name: String,
    /// Buy or sell.
    #[serde(rename = "type")]
    pub side: Side,
    /// Shares traded.
    pub quantity: u64,
}

/// How a trade ended, as far as the workload cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TradeResult {
    /// 200 with this transaction number.
    Acknowledged(u64),
    /// 409: not enough shares to buy.
    Refused,
    /// Anything else: an error status, a timeout, or an unreadable answer.
    Failed,
}

/// How fetching an order back ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueryResult {
    /// 200 with this order.
    Found(Order),
    /// 404: the system does not know the number it acknowledged.
    NotFound,
    /// Any other error: nothing can be said about the order.
    Failed,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Acknowledgement {
    transaction_number: u64,
}

#[derive(Serialize)]
struct TradeBody<'a> {
    name: &'a str,
    quantity: u64,
    #[serde(rename = "type")]
    side: Side,
}

/// A simulated client: one `reqwest::Client` holding at most one idle connection, so each client
/// keeps its own keep-alive connection as a separate user would.
#[derive(Debug)]
pub(crate) struct Session {
    http: reqwest::Client,
    base: String,
    started: Instant,
    pub(crate) recorder: Recorder,
    pub(crate) orders: Vec<Order>,
}

/// Builds the HTTP client of one simulated client.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(timeout)
        .build()
}

impl Session {
    /// A client of `base` whose samples are timed from `started`.
    pub(crate) fn new(
        base: &str,
        timeout: Duration,
        started: Instant,
        keep_samples: bool,
    ) -> reqwest::Result<Self> {
        Ok(Self {
            http: http_client(timeout)?,
            base: base.trim_end_matches('/').to_string(),
            started,
            recorder: Recorder::new(keep_samples),
            orders: Vec::new(),
        })
    }

    /// Sends `request`, reads the whole body, records the attempt as `kind`.
    async fn timed(
        &mut self,
        kind: Kind,
        request: reqwest::RequestBuilder,
    ) -> (Outcome, Option<Bytes>) {
        let sent = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let latency = sent.elapsed();
        let (outcome, body) = match result {
            Ok((status, body)) => (Outcome::Status(status), Some(body)),
            Err(e) if e.is_timeout() => (Outcome::Timeout, None),
            Err(e) => {
                tracing::debug!(error = %e, kind = kind.name(), "request failed");
                (Outcome::Transport, None)
            }
        };
        self.recorder
            .record(kind, sent - self.started, latency, outcome);
        (outcome, body)
    }

    /// `GET /stocks/{name}`.
    pub(crate) async fn lookup(&mut self, name: &str) -> Outcome {
        let request = self.http.get(format!("{}/stocks/{name}", self.base));
        self.timed(Kind::Lookup, request).await.0
    }

    /// `POST /orders`; remembers the order when acknowledged.
    pub(crate) async fn trade(&mut self, name: &str, side: Side, quantity: u64) -> TradeResult {
        let body = TradeBody {
            name,
            quantity,
            side,
        };
        let request = self.http.post(format!("{}/orders", self.base)).json(&body);
        match self.timed(Kind::Trade, request).await {
            (Outcome::Status(200), Some(body)) => {
                match serde_json::from_slice::<Envelope<Acknowledgement>>(&body) {
                    Ok(ack) => {
                        self.orders.push(Order {
                            number: ack.data.transaction_number,
                            name: name.to_string(),
                            side,
                            quantity,
                        });
                        TradeResult::Acknowledged(ack.data.transaction_number)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a 200 trade answer without a transaction number");
                        TradeResult::Failed
                    }
                }
            }
            (Outcome::Status(409), _) => TradeResult::Refused,
            _ => TradeResult::Failed,
        }
    }

    /// `GET /orders/{number}`.
    pub(crate) async fn query(&mut self, number: u64) -> QueryResult {
        let request = self.http.get(format!("{}/orders/{number}", self.base));
        match self.timed(Kind::OrderQuery, request).await {
            (Outcome::Status(200), Some(body)) => {
                match serde_json::from_slice::<Envelope<Order>>(&body) {
                    Ok(order) => QueryResult::Found(order.data),
                    Err(e) => {
                        tracing::warn!(error = %e, number, "a 200 order answer that is no order");
                        QueryResult::Failed
                    }
                }
            }
            (Outcome::Status(404), _) => QueryResult::NotFound,
            _ => QueryResult::Failed,
        }
    }
}
