//! Running wrk and reading its figures.
//!
//! Every run gets a Lua script ending in `lua/report.lua`, whose `done` hook prints one
//! `BENCH_WRK {...}` JSON line with exact percentiles; the optional first part (`lua/*.lua`)
//! generates the requests (random order numbers, trades).

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const REPORT_LUA: &str = include_str!("../../lua/report.lua");
const RANDOM_ORDER_LUA: &str = include_str!("../../lua/random_order.lua");
const TRADE_LUA: &str = include_str!("../../lua/trade.lua");

/// What the requests of a run are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requests {
    /// `GET` of the URL's path, every time.
    Get,
    /// `GET /orders/{n}`, `n` uniform in `0..count`.
    RandomOrder {
        /// How many orders are stored.
        count: u64,
    },
    /// `POST /orders`, sell then buy one share, cycling through these stocks.
    Trades {
        /// Stock names.
        stocks: Vec<String>,
    },
}

/// One wrk invocation.
#[derive(Debug, Clone)]
pub struct Load {
    /// Full URL (for [`Requests::Get`] its path is what is fetched).
    pub url: String,
    /// `-t`.
    pub threads: u32,
    /// `-c`.
    pub connections: u32,
    /// `-d`.
    pub duration: Duration,
    /// The requests.
    pub requests: Requests,
}

/// wrk's figures for one run. Latencies in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrkRun {
    /// Requests completed.
    pub requests: u64,
    /// Length of the run, in microseconds.
    pub duration_us: u64,
    /// Median latency.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest request.
    pub max_us: u64,
    /// Mean latency.
    pub mean_us: f64,
    /// Answers with a status other than 2xx/3xx.
    pub non_2xx: u64,
    /// Socket errors of each kind.
    pub connect_errors: u64,
    /// Read errors.
    pub read_errors: u64,
    /// Write errors.
    pub write_errors: u64,
    /// Requests that timed out (wrk's 2 s default).
    pub timeouts: u64,
}

impl WrkRun {
    /// Completed requests per second.
    pub fn rate_per_s(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Requests that failed in any way (non-2xx or a socket error).
    pub fn failures(&self) -> u64 {
        self.non_2xx + self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }
}

/// Writes the Lua scripts of a bench run into a directory, once.
#[derive(Debug)]
pub struct Wrk {
    program: PathBuf,
    dir: PathBuf,
}

impl Wrk {
    /// Uses `program` (e.g. `wrk` on the PATH), writing its scripts into `dir`.
    ///
    /// # Errors
    /// When the scripts cannot be written.
    pub fn new(program: impl Into<PathBuf>, dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for (name, body) in [
            ("get.lua", String::new()),
            ("random_order.lua", RANDOM_ORDER_LUA.to_string()),
            ("trade.lua", TRADE_LUA.to_string()),
        ] {
            std::fs::write(dir.join(name), format!("{body}\n{REPORT_LUA}"))
                .with_context(|| format!("cannot write {name}"))?;
        }
        Ok(Self {
            program: program.into(),
            dir: dir.to_path_buf(),
        })
    }

    /// Runs wrk and returns its figures.
    ///
    /// # Errors
    /// When wrk cannot be run, fails, or prints no `BENCH_WRK` line.
    pub fn run(&self, load: &Load) -> anyhow::Result<WrkRun> {
        let (script, args): (&str, Vec<String>) = match &load.requests {
            Requests::Get => ("get.lua", vec![]),
            Requests::RandomOrder { count } => {
                ("random_order.lua", vec![count.to_string(), "1".into()])
            }
            Requests::Trades { stocks } => ("trade.lua", vec![stocks.join(",")]),
        };
        let secs = load.duration.as_secs().max(1);
        let output = Command::new(&self.program)
            .arg(format!("-t{}", load.threads))
            .arg(format!("-c{}", load.connections))
            .arg(format!("-d{secs}s"))
            .arg("-s")
            .arg(self.dir.join(script))
            .arg(&load.url)
            .arg("--")
            .args(&args)
            .output()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(
            output.status.success(),
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        parse(&stdout).with_context(|| format!("no figures in wrk's output:\n{stdout}"))
    }
}

/// Finds the `BENCH_WRK` line in wrk's output.
fn parse(stdout: &str) -> anyhow::Result<WrkRun> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_WRK "))
        .context("no BENCH_WRK line")?;
    Ok(serde_json::from_str(line)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_is_read_from_wrk_output() {
        let out = "Running 1s test @ http://x\n  1 threads\nBENCH_WRK {\"requests\":10,\
            \"duration_us\":1000000,\"p50_us\":40,\"p90_us\":50,\"p99_us\":90,\"max_us\":200,\
            \"mean_us\":45.5,\"non_2xx\":1,\"connect_errors\":0,\"read_errors\":0,\
            \"write_errors\":0,\"timeouts\":0}\n";
        let run = parse(out).unwrap();
        assert_eq!(run.p50_us, 40);
        assert!((run.rate_per_s() - 10.0).abs() < 1e-9);
        assert_eq!(run.failures(), 1);
        assert!(parse("nothing").is_err());
    }
}
