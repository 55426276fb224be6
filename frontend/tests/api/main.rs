//! Integration tests of the frontend over HTTP, against a real nats-server and a real catalog.
//! Order replicas, where a test needs one, are scripted stand-ins on the real bus; the full
//! system with real order replicas is tested in tools/e2e/.

mod cache;
mod edge;
mod events;
mod health;
mod helpers;
mod openapi;
mod orders;
mod page;
mod ready;
mod routing;
mod sse;
mod stocks;
