//! A catalog running inside a test process, for the catalog's own tests and for the tests of
//! the services that call it; behind the `testing` feature, which only dev-dependencies enable.

use crate::Config;
use bazaar_nats::messages::{decode, Reply, Stock};
use bazaar_nats::subjects::STOCK_LIST;
use bazaar_nats::testing::wait_until;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a catalog may take to answer after it was started.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long a catalog may take to return after it was told to stop: enough for every step of
/// its drain.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// How long one readiness probe waits for the catalog's answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A catalog task started by a test; told to stop when dropped.
#[derive(Debug)]
pub struct RunningCatalog {
    /// Resolves the catalog's shutdown future when sent (or dropped).
    stop: Option<oneshot::Sender<()>>,
    /// The task running [`crate::run`].
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningCatalog {
    /// Runs [`crate::run`] with `config` on a task and waits until it answers a list request,
    /// asked through `client`.
    ///
    /// # Panics
    /// When the catalog exits, or does not answer in time.
    pub async fn start(config: Config, client: &async_nats::Client) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::run(config, async {
            let _ = stopped.await;
        }));
        let running = Self {
            stop: Some(stop),
            task,
        };
        wait_until(START_LIMIT, "the catalog to answer", || async {
            assert!(
                !running.task.is_finished(),
                "catalog exited during start-up"
            );
            answers_list(client).await
        })
        .await;
        running
    }

    /// Triggers shutdown and returns what [`crate::run`] returned.
    ///
    /// # Panics
    /// When the catalog does not return in time, or its task panicked.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(STOP_LIMIT, task)
            .await
            .expect("catalog stops in time")
            .expect("catalog task did not panic")
    }
}

impl Drop for RunningCatalog {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Whether the catalog answers a list request with its stocks.
async fn answers_list(client: &async_nats::Client) -> bool {
    let asked = tokio::time::timeout(PROBE_TIMEOUT, client.request(STOCK_LIST, "".into())).await;
    matches!(asked, Ok(Ok(message))
        if matches!(decode::<Reply<Vec<Stock>>>(&message.payload), Ok(Reply::Ok { .. })))
}
