//! `GET /metrics`: the frontend's Prometheus metrics (see [`crate::metrics`]).

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::Arc;

/// Prometheus metrics in the text exposition format (version 0.0.4).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics, text exposition format 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String))
)]
pub(super) async fn get(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    crate::metrics::observe(&state);
    (
        [(header::CONTENT_TYPE, bazaar_nats::metrics::CONTENT_TYPE)],
        bazaar_nats::metrics::render(),
    )
}
