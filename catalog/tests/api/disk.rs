//! How much disk the catalog's file takes per trade, with and without pruning (docs/DEPLOY.md,
//! "Disk per million trades"). Ignored: a million trades take minutes. Run with
//! `cargo test -p bazaar-catalog --test api disk -- --ignored --nocapture`; `DISK_TRADES` sets
//! how many trades (default 1,000,000).

use bazaar_catalog::seed::default_stocks;
use bazaar_catalog::store::{Store, WriteOp, DB_FILE};
use bazaar_nats::messages::TradeRequest;
use bazaar_nats::{IdempotencyKey, Quantity, Side};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Trades per batch, as the writer's largest.
const BATCH: u64 = 512;
/// Keys kept by the pruning run: its retention, one trade per simulated millisecond.
const WINDOW: u64 = 100_000;

/// The file's length and the bytes the filesystem allocated for it (redb's file is sparse).
fn size(path: &Path) -> (u64, u64) {
    let metadata = std::fs::metadata(path).expect("the catalog file");
    (metadata.len(), metadata.blocks() * 512)
}

/// Mixes `n` into 64 well-spread bits (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Trade `n`'s key, shaped and spread like the UUIDs the frontend mints (keys in order would
/// pack redb's pages tighter than real ones do).
fn key(n: u64) -> IdempotencyKey {
    let hex = format!("{:016x}{:016x}", mix(n), mix(!n));
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    IdempotencyKey::parse(uuid).expect("a key")
}

/// One batch as the writer would commit it under steady load: `BATCH` trades (each stock sold
/// and bought back by turns, so every one applies), a confirm of the previous batch's keys as
/// the order leader sends right after logging them, and, with a window, the pruner's op.
fn batch(first: u64, previous: Vec<IdempotencyKey>, prune_before: Option<u64>) -> Vec<WriteOp> {
    let names: Vec<_> = default_stocks().into_iter().map(|s| s.name).collect();
    let count = names.len() as u64;
    let mut ops: Vec<WriteOp> = (first..first + BATCH)
        .map(|n| {
            WriteOp::Trade(TradeRequest {
                key: key(n),
                name: names[(n % count) as usize].clone(),
                side: if (n / count).is_multiple_of(2) {
                    Side::Sell
                } else {
                    Side::Buy
                },
                quantity: Quantity::parse(1 + (n / (2 * count)) % 5).expect("a quantity"),
                minted: false,
            })
        })
        .collect();
    ops.push(WriteOp::Confirm(previous));
    if let Some(before_ms) = prune_before {
        ops.push(WriteOp::Prune {
            before_ms,
            limit: 2048,
        });
    }
    ops
}

async fn fill(trades: u64, window: Option<u64>) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(dir.path(), default_stocks())
        .await
        .expect("store");
    let mut previous = Vec::new();
    let mut done = 0;
    while done < trades {
        let now_ms = 1_000_000 + done;
        let ops = batch(done, previous, window.map(|w| now_ms.saturating_sub(w)));
        previous = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Trade(t) => Some(t.key.clone()),
                _ => None,
            })
            .collect();
        let outcome = store.write_batch(ops, now_ms).await.expect("a commit");
        assert!(outcome.committed);
        done += BATCH;
    }
    let sizes = size(&dir.path().join(DB_FILE));
    println!(
        "{done} trades, window {window:?}: file length {} B, allocated {} B",
        sizes.0, sizes.1
    );
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a million trades: minutes"]
async fn disk_per_trade_with_and_without_pruning() {
    let trades = std::env::var("DISK_TRADES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let (_, kept_all) = fill(trades, None).await;
    let (_, kept_window) = fill(trades, Some(WINDOW)).await;
    let (_, one_window) = fill(WINDOW, None).await;
    // Pruned, the file holds one window of keys, however many trades went through.
    assert!(
        kept_window < one_window * 3 / 2,
        "pruned file {kept_window} B, one window {one_window} B"
    );
    assert!(trades < 2 * WINDOW || kept_window < kept_all);
}
