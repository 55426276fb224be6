//! Prometheus metrics for every Stock Bazaar process: one recorder per process, rendered on
//! request.
//!
//! The services record with the `metrics` macros wherever something happens; nothing is
//! exported until [`handle`] (or [`serve`]) installs the recorder, so a process that exposes
//! no metrics pays only for macro calls that find no recorder. The frontend renders on its own
//! router (`GET /metrics`); the catalog and the order replicas, which serve no HTTP otherwise,
//! get a small listener of their own from [`serve`] (`--metrics-listen`).
//!
//! It sits in the bus crate, like [`crate::runtime`], because that is the one crate every
//! service already shares; it holds no service logic.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// Bucket bounds, in seconds, of every `*_seconds` histogram: from a cached lookup (tens of
/// microseconds) to a request that spent its whole retry budget.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];
/// Bucket bounds of every `*_size` histogram (operations per batch).
const SIZE_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 2048.0,
];
/// How often histograms are folded into their buckets when nobody scrapes, so samples do not
/// pile up between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The listen address could not be bound.
    #[error("cannot listen for metrics on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// The process's recorder, installed on first use (with histogram buckets for every
/// `*_seconds` and `*_size` metric) together with a thread that keeps it tidy.
///
/// Installing fails only if another recorder is already installed (a program that embeds the
/// services with a recorder of its own); the handle then renders an empty page and a warning
/// is logged once.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), &SIZE_BUCKETS))
            .expect("the bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
        }
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
        }
        handle
    })
}

/// Whether this process records metrics (the recorder is installed).
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

/// The current metrics in the Prometheus text exposition format.
pub fn render() -> String {
    handle().render()
}

/// The content type of [`render`]'s text, as Prometheus expects it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the recorder and serves `GET /metrics` on `address` in the background for the
/// life of the process; returns the bound address (port 0 picks a free one).
///
/// # Errors
/// [`MetricsError::Bind`] when the address cannot be bound.
pub async fn serve(address: SocketAddr) -> Result<SocketAddr, MetricsError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| MetricsError::Bind { address, source })?;
    let bound = listener.local_addr().unwrap_or(address);
    handle();
    let app = axum::Router::new().route("/metrics", axum::routing::get(metrics_page));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    tracing::info!(address = %bound, "serving metrics on /metrics");
    Ok(bound)
}

/// Starts [`serve`] when `address` is given; the services call this from `main` with their
/// `--metrics-listen` flag.
///
/// # Errors
/// As [`serve`].
pub async fn serve_if(address: Option<SocketAddr>) -> Result<(), MetricsError> {
    if let Some(address) = address {
        serve(address).await?;
    }
    Ok(())
}

async fn metrics_page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_endpoint_serves_what_the_process_recorded() {
        let address = super::serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        metrics::counter!("bazaar_test_events_total").increment(3);
        metrics::histogram!("bazaar_test_wait_seconds").record(0.003);
        let body = reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("bazaar_test_events_total 3"), "{body}");
        assert!(
            body.contains("bazaar_test_wait_seconds_bucket{le=\"0.005\"} 1"),
            "a histogram, not a summary: {body}"
        );
    }
}
