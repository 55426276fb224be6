//! The whole system on the shipped broker configuration, authentication on: every service
//! connects as its own role with only its allow-lists, and everything still works, through a
//! leader failover and a broker restart, without the broker refusing anything.

use crate::helpers::{assert_conservation, assert_orders_match, must_trade};
use bazaar_e2e::{System, SystemOptions};
use std::time::Duration;

/// What a service logs when the broker refused one of its operations (bazaar_nats::connection).
const REFUSAL: &str = "NATS refused an operation";
/// A reply to a request that arrived before a reconnect: the broker lets a responder answer a
/// request only on the connection that received it, so such a late reply is refused, and the
/// requester retries. Expected around a broker restart, not a gap in the allow-lists.
const LATE_REPLY: &str = "Permissions Violation for Publish to \"_INBOX_";

/// Asserts no service was refused anything but late replies: an operation missing from its
/// role's allow-list would show here even when a retry hid it from the client.
fn assert_nothing_refused(system: &System) {
    for process in std::iter::once(&system.catalog)
        .chain(system.orders.iter())
        .chain(system.frontends.iter())
    {
        let refused: Vec<String> = process
            .log()
            .lines()
            .filter(|line| line.contains(REFUSAL) && !line.contains(LATE_REPLY))
            .map(str::to_string)
            .collect();
        assert!(
            refused.is_empty(),
            "{} was refused by the broker:\n{}",
            process.name(),
            refused.join("\n")
        );
    }
}

#[tokio::test]
async fn the_system_works_end_to_end_with_authentication_on() {
    let mut system = System::start(SystemOptions {
        secured: true,
        ..SystemOptions::default()
    })
    .await;
    let initial = system.catalog_quantities().await;

    let (status, body) = system.get("/stocks/GameStart").await;
    assert_eq!(status, 200, "{body}");
    let mut trades = vec![
        must_trade(&system, "GameStart", 2, "buy").await,
        must_trade(&system, "FishCo", 1, "sell").await,
    ];
    let (status, body) = system.get("/stocks/GameStart").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["quantity"],
        initial["GameStart"] - 2,
        "the cached stock was invalidated"
    );

    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    system.order(leader).kill();
    let next = system
        .wait_for_leader(Some(leader), Duration::from_secs(10))
        .await;
    assert_ne!(next, leader);
    trades.push(must_trade(&system, "GameStart", 1, "buy").await);
    system.order(leader).restart();

    // Watches and consumers are re-made after a broker outage, through the same allow-lists
    // (async-nats re-makes an ordered consumer under a name of its own after a gap).
    system.nats.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    system.restart_nats();
    system.wait_ready().await;
    trades.push(must_trade(&system, "FishCo", 3, "buy").await);

    assert_orders_match(&system, &trades).await;
    assert_conservation(&system, &initial, &trades).await;
    system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
    assert_nothing_refused(&system);
}
