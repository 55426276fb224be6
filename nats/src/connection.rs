//! Connecting to NATS the same way in every service.
//!
//! The client retries the first connection and reconnects forever with a short backoff, so a
//! service may start before nats-server and outlives its restarts. Services that keep state
//! derived from the bus (the frontend's cache, KV watches) learn of each reconnect through
//! [`Connection::reconnects`] and rebuild it.

use async_nats::{Client, ConnectOptions, Event};
use std::time::Duration;
use tokio::sync::watch;

/// A connected client plus a counter of (re)connections.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client; cheap to clone.
    pub client: Client,
    /// Bumped on every connection, the first one included. Anything that may have missed
    /// messages while disconnected watches it for changes.
    pub reconnects: watch::Receiver<u64>,
}

/// Connects as `name` to `url` (one URL or a comma-separated list of seed URLs).
///
/// # Errors
/// Only when the URL cannot be parsed: an unreachable server is retried in the background.
pub async fn connect(url: &str, name: &str) -> Result<Connection, async_nats::ConnectError> {
    let (tx, rx) = watch::channel(0u64);
    let label = name.to_string();
    let options = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(5))
        // Short backoff: a broker restart should cost the services a fraction of a second.
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((50 * attempts as u64).clamp(50, 1000))
        })
        .event_callback(move |event| {
            let tx = tx.clone();
            let label = label.clone();
            async move {
                match event {
                    Event::Connected => {
                        tracing::info!(client = %label, "connected to NATS");
                        tx.send_modify(|n| *n += 1);
                    }
                    Event::Disconnected => {
                        tracing::warn!(client = %label, "disconnected from NATS")
                    }
                    other => tracing::debug!(client = %label, event = %other, "NATS event"),
                }
            }
        });
    let urls: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let client = options.connect(urls.as_slice()).await?;
    Ok(Connection {
        client,
        reconnects: rx,
    })
}
