//! Everything restarts, nats-server included: stocks, orders and numbering persist.

use crate::helpers::{assert_orders_match, must_trade};
use bazaar_e2e::{System, SystemOptions};
use std::time::Duration;

#[tokio::test]
async fn stocks_orders_and_numbering_survive_a_restart_of_everything() {
    let mut system = System::start(SystemOptions::default()).await;
    let mut trades = Vec::new();
    for side in ["buy", "buy", "sell", "buy"] {
        trades.push(must_trade(&system, "MenhirCo", 5, side).await);
    }
    let before = system.catalog_stocks().await;
    system.wait_converged(4, Duration::from_secs(10)).await;

    for frontend in &mut system.frontends {
        assert!(frontend.terminate(), "frontend exits cleanly on SIGTERM");
    }
    for order in &mut system.orders {
        assert!(order.terminate(), "order replica exits cleanly on SIGTERM");
    }
    assert!(
        system.catalog.terminate(),
        "catalog exits cleanly on SIGTERM"
    );
    system.restart_nats();
    system.catalog.restart();
    for order in &mut system.orders {
        order.restart();
    }
    for frontend in &mut system.frontends {
        frontend.restart();
    }
    system.wait_ready().await;

    assert_eq!(system.catalog_stocks().await, before);
    assert_orders_match(&system, &trades).await;
    let next = must_trade(&system, "MenhirCo", 1, "buy").await;
    assert_eq!(next.number, 4, "numbering continues");
}

#[tokio::test]
async fn services_reconnect_by_themselves_after_nats_server_restarts() {
    let mut system = System::start(SystemOptions::default()).await;
    must_trade(&system, "FishCo", 1, "buy").await;
    system.restart_nats();
    // Everything reconnects: a trade goes through within the retry budget.
    let mut ok = false;
    for _ in 0..20 {
        let (status, _) = system.trade("FishCo", 1, "buy").await;
        if status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "a trade succeeds after the broker restart");
    let (status, body) = system.get("/orders/1").await;
    assert_eq!(status, 200, "{body}");
    system.wait_converged(2, Duration::from_secs(20)).await;
}

/// A JetStream call whose request dies with the broker (a lease renewal, a stream read, an
/// append's ack) must not wait out the client library's long default before the replica retries:
/// every replica has one in flight when the broker freezes. Each waits at most `--js-timeout-ms`,
/// so trades resume within a short retry budget of the broker's return.
#[tokio::test]
async fn requests_lost_with_a_dead_broker_do_not_stall_the_order_service() {
    let mut system = System::start(SystemOptions {
        retry_budget_ms: 2500,
        ..SystemOptions::default()
    })
    .await;
    must_trade(&system, "FishCo", 1, "buy").await;
    // Frozen, the broker takes the replicas' lease and stream requests and answers none of them;
    // then it dies and comes back on the same store.
    system.nats.freeze();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    system.restart_nats();
    let (status, body) = system.trade("FishCo", 1, "buy").await;
    assert_eq!(
        status, 200,
        "the first trade after the broker's return: {body}"
    );
    system.wait_converged(2, Duration::from_secs(20)).await;
}
