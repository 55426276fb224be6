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

/// One goal, judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goal {
    /// The goal as stated.
    pub goal: String,
    /// The figure measured.
    pub measured: String,
    /// The floor it is judged against, and the bound derived from it.
    pub floor: String,
    /// Met or not (None when not measured).
    pub met: Option<bool>,
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} us")
    }
}

fn rate(v: f64) -> String {
    format!("{}/s", thousands(v.round() as u64))
}

/// KiB as decimal megabytes (the unit of the memory goal).
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Results {
    /// Every goal with its figure, floor and verdict.
    pub fn goals(&self) -> Vec<Goal> {
        let f = &self.floors;
        let bare_p50 = f.http_one.run.p50_us as f64;
        let bare_rate = f.http_many.run.rate_per_s();
        let nats_p50 = f.nats.p50_us;
        let via_nats = bare_p50 + nats_p50 + 100.0;
        let mut goals = vec![
            Goal {
                goal: "Cached lookup p50 (wrk -t1 -c1) within 1.2x of the bare handler".into(),
                measured: us(self.cached_one.run.p50_us as f64),
                floor: format!("bare {} -> bound {}", us(bare_p50), us(1.2 * bare_p50)),
                met: Some(self.cached_one.run.p50_us as f64 <= 1.2 * bare_p50),
            },
            Goal {
                goal: "Cached lookup throughput (wrk -t2 -c32) at least 75% of the bare handler's"
                    .into(),
                measured: format!(
                    "{} ({:.0}%)",
                    rate(self.cached_many.run.rate_per_s()),
                    100.0 * self.cached_many.run.rate_per_s() / bare_rate
                ),
                floor: format!("bare {} -> bound {}", rate(bare_rate), rate(0.75 * bare_rate)),
                met: Some(self.cached_many.run.rate_per_s() >= 0.75 * bare_rate),
            },
            Goal {
                goal: "Uncached lookup p50 within bare handler + one NATS round trip + 100 us"
                    .into(),
                measured: us(self.uncached_one.run.p50_us as f64),
                floor: format!(
                    "{} + {} + 100 us = {}",
                    us(bare_p50),
                    us(nats_p50),
                    us(via_nats)
                ),
                met: Some(self.uncached_one.run.p50_us as f64 <= via_nats),
            },
            Goal {
                goal: format!(
                    "Order query p50 ({} orders stored) within bare handler + one NATS round trip + 100 us",
                    thousands(self.fill_small.stored)
                ),
                measured: us(self.query_small.run.p50_us as f64),
                floor: format!("bound {}", us(via_nats)),
                met: Some(self.query_small.run.p50_us as f64 <= via_nats),
            },
            self.trade_latency_goal(),
            Goal {
                goal: format!(
                    "Trade throughput, {} clients, no errors: at least 5,000 trades/s (moonshot 10,000)",
                    self.trade_many.connections
                ),
                measured: format!(
                    "{} ({} errors)",
                    rate(self.trade_many.run.rate_per_s()),
                    self.trade_many.run.failures()
                ),
                floor: format!(
                    "sequential: durable redb commits {}, synced appends {}",
                    rate(f.redb.rate_per_s),
                    rate(f.js_append.rate_per_s)
                ),
                met: Some(
                    self.trade_many.run.rate_per_s() >= 5000.0
                        && self.trade_many.run.failures() == 0,
                ),
            },
        ];
        goals.push(match &self.query_large {
            Some(large) => Goal {
                goal: format!(
                    "Order query p50 at {} stored orders within 20% of that at {}",
                    thousands(large_count(self)),
                    thousands(self.fill_small.stored)
                ),
                measured: format!(
                    "{} ({:+.0}%)",
                    us(large.run.p50_us as f64),
                    100.0 * (large.run.p50_us as f64 / self.query_small.run.p50_us as f64 - 1.0)
                ),
                floor: format!(
                    "{} at {} -> bound {}",
                    us(self.query_small.run.p50_us as f64),
                    thousands(self.fill_small.stored),
                    us(1.2 * self.query_small.run.p50_us as f64)
                ),
                met: Some(large.run.p50_us as f64 <= 1.2 * self.query_small.run.p50_us as f64),
            },
            None => not_measured("Order query p50 at 1,000,000 orders within 20% of 1,000"),
        });
        goals.push(match &self.catch_up {
            Some(c) => Goal {
                goal: format!(
                    "A replica that missed {} orders catches up in under 10 s",
                    thousands(c.missed)
                ),
                measured: format!(
                    "{:.2} s{}",
                    c.secs,
                    if c.identical {
                        ", identical hash"
                    } else {
                        ", HASH DIFFERS"
                    }
                ),
                floor: "-".into(),
                met: Some(c.secs < 10.0 && c.identical),
            },
            None => not_measured("A replica that missed 100,000 orders catches up in under 10 s"),
        });
        let worst = |m: &[Memory]| {
            m.iter()
                .filter(|m| m.service != "nats-server")
                .max_by_key(|m| m.rss_kib)
                .cloned()
        };
        if let Some(w) = worst(&self.memory_idle) {
            goals.push(Goal {
                goal: "Idle memory per service under 20 MB (after start)".into(),
                measured: format!("largest: {} {:.1} MB", w.service, mb(w.rss_kib)),
                floor: "-".into(),
                met: Some(w.rss_kib * 1024 < 20_000_000),
            });
        }
        if let Some(w) = worst(&self.memory_after) {
            goals.push(Goal {
                goal: "Idle memory per service under 20 MB (after all the load)".into(),
                measured: format!("largest: {} {:.1} MB", w.service, mb(w.rss_kib)),
                floor: "-".into(),
                met: Some(w.rss_kib * 1024 < 20_000_000),
            });
        }
        goals
    }
}

impl Results {
    /// The sum of the floors one trade must cross: the bare handler, two NATS round trips
    /// (frontend to leader, leader to catalog), one durable redb commit (the catalog) and one
    /// synced JetStream append (the log).
    pub fn trade_floor_us(&self) -> f64 {
        let f = &self.floors;
        f.http_one.run.p50_us as f64 + 2.0 * f.nats.p50_us + f.redb.p50_us + f.js_append.p50_us
    }

    fn trade_latency_goal(&self) -> Goal {
        let f = &self.floors;
        let sum = self.trade_floor_us();
        let p50 = self.trade_one.run.p50_us as f64;
        Goal {
            goal: "Trade p50, one client, every ack backed by a synced log: at most 1.5x the sum of its floors (moonshot 1.2x)".into(),
            measured: format!("{} ({:.2}x)", us(p50), p50 / sum),
            floor: format!(
                "{} + 2 x {} + {} + {} = {} -> bound {}{}",
                us(f.http_one.run.p50_us as f64),
                us(f.nats.p50_us),
                us(f.redb.p50_us),
                us(f.js_append.p50_us),
                us(sum),
                us(1.5 * sum),
                if f.broker_sync_always { "" } else { " (broker NOT syncing appends)" }
            ),
            met: Some(p50 <= 1.5 * sum && f.broker_sync_always),
        }
    }
}

fn large_count(r: &Results) -> u64 {
    r.fill_large.as_ref().map_or(0, |f| f.stored)
}

fn not_measured(goal: &str) -> Goal {
    Goal {
        goal: goal.into(),
        measured: "not measured in this run".into(),
        floor: "-".into(),
        met: None,
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
