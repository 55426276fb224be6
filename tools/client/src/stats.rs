//! Latency and outcome bookkeeping: one [`Recorder`] per simulated client, merged at the end.
//!
//! Every attempt is recorded, whatever its outcome, because a slow 503 or a timeout is also what
//! a user waited for: the histogram of a request type counts every attempt, and its outcomes add
//! up to the same count (`ok` plus every entry of `errors`).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The request types the workload measures separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `GET /stocks/{name}`.
    Lookup,
    /// `POST /orders`.
    Trade,
    /// `GET /orders/{number}`, in the verification phase.
    OrderQuery,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 3] = [Kind::Lookup, Kind::Trade, Kind::OrderQuery];

    /// The name used in tables, CSV and JSON: `lookup`, `trade`, `order_query`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lookup => "lookup",
            Self::Trade => "trade",
            Self::OrderQuery => "order_query",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer with this status.
    Status(u16),
    /// No answer within the client's timeout.
    Timeout,
    /// Connection refused or reset, or a body that could not be read.
    Transport,
}

impl Outcome {
    /// Whether the answer was a 2xx.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Status(s) if (200..300).contains(&s))
    }

    /// The key it is counted under: the status code as text, `timeout` or `transport`.
    pub fn key(self) -> String {
        match self {
            Self::Status(s) => s.to_string(),
            Self::Timeout => "timeout".into(),
            Self::Transport => "transport".into(),
        }
    }
}

/// One attempt, kept only when a run asks for samples (for timelines such as the crash plot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was sent, in milliseconds since the run started.
    pub at_ms: f64,
    /// Its request type.
    pub kind: Kind,
    /// How long the client waited for the whole answer, in microseconds.
    pub latency_us: u64,
    /// [`Outcome::key`]: `200`, `409`, `503`, `timeout`, ...
    pub outcome: String,
}

/// The summary of one request type in a report. Latencies are in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    /// Attempts made.
    pub count: u64,
    /// Attempts answered with a 2xx.
    pub ok: u64,
    /// The other attempts by [`Outcome::key`]; `ok` plus these add up to `count`.
    pub errors: BTreeMap<String, u64>,
    /// Median latency.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The slowest attempt.
    pub max_us: u64,
    /// Mean latency.
    pub mean_us: f64,
    /// Attempts per second over the phase that made them.
    pub throughput_per_s: f64,
}

impl KindSummary {
    /// How many attempts ended with `key` (`"409"`, `"timeout"`, ...).
    pub fn errors_of(&self, key: &str) -> u64 {
        self.errors.get(key).copied().unwrap_or(0)
    }

    /// All attempts that did not end with a 2xx.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[derive(Debug, Clone)]
struct KindRecorder {
    histogram: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl KindRecorder {
    fn new() -> Self {
        Self {
            // 1 us to 10 minutes at 3 significant digits: 0.1% resolution, a few tens of KiB.
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

/// The outcomes and latencies of one client (or, after [`Recorder::merge`], of several).
#[derive(Debug, Clone)]
pub struct Recorder {
    kinds: [KindRecorder; 3],
    samples: Option<Vec<Sample>>,
}

impl Recorder {
    /// An empty recorder; `keep_samples` also keeps every attempt as a [`Sample`].
    pub fn new(keep_samples: bool) -> Self {
        Self {
            kinds: [
                KindRecorder::new(),
                KindRecorder::new(),
                KindRecorder::new(),
            ],
            samples: keep_samples.then(Vec::new),
        }
    }

    /// Records one attempt of `kind`, sent `at` after the run started, that took `latency`.
    pub fn record(&mut self, kind: Kind, at: Duration, latency: Duration, outcome: Outcome) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let k = &mut self.kinds[kind.index()];
        k.histogram.saturating_record(micros);
        if outcome.is_success() {
            k.ok += 1;
        } else {
            *k.errors.entry(outcome.key()).or_default() += 1;
        }
        if let Some(samples) = &mut self.samples {
            samples.push(Sample {
                at_ms: at.as_secs_f64() * 1000.0,
                kind,
                latency_us: micros,
                outcome: outcome.key(),
            });
        }
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.kinds.iter_mut().zip(&other.kinds) {
            mine.histogram
                .add(&theirs.histogram)
                .expect("histograms with the same bounds add up");
            mine.ok += theirs.ok;
            for (key, n) in &theirs.errors {
                *mine.errors.entry(key.clone()).or_default() += n;
            }
        }
        if let (Some(mine), Some(theirs)) = (&mut self.samples, &other.samples) {
            mine.extend(theirs.iter().cloned());
        }
    }

    /// Attempts of `kind` recorded so far.
    pub fn count(&self, kind: Kind) -> u64 {
        self.kinds[kind.index()].histogram.len()
    }

    /// The summary of `kind`, with throughput over a phase of `phase_secs` seconds.
    pub fn summary(&self, kind: Kind, phase_secs: f64) -> KindSummary {
        let k = &self.kinds[kind.index()];
        let h = &k.histogram;
        let count = h.len();
        let empty = count == 0;
        let at = |q: f64| if empty { 0 } else { h.value_at_quantile(q) };
        KindSummary {
            count,
            ok: k.ok,
            errors: k.errors.clone(),
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: if empty { 0 } else { h.max() },
            mean_us: if empty { 0.0 } else { h.mean() },
            throughput_per_s: if phase_secs > 0.0 {
                count as f64 / phase_secs
            } else {
                0.0
            },
        }
    }

    /// The kept samples, sorted by send time (empty unless samples were asked for).
    pub fn into_samples(self) -> Vec<Sample> {
        let mut samples = self.samples.unwrap_or_default();
        samples.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn outcomes_add_up_to_the_count_per_kind() {
        let mut r = Recorder::new(false);
        r.record(Kind::Trade, ms(0), ms(2), Outcome::Status(200));
        r.record(Kind::Trade, ms(1), ms(3), Outcome::Status(409));
        r.record(Kind::Trade, ms(2), ms(4), Outcome::Status(409));
        r.record(Kind::Trade, ms(3), ms(5), Outcome::Timeout);
        r.record(Kind::Lookup, ms(3), ms(1), Outcome::Transport);
        let trade = r.summary(Kind::Trade, 1.0);
        assert_eq!(trade.count, 4);
        assert_eq!(trade.ok, 1);
        assert_eq!(trade.errors_of("409"), 2);
        assert_eq!(trade.errors_of("timeout"), 1);
        assert_eq!(trade.ok + trade.error_total(), trade.count);
        let lookup = r.summary(Kind::Lookup, 1.0);
        assert_eq!(
            (lookup.count, lookup.ok, lookup.errors_of("transport")),
            (1, 0, 1)
        );
        assert_eq!(r.summary(Kind::OrderQuery, 1.0), KindSummary::default());
    }

    #[test]
    fn percentiles_come_from_every_attempt() {
        let mut r = Recorder::new(false);
        for i in 1..=100 {
            r.record(
                Kind::Lookup,
                ms(i),
                Duration::from_micros(i * 100),
                Outcome::Status(200),
            );
        }
        let s = r.summary(Kind::Lookup, 2.0);
        // HDR keeps 3 significant digits: allow 0.1%.
        let close = |got: u64, want: u64| got.abs_diff(want) * 1000 <= want;
        assert!(close(s.p50_us, 5_000), "p50 {}", s.p50_us);
        assert!(close(s.p90_us, 9_000), "p90 {}", s.p90_us);
        assert!(close(s.p99_us, 9_900), "p99 {}", s.p99_us);
        assert!(close(s.max_us, 10_000), "max {}", s.max_us);
        assert!((s.mean_us - 5_050.0).abs() < 10.0, "mean {}", s.mean_us);
        assert!((s.throughput_per_s - 50.0).abs() < 1e-9);
    }

    #[test]
    fn merging_adds_counts_errors_and_latencies() {
        let mut a = Recorder::new(true);
        let mut b = Recorder::new(true);
        a.record(Kind::Lookup, ms(5), ms(1), Outcome::Status(200));
        a.record(Kind::Trade, ms(6), ms(2), Outcome::Status(503));
        b.record(Kind::Lookup, ms(1), ms(9), Outcome::Status(200));
        b.record(Kind::Trade, ms(2), ms(2), Outcome::Status(503));
        b.record(Kind::Trade, ms(3), ms(2), Outcome::Status(200));
        a.merge(&b);
        let lookup = a.summary(Kind::Lookup, 1.0);
        assert_eq!((lookup.count, lookup.ok), (2, 2));
        assert!(lookup.max_us >= 9_000);
        let trade = a.summary(Kind::Trade, 1.0);
        assert_eq!((trade.count, trade.ok, trade.errors_of("503")), (3, 1, 2));
        let samples = a.into_samples();
        assert_eq!(samples.len(), 5);
        assert!(samples.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert_eq!(samples[0].latency_us, 9_000);
    }

    #[test]
    fn samples_are_kept_only_when_asked_for() {
        let mut r = Recorder::new(false);
        r.record(Kind::Lookup, ms(0), ms(1), Outcome::Status(200));
        assert!(r.into_samples().is_empty());
    }
}
