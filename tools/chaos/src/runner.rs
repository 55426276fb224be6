//! One chaos run: start the system, drive the workload while injecting faults, heal, then check
//! every invariant.

use crate::checks::{self, Check};
use crate::faults::Injector;
use crate::history::{FaultRecord, Outcome, Recovery, Request, RequestKind};
use crate::workload::Workload;
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::{decode, encode, OrderRecord, PendingQuery, Reply, TradeRequest};
use bazaar_nats::subjects::TRADES_PENDING;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How many order replicas the system runs.
const REPLICAS: u32 = 3;

/// What a run does.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Seeds the workload and the faults: the same seed replays the same choices.
    pub seed: u64,
    /// How long to drive load and inject faults.
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// Mean pause between faults.
    pub fault_interval: Duration,
    /// The frontends' retry budget.
    pub retry_budget: Duration,
    /// Only these fault kinds (by name); all kinds when empty.
    pub only_faults: Vec<String>,
    /// Where to copy the services' logs when an invariant breaks.
    pub keep_logs: Option<std::path::PathBuf>,
    /// Run the broker with the shipped configuration, authentication on, each service as its
    /// own role (see `bazaar_e2e::SystemOptions::secured`).
    pub secured: bool,
}

/// The summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The seed, to replay the run.
    pub seed: u64,
    /// Seconds of load and faults.
    pub duration_secs: f64,
    /// Trades sent.
    pub trades_attempted: usize,
    /// Trades answered 200.
    pub trades_acknowledged: usize,
    /// Trades answered 409.
    pub trades_refused: usize,
    /// Trades whose outcome the client does not know (503 or a cut connection).
    pub trades_unknown: usize,
    /// Lookups sent.
    pub lookups: usize,
    /// Lookups that failed.
    pub lookups_failed: usize,
    /// Orders in the log at the end.
    pub orders_logged: usize,
    /// The rest of the log.
    pub log: LogShape,
    /// Faults injected, by kind.
    pub faults_by_kind: BTreeMap<&'static str, usize>,
    /// Every fault.
    pub faults: Vec<FaultRecord>,
    /// Every return of an order replica, until it held the whole log again.
    pub recoveries: Vec<Recovery>,
    /// The longest of those, in seconds.
    pub longest_recovery_secs: f64,
    /// The invariants.
    pub checks: Vec<Check>,
    /// The slowest single request, in seconds.
    pub slowest_request_secs: f64,
    /// The longest time no request succeeded, in seconds.
    pub longest_stall_secs: f64,
}

impl Report {
    /// Whether every invariant held.
    pub fn all_hold(&self) -> bool {
        self.checks.iter().all(|c| c.holds)
    }

    /// A human summary.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "chaos run, seed {}, {:.0} s\n  trades: {} attempted, {} acknowledged, {} refused (409), {} unknown (503 or cut)\n  lookups: {} ({} failed)\n  orders in the log: {} (of {} messages: {} terms, {} skipped as not part of the log)\n  faults: {} ({})\n  replicas back in service (caught up with the log) after a restart or thaw: {}, the longest after {:.2} s\n  slowest request {:.2} s, longest stall without any success {:.2} s\n",
            self.seed,
            self.duration_secs,
            self.trades_attempted,
            self.trades_acknowledged,
            self.trades_refused,
            self.trades_unknown,
            self.lookups,
            self.lookups_failed,
            self.orders_logged,
            self.log.messages,
            self.log.terms,
            self.log.skipped,
            self.faults.len(),
            self.faults_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.recoveries.len(),
            self.longest_recovery_secs,
            self.slowest_request_secs,
            self.longest_stall_secs,
        );
        for c in &self.checks {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                if c.holds { "ok" } else { "FAIL" },
                c.name,
                c.detail
            ));
        }
        out
    }
}

/// Runs one seeded chaos run against a fresh system and checks the invariants.
///
/// # Errors
/// When the system cannot be healed and read back at the end.
pub async fn run(config: &RunConfig) -> anyhow::Result<Report> {
    let mut system = System::start(SystemOptions {
        cache_size: 5,
        frontends: 2,
        retry_budget_ms: config.retry_budget.as_millis() as u64,
        with_orders: true,
        secured: config.secured,
        // The admin faults (faults.rs) inject over NATS.
        fault_injection: true,
    })
    .await;
    let initial = system.catalog_quantities().await;
    let origin = Instant::now();
    let until = origin + config.duration;
    let workload = Workload {
        frontends: (0..2).map(|i| system.frontend_url(i).to_string()).collect(),
        stocks: initial.keys().cloned().collect(),
        clients: config.clients,
        trade_probability: 0.5,
        seed: config.seed,
        origin,
        until,
    };
    let (requests, faults, outages, recoveries) = {
        let mut injector = Injector::new(&mut system, config.seed, origin, config.fault_interval);
        injector.only(&config.only_faults);
        let (requests, ()) = tokio::join!(workload.run(), injector.run(until));
        let recoveries = injector.recoveries.finish().await;
        (requests, injector.faults, injector.outages, recoveries)
    };

    heal(&mut system).await;
    let unlogged = wait_for_roll_forward(&system).await;
    let (log, shape) = read_log(&system).await?;
    let digests = system
        .wait_converged_or_report(log.len() as u64, Duration::from_secs(60))
        .await;
    let now = system.catalog_quantities().await;

    let longest_allowed = config.retry_budget + Duration::from_secs(4);
    let checks = vec![
        checks::acknowledged_trades_are_logged_once(&requests, &log),
        checks::replicas_converge(&digests, 3, log.len()),
        checks::quantities_are_conserved(&initial, &now, &log, unlogged),
        checks::numbers_are_gapless(&log),
        checks::reads_are_monotonic(&requests),
        checks::no_failure_while_up(&requests, &outages, &recoveries, REPLICAS, longest_allowed),
    ];
    let report = report(
        config,
        &requests,
        faults,
        recoveries,
        shape,
        log.len(),
        checks,
    );
    if let (false, Some(dir)) = (report.all_hold(), &config.keep_logs) {
        system.save_logs(dir)?;
        std::fs::write(dir.join("requests.json"), serde_json::to_vec(&requests)?)?;
    }
    Ok(report)
}

fn report(
    config: &RunConfig,
    requests: &[Request],
    faults: Vec<FaultRecord>,
    recoveries: Vec<Recovery>,
    shape: LogShape,
    orders_logged: usize,
    checks: Vec<Check>,
) -> Report {
    let trades: Vec<&Request> = requests
        .iter()
        .filter(|r| matches!(r.kind, RequestKind::Trade { .. }))
        .collect();
    let count = |f: &dyn Fn(&Outcome) -> bool| trades.iter().filter(|r| f(&r.outcome)).count();
    let lookups = requests.len() - trades.len();
    let lookups_failed = requests
        .iter()
        .filter(|r| matches!(r.kind, RequestKind::Lookup { .. }) && r.outcome.is_failure())
        .count();
    let mut faults_by_kind = BTreeMap::new();
    for f in &faults {
        *faults_by_kind.entry(f.kind).or_insert(0) += 1;
    }
    let slowest = requests
        .iter()
        .map(|r| r.end - r.start)
        .max()
        .unwrap_or_default();
    let longest_recovery = recoveries
        .iter()
        .map(|r| r.to - r.from)
        .max()
        .unwrap_or_default();
    Report {
        seed: config.seed,
        duration_secs: config.duration.as_secs_f64(),
        trades_attempted: trades.len(),
        trades_acknowledged: count(&|o| matches!(o, Outcome::Traded { .. })),
        trades_refused: count(&|o| matches!(o, Outcome::Refused)),
        trades_unknown: count(&Outcome::is_failure),
        lookups,
        lookups_failed,
        orders_logged,
        log: shape,
        faults_by_kind,
        faults,
        longest_recovery_secs: longest_recovery.as_secs_f64(),
        recoveries,
        checks,
        slowest_request_secs: slowest.as_secs_f64(),
        longest_stall_secs: longest_stall(requests, config.duration).as_secs_f64(),
    }
}

/// The longest interval in which no request completed successfully.
fn longest_stall(requests: &[Request], duration: Duration) -> Duration {
    let mut ends: Vec<Duration> = requests
        .iter()
        .filter(|r| !r.outcome.is_failure())
        .map(|r| r.end)
        .collect();
    ends.sort();
    let mut last = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for end in ends.into_iter().chain(std::iter::once(duration)) {
        if end > last {
            longest = longest.max(end - last);
            last = end;
        }
    }
    longest
}

/// Starts whatever the injector left down, so the end state can be read.
async fn heal(system: &mut System) {
    for order in &mut system.orders {
        order.thaw();
        if !order.is_running() {
            order.restart();
        }
    }
    if !system.catalog.is_running() {
        system.catalog.restart();
    }
    for frontend in &mut system.frontends {
        if !frontend.is_running() {
            frontend.restart();
        }
    }
    system.wait_ready().await;
}

/// Waits until the catalog holds no applied trade that the log lacks (the leader rolls them
/// forward after a few seconds); returns how many are left after 30 s.
async fn wait_for_roll_forward(system: &System) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let query = PendingQuery {
            min_age_ms: 0,
            limit: 10_000,
        };
        let request = async_nats::Request::new()
            .payload(encode(&query))
            .timeout(Some(Duration::from_secs(2)));
        let left = match system.client.send_request(TRADES_PENDING, request).await {
            Ok(m) => match decode::<Reply<Vec<TradeRequest>>>(&m.payload) {
                Ok(Reply::Ok { data }) => Some(data.len()),
                _ => None,
            },
            Err(_) => None,
        };
        if left == Some(0) {
            return 0;
        }
        if Instant::now() > deadline {
            return left.unwrap_or(usize::MAX);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every valid order of the JetStream log, read by the replicas' rules, and what else the log
/// holds.
async fn read_log(system: &System) -> anyhow::Result<(Vec<OrderRecord>, LogShape)> {
    let js = async_nats::jetstream::new(system.client.clone());
    let scratch = tempfile::tempdir()?;
    let replayed = bazaar_order::replay::replay(&js, scratch.path()).await?;
    let orders = replayed.orders().await?;
    let shape = LogShape {
        messages: replayed.last_sequence,
        terms: replayed.terms,
        skipped: replayed.skipped.len() as u64,
    };
    Ok((orders, shape))
}

/// What the log holds besides its orders: one marker per leadership term, and messages that
/// are not part of it (skipped by every replica).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LogShape {
    /// Messages in the stream.
    pub messages: u64,
    /// Term markers that started a term.
    pub terms: u64,
    /// Messages every replica skipped (malformed, out of step, of another term).
    pub skipped: u64,
}
