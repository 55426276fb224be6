//! What every Stock Bazaar binary does the same way at start and stop: install tracing and wait
//! for SIGTERM or ctrl-c.
//!
//! It sits in the bus crate because that is the one crate every service already shares; it holds
//! no service logic.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global tracing subscriber. `RUST_LOG` overrides `default_filter`
/// (e.g. `"bazaar_order=info,warn"`); `LOG_FORMAT=json` switches to JSON lines.
pub fn init_tracing(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Colour codes only for a person at a terminal: services log to files, and formatting them
    // cost the frontend a measurable share of each request (its request span is formatted
    // eagerly; docs/PERFORMANCE.md).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Resolves at the first SIGTERM (what `docker stop` sends) or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
