//! `bazaar-client`: the users' reference workload against a Stock Bazaar frontend.
//!
//! Each of `clients` simulated clients, on its own keep-alive connection, repeats: pick a random
//! stock, look it up, and with probability `p` buy or sell 1 to 5 shares of it. Every
//! acknowledged order is remembered and, at the end, fetched back with `GET /orders/{n}` and
//! compared. Latencies go into one HDR histogram per request type.
//!
//! Call [`run`] with a [`Workload`] to get a [`Report`] in-process (the evaluation does), or use
//! the `bazaar-client` binary.
//!
//! - [`config`] - the workload's parameters and the binary's flags.
//! - [`workload`] - the seeded random choices of each client.
//! - [`stats`] - per-type histograms and outcome counts, mergeable across clients.
//! - [`report`] - the report, as a table, JSON or CSV.
//! - [`runner`] - the run itself: load phase, then verification phase.
//! - `session` - one simulated client's connection and timed requests.

pub mod config;
pub mod report;
pub mod runner;
mod session;
pub mod stats;
pub mod workload;

pub use config::{Config, Workload};
pub use report::Report;
pub use runner::{fetch_stock_names, run, RunError};
pub use session::Order;
pub use stats::{Kind, KindSummary, Sample};
