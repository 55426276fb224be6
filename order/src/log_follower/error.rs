//! Why one consumer of the order log ended: every case makes the follower build a new consumer
//! from the store's sequence, and the variant says what made it restart.

use super::resume::ResumeError;
use crate::store::StoreError;
use async_nats::jetstream::consumer::pull::OrderedError;
use async_nats::jetstream::consumer::StreamError;
use async_nats::jetstream::context::GetStreamError;
use async_nats::jetstream::stream::ConsumerError;

/// Why the follower is making its consumer again.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The store no longer mirrored the log and was set aside: the log is replayed from its
    /// first message into a new store.
    #[error("store set aside; replaying the log from the start")]
    SetAside,
    /// The client reconnected to NATS, so the consumer may have missed messages.
    #[error("reconnected to NATS")]
    Reconnected,
    /// The consumer's message stream ended.
    #[error("order log consumer closed")]
    ConsumerClosed,
    /// The log has messages past the store but the consumer delivered none for a while.
    #[error("consumer stalled behind the stream (last {last})")]
    Stalled {
        /// The stream's last sequence.
        last: u64,
    },
    /// The store could not be checked against the log before following it.
    #[error(transparent)]
    Resume(#[from] ResumeError),
    /// The store failed to take a batch.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking store task failed.
    #[error("order store task failed: {0}")]
    StoreTask(#[from] tokio::task::JoinError),
    /// The stream could not be looked up.
    #[error("cannot read the order stream: {0}")]
    Stream(#[from] GetStreamError),
    /// The consumer could not be made.
    #[error("cannot make the order log consumer: {0}")]
    Consumer(#[from] ConsumerError),
    /// The consumer's messages could not be asked for.
    #[error("cannot consume the order log: {0}")]
    Messages(#[from] StreamError),
    /// The consumer failed while delivering.
    #[error("order log consumer failed: {0}")]
    Delivery(#[from] OrderedError),
    /// A delivered message carried no stream sequence.
    #[error("order log message without its stream sequence: {0}")]
    MessageInfo(#[source] async_nats::Error),
}
