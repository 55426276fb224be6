//! Latency summaries: an HDR histogram of nanoseconds, reported in microseconds.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Percentiles, mean and rate of one series of timed operations. Times are in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Operations timed.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Operations per second over the wall-clock time of the series.
    pub rate_per_s: f64,
}

/// Collects durations (1 ns .. 60 s, 3 significant digits).
#[derive(Debug)]
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    ///
    /// # Panics
    /// Never: the bounds are constants hdrhistogram accepts.
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("valid histogram bounds"),
        }
    }

    /// Adds one duration (clamped into the histogram's range).
    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(nanos.max(1));
    }

    /// The summary, with the rate computed over `wall` (the whole series' elapsed time).
    pub fn summary(&self, wall: Duration) -> Latency {
        let us = |nanos: u64| nanos as f64 / 1000.0;
        let h = &self.histogram;
        let count = h.len();
        Latency {
            count,
            p50_us: us(h.value_at_quantile(0.5)),
            p90_us: us(h.value_at_quantile(0.9)),
            p99_us: us(h.value_at_quantile(0.99)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
            rate_per_s: if wall.is_zero() {
                0.0
            } else {
                count as f64 / wall.as_secs_f64()
            },
        }
    }
}

/// A series of sequential operations whose first `warmup` go untimed: each floor warms its
/// connection or file up the same way before the figures count.
#[derive(Debug)]
pub struct WarmedSeries {
    warmup: u32,
    recorder: Recorder,
    started: Instant,
}

impl WarmedSeries {
    /// An empty series that ignores operations `0..warmup`.
    pub fn new(warmup: u32) -> Self {
        Self {
            warmup,
            recorder: Recorder::new(),
            started: Instant::now(),
        }
    }

    /// Call before operation `i`: returns its start, and starts the wall clock at the first
    /// timed one.
    pub fn start(&mut self, i: u32) -> Instant {
        if i == self.warmup {
            self.started = Instant::now();
        }
        Instant::now()
    }

    /// Call after operation `i`, begun at `started`: records it unless it was a warm-up.
    pub fn finish(&mut self, i: u32, started: Instant) {
        if i >= self.warmup {
            self.recorder.record(started.elapsed());
        }
    }

    /// The summary, its rate over the wall-clock time since the first timed operation.
    pub fn summary(&self) -> Latency {
        self.recorder.summary(self.started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_microseconds_and_rate() {
        let mut r = Recorder::new();
        for micros in 1..=100 {
            r.record(Duration::from_micros(micros));
        }
        let s = r.summary(Duration::from_secs(2));
        assert_eq!(s.count, 100);
        assert!((s.p50_us - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_us - 100.0).abs() < 0.1, "{s:?}");
        assert!((s.rate_per_s - 50.0).abs() < 1e-9);
    }

    #[test]
    fn warm_up_operations_are_not_counted() {
        let mut series = WarmedSeries::new(3);
        for i in 0..10 {
            let t = series.start(i);
            series.finish(i, t);
        }
        assert_eq!(series.summary().count, 7);
    }
}
