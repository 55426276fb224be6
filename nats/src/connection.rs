//! Connecting to NATS the same way in every service.
//!
//! The client retries the first connection and reconnects forever with a short backoff, so a
//! service may start before nats-server and outlives its restarts. Services that keep state
//! derived from the bus (the frontend's cache, KV watches) learn of each reconnect through
//! [`Connection::reconnects`] and rebuild it.
//!
//! With credentials ([`NatsAuth`]) the client also takes its user's inbox prefix
//! (`_INBOX_<user>`), the only reply subjects the shipped broker configuration lets that user
//! read. Refused credentials and permission violations are logged as errors naming what the
//! broker said, since both mean a deployment whose configuration and services disagree.

use crate::auth::{inbox_prefix, AuthError, NatsAuth};
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

/// Why [`connect`] could not even start connecting.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The credentials are unusable (no password, unreadable password file, ...).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The URL cannot be parsed.
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
}

/// Connects as `name` to `url` (one URL or a comma-separated list of seed URLs), with `auth`'s
/// user and inbox prefix, or anonymously when `auth` names no user.
///
/// # Errors
/// When the credentials are unusable or the URL cannot be parsed: an unreachable server (or one
/// refusing the credentials) is retried in the background.
pub async fn connect(
    url: &str,
    name: &str,
    auth: &NatsAuth,
) -> Result<Connection, ConnectionError> {
    let (tx, rx) = watch::channel(0u64);
    let label = name.to_string();
    let mut options = ConnectOptions::new();
    if let Some(credentials) = auth.credentials()? {
        options = options
            .custom_inbox_prefix(inbox_prefix(&credentials.user))
            .user_and_password(credentials.user, credentials.password);
    }
    let options = options
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
                    Event::ServerError(error) => {
                        tracing::error!(client = %label, error = %error, "NATS refused an operation")
                    }
                    // A failed (re)connection attempt: the broker is down, or it refused the
                    // credentials; either way the client tries again.
                    Event::ClientError(error) => {
                        tracing::warn!(client = %label, error = %error, "NATS connection attempt failed")
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
