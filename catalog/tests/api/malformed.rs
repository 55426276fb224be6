use crate::helpers::spawn_app;
use bazaar_nats::messages::{Reply, Stock, TradeApplied, TradeRequest};
use bazaar_nats::subjects::{STOCK_LOOKUP, STOCK_TRADE, TRADES_PENDING};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_trade_payload_gets_an_invalid_reply() {
    let app = spawn_app().await;

    let reply: Reply<TradeApplied> = app.request_raw(STOCK_TRADE, b"{not json".to_vec()).await;

    assert!(
        matches!(&reply, Reply::Invalid { message } if message.contains("malformed")),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_of_zero_shares_gets_an_invalid_reply_naming_the_quantity() {
    let app = spawn_app().await;
    let body = br#"{"key":"k","name":"FishCo","type":"buy","quantity":0}"#.to_vec();

    let reply: Reply<TradeApplied> = app.request_raw(STOCK_TRADE, body).await;

    assert!(
        matches!(&reply, Reply::Invalid { message } if message.contains("quantity")),
        "{reply:?}"
    );
    assert_eq!(app.stock("FishCo").await.quantity, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_with_a_bad_name_gets_an_invalid_reply() {
    let app = spawn_app().await;

    let reply: Reply<Stock> = app
        .request_raw(STOCK_LOOKUP, br#"{"name":"no spaces allowed"}"#.to_vec())
        .await;

    assert!(matches!(reply, Reply::Invalid { .. }), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_query_without_fields_gets_an_invalid_reply() {
    let app = spawn_app().await;

    let reply: Reply<Vec<TradeRequest>> = app.request_raw(TRADES_PENDING, b"{}".to_vec()).await;

    assert!(matches!(reply, Reply::Invalid { .. }), "{reply:?}");
}
