//! What the clients saw and what the injector did, with times relative to the run's start:
//! the raw material the invariant checks read.

use serde::Serialize;
use std::time::Duration;

/// One HTTP request a client made.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    /// Which client sent it.
    pub client: usize,
    /// Which frontend it went to.
    pub frontend: usize,
    /// When it was sent.
    pub start: Duration,
    /// When its answer (or failure) came.
    pub end: Duration,
    /// What was asked.
    pub kind: RequestKind,
    /// What came back.
    pub outcome: Outcome,
}

/// The two request types of the workload.
#[derive(Debug, Clone, Serialize)]
pub enum RequestKind {
    /// `GET /stocks/{stock}`.
    Lookup {
        /// The stock looked up.
        stock: String,
    },
    /// `POST /orders` with an `Idempotency-Key`.
    Trade {
        /// The idempotency key the client chose.
        key: String,
        /// The stock traded.
        stock: String,
        /// `buy` or `sell`.
        side: String,
        /// How many shares.
        quantity: u64,
    },
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// A lookup answered 200.
    Looked {
        /// The quantity served.
        quantity: u64,
        /// The version from the `ETag`.
        version: u64,
    },
    /// A trade answered 200 with this transaction number.
    Traded {
        /// The transaction number.
        number: u64,
    },
    /// A trade refused with 409 (not enough shares): a correct answer.
    Refused,
    /// 503: a dependency was unavailable for the whole retry budget.
    Unavailable,
    /// The connection failed (e.g. the frontend was killed).
    Transport(String),
    /// Any other status: never correct here.
    Wrong(u16, String),
}

impl Outcome {
    /// Whether this is a failure a client would notice.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Unavailable | Self::Transport(_) | Self::Wrong(..)
        )
    }
}

/// A part of the system that a fault takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Component {
    /// The broker.
    Nats,
    /// The catalog.
    Catalog,
    /// Order replica with this id (killed or frozen).
    Replica(u32),
    /// Frontend with this index.
    Frontend(usize),
}

/// An interval during which a component was down (killed, frozen or restarting).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Outage {
    /// What was down.
    pub component: Component,
    /// From when.
    pub from: Duration,
    /// Until it was started again (or thawed).
    pub to: Duration,
}

/// One injected fault, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// The kind, e.g. `kill-leader`.
    pub kind: &'static str,
    /// What it hit, e.g. `order-3`.
    pub target: String,
    /// When it was injected.
    pub at: Duration,
    /// How long until it was healed.
    pub held: Duration,
}

/// An order replica's return to service: from its restart (or thaw) until its store held every
/// order the log held when it came back.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Recovery {
    /// The replica's id.
    pub replica: u32,
    /// When it was started again (or thawed).
    pub from: Duration,
    /// When it had caught up, or the end of the run if it had not.
    pub to: Duration,
    /// Whether it caught up before the run ended.
    pub caught_up: bool,
}
