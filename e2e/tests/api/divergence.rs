//! Regression test found by the chaos run (seed 20261125): a replica whose store held an order
//! the log did not started a term numbering from its own count, so the log got a number twice
//! and one never. Now the next number comes from the log, and a store that disagrees with the
//! log is rebuilt from it before the replica may lead.

use crate::helpers::{assert_orders_match, must_trade};
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::OrderRecord;
use bazaar_nats::subjects::ORDERS_NEW;
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use bazaar_order::store::{LogEntry, OrderStore};
use std::time::Duration;

#[tokio::test]
async fn a_replica_whose_store_holds_an_order_the_log_lacks_rebuilds_before_it_numbers() {
    let mut system = System::start(SystemOptions::default()).await;
    let mut trades = Vec::new();
    for _ in 0..3 {
        trades.push(must_trade(&system, "FishCo", 1, "buy").await);
    }
    system.wait_converged(3, Duration::from_secs(20)).await;
    for order in &mut system.orders {
        assert!(order.terminate());
    }

    // Give replica 1 a phantom order 3 right after what the log holds.
    let path = system.order_data_dir(1).join("order-1.redb");
    let store = OrderStore::open(&path).unwrap();
    let digest = store.digest().unwrap();
    let phantom = OrderRecord {
        number: 3,
        key: IdempotencyKey::parse("phantom").unwrap(),
        name: StockName::parse("FishCo").unwrap(),
        side: Side::Sell,
        quantity: Quantity::parse(50).unwrap(),
        version: 0,
    };
    let raw = serde_json::to_vec(&phantom).unwrap().into();
    let entry = LogEntry::decode(ORDERS_NEW, digest.sequence + 1, raw);
    store.append(&[entry]).unwrap();
    drop(store);

    // Alone, it must rebuild from the log, then lead and number the next trade 3.
    system.order(1).restart();
    let leader = system.wait_for_leader(None, Duration::from_secs(20)).await;
    assert_eq!(leader, 1);
    let next = must_trade(&system, "FishCo", 1, "buy").await;
    assert_eq!(
        next.number, 3,
        "the number comes from the log, not from the phantom"
    );
    trades.push(next);
    assert_orders_match(&system, &trades).await;
    system.order(2).restart();
    system.order(3).restart();
    let digests = system.wait_converged(4, Duration::from_secs(20)).await;
    assert!(digests.iter().all(|d| d.count == 4), "{digests:?}");
}
