//! [`run`]: fetch the stock list, drive every simulated client through the load phase, then
//! fetch each acknowledged order back in the verification phase, and aggregate a [`Report`].

use crate::config::Workload;
use crate::report::Report;
use crate::session::{http_client, QueryResult, Session, TradeResult};
use crate::stats::{Kind, Recorder};
use crate::workload::{client_rng, next_step};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Instant;

/// Why a run could not be made (failed requests during a run are measured, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A workload parameter is out of range.
    #[error("invalid workload: {0}")]
    InvalidWorkload(String),
    /// The HTTP client could not be built.
    #[error("cannot build an HTTP client")]
    Http(#[from] reqwest::Error),
    /// `GET /stocks` did not give a usable list, so there is nothing to choose from.
    #[error("cannot list the stocks at {url}: {reason}")]
    StockList {
        /// The frontend asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A client task panicked.
    #[error("a client task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Deserialize)]
struct StockList {
    data: Vec<StockEntry>,
}

#[derive(Deserialize)]
struct StockEntry {
    name: String,
}

/// The stock names a frontend lists (`GET /stocks`).
///
/// # Errors
/// [`RunError::StockList`] when the frontend does not answer 200 with a non-empty list.
pub async fn fetch_stock_names(url: &str, workload: &Workload) -> Result<Vec<String>, RunError> {
    let base = url.trim_end_matches('/');
    let fail = |reason: String| RunError::StockList {
        url: base.to_string(),
        reason,
    };
    let response = http_client(workload.timeout())?
        .get(format!("{base}/stocks"))
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("status {}", response.status())));
    }
    let list: StockList = response.json().await.map_err(|e| fail(error_chain(&e)))?;
    let names: Vec<String> = list.data.into_iter().map(|s| s.name).collect();
    if names.is_empty() {
        return Err(fail("the list is empty".into()));
    }
    Ok(names)
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own text omits the cause, such
/// as "connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn progress_bar(workload: &Workload, length: Option<u64>, what: &str) -> ProgressBar {
    let target = if workload.progress && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(length, target);
    let template = if length.is_some() {
        "{msg:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})"
    } else {
        "{msg:>9} [{elapsed_precise}] {spinner} {pos} ({per_sec})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Runs the workload against `workload.url` and reports what it measured.
///
/// # Errors
/// [`RunError`] when the run cannot start (bad parameters, no stock list) or a client task
/// panics. Failed requests are not errors: they are counted in the report.
pub async fn run(workload: &Workload) -> Result<Report, RunError> {
    workload.validate().map_err(RunError::InvalidWorkload)?;
    let stocks = Arc::new(fetch_stock_names(&workload.url, workload).await?);
    let started = Instant::now();
    let deadline = workload.duration().map(|d| started + d);
    let total = deadline
        .is_none()
        .then(|| workload.iterations * workload.clients as u64);
    let bar = progress_bar(workload, total, "load");

    // Load phase: every client loops on its own connection.
    let mut tasks = Vec::with_capacity(workload.clients);
    for index in 0..workload.clients {
        let mut session =
            Session::new(&workload.url, workload.timeout(), started, workload.samples)?;
        let stocks = Arc::clone(&stocks);
        let bar = bar.clone();
        let w = workload.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = client_rng(w.seed, index);
            let mut refused = 0u64;
            let mut done = 0u64;
            loop {
                let more = match deadline {
                    Some(deadline) => Instant::now() < deadline,
                    None => done < w.iterations,
                };
                if !more {
                    break;
                }
                let step = next_step(&mut rng, stocks.len(), w.p);
                let name = &stocks[step.stock];
                session.lookup(name).await;
                if let Some(trade) = step.trade {
                    if session.trade(name, trade.side, trade.quantity).await == TradeResult::Refused
                    {
                        refused += 1;
                    }
                }
                done += 1;
                bar.inc(1);
                if w.think_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(w.think_ms)).await;
                }
            }
            (session, refused)
        }));
    }
    let mut sessions = Vec::with_capacity(tasks.len());
    let mut trades_refused = 0;
    for task in tasks {
        let (session, refused) = task.await?;
        trades_refused += refused;
        sessions.push(session);
    }
    let load_secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Verification phase: each client fetches back the orders it was acknowledged.
    let acknowledged: u64 = sessions.iter().map(|s| s.orders.len() as u64).sum();
    let verify_started = Instant::now();
    let bar = progress_bar(workload, Some(acknowledged), "verify");
    let mut tasks = Vec::with_capacity(sessions.len());
    for mut session in sessions {
        let bar = bar.clone();
        let verify = !workload.no_verify;
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let orders = if verify {
                std::mem::take(&mut session.orders)
            } else {
                Vec::new()
            };
            for order in orders {
                match session.query(order.number).await {
                    QueryResult::Found(found) if found == order => tally.verified += 1,
                    QueryResult::Found(found) => {
                        tally.mismatch(format!(
                            "order {}: sent {order:?}, read {found:?}",
                            order.number
                        ));
                    }
                    QueryResult::NotFound => {
                        tally.mismatch(format!(
                            "order {} ({order:?}) is unknown (404)",
                            order.number
                        ));
                    }
                    QueryResult::Failed => tally.unverified += 1,
                }
                bar.inc(1);
            }
            (session.recorder, tally)
        }));
    }
    let mut recorder = Recorder::new(workload.samples);
    let mut tally = Tally::default();
    for task in tasks {
        let (r, t) = task.await?;
        recorder.merge(&r);
        tally.add(t);
    }
    let verify_secs = verify_started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    Ok(Report {
        url: workload.url.clone(),
        clients: workload.clients,
        iterations: if deadline.is_some() {
            0
        } else {
            workload.iterations
        },
        p: workload.p,
        seed: workload.seed,
        stocks: stocks.len(),
        load_secs,
        verify_secs,
        lookup: recorder.summary(Kind::Lookup, load_secs),
        trade: recorder.summary(Kind::Trade, load_secs),
        order_query: recorder.summary(Kind::OrderQuery, verify_secs),
        orders_acknowledged: acknowledged,
        trades_refused,
        orders_verified: tally.verified,
        mismatches: tally.mismatches,
        unverified: tally.unverified,
        mismatch_examples: tally.examples,
        samples: recorder.into_samples(),
    })
}

/// How many mismatch descriptions a report keeps.
const MISMATCH_EXAMPLES: usize = 10;

#[derive(Debug, Default)]
struct Tally {
    verified: u64,
    mismatches: u64,
    unverified: u64,
    examples: Vec<String>,
}

impl Tally {
    fn mismatch(&mut self, what: String) {
        tracing::warn!(mismatch = %what, "an acknowledged order does not read back");
        self.mismatches += 1;
        if self.examples.len() < MISMATCH_EXAMPLES {
            self.examples.push(what);
        }
    }

    fn add(&mut self, other: Tally) {
        self.verified += other.verified;
        self.mismatches += other.mismatches;
        self.unverified += other.unverified;
        let room = MISMATCH_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }
}
