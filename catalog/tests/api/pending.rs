use crate::helpers::{key, spawn_app, trade_request};
use bazaar_nats::messages::Reply;
use bazaar_nats::Side;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_returns_an_applied_trade_until_a_confirm_covers_its_key() {
    let app = spawn_app().await;
    let request = trade_request("pending-1", "DruidWorks", Side::Buy, 3);
    let reply = app.trade(&request).await;
    assert!(matches!(reply, Reply::Ok { .. }), "{reply:?}");

    assert_eq!(app.pending(0, 10).await, vec![request.clone()]);

    app.confirm(vec![key("pending-1")]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.pending(0, 10).await.is_empty() {
        assert!(Instant::now() < deadline, "confirm was not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A retry after the confirm still gets the stored answer and does not come back as pending.
    assert_eq!(app.trade(&request).await, reply);
    assert!(app.pending(0, 10).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_skips_refused_trades_and_lists_the_oldest_first_up_to_the_limit() {
    let app = spawn_app().await;
    let first = trade_request("p-a", "RomanRoads", Side::Buy, 1);
    let refused = trade_request("p-b", "RomanRoads", Side::Buy, 1000);
    let second = trade_request("p-c", "RomanRoads", Side::Sell, 2);
    for request in [&first, &refused, &second] {
        app.trade(request).await;
        // Distinct applied-at times, so the order is by time and not by key.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    assert_eq!(app.pending(0, 10).await, vec![first.clone(), second]);
    assert_eq!(app.pending(0, 1).await, vec![first]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_leaves_out_trades_younger_than_the_minimum_age() {
    let app = spawn_app().await;
    app.trade(&trade_request("young", "GaulWine", Side::Buy, 1))
        .await;

    assert!(app.pending(60_000, 10).await.is_empty());
    assert_eq!(app.pending(0, 10).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_sent_as_a_request_is_acknowledged_once_durable() {
    let app = spawn_app().await;
    app.trade(&trade_request("acked", "FishCo", Side::Buy, 1))
        .await;

    let reply: Reply<()> = app
        .request(
            bazaar_nats::subjects::TRADES_CONFIRM,
            &bazaar_nats::messages::ConfirmLogged {
                keys: vec![key("acked")],
            },
        )
        .await;

    assert_eq!(reply, Reply::ok(()));
    assert!(app.pending(0, 10).await.is_empty());
}
