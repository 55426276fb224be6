use crate::helpers::{spawn_app, trade_request};
use bazaar_nats::messages::Reply;
use bazaar_nats::Side;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_persists_across_a_restart_on_the_same_data_dir() {
    let mut app = spawn_app().await;
    let request = trade_request("before-restart", "MenhirCo", Side::Buy, 40);
    let first = app.trade(&request).await;
    assert!(matches!(first, Reply::Ok { .. }), "{first:?}");

    app.stop().await;
    app.start().await;

    let after = app.stock("MenhirCo").await;
    assert_eq!(after.quantity, 60);
    assert_eq!(after.version, 2);
    assert_eq!(
        app.trade(&request).await,
        first,
        "the key is remembered too"
    );
    assert_eq!(app.pending(0, 10).await, vec![request]);
}
