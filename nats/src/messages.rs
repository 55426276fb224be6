//! The JSON payloads of the bus and the reply envelope of every request-reply.
//!
//! Operators read and inject these with the `nats` CLI, so they are plain JSON with
//! stable field names; docs/ARCHITECTURE.md shows an example of each.

pub mod admin;

use crate::domain::{IdempotencyKey, Quantity, Side, StockName};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The envelope of every request-reply answer on the bus: `{"status": "ok", "data": ...}` or
/// `{"status": "<kind>", "message": "..."}`. The frontend maps it to an HTTP status in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reply<T> {
    /// The request succeeded.
    Ok {
        /// The answer.
        data: T,
    },
    /// The named thing does not exist (HTTP 404).
    NotFound {
        /// What was not found.
        message: String,
    },
    /// The request was well formed but cannot be carried out, e.g. too few shares (HTTP 409).
    Rejected {
        /// Why, for the person who asked.
        message: String,
    },
    /// The idempotency key was first used for a different order (stock, side or quantity):
    /// nothing was applied or logged (HTTP 422). The message names the first order.
    KeyReused {
        /// Which order the key was first used for.
        message: String,
    },
    /// The request itself was malformed (HTTP 400).
    Invalid {
        /// What was wrong with it.
        message: String,
    },
    /// This replica is not the order leader; ask the one named, if any.
    NotLeader {
        /// The leader this replica knows of.
        leader: Option<u32>,
    },
    /// A dependency is down or the server is stepping down; the same request may be retried
    /// (HTTP 503 once the caller's retry budget is spent).
    Unavailable {
        /// What is unavailable.
        message: String,
    },
    /// An internal fault (HTTP 500).
    Error {
        /// What failed.
        message: String,
    },
}

impl<T> Reply<T> {
    /// Wraps a successful answer.
    pub fn ok(data: T) -> Self {
        Self::Ok { data }
    }

    /// A `not_found` reply.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    /// A `rejected` reply.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected {
            message: message.into(),
        }
    }

    /// A `key_reused` reply.
    pub fn key_reused(message: impl Into<String>) -> Self {
        Self::KeyReused {
            message: message.into(),
        }
    }

    /// An `invalid` reply.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    /// An `unavailable` reply.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
        }
    }

    /// An `error` reply.
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
        }
    }

    /// Re-wraps a non-`ok` reply for another payload type; `ok` is passed to `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        match self {
            Self::Ok { data } => Reply::Ok { data: f(data) },
            Self::NotFound { message } => Reply::NotFound { message },
            Self::Rejected { message } => Reply::Rejected { message },
            Self::KeyReused { message } => Reply::KeyReused { message },
            Self::Invalid { message } => Reply::Invalid { message },
            Self::NotLeader { leader } => Reply::NotLeader { leader },
            Self::Unavailable { message } => Reply::Unavailable { message },
            Self::Error { message } => Reply::Error { message },
        }
    }
}

impl<T: Serialize> Reply<T> {
    /// The reply as JSON bytes, ready to publish.
    pub fn to_bytes(&self) -> bytes::Bytes {
        encode(self)
    }
}

/// Serialises a bus payload. Our payload types cannot fail to serialise; should one ever do,
/// an `error` envelope goes out instead of a panic.
pub fn encode<T: Serialize>(value: &T) -> bytes::Bytes {
    match serde_json::to_vec(value) {
        Ok(v) => v.into(),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise a bus payload");
            br#"{"status":"error","message":"could not serialise the reply"}"#
                .to_vec()
                .into()
        }
    }
}

/// A bus payload that does not parse as the type wanted. Its text names what was wrong and is
/// fit for an `invalid` reply or a log line.
#[derive(Debug, thiserror::Error)]
#[error("malformed payload: {source}")]
pub struct DecodeError {
    /// What serde found wrong.
    #[from]
    source: serde_json::Error,
}

/// Parses a bus payload.
///
/// # Errors
/// [`DecodeError`] when the payload is not JSON of the type wanted (or breaks one of its rules).
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    Ok(serde_json::from_slice(payload)?)
}

/// Request on [`crate::subjects::STOCK_LOOKUP`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockLookup {
    /// The stock wanted.
    pub name: StockName,
}

/// A stock as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    /// Unique name.
    pub name: StockName,
    /// Price per share.
    pub price: f64,
    /// Shares available to buy.
    pub quantity: u64,
    /// Grows by one with every change to this stock; lets caches order what they see.
    pub version: u64,
}

/// A trade: sent by the frontend to the order leader on `order.replica.{id}.trade`, and by the
/// leader to the catalog on [`crate::subjects::STOCK_TRADE`]. `type` is `buy` or `sell`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TradeRequest {
    /// Makes the trade happen at most once, whatever is retried.
    pub key: IdempotencyKey,
    /// The stock traded.
    pub name: StockName,
    /// Buy or sell.
    #[serde(rename = "type")]
    pub side: Side,
    /// How many shares.
    pub quantity: Quantity,
    /// Whether the frontend minted the key for this one request (the client sent none), so
    /// that only the frontend's own retries can carry it: a trade refused before it changed
    /// anything is then not remembered. Absent means `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub minted: bool,
}

/// The catalog's answer to a trade it applied (or had applied before under the same key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeApplied {
    /// The stock traded.
    pub name: StockName,
    /// Shares available after the trade.
    pub quantity: u64,
    /// The stock's version after the trade.
    pub version: u64,
}

/// The order leader's answer to an accepted trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeReceipt {
    /// The transaction number: unique, from 0, one more for each accepted trade.
    pub transaction_number: u64,
}

/// Request on [`crate::subjects::TRADES_PENDING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingQuery {
    /// Only trades applied at least this many milliseconds ago (younger ones may still be on
    /// their way to the log through their original leader).
    pub min_age_ms: u64,
    /// At most this many trades.
    pub limit: u32,
}

/// One entry of the catalog's answer on [`crate::subjects::TRADES_PENDING`]: a trade it applied
/// that no log entry has confirmed yet, with the stock version the application produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnloggedTrade {
    /// The trade as the catalog applied it.
    pub trade: TradeRequest,
    /// The stock's version right after it.
    pub version: u64,
}

/// Published on [`crate::subjects::TRADES_CONFIRM`]: these keys are in the order log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmLogged {
    /// Idempotency keys now in the log.
    pub keys: Vec<IdempotencyKey>,
}

/// Published on [`crate::subjects::STOCK_INVALIDATE`] after every committed change to a stock.
///
/// Carries the stock's state after the change, so that live feeds (the frontend's event
/// stream) need no lookup per change. A payload from a catalog that sends only name and
/// version still parses, with `price` and `quantity` absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The stock that changed.
    pub name: StockName,
    /// Its version after the change.
    pub version: u64,
    /// Its price after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Shares available after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
}

/// One entry of the order log, the payload on [`crate::subjects::ORDERS_NEW`]. Numbers run
/// 0, 1, 2, ... in stream order, with no gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The transaction number.
    pub number: u64,
    /// The trade's idempotency key.
    pub key: IdempotencyKey,
    /// The stock traded.
    pub name: StockName,
    /// Buy or sell.
    #[serde(rename = "type")]
    pub side: Side,
    /// How many shares.
    pub quantity: Quantity,
    /// The stock's version right after the catalog applied this trade: together with the name
    /// it identifies the one application the order records, so a key reused after the
    /// catalog's retention is told apart from a retry. 0 when the record does not carry it.
    #[serde(default)]
    pub version: u64,
}

/// Published on [`crate::subjects::ORDERS_TERM`] by a new leader before its first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermStart {
    /// The replica that leads from here on.
    pub leader: u32,
    /// The KV revision of its winning `create`: the term's identity.
    pub epoch: u64,
    /// The number its first order will carry.
    pub next_number: u64,
}

/// Request on `order.replica.{id}.get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderQuery {
    /// The transaction number wanted.
    pub number: u64,
}

/// An order as clients see it (`GET /orders/{number}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The transaction number.
    pub number: u64,
    /// The stock traded.
    pub name: StockName,
    /// Buy or sell.
    #[serde(rename = "type")]
    pub side: Side,
    /// How many shares.
    pub quantity: Quantity,
}

impl From<&OrderRecord> for Order {
    fn from(r: &OrderRecord) -> Self {
        Self {
            number: r.number,
            name: r.name.clone(),
            side: r.side,
            quantity: r.quantity,
        }
    }
}

/// A replica's summary of its order history, on `order.replica.{id}.digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDigest {
    /// The replica that answered.
    pub replica: u32,
    /// How many orders it holds (numbers `0 .. count`).
    pub count: u64,
    /// A chained hash over every order in number order, hex; equal histories give equal hashes.
    pub hash: String,
    /// The stream sequence of the last log message it applied (orders, markers and skipped
    /// messages alike): the stream's last sequence minus this is how far behind it is.
    #[serde(default)]
    pub sequence: u64,
    /// Whether this replica holds the lease right now.
    pub leader: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_envelope_is_tagged_by_status() {
        let ok: Reply<TradeReceipt> = Reply::ok(TradeReceipt {
            transaction_number: 4,
        });
        assert_eq!(
            String::from_utf8(ok.to_bytes().to_vec()).unwrap(),
            r#"{"status":"ok","data":{"transaction_number":4}}"#
        );
        let nl: Reply<TradeReceipt> = Reply::NotLeader { leader: Some(3) };
        assert_eq!(
            serde_json::to_string(&nl).unwrap(),
            r#"{"status":"not_leader","leader":3}"#
        );
    }

    #[test]
    fn trade_request_uses_type_for_the_side_and_validates_fields() {
        let t: TradeRequest =
            decode(br#"{"key":"k1","name":"FishCo","type":"sell","quantity":3}"#).unwrap();
        assert_eq!(t.side, Side::Sell);
        assert_eq!(t.quantity.get(), 3);
        let err =
            decode::<TradeRequest>(br#"{"key":"k1","name":"FishCo","type":"sell","quantity":0}"#)
                .unwrap_err();
        assert!(err.to_string().contains("quantity"), "{err}");
    }

    #[test]
    fn an_invalidation_carries_the_state_and_one_without_it_still_parses() {
        let full = Invalidation {
            name: StockName::parse("FishCo").unwrap(),
            version: 7,
            price: Some(4.5),
            quantity: Some(98),
        };
        assert_eq!(
            String::from_utf8(encode(&full).to_vec()).unwrap(),
            r#"{"name":"FishCo","version":7,"price":4.5,"quantity":98}"#
        );
        let old: Invalidation = decode(br#"{"name":"FishCo","version":7}"#).unwrap();
        assert_eq!((old.price, old.quantity), (None, None));
        assert_eq!(old.version, 7);
    }
}
