//! Test harness for Stock Bazaar's end-to-end and fault tests.
//!
//! It starts the real binaries (`bazaar-catalog`, `bazaar-order` x3, `bazaar-frontend`) as child
//! processes against a real nats-server on a free port, each with its own temporary data dir, and
//! lets a test kill (-9), stop (SIGTERM), freeze (SIGSTOP) and restart any of them.
//!
//! The binaries must be built first (`cargo build --workspace`; `scripts/test` does it).
//!
//! - [`browser`] - headless Chromium over WebDriver, for the trading page.
//! - [`metrics`] - where the services serve `/metrics`, scraping and reading samples.
//! - [`process`] - one child process with its log file.
//! - [`system`] - the whole deployment and the calls tests make on it.

pub mod browser;
pub mod metrics;
pub mod process;
pub mod system;

pub use process::{binary, ServiceProcess};
pub use system::{System, SystemOptions};
