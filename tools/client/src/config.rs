//! What a run does: the [`Workload`] (shared by the binary and by callers of [`crate::run`]) and
//! the binary's [`Config`], which adds where to write the report.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The reference workload's parameters. Build it literally (or from [`Workload::default`]) to
/// run it from code; the binary parses it from flags and environment.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Workload {
    /// Base URL of a frontend.
    #[arg(long, env = "BAZAAR_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Concurrent simulated clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Iterations per client (lookup, then maybe a trade); ignored with --duration-secs.
    #[arg(long, default_value_t = 100)]
    pub iterations: u64,
    /// Probability that an iteration trades the stock it looked up, in 0..=1.
    #[arg(long, default_value_t = 0.5)]
    pub p: f64,
    /// Seed of the clients' random choices (each client derives its own from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run each client for this many seconds instead of a number of iterations.
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Pause after each iteration, in milliseconds (0: closed loop, as fast as answers come).
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// Give up on one request after this many milliseconds (counted as `timeout`).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Skip fetching the acknowledged orders back at the end.
    #[arg(long)]
    pub no_verify: bool,
    /// Keep every attempt in the report's `samples` (for timelines; large on long runs).
    #[arg(long)]
    pub samples: bool,
    /// Draw a progress bar on stderr (only ever drawn when stderr is a terminal).
    #[arg(skip = true)]
    pub progress: bool,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            clients: 5,
            iterations: 100,
            p: 0.5,
            seed: 1,
            duration_secs: None,
            think_ms: 0,
            timeout_ms: 30_000,
            no_verify: false,
            samples: false,
            progress: false,
        }
    }
}

impl Workload {
    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The run length in duration mode.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_secs.map(Duration::from_secs_f64)
    }

    /// Checks the parameters make sense.
    ///
    /// # Errors
    /// A message naming the bad parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.p) {
            return Err(format!("--p must be in 0..=1, not {}", self.p));
        }
        if let Some(d) = self.duration_secs {
            if !(d.is_finite() && d > 0.0) {
                return Err(format!("--duration-secs must be positive, not {d}"));
            }
        }
        if self.timeout_ms == 0 {
            return Err("--timeout-ms must be positive".into());
        }
        Ok(())
    }
}

/// The `bazaar-client` command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "bazaar-client", version, about)]
pub struct Config {
    /// The workload to run.
    #[command(flatten)]
    pub workload: Workload,
    /// Also write the report to this file: JSON if it ends in .json, CSV if it ends in .csv.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let c = Config::try_parse_from([
            "bazaar-client",
            "--url",
            "http://127.0.0.1:9",
            "--clients",
            "3",
            "--p",
            "0.25",
            "--out",
            "r.json",
        ])
        .expect("valid flags");
        assert_eq!(c.workload.url, "http://127.0.0.1:9");
        assert_eq!(c.workload.clients, 3);
        assert_eq!(c.workload.p, 0.25);
        assert!(c.workload.progress);
        assert_eq!(c.out, Some(PathBuf::from("r.json")));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let bad = |f: fn(&mut Workload)| {
            let mut w = Workload::default();
            f(&mut w);
            w.validate().is_err()
        };
        assert!(Workload::default().validate().is_ok());
        assert!(bad(|w| w.clients = 0));
        assert!(bad(|w| w.p = 1.5));
        assert!(bad(|w| w.p = f64::NAN));
        assert!(bad(|w| w.duration_secs = Some(0.0)));
    }
}
