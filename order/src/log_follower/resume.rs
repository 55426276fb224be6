//! Before following the log again, checks that the store still mirrors it: the stream must
//! reach the store's sequence and still hold, there, the message the store applied last. A
//! store that is ahead of the log (the log lost its tail) or disagrees with it (the log was
//! rewritten) is moved aside, never emptied, and rebuilt from the log.

use crate::hold::{Hold, HoldRecord};
use crate::store::{Digest, OrderStore};
use async_nats::jetstream::stream::{RawMessageError, RawMessageErrorKind, Stream};
use bazaar_nats::order_log::MESSAGE_ID_HEADER;
use std::path::PathBuf;

/// How the store fails to mirror the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// The store reached a sequence the stream does not have.
    Ahead {
        /// The stream's last sequence.
        tail: u64,
    },
    /// The stream holds another message at the store's sequence.
    Diverged {
        /// The id the store applied there.
        stored_id: String,
        /// The id the stream holds there (`None`: no id, or no message).
        log_id: Option<String>,
    },
}

impl Mismatch {
    /// The word in the set-aside file's name.
    fn tag(&self) -> &'static str {
        match self {
            Self::Ahead { .. } => "ahead",
            Self::Diverged { .. } => "diverged",
        }
    }
}

/// Why the check could not be made; retried, never acted on.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The stream message at the store's sequence could not be read.
    #[error("cannot read stream message {sequence}: {source}")]
    Unreadable {
        /// The sequence.
        sequence: u64,
        /// What the broker or the client said.
        #[source]
        source: RawMessageError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The blocking store task failed.
    #[error("order store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Whether the store, at `digest`, still mirrors `stream`, whose last sequence is `tail`.
pub(crate) async fn check(
    store: &OrderStore,
    stream: &Stream,
    digest: Digest,
    tail: u64,
) -> Result<Option<Mismatch>, ResumeError> {
    if digest.sequence > tail {
        return Ok(Some(Mismatch::Ahead { tail }));
    }
    if digest.sequence == 0 {
        return Ok(None);
    }
    let position = {
        let store = store.clone();
        bazaar_nats::blocking::run(move || store.position()).await??
    };
    let Some(stored_id) = position.last_id else {
        return Ok(None);
    };
    let log_id = match stream.get_raw_message(digest.sequence).await {
        Ok(message) => message
            .headers
            .get(MESSAGE_ID_HEADER)
            .map(|v| v.as_str().to_string()),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => None,
        Err(e) => {
            return Err(ResumeError::Unreadable {
                sequence: digest.sequence,
                source: e,
            })
        }
    };
    if log_id.as_deref() == Some(stored_id.as_str()) {
        return Ok(None);
    }
    Ok(Some(Mismatch::Diverged { stored_id, log_id }))
}

/// Moves the store aside, holds the replica while the log lacks orders the old store has, and
/// says so in an error naming both positions. Returns where the old store went.
pub(crate) async fn set_aside(
    store: &OrderStore,
    hold: &Hold,
    digest: Digest,
    tail: u64,
    mismatch: &Mismatch,
) -> Result<PathBuf, ResumeError> {
    let aside = {
        let store = store.clone();
        let tag = mismatch.tag();
        bazaar_nats::blocking::run(move || store.set_aside(tag)).await??
    };
    let why = match mismatch {
        Mismatch::Ahead { tail } => format!("the order log ends at sequence {tail}"),
        Mismatch::Diverged { stored_id, log_id } => format!(
            "the order log holds {log_id:?} at that sequence, not {stored_id:?} (log ends at {tail})"
        ),
    };
    tracing::error!(
        stored_sequence = digest.sequence,
        stored_orders = digest.count,
        log_sequence = tail,
        kept_as = %aside.display(),
        "the order store no longer mirrors the order log: it reached sequence {} with {} orders, but {why}. \
         The old store is kept as {}; a new one is rebuilt from the log, and this replica does not lead \
         until the log holds {} orders again. To re-append the orders the log lost: \
         bazaar-log-repair --store {} (docs/FAULT_TOLERANCE.md, \"When the log lost its tail\")",
        digest.sequence,
        digest.count,
        aside.display(),
        digest.count,
        aside.display(),
    );
    if digest.count > 0 {
        let record = HoldRecord {
            aside: aside.clone(),
            orders: digest.count,
            sequence: digest.sequence,
            log_sequence: tail,
        };
        if let Err(e) = hold.hold(record) {
            tracing::error!(error = %e, "cannot write the hold file; holding until restart");
        }
    }
    Ok(aside)
}
