//! Reads the whole order log the way every replica does: replays it from the first message
//! into a scratch store, so what counts as an order (and what is skipped) is decided by the
//! same rules. Operator tools and checkers use it instead of trusting each message.

use crate::store::{Commit, LogEntry, OrderStore, StoreError};
use async_nats::jetstream::{self, consumer};
use bazaar_nats::blocking;
use bazaar_nats::messages::OrderRecord;
use bazaar_nats::subjects::{ORDERS_ALL, ORDERS_STREAM};
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;

/// Most messages applied per scratch commit.
const BATCH: usize = 2048;
/// Longest wait for the next messages before the replay gives up.
const NEXT_WAIT: Duration = Duration::from_secs(10);

/// Why the log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The stream or its consumer failed.
    #[error("cannot read the order log: {0}")]
    Log(String),
    /// The scratch store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The log as the replicas see it.
#[derive(Debug)]
pub struct Replayed {
    /// A store holding exactly the log's valid orders.
    pub store: OrderStore,
    /// The stream's last sequence when the replay started (and where it stopped).
    pub last_sequence: u64,
    /// Every message that was skipped, with its sequence and why.
    pub skipped: Vec<(u64, String)>,
    /// How many term markers started a term.
    pub terms: u64,
}

impl Replayed {
    /// Every valid order, in number order.
    ///
    /// # Errors
    /// [`ReplayError::Store`] when the scratch store cannot be read.
    pub async fn orders(&self) -> Result<Vec<OrderRecord>, ReplayError> {
        let store = self.store.clone();
        let raw = blocking::run(move || store.raw_orders(0, usize::MAX))
            .await
            .map_err(|e| ReplayError::Log(e.to_string()))??;
        raw.iter()
            .map(|r| serde_json::from_slice(r).map_err(|e| ReplayError::Log(e.to_string())))
            .collect()
    }
}

/// Replays the stream `ORDERS` up to its current last sequence into a new store in `scratch`.
///
/// # Errors
/// See [`ReplayError`].
pub async fn replay(js: &jetstream::Context, scratch: &Path) -> Result<Replayed, ReplayError> {
    let fail = |e: &dyn std::fmt::Display| ReplayError::Log(e.to_string());
    let path = scratch.join("log-replay.redb");
    let store = blocking::run(move || OrderStore::open(&path))
        .await
        .map_err(|e| fail(&e))??;
    let stream = js.get_stream(ORDERS_STREAM).await.map_err(|e| fail(&e))?;
    let last_sequence = stream.cached_info().state.last_sequence;
    let mut replayed = Replayed {
        store,
        last_sequence,
        skipped: Vec::new(),
        terms: 0,
    };
    if last_sequence == 0 {
        return Ok(replayed);
    }
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: ORDERS_ALL.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|e| fail(&e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| fail(&e))?
        .ready_chunks(BATCH);
    let mut reached = 0;
    while reached < last_sequence {
        let batch = tokio::time::timeout(NEXT_WAIT, messages.next())
            .await
            .map_err(|_| fail(&"no message for 10 s"))?
            .ok_or_else(|| fail(&"the consumer ended"))?;
        let mut entries = Vec::with_capacity(batch.len());
        for message in batch {
            let message = message.map_err(|e| fail(&e))?;
            let sequence = message.info().map_err(|e| fail(&e))?.stream_sequence;
            if sequence > last_sequence {
                break;
            }
            reached = sequence;
            entries.push(LogEntry::decode(
                message.subject.as_str(),
                sequence,
                message.headers.as_ref(),
                message.payload.clone(),
            ));
        }
        let store = replayed.store.clone();
        let appended = blocking::run(move || store.append(&entries, Commit::Lazy))
            .await
            .map_err(|e| fail(&e))??;
        replayed.terms += appended.terms;
        replayed.skipped.extend(appended.skipped);
    }
    Ok(replayed)
}
