//! One message of the order stream as the store takes it: an order, a term marker, or
//! something that is neither and is skipped.
//!
//! Any client allowed to publish on the order subjects can put anything there, so nothing is
//! trusted: a message is decoded here, and `store` decides from the log's own history whether
//! it continues the log (an order of the current term with the next number, or a marker that
//! starts a term at the current count) or is skipped and reported.

use async_nats::HeaderMap;
use bazaar_nats::messages::{OrderRecord, TermStart};
use bazaar_nats::order_log::{EPOCH_HEADER, MESSAGE_ID_HEADER};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_TERM};

/// What one message of the order stream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// An order on `orders.new`, with the term epoch its [`EPOCH_HEADER`] names.
    Order {
        /// The record.
        record: OrderRecord,
        /// The epoch of the term it claims to belong to (`None` when the header is missing
        /// or not a number).
        epoch: Option<u64>,
    },
    /// A leader's term marker on `orders.term`.
    Term(TermStart),
    /// Something that is not a valid log message: skipped, reason given.
    Void(String),
}

/// One message of the order stream.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Its stream sequence (1-based, contiguous over the whole stream).
    pub sequence: u64,
    /// Its message id ([`MESSAGE_ID_HEADER`]), if it has one: the store remembers the last one to check, when it
    /// resumes, that the stream still holds the message it stopped at.
    pub message_id: Option<String>,
    /// What it holds.
    pub kind: EntryKind,
    /// The payload as published; the digest chains over the orders' payloads.
    pub raw: bytes::Bytes,
}

impl LogEntry {
    /// Decodes a message found on `subject` at stream `sequence`.
    pub fn decode(
        subject: &str,
        sequence: u64,
        headers: Option<&HeaderMap>,
        raw: bytes::Bytes,
    ) -> Self {
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        let kind = if subject == ORDERS_NEW {
            match serde_json::from_slice::<OrderRecord>(&raw) {
                Ok(record) => EntryKind::Order {
                    record,
                    epoch: header(EPOCH_HEADER).and_then(|v| v.parse().ok()),
                },
                Err(e) => EntryKind::Void(format!("is not an order record: {e}")),
            }
        } else if subject == ORDERS_TERM {
            match serde_json::from_slice::<TermStart>(&raw) {
                Ok(marker) => EntryKind::Term(marker),
                Err(e) => EntryKind::Void(format!("is not a term marker: {e}")),
            }
        } else {
            EntryKind::Void(format!("has an unknown subject {subject}"))
        };
        Self {
            sequence,
            message_id: header(MESSAGE_ID_HEADER),
            kind,
            raw,
        }
    }
}
