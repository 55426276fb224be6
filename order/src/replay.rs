//! Reads the whole order log the way every replica does: replays it from the first message
//! into a scratch store, so what counts as an order (and what is skipped) is decided by the
//! same rules. Operator tools and checkers use it instead of trusting each message.

use crate::log_follower::LOG_MESSAGES_PER_STORE_WRITE;
use crate::store::{Commit, LogEntry, OrderStore, StoreError};
use async_nats::jetstream::consumer::{pull::OrderedError, StreamError};
use async_nats::jetstream::context::GetStreamError;
use async_nats::jetstream::stream::ConsumerError;
use async_nats::jetstream::{self, consumer};
use bazaar_nats::blocking;
use bazaar_nats::messages::OrderRecord;
use bazaar_nats::subjects::{ORDERS_ALL, ORDERS_STREAM};
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;

/// Longest wait for the next messages before the replay gives up.
const NEXT_WAIT: Duration = Duration::from_secs(10);

/// Why the log could not be replayed. Nothing is changed by a failed replay, so every case may
/// be tried again; the variant says what to look at first.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The stream could not be looked up.
    #[error("cannot read the order log: {0}")]
    Stream(#[from] GetStreamError),
    /// The consumer could not be made.
    #[error("cannot read the order log: {0}")]
    Consumer(#[from] ConsumerError),
    /// The consumer's messages could not be asked for.
    #[error("cannot read the order log: {0}")]
    Messages(#[from] StreamError),
    /// The consumer failed while delivering.
    #[error("cannot read the order log: {0}")]
    Delivery(#[from] OrderedError),
    /// A delivered message carried no stream sequence.
    #[error("cannot read the order log: {0}")]
    MessageInfo(#[source] async_nats::Error),
    /// No message came for [`NEXT_WAIT`] before the log's last sequence was reached.
    #[error("cannot read the order log: no message for {} s", NEXT_WAIT.as_secs())]
    Stalled,
    /// The consumer ended before the log's last sequence.
    #[error("cannot read the order log: the consumer ended")]
    ConsumerEnded,
    /// The scratch store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking scratch store task failed.
    #[error("order store task failed: {0}")]
    StoreTask(#[from] tokio::task::JoinError),
    /// The scratch store holds an order that does not parse.
    #[error("the replayed store holds a corrupt order: {0}")]
    Corrupt(#[from] serde_json::Error),
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
        let raw = blocking::run(move || store.raw_orders(0, usize::MAX)).await??;
        raw.iter().map(|r| Ok(serde_json::from_slice(r)?)).collect()
    }
}

/// Replays the stream `ORDERS` up to its current last sequence into a new store in `scratch`.
///
/// # Errors
/// See [`ReplayError`].
pub async fn replay(js: &jetstream::Context, scratch: &Path) -> Result<Replayed, ReplayError> {
    let path = scratch.join("log-replay.redb");
    let store = blocking::run(move || OrderStore::open(&path)).await??;
    let stream = js.get_stream(ORDERS_STREAM).await?;
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
        .await?;
    let mut messages = consumer
        .messages()
        .await?
        .ready_chunks(LOG_MESSAGES_PER_STORE_WRITE);
    let mut reached = 0;
    while reached < last_sequence {
        let batch = tokio::time::timeout(NEXT_WAIT, messages.next())
            .await
            .map_err(|_| ReplayError::Stalled)?
            .ok_or(ReplayError::ConsumerEnded)?;
        let entries = entries_up_to(batch, last_sequence, &mut reached)?;
        let store = replayed.store.clone();
        let appended = blocking::run(move || store.append(&entries, Commit::Lazy)).await??;
        replayed.terms += appended.terms;
        replayed.skipped.extend(appended.skipped);
    }
    Ok(replayed)
}

/// Decodes the messages of `batch` up to stream sequence `last`, recording in `reached` the
/// sequence of the last one taken.
fn entries_up_to(
    batch: Vec<Result<jetstream::Message, OrderedError>>,
    last: u64,
    reached: &mut u64,
) -> Result<Vec<LogEntry>, ReplayError> {
    let mut entries = Vec::with_capacity(batch.len());
    for message in batch {
        let message = message?;
        let sequence = message
            .info()
            .map_err(ReplayError::MessageInfo)?
            .stream_sequence;
        if sequence > last {
            break;
        }
        *reached = sequence;
        entries.push(LogEntry::decode(
            message.subject.as_str(),
            sequence,
            message.headers.as_ref(),
            message.payload.clone(),
        ));
    }
    Ok(entries)
}
