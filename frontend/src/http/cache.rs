//! `GET /cache`: the stock cache's counters and entries, read-only, for operators and evaluation.

use super::{AppState, Data};
use crate::cache::CacheStats;
use axum::extract::State;
use std::sync::Arc;

/// Answers 200 with capacity, hits, misses, evictions, invalidations and the cached names, most
/// recently used first.
pub(super) async fn get(State(state): State<Arc<AppState>>) -> Data<CacheStats> {
    Data {
        data: state.cache.stats(),
    }
}
