//! The HTTP edge: the accept loop and what it allows each client, so that slow or greedy
//! clients cannot starve the others.
//!
//! - [`deadline`] - a connection must send a complete request head within the header-read
//!   timeout, and a kept-alive one its next request within the idle timeout, or it is closed.
//! - [`connection`] - one connection served by hyper with those deadlines and the peer address.
//! - [`rate_limit`] - requests per second per client address, answered 429 beyond.
//!
//! [`serve`] caps the open connections: at the cap it stops accepting, so further clients wait in
//! the kernel's listen backlog (their connect succeeds, their request is read once a slot frees)
//! instead of being refused. Every connection holding a slot is bounded by the deadlines or by the
//! request timeout, so the wait ends; the exception is an open event stream, which holds its slot
//! for as long as its client reads it (one that stops reading is closed at the idle timeout).

mod connection;
mod deadline;
pub mod rate_limit;

use crate::config::EdgeLimits;
use axum::Router;
use deadline::Timeouts;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long to pause accepting after an error such as running out of file descriptors, which
/// would otherwise repeat at once.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops accepting,
/// lets the requests in flight finish for up to `drain`, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &EdgeLimits,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let timeouts = Timeouts {
        header_read: limits.header_read_timeout(),
        idle: limits.idle_timeout(),
    };
    let slots = Slots::new(limits.max_connections());
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = connections.join_next() => {
                report_panic(ended);
                continue;
            }
            slot = slots.take() => slot,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(&e).await;
                    continue;
                }
            },
        };
        tracing::trace!(%peer, "connection accepted");
        connections.spawn(connection::serve_connection(
            stream,
            peer,
            app.clone(),
            timeouts,
            stop.child_token(),
            slot,
        ));
    }
    drop(listener);
    drain_connections(connections, stop, drain).await;
}

/// Asks every connection to close after its request in flight and waits up to `drain` for them.
async fn drain_connections(mut connections: JoinSet<()>, stop: CancellationToken, drain: Duration) {
    while let Some(ended) = connections.try_join_next() {
        report_panic(ended);
    }
    tracing::info!(
        open = connections.len(),
        "no longer accepting; closing connections"
    );
    stop.cancel();
    let drained = tokio::time::timeout(drain, async {
        while let Some(ended) = connections.join_next().await {
            report_panic(ended);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the drain time; closing them"
        );
        connections.shutdown().await;
    }
}

/// A connection that failed before it was accepted is the client's business; anything else (such
/// as running out of file descriptors) is logged and paused on, so it does not spin.
async fn pause_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(%error, "a connection failed before it was accepted");
    } else {
        tracing::warn!(%error, "cannot accept a connection");
        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }
}

fn report_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        tracing::error!(error = %e, "a connection task failed");
    }
}

/// Places under the connection cap.
struct Slots {
    /// `None` when there is no cap.
    free: Option<Arc<Semaphore>>,
    /// Whether the cap was reached and not yet logged; reset when a slot is free again.
    full_logged: AtomicBool,
}

impl Slots {
    fn new(max: Option<usize>) -> Self {
        Self {
            free: max.map(|max| Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)))),
            full_logged: AtomicBool::new(false),
        }
    }

    /// Waits for a free place; `None` when there is no cap.
    async fn take(&self) -> Option<OwnedSemaphorePermit> {
        let free = self.free.as_ref()?;
        if let Ok(slot) = Arc::clone(free).try_acquire_owned() {
            self.full_logged.store(false, Ordering::Relaxed);
            return Some(slot);
        }
        if !self.full_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!("connection cap reached; new connections wait until one closes");
        }
        // The semaphore is never closed, so this only fails if it were.
        Arc::clone(free).acquire_owned().await.ok()
    }
}
