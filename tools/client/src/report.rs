//! The outcome of a run: [`Report`], printable as a table and writable as JSON or CSV.

use crate::stats::{Kind, KindSummary, Sample};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// Everything a run measured. Latencies are in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The frontend measured.
    pub url: String,
    /// Simulated clients.
    pub clients: usize,
    /// Iterations per client asked for (0 in duration mode).
    pub iterations: u64,
    /// Trade probability per iteration.
    pub p: f64,
    /// The run's seed.
    pub seed: u64,
    /// Stocks the workload chose from.
    pub stocks: usize,
    /// Wall-clock seconds of the load phase (lookups and trades).
    pub load_secs: f64,
    /// Wall-clock seconds of the verification phase (order queries).
    pub verify_secs: f64,
    /// `GET /stocks/{name}`; throughput over the load phase.
    pub lookup: KindSummary,
    /// `POST /orders`; throughput over the load phase.
    pub trade: KindSummary,
    /// `GET /orders/{n}`; throughput over the verification phase.
    pub order_query: KindSummary,
    /// Trades answered with a transaction number.
    pub orders_acknowledged: u64,
    /// Buys refused with 409 (not enough shares): expected, not a failure.
    pub trades_refused: u64,
    /// Acknowledged orders fetched back and found identical.
    pub orders_verified: u64,
    /// Acknowledged orders fetched back different, or unknown (404).
    pub mismatches: u64,
    /// Acknowledged orders whose query failed otherwise (5xx, timeout), so unchecked.
    pub unverified: u64,
    /// The first few mismatches, described.
    pub mismatch_examples: Vec<String>,
    /// Every attempt, when the workload asked for samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
}

impl Report {
    /// The summary of one request type.
    pub fn kind(&self, kind: Kind) -> &KindSummary {
        match kind {
            Kind::Lookup => &self.lookup,
            Kind::Trade => &self.trade,
            Kind::OrderQuery => &self.order_query,
        }
    }

    /// Whether every acknowledged order was fetched back and matched.
    pub fn verified(&self) -> bool {
        self.mismatches == 0 && self.unverified == 0
    }

    /// The human-readable table the binary prints.
    pub fn table(&self) -> String {
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<12} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  errors",
            "request", "count", "ok", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s"
        );
        for kind in Kind::ALL {
            let s = self.kind(kind);
            let _ = writeln!(
                out,
                "{:<12} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9.1}  {}",
                kind.name(),
                s.count,
                s.ok,
                ms(s.p50_us),
                ms(s.p90_us),
                ms(s.p99_us),
                ms(s.max_us),
                s.throughput_per_s,
                errors_text(s, ", ", " x").unwrap_or_else(|| "-".into())
            );
        }
        let _ = writeln!(
            out,
            "{} clients, p = {}, {} stocks; load {:.2} s, verification {:.2} s",
            self.clients, self.p, self.stocks, self.load_secs, self.verify_secs
        );
        let _ = writeln!(
            out,
            "orders: {} acknowledged, {} verified, {} mismatched, {} unverified; {} buys refused (409)",
            self.orders_acknowledged,
            self.orders_verified,
            self.mismatches,
            self.unverified,
            self.trades_refused
        );
        for example in &self.mismatch_examples {
            let _ = writeln!(out, "  mismatch: {example}");
        }
        out
    }

    /// One CSV row per request type, with a header. Errors are `status=count` joined by `;`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "kind,count,ok,errors,p50_us,p90_us,p99_us,max_us,mean_us,throughput_per_s,\
             clients,p,seed,orders_acknowledged,mismatches,unverified\n",
        );
        for kind in Kind::ALL {
            let s = self.kind(kind);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{:.1},{:.2},{},{},{},{},{},{}",
                kind.name(),
                s.count,
                s.ok,
                errors_text(s, ";", "=").unwrap_or_default(),
                s.p50_us,
                s.p90_us,
                s.p99_us,
                s.max_us,
                s.mean_us,
                s.throughput_per_s,
                self.clients,
                self.p,
                self.seed,
                self.orders_acknowledged,
                self.mismatches,
                self.unverified
            );
        }
        out
    }

    /// Writes the report to `path`: CSV when it ends in `.csv`, else pretty JSON.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let text = if is_csv {
            self.to_csv()
        } else {
            serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n"
        };
        std::fs::write(path, text)
    }
}

/// `409 x3, 503 x1` (with `sep` and `join`), or `None` when there were no errors.
fn errors_text(s: &KindSummary, sep: &str, join: &str) -> Option<String> {
    (!s.errors.is_empty()).then(|| {
        s.errors
            .iter()
            .map(|(k, n)| format!("{k}{join}{n}"))
            .collect::<Vec<_>>()
            .join(sep)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Outcome, Recorder};
    use std::time::Duration;

    fn report() -> Report {
        let mut r = Recorder::new(false);
        let ms = Duration::from_millis;
        r.record(Kind::Lookup, ms(0), ms(1), Outcome::Status(200));
        r.record(Kind::Trade, ms(1), ms(3), Outcome::Status(200));
        r.record(Kind::Trade, ms(2), ms(3), Outcome::Status(409));
        r.record(Kind::OrderQuery, ms(9), ms(1), Outcome::Status(200));
        Report {
            url: "http://x".into(),
            clients: 1,
            iterations: 2,
            p: 1.0,
            seed: 1,
            stocks: 10,
            load_secs: 1.0,
            verify_secs: 0.5,
            lookup: r.summary(Kind::Lookup, 1.0),
            trade: r.summary(Kind::Trade, 1.0),
            order_query: r.summary(Kind::OrderQuery, 0.5),
            orders_acknowledged: 1,
            trades_refused: 1,
            orders_verified: 1,
            mismatches: 0,
            unverified: 0,
            mismatch_examples: vec![],
            samples: vec![],
        }
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_kind() {
        let csv = report().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        let columns = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
        assert!(lines[2].starts_with("trade,2,1,409=1,"), "{}", lines[2]);
        assert!(lines[3].starts_with("order_query,1,1,,"), "{}", lines[3]);
    }

    #[test]
    fn json_round_trips_and_the_table_names_every_kind() {
        let r = report();
        let json = serde_json::to_string(&r).expect("serialisable");
        assert!(!json.contains("samples"), "empty samples are left out");
        let back: Report = serde_json::from_str(&json).expect("deserialisable");
        assert_eq!(back, r);
        let table = r.table();
        for kind in Kind::ALL {
            assert!(table.contains(kind.name()));
        }
        assert!(table.contains("409 x1"));
        assert!(r.verified());
    }
}
