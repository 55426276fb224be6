use crate::helpers::{spawn_app, trade_request};
use bazaar_nats::messages::Reply;
use bazaar_nats::Side;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_sent_twice_applies_once_and_returns_the_same_answer() {
    let app = spawn_app().await;
    let request = trade_request("retry-me", "FishCo", Side::Buy, 5);

    let first = app.trade(&request).await;
    let second = app.trade(&request).await;

    assert!(matches!(first, Reply::Ok { .. }), "{first:?}");
    assert_eq!(first, second);
    let after = app.stock("FishCo").await;
    assert_eq!(after.quantity, 95);
    assert_eq!(after.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_sent_concurrently_applies_once() {
    let app = spawn_app().await;
    let request = trade_request("racing", "FishCo", Side::Buy, 5);

    let replies = futures::future::join_all((0..10).map(|_| app.trade(&request))).await;

    assert!(replies.iter().all(|r| *r == replies[0]), "{replies:?}");
    assert_eq!(app.stock("FishCo").await.quantity, 95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_is_remembered_under_its_key() {
    let app = spawn_app().await;
    let too_big = trade_request("too-big", "BoarCo", Side::Buy, 150);

    let first = app.trade(&too_big).await;
    // Enough shares now exist, but the key was already answered.
    let sell = app
        .trade(&trade_request("restock", "BoarCo", Side::Sell, 100))
        .await;
    let second = app.trade(&too_big).await;

    assert!(matches!(first, Reply::Rejected { .. }), "{first:?}");
    assert!(matches!(sell, Reply::Ok { .. }), "{sell:?}");
    assert_eq!(first, second);
    assert_eq!(app.stock("BoarCo").await.quantity, 200);
}
