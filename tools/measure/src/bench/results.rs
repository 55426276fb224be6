//! Everything one benchmark run measured, and the goals judged from it.

use super::latency::Latency;
use super::wrk::WrkRun;
use crate::machine::Machine;
use serde::{Deserialize, Serialize};

/// One wrk measurement and how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// What was measured, e.g. `cached lookup`.
    pub what: String,
    /// The request, e.g. `GET /stocks/GameStart`.
    pub request: String,
    /// wrk `-t`.
    pub threads: u32,
    /// wrk `-c`.
    pub connections: u32,
    /// wrk's figures.
    pub run: WrkRun,
}

/// The floors, measured in the same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Floors {
    /// Bare axum handler, wrk `-t1 -c1`.
    pub http_one: Measured,
    /// Bare axum handler, wrk `-t2 -c32`.
    pub http_many: Measured,
    /// Bare NATS request-reply, sequential.
    pub nats: Latency,
    /// Bare redb commit with `Durability::Immediate`, sequential.
    pub redb: Latency,
    /// Bare JetStream publish awaited until acknowledged, sequential, on the system's broker.
    #[serde(default)]
    pub js_append: Latency,
    /// Whether that broker syncs every append before acknowledging it (its `/varz` says
    /// `jetstream.config.sync_always`).
    #[serde(default)]
    pub broker_sync_always: bool,
}

/// The reference workload (bazaar-client) run for trades.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRun {
    /// Simulated clients.
    pub clients: usize,
    /// Seconds of load.
    pub load_secs: f64,
    /// Trades: latency and throughput.
    pub trade: bazaar_client::KindSummary,
    /// Lookups.
    pub lookup: bazaar_client::KindSummary,
    /// Order queries of the verification phase.
    pub order_query: bazaar_client::KindSummary,
    /// Orders acknowledged.
    pub acknowledged: u64,
    /// Acknowledged orders read back identical.
    pub verified: u64,
    /// Read back different or unknown.
    pub mismatches: u64,
}

/// Filling the log to a size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fill {
    /// Orders stored afterwards.
    pub stored: u64,
    /// Orders appended.
    pub appended: u64,
    /// Seconds to publish them.
    pub publish_secs: f64,
    /// Seconds from the first publish until every replica stored them all.
    pub materialised_secs: f64,
}

/// A replica catching up after missing orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatchUp {
    /// The replica stopped.
    pub replica: u32,
    /// Orders appended while it was down.
    pub missed: u64,
    /// Orders the log held when it was restarted.
    pub target: u64,
    /// Seconds from its restart until its digest count matched.
    pub secs: f64,
    /// Whether its hash then matched the others'.
    pub identical: bool,
}

/// One process's resident memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    /// The service, e.g. `order-2`.
    pub service: String,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Where and when.
    pub machine: Machine,
    /// The command that made it.
    pub command: String,
    /// Seconds of each wrk measurement.
    pub duration_secs: u64,
    /// The floors.
    pub floors: Floors,
    /// Cached lookup, one connection.
    pub cached_one: Measured,
    /// Cached lookup, 32 connections.
    pub cached_many: Measured,
    /// Uncached lookup, one connection.
    pub uncached_one: Measured,
    /// Uncached lookup, 32 connections (for information).
    pub uncached_many: Measured,
    /// Order query on the small history, one connection.
    pub query_small: Measured,
    /// Trades, one connection.
    pub trade_one: Measured,
    /// Trades, many connections.
    pub trade_many: Measured,
    /// The reference workload's trade run, if made.
    pub client: Option<ClientRun>,
    /// Filling to the small history.
    pub fill_small: Fill,
    /// The catch-up, if measured.
    pub catch_up: Option<CatchUp>,
    /// Filling to the large history, if made.
    pub fill_large: Option<Fill>,
    /// Order query on the large history, if measured.
    pub query_large: Option<Measured>,
    /// Memory at idle after start.
    pub memory_idle: Vec<Memory>,
    /// Memory at idle after all the load (and the large history).
    pub memory_after: Vec<Memory>,
    /// Seconds the whole run took.
    pub elapsed_secs: f64,
    /// `/proc/loadavg` at the end of the run.
    #[serde(default)]
    pub loadavg_end: String,
}

/// KiB as decimal megabytes (the unit of the memory goal).
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}
