//! The last step of a replica's life: waiting for shutdown or for a task to end, then stopping
//! the tasks in an order that keeps the service available and loses nothing in flight.

use super::spawn::Tasks;
use super::task::SHUTDOWN_STEP_TIMEOUT;
use super::RunError;
use std::future::Future;

impl Tasks {
    /// Waits until `shutdown` resolves or a task ends; returns the error naming the task in
    /// the second case.
    pub(crate) async fn supervise(
        &mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Option<RunError> {
        tokio::select! {
            () = shutdown => {
                tracing::info!("order replica shutting down");
                None
            }
            e = self.follower.ended() => Some(e),
            e = self.sequencer.ended() => Some(e),
            e = self.election.ended() => Some(e),
            e = self.sweep.ended() => Some(e),
            e = self.handlers.ended() => Some(e),
        }
    }

    /// Cancels every task and waits for each in turn: the election first, so that it resigns
    /// and a follower takes over while this replica drains; then the handlers, so no new
    /// trade comes in; then the sequencer, so appends in flight finish; then the roll-forward
    /// sweep and the log follower. Last, NATS is flushed.
    pub(crate) async fn drain(mut self) {
        self.stop.cancel();
        self.election.stop().await;
        self.handlers.stop().await;
        self.sequencer.stop().await;
        self.sweep.stop().await;
        self.follower.stop().await;
        match tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not flush NATS on shutdown"),
            Err(_) => tracing::warn!("NATS flush timed out on shutdown"),
        }
        tracing::info!("order replica stopped");
    }
}
