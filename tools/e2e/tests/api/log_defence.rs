//! Anything published on the order log's subjects or the lease key by something other than the
//! leader (a bug, a mistyped command, a compromised replica) is skipped by every replica: it is
//! never taken as an order, never starts a rebuild, never stops a term, and numbering goes on
//! from the last valid order.

use crate::helpers::{assert_orders_match, must_trade, Acked};
use bazaar_e2e::system::wait_until;
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::{encode, OrderRecord, TermStart};
use bazaar_nats::order_log::EPOCH_HEADER;
use bazaar_nats::subjects::{LEADER_BUCKET, LEADER_KEY, ORDERS_NEW, ORDERS_TERM};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use std::time::Duration;

/// Publishes `payload` on `subject` through JetStream, with an epoch header if given.
async fn inject(system: &System, subject: &str, payload: Vec<u8>, epoch: Option<u64>) {
    let js = async_nats::jetstream::new(system.client.clone());
    let mut message =
        async_nats::jetstream::message::PublishMessage::build().payload(payload.into());
    if let Some(epoch) = epoch {
        message = message.header(EPOCH_HEADER, epoch.to_string().as_str());
    }
    js.send_publish(subject.to_string(), message)
        .await
        .unwrap()
        .await
        .unwrap();
}

fn forged(number: u64) -> Vec<u8> {
    encode(&OrderRecord {
        number,
        key: IdempotencyKey::parse(format!("forged-{number}")).unwrap(),
        name: StockName::parse("FishCo").unwrap(),
        side: Side::Sell,
        quantity: Quantity::parse(500).unwrap(),
        version: 0,
    })
    .to_vec()
}

/// The epoch of the current term, as replica 1 stores it.
async fn current_epoch(system: &System) -> u64 {
    let js = async_nats::jetstream::new(system.client.clone());
    let stream = js.get_stream("ORDERS").await.unwrap();
    let marker = stream
        .get_last_raw_message_by_subject(ORDERS_TERM)
        .await
        .unwrap();
    serde_json::from_slice::<TermStart>(&marker.payload)
        .unwrap()
        .epoch
}

/// Trades once, checks it got the next number, and that no replica set its store aside.
async fn trade_next(system: &System, trades: &mut Vec<Acked>) {
    let acked = must_trade(system, "GameStart", 1, "buy").await;
    assert_eq!(acked.number, trades.len() as u64, "numbering goes on");
    trades.push(acked);
    for id in 1..=3 {
        let dir = std::fs::read_dir(system.order_data_dir(id)).unwrap();
        let names: Vec<String> = dir
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains(".redb.")),
            "replica {id} set a store aside: {names:?}"
        );
    }
}

#[tokio::test]
async fn malformed_out_of_step_and_foreign_term_records_are_skipped_and_trading_goes_on() {
    let mut system = System::start(SystemOptions::default()).await;
    let mut trades = Vec::new();
    trade_next(&system, &mut trades).await;

    inject(&system, ORDERS_NEW, b"hello".to_vec(), None).await;
    trade_next(&system, &mut trades).await;

    let next = trades.len() as u64;
    let epoch = current_epoch(&system).await;
    inject(&system, ORDERS_NEW, forged(next), None).await;
    inject(&system, ORDERS_NEW, forged(next), Some(epoch + 1)).await;
    inject(&system, ORDERS_NEW, forged(next + 10), Some(epoch)).await;
    inject(&system, ORDERS_NEW, forged(next - 1), Some(epoch)).await;
    trade_next(&system, &mut trades).await;

    let next = trades.len() as u64;
    inject(&system, ORDERS_TERM, b"{not json".to_vec(), None).await;
    let out_of_step = TermStart {
        leader: 9,
        epoch: 999_999,
        next_number: next + 3,
    };
    inject(&system, ORDERS_TERM, encode(&out_of_step).to_vec(), None).await;
    let of_no_one = TermStart {
        leader: 9,
        epoch: 888_888,
        next_number: next,
    };
    inject(&system, ORDERS_TERM, encode(&of_no_one).to_vec(), None).await;
    trade_next(&system, &mut trades).await;
    assert_ne!(
        current_epoch(&system).await,
        888_888,
        "the leader took its term back"
    );

    assert_orders_match(&system, &trades).await;
    let digests = system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
    assert!(digests.iter().all(|d| d.count == trades.len() as u64));
}

#[tokio::test]
async fn a_lease_value_that_names_no_replica_counts_as_vacant() {
    let system = System::start(SystemOptions::default()).await;
    let mut trades = Vec::new();
    trade_next(&system, &mut trades).await;
    let js = async_nats::jetstream::new(system.client.clone());
    let kv = js.get_key_value(LEADER_BUCKET).await.unwrap();
    for garbage in ["not-a-replica", "0", "42"] {
        kv.put(LEADER_KEY, garbage.into()).await.unwrap();
        wait_until(
            Duration::from_secs(10),
            "a replica to lead again",
            || async {
                system
                    .leader()
                    .await
                    .is_some_and(|id| (1..=3).contains(&id))
            },
        )
        .await;
        trade_next(&system, &mut trades).await;
    }
    assert_orders_match(&system, &trades).await;
}
