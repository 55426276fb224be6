//! The floors every figure is compared with, measured in the same run: a bare NATS
//! request-reply, a bare durable redb commit and a bare JetStream append on the system's own
//! broker (which syncs each one before its ack). (The HTTP floor is [`super::bare`], hit by wrk.)

use super::latency::{Latency, WarmedSeries};
use anyhow::Context as _;
use futures::StreamExt;
use redb::{Database, Durability, TableDefinition};
use std::path::Path;
use std::time::Duration;

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
    let mut series = WarmedSeries::new(warmup);
    for i in 0..warmup + count {
        let t = series.start(i);
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::from_static(REQUEST))
            .timeout(Some(Duration::from_secs(2)));
        requester
            .send_request(ECHO, request)
            .await
            .map_err(|e| anyhow::anyhow!("echo request {i} failed ({:?}): {e}", e.kind()))?;
        series.finish(i, t);
    }
    let latency = series.summary();
    task.abort();
    Ok(latency)
}

/// Stream of the append floor, on a subject nothing else in the system uses.
const APPEND_STREAM: &str = "BENCH_FLOOR";
/// Its subject.
const APPEND_SUBJECT: &str = "bench.floor.append";
/// A payload the size of an order record.
const RECORD: &[u8] = br#"{"number":1234,"key":"0c6f4a1e-8a4e-4c55-b1b7-8d0f5f0c9a31","name":"GameStart","type":"buy","quantity":1,"version":57}"#;

/// Sequential JetStream publishes, each awaited until acknowledged, to a file-storage stream of
/// its own on the system's broker: what one order append costs with nothing else around it.
///
/// # Errors
/// When the connection, the stream or a publish fails.
pub async fn jetstream_append(url: &str, warmup: u32, count: u32) -> anyhow::Result<Latency> {
    let client = async_nats::connect(url)
        .await
        .context("publisher connects")?;
    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: APPEND_STREAM.into(),
        subjects: vec![APPEND_SUBJECT.into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .context("cannot make the floor's stream")?;
    let mut series = WarmedSeries::new(warmup);
    for i in 0..warmup + count {
        let t = series.start(i);
        js.publish(APPEND_SUBJECT, bytes::Bytes::from_static(RECORD))
            .await?
            .await
            .map_err(|e| anyhow::anyhow!("append {i} failed: {e}"))?;
        series.finish(i, t);
    }
    let latency = series.summary();
    js.delete_stream(APPEND_STREAM).await.ok();
    Ok(latency)
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
    let mut series = WarmedSeries::new(warmup);
    for i in 0..warmup + count {
        let t = series.start(i);
        let mut tx = db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut table = tx.open_table(FLOOR_TABLE)?;
            table.insert(u64::from(i), record.as_slice())?;
        }
        tx.commit()?;
        series.finish(i, t);
    }
    Ok(series.summary())
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
