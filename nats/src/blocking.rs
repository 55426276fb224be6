//! Running blocking work (every redb call of the catalog and the order replicas) on tokio's
//! blocking pool, inside the caller's span, so a slow disk never stalls the async workers and the
//! work's log lines keep the request's fields.

use tracing::Span;

/// Runs `f` on the blocking pool within the current span and waits for it.
///
/// # Errors
/// The [`tokio::task::JoinError`] when `f` panicked or the runtime is shutting down.
pub async fn run<T, F>(f: F) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let span = Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}
