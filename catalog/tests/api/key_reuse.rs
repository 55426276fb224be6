//! A key names one order: reusing it for another order is refused, and refusals under keys the
//! frontend minted are not remembered (those under a client's key are: see `idempotency`).

use crate::helpers::{minted_request, spawn_app, trade_request};
use bazaar_catalog::seed::default_stocks;
use bazaar_catalog::store::{OpAnswer, Store, WriteOp, DB_FILE};
use bazaar_catalog::trade::TradeAnswer;
use bazaar_nats::messages::Reply;
use bazaar_nats::Side;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_for_another_order_is_refused_naming_the_first_and_changes_nothing() {
    let app = spawn_app().await;
    let first = app
        .trade(&trade_request("k-reuse", "GameStart", Side::Buy, 1))
        .await;
    assert!(matches!(first, Reply::Ok { .. }), "{first:?}");
    let menhir_before = app.stock("MenhirCo").await;

    let reused = app
        .trade(&trade_request("k-reuse", "MenhirCo", Side::Sell, 7))
        .await;
    let again = app
        .trade(&trade_request("k-reuse", "GameStart", Side::Buy, 1))
        .await;

    assert_eq!(
        reused,
        Reply::key_reused("Idempotency-Key k-reuse was first used for buy 1 GameStart")
    );
    assert_eq!(app.stock("MenhirCo").await, menhir_before);
    assert_eq!(again, first, "the first order keeps its answer");
    let game_start = app.stock("GameStart").await;
    assert_eq!((game_start.quantity, game_start.version), (99, 2));
    let pending = app.pending(0, 10).await;
    assert_eq!(
        pending.len(),
        1,
        "only the first order is unlogged: {pending:?}"
    );
    assert_eq!(pending[0].name.as_str(), "GameStart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_first_use_was_refused_is_reused_only_for_that_order() {
    let app = spawn_app().await;
    let refused = app
        .trade(&trade_request("k-refused", "BoarCo", Side::Buy, 500))
        .await;
    let other = app
        .trade(&trade_request("k-refused", "BoarCo", Side::Buy, 5))
        .await;

    assert!(matches!(refused, Reply::Rejected { .. }), "{refused:?}");
    assert_eq!(
        other,
        Reply::key_reused("Idempotency-Key k-refused was first used for buy 500 BoarCo")
    );
    assert_eq!(app.stock("BoarCo").await.quantity, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orders_under_one_key_in_one_batch_apply_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), default_stocks()).await.unwrap();
    let ops = vec![
        WriteOp::Trade(trade_request("k-batch", "GameStart", Side::Buy, 1)),
        WriteOp::Trade(trade_request("k-batch", "MenhirCo", Side::Sell, 7)),
        WriteOp::Trade(trade_request("k-batch", "GameStart", Side::Buy, 1)),
    ];

    let outcome = store.write_batch(ops, 1_000).await.unwrap();

    let replies: Vec<_> = outcome
        .answers
        .iter()
        .map(|answer| match answer {
            OpAnswer::Trade(trade) => trade.reply(),
            other => panic!("not a trade answer: {other:?}"),
        })
        .collect();
    assert!(matches!(replies[0], Reply::Ok { .. }), "{replies:?}");
    assert_eq!(
        replies[1],
        Reply::key_reused("Idempotency-Key k-batch was first used for buy 1 GameStart")
    );
    assert_eq!(
        replies[2], replies[0],
        "the same order replays within the batch"
    );
    assert!(matches!(
        outcome.answers[2],
        OpAnswer::Trade(TradeAnswer::Replayed(_))
    ));
    let game_start = store.get(bazaar_nats::StockName::parse("GameStart").unwrap());
    assert_eq!(game_start.await.unwrap().unwrap().quantity, 99);
    let menhir = store.get(bazaar_nats::StockName::parse("MenhirCo").unwrap());
    assert_eq!(menhir.await.unwrap().unwrap().quantity, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_under_shared_keys_apply_exactly_one_per_key() {
    let app = &spawn_app().await;
    let keys: Vec<String> = (0..20).map(|i| format!("k-pair-{i}")).collect();
    let requests = keys.iter().flat_map(|k| {
        [
            trade_request(k, "FishCo", Side::Buy, 1),
            trade_request(k, "BoarCo", Side::Sell, 2),
        ]
    });

    let replies = futures::future::join_all(requests.map(|r| async move {
        let reply = app.trade(&r).await;
        (r, reply)
    }))
    .await;

    let (mut fish_bought, mut boar_sold) = (0, 0);
    for pair in replies.chunks(2) {
        let ok: Vec<_> = pair
            .iter()
            .filter(|(_, reply)| matches!(reply, Reply::Ok { .. }))
            .collect();
        assert_eq!(ok.len(), 1, "exactly one order per key succeeds: {pair:?}");
        let reused = pair
            .iter()
            .find(|(_, reply)| matches!(reply, Reply::KeyReused { .. }));
        assert!(reused.is_some(), "the other is refused: {pair:?}");
        match ok[0].0.name.as_str() {
            "FishCo" => fish_bought += 1,
            _ => boar_sold += 2,
        }
    }
    assert_eq!(app.stock("FishCo").await.quantity, 100 - fish_bought);
    assert_eq!(app.stock("BoarCo").await.quantity, 100 + boar_sold);
    assert_eq!(app.pending(0, 100).await.len(), keys.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_under_a_minted_key_is_not_remembered() {
    let app = spawn_app().await;
    let too_big = minted_request("minted-1", "BoarCo", Side::Buy, 150);
    let ghost = minted_request("minted-2", "Rome", Side::Buy, 1);

    let first = app.trade(&too_big).await;
    let not_found = app.trade(&ghost).await;
    let restock = app
        .trade(&trade_request("restock", "BoarCo", Side::Sell, 100))
        .await;
    let second = app.trade(&too_big).await;
    let other_order = app
        .trade(&minted_request("minted-2", "FishCo", Side::Buy, 1))
        .await;

    assert!(matches!(first, Reply::Rejected { .. }), "{first:?}");
    assert_eq!(not_found, Reply::not_found("stock not found"));
    assert!(matches!(restock, Reply::Ok { .. }), "{restock:?}");
    assert!(
        matches!(second, Reply::Ok { .. }),
        "the refusal was forgotten, so the retry is decided afresh: {second:?}"
    );
    assert!(
        matches!(other_order, Reply::Ok { .. }),
        "nothing was kept for the unknown stock's key: {other_order:?}"
    );
    assert_eq!(app.stock("BoarCo").await.quantity, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_minted_refusals_writes_nothing_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), default_stocks()).await.unwrap();
    let file = dir.path().join(DB_FILE);
    let before = std::fs::read(&file).unwrap();

    let refusals = vec![
        WriteOp::Trade(minted_request("m-a", "BoarCo", Side::Buy, 150)),
        WriteOp::Trade(minted_request("m-b", "Rome", Side::Sell, 1)),
    ];
    let outcome = store.write_batch(refusals, 1_000).await.unwrap();
    assert!(!outcome.committed);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "no commit touched the file"
    );

    let remembered = vec![WriteOp::Trade(trade_request(
        "c-a",
        "BoarCo",
        Side::Buy,
        150,
    ))];
    let outcome = store.write_batch(remembered, 1_001).await.unwrap();
    assert!(outcome.committed);
    assert_ne!(
        std::fs::read(&file).unwrap(),
        before,
        "a client key's refusal is committed"
    );
}
