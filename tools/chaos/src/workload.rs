//! Concurrent clients trading and looking up stocks through the frontends, recording every
//! request and what came back.

use crate::history::{Outcome, Request, RequestKind};
use crate::rng::Rng;
use std::time::{Duration, Instant};

/// What the clients do.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Base URLs of the frontends.
    pub frontends: Vec<String>,
    /// Stocks to pick from.
    pub stocks: Vec<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// Probability that an iteration is a trade rather than a lookup.
    pub trade_probability: f64,
    /// The run's seed.
    pub seed: u64,
    /// When the run started (request times are relative to it).
    pub origin: Instant,
    /// When to stop sending.
    pub until: Instant,
}

impl Workload {
    /// Runs every client until `until`; returns all requests, in no particular order.
    pub async fn run(&self) -> Vec<Request> {
        let clients = (0..self.clients).map(|c| self.client(c));
        futures::future::join_all(clients)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn client(&self, client: usize) -> Vec<Request> {
        let mut rng = Rng::fork(self.seed, 1000 + client as u64);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build()
            .expect("http client");
        let mut history = Vec::new();
        let mut i = 0u64;
        while Instant::now() < self.until {
            let frontend = rng.below(self.frontends.len() as u64) as usize;
            let stock = self.stocks[rng.below(self.stocks.len() as u64) as usize].clone();
            let base = &self.frontends[frontend];
            let start = Instant::now();
            let (kind, outcome) = if rng.chance(self.trade_probability) {
                let side = if rng.chance(0.5) { "buy" } else { "sell" };
                let quantity = rng.between(1, 3);
                let key = format!("chaos-{}-{client}-{i}", self.seed);
                let outcome = trade(&http, base, &key, &stock, side, quantity).await;
                let kind = RequestKind::Trade {
                    key,
                    stock,
                    side: side.into(),
                    quantity,
                };
                (kind, outcome)
            } else {
                let outcome = lookup(&http, base, &stock).await;
                (RequestKind::Lookup { stock }, outcome)
            };
            let end = Instant::now();
            let failed = outcome.is_failure();
            history.push(Request {
                client,
                frontend,
                start: start - self.origin,
                end: end - self.origin,
                kind,
                outcome,
            });
            if failed {
                // Do not spin on a dead frontend.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            i += 1;
        }
        history
    }
}

async fn trade(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    stock: &str,
    side: &str,
    quantity: u64,
) -> Outcome {
    let body = serde_json::json!({"name": stock, "quantity": quantity, "type": side});
    let sent = http
        .post(format!("{base}/orders"))
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => return Outcome::Transport(e.to_string()),
    };
    let status = response.status().as_u16();
    let body: serde_json::Value = match response.json().await {
        Ok(b) => b,
        Err(e) => return Outcome::Transport(format!("unreadable body: {e}")),
    };
    match status {
        200 => match body["data"]["transaction_number"].as_u64() {
            Some(number) => Outcome::Traded { number },
            None => Outcome::Wrong(200, body.to_string()),
        },
        409 => Outcome::Refused,
        503 => Outcome::Unavailable,
        other => Outcome::Wrong(other, body.to_string()),
    }
}

async fn lookup(http: &reqwest::Client, base: &str, stock: &str) -> Outcome {
    let response = match http.get(format!("{base}/stocks/{stock}")).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Transport(e.to_string()),
    };
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
    let body: serde_json::Value = match response.json().await {
        Ok(b) => b,
        Err(e) => return Outcome::Transport(format!("unreadable body: {e}")),
    };
    match (status, body["data"]["quantity"].as_u64(), version) {
        (200, Some(quantity), Some(version)) => Outcome::Looked { quantity, version },
        (503, _, _) => Outcome::Unavailable,
        (other, _, _) => Outcome::Wrong(other, body.to_string()),
    }
}
