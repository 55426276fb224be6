//! Stock Bazaar's measurements, one crate for every number the documents cite.
//!
//! Each subcommand of `bazaar-measure` starts real systems through the `bazaar-e2e` harness and
//! measures them; the two documents share one description of the machine and one set of
//! Markdown helpers, so their headers and tables read alike.
//!
//! - [`bench`] - `bazaar-measure bench`: the performance goals beside their floors
//!   (docs/PERFORMANCE.md).
//! - [`eval`] - `bazaar-measure eval`: the evaluation experiments (docs/EVALUATION.md and the
//!   plots in docs/eval/).
//! - [`failover`] - `bazaar-measure failover`: how long a leader kill interrupts trading.
//! - [`machine`] - what a measurement ran on, and when.
//! - [`processes`] - other processes on the machine and the services' memory.
//! - [`doc`] - the Markdown pieces both documents use.

pub mod bench;
pub mod doc;
pub mod eval;
pub mod failover;
pub mod machine;
pub mod processes;
