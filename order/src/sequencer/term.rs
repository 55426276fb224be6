//! Starting a leadership term on the log: read the tail, wait until the store is there, and
//! append the term marker that fences every earlier leader.

use crate::log_append::{self, AppendError, Tail};
use crate::store::{Digest, Logged};
use async_nats::jetstream;
use async_nats::jetstream::context::GetStreamError;
use bazaar_nats::messages::TermStart;
use bazaar_nats::subjects::ORDERS_STREAM;
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
#[derive(Debug, thiserror::Error)]
pub enum TermError {
    /// The stream's tail could not be read.
    #[error("cannot read the order log: {0}")]
    LogUnreadable(#[source] GetStreamError),
    /// The store has not reached the stream's tail within the wait.
    #[error("store is still catching up to sequence {0}")]
    CatchingUp(u64),
    /// The store is beyond the stream's tail: it is about to be set aside and rebuilt.
    #[error(
        "store (sequence {stored_sequence}) is beyond the log's tail (sequence {log_sequence})"
    )]
    Ahead {
        /// The store's last sequence.
        stored_sequence: u64,
        /// The stream's last sequence.
        log_sequence: u64,
    },
    /// The marker was not stored (another leader appended first, or the broker failed).
    #[error("term marker not appended: {0}")]
    MarkerRefused(#[source] AppendError),
    /// The log follower is gone (the replica is stopping).
    #[error("the log follower stopped")]
    FollowerStopped,
}

/// Starts term `epoch` of replica `leader`: reads the stream's tail, waits until the store is
/// exactly there, then appends the term marker, fenced on that tail. The next number is the
/// store's count: the store applied every message of the log by the rules every replica
/// applies, so its count is one past the log's last valid order, whatever else (garbage,
/// forged or out-of-step records) the log holds.
pub(crate) async fn begin(
    js: &jetstream::Context,
    stored: &watch::Receiver<Digest>,
    leader: u32,
    epoch: u64,
) -> Result<Term, TermError> {
    let last = read_tail(js).await?;
    let mut stored = stored.clone();
    let digest = *tokio::time::timeout(CATCH_UP_WAIT, stored.wait_for(|d| d.sequence >= last))
        .await
        .map_err(|_| TermError::CatchingUp(last))?
        .map_err(|_| TermError::FollowerStopped)?;
    if digest.sequence != last {
        return Err(TermError::Ahead {
            stored_sequence: digest.sequence,
            log_sequence: last,
        });
    }
    let next = digest.count;
    let marker = TermStart {
        leader,
        epoch,
        next_number: next,
    };
    let tail = log_append::append_marker(js, &marker, last)
        .await
        .map_err(TermError::MarkerRefused)?;
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

/// The stream's last sequence.
async fn read_tail(js: &jetstream::Context) -> Result<u64, TermError> {
    let stream = js
        .get_stream(ORDERS_STREAM)
        .await
        .map_err(TermError::LogUnreadable)?;
    Ok(stream.cached_info().state.last_sequence)
}
