//! A replica whose store holds an order the log lacks must neither number from it nor destroy
//! it: it keeps the old store beside the new one, rebuilds from the log, and does not lead
//! while the log lacks that order, so its number is not handed to another trade by it. Once the
//! log holds as many orders again, the hold lifts by itself.

use crate::helpers::{assert_orders_match, must_trade};
use bazaar_e2e::system::wait_until;
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::OrderRecord;
use bazaar_nats::order_log::EPOCH_HEADER;
use bazaar_nats::subjects::ORDERS_NEW;
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use bazaar_order::store::{Commit, LogEntry, OrderStore};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Files in `dir` whose name starts with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Gives the stopped replica `path` a phantom order right after what the log holds.
fn add_phantom(path: &Path) {
    let store = OrderStore::open(path).unwrap();
    let digest = store.digest().unwrap();
    let epoch = store.position().unwrap().epoch.expect("a term was started");
    let phantom = OrderRecord {
        number: digest.count,
        key: IdempotencyKey::parse("phantom").unwrap(),
        name: StockName::parse("FishCo").unwrap(),
        side: Side::Sell,
        quantity: Quantity::parse(50).unwrap(),
        version: 0,
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(EPOCH_HEADER, epoch.to_string().as_str());
    let raw = serde_json::to_vec(&phantom).unwrap().into();
    let entry = LogEntry::decode(ORDERS_NEW, digest.sequence + 1, Some(&headers), raw);
    let appended = store.append(&[entry], Commit::Durable).unwrap();
    assert_eq!(
        appended.digest.count,
        digest.count + 1,
        "the phantom is stored"
    );
}

#[tokio::test]
async fn a_replica_whose_store_is_ahead_of_the_log_sets_it_aside_and_does_not_lead() {
    let mut system = System::start(SystemOptions::default()).await;
    let mut trades = Vec::new();
    for _ in 0..3 {
        trades.push(must_trade(&system, "FishCo", 1, "buy").await);
    }
    system.wait_converged(3, Duration::from_secs(20)).await;
    for order in &mut system.orders {
        assert!(order.terminate());
    }
    let dir = system.order_data_dir(1);
    add_phantom(&dir.join("order-1.redb"));

    // Alone, it rebuilds from the log but holds: no leader.
    system.order(1).restart();
    wait_until(Duration::from_secs(20), "replica 1 to rebuild", || async {
        system.digest(1).await.is_some_and(|d| d.count == 3)
    })
    .await;
    let aside = files_starting(&dir, "order-1.redb.ahead-");
    assert_eq!(aside.len(), 1, "the old store is kept: {aside:?}");
    assert!(dir.join("order-1.hold").exists(), "the hold is recorded");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        system.leader().await,
        None,
        "a holding replica does not lead"
    );

    // The others lead; the next trade takes number 3, and replica 1's hold lifts.
    system.order(2).restart();
    system.order(3).restart();
    let leader = system.wait_for_leader(None, Duration::from_secs(20)).await;
    assert_ne!(leader, 1);
    let next = must_trade(&system, "FishCo", 1, "buy").await;
    assert_eq!(next.number, 3, "the number comes from the log");
    trades.push(next);
    assert_orders_match(&system, &trades).await;
    let digests = system.wait_converged(4, Duration::from_secs(20)).await;
    assert!(digests.iter().all(|d| d.count == 4), "{digests:?}");
    wait_until(
        Duration::from_secs(10),
        "replica 1's hold to lift",
        || async { !dir.join("order-1.hold").exists() },
    )
    .await;

    // The phantom is still in the set-aside store, not destroyed.
    for order in &mut system.orders {
        assert!(order.terminate());
    }
    let kept = OrderStore::open(&aside[0]).unwrap();
    assert_eq!(kept.digest().unwrap().count, 4);
    assert_eq!(kept.record(3).unwrap().unwrap().key.as_str(), "phantom");
}
