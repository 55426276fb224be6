//! Measures how soon the trading page shows a trade: for each of N sequential trades placed
//! from the page (fetch, as its form does), the time from the trade's acknowledgement to the
//! moment its `stock` event reached the page's EventSource handler, and from the submit to that
//! event, both on the page's own clock (`performance.now()`, which the page records in each
//! row's `data-event-at`).
//!
//! `cargo run -p bazaar-e2e --bin event-latency -- [TRADES]` (default 200; debug binaries, or
//! `BAZAAR_BIN_DIR=target/release` for release ones). Needs Debian's chromium and
//! chromium-driver (scripts/install-chromium).

use bazaar_e2e::browser::Browser;
use bazaar_e2e::{System, SystemOptions};
use serde_json::{json, Value};
use std::time::Duration;

/// Places one trade from the page and reports, on the page's clock, when it was sent, when its
/// answer came and when the page's handler saw the event of the change.
const ONE_TRADE: &str = "
const [name, side, done] = arguments;
const row = document.querySelector(`tr[data-name=\"${name}\"]`);
const before = Number(row.dataset.version);
const sent = performance.now();
fetch('/orders', {
  method: 'POST',
  headers: {'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID()},
  body: JSON.stringify({name, quantity: 1, type: side}),
}).then((r) => r.json()).then((body) => {
  const acked = performance.now();
  const check = () => Number(row.dataset.version) > before
    ? done({sent, acked, seen: Number(row.dataset.eventAt), number: body.data.transaction_number})
    : setTimeout(check, 1);
  check();
}, (err) => done({error: String(err)}));
";

/// The `q`-quantile (0..=1) of sorted `values`, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn report(what: &str, mut values: Vec<f64>) {
    values.sort_by(f64::total_cmp);
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
        quantile(&values, 0.5),
        quantile(&values, 0.99),
        values[0],
        values[values.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let trades: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let browser = match Browser::start().await {
        Ok(browser) => browser,
        Err(why) => {
            eprintln!("cannot measure: {why}");
            std::process::exit(1);
        }
    };
    let system = System::start(SystemOptions::default()).await;
    let page = browser
        .session(1100, 1000)
        .await
        .expect("a browser session");
    page.client
        .goto(system.url())
        .await
        .expect("the page loads");
    page.wait_for(
        "the page to be live",
        Duration::from_secs(15),
        "return document.body.dataset.connection === 'live'
           && document.querySelector('tr[data-name=\"GameStart\"]');",
    )
    .await;

    let (mut after_ack, mut after_submit) = (Vec::new(), Vec::new());
    for i in 0..trades {
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        let sample: Value = page
            .client
            .execute_async(ONE_TRADE, vec![json!("GameStart"), json!(side)])
            .await
            .expect("the trade's script runs");
        assert!(sample["error"].is_null(), "trade {i} failed: {sample}");
        let at = |key: &str| sample[key].as_f64().expect("a time");
        after_ack.push(at("seen") - at("acked"));
        after_submit.push(at("seen") - at("sent"));
    }
    let early = after_ack.iter().filter(|d| **d < 0.0).count();
    println!("{trades} sequential trades from the page, one stock, one frontend");
    report("acknowledged -> event seen", after_ack);
    report("submitted -> event seen", after_submit);
    println!("events seen before the acknowledgement: {early} of {trades}");
    page.close().await;
}
