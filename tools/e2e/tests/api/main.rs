//! End-to-end tests: the real binaries on a real nats-server, driven over HTTP.
//!
//! Build the binaries first: `cargo build --workspace` (scripts/test does it).

mod admin;
mod browser;
mod cache;
mod contract;
mod divergence;
mod failover;
mod fuzz;
mod helpers;
mod idempotency;
mod log_defence;
mod log_repair;
mod metrics;
mod micro;
mod persistence;
mod replication;
mod secured;
