//! The one shared crate for the Stock Bazaar bus.
//!
//! Every service talks to every other one only over NATS, and this crate is the whole of that
//! contract: nobody formats a subject by hand and nobody defines a payload twice.
//!
//! - [`subjects`] - subject, stream, bucket and key names.
//! - [`domain`] - validated values that travel on the bus (stock names, quantities, sides).
//! - [`messages`] - the serde payloads and the reply envelope every request-reply uses.
//! - [`order_log`] - the order log's wire format: its headers and message ids.
//! - [`micro`] - registration with the NATS service protocol (`nats micro ...`).
//! - [`fault`] - the operator's fault injection (`admin.>`), when a service enables it.
//! - [`lease`] - the order leader's lease value, written and read by one rule.
//! - [`setup`] - create-if-missing setup of the order stream and the leader bucket.
//! - [`auth`] - the credentials flags every binary takes, and each user's inbox prefix.
//! - [`connection`] - connecting with reconnect-forever and a reconnect counter.
//! - [`blocking`] - blocking work (redb) on tokio's blocking pool, inside the caller's span.
//! - [`runtime`] - tracing setup and the SIGTERM/ctrl-c signal every binary waits on.
//! - [`metrics`] - the process's Prometheus recorder and the `/metrics` listener.
//! - `testing` (feature `testing`): a real nats-server on a free port for tests, bare or with
//!   the shipped configuration and fresh credentials.
//!
//! The binary `bazaar-setup` (src/bin) is the deploy-time step that runs [`setup`] as the
//! operator, the only user the shipped broker configuration lets create streams and buckets.

pub mod auth;
pub mod blocking;
pub mod connection;
pub mod domain;
pub mod fault;
pub mod lease;
pub mod messages;
pub mod metrics;
pub mod micro;
pub mod order_log;
pub mod runtime;
pub mod setup;
pub mod subjects;
#[cfg(feature = "testing")]
pub mod testing;

pub use auth::NatsAuth;
pub use connection::{connect, Connection, ConnectionError};
pub use domain::{IdempotencyKey, Quantity, Side, StockName, ValidationError};
pub use messages::Reply;
