//! When the broker's store loses the log's tail, the replicas' stores are the only copy of
//! those orders: the replicas keep them aside and do not lead, and `bazaar-log-repair`
//! re-appends them, numbered as they were, after which trading goes on from the next number.

use crate::helpers::{assert_conservation, assert_orders_match, must_trade, Acked};
use bazaar_e2e::system::wait_until;
use bazaar_e2e::{binary, System, SystemOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The one file of replica `id`'s data dir whose name starts with `order-<id>.redb.ahead-`.
fn set_aside_store(system: &System, id: u32) -> PathBuf {
    let prefix = format!("order-{id}.redb.ahead-");
    let found: Vec<PathBuf> = std::fs::read_dir(system.order_data_dir(id))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "replica {id} set its store aside once: {found:?}"
    );
    found[0].clone()
}

async fn trade_some(system: &System, trades: &mut Vec<Acked>, count: usize) {
    for i in 0..count {
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        trades.push(must_trade(system, "MenhirCo", 1 + i as u64, side).await);
    }
}

#[tokio::test]
async fn orders_the_log_lost_are_re_appended_from_the_replicas_as_they_were_numbered() {
    let mut system = System::start(SystemOptions::default()).await;
    let initial = system.catalog_quantities().await;
    let mut trades = Vec::new();
    trade_some(&system, &mut trades, 5).await;
    system.wait_converged(5, Duration::from_secs(20)).await;

    // An old copy of the broker's store: it holds the first five orders only.
    let snapshot = tempfile::tempdir().unwrap();
    system.nats.kill();
    copy_dir(system.nats.store_dir(), snapshot.path());
    system.nats.restart();
    system.wait_for_leader(None, Duration::from_secs(20)).await;
    trade_some(&system, &mut trades, 4).await;
    system.wait_converged(9, Duration::from_secs(20)).await;

    // The broker's disk is restored from that copy: the log lost its last four orders.
    for order in &mut system.orders {
        assert!(order.terminate());
    }
    system.nats.kill();
    let store = system.nats.store_dir().to_path_buf();
    std::fs::remove_dir_all(&store).unwrap();
    copy_dir(snapshot.path(), &store);
    system.nats.restart();
    for id in 1..=3 {
        system.order(id).restart();
    }
    wait_until(
        Duration::from_secs(30),
        "every replica to rebuild",
        || async {
            let mut rebuilt = true;
            for id in 1..=3 {
                rebuilt &= system.digest(id).await.is_some_and(|d| d.count == 5);
            }
            rebuilt
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        system.leader().await,
        None,
        "no replica leads while holding"
    );

    let stores: Vec<PathBuf> = (1..=3).map(|id| set_aside_store(&system, id)).collect();
    let mut repair = std::process::Command::new(binary("bazaar-log-repair"));
    repair.args(["--nats-url", &system.nats.url()]);
    for store in &stores {
        repair.arg("--store").arg(store);
    }
    let output = repair.output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "repair failed: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("holds 9 orders, the log 5: 4 re-appended"),
        "{printed}"
    );

    system.wait_for_leader(None, Duration::from_secs(20)).await;
    system.wait_converged(9, Duration::from_secs(20)).await;
    assert_orders_match(&system, &trades).await;
    trades.push(must_trade(&system, "FishCo", 1, "buy").await);
    assert_eq!(
        trades.last().unwrap().number,
        9,
        "numbering goes on after them"
    );
    assert_conservation(&system, &initial, &trades).await;

    // A second run finds nothing missing.
    let again = std::process::Command::new(binary("bazaar-log-repair"))
        .args(["--nats-url", &system.nats.url(), "--store"])
        .arg(&stores[0])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 re-appended"));
}
