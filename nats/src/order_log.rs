//! The order log's wire format: the headers its messages carry and the message ids they are
//! published under.
//!
//! The leader writes these, every replica and the operator's tools read them back, and the
//! fencing of appends depends on them matching exactly, so they are defined once, here.
//!
//! - Every message carries a [`MESSAGE_ID_HEADER`] unique in the log: [`order_message_id`] for
//!   an order on `orders.new`, [`term_message_id`] for a term marker on `orders.term`.
//! - Every order of a term expects, in [`EXPECTED_LAST_MESSAGE_ID_HEADER`], the id of the
//!   message right before it, so the broker refuses it once anything else landed in between.
//!   A term marker expects the stream's last sequence instead
//!   ([`EXPECTED_LAST_SEQUENCE_HEADER`]), since it follows whatever the log holds.
//! - Every order names its term in [`EPOCH_HEADER`], which the replicas check against the
//!   term markers.

/// JetStream's header for a message's id; the broker drops a repeat inside the duplicate
/// window and remembers the last one for [`EXPECTED_LAST_MESSAGE_ID_HEADER`].
pub const MESSAGE_ID_HEADER: &str = "Nats-Msg-Id";

/// JetStream's header that makes a publish land only if the stream's last message carries
/// this id.
pub const EXPECTED_LAST_MESSAGE_ID_HEADER: &str = "Nats-Expected-Last-Msg-Id";

/// JetStream's header that makes a publish land only if the stream's last sequence is this.
pub const EXPECTED_LAST_SEQUENCE_HEADER: &str = "Nats-Expected-Last-Sequence";

/// The project's header carrying the leader's term epoch on every order.
pub const EPOCH_HEADER: &str = "Bazaar-Epoch";

/// The message id of order `number` appended in the term `epoch`: unique in the log, since a
/// number is appended at most once per term and terms have distinct epochs.
pub fn order_message_id(epoch: u64, number: u64) -> String {
    format!("order-{epoch}-{number}")
}

/// The message id of the term marker of `epoch` placed right after stream sequence `after`:
/// unique in the log, since the marker is fenced on that sequence and sequences only grow.
pub fn term_message_id(epoch: u64, after: u64) -> String {
    format!("term-{epoch}-{after}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_are_the_ones_the_client_library_sets() {
        assert_eq!(
            MESSAGE_ID_HEADER,
            async_nats::header::NATS_MESSAGE_ID.to_string()
        );
        assert_eq!(
            EXPECTED_LAST_MESSAGE_ID_HEADER,
            async_nats::header::NATS_EXPECTED_LAST_MESSAGE_ID.to_string()
        );
        assert_eq!(
            EXPECTED_LAST_SEQUENCE_HEADER,
            async_nats::header::NATS_EXPECTED_LAST_SEQUENCE.to_string()
        );
    }

    #[test]
    fn order_and_term_ids_never_collide() {
        assert_ne!(order_message_id(3, 4), term_message_id(3, 4));
        assert_eq!(order_message_id(3, 4), "order-3-4");
        assert_eq!(term_message_id(3, 4), "term-3-4");
    }
}
