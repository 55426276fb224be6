//! Filling the order log fast: valid orders appended the way a leader appends them, so the
//! replicas materialise them like any others.
//!
//! The fill opens a term of its own: a term marker fenced on the stream's tail (naming no
//! replica), then the orders numbered from the next free transaction number, each expecting the
//! id of the message before it, in long pipelined runs through the leader's own
//! `log_append`. If anyone else appends meanwhile (the leader, a roll-forward) the rest of the
//! fill is refused and it fails loudly; the leader's next append is refused too and it starts a
//! new term, so nothing is lost either way. Use it while no trades are being placed.

use anyhow::Context as _;
use async_nats::jetstream;
use bazaar_nats::messages::{OrderRecord, TermStart};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use bazaar_order::log_append::{self, Tail as Chain};
use std::time::{Duration, Instant};

/// Orders sent per pipelined run before its acks are awaited.
const RUN: u64 = 2048;

/// Where the log ends: the stream's last sequence and the next transaction number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// The stream's last sequence (0 when empty).
    pub sequence: u64,
    /// The number the next order gets (one more than the last order's).
    pub next_number: u64,
}

/// Reads the log's tail. The bench's own system holds only valid orders, so the last message on
/// `orders.new` is its last order.
///
/// # Errors
/// When the stream cannot be read or its last order is not an order record.
pub async fn tail(js: &jetstream::Context) -> anyhow::Result<Tail> {
    let mut stream = js.get_stream(ORDERS_STREAM).await?;
    let sequence = stream.info().await?.state.last_sequence;
    let next_number = match stream.get_last_raw_message_by_subject(ORDERS_NEW).await {
        Ok(message) => {
            let record: OrderRecord = serde_json::from_slice(&message.payload)?;
            record.number + 1
        }
        Err(e)
            if e.kind()
                == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            0
        }
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
/// When an append is refused (someone else appended) or the broker fails.
pub async fn append(
    js: &jetstream::Context,
    tail: Tail,
    count: u64,
    stocks: &[StockName],
) -> anyhow::Result<(Tail, Duration)> {
    anyhow::ensure!(!stocks.is_empty(), "no stocks to make orders of");
    let started = Instant::now();
    // The fill's term: an epoch no lease ever had (leases count KV revisions from 1 up).
    let epoch = u64::MAX / 2 + tail.sequence;
    let marker = TermStart {
        leader: 0,
        epoch,
        next_number: tail.next_number,
    };
    let mut chain: Chain = log_append::append_marker(js, &marker, tail.sequence)
        .await
        .context("the fill's term marker was refused (did someone else append?)")?;
    let mut next = tail.next_number;
    let end = tail.next_number + count;
    while next < end {
        let records = (next..end.min(next + RUN))
            .map(|number| record(number, stocks))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let outcome = log_append::append(js, &chain, epoch, &records).await;
        if let Some(e) = outcome.error {
            anyhow::bail!(
                "the order log refused the fill at order {next} (did someone else append?): {e}"
            );
        }
        next += outcome.landed as u64;
        chain = outcome.tail;
    }
    Ok((
        Tail {
            sequence: chain.sequence,
            next_number: end,
        },
        started.elapsed(),
    ))
}

fn record(number: u64, stocks: &[StockName]) -> anyhow::Result<OrderRecord> {
    Ok(OrderRecord {
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
    })
}
