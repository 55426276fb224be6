//! `GET /cache`: the stock cache's counters and entries, read-only, for operators and evaluation.

use super::{AppState, Data};
use crate::cache::CacheStats;
use axum::extract::State;
use std::sync::Arc;

/// The stock cache's counters and the cached names, most recently used first.
#[utoipa::path(
    get,
    path = "/cache",
    operation_id = "cacheStats",
    tag = "operations",
    responses((status = 200, description = "Capacity, hits, misses, evictions, invalidations and entries", body = Data<CacheStats>))
)]
pub(super) async fn get(State(state): State<Arc<AppState>>) -> Data<CacheStats> {
    Data {
        data: state.cache.stats(),
    }
}
