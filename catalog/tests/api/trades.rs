use crate::helpers::{spawn_app, trade_request};
use bazaar_nats::messages::{Reply, TradeApplied};
use bazaar_nats::Side;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_lowers_the_quantity_and_bumps_the_version() {
    let app = spawn_app().await;
    let before = app.stock("FishCo").await;

    let reply = app
        .trade(&trade_request("buy-1", "FishCo", Side::Buy, 7))
        .await;

    let expected = TradeApplied {
        name: before.name.clone(),
        quantity: before.quantity - 7,
        version: before.version + 1,
    };
    assert_eq!(reply, Reply::ok(expected));
    let after = app.stock("FishCo").await;
    assert_eq!(after.quantity, before.quantity - 7);
    assert_eq!(after.version, before.version + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sell_raises_the_quantity_and_bumps_the_version() {
    let app = spawn_app().await;
    let before = app.stock("BoarCo").await;

    let reply = app
        .trade(&trade_request("sell-1", "BoarCo", Side::Sell, 12))
        .await;

    let Reply::Ok { data } = reply else {
        panic!("sell failed: {reply:?}");
    };
    assert_eq!(data.quantity, before.quantity + 12);
    assert_eq!(data.version, before.version + 1);
    assert_eq!(app.stock("BoarCo").await.quantity, before.quantity + 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_of_more_than_available_is_rejected_naming_the_available_count() {
    let app = spawn_app().await;

    let reply = app
        .trade(&trade_request("big", "MenhirCo", Side::Buy, 101))
        .await;

    assert_eq!(
        reply,
        Reply::rejected("not enough shares of MenhirCo: 100 available, 101 requested")
    );
    let after = app.stock("MenhirCo").await;
    assert_eq!(after.quantity, 100);
    assert_eq!(after.version, 1, "a rejected trade changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_on_an_unknown_stock_is_not_found() {
    let app = spawn_app().await;

    let reply = app
        .trade(&trade_request("ghost", "Rome", Side::Buy, 1))
        .await;

    assert_eq!(reply, Reply::not_found("stock not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_buys_of_one_leave_exactly_fifty() {
    let app = spawn_app().await;

    let buys = (0..50).map(|i| {
        let request = trade_request(&format!("concurrent-{i}"), "GameStart", Side::Buy, 1);
        let app = &app;
        async move { app.trade(&request).await }
    });
    let replies = futures::future::join_all(buys).await;

    assert!(
        replies.iter().all(|r| matches!(r, Reply::Ok { .. })),
        "{replies:?}"
    );
    let mut versions: Vec<u64> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Ok { data } => Some(data.version),
            _ => None,
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=51).collect::<Vec<_>>(),
        "each buy got its own version"
    );
    let after = app.stock("GameStart").await;
    assert_eq!(after.quantity, 50);
    assert_eq!(after.version, 51);
}
