//! Calls to the catalog and the order leader over NATS, retried until a time budget is spent.
//!
//! Every call sends the same request (for a trade: the same idempotency key) again after a
//! timeout, a "no responders", an `unavailable` reply or, for the order service, a `not_leader`
//! reply or a new leader in the lease (a request waiting on a leader that died is not waited
//! out), so a leader failover or a catalog restart costs latency, not an error. Only when the
//! budget is spent does the caller get [`BusError::Unavailable`] (HTTP 503). Final replies come
//! back as values or as the other [`BusError`] variants, which `error.rs` maps to statuses.
//!
//! `attempt` makes one request and reads its reply; `retry` paces the next one and counts it.

mod attempt;
mod retry;

use crate::leader::LeaderTracker;
use async_nats::Client;
use attempt::Attempt;
use bazaar_nats::messages::{
    encode, Order, OrderQuery, Stock, StockLookup, TradeReceipt, TradeRequest,
};
use bazaar_nats::subjects::{order_get, order_trade, STOCK_LIST, STOCK_LOOKUP};
use bazaar_nats::StockName;
use bytes::Bytes;
use retry::{count_retry, count_unavailable, log_retry, pause, BACKOFF_MIN};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How many times in a row a `not_leader` hint is followed without pausing, so two replicas
/// naming each other cannot make us spin.
const MAX_IMMEDIATE_REDIRECTS: u32 = 3;

/// A final answer other than success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The service answered `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// The service answered `rejected` (e.g. too few shares).
    #[error("{0}")]
    Rejected(String),
    /// The idempotency key was first used for a different order.
    #[error("{0}")]
    KeyReused(String),
    /// The service found the request malformed.
    #[error("{0}")]
    Invalid(String),
    /// Nobody able to answer was reached within the retry budget.
    #[error("{0}")]
    Unavailable(String),
    /// The service reported a fault, or its reply made no sense.
    #[error("{0}")]
    Internal(String),
}

/// The catalog and order clients, with their retry policy.
#[derive(Debug, Clone)]
pub struct Bus {
    client: Client,
    leader: Arc<LeaderTracker>,
    attempt_timeout: Duration,
    retry_budget: Duration,
}

impl Bus {
    /// A bus over `client`: each request waits at most `attempt_timeout`, and a call gives up
    /// with [`BusError::Unavailable`] once `retry_budget` is spent (after at least one attempt).
    pub fn new(
        client: Client,
        leader: Arc<LeaderTracker>,
        attempt_timeout: Duration,
        retry_budget: Duration,
    ) -> Self {
        Self {
            client,
            leader,
            attempt_timeout,
            retry_budget,
        }
    }

    /// Looks up one stock in the catalog.
    ///
    /// # Errors
    /// `NotFound` for an unknown stock, `Unavailable` when no catalog answered in time.
    pub async fn lookup(&self, name: &StockName) -> Result<Stock, BusError> {
        let payload = encode(&StockLookup { name: name.clone() });
        self.catalog(STOCK_LOOKUP, payload).await
    }

    /// Lists every stock in the catalog.
    ///
    /// # Errors
    /// `Unavailable` when no catalog answered in time.
    pub async fn list(&self) -> Result<Vec<Stock>, BusError> {
        self.catalog(STOCK_LIST, Bytes::new()).await
    }

    /// Sends a trade to the order leader; every retry carries the same idempotency key.
    ///
    /// # Errors
    /// `NotFound` (unknown stock), `Rejected` (too few shares), `Unavailable` (no leader in time).
    pub async fn trade(&self, trade: &TradeRequest) -> Result<TradeReceipt, BusError> {
        self.to_leader(order_trade, encode(trade)).await
    }

    /// Fetches order `number` from the order leader.
    ///
    /// # Errors
    /// `NotFound` for an unknown number, `Unavailable` when no leader answered in time.
    pub async fn order(&self, number: u64) -> Result<Order, BusError> {
        self.to_leader(order_get, encode(&OrderQuery { number }))
            .await
    }

    /// Retries a catalog request until it gets a final reply or the budget is spent.
    async fn catalog<T: DeserializeOwned>(
        &self,
        subject: &'static str,
        payload: Bytes,
    ) -> Result<T, BusError> {
        let deadline = Instant::now() + self.retry_budget;
        let mut backoff = BACKOFF_MIN;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (reason, why) = match self
                .attempt(subject.to_string(), payload.clone(), deadline)
                .await
            {
                Attempt::Done(result) => return result,
                Attempt::Retry(reason, why) => (reason, why),
                Attempt::NotLeader(_) => ("not_leader", "the catalog answered not_leader".into()),
            };
            if !pause(&mut backoff, deadline).await {
                tracing::warn!(subject, reason = %why, attempts, "catalog retry budget spent");
                count_unavailable("catalog", reason);
                return Err(BusError::Unavailable(
                    "the catalog is unavailable; try again shortly".into(),
                ));
            }
            log_retry(attempts, subject, &why);
            count_retry("catalog", reason);
        }
    }

    /// Retries a request to the order leader until it gets a final reply or the budget is spent.
    /// Follows `not_leader` hints at once; otherwise re-reads the leader key between attempts.
    async fn to_leader<T: DeserializeOwned>(
        &self,
        subject_for: fn(u32) -> String,
        payload: Bytes,
    ) -> Result<T, BusError> {
        let deadline = Instant::now() + self.retry_budget;
        let mut backoff = BACKOFF_MIN;
        let mut changes = self.leader.subscribe();
        let mut target = self.leader.current();
        let mut redirects = 0;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            if target.is_none() {
                target = self.leader.refresh().await;
            }
            let (reason, why) = match target {
                None => ("no_leader", "no order leader is known".to_string()),
                Some(id) => match self
                    .attempt_at_replica(
                        id,
                        subject_for(id),
                        payload.clone(),
                        deadline,
                        &mut changes,
                    )
                    .await
                {
                    Attempt::Done(result) => return result,
                    Attempt::NotLeader(Some(hint))
                        if hint != id && redirects < MAX_IMMEDIATE_REDIRECTS =>
                    {
                        tracing::debug!(from = id, to = hint, "following not_leader hint");
                        redirects += 1;
                        target = Some(hint);
                        if Instant::now() < deadline {
                            continue;
                        }
                        ("not_leader", format!("replica {id} is not the leader"))
                    }
                    Attempt::NotLeader(_) => {
                        ("not_leader", format!("replica {id} is not the leader"))
                    }
                    Attempt::Retry(reason, why) => (reason, format!("replica {id}: {why}")),
                },
            };
            redirects = 0;
            target = None;
            if !pause(&mut backoff, deadline).await {
                tracing::warn!(reason = %why, attempts, "order retry budget spent");
                count_unavailable("order", reason);
                return Err(BusError::Unavailable(
                    "no order leader is available; try again shortly".into(),
                ));
            }
            log_retry(attempts, "order replicas", &why);
            count_retry("order", reason);
        }
    }

    /// One request to order replica `id`, abandoned as soon as `changes` says another replica
    /// took the lease: a leader that died will never answer, and the new one can take the same
    /// request (the same idempotency key) at once. Comes back as a `not_leader` hint then.
    async fn attempt_at_replica<T: DeserializeOwned>(
        &self,
        id: u32,
        subject: String,
        payload: Bytes,
        deadline: Instant,
        changes: &mut watch::Receiver<Option<u32>>,
    ) -> Attempt<T> {
        changes.mark_unchanged();
        let replaced = async {
            loop {
                if changes.changed().await.is_err() {
                    // The tracker is gone; only the attempt itself can end this call.
                    std::future::pending::<()>().await;
                }
                if let Some(other) = *changes.borrow_and_update() {
                    if other != id {
                        return other;
                    }
                }
            }
        };
        tokio::select! {
            attempt = self.attempt(subject, payload, deadline) => attempt,
            other = replaced => {
                tracing::debug!(from = id, to = other, "the leader changed during the request; resending");
                Attempt::NotLeader(Some(other))
            }
        }
    }
}
