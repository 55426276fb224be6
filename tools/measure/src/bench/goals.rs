//! The performance goals of issue 4, each judged from one run's [`Results`] against the floors
//! measured in the same run.

use super::results::{mb, Memory, Results};
use crate::doc::thousands;
use serde::{Deserialize, Serialize};

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

impl Results {
    /// Every goal with its figure, floor and verdict.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = self.lookup_goals();
        goals.push(self.trade_latency_goal());
        goals.push(self.trade_throughput_goal());
        goals.push(self.large_history_goal());
        goals.push(self.catch_up_goal());
        goals.extend(self.memory_goals());
        goals
    }

    /// The sum of the floors one trade must cross: the bare handler, two NATS round trips
    /// (frontend to leader, leader to catalog), one durable redb commit (the catalog) and one
    /// synced JetStream append (the log).
    pub fn trade_floor_us(&self) -> f64 {
        let f = &self.floors;
        f.http_one.run.p50_us as f64 + 2.0 * f.nats.p50_us + f.redb.p50_us + f.js_append.p50_us
    }

    /// Cached and uncached lookups and the small-history order query against the bare handler
    /// (plus one NATS round trip where the answer needs one).
    fn lookup_goals(&self) -> Vec<Goal> {
        let f = &self.floors;
        let bare_p50 = f.http_one.run.p50_us as f64;
        let bare_rate = f.http_many.run.rate_per_s();
        let nats_p50 = f.nats.p50_us;
        let via_nats = bare_p50 + nats_p50 + 100.0;
        vec![
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
        ]
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

    fn trade_throughput_goal(&self) -> Goal {
        let f = &self.floors;
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
                self.trade_many.run.rate_per_s() >= 5000.0 && self.trade_many.run.failures() == 0,
            ),
        }
    }

    fn large_history_goal(&self) -> Goal {
        let Some(large) = &self.query_large else {
            return not_measured("Order query p50 at 1,000,000 orders within 20% of 1,000");
        };
        let small_p50 = self.query_small.run.p50_us as f64;
        Goal {
            goal: format!(
                "Order query p50 at {} stored orders within 20% of that at {}",
                thousands(self.fill_large.as_ref().map_or(0, |f| f.stored)),
                thousands(self.fill_small.stored)
            ),
            measured: format!(
                "{} ({:+.0}%)",
                us(large.run.p50_us as f64),
                100.0 * (large.run.p50_us as f64 / small_p50 - 1.0)
            ),
            floor: format!(
                "{} at {} -> bound {}",
                us(small_p50),
                thousands(self.fill_small.stored),
                us(1.2 * small_p50)
            ),
            met: Some(large.run.p50_us as f64 <= 1.2 * small_p50),
        }
    }

    fn catch_up_goal(&self) -> Goal {
        let Some(c) = &self.catch_up else {
            return not_measured("A replica that missed 100,000 orders catches up in under 10 s");
        };
        Goal {
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
        }
    }

    /// The largest service (nats-server aside) idle after start, and again after all the load.
    fn memory_goals(&self) -> Vec<Goal> {
        [
            ("after start", &self.memory_idle),
            ("after all the load", &self.memory_after),
        ]
        .into_iter()
        .filter_map(|(when, memory)| {
            let w = largest_service(memory)?;
            Some(Goal {
                goal: format!("Idle memory per service under 20 MB ({when})"),
                measured: format!("largest: {} {:.1} MB", w.service, mb(w.rss_kib)),
                floor: "-".into(),
                met: Some(w.rss_kib * 1024 < 20_000_000),
            })
        })
        .collect()
    }
}

fn largest_service(memory: &[Memory]) -> Option<&Memory> {
    memory
        .iter()
        .filter(|m| m.service != "nats-server")
        .max_by_key(|m| m.rss_kib)
}

fn not_measured(goal: &str) -> Goal {
    Goal {
        goal: goal.into(),
        measured: "not measured in this run".into(),
        floor: "-".into(),
        met: None,
    }
}
