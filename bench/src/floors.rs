//! The floors every figure is compared with, measured in the same run: a bare NATS
//! request-reply and a bare durable redb commit. (The HTTP floor is [`crate::bare`], hit by wrk.)

use crate::latency::{Latency, Recorder};
use anyhow::Context as _;
use futures::StreamExt;
use redb::{Database, Durability, TableDefinition};
use std::path::Path;
use std::time::{Duration, Instant};

/// Subject of the echo responder; nothing else in the system uses it.
const ECHO: &str = "bench.floor.echo";
/// The reply: a catalog lookup answer, the size of what the services exchange.
const REPLY: &[u8] =
    br#"{"status":"ok","data":{"name":"GameStart","price":15.99,"quantity":100,"version":1}}"#;
/// The request: a lookup.
const REQUEST: &[u8] = br#"{"name":"GameStart"}"#;

/// Sequential NATS request-replies with tiny JSON: a responder and a requester in this process,
/// each on its own connection (as two services would be), through the system's broker.
///
/// # Errors
/// When a connection, the subscription or a request fails.
pub async fn nats_round_trip(url: &str, warmup: u32, count: u32) -> anyhow::Result<Latency> {
    let responder = async_nats::connect(url)
        .await
        .context("responder connects")?;
    let requester = async_nats::connect(url)
        .await
        .context("requester connects")?;
    let mut requests = responder.subscribe(ECHO).await?;
    responder.flush().await?;
    let replier = responder.clone();
    let task = tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            if let Some(to) = message.reply {
                let _ = replier.publish(to, bytes::Bytes::from_static(REPLY)).await;
            }
        }
    });
    let mut recorder = Recorder::new();
    let mut started = Instant::now();
    for i in 0..warmup + count {
        if i == warmup {
            started = Instant::now();
        }
        let t = Instant::now();
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::from_static(REQUEST))
            .timeout(Some(Duration::from_secs(2)));
        requester
            .send_request(ECHO, request)
            .await
            .map_err(|e| anyhow::anyhow!("echo request {i} failed ({:?}): {e}", e.kind()))?;
        if i >= warmup {
            recorder.record(t.elapsed());
        }
    }
    let wall = started.elapsed();
    task.abort();
    Ok(recorder.summary(wall))
}

const FLOOR_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("floor");

/// Sequential redb write transactions of one small record each, committed with
/// `Durability::Immediate` (fsync), in a fresh database under `dir`. Blocks: call it from
/// `spawn_blocking` or a plain thread.
///
/// # Errors
/// When redb fails.
pub fn redb_commit(dir: &Path, warmup: u32, count: u32) -> anyhow::Result<Latency> {
    let db = Database::create(dir.join("floor.redb"))?;
    let record = [7u8; 120];
    let mut recorder = Recorder::new();
    let mut started = Instant::now();
    for i in 0..warmup + count {
        if i == warmup {
            started = Instant::now();
        }
        let t = Instant::now();
        let mut tx = db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut table = tx.open_table(FLOOR_TABLE)?;
            table.insert(u64::from(i), record.as_slice())?;
        }
        tx.commit()?;
        if i >= warmup {
            recorder.record(t.elapsed());
        }
    }
    Ok(recorder.summary(started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_floor_times_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let latency = redb_commit(dir.path(), 2, 20).unwrap();
        assert_eq!(latency.count, 20);
        assert!(latency.p50_us > 0.0);
    }
}
