//! Experiment (b): the cache's contents and counters sampled over a paced run.

use super::cache_probe::{CacheSample, Sampler};
use super::config::Config;
use super::system::start_system;
use bazaar_client::{fetch_stock_names, run, Report, Workload};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The sampled run.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// The frontend's cache size.
    pub cache_size: usize,
    /// Sampling period of `GET /cache`, in ms.
    pub period_ms: u64,
    /// Every stock, in the catalog's order (the rows of the plot).
    pub stocks: Vec<String>,
    /// The readings, in time order.
    pub samples: Vec<CacheSample>,
    /// What the clients measured.
    pub report: Report,
}

/// Runs a paced workload on a fresh system while sampling `GET /cache`.
///
/// # Errors
/// When the run cannot start or the sampler fails.
pub async fn cache_timeline(config: &Config) -> anyhow::Result<Timeline> {
    let system = start_system(config.cache_size).await;
    let url = system.url().to_string();
    let workload = Workload {
        url: url.clone(),
        clients: config.timeline_clients,
        duration_secs: Some(config.timeline_secs),
        think_ms: config.timeline_think_ms,
        p: config.timeline_p,
        seed: config.seed,
        ..Workload::default()
    };
    let stocks = fetch_stock_names(&url, &workload).await?;
    tracing::info!(secs = config.timeline_secs, "cache timeline run");
    let sampler = Sampler::start(url, Duration::from_millis(config.sample_ms), Instant::now());
    let report = run(&workload).await?;
    // One more period so the last reading follows the last request.
    tokio::time::sleep(Duration::from_millis(config.sample_ms)).await;
    let samples = sampler.stop().await?;
    Ok(Timeline {
        cache_size: config.cache_size,
        period_ms: config.sample_ms,
        stocks,
        samples,
        report,
    })
}
