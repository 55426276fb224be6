use crate::helpers::{spawn_app, trade_request, TIMEOUT};
use bazaar_nats::messages::{decode, Invalidation, Reply};
use bazaar_nats::subjects::STOCK_INVALIDATE;
use bazaar_nats::Side;
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_is_published_after_a_trade() {
    let app = spawn_app().await;
    let mut invalidations = app.client.subscribe(STOCK_INVALIDATE).await.unwrap();
    app.client.flush().await.unwrap();

    let reply = app
        .trade(&trade_request("inv-1", "PotionCo", Side::Buy, 2))
        .await;

    let Reply::Ok { data: applied } = reply else {
        panic!("trade failed: {reply:?}");
    };
    let message = tokio::time::timeout(TIMEOUT, invalidations.next())
        .await
        .expect("an invalidation arrives")
        .expect("subscription open");
    let invalidation: Invalidation = decode(&message.payload).unwrap();
    assert_eq!(invalidation.name.as_str(), "PotionCo");
    assert_eq!(invalidation.version, applied.version);
    assert_eq!(invalidation.quantity, Some(applied.quantity));
    let stock = app.stock("PotionCo").await;
    assert_eq!(invalidation.price, Some(stock.price));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_trade_publishes_no_invalidation() {
    let app = spawn_app().await;
    let mut invalidations = app.client.subscribe(STOCK_INVALIDATE).await.unwrap();
    app.client.flush().await.unwrap();

    let rejected = app
        .trade(&trade_request("inv-no", "PotionCo", Side::Buy, 1000))
        .await;
    let applied = app
        .trade(&trade_request("inv-yes", "GaulWine", Side::Sell, 1))
        .await;

    assert!(matches!(rejected, Reply::Rejected { .. }), "{rejected:?}");
    assert!(matches!(applied, Reply::Ok { .. }), "{applied:?}");
    let message = tokio::time::timeout(TIMEOUT, invalidations.next())
        .await
        .expect("an invalidation arrives")
        .expect("subscription open");
    let first: Invalidation = decode(&message.payload).unwrap();
    assert_eq!(
        first.name.as_str(),
        "GaulWine",
        "the rejected trade published nothing"
    );
}
