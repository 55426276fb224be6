//! When a restarted (or thawed) order replica holds the whole log again.
//!
//! A replica is of use to clients only once its store has caught up with the log: until then it
//! may not lead (it could not tell a retried trade from a new one). A replica that was killed
//! catches up on what it missed in a moment; one whose data dir was wiped replays the whole
//! history. I6 counts that time as part of the replica's outage, so the watch records, for each
//! return of a replica, when its digest first reached the stream's last sequence at the moment
//! it came back.

use crate::history::Recovery;
use bazaar_nats::messages::{decode, ReplicaDigest, Reply};
use bazaar_nats::subjects::{order_digest, ORDERS_STREAM};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often a returning replica's digest is asked for.
const POLL: Duration = Duration::from_millis(100);
/// How long one digest request or log read may take.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// Returning replicas whose catch-up is being watched.
#[derive(Debug)]
pub struct RecoveryWatch {
    client: async_nats::Client,
    origin: Instant,
    watching: Vec<(u32, Duration, JoinHandle<Duration>)>,
}

impl RecoveryWatch {
    /// A watch asking over `client`, with times relative to `origin`.
    pub fn new(client: async_nats::Client, origin: Instant) -> Self {
        Self {
            client,
            origin,
            watching: Vec::new(),
        }
    }

    /// Replica `replica` was just started again (or thawed): watch until it holds every order
    /// the log holds now (or, if the log cannot be read now, when it first can).
    pub fn returned(&mut self, replica: u32) {
        let from = self.origin.elapsed();
        let client = self.client.clone();
        let origin = self.origin;
        let task = tokio::spawn(async move {
            let mut target = None;
            loop {
                if target.is_none() {
                    target = log_length(&client).await;
                }
                if let (Some(target), Some(count)) = (target, stored(&client, replica).await) {
                    if count >= target {
                        return origin.elapsed();
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        });
        self.watching.push((replica, from, task));
    }

    /// Every recovery watched; those not finished by now end now, unfinished.
    pub async fn finish(self) -> Vec<Recovery> {
        let now = self.origin.elapsed();
        let mut recoveries = Vec::new();
        for (replica, from, task) in self.watching {
            let caught_up = if task.is_finished() {
                task.await.ok()
            } else {
                task.abort();
                None
            };
            recoveries.push(Recovery {
                replica,
                from,
                to: caught_up.unwrap_or(now),
                caught_up: caught_up.is_some(),
            });
        }
        recoveries
    }
}

/// The stream's last sequence (`None` when it cannot be read, e.g. while nats-server
/// restarts). A replica whose store reached it holds the whole log, whatever the log holds.
async fn log_length(client: &async_nats::Client) -> Option<u64> {
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(REQUEST_TIMEOUT);
    let stream = js.get_stream(ORDERS_STREAM).await.ok()?;
    Some(stream.cached_info().state.last_sequence)
}

/// The last stream sequence replica `replica` has applied, if it answers.
async fn stored(client: &async_nats::Client, replica: u32) -> Option<u64> {
    let request = async_nats::Request::new().timeout(Some(REQUEST_TIMEOUT));
    let answer = client
        .send_request(order_digest(replica), request)
        .await
        .ok()?;
    match decode::<Reply<ReplicaDigest>>(&answer.payload).ok()? {
        Reply::Ok { data } => Some(data.sequence),
        _ => None,
    }
}
