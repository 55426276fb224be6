//! Stock Bazaar's performance benchmark: the issue 4 goals measured beside their floors.
//!
//! [`run::run`] starts the real system from release binaries (through the `bazaar-e2e` harness),
//! measures the floors (a bare axum handler hit by wrk, a bare NATS request-reply, a bare durable
//! redb commit) and then the system (wrk for lookups, order queries and trades, `bazaar-client`
//! for the reference workload, direct log appends for the scale figures), and
//! [`doc::render`] turns the [`results::Results`] into docs/PERFORMANCE.md.
//!
//! - [`config`] - the command line.
//! - [`bare`] - the bare axum handler (the HTTP floor), served by `bazaar-bench bare-http`.
//! - [`floors`] - the NATS and redb floors.
//! - [`latency`] - HDR latency summaries.
//! - [`wrk`] - running wrk with the Lua scripts in `lua/` and reading its figures.
//! - [`order_log`] - filling the order log fast with valid records.
//! - [`machine`] - the machine, background load, process memory.
//! - [`results`] - what a run measured and the goals judged from it.
//! - [`run`] - the run itself.
//! - [`doc`] - the document.

pub mod bare;
pub mod config;
pub mod doc;
pub mod floors;
pub mod latency;
pub mod machine;
pub mod order_log;
pub mod results;
pub mod run;
pub mod wrk;

pub use config::{Cli, Config, Helper};
