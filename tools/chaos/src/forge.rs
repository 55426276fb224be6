//! The forged-message fault: what a buggy or compromised order replica could publish on the
//! order log's subjects and the lease key, short of a well-formed order of the current term.
//!
//! Each burst sends messages every replica must skip (not JSON, out of step, of another term,
//! a marker out of step), sometimes a marker in step with a made-up epoch (which starts a term
//! of no one and fences the real leader once), and a garbage lease value (which counts as
//! vacant). Nothing of it may become an order, stop a term from starting, or fail a request.

use crate::rng::Rng;
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::Client;
use bazaar_nats::messages::{encode, OrderRecord, TermStart};
use bazaar_nats::order_log::EPOCH_HEADER;
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM, ORDERS_TERM};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

/// The log's state as a forger can guess it from the stream.
struct Guess {
    /// The number the next order will carry (one past the last order on `orders.new`).
    next: u64,
    /// The epoch of the last marker on `orders.term`.
    epoch: u64,
}

/// Sends one burst of forged messages through `client`; returns a short description.
///
/// # Errors
/// When the broker does not take the publishes.
pub async fn burst(client: &Client, rng: &mut Rng) -> anyhow::Result<String> {
    let js = jetstream::new(client.clone());
    let guess = guess(&js).await;
    let mut sent = Vec::new();
    publish(&js, ORDERS_NEW, b"hello".to_vec(), None).await?;
    sent.push("garbage order");
    publish(&js, ORDERS_NEW, order(guess.next), None).await?;
    sent.push("unsigned next order");
    let other = Some(guess.epoch.wrapping_add(1_000));
    publish(&js, ORDERS_NEW, order(guess.next), other).await?;
    sent.push("next order of another term");
    publish(
        &js,
        ORDERS_NEW,
        order(guess.next + 1_000),
        Some(guess.epoch),
    )
    .await?;
    sent.push("order far ahead");
    if let Some(last) = guess.next.checked_sub(1) {
        publish(&js, ORDERS_NEW, order(last), Some(guess.epoch)).await?;
        sent.push("repeated last number");
    }
    publish(&js, ORDERS_TERM, b"{not json".to_vec(), None).await?;
    sent.push("garbage marker");
    publish(&js, ORDERS_TERM, marker(guess.next + 7, 999_999), None).await?;
    sent.push("marker out of step");
    if rng.chance(0.3) {
        let epoch = 2_000_000 + rng.below(1_000_000);
        publish(&js, ORDERS_TERM, marker(guess.next, epoch), None).await?;
        sent.push("marker in step of no one");
    }
    publish(
        &js,
        "$KV.order_leader.leader",
        b"not-a-replica".to_vec(),
        None,
    )
    .await?;
    sent.push("garbage lease");
    Ok(sent.join(", "))
}

async fn guess(js: &jetstream::Context) -> Guess {
    let mut guess = Guess { next: 0, epoch: 0 };
    let Ok(stream) = js.get_stream(ORDERS_STREAM).await else {
        return guess;
    };
    if let Ok(m) = stream.get_last_raw_message_by_subject(ORDERS_NEW).await {
        if let Ok(r) = serde_json::from_slice::<OrderRecord>(&m.payload) {
            guess.next = r.number + 1;
        }
    }
    if let Ok(m) = stream.get_last_raw_message_by_subject(ORDERS_TERM).await {
        if let Ok(t) = serde_json::from_slice::<TermStart>(&m.payload) {
            guess.epoch = t.epoch;
        }
    }
    guess
}

fn order(number: u64) -> Vec<u8> {
    let record = OrderRecord {
        number,
        key: IdempotencyKey::parse(format!("forged-{number}")).expect("a valid key"),
        name: StockName::parse("FishCo").expect("a valid name"),
        side: Side::Sell,
        quantity: Quantity::parse(1_000).expect("a valid quantity"),
        version: 0,
    };
    encode(&record).to_vec()
}

fn marker(next_number: u64, epoch: u64) -> Vec<u8> {
    encode(&TermStart {
        leader: 9,
        epoch,
        next_number,
    })
    .to_vec()
}

/// Publishes and waits for the broker's ack, so the burst is in the stream when it returns.
async fn publish(
    js: &jetstream::Context,
    subject: &'static str,
    payload: Vec<u8>,
    epoch: Option<u64>,
) -> anyhow::Result<()> {
    let mut message = PublishMessage::build().payload(payload.into());
    if let Some(epoch) = epoch {
        message = message.header(EPOCH_HEADER, epoch.to_string().as_str());
    }
    js.send_publish(subject, message).await?.await?;
    Ok(())
}
