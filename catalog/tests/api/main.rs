//! Catalog API tests: a real nats-server, a real redb file, the catalog's `run` in a task, and
//! a plain NATS client asking it things.

mod disk;
mod helpers;
mod idempotency;
mod invalidation;
mod key_reuse;
mod lookup;
mod malformed;
mod pending;
mod persistence;
mod retention;
mod seeding;
mod trades;
