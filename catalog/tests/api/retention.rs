//! Idempotency keys are remembered for the retention, then forgotten in the background, except
//! keys whose trade the order log has not confirmed yet.

use crate::helpers::{key, prepare_app, trade_request, wait_until, TestApp, SETTLE};
use bazaar_catalog::store::DB_FILE;
use bazaar_nats::messages::Reply;
use bazaar_nats::Side;
use redb::{ReadableDatabase, TableDefinition, TableHandle};

/// The index a store written before it existed lacks.
const APPLIED_AT: TableDefinition<(u64, &str), ()> = TableDefinition::new("applied_at");

/// Waits until `k` is forgotten: sent for another order than its first, it is then applied as
/// a new order instead of being refused as a reuse.
async fn wait_until_forgotten(app: &TestApp, k: &str) {
    wait_until(SETTLE, &format!("{k} is forgotten"), || async {
        match app
            .trade(&trade_request(k, "GameStart", Side::Sell, 1))
            .await
        {
            Reply::Ok { .. } => true,
            Reply::KeyReused { .. } => false,
            other => panic!("unexpected answer for {k}: {other:?}"),
        }
    })
    .await;
}

async fn must_apply(app: &TestApp, k: &str, quantity: u64) {
    let reply = app
        .trade(&trade_request(k, "FishCo", Side::Buy, quantity))
        .await;
    assert!(matches!(reply, Reply::Ok { .. }), "{k}: {reply:?}");
}

/// Asserts `k` is still remembered as unlogged: reused for another order it is refused, and the
/// order leader's roll-forward still gets its trade.
async fn assert_kept_unlogged(app: &TestApp, k: &str, quantity: u64) {
    let reused = app
        .trade(&trade_request(k, "GameStart", Side::Sell, 1))
        .await;
    assert_eq!(
        reused,
        Reply::key_reused(format!(
            "Idempotency-Key {k} was first used for buy {quantity} FishCo"
        ))
    );
    let pending = app.pending(0, 10).await;
    assert!(
        pending.iter().any(|t| t.key.as_str() == k),
        "{k} is still pending: {pending:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_pruned_but_unlogged_ones_are_kept() {
    let mut app = prepare_app().await;
    app.key_retention_secs = 1;
    app.start().await;
    must_apply(&app, "a-unlogged", 1).await;
    // A later applied-at time: the prune that reaches this key has looked at the first.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    must_apply(&app, "b-logged", 2).await;
    app.confirm(vec![key("b-logged")]).await;

    wait_until_forgotten(&app, "b-logged").await;

    assert_kept_unlogged(&app, "a-unlogged", 1).await;
    let fish = app.stock("FishCo").await;
    assert_eq!(fish.quantity, 97, "nothing was applied twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_the_time_index_gets_it_built_when_opened() {
    let mut app = prepare_app().await;
    app.start().await;
    must_apply(&app, "a-unlogged", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    must_apply(&app, "b-logged", 2).await;
    app.confirm(vec![key("b-logged")]).await;
    wait_until(SETTLE, "the confirm is durable", || async {
        app.pending(0, 10).await.len() == 1
    })
    .await;
    app.stop().await;
    // Make it the store an earlier catalog wrote: the same tables, without the index.
    let path = app.data_dir.path().join(DB_FILE);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert!(txn.delete_table(APPLIED_AT).unwrap(), "the index existed");
        txn.commit().unwrap();
        let tables: Vec<String> = db
            .begin_read()
            .unwrap()
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        assert!(!tables.iter().any(|t| t == "applied_at"), "{tables:?}");
    }

    app.key_retention_secs = 1;
    app.start().await;

    wait_until_forgotten(&app, "b-logged").await;
    assert_kept_unlogged(&app, "a-unlogged", 1).await;
}
