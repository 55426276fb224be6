//! Concurrent trades through the frontend reach every replica identically.

use crate::helpers::{assert_conservation, assert_orders_match, must_trade, Acked};
use bazaar_e2e::{System, SystemOptions};
use std::time::Duration;

const STOCKS: [&str; 4] = ["GameStart", "FishCo", "BoarCo", "MenhirCo"];

#[tokio::test]
async fn concurrent_trades_leave_identical_replicas_and_conserved_quantities() {
    let mut system = System::start(SystemOptions::default()).await;
    let initial = system.catalog_quantities().await;
    let clients = 16;
    let per_client = 8;
    let system_ref = &system;
    let results = futures::future::join_all((0..clients).map(|c| async move {
        let mut acked = Vec::new();
        for i in 0..per_client {
            let name = STOCKS[(c + i) % STOCKS.len()];
            let side = if (c * 7 + i) % 3 == 0 { "sell" } else { "buy" };
            acked.push(must_trade(system_ref, name, 1 + (i as u64 % 3), side).await);
        }
        acked
    }))
    .await;
    let trades: Vec<Acked> = results.into_iter().flatten().collect();
    assert_eq!(trades.len(), clients * per_client);

    let digests = system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
    assert_eq!(digests.len(), 3, "all three replicas answered: {digests:?}");
    assert!(digests.iter().all(|d| d.count == trades.len() as u64));
    assert_orders_match(&system, &trades).await;
    assert_conservation(&system, &initial, &trades).await;
}
