//! One supervised task of a replica: its name for the logs and errors, and its handle until it
//! has been awaited, so that neither the supervisor nor the drain awaits a finished task again.

use super::RunError;
use std::fmt::Display;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long each task may take to stop once cancelled, and NATS to flush, before the replica
/// stops waiting: a stuck step must not keep the process from exiting.
pub(super) const SHUTDOWN_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What a task's return value says about how it ended.
pub(super) trait Outcome {
    /// Why the task ended, in words, or `None` when it just returned.
    fn failure(&self) -> Option<String>;
}

impl Outcome for () {
    fn failure(&self) -> Option<String> {
        None
    }
}

impl<E: Display> Outcome for Result<(), E> {
    fn failure(&self) -> Option<String> {
        self.as_ref().err().map(|e| format!("{e:#}"))
    }
}

/// A named task, its handle kept until the task is awaited.
pub(super) struct Task<T> {
    name: &'static str,
    handle: Option<JoinHandle<T>>,
}

impl<T: Outcome> Task<T> {
    /// Supervises `handle` under `name`.
    pub(super) fn new(name: &'static str, handle: JoinHandle<T>) -> Self {
        Self {
            name,
            handle: Some(handle),
        }
    }

    /// Resolves when the task ends (never, if it was already awaited), with the error that
    /// names it. Cancel-safe: dropped before the task ends, it leaves the handle in place.
    pub(super) async fn ended(&mut self) -> RunError {
        let Some(handle) = self.handle.as_mut() else {
            return std::future::pending().await;
        };
        let result = handle.await;
        self.handle = None;
        let why = match result {
            Ok(outcome) => outcome.failure().unwrap_or_else(|| "it returned".into()),
            Err(e) => e.to_string(),
        };
        tracing::error!(task = self.name, why = %why, "task ended before shutdown");
        RunError::TaskEnded {
            task: self.name,
            why,
        }
    }

    /// Waits for the cancelled task to stop, at most [`SHUTDOWN_STEP_TIMEOUT`]; aborts it with
    /// a warning after that.
    pub(super) async fn stop(&mut self) {
        let Some(mut handle) = self.handle.take() else {
            return;
        };
        match tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, &mut handle).await {
            Ok(Ok(outcome)) => {
                if let Some(why) = outcome.failure() {
                    tracing::warn!(task = self.name, why = %why, "task stopped with an error");
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(task = self.name, error = %e, "task failed while stopping")
            }
            Err(_) => {
                tracing::warn!(task = self.name, "task did not stop in time; aborting it");
                handle.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RunError, Task};

    #[tokio::test]
    async fn a_task_that_fails_ends_with_an_error_naming_it_and_why() {
        let mut task = Task::new("sequencer", tokio::spawn(async { Err::<(), _>("boom") }));
        let RunError::TaskEnded { task: name, why } = task.ended().await else {
            panic!("not a task-ended error");
        };
        assert_eq!((name, why.as_str()), ("sequencer", "boom"));
    }

    #[tokio::test]
    async fn a_task_that_returns_early_ends_with_an_error_too() {
        let mut task = Task::new("election", tokio::spawn(async {}));
        let ended = task.ended().await;
        assert_eq!(
            ended.to_string(),
            "the election task ended before shutdown: it returned"
        );
        // Awaited once, it is not awaited again when the replica drains.
        task.stop().await;
    }
}
