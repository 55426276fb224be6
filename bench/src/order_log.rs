//! Filling the order log fast: valid order records published straight to JetStream, the way the
//! leader's sequencer writes them, so the replicas materialise them like any other orders.
//!
//! Records go on `orders.new` numbered from the next free transaction number, each with
//! `Nats-Expected-Last-Sequence` = the tail it follows, pipelined (many publishes in flight, acks
//! collected in order). If anyone else appended meanwhile (the leader, a roll-forward), an ack
//! would be refused or land elsewhere than expected, and the fill fails loudly. A pipeline can
//! still put a later record behind such a foreign message (why the services append one at a
//! time), so fill only while the system is idle: an idle leader appends nothing. The
//! records carry no `Nats-Msg-Id`: their keys are fresh, so there is nothing to deduplicate, and
//! a million ids would only fill the broker's duplicate window.
//!
//! Use it while no trades are being placed.

use anyhow::Context as _;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, message::PublishMessage};
use bazaar_nats::messages::{decode, encode, OrderRecord};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Publishes in flight before the oldest ack is awaited.
const WINDOW: usize = 4096;

/// Where the log ends: the stream's last sequence and the next transaction number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// The stream's last sequence (0 when empty).
    pub sequence: u64,
    /// The number the next order gets (one more than the last order's).
    pub next_number: u64,
}

/// Reads the log's tail.
///
/// # Errors
/// When the stream cannot be read or its last order is not an order record.
pub async fn tail(js: &jetstream::Context) -> anyhow::Result<Tail> {
    let mut stream = js.get_stream(ORDERS_STREAM).await?;
    let sequence = stream.info().await?.state.last_sequence;
    let next_number = match stream.get_last_raw_message_by_subject(ORDERS_NEW).await {
        Ok(message) => {
            let record: OrderRecord = decode(&message.payload).map_err(anyhow::Error::msg)?;
            record.number + 1
        }
        // No order yet (only term markers, or nothing).
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => 0,
        Err(e) => return Err(e).context("cannot read the last order"),
    };
    Ok(Tail {
        sequence,
        next_number,
    })
}

/// Appends `count` orders after `tail`, cycling through `stocks`; returns the new tail and how
/// long the publishing took.
///
/// # Errors
/// When a publish is refused (someone else appended) or the broker fails.
pub async fn append(
    js: &jetstream::Context,
    tail: Tail,
    count: u64,
    stocks: &[StockName],
) -> anyhow::Result<(Tail, Duration)> {
    anyhow::ensure!(!stocks.is_empty(), "no stocks to make orders of");
    let started = Instant::now();
    let mut acks = VecDeque::with_capacity(WINDOW);
    for i in 0..count {
        let number = tail.next_number + i;
        let record = OrderRecord {
            number,
            key: IdempotencyKey::parse(format!("bench-fill-{number}"))
                .map_err(|e| anyhow::anyhow!(e.0))?,
            name: stocks[(number % stocks.len() as u64) as usize].clone(),
            side: if number & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            quantity: Quantity::parse(1 + number % 5).map_err(|e| anyhow::anyhow!(e.0))?,
            version: 0,
        };
        let message = PublishMessage::build()
            .payload(encode(&record))
            .expected_last_sequence(tail.sequence + i);
        let ack = js
            .send_publish(ORDERS_NEW, message)
            .await
            .context("publish to the order log")?;
        acks.push_back((tail.sequence + i + 1, ack));
        if acks.len() >= WINDOW {
            check(acks.pop_front()).await?;
        }
    }
    while !acks.is_empty() {
        check(acks.pop_front()).await?;
    }
    Ok((
        Tail {
            sequence: tail.sequence + count,
            next_number: tail.next_number + count,
        },
        started.elapsed(),
    ))
}

async fn check(
    ack: Option<(u64, async_nats::jetstream::context::PublishAckFuture)>,
) -> anyhow::Result<()> {
    let Some((expected, ack)) = ack else {
        return Ok(());
    };
    let ack = ack
        .await
        .context("the order log refused an append (did someone else append?)")?;
    anyhow::ensure!(
        ack.sequence == expected,
        "append landed at sequence {} instead of {expected}",
        ack.sequence
    );
    Ok(())
}
