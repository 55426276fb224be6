//! The append rules checked against a real broker: whole runs, fencing, no holes, restarts.

use super::*;
use bazaar_nats::setup::{ensure_orders_stream, Replication};
use bazaar_nats::subjects::ORDERS_STREAM;
use bazaar_nats::testing::NatsServer;
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

fn records(first: u64, keys: &[&str]) -> Vec<OrderRecord> {
    keys.iter()
        .enumerate()
        .map(|(i, key)| OrderRecord {
            number: first + i as u64,
            key: IdempotencyKey::parse(*key).unwrap(),
            name: StockName::parse("FishCo").unwrap(),
            side: Side::Sell,
            quantity: Quantity::parse(1).unwrap(),
            version: first + i as u64 + 2,
        })
        .collect()
}

async fn log() -> (NatsServer, jetstream::Context) {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    ensure_orders_stream(&js, Replication::default())
        .await
        .unwrap();
    (server, js)
}

/// Appends a term marker the way a new leader does and returns the tail it makes.
async fn marker(js: &jetstream::Context, epoch: u64) -> Tail {
    let stream = js.get_stream(ORDERS_STREAM).await.unwrap();
    let after = stream.cached_info().state.last_sequence;
    let marker = TermStart {
        leader: 1,
        epoch,
        next_number: 0,
    };
    append_marker(js, &marker, after).await.unwrap()
}

/// Every valid order record in the log, in stream order, with its sequence.
async fn orders_in(js: &jetstream::Context) -> Vec<(u64, OrderRecord)> {
    let stream = js.get_stream(ORDERS_STREAM).await.unwrap();
    let last = stream.cached_info().state.last_sequence;
    let mut found = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.unwrap();
        if message.subject.as_str() != ORDERS_NEW {
            continue;
        }
        if let Ok(record) = serde_json::from_slice(&message.payload) {
            found.push((sequence, record));
        }
    }
    found
}

#[tokio::test]
async fn a_run_lands_whole_right_after_the_tail_it_expects() {
    let (_server, js) = log().await;
    let tail = marker(&js, 1).await;
    let first = records(0, &["a", "b", "c"]);
    let outcome = append(&js, &tail, 1, &first).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.landed, 3);
    assert_eq!(outcome.tail.sequence, 4);
    assert_eq!(outcome.tail.message_id, order_message_id(1, 2));
    let next = append(&js, &outcome.tail, 1, &records(3, &["d"])).await;
    assert_eq!((next.landed, next.tail.sequence), (1, 5));
    let stored = orders_in(&js).await;
    let numbers: Vec<(u64, u64)> = stored.iter().map(|(s, r)| (*s, r.number)).collect();
    assert_eq!(numbers, vec![(2, 0), (3, 1), (4, 2), (5, 3)]);
    assert_eq!(stored[1].1, first[1]);
}

/// A new leader's term marker lands while the old leader appends: the old leader's whole
/// run is refused, though it was sent without waiting for acks.
#[tokio::test]
async fn a_run_after_another_leaders_marker_is_fenced_and_stores_nothing() {
    let (_server, js) = log().await;
    let old = marker(&js, 1).await;
    let outcome = append(&js, &old, 1, &records(0, &["a"])).await;
    assert_eq!(outcome.landed, 1);
    let new = marker(&js, 2).await;
    let stale = append(&js, &outcome.tail, 1, &records(1, &["b", "c", "d"])).await;
    assert_eq!(stale.landed, 0);
    assert!(
        stale.error.as_ref().is_some_and(AppendError::is_fenced),
        "{stale:?}"
    );
    assert_eq!(orders_in(&js).await.len(), 1, "nothing of the run landed");
    // The new leader, expecting its marker, appends the next number.
    let next = append(&js, &new, 2, &records(1, &["b"])).await;
    assert_eq!(next.landed, 1);
    assert!(next.error.is_none(), "{:?}", next.error);
}

/// The hole pipelining by expected sequence could make: the first append of a run is
/// refused, and every later one must be refused too, whatever lands in between.
#[tokio::test]
async fn once_one_append_of_a_run_is_refused_every_later_one_is_refused() {
    let (_server, js) = log().await;
    let tail = marker(&js, 1).await;
    let stale = Tail {
        message_id: "not-the-last".into(),
        sequence: tail.sequence,
    };
    let outcome = append(&js, &stale, 1, &records(0, &["a", "b", "c", "d"])).await;
    assert_eq!(outcome.landed, 0);
    assert!(outcome.error.is_some());
    assert!(
        orders_in(&js).await.is_empty(),
        "no order of the run landed"
    );
    // The log's tail is unchanged: the right expectation still appends.
    let next = append(&js, &tail, 1, &records(0, &["a"])).await;
    assert_eq!((next.landed, next.tail.sequence), (1, tail.sequence + 1));
}

#[tokio::test]
async fn a_foreign_message_between_two_runs_fences_the_second() {
    let (_server, js) = log().await;
    let tail = marker(&js, 1).await;
    let outcome = append(&js, &tail, 1, &records(0, &["a", "b"])).await;
    assert_eq!(outcome.landed, 2);
    js.publish(ORDERS_NEW, "hello".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let after = append(&js, &outcome.tail, 1, &records(2, &["c", "d"])).await;
    assert_eq!(after.landed, 0);
    assert!(after.error.as_ref().is_some_and(AppendError::is_fenced));
    assert_eq!(orders_in(&js).await.len(), 2);
    let stream = js.get_stream(ORDERS_STREAM).await.unwrap();
    assert_eq!(
        stream.cached_info().state.last_sequence,
        4,
        "the marker, two orders and the foreign message"
    );
}

#[tokio::test]
async fn the_expected_tail_survives_a_broker_restart() {
    let (mut server, js) = log().await;
    let tail = marker(&js, 1).await;
    let outcome = append(&js, &tail, 1, &records(0, &["a", "b"])).await;
    assert_eq!(outcome.landed, 2);
    server.restart();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let after = append(&js, &outcome.tail, 1, &records(2, &["c"])).await;
    assert!(after.error.is_none(), "{:?}", after.error);
    assert_eq!(after.tail.sequence, outcome.tail.sequence + 1);
    let stale = append(&js, &outcome.tail, 1, &records(3, &["d"])).await;
    assert!(stale.error.as_ref().is_some_and(AppendError::is_fenced));
}
