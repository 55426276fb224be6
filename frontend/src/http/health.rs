//! `GET /healthz`: is the frontend up, and what does it see of the bus.
//!
//! Always 200 while the process serves HTTP, even when degraded: the body says whether NATS is
//! connected and which order replica leads (`null` when none is known), so a load balancer keeps
//! the frontend (which answers 503 per request while degraded) and an operator sees why.

use super::{AppState, Data};
use async_nats::connection::State as ConnectionState;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;

/// The health body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// Always `ok` while the frontend serves HTTP.
    #[schema(example = "ok")]
    status: &'static str,
    /// `connected` or `disconnected`.
    #[schema(example = "connected")]
    nats: &'static str,
    /// The order replica that leads, `null` when none is known.
    #[schema(example = 3)]
    leader: Option<u32>,
}

/// Liveness and what the frontend sees of the bus: 200 even when degraded.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "operations",
    responses((status = 200, description = "The frontend serves; the body says what it sees", body = Data<Health>))
)]
pub(super) async fn get(State(state): State<Arc<AppState>>) -> Data<Health> {
    let nats = match state.client.connection_state() {
        ConnectionState::Connected => "connected",
        ConnectionState::Pending | ConnectionState::Disconnected => "disconnected",
    };
    Data {
        data: Health {
            status: "ok",
            nats,
            leader: state.leader.current(),
        },
    }
}
