//! Integration tests of the bus against a real nats-server running the shipped configuration:
//! what each role may and may not do, the setup step, and what every shipped configuration
//! runs with.

mod helpers;
mod permissions;
mod setup;
mod shipped_configs;
