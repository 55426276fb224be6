//! Experiment (a): latency per request type as the trade probability grows, cache on and off.

use super::cache_probe::{self, CacheStats};
use super::config::Config;
use super::system::start_system;
use bazaar_client::{run, Report, Workload};
use serde::Serialize;

/// One measured run of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// The frontend's cache size (0 = off).
    pub cache_size: usize,
    /// Trade probability.
    pub p: f64,
    /// What the clients measured.
    pub report: Report,
    /// How the cache counters grew during the run.
    pub cache: CacheStats,
}

/// Runs every p of the sweep on two fresh systems, one with the cache on and one with it off,
/// alternating between them at each p so that whatever else the machine is doing weighs on both
/// alike.
///
/// # Errors
/// When a run cannot start or the cache cannot be read.
pub async fn sweep(config: &Config) -> anyhow::Result<Vec<SweepPoint>> {
    let mut systems = Vec::new();
    for cache_size in [config.cache_size, 0] {
        let system = start_system(cache_size).await;
        let warmup = Workload {
            url: system.url().to_string(),
            clients: config.sweep_clients,
            iterations: config.warmup_iterations,
            p: 0.5,
            seed: config.seed.wrapping_add(1000),
            no_verify: true,
            ..Workload::default()
        };
        run(&warmup).await?;
        systems.push((cache_size, system));
    }
    let mut points = Vec::new();
    for &p in &config.p_values {
        for (cache_size, system) in &systems {
            tracing::info!(cache_size, p, "sweep run");
            let url = system.url().to_string();
            let workload = Workload {
                url: url.clone(),
                clients: config.sweep_clients,
                iterations: config.sweep_iterations,
                p,
                seed: config.seed,
                ..Workload::default()
            };
            let before = cache_probe::fetch(&system.http, &url).await?;
            let report = run(&workload).await?;
            let after = cache_probe::fetch(&system.http, &url).await?;
            tracing::info!(
                lookup_p50_us = report.lookup.p50_us,
                trade_p50_us = report.trade.p50_us,
                mismatches = report.mismatches,
                "sweep run done"
            );
            points.push(SweepPoint {
                cache_size: *cache_size,
                p,
                report,
                cache: after.since(&before),
            });
        }
    }
    // Cache on first, then off, each by p: the order the document's table reads best in.
    points.sort_by(|a, b| b.cache_size.cmp(&a.cache_size).then(a.p.total_cmp(&b.p)));
    Ok(points)
}
