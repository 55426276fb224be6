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
#[derive(Debug, Serialize)]
pub(super) struct Health {
    status: &'static str,
    nats: &'static str,
    leader: Option<u32>,
}

/// Answers 200 with the frontend's view of NATS and the order leader.
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
