//! Stock Bazaar order service: one replica of the replicated order log.
//!
//! Three replicas run; one leads. The leader takes trades over NATS request-reply, has the
//! catalog apply each one (at most once per idempotency key), appends it to the JetStream order
//! log (fenced by expected sequence) and replies with its transaction number. Every replica, the
//! leader included, materialises the log into its own redb file and answers order queries from it.
//!
//! Modules:
//! - [`config`] - flags.
//! - [`store`] - the replica's redb copy of the log.
//! - [`log_follower`] - replays the JetStream log into the store.
//! - [`election`] - the KV lease.
//! - [`hold`] - not leading while a set-aside store holds orders the log lacks.
//! - [`sequencer`] - the leader's single, fenced writer to the log.
//! - [`log_append`] - pipelined, fenced appends of orders to the log.
//! - [`catalog_client`] - calls to the catalog.
//! - [`rollforward`] - logs trades the catalog applied but the log lacks.
//! - [`repair`] - the operator's re-append of orders the log lost, from a replica's store.
//! - [`replay`] - the whole log read by the replicas' rules, for tools and checkers.
//! - [`handlers`] - the replica's NATS subjects.
//! - [`metrics`] - the replica's Prometheus gauges (leader, term, store, log lag).
//! - `lifecycle` - set up, spawn and drain the tasks of one replica ([`run`]).

pub mod catalog_client;
pub mod config;
pub mod election;
pub mod handlers;
pub mod hold;
mod lifecycle;
pub mod log_append;
pub mod log_follower;
pub mod metrics;
pub mod repair;
pub mod replay;
pub mod rollforward;
pub mod sequencer;
pub mod store;

pub use config::Config;
pub use lifecycle::RunError;

use std::future::Future;

/// Runs one replica until `shutdown` resolves, then resigns the leadership if held, stops taking
/// requests, lets in-flight appends finish and flushes NATS.
///
/// # Errors
/// [`RunError`] when the configuration is invalid, the store or the hold file cannot be read,
/// the bus cannot be set up, or a task ended before `shutdown` (the replica drains first, and
/// the error names the task).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let ready = lifecycle::set_up(config).await?;
    let mut tasks = lifecycle::spawn(ready).await?;
    let failure = tasks.supervise(shutdown).await;
    tasks.drain().await;
    failure.map_or(Ok(()), Err)
}
