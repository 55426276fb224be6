//! `GET /readyz`: may this frontend be sent traffic? 200 while it knows an order leader and
//! the catalog answers, else 503 naming the reason (see [`crate::readiness`]).

use super::{AppState, Data};
use crate::error::AppError;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;

/// The readiness body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Ready {
    /// Always `ready` in a 200.
    #[schema(example = "ready")]
    status: &'static str,
    /// The order replica that leads.
    #[schema(example = 3)]
    leader: u32,
}

/// Readiness: 200 only while an order leader is known and the catalog answers (checked at most
/// about once a second; the verdict is reused in between).
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: an order leader is known and the catalog answers", body = Data<Ready>),
        (status = 503, response = crate::http::openapi::Unavailable),
    )
)]
pub(super) async fn get(State(state): State<Arc<AppState>>) -> Result<Data<Ready>, AppError> {
    match state.readiness.check().await {
        Ok(leader) => Ok(Data {
            data: Ready {
                status: "ready",
                leader,
            },
        }),
        Err(why) => Err(AppError::Unavailable(format!("not ready: {why}"))),
    }
}
