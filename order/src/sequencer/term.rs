//! Starting a leadership term on the log: read the tail, wait until the store mirrors it, and
//! append the term marker that fences every earlier leader.

use crate::log_append::{term_message_id, Tail};
use crate::store::{Digest, Logged};
use async_nats::jetstream::{self, message::PublishMessage, stream::LastRawMessageErrorKind};
use bazaar_nats::messages::{encode, OrderRecord, TermStart};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM, ORDERS_TERM};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// How long to wait for the store to catch up with the stream when a term (re)starts.
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);

/// The state of one leadership term.
#[derive(Debug)]
pub(crate) struct Term {
    /// The KV revision of the lease win: the term's identity.
    pub(crate) epoch: u64,
    /// The next transaction number.
    pub(crate) next: u64,
    /// The stream's last message, as far as this leader appended.
    pub(crate) tail: Tail,
    /// Keys logged during this term that the store may not hold yet.
    pub(crate) recent: HashMap<String, Logged>,
}

/// Why a term could not start (yet). Every case is retried by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermError {
    /// The stream or its last order could not be read.
    #[error("cannot read the order log: {0}")]
    LogUnreadable(String),
    /// The store has not reached the stream's tail within the wait.
    #[error("store is still catching up to sequence {0}")]
    CatchingUp(u64),
    /// The store does not mirror the log: numbering from it could repeat or skip a number.
    #[error("store (sequence {stored_sequence}, {stored_count} orders) does not match the log (sequence {log_sequence}, {log_count} orders)")]
    Mismatch {
        /// The store's last sequence.
        stored_sequence: u64,
        /// The store's order count.
        stored_count: u64,
        /// The stream's last sequence.
        log_sequence: u64,
        /// One past the log's last order number.
        log_count: u64,
    },
    /// The marker was not stored (another leader appended first, or the broker failed).
    #[error("term marker not appended: {0}")]
    MarkerRefused(String),
    /// The log follower is gone (the replica is stopping).
    #[error("the log follower stopped")]
    FollowerStopped,
}

/// Starts term `epoch` of replica `leader`: reads the stream's tail and its last order, waits
/// until the store holds all of it and agrees with it, then appends the term marker, fenced on
/// that tail. The next number comes from the log itself.
pub(crate) async fn begin(
    js: &jetstream::Context,
    stored: &watch::Receiver<Digest>,
    leader: u32,
    epoch: u64,
) -> Result<Term, TermError> {
    let (last, next) = read_tail(js).await?;
    let mut stored = stored.clone();
    let digest = *tokio::time::timeout(CATCH_UP_WAIT, stored.wait_for(|d| d.sequence >= last))
        .await
        .map_err(|_| TermError::CatchingUp(last))?
        .map_err(|_| TermError::FollowerStopped)?;
    if digest.sequence != last || digest.count != next {
        return Err(TermError::Mismatch {
            stored_sequence: digest.sequence,
            stored_count: digest.count,
            log_sequence: last,
            log_count: next,
        });
    }
    let marker = TermStart {
        leader,
        epoch,
        next_number: next,
    };
    let tail = append_marker(js, &marker, last).await?;
    tracing::info!(
        epoch,
        next,
        sequence = tail.sequence,
        "term started: appending to the order log"
    );
    Ok(Term {
        epoch,
        next,
        tail,
        recent: HashMap::new(),
    })
}

/// The stream's last sequence, and one past the number of its last order.
async fn read_tail(js: &jetstream::Context) -> Result<(u64, u64), TermError> {
    let unreadable = |e: &dyn std::fmt::Display| TermError::LogUnreadable(e.to_string());
    let stream = js
        .get_stream(ORDERS_STREAM)
        .await
        .map_err(|e| unreadable(&e))?;
    let last = stream.cached_info().state.last_sequence;
    let next = match stream.get_last_raw_message_by_subject(ORDERS_NEW).await {
        Ok(message) => serde_json::from_slice::<OrderRecord>(&message.payload)
            .map(|r| r.number + 1)
            .map_err(|e| unreadable(&format!("its last order is unreadable: {e}")))?,
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => 0,
        Err(e) => return Err(unreadable(&e)),
    };
    Ok((last, next))
}

/// Appends `marker` right after sequence `last`; refused unless `last` is still the tail.
async fn append_marker(
    js: &jetstream::Context,
    marker: &TermStart,
    last: u64,
) -> Result<Tail, TermError> {
    let refused = |e: &dyn std::fmt::Display| TermError::MarkerRefused(e.to_string());
    let message_id = term_message_id(marker.epoch, last);
    let message = PublishMessage::build()
        .payload(encode(marker))
        .message_id(message_id.as_str())
        .expected_last_sequence(last);
    let ack = js
        .send_publish(ORDERS_TERM, message)
        .await
        .map_err(|e| refused(&e))?
        .await
        .map_err(|e| refused(&e))?;
    Ok(Tail {
        message_id,
        sequence: ack.sequence,
    })
}
