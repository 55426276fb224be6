//! What a refused or unanswered append means for the log, read from the broker's answer.

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::{self};

/// Why an append is not (known to be) in the log. Every case is retried by starting the term
/// again, since the stream's tail is then unknown; [`AppendError::is_fenced`] tells a term
/// another leader ended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The message the append expected is no longer the stream's last: another leader (or
    /// anything else) appended, and nothing of this append is in the log.
    #[error("the order log refused the append: {0}")]
    Fenced(#[source] PublishError),
    /// The broker looked at the append and stored nothing, for another reason.
    #[error("the order log refused the append: {0}")]
    Refused(#[source] PublishError),
    /// The append could not be sent at all.
    #[error("the order log did not confirm the append: cannot send: {0}")]
    NotSent(#[source] PublishError),
    /// No answer (broker down, ack lost): the append may or may not be in the log.
    #[error("the order log did not confirm the append: {0}")]
    Unconfirmed(#[source] PublishError),
    /// The broker confirmed something other than this append right after its predecessor.
    #[error("the order log confirmed sequence {got}, not {wanted}")]
    Unexpected {
        /// The sequence the append should have got.
        wanted: u64,
        /// The sequence the broker reported.
        got: u64,
    },
}

impl AppendError {
    /// Whether another leader moved the log's tail: this leader's term is over.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced(_))
    }

    /// Reads a failed publish: fenced, refused (known not to have landed) or unconfirmed.
    pub(super) fn from_publish(e: PublishError) -> Self {
        match e.kind() {
            PublishErrorKind::WrongLastMessageId | PublishErrorKind::WrongLastSequence => {
                Self::Fenced(e)
            }
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => Self::Unconfirmed(e),
            // Another JetStream API error: the broker looked at the message and stored nothing.
            _ if std::error::Error::source(&e)
                .is_some_and(|s| s.downcast_ref::<jetstream::Error>().is_some()) =>
            {
                Self::Refused(e)
            }
            _ => Self::Unconfirmed(e),
        }
    }
}
