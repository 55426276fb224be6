//! The order leader's calls to the catalog: apply a trade, list trades the log lacks.

use bazaar_nats::messages::{
    decode, encode, PendingQuery, Reply, TradeApplied, TradeRequest, UnloggedTrade,
};
use bazaar_nats::subjects::{STOCK_TRADE, TRADES_PENDING};
use std::time::Duration;

/// Talks to the catalog over request-reply.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    client: async_nats::Client,
    timeout: Duration,
}

impl CatalogClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(client: async_nats::Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    /// Has the catalog apply `trade` (at most once per key). Transport failures come back as
    /// `unavailable`, so the caller can retry with the same key.
    pub async fn apply(&self, trade: &TradeRequest) -> Reply<TradeApplied> {
        self.request(STOCK_TRADE, encode(trade)).await
    }

    /// Trades the catalog applied at least `min_age` ago that no log entry has confirmed.
    pub async fn pending(&self, min_age: Duration, limit: u32) -> Reply<Vec<UnloggedTrade>> {
        let query = PendingQuery {
            min_age_ms: u64::try_from(min_age.as_millis()).unwrap_or(u64::MAX),
            limit,
        };
        self.request(TRADES_PENDING, encode(&query)).await
    }

    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        subject: &'static str,
        payload: bytes::Bytes,
    ) -> Reply<T> {
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(self.timeout));
        match self.client.send_request(subject, request).await {
            Ok(message) => decode::<Reply<T>>(&message.payload)
                .unwrap_or_else(|e| Reply::error(format!("catalog sent a bad reply: {e}"))),
            Err(e) => Reply::unavailable(format!("catalog unavailable: {e}")),
        }
    }
}
