//! Chaos testing for Stock Bazaar: seeded faults under concurrent load, invariants checked after.
//!
//! A run starts the real binaries on loopback (two frontends, the catalog, three order replicas,
//! nats-server), drives concurrent clients through both frontends, and from a seed kills, freezes
//! and wipes components at random moments. Then it heals everything and checks I1-I6 (see
//! docs/FAULT_TOLERANCE.md).
//!
//! - [`rng`] - the seeded generator that makes a run replayable.
//! - [`history`] - what clients saw and what faults happened.
//! - [`workload`] - the clients.
//! - [`faults`] - the injector.
//! - [`forge`] - the forged-message fault.
//! - [`recovery`] - when a returning order replica holds the whole log again.
//! - [`checks`] - the invariants.
//! - [`runner`] - one run, start to verdict.

pub mod checks;
pub mod faults;
pub mod forge;
pub mod history;
pub mod recovery;
pub mod rng;
pub mod runner;
pub mod workload;

pub use runner::{run, Report, RunConfig};
